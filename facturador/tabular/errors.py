"""Error types of the tabular engine (no Django).

Every error carries a stable ``code`` (for programs and tests), a Spanish
``message_es`` (for users) and, when known, the 1-based ``row`` as Excel shows
it, the ``column`` as an Excel letter (``"A"``, ``"AB"``) and the offending
``value``. ``str()`` is English-ish (code + Spanish text) for logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ImportFileError(Exception):
    """A problem with the file as a whole (it cannot be read or mapped at all).

    Codes: ``empty_file``, ``corrupt_file``, ``encrypted_file``, ``sheet_not_found``,
    ``zip_no_data_file``, ``zip_several_data_files``, ``zip_member_not_found``,
    ``zip_encrypted``, ``unsupported_extension``, ``format_mismatch``,
    ``undecodable_bytes``, ``unknown_encoding``, ``missing_columns``,
    ``header_row_missing``, ``invalid_template``; resource limits (see ``tabular.limits``):
    ``file_too_large`` (uncompressed bytes), ``too_many_rows``, ``too_many_cells``.
    """

    def __init__(self, code: str, message_es: str, row: int | None = None,
                 column: str | None = None, value: Any = None, **details: Any):
        self.code = code
        self.message_es = message_es
        self.row = row
        self.column = column
        self.value = value
        self.details = details
        super().__init__(f"{code}: {message_es}")

    # Aliases matching the project-wide convention (code, field, message).
    @property
    def message(self) -> str:
        return self.message_es

    @property
    def field(self) -> str | None:
        if self.row is None and self.column is None:
            return None
        return f"fila {self.row}" + (f", columna {self.column}" if self.column else "")

    def to_dict(self) -> dict:
        return {"code": self.code, "message_es": self.message_es, "row": self.row,
                "column": self.column, "value": _jsonable(self.value), **{
                    k: _jsonable(v) for k, v in self.details.items()}}


@dataclass(slots=True)
class RowError:
    """One problem in one data row (the row is still reported, not the whole file)."""

    row: int | None
    column: str | None
    field: str | None
    value: Any
    message_es: str
    code: str = "invalid_value"

    @property
    def message(self) -> str:
        return self.message_es

    def to_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "field": self.field,
                "value": _jsonable(self.value), "message_es": self.message_es, "code": self.code}


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def column_letter(index0: int) -> str:
    """0-based column index -> Excel letters (0 -> "A", 27 -> "AB")."""
    n = index0 + 1
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def column_index(ref: str | int) -> int:
    """Excel letters ("A", "ab") or a 1-based number (3 or "3") -> 0-based index."""
    if isinstance(ref, bool):
        raise ValueError(ref)
    if isinstance(ref, int):
        if ref < 1:
            raise ValueError(ref)
        return ref - 1
    s = str(ref).strip().upper()
    if s.isdigit():
        if int(s) < 1:
            raise ValueError(ref)
        return int(s) - 1
    if not s or not s.isascii() or not s.isalpha() or len(s) > 3:
        raise ValueError(ref)
    n = 0
    for ch in s:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def error_dict(err: "RowError | ImportFileError", header: str = "") -> dict:
    """The one public shape of a data error: ``{row, column, header, value, code, message}`` (row as the
    user sees it, column letter, the column's header text, the offending value as text, stable code,
    Spanish message).

    >>> error_dict(RowError(7, "J", "amount", "N/A", "Fila 7, «Valor»: «N/A» no es un número.", "invalid_number"), "Valor")
    {'row': 7, 'column': 'J', 'header': 'Valor', 'value': 'N/A', 'code': 'invalid_number', 'message': 'Fila 7, «Valor»: «N/A» no es un número.'}
    """
    v = err.value
    if v is not None and not isinstance(v, str):
        v = _jsonable(v)
        v = v if isinstance(v, str) else str(v)
    return {"row": err.row, "column": err.column, "header": header or "", "value": "" if v is None else v,
            "code": err.code, "message": err.message_es}
