"""One streaming table writer for every spreadsheet export: xlsx or csv, typed columns, one injection policy.

The caller declares the columns (label, type, width) and writes rows one at a time; nothing is kept in memory:
xlsx goes through xlsxwriter in ``constant_memory`` mode (each row is flushed to a temporary file as soon as the
next one starts), csv is encoded as it is written.

Column types (``Column.type``): ``text`` (default), ``integer``, ``money``, ``decimal``, ``date``, ``datetime``.
The *value* decides what kind of cell is written and the *column* how it is shown:

* ``str`` is always text — never a formula, a number or a link (see *formula injection* below);
* ``int``, ``Decimal`` and ``float`` are real numbers, shown with the column's format: integer ``0``,
  money ``#,##0.00`` (``Column(..., decimals=0)``: whole pesos, ``#,##0``), decimal ``0.00`` (``decimals``
  places; ``decimals=None``: as is); in a text column a number keeps Excel's General format;
* ``datetime.date`` / ``datetime.datetime`` are real Excel dates (``dd/mm/yyyy``, ``dd/mm/yyyy hh:mm:ss`` in a
  ``datetime`` column). Aware datetimes are written in their own wall time: callers localize them first;
* ``bool`` is a boolean; ``None`` and ``""`` an empty cell; anything else its ``str()`` as text.

The header row is bold and frozen (below an optional title and notes). A row may have more cells than there are
columns (extra cells are written as in a text column).

CSV: UTF-8 with BOM, ``;`` delimiter and decimal comma, what Spanish-locale Excel expects when it opens the file;
numbers have no thousands separator, dates are ``dd/mm/yyyy``.

Formula injection, one policy for every export: in xlsx text is written with ``write_string``, so Excel never
evaluates it. In csv (where every cell is text and Excel guesses) a text cell starting with ``= + - @``, a tab or
a carriage return gets a leading apostrophe, unless it is a plain number such as ``-7`` or ``+57 300``:

>>> safe_csv_text("=HYPERLINK(\\"http://x\\")"), safe_csv_text("@SUM(A1)"), safe_csv_text("-7"), safe_csv_text("Ana")
('\\'=HYPERLINK("http://x")', "'@SUM(A1)", '-7', 'Ana')
>>> buf = io.BytesIO()
>>> write_table(buf, "csv", [Column("Ref"), Column("Valor", MONEY)], [["=1+1", Decimal("1234.5")]])
1
>>> buf.getvalue().decode("utf-8-sig").splitlines()
['Ref;Valor', "'=1+1;1234,50"]
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import math
import os
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import IO, Any, Iterable, Iterator, Sequence

import xlsxwriter

__all__ = ["Column", "TableWriter", "write_table", "table_bytes", "stream_csv", "safe_csv_text",
           "TEXT", "INTEGER", "MONEY", "DECIMAL", "DATE", "DATETIME", "FORMATS", "CONTENT_TYPES", "XLSX_MAX_ROWS"]

TEXT, INTEGER, MONEY, DECIMAL, DATE, DATETIME = "text", "integer", "money", "decimal", "date", "datetime"
COLUMN_TYPES = (TEXT, INTEGER, MONEY, DECIMAL, DATE, DATETIME)
FORMATS = ("xlsx", "csv")
CONTENT_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 "csv": "text/csv; charset=utf-8"}
XLSX_MAX_ROWS = 1_048_576
XLSX_TRUNCATED = "Informe truncado: se alcanzó el máximo de filas de Excel."
CSV_DELIMITER = ";"
CSV_DECIMAL = ","
DATE_FORMAT = "dd/mm/yyyy"
DATETIME_FORMAT = "dd/mm/yyyy hh:mm:ss"
_INJECTION_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    """A column: its header label, type (one of COLUMN_TYPES), width in characters (default: from the label)
    and, for money and decimal columns, the decimal places shown (money: 2, or 0 for whole pesos)."""

    label: str
    type: str = TEXT
    width: float | None = None
    decimals: int | None = 2

    def __post_init__(self):
        if self.type not in COLUMN_TYPES:
            raise ValueError(f"unknown column type {self.type!r} (one of {', '.join(COLUMN_TYPES)})")

    @property
    def shown_width(self) -> float:
        return self.width if self.width is not None else max(10, min(50, len(self.label) + 2))


def _is_number_text(s: str) -> bool:
    t = s.replace(".", "").replace(",", "").replace(" ", "")
    return t[1:].isdigit() if t[:1] in "+-" else t.isdigit()


def safe_csv_text(s: str) -> str:
    """``s`` as a csv cell Excel will not evaluate: an apostrophe before a would-be formula."""
    if s.startswith(_INJECTION_STARTS) and not _is_number_text(s):
        return "'" + s
    return s


def _number_format(column: Column | None, value) -> str | None:
    """The xlsx number format of a number in ``column`` (None: General)."""
    kind = column.type if column is not None else TEXT
    if kind == INTEGER:
        return "0"
    if kind == MONEY:
        return "#,##0." + "0" * column.decimals if column.decimals else "#,##0"
    if kind == DECIMAL and column.decimals is not None:
        return "0." + "0" * column.decimals if column.decimals else "0"
    return None


def _csv_number(column: Column | None, value) -> str:
    kind = column.type if column is not None else TEXT
    places = None
    if kind == INTEGER:
        places = 0
    elif kind in (MONEY, DECIMAL):
        places = column.decimals
    if places is not None:
        d = value if isinstance(value, Decimal) else Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        text = f"{d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):f}"
    elif isinstance(value, float):
        text = str(int(value)) if value.is_integer() else repr(value)
    else:
        text = f"{value:f}" if isinstance(value, Decimal) else str(value)
    return text.replace(".", CSV_DECIMAL)


def _naive(value: _dt.datetime) -> _dt.datetime:
    return value.replace(tzinfo=None) if value.tzinfo is not None else value


def _is_number(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return False
    return math.isfinite(value) if isinstance(value, float) else (not isinstance(value, Decimal) or value.is_finite())


class TableWriter:
    """Write a table to ``out`` (a path or a binary file object) as ``fmt`` ("xlsx" or "csv").

    Use as a context manager (or call :meth:`close`)::

        with TableWriter(out, "xlsx", [Column("Referencia", width=16), Column("Saldo", MONEY)],
                         sheet_name="Cartera", title="Listado de cartera", notes=["Corte: 15/10/2026"]) as w:
            for r in rows:
                w.row([r.reference, r.balance])
            w.row(["Totales", total], bold=True)

    ``title`` (bold) and ``notes`` are one-cell rows above the header, followed by an empty row.
    ``header=False`` writes no header row (a report made of sections writes its own label rows).
    In xlsx, rows beyond Excel's limit are not written: a final note says the report was truncated and
    :attr:`truncated` becomes true. :attr:`rows_written` counts the rows written with :meth:`row`.
    """

    def __init__(self, out: str | os.PathLike | IO[bytes], fmt: str, columns: Sequence[Column], *,
                 sheet_name: str = "Hoja1", title: str | None = None, notes: Iterable[str] = (), header: bool = True):
        if fmt not in FORMATS:
            raise ValueError(f"unknown table format {fmt!r} (one of {', '.join(FORMATS)})")
        self.fmt = fmt
        self.columns = list(columns)
        self.rows_written = 0
        self.truncated = False
        self._closed = False
        self._row = 0
        if fmt == "xlsx":
            self._open_xlsx(out, sheet_name)
        else:
            self._open_csv(out)
        preamble = ([title] if title else []) + list(notes)
        for i, line in enumerate(preamble):
            self._put([line], bold=bool(title) and i == 0, columns=())
        if preamble:
            self._put([], columns=())
        if header:
            self._put([c.label for c in self.columns], header=True, columns=())
            if fmt == "xlsx":
                self._ws.freeze_panes(self._row, 0)

    # --- public ---------------------------------------------------------------------------------------------

    def row(self, values: Sequence[Any], *, bold: bool = False) -> bool:
        """Write one row (cells in column order). Returns False when it was not written (xlsx row limit)."""
        if self.truncated:
            return False
        if self.fmt == "xlsx" and self._row >= XLSX_MAX_ROWS - 1:
            self._ws.write_string(self._row, 0, XLSX_TRUNCATED, self._format(None, bold=True))
            self._row += 1
            self.truncated = True
            return False
        self._put(values, bold=bold)
        self.rows_written += 1
        return True

    def blank(self) -> None:
        """An empty row (e.g. before a totals row)."""
        if not self.truncated:
            self._put([])

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.fmt == "xlsx":
            self._wb.close()
        else:
            self._text.flush()
            if self._owns:
                self._text.close()
            else:
                self._text.detach()

    def __enter__(self) -> "TableWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- xlsx -----------------------------------------------------------------------------------------------

    def _open_xlsx(self, out, sheet_name):
        target = os.fspath(out) if isinstance(out, (str, os.PathLike)) else out
        self._wb = xlsxwriter.Workbook(target, {
            "constant_memory": True, "in_memory": False,  # in_memory would turn constant_memory off
            "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False})
        self._ws = self._wb.add_worksheet(sheet_name[:31])
        self._formats: dict[tuple, Any] = {}
        for i, c in enumerate(self.columns):
            self._ws.set_column(i, i, c.shown_width)

    def _format(self, num_format: str | None, *, bold: bool = False, header: bool = False):
        key = (num_format, bold, header)
        if key not in self._formats:
            props = {}
            if num_format:
                props["num_format"] = num_format
            if bold or header:
                props["bold"] = True
            if header:
                props.update({"bg_color": "#DCE6F1", "border": 1})
            self._formats[key] = self._wb.add_format(props) if props else None
        return self._formats[key]

    def _put_xlsx(self, values, bold, header, columns):
        ws, r = self._ws, self._row
        for j, v in enumerate(values):
            col = columns[j] if j < len(columns) else None
            if v is None or (isinstance(v, str) and v == "" and not header):
                if bold:
                    ws.write_blank(r, j, None, self._format(None, bold=True))
                continue
            if isinstance(v, bool):
                ws.write_boolean(r, j, v, self._format(None, bold=bold, header=header))
            elif _is_number(v):
                ws.write_number(r, j, float(v), self._format(_number_format(col, v), bold=bold, header=header))
            elif isinstance(v, _dt.datetime):
                fmt = DATE_FORMAT if col is not None and col.type == DATE else DATETIME_FORMAT
                ws.write_datetime(r, j, _naive(v), self._format(fmt, bold=bold, header=header))
            elif isinstance(v, _dt.date):
                ws.write_datetime(r, j, v, self._format(DATE_FORMAT, bold=bold, header=header))
            else:
                ws.write_string(r, j, str(v), self._format(None, bold=bold, header=header))

    # --- csv ------------------------------------------------------------------------------------------------

    def _open_csv(self, out):
        self._owns = isinstance(out, (str, os.PathLike))
        raw = open(out, "wb") if self._owns else out
        self._text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="", write_through=True)
        self._csv = csv.writer(self._text, delimiter=CSV_DELIMITER, lineterminator="\r\n")

    @staticmethod
    def _csv_cell(v, col) -> str:
        if v is None:
            return ""
        if isinstance(v, bool):
            return "VERDADERO" if v else "FALSO"
        if _is_number(v):
            return _csv_number(col, v)
        if isinstance(v, _dt.datetime):
            return _naive(v).strftime("%d/%m/%Y" if col is not None and col.type == DATE else "%d/%m/%Y %H:%M:%S")
        if isinstance(v, _dt.date):
            return v.strftime("%d/%m/%Y")
        return safe_csv_text(str(v))

    # --- both -----------------------------------------------------------------------------------------------

    def _put(self, values, *, bold=False, header=False, columns=None):
        columns = self.columns if columns is None else columns
        if self.fmt == "xlsx":
            self._put_xlsx(values, bold, header, columns)
        else:
            self._csv.writerow([self._csv_cell(v, columns[j] if j < len(columns) else None)
                                for j, v in enumerate(values)])
        self._row += 1


def write_table(out, fmt: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]], **options) -> int:
    """Write ``rows`` (consumed one at a time) as a table; returns the number of rows written.
    ``options``: those of :class:`TableWriter`."""
    with TableWriter(out, fmt, columns, **options) as w:
        for values in rows:
            if not w.row(values):
                break
    return w.rows_written


def stream_csv(columns: Sequence[Column], rows: Iterable[Sequence[Any]], **options) -> Iterator[bytes]:
    """The table as csv, yielded in pieces as ``rows`` are consumed (for a streaming HTTP response)."""
    buf = io.BytesIO()
    with TableWriter(buf, "csv", columns, **options) as w:
        for values in rows:
            w.row(values)
            if buf.tell() >= 64 * 1024:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
    if buf.getvalue():
        yield buf.getvalue()


def table_bytes(fmt: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]], **options) -> bytes:
    """The table as bytes (for small exports answered in one response)."""
    buf = io.BytesIO()
    write_table(buf, fmt, columns, rows, **options)
    return buf.getvalue()
