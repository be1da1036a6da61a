"""Streaming error reports: the original row plus the error text, as csv or xlsx (written by :mod:`.sheets`).

The report consumes an iterable of rows-with-errors one at a time (never a list in memory): items are
:class:`~facturador.tabular.mapping.MappedRow` (uses ``row_number``, ``raw``, ``errors``) or
``(row_number, raw_tuple, errors)`` triples, where ``errors`` holds RowError objects or strings.
Columns: ``Fila``, the file's header cells, ``Errores`` (all messages of the row joined by " | "); cells beyond
the header go after ``Errores``. The file's cells and header are written under the sheets' formula-injection policy.
"""

from __future__ import annotations

from typing import IO, Any, Iterable

from .sheets import INTEGER, Column, write_table

__all__ = ["write_error_report"]


def _unpack(item: Any) -> tuple[int | None, tuple, list[str]]:
    if isinstance(item, tuple) and len(item) == 3:
        rn, raw, errors = item
    else:
        rn, raw, errors = item.row_number, item.raw, item.errors
    msgs = [e if isinstance(e, str) else getattr(e, "message_es", str(e)) for e in (errors or ())]
    return rn, tuple(raw or ()), msgs


def write_error_report(rows_with_errors: Iterable[Any], header: list | tuple, out: str | IO[bytes],
                       fmt: str = "csv") -> int:
    """Write the report to ``out`` (a path or a binary stream) as ``fmt`` ("csv" or "xlsx");
    returns the number of rows written (xlsx stops at Excel's row limit with a final note)."""
    width = len(header)
    columns = [Column("Fila", INTEGER, width=8),
               *(Column("" if h is None else str(h), width=max(12, min(40, len(str(h or "")) + 2))) for h in header),
               Column("Errores", width=60)]

    def rows():
        for item in rows_with_errors:
            rn, raw, msgs = _unpack(item)
            cells = list(raw[:width]) + [None] * (width - len(raw))
            yield [rn, *cells, " | ".join(msgs), *raw[width:]]

    return write_table(out, fmt, columns, rows(), sheet_name="Errores")
