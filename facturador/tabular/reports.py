"""Streaming error reports: the original row plus the error text, as CSV or XLSX.

Both writers consume an iterable of rows-with-errors one at a time (never a list in memory):
items are :class:`~facturador.tabular.mapping.MappedRow` (uses ``row_number``, ``raw``, ``errors``)
or ``(row_number, raw_tuple, errors)`` triples, where ``errors`` holds RowError objects or strings.
Columns: ``Fila``, the file's header cells, ``Errores`` (all messages of the row joined by " | ").

Spreadsheet-injection safety: text cells that start with ``= + - @`` (and are not numbers) are
written as literal text — prefixed with an apostrophe in CSV, and with ``write_string`` in XLSX.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
from decimal import Decimal
from typing import IO, Any, Iterable

import xlsxwriter

__all__ = ["write_error_report_csv", "write_error_report_xlsx", "XLSX_MAX_ROWS"]

XLSX_MAX_ROWS = 1_048_576


def _unpack(item: Any) -> tuple[int | None, tuple, list[str]]:
    if isinstance(item, tuple) and len(item) == 3:
        rn, raw, errors = item
    else:
        rn, raw, errors = item.row_number, item.raw, item.errors
    msgs = [e if isinstance(e, str) else getattr(e, "message_es", str(e)) for e in (errors or ())]
    return rn, tuple(raw or ()), msgs


def _is_number_text(s: str) -> bool:
    t = s.replace(".", "").replace(",", "").replace(" ", "")
    return t[1:].isdigit() if t[:1] in "+-" else t.isdigit()


def _safe_text(s: str) -> str:
    if s and s[0] in "=+-@\t\r" and not _is_number_text(s):
        return "'" + s
    return s


def _csv_cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return _safe_text(v)
    if isinstance(v, bool):
        return "VERDADERO" if v else "FALSO"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (_dt.date, _dt.time)):
        return v.isoformat()
    return str(v)


def write_error_report_csv(rows_with_errors: Iterable[Any], header: list | tuple, out: IO,
                           *, delimiter: str = ";", include_row_number: bool = True) -> int:
    """Write the report to ``out`` (a text stream opened with ``newline=""``, or a binary stream:
    then UTF-8 with BOM so Excel shows accents). Default delimiter ``;`` (Spanish-locale Excel).
    Returns the number of data rows written."""
    text_out = out
    wrapper = None
    if not isinstance(out, io.TextIOBase) and not hasattr(out, "encoding"):
        wrapper = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
        text_out = wrapper
    w = csv.writer(text_out, delimiter=delimiter, lineterminator="\r\n")
    head = (["Fila"] if include_row_number else []) + [_csv_cell(h) for h in header] + ["Errores"]
    w.writerow(head)
    width = len(header)
    n = 0
    for item in rows_with_errors:
        rn, raw, msgs = _unpack(item)
        cells = [_csv_cell(v) for v in raw]
        if len(cells) < width:
            cells.extend([""] * (width - len(cells)))
        w.writerow(([rn if rn is not None else ""] if include_row_number else []) + cells + [" | ".join(msgs)])
        n += 1
    if wrapper is not None:
        wrapper.flush()
        wrapper.detach()
    return n


def write_error_report_xlsx(rows_with_errors: Iterable[Any], header: list | tuple, out: Any,
                            *, sheet_name: str = "Errores", include_row_number: bool = True) -> int:
    """Write the report as XLSX with xlsxwriter in ``constant_memory`` mode (rows flushed as written).
    ``out`` is a path or a binary file object. Stops at Excel's row limit with a final note row.
    Returns the number of data rows written."""
    wb = xlsxwriter.Workbook(out, {"constant_memory": True, "strings_to_formulas": False,
                                   "strings_to_urls": False, "strings_to_numbers": False})
    try:
        ws = wb.add_worksheet(sheet_name[:31])
        bold = wb.add_format({"bold": True, "bg_color": "#DDDDDD"})
        red = wb.add_format({"font_color": "#9C0006", "bg_color": "#FFC7CE", "text_wrap": False})
        date_f = wb.add_format({"num_format": "dd/mm/yyyy"})
        dt_f = wb.add_format({"num_format": "dd/mm/yyyy hh:mm:ss"})
        off = 1 if include_row_number else 0
        if include_row_number:
            ws.write_string(0, 0, "Fila", bold)
        for j, h in enumerate(header):
            ws.write_string(0, off + j, _csv_cell(h).lstrip("'") if not isinstance(h, str) else h, bold)
        err_col = off + len(header)
        ws.write_string(0, err_col, "Errores", bold)
        ws.freeze_panes(1, 0)
        r = 0
        n = 0
        for item in rows_with_errors:
            rn, raw, msgs = _unpack(item)
            r += 1
            if r >= XLSX_MAX_ROWS - 1:
                ws.write_string(r, 0, "Informe truncado: se alcanzó el máximo de filas de Excel.", red)
                break
            if include_row_number and rn is not None:
                ws.write_number(r, 0, rn)
            for j, v in enumerate(raw):
                c = off + j
                if c >= err_col and len(raw) > len(header):
                    # extra cells beyond the header go after the error column
                    c = j + off + 1
                if v is None or v == "":
                    continue
                if isinstance(v, bool):
                    ws.write_boolean(r, c, v)
                elif isinstance(v, (int, float, Decimal)):
                    ws.write_number(r, c, float(v))
                elif isinstance(v, _dt.datetime):
                    ws.write_datetime(r, c, v, dt_f)
                elif isinstance(v, _dt.date):
                    ws.write_datetime(r, c, v, date_f)
                else:
                    ws.write_string(r, c, str(v))
            ws.write_string(r, err_col, " | ".join(msgs), red)
            n += 1
    finally:
        wb.close()
    return n
