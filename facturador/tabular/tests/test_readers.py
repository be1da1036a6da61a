import datetime as dt
import io
import os
import tracemalloc
import zipfile

import pytest

from facturador.tabular import readers
from facturador.tabular.errors import ImportFileError
from facturador.tabular.readers import open_rows

from .builders import csv_bytes, write_ods, write_xls, write_xlsx, write_zip

ROWS = [["Código", "Nombre", "Valor"], ["00123", "Peña Ñuñez", "1.234,50"], ["007", "José", "10"]]


def _all(src):
    out = []
    with src:
        for row in src:
            out.append((src.row_number, row))
    return out


# ------------------------------------------------------------------------------------------- CSV ---

@pytest.mark.parametrize("encoding,delimiter", [
    ("utf-8-sig", ";"), ("utf-8", ","), ("latin-1", ";"), ("cp1252", "\t"), ("utf-8", "|"), ("utf-16", "\t"),
])
def test_csv_encodings_and_delimiters_detected(encoding, delimiter):
    data = csv_bytes(ROWS, delimiter=delimiter, encoding=encoding)
    src = open_rows(io.BytesIO(data), "datos.csv")
    assert src.delimiter == delimiter
    rows = _all(src)
    assert rows == [(1, tuple(ROWS[0])), (2, tuple(ROWS[1])), (3, tuple(ROWS[2]))]
    assert src.total_rows_estimate == 3 and src.progress == 1.0


def test_csv_utf8_bom_is_not_part_of_first_header():
    data = b"\xef\xbb\xbfCodigo;Valor\r\n1;2\r\n"
    src = open_rows(io.BytesIO(data), "x.csv")
    assert next(src) == ("Codigo", "Valor")


def test_csv_quoted_delimiters_and_newlines_count_as_one_row():
    data = 'a;b\n"x;y";"line1\nline2"\nlast;row\n'.encode()
    rows = _all(open_rows(io.BytesIO(data), "x.txt"))
    assert rows == [(1, ("a", "b")), (2, ("x;y", "line1\nline2")), (3, ("last", "row"))]


def test_csv_from_path_and_explicit_options(tmp_path):
    p = tmp_path / "d.csv"
    p.write_bytes("a,b;c\n1,2;3\n".encode())
    assert _all(open_rows(p))[1][1] == ("1,2", "3")  # sniffed ';'
    assert _all(open_rows(p, delimiter=","))[1][1] == ("1", "2;3")


def test_ascii_prefix_then_windows_1252_switches_encoding(monkeypatch):
    monkeypatch.setattr(readers, "CHUNK_SIZE", 4096)
    monkeypatch.setattr(readers, "SNIFF_SIZE", 4096)
    lines = ["id;nombre"] + [f"{i};Cliente {i}" for i in range(1, 2000)] + ["2000;Peña €uro"]
    data = ("\r\n".join(lines) + "\r\n").encode("cp1252")
    src = open_rows(io.BytesIO(data), "x.csv")
    rows = _all(src)
    assert rows[-1] == (2001, ("2000", "Peña €uro"))
    assert src.encoding == "cp1252"


def test_utf8_file_with_later_invalid_bytes_names_the_row(monkeypatch):
    monkeypatch.setattr(readers, "CHUNK_SIZE", 4096)
    monkeypatch.setattr(readers, "SNIFF_SIZE", 4096)
    head = "id;nombre\r\n1;Peña\r\n".encode("utf-8")  # confirms UTF-8 in the prefix
    body = b"".join(f"{i};Cliente\r\n".encode() for i in range(2, 1500))  # rows 3..1500
    bad = "1500;Muñoz\r\n".encode("latin-1")  # row 1501
    src = open_rows(io.BytesIO(head + body + bad + b"1501;ok\r\n"), "x.csv")
    seen = 0
    with pytest.raises(ImportFileError) as ei:
        for _ in src:
            seen = src.row_number
    assert ei.value.code == "undecodable_bytes"
    assert ei.value.row == 1501 and seen == 1500
    assert "fila 1501" in ei.value.message_es.lower()


def test_explicit_encoding_is_strict():
    data = "a;b\n1;x\nñ;y\n".encode("latin-1")
    with pytest.raises(ImportFileError) as ei:
        _all(open_rows(io.BytesIO(data), "x.csv", encoding="utf-8"))
    assert ei.value.code == "undecodable_bytes" and ei.value.row == 3
    with pytest.raises(ImportFileError) as ei:
        open_rows(io.BytesIO(data), "x.csv", encoding="no-such-codec")
    assert ei.value.code == "unknown_encoding"


def test_multiline_field_across_chunk_boundaries(monkeypatch):
    monkeypatch.setattr(readers, "CHUNK_SIZE", 64)
    monkeypatch.setattr(readers, "SNIFF_SIZE", 64)
    long_text = "línea\n" * 40
    data = csv_bytes([["a", "b"], ["1", long_text], ["2", "ñ" * 50]], delimiter=";")
    rows = _all(open_rows(io.BytesIO(data), "x.csv"))
    assert rows == [(1, ("a", "b")), (2, ("1", long_text)), (3, ("2", "ñ" * 50))]


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\r\n\r\n  \n"])
def test_empty_csv(data):
    with pytest.raises(ImportFileError) as ei:
        open_rows(io.BytesIO(data), "vacio.csv")
    assert ei.value.code == "empty_file" and "vacío" in ei.value.message_es


def test_xlsx_named_csv_is_format_mismatch(tmp_path):
    p = write_xlsx(tmp_path / "a.xlsx", {"S": [["a"]]})
    with pytest.raises(ImportFileError) as ei:
        open_rows(p, "datos.csv")
    assert ei.value.code == "format_mismatch"


@pytest.mark.parametrize("name", ["factura.pdf", "datos.docx", "sin_extension"])
def test_unsupported_extension(name):
    with pytest.raises(ImportFileError) as ei:
        open_rows(io.BytesIO(b"x"), name)
    assert ei.value.code == "unsupported_extension"
    assert ".csv" in ei.value.message_es


class _SpyStream(io.RawIOBase):
    """Produces a large CSV on the fly (never held in memory) and records every read() size."""

    def __init__(self, n_rows: int):
        self.sizes = []
        self._gen = (f"{i};Cliente {i:08d};{i % 997},50;2026-01-{i % 28 + 1:02d}\r\n".encode()
                     for i in range(n_rows))
        self._buf = b"id;nombre;valor;fecha\r\n"
        self.total = 0

    def readable(self):
        return True

    def read(self, size=-1):
        self.sizes.append(size)
        if size is None or size < 0:
            raise AssertionError("unbounded read()")
        while len(self._buf) < size:
            try:
                self._buf += next(self._gen)
            except StopIteration:
                break
        out, self._buf = self._buf[:size], self._buf[size:]
        self.total += len(out)
        return out


def test_large_csv_is_streamed_with_bounded_reads_and_memory():
    spy = _SpyStream(150_000)  # ~6 MB of CSV
    tracemalloc.start()
    try:
        src = open_rows(spy, "big.csv")
        n = 0
        for row in src:
            n += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == 150_001
    assert spy.total > 10 * readers.CHUNK_SIZE
    assert all(s is not None and 0 < s <= max(readers.CHUNK_SIZE, readers.SNIFF_SIZE) for s in spy.sizes)
    assert len(spy.sizes) > 10
    # The design keeps about one chunk (bytes, decoded text, its lines) alive, never the whole file.
    assert peak < 3 * 1024 * 1024 < spy.total / 2, (peak, spy.total)


def test_unusual_line_breaks_inside_fields_do_not_split_rows():
    data = "a;b\n1;x\u2028y\x0cz\n2;w\n".encode("utf-8")
    assert _all(open_rows(io.BytesIO(data), "x.csv")) == [(1, ("a", "b")), (2, ("1", "x\u2028y\x0cz")),
                                                          (3, ("2", "w"))]


# ---------------------------------------------------------------------------------- spreadsheets ---

def test_xlsx_rows_keep_excel_numbering_and_columns(tmp_path):
    # Data starting at B3: row numbers and column positions must be what Excel shows.
    p = write_xlsx(tmp_path / "a.xlsx", {"Datos": [["Código", "Valor", "Fecha"],
                                                   ["00123", 1234.5, dt.date(2026, 1, 5)]]}, start=(2, 1))
    src = open_rows(p)
    rows = _all(src)
    assert rows[2] == (3, ("", "Código", "Valor", "Fecha"))
    assert rows[3] == (4, ("", "00123", 1234.5, dt.date(2026, 1, 5)))
    assert src.sheet_name == "Datos" and src.file_type == "xlsx"
    assert src.total_rows_estimate == 4


def test_xlsx_is_streamed_with_flat_memory(tmp_path):
    """xlsx rows come from the compressed file as they are read: the sheet is never held whole."""
    rows = [["Referencia", "Valor"]] + [[f"{i:08d}", i * 1.5] for i in range(60_000)]
    p = write_xlsx(tmp_path / "big.xlsx", {"Datos": rows})
    tracemalloc.start()
    try:
        src = open_rows(p)
        assert isinstance(src, readers._StreamSheetRowSource)
        first = next(src)
        _, peak_open = tracemalloc.get_traced_memory()
        n = 1 + sum(1 for _ in src)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert first == ("Referencia", "Valor") and n == 60_001 and src.row_number == 60_001
    assert src.total_rows_estimate == 60_001  # the sheet's declared dimension, for the progress bar
    # 60,000 rows as Python tuples would take several MB; the stream keeps one row at a time.
    assert peak < 1024 * 1024, (peak_open, peak)


def test_xlsx_stream_values_errors_and_merged_ranges(tmp_path):
    p = write_xlsx(tmp_path / "a.xlsx", {"Datos": [["Ref", "Cant", "Valor"], ["007", 3, 2.5], ["008", 4, None]]},
                   merges=[(3, 0, 3, 1, "combinada")], formulas=[(2, 2, "=1/0", "#DIV/0!")])
    src = open_rows(p)
    rows = _all(src)
    assert rows[1] == (2, ("007", 3, 2.5))          # whole numbers come as int
    assert rows[2] == (3, ("008", 4, ""))           # a formula error reads as empty, as with python-calamine
    assert rows[3][1][0] == "combinada" and rows[3][1][1] == ""
    assert src.merged_ranges == [((3, 0), (3, 1))]


@pytest.mark.parametrize("head", [True, False])
def test_a_big_xlsx_reads_its_dimension_first_and_its_merged_ranges_when_asked(tmp_path, monkeypatch, head):
    """A file of 4 MB or more: the dimension from the head of the sheet's XML (no second parse of its rows), the
    merged ranges when asked for; without a readable head, both from the metadata pass beside the rows."""
    monkeypatch.setattr(readers, "BACKGROUND_METADATA_BYTES", 0)  # as for a file of 4 MB or more
    if not head:
        monkeypatch.setattr(readers, "declared_dimension", lambda path, sheet: (False, None))
    p = write_xlsx(tmp_path / "a.xlsx", {"Datos": [["Ref", "Cant"], ["007", 3], ["008", 4]]},
                   merges=[(3, 0, 3, 1, "combinada")])
    src = open_rows(p, background_metadata=True)
    assert (src._meta is None) == head  # no metadata thread when the head gave the dimension
    if head:
        assert src.total_rows_estimate == 4  # known before the first row: the progress bar has its total
    rows = _all(src)
    assert rows[3] == (4, ("combinada", ""))
    assert src.merged_ranges == [((3, 0), (3, 1))] and src.total_rows_estimate == 4
    src.close()


def test_declared_dimension_follows_the_package_relationships(tmp_path):
    p = write_xlsx(tmp_path / "a.xlsx", {"Portada": [["x"]], "Datos": [["Ref"], ["007"], ["008"]]})
    assert readers.declared_dimension(str(p), "Datos") == (True, "A1:A3")
    assert readers.declared_dimension(str(p), "Otra") == (False, None)
    (tmp_path / "b.xlsx").write_bytes(b"no es un zip")
    assert readers.declared_dimension(str(tmp_path / "b.xlsx"), "Datos") == (False, None)


def test_xlsx_from_fileobj_sheet_by_index_and_name(tmp_path):
    p = write_xlsx(tmp_path / "a.xlsx", {"Uno": [["a"]], "Dos": [["b"]]})
    with open(p, "rb") as fh:
        assert next(open_rows(fh, "a.xlsx", sheet=1)) == ("b",)
    assert next(open_rows(p, sheet="dos")) == ("b",)  # case-insensitive fallback


def test_wrong_sheet_lists_available(tmp_path):
    p = write_xlsx(tmp_path / "a.xlsx", {"Facturas": [["a"]], "Resumen": [["b"]]})
    with pytest.raises(ImportFileError) as ei:
        open_rows(p, sheet="Clientes")
    assert ei.value.code == "sheet_not_found"
    assert "«Facturas»" in ei.value.message_es and "«Resumen»" in ei.value.message_es
    assert ei.value.details["available_sheets"] == ["Facturas", "Resumen"]
    with pytest.raises(ImportFileError) as ei:
        open_rows(p, sheet=5)
    assert ei.value.code == "sheet_not_found"


def test_empty_sheet_and_empty_xlsx(tmp_path):
    p = write_xlsx(tmp_path / "a.xlsx", {"Vacia": []})
    with pytest.raises(ImportFileError) as ei:
        open_rows(p)
    assert ei.value.code == "empty_file"
    (tmp_path / "z.xlsx").write_bytes(b"")
    with pytest.raises(ImportFileError) as ei:
        open_rows(tmp_path / "z.xlsx")
    assert ei.value.code == "empty_file"


@pytest.mark.parametrize("cut", [0.5, 0.9, 0.99])
def test_truncated_xlsx_is_corrupt(tmp_path, cut):
    p = write_xlsx(tmp_path / "a.xlsx", {"S": [["a", "b"]] * 200})
    data = p.read_bytes()
    t = tmp_path / "t.xlsx"
    t.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(ImportFileError) as ei:
        _all(open_rows(t))
    assert ei.value.code == "corrupt_file"
    assert "dañado" in ei.value.message_es or "incompleto" in ei.value.message_es


def test_damaged_sheet_xml_is_corrupt(tmp_path):
    p = write_xlsx(tmp_path / "a.xlsx", {"S": [["a", "b"]] * 20})
    out = tmp_path / "bad.xlsx"
    with zipfile.ZipFile(p) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]
            zout.writestr(info, data)
    with pytest.raises(ImportFileError) as ei:
        _all(open_rows(out))
    assert ei.value.code == "corrupt_file"


def test_text_file_named_xlsx_is_corrupt():
    with pytest.raises(ImportFileError) as ei:
        open_rows(io.BytesIO(b"a;b\n1;2\n"), "datos.xlsx")
    assert ei.value.code == "corrupt_file" and ".csv" in ei.value.message_es


def test_encrypted_xlsx(tmp_path):
    ooxml = pytest.importorskip("msoffcrypto.format.ooxml", reason="msoffcrypto-tool (test extra) not installed")
    p = write_xlsx(tmp_path / "a.xlsx", {"S": [["a"]]})
    enc = tmp_path / "cifrado.xlsx"
    with open(p, "rb") as fin, open(enc, "wb") as fout:
        ooxml.OOXMLFile(fin).encrypt("clave123", fout)
    assert enc.read_bytes()[:4] == b"\xd0\xcf\x11\xe0"
    with pytest.raises(ImportFileError) as ei:
        open_rows(enc)
    assert ei.value.code == "encrypted_file" and "contraseña" in ei.value.message_es


def test_xls_via_xlwt(tmp_path):
    pytest.importorskip("xlwt", reason="xlwt (test extra) not installed")
    p = write_xls(tmp_path / "a.xls", [["Código", "Cant", "Fecha"], ["007", 5, dt.date(2026, 1, 5)], [None]],
                  merges=[(2, 0, 2, 1, "combinada")])
    src = open_rows(p)
    rows = _all(src)
    assert rows[1] == (2, ("007", 5, dt.date(2026, 1, 5)))
    assert src.merged_ranges == [((2, 0), (2, 1))]
    assert src.file_type == "xls"


def test_ods(tmp_path):
    p = write_ods(tmp_path / "a.ods", {"Hoja1": [["Código", "Valor", "Fecha"], ["007", 1234.5, dt.date(2026, 1, 5)]],
                                       "Hoja2": [["x"]]})
    src = open_rows(p, sheet="Hoja1")
    assert _all(src) == [(1, ("Código", "Valor", "Fecha")), (2, ("007", 1234.5, dt.date(2026, 1, 5)))]
    assert src.sheet_names == ["Hoja1", "Hoja2"] and src.file_type == "ods"


# ------------------------------------------------------------------------------------------- ZIP ---

def test_zip_with_one_csv(tmp_path):
    z = write_zip(tmp_path / "d.zip", {"export/datos.csv": csv_bytes(ROWS, delimiter=";", encoding="latin-1"),
                                       "LEEME.pdf": b"%PDF", "__MACOSX/export/._datos.csv": b"junk"})
    src = open_rows(z)
    assert _all(src)[1] == (2, tuple(ROWS[1]))
    assert src.member == "export/datos.csv" and src.encoding == "cp1252"
    assert src.total_rows_estimate == 3


def test_zip_with_xlsx_cleans_temp_file(tmp_path):
    x = write_xlsx(tmp_path / "a.xlsx", {"S": [["a", 1]]})
    z = write_zip(tmp_path / "d.zip", {"a.xlsx": x.read_bytes()})
    src = open_rows(z)
    tmp = [c for c in src._closers if getattr(c, "__defaults__", None)]
    temp_path = tmp[0].__defaults__[0]
    assert os.path.exists(temp_path)
    assert next(src) == ("a", 1.0)
    src.close()
    assert not os.path.exists(temp_path)


def test_zip_several_none_and_named(tmp_path):
    z = write_zip(tmp_path / "d.zip", {"a.csv": b"x\n1\n", "b.xlsx": b"PK"})
    with pytest.raises(ImportFileError) as ei:
        open_rows(z)
    assert ei.value.code == "zip_several_data_files" and "a.csv" in ei.value.message_es
    assert _all(open_rows(z, member="a.csv")) == [(1, ("x",)), (2, ("1",))]
    with pytest.raises(ImportFileError) as ei:
        open_rows(z, member="c.csv")
    assert ei.value.code == "zip_member_not_found"
    z2 = write_zip(tmp_path / "e.zip", {"foto.jpg": b"\xff\xd8"})
    with pytest.raises(ImportFileError) as ei:
        open_rows(z2)
    assert ei.value.code == "zip_no_data_file" and "foto.jpg" in ei.value.message_es


def test_corrupt_zip(tmp_path):
    z = write_zip(tmp_path / "d.zip", {"a.csv": b"x\n1\n" * 1000})
    t = tmp_path / "t.zip"
    t.write_bytes(z.read_bytes()[:100])
    with pytest.raises(ImportFileError) as ei:
        open_rows(t)
    assert ei.value.code == "corrupt_file"


def test_line_without_newlines_is_bounded(monkeypatch):
    monkeypatch.setattr(readers, "CHUNK_SIZE", 1024)
    monkeypatch.setattr(readers, "SNIFF_SIZE", 1024)
    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 64 * 1024)
    data = b"a;b\n" + b"x" * (200 * 1024)
    spy_reads = []

    class S(io.BytesIO):
        def read(self, size=-1):
            spy_reads.append(size)
            return super().read(size)
    with pytest.raises(ImportFileError) as ei:
        _all(open_rows(S(data), "x.csv"))
    assert ei.value.code == "corrupt_file"
    assert sum(spy_reads) < 100 * 1024  # stopped early, did not slurp the whole input


def test_unclosed_quote_reports_row():
    data = b'a;b\n1;"abierta\n' + b"x;y\n" * 50_000
    with pytest.raises(ImportFileError) as ei:
        _all(open_rows(io.BytesIO(data), "x.csv"))
    assert ei.value.code == "corrupt_file" and ei.value.row == 2 and "comillas" in ei.value.message_es


def test_workbook_size_cap(tmp_path):
    p = write_xlsx(tmp_path / "a.xlsx", {"S": [["x" * 50, 1.5]] * 2000})
    with pytest.raises(ImportFileError) as ei:
        open_rows(p, max_workbook_bytes=50_000)
    assert ei.value.code == "file_too_large" and "CSV" in ei.value.message_es
    z = write_zip(tmp_path / "a.zip", {"a.xlsx": p.read_bytes()})
    with pytest.raises(ImportFileError) as ei:
        open_rows(z, max_workbook_bytes=50_000)
    assert ei.value.code == "file_too_large"
    assert sum(1 for _ in open_rows(p)) == 2000  # default cap is far above


@pytest.mark.parametrize("chunk", [7, 64, 4096])
def test_utf16_crlf_across_chunks_keeps_row_numbers(monkeypatch, chunk):
    monkeypatch.setattr(readers, "CHUNK_SIZE", chunk)
    rows = [["Código", "Valor"]] + [[f"{i:03d}", f"{i},5"] for i in range(60)]
    data = csv_bytes(rows, delimiter="\t", encoding="utf-16")
    got = _all(open_rows(io.BytesIO(data), "unicode.txt"))
    assert got == [(i + 1, tuple(r)) for i, r in enumerate(rows)]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252", "utf-16"])
def test_excel_sep_hint_line(encoding):
    data = "sep=;\r\nCódigo;Valor,IVA\r\n007;1,5\r\n".encode(encoding)
    src = open_rows(io.BytesIO(data), "x.csv")
    assert src.delimiter == ";"
    assert _all(src) == [(1, ("Código", "Valor,IVA")), (2, ("007", "1,5"))]


def test_non_seekable_stream_and_header_only_file():
    class Pipe:
        def __init__(self, b):
            self._b = io.BytesIO(b)

        def read(self, n):
            return self._b.read(n)
    src = open_rows(Pipe(b"A;B\n1;2\n"), "p.csv")
    assert src.progress == 0.0 and src.total_rows_estimate is None
    assert list(src) == [("A", "B"), ("1", "2")]
    assert src.progress == 1.0 and src.total_rows_estimate == 2
