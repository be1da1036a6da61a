"""Test-file generators: xlsx (xlsxwriter), xls (xlwt), ods (minimal zip+XML writer), csv, zip.

xlsb cannot be generated here: no Python library writes XLSB, so xlsb reading is not tested.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path
from typing import Any, Iterable
from xml.sax.saxutils import escape

import xlsxwriter


def write_xlsx(path: Path, sheets: dict[str, list[list[Any]]], *, start=(0, 0),
               merges: Iterable[tuple[int, int, int, int, Any]] = (),
               formulas: Iterable[tuple[int, int, str, Any]] = ()) -> Path:
    """sheets: name -> rows (None cells skipped). start: (row0, col0) of the first cell of the
    first sheet. merges: (r1, c1, r2, c2, value) 0-based on the first sheet. formulas:
    (row0, col0, formula, cached_value) on the first sheet."""
    wb = xlsxwriter.Workbook(str(path))
    date_fmt = wb.add_format({"num_format": "dd/mm/yyyy"})
    first = True
    for name, rows in sheets.items():
        ws = wb.add_worksheet(name)
        r0, c0 = start if first else (0, 0)
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                if v is None:
                    continue
                if isinstance(v, (dt.date, dt.datetime)):
                    ws.write_datetime(r0 + i, c0 + j, v, date_fmt)
                elif isinstance(v, str):
                    ws.write_string(r0 + i, c0 + j, v)
                else:
                    ws.write(r0 + i, c0 + j, v)
        if first:
            for r1, c1, r2, c2, v in merges:
                ws.merge_range(r1, c1, r2, c2, v)
            for r, c, f, cached in formulas:
                ws.write_formula(r, c, f, None, cached)
        first = False
    wb.close()
    return path


def write_xls(path: Path, rows: list[list[Any]], sheet: str = "Hoja1",
              merges: Iterable[tuple[int, int, int, int, Any]] = ()) -> Path:
    xlwt = __import__("xlwt")
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet(sheet)
    date_style = xlwt.easyxf(num_format_str="DD/MM/YYYY")
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            if v is None:
                continue
            if isinstance(v, dt.date):
                ws.write(i, j, v, date_style)
            else:
                ws.write(i, j, v)
    for r1, c1, r2, c2, v in merges:
        ws.write_merge(r1, r2, c1, c2, v)
    wb.save(str(path))
    return path


_ODS_NS = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
           'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
           'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"')


def _ods_cell(v: Any) -> str:
    if v is None or v == "":
        return "<table:table-cell/>"
    if isinstance(v, bool):
        return (f'<table:table-cell office:value-type="boolean" office:boolean-value="{str(v).lower()}">'
                f"<text:p>{v}</text:p></table:table-cell>")
    if isinstance(v, (int, float)):
        return (f'<table:table-cell office:value-type="float" office:value="{v}">'
                f"<text:p>{v}</text:p></table:table-cell>")
    if isinstance(v, dt.date):
        return (f'<table:table-cell office:value-type="date" office:date-value="{v.isoformat()}">'
                f"<text:p>{v.isoformat()}</text:p></table:table-cell>")
    return f'<table:table-cell office:value-type="string"><text:p>{escape(str(v))}</text:p></table:table-cell>'


def write_ods(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    """A minimal but valid OpenDocument spreadsheet (mimetype first and stored, manifest, content)."""
    tables = "".join(
        f'<table:table table:name="{escape(name)}">'
        + "".join("<table:table-row>" + "".join(_ods_cell(v) for v in row) + "</table:table-row>" for row in rows)
        + "</table:table>"
        for name, rows in sheets.items())
    content = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODS_NS} office:version="1.2">'
               f"<office:body><office:spreadsheet>{tables}</office:spreadsheet></office:body>"
               "</office:document-content>")
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                '<manifest:file-entry manifest:full-path="/" '
                'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                "</manifest:manifest>")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
        z.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
    return path


def csv_bytes(rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8",
              newline: str = "\r\n") -> bytes:
    import csv as _csv
    buf = io.StringIO()
    w = _csv.writer(buf, delimiter=delimiter, lineterminator=newline)
    w.writerows(rows)
    return buf.getvalue().encode(encoding)


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


TELECOM_HEADER = ["Línea", "Cuenta", "Centro de costo", "Plan", "Concepto", "Minutos", "Datos (MB)", "SMS",
                  "Valor sin IVA", "IVA", "Valor total", "Fecha corte"]


def telecom_rows(n: int = 6, *, defects: bool = True) -> list[list[Any]]:
    """A mobile operator's "Detalle de consumo": two title rows (the first merged over the width), a blank
    row, the 12-column header, ``n`` lines (several lines per account) and a TOTAL row. With ``defects``
    rows 5-8 carry, in order: an 'N/A' amount, the date 31/02/2026, an 8-digit line, negative minutes."""
    rows: list[list[Any]] = [["Detalle de consumo — Operador Móvil S.A.", *[None] * 11],
                             ["Periodo: octubre 2026", *[None] * 11], [None] * 12, list(TELECOM_HEADER)]
    net_sum = tax_sum = tot_sum = 0.0
    for i in range(n):
        line = f"31{i:08d}"
        net = 10000.0 + 500 * i
        iva = round(net * 0.19, 2)
        row: list[Any] = [line, f"00{100 + i // 2}", "Ventas" if i % 2 else "Gerencia", "Plan 20GB", "Cargo básico",
                          120 + i, 2048.5, 10, net, iva, round(net + iva, 2), "31/10/2026"]
        rows.append(row)
    if defects:
        rows[4][10] = "N/A"
        rows[5][11] = "31/02/2026"
        rows[6][0] = "31000002"
        rows[7][5] = -5
    for k, r in enumerate(rows[4:]):
        if not (defects and k < 4):  # the footer sums the lines without defects, as the mapper does
            net_sum += r[8]
            tax_sum += r[9]
            tot_sum += r[10]
    rows.append(["TOTAL", None, None, None, None, None, None, None, round(net_sum, 2), round(tax_sum, 2),
                 round(tot_sum, 2), None])
    return rows


def write_telecom_xlsx(path: Path, n: int = 6, *, defects: bool = True) -> Path:
    rows = telecom_rows(n, defects=defects)
    return write_xlsx(path, {"Detalle": rows}, merges=[(0, 0, 0, 11, rows[0][0])])
