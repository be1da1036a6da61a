"""Resource limits (issue 13): hostile files are refused before anything is materialised.

Every hostile input is built here, small on disk. The ones that would have exhausted memory before
the limits existed are read in a subprocess with an address-space cap, so a regression fails the
test instead of taking the machine down.
"""

from __future__ import annotations

import io
import json
import re
import struct
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from facturador.tabular import DEFAULT_LIMITS, ImportFileError, Limits, open_rows
from facturador.tabular import readers
from facturador.tabular.readers import _check_zip_workbook

from .builders import write_xls, write_xlsx, write_zip

_ODS_NS = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
           'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
           'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"')
_MANIFEST = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
             'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
             '<manifest:file-entry manifest:full-path="/" '
             'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
             '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
             "</manifest:manifest>")
_VALUE = '<table:table-cell office:value-type="float" office:value="1"{rep}><text:p>1</text:p></table:table-cell>'


def _ods(path: Path, rows_xml: str) -> Path:
    content = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODS_NS} office:version="1.2">'
               f'<office:body><office:spreadsheet><table:table table:name="Hoja1">{rows_xml}</table:table>'
               "</office:spreadsheet></office:body></office:document-content>")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("META-INF/manifest.xml", _MANIFEST, zipfile.ZIP_DEFLATED)
        z.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
    return path


def _value(rep: int | None = None) -> str:
    return _VALUE.format(rep=f' table:number-columns-repeated="{rep}"' if rep else "")


def _read_capped(path: Path, filename: str | None = None, *, mem_mb: int = 700, **kw) -> dict:
    """open_rows + iterate in a subprocess limited to ``mem_mb`` of address space; returns
    {"code": ...} for an ImportFileError, {"rows": n} when read, {"crash": ...} otherwise."""
    code = textwrap.dedent(f"""
        import json, resource, sys
        resource.setrlimit(resource.RLIMIT_AS, ({mem_mb} * 2**20, {mem_mb} * 2**20))
        from facturador.tabular import ImportFileError, Limits, open_rows
        try:
            with open_rows({str(path)!r}, {filename!r}, **{kw!r}) as src:
                n = sum(1 for _ in src)
            print(json.dumps({{"rows": n}}))
        except ImportFileError as e:
            print(json.dumps({{"code": e.code, "message": e.message_es}}))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[3])
    if proc.returncode != 0 or not proc.stdout.strip():
        return {"crash": proc.returncode, "stderr": proc.stderr[-500:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------ ODS ---

def test_ods_repeat_bomb_is_refused_before_loading(tmp_path):
    # One row of 1,024 values repeated a million times: under 1 KB on disk, ~1e9 cells for calamine.
    path = _ods(tmp_path / "bomba.ods",
                f'<table:table-row table:number-rows-repeated="1048576">{_value(1024)}</table:table-row>')
    assert path.stat().st_size < 1024
    out = _read_capped(path)
    assert out.get("code") == "too_many_cells", out
    assert "demasiadas celdas" in out["message"] and "bomba.ods" in out["message"]


def test_ods_repeated_rows_over_the_row_cap(tmp_path):
    path = _ods(tmp_path / "filas.ods",
                f'<table:table-row table:number-rows-repeated="200">{_value()}</table:table-row>')
    with pytest.raises(ImportFileError) as ei:
        open_rows(path, limits=Limits(max_rows=100))
    assert ei.value.code == "too_many_rows" and ei.value.details["limit"] == 100


def test_ods_far_value_after_empty_repeats_counts_the_bounding_box(tmp_path):
    # Empty cells before a value DO count (calamine allocates them); prefixes other than "table:" too.
    path = _ods(tmp_path / "lejos.ods",
                '<table:table-row><t:table-cell xmlns:t="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
                't:number-columns-repeated="5000"/>' + _value() + "</table:table-row>"
                '<table:table-row table:number-rows-repeated="5000"><table:table-cell/></table:table-row>'
                f"<table:table-row>{_value()}</table:table-row>")
    with pytest.raises(ImportFileError) as ei:
        open_rows(path, limits=Limits(max_cells=1_000_000))
    assert ei.value.code == "too_many_cells"


def test_ods_libreoffice_trailing_empty_repeats_are_accepted(tmp_path):
    # LibreOffice writes the empty rest of the sheet with huge repeat counts: not data, not refused.
    path = _ods(tmp_path / "normal.ods",
                "<table:table-row>" + _value() + _value()
                + '<table:table-cell table:style-name="ce1" table:number-columns-repeated="16382"/></table:table-row>'
                '<table:table-row table:number-rows-repeated="1048575">'
                '<table:table-cell table:number-columns-repeated="16384"/></table:table-row>')
    with open_rows(path, limits=Limits(max_rows=10, max_cells=10)) as src:
        assert [r[:2] for r in src] == [(1, 1)]


def test_ods_content_larger_than_declared_is_counted_while_inflating(tmp_path):
    # The central directory says content.xml is tiny; the real inflated content is ~2 MB.
    rows = "".join(f"<table:table-row>{_value()}</table:table-row>" for _ in range(20_000))
    path = _lie_about_size(_ods(tmp_path / "miente.ods", rows), "content.xml", 1000)
    with pytest.raises(ImportFileError) as ei:
        open_rows(path, limits=Limits(max_bytes=512 * 1024))
    assert ei.value.code == "file_too_large"


def _lie_about_size(path: Path, member: str, size: int) -> Path:
    """Rewrite the declared uncompressed size of ``member`` (local header and central directory)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo(member)
    struct.pack_into("<I", data, info.header_offset + 22, size)
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        n = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46: pos + 46 + n] == member.encode():
            struct.pack_into("<I", data, pos + 24, size)
        pos = data.find(b"PK\x01\x02", pos + 4)
    path.write_bytes(bytes(data))
    return path


# ------------------------------------------------------------------------------------ XLS ---

def test_xls_two_far_cells_refused_before_loading(tmp_path):
    # Two cells at opposite corners: calamine allocates the dense 65536 x 256 range (~1 GB RSS).
    path = tmp_path / "esquinas.xls"
    xlwt = __import__("xlwt")
    wb = xlwt.Workbook()
    ws = wb.add_sheet("Hoja1")
    ws.write(0, 0, "a")
    ws.write(65535, 255, 1)
    wb.save(str(path))
    assert path.stat().st_size < 10_000
    out = _read_capped(path, mem_mb=500, limits=Limits(max_cells=1_000_000))
    assert out.get("code") == "too_many_cells", out


def test_xls_within_limits_reads(tmp_path):
    path = write_xls(tmp_path / "ok.xls", [["a", "b"], [1, 2]])
    with open_rows(path, limits=Limits(max_rows=2, max_cells=4)) as src:
        assert len(list(src)) == 2


# ----------------------------------------------------------------------------------- XLSX ---

def _set_dimension(path: Path, element: str) -> Path:
    with zipfile.ZipFile(path) as zf:
        data = {i.filename: zf.read(i) for i in zf.infolist()}
    sheet = data["xl/worksheets/sheet1.xml"].decode()
    data["xl/worksheets/sheet1.xml"] = re.sub(r'<dimension ref="[^"]*"/>', element, sheet).encode()
    return write_zip(path, data)


def test_xlsx_declared_dimension_is_checked_before_streaming(tmp_path):
    # calamine pads every streamed row to the declared width: A1:XFD1048576 is 17 billion cells.
    path = _set_dimension(write_xlsx(tmp_path / "dim.xlsx", {"Hoja1": [["a"]]}),
                          '<dimension ref="A1:XFD1048576"/>')
    with pytest.raises(ImportFileError) as ei:
        open_rows(path)
    assert ei.value.code == "too_many_cells"


def test_a_big_xlsx_declared_dimension_is_refused_before_its_first_row(tmp_path, monkeypatch):
    """A file of 4 MB or more has its dimension read from the head of its sheet's XML: refused at once, as a small
    file's is; when that head cannot be read, the metadata pass beside the rows refuses it by the time they end."""
    monkeypatch.setattr(readers, "BACKGROUND_METADATA_BYTES", 0)
    path = _set_dimension(write_xlsx(tmp_path / "dim.xlsx", {"Hoja1": [["a"], ["b"]]}),
                          '<dimension ref="A1:XFD1048576"/>')
    with pytest.raises(ImportFileError) as ei:
        open_rows(path, background_metadata=True)
    assert ei.value.code == "too_many_cells"
    monkeypatch.setattr(readers, "declared_dimension", lambda path, sheet: (False, None))
    src = open_rows(path, background_metadata=True)
    with pytest.raises(ImportFileError) as ei:
        for _ in src:
            pass
    assert ei.value.code == "too_many_cells"
    src.close()
    with pytest.raises(ImportFileError):  # a preview (the default) refuses it before the first row
        open_rows(path)


def test_xlsx_rows_are_counted_while_streaming(tmp_path):
    # No <dimension> (it is optional): the rows are counted as they come.
    path = _set_dimension(write_xlsx(tmp_path / "filas.xlsx", {"Hoja1": [[i] for i in range(300)]}), "")
    src = open_rows(path, limits=Limits(max_rows=200))
    with pytest.raises(ImportFileError) as ei:
        for _ in src:
            pass
    assert ei.value.code == "too_many_rows" and src.row_number == 201
    src.close()


# -------------------------------------------------------------------------------- CSV / ZIP ---

def test_zip_csv_over_the_default_row_cap(tmp_path):
    # ~5 KB of ZIP, 2.3 MB of CSV, more rows than any import may have.
    path = write_zip(tmp_path / "grande.zip", {"datos.csv": b"a;b\r\n" + b"1;2\r\n" * (DEFAULT_LIMITS.max_rows + 10)})
    assert path.stat().st_size < 20_000
    src = open_rows(path)
    with pytest.raises(ImportFileError) as ei:
        for _ in src:
            pass
    src.close()
    assert ei.value.code == "too_many_rows"
    assert "1,048,576" in ei.value.message_es


def test_zip_csv_bytes_are_counted_while_decompressing(tmp_path):
    path = write_zip(tmp_path / "bytes.zip", {"datos.csv": b"a;b\r\n" + b"x" * 600_000 + b";2\r\n" * 100_000})
    with pytest.raises(ImportFileError) as ei:
        for _ in open_rows(path, limits=Limits(max_bytes=256 * 1024)):
            pass
    assert ei.value.code == "file_too_large"


def test_zip_csv_lying_about_its_size_is_not_accepted(tmp_path):
    path = _lie_about_size(write_zip(tmp_path / "miente.zip", {"datos.csv": b"a;b\r\n" + b"1;2\r\n" * 50_000}),
                           "datos.csv", 100)
    with pytest.raises(ImportFileError) as ei:
        for _ in open_rows(path, limits=Limits(max_bytes=1000)):
            pass
    assert ei.value.code in ("file_too_large", "corrupt_file")


def test_zip_xlsx_member_over_the_byte_cap(tmp_path):
    inner = write_xlsx(tmp_path / "libro.xlsx", {"Hoja1": [["x" * 100] for _ in range(2000)]})
    path = write_zip(tmp_path / "libro.zip", {"libro.xlsx": inner.read_bytes()})
    with pytest.raises(ImportFileError) as ei:
        open_rows(path, limits=Limits(max_bytes=20_000))
    assert ei.value.code == "file_too_large"


def test_plain_csv_row_cap(tmp_path):
    with pytest.raises(ImportFileError) as ei:
        for _ in open_rows(io.BytesIO(b"a\n" * 50), "x.csv", limits=Limits(max_rows=10)):
            pass
    assert ei.value.code == "too_many_rows" and ei.value.row is None


def test_workbook_zip_guard_fails_closed(tmp_path):
    # The end-of-central-directory record is fine but the directory itself is not: the size guard
    # used to count 0 bytes and pass; now the workbook is refused.
    path = write_xlsx(tmp_path / "roto.xlsx", {"Hoja1": [["a"]]})
    data = bytearray(path.read_bytes())
    pos = data.find(b"PK\x01\x02")
    data[pos:pos + 4] = b"XX\x01\x02"
    path.write_bytes(bytes(data))
    assert zipfile.is_zipfile(path)
    with pytest.raises(ImportFileError) as ei:
        _check_zip_workbook(str(path), "xlsx", "roto.xlsx", 2**30, DEFAULT_LIMITS)
    assert ei.value.code == "corrupt_file"
    with pytest.raises(ImportFileError) as ei:
        open_rows(path)
    assert ei.value.code == "corrupt_file"
