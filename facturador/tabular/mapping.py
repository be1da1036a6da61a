"""Import templates and the streaming row mapper (no Django).

A :class:`Template` says where the data is (sheet, header row), which source column feeds each
target field (by header name, case/accent-insensitive, or by position ``"A"``/``"AB"``/1-based
number), how to parse it (text, integer, decimal, date, period, boolean), which fields are
required, their defaults, and checks (declared totals, error cap, all-or-nothing).
``Template.to_dict()``/``from_dict()`` give a JSON-serialisable form for versioned storage.

``map_rows(row_source, template)`` returns a :class:`RowMapper`: an iterator of
:class:`MappedRow` (row number, parsed values, row errors, raw row) that keeps counters in
``.stats`` (empty rows skipped, footer rows, computed vs declared totals) — read them once the
iterator is exhausted. Nothing is written anywhere: the caller (the Django job) decides what to do
with each row; for ``all_or_nothing`` templates it should load inside one transaction and roll
back unless ``mapper.stats.ok``.

How spreadsheet oddities show up (python-calamine 0.9):
  * merged cells: only the top-left cell has the value, the others read as empty. A required
    field that falls in such a cell gets an error naming the merged range; set
    ``Template.fill_merged=True`` to copy the top-left value into the covered cells instead
    (xlsx/xls only: calamine reports no merged ranges for ods/xlsb).
  * formulas: the value Excel cached at save time is used. A formula saved without a cached
    value (files written by some libraries) or whose result is an error (#N/A, #DIV/0!) reads as
    empty: required fields then fail with a message that mentions this cause.
"""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass, field, fields as dc_fields
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Callable, Iterator

from .errors import ImportFileError, RowError, column_index, column_letter
from .parsers import PARSER_NAMES, CellError, make_parser
from .limits import Limits
from .readers import RowSource, open_rows
from .rules import compile_checks, compile_field_rules, compile_quick, validate_checks, validate_rules

__all__ = ["FieldMapping", "TotalsCheck", "Template", "MappedRow", "MapStats", "RowMapper",
           "PreviewResult", "map_rows", "preview", "open_for_template", "normalize_header",
           "TEMPLATE_SCHEMA_VERSION"]

TEMPLATE_SCHEMA_VERSION = 1
DEFAULT_FOOTER_LABELS = ("total", "totales", "gran total", "total general", "suma", "sumas")
# A subtotal row inside the data («Subtotal cuenta 0001», «Sub-total», or «Total cuenta 0001»: a label starting with
# «Total» that is not one of the footer labels, on a row with no other words — an account «Total Colombia S.A.»
# with its address is a line): skipped, never a line nor the totals row.
SUBTOTAL_PREFIXES = ("subtotal", "sub total", "sub-total", "total ")


def only_label_has_words(row: tuple, label_at: int) -> bool:
    """No cell but the label's holds a letter (amounts, counts and dates only): how a subtotal row looks.

    >>> only_label_has_words(("Total cuenta 1", "", "$ 1.500,00", 3), 0), only_label_has_words(("Total SA", "Cra 7"), 0)
    (True, False)
    """
    return not any(c.__class__ is str and any(ch.isalpha() for ch in c) for i, c in enumerate(row) if i != label_at)


def is_subtotal(label: str, row: tuple, label_at: int) -> bool:
    """Whether a row whose label cell (at ``label_at``, normalized: `normalize_header`) is ``label`` is a subtotal
    (`SUBTOTAL_PREFIXES`), for the engine and the mapper alike.

    >>> is_subtotal("subtotal zona", ("Subtotal zona", "Cra 7"), 0), is_subtotal("total sa", ("Total SA", "Cra 7"), 0)
    (True, False)
    """
    return label.startswith(SUBTOTAL_PREFIXES) and (not label.startswith("total") or only_label_has_words(row, label_at))


def normalize_header(value: Any) -> str:
    """Header comparison key: accents removed, case-folded, inner spaces collapsed, ``:``/``*`` dropped."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    s = unicodedata.normalize("NFKD", str(value))
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    s = " ".join(s.casefold().split())
    return s.strip(" :*")


@dataclass
class FieldMapping:
    """One target field. Give ``header`` (name in the header row) or ``position`` (``"A"``, ``"AB"``,
    ``3`` or ``"3"``, 1-based), or neither when a ``default`` constant fills it."""

    field: str
    header: str | None = None
    position: str | int | None = None
    parser: str = "text"
    required: bool = False
    default: Any = None           # JSON value; strings are parsed with the field's parser
    date_formats: list[str] | None = None   # overrides Template.date_formats
    decimal_places: int | None = None       # decimal: round half-up to this many places
    zfill: int | None = None                # text: left-pad digit-only values with zeros
    max_length: int | None = None           # text: maximum length
    sum_total: bool = False                 # include in declared-totals check (decimal/integer)
    rules: dict | None = None               # validation rules (see tabular.rules): min, max, pattern...
    label: str | None = None                # Spanish name shown in messages (default: the field name)


@dataclass
class TotalsCheck:
    """Check sums of fields against declared totals.

    ``from_footer``: take the declared values from the footer row (a row whose label cell says
    "TOTAL"...), parsed with each field's parser. ``expected``: values given by the user
    (field -> number as string), used when there is no footer value. ``expected_rows``: the number
    of data rows the user expects. ``tolerance``: allowed absolute difference (string decimal).
    """

    fields: list[str] = field(default_factory=list)
    from_footer: bool = True
    expected: dict[str, str] = field(default_factory=dict)
    expected_rows: int | None = None
    tolerance: str = "0"


@dataclass
class Template:
    fields: list[FieldMapping]
    name: str = ""
    file_type: str | None = None        # informative: "csv", "xlsx"... (None: any)
    sheet: str | int | None = None       # name or 0-based index; None: first visible worksheet
    header_row: int | None = 1           # 1-based; None or 0: no header (map by position only)
    encoding: str | None = None          # CSV; None: detect
    delimiter: str | None = None         # CSV; None: sniff
    decimal_separator: str = ","
    thousands_separator: str = "."
    date_formats: list[str] = field(default_factory=lambda: ["dd/mm/yyyy", "yyyy-mm-dd"])
    excel_serial_dates: bool = True
    all_or_nothing: bool = False
    max_errors: int | None = None        # stop after this many rows with errors (stats.aborted)
    footer_labels: list[str] = field(default_factory=lambda: list(DEFAULT_FOOTER_LABELS))
    footer_label_column: str | int | None = None  # None: any of the first 4 columns
    fill_merged: bool = False
    declared_totals: TotalsCheck | None = None
    checks: list | None = None           # cross-field checks (see tabular.rules), e.g. net + taxes = total

    def holds_headers(self, row) -> bool:
        """Whether ``row`` has every header the template maps by name (accents, case and spacing ignored); False
        for a template mapping by position only."""
        wanted = {normalize_header(fm.header) for fm in self.fields if fm.header}
        return bool(wanted) and wanted <= {normalize_header(c) for c in row}

    # -- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = asdict(self)
        d["schema"] = TEMPLATE_SCHEMA_VERSION
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "Template":
        """Build and validate a template; raises ImportFileError("invalid_template") with a Spanish message."""
        if not isinstance(data, dict):
            raise _bad_template("la plantilla debe ser un objeto JSON")
        data = dict(data)
        schema = data.pop("schema", TEMPLATE_SCHEMA_VERSION)
        if schema != TEMPLATE_SCHEMA_VERSION:
            raise _bad_template(f"versión de plantilla {schema!r} no soportada")
        known = {f.name for f in dc_fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise _bad_template(f"claves desconocidas: {', '.join(sorted(unknown))}")
        fm_known = {f.name for f in dc_fields(FieldMapping)}
        fms = []
        for i, fd in enumerate(data.pop("fields", None) or []):
            if not isinstance(fd, dict) or set(fd) - fm_known or "field" not in fd:
                raise _bad_template(f"el campo número {i + 1} de la plantilla no es válido")
            fms.append(FieldMapping(**fd))
        dt = data.pop("declared_totals", None)
        if dt is not None:
            if not isinstance(dt, dict) or set(dt) - {f.name for f in dc_fields(TotalsCheck)}:
                raise _bad_template("«declared_totals» no es válido")
            dt = TotalsCheck(**dt)
        tpl = cls(fields=fms, declared_totals=dt, **data)
        tpl.validate()
        return tpl

    def validate(self) -> None:
        if not self.fields:
            raise _bad_template("la plantilla no tiene campos")
        if self.file_type is not None and self.file_type not in ("csv", "txt", "xlsx", "xlsm", "xls", "xlsb",
                                                                  "ods", "zip"):
            raise _bad_template(f"el tipo de archivo «{self.file_type}» no es válido")
        seen = set()
        for fm in self.fields:
            if not fm.field or fm.field in seen:
                raise _bad_template(f"el campo «{fm.field}» está vacío o repetido")
            seen.add(fm.field)
            if fm.parser not in PARSER_NAMES:
                raise _bad_template(f"el tipo «{fm.parser}» del campo «{fm.field}» no existe "
                                    f"(use {', '.join(PARSER_NAMES)})")
            if fm.header is not None and fm.position is not None:
                raise _bad_template(f"el campo «{fm.field}» tiene encabezado y posición; use uno solo")
            if fm.header is not None and not self.header_row:
                raise _bad_template(f"el campo «{fm.field}» se busca por encabezado pero la plantilla "
                                    "no tiene fila de encabezados")
            if fm.header is None and fm.position is None and fm.default is None:
                raise _bad_template(f"el campo «{fm.field}» no tiene columna ni valor por defecto")
            why = validate_rules(fm.field, fm.rules)
            if why:
                raise _bad_template(why)
            if fm.position is not None:
                try:
                    column_index(fm.position)
                except (ValueError, TypeError):
                    raise _bad_template(f"la posición «{fm.position}» del campo «{fm.field}» no es "
                                        "válida (use A, B, ... o un número desde 1)") from None
        why = validate_checks(self.checks, seen)
        if why:
            raise _bad_template(why)
        if self.header_row is not None and (not isinstance(self.header_row, int) or self.header_row < 0):
            raise _bad_template("la fila de encabezados debe ser un número desde 1")
        try:
            make_parser("decimal", decimal_separator=self.decimal_separator,
                        thousands_separator=self.thousands_separator)
        except ValueError:
            raise _bad_template("los separadores decimal y de miles no son válidos o son iguales") from None
        for fm in self.fields:
            for f in fm.date_formats or self.date_formats:
                try:
                    make_parser("date", date_formats=[f])
                except ValueError:
                    raise _bad_template(f"el formato de fecha «{f}» no es válido") from None
        if self.declared_totals:
            for name in self.declared_totals.fields:
                if name not in seen:
                    raise _bad_template(f"«declared_totals» usa el campo desconocido «{name}»")
            try:
                Decimal(self.declared_totals.tolerance)
                for v in self.declared_totals.expected.values():
                    Decimal(str(v))
            except InvalidOperation:
                raise _bad_template("los totales esperados deben ser números") from None


def _bad_template(msg: str) -> ImportFileError:
    return ImportFileError("invalid_template", f"Plantilla no válida: {msg}.")


@dataclass(slots=True)
class MappedRow:
    row_number: int
    values: dict
    errors: list
    raw: tuple = ()

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class MapStats:
    rows_read: int = 0            # rows after the header, including empty/footer rows
    data_rows: int = 0            # rows yielded
    empty_rows: int = 0           # skipped
    footer_rows: list = field(default_factory=list)   # row numbers of TOTAL rows (skipped)
    subtotal_rows: list = field(default_factory=list)  # row numbers of subtotal rows inside the data (skipped)
    error_rows: int = 0
    error_count: int = 0
    computed_totals: dict = field(default_factory=dict)   # field -> Decimal sum over valid values
    declared_totals: dict = field(default_factory=dict)   # field -> Decimal declared
    file_errors: list = field(default_factory=list)       # RowError not tied to one data row
    warnings: list = field(default_factory=list)          # Spanish strings
    aborted: bool = False          # stopped at Template.max_errors
    finished: bool = False

    @property
    def ok(self) -> bool:
        return self.finished and not self.aborted and not self.error_rows and not self.file_errors


def open_for_template(path_or_fileobj: Any, filename: str | None, template: Template,
                      member: str | None = None, **open_kwargs: Any) -> RowSource:
    """``open_rows`` with the template's sheet/encoding/delimiter (``open_kwargs``: e.g.
    ``max_workbook_bytes``).

    When the template names a sheet the workbook does not have (operators rename it every month: «Detalle
    Sep-26», «Detalle Oct-26»), the one visible worksheet whose header row holds all the template's headers is
    read instead (the mapper then warns which sheet it read); with none or several, the error stands."""
    def _open(sheet):
        if hasattr(path_or_fileobj, "seek"):
            path_or_fileobj.seek(0)
        return open_rows(path_or_fileobj, filename, sheet=sheet, encoding=template.encoding,
                         delimiter=template.delimiter, member=member, **open_kwargs)

    try:
        return _open(template.sheet)
    except ImportFileError as e:
        if e.code != "sheet_not_found" or not isinstance(template.sheet, str):
            raise
        if not template.header_row or not any(fm.header for fm in template.fields):
            raise
        first = _open(None)
        try:
            names = list(first.visible_sheets)
        finally:
            first.close()
        matches = []
        for name in names:
            src = _open(name)
            try:
                header = None
                for header in src:
                    if src.row_number >= template.header_row:
                        break
                if header is not None and src.row_number == template.header_row and template.holds_headers(header):
                    matches.append(name)
            finally:
                src.close()
        if len(matches) != 1:
            raise
        return _open(matches[0])


HEADER_SEARCH_ROWS = 10  # how far from the template's header row a moved header is looked for


class _Replay:
    """A row source that first gives back rows already read (by the header search), then the rest."""

    def __init__(self, source: RowSource, rows: list[tuple[int, tuple]]):
        self._source, self._rows = source, rows[::-1]
        self.row_number = source.row_number

    def __iter__(self) -> "_Replay":
        return self

    def __next__(self) -> tuple:
        if self._rows:
            self.row_number, row = self._rows.pop()
            return row
        row = next(self._source)
        self.row_number = self._source.row_number
        return row

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)


class _Slow(Exception):
    """Internal: the generated fast path hands the row to the general (error-collecting) path."""


def _compile_fast(plan: list, spreadsheet: bool) -> Callable[[tuple], dict]:
    """Generate ``fast(row) -> values`` for the template (straight-line code, no per-field loop).

    It succeeds for clean rows; on any problem (an empty required cell, a short row, a parse
    error) it raises and the caller re-maps the row with the general path, which collects every
    error with its message. Generated once per RowMapper from field indexes and parser objects
    only (no user text is placed in the source).
    """
    env: dict[str, Any] = {"_Slow": _Slow, "_D": Decimal, "_HU": ROUND_HALF_UP}
    lines = ["def fast(row):"]
    items = []
    required = []
    for i, p in enumerate(plan):
        if p.idx is None:
            env[f"D{i}"] = p.default
            items.append(f"D{i}")
            continue
        env[f"P{i}"] = p.parse
        env[f"S{i}"] = p.parse.for_str
        env[f"D{i}"] = p.default
        # Text with only a maximum length: the check inline (the parser raises past it).
        max_len = getattr(p.parse, "max_length", None) if not getattr(p.parse, "zfill", None) else None
        on_str = f"S{i}(v{i})" if max_len is None else f"(v{i} if len(v{i}) <= {int(max_len)} else S{i}(v{i}))"
        inline = getattr(p.parse, "inline", None)
        if inline is not None and inline[1] != 0:
            # A decimal's for_str inlined (a function call less per cell): the memo, then plain digits with
            # at most one decimal separator (and exactly `places` decimals: nothing to round), else for_str.
            dec, places, cache, size, quant = inline
            env[f"C{i}"], env[f"G{i}"] = cache, cache.get
            to_dot = ".replace(',', '.')" if dec == "," else ""
            exact = f" and v{i}[-{places + 1}:-{places}] == {dec!r}" if places else ""
            parsed = f"_D(v{i}{to_dot})"
            on_str = (f"(r{i} if (r{i} := G{i}(v{i})) is not None else "
                      f"(({parsed} if len(C{i}) >= {int(size)} else C{i}.setdefault(v{i}, {parsed})) "
                      f"if (u{i} := v{i}.replace({dec!r}, '', 1)).isdigit() and u{i}.isascii(){exact} else S{i}(v{i})))")
        if spreadsheet:
            lines.append(f"    c{i} = row[{p.idx}]")
            lines.append(f"    v{i} = c{i}.strip() if c{i}.__class__ is str else c{i}")
            empty = f'v{i} == ""'
            if p.parse.for_str is None:
                conv = f"(v{i} if v{i}.__class__ is str else P{i}(v{i}))"
            elif inline is not None:
                # A finite float (a spreadsheet number) as the parser takes it: Decimal of its shortest repr,
                # rounded half-up to the column's places.
                env[f"Q{i}"] = inline[4]
                num = f"_D(repr(v{i}))" + (f".quantize(Q{i}, _HU)" if inline[4] is not None else "")
                conv = (f"({on_str} if (k{i} := v{i}.__class__) is str else "
                        f"({num} if k{i} is float and v{i} - v{i} == 0.0 else P{i}(v{i})))")
            else:
                conv = f"({on_str} if v{i}.__class__ is str else P{i}(v{i}))"
        else:
            lines.append(f"    v{i} = row[{p.idx}].strip()")
            empty = f"not v{i}"
            conv = f"v{i}" if p.parse.for_str is None else on_str
        if p.required and p.default is None:
            required.append(empty)
            items.append(conv)
        else:
            items.append(f"(D{i} if {empty} else {conv})")
    if required:
        lines.append(f"    if {' or '.join(required)}:")
        lines.append("        raise _Slow")
    names = [p.name for p in plan]
    env["NAMES"] = names
    lines.append("    return {" + ", ".join(f"NAMES[{i}]: {it}" for i, it in enumerate(items)) + "}")
    code = "\n".join(lines)
    exec(compile(code, "<tabular-fast-path>", "exec"), env)  # noqa: S102 - generated from indexes only
    return env["fast"]


def _blank_cells(row: tuple) -> bool:
    """True when every cell is empty or whitespace-only text (spreadsheet rows)."""
    for c in row:
        if c.__class__ is not str or c.strip():
            return False
    return True


class _Plan:
    __slots__ = ("name", "idx", "parse", "required", "default", "col", "label", "identity")


class RowMapper:
    """Iterator of :class:`MappedRow`; see :func:`map_rows`."""

    def __init__(self, source: RowSource, template: Template, *, strict_columns: bool = True,
                 period: str | None = None):
        template.validate()
        self.period = period  # "YYYY-MM": the period the rules' ``period_days`` refer to
        self.source = source
        self.template = template
        self.stats = MapStats()
        self.header: list[str] = []
        self.missing_columns: list[str] = []
        self.available_columns: list[str] = []
        self._spreadsheet = source.file_type != "csv"
        # ``take(row, row_number) -> bool``, set before iterating: a consumer that takes a clean data row whole (it
        # is then counted as a data row and not yielded; False: the row is mapped and yielded as usual). Empty,
        # footer and subtotal rows never reach it. Its caller answers for its results being the mapped row's. With
        # declared totals, ``take.totals()`` gives the sums (field -> Decimal) of the rows it took, added at the end.
        self.take: Callable[[tuple, int], bool] | None = None
        self._read_header(strict_columns)
        self._compile()
        self._it = self._run()

    # -- header --------------------------------------------------------------------------------
    def _read_header(self, strict: bool) -> None:
        t = self.template
        self._col_of: dict[str, int | None] = {}
        if t.header_row:
            row = None
            seen: list[tuple[int, tuple]] = []  # rows read so far (the header may have moved, see _moved_header)
            for row in self.source:
                seen.append((self.source.row_number, row))
                if self.source.row_number >= t.header_row:
                    break
            else:
                row = None
            if row is None or self.source.row_number < t.header_row:
                raise ImportFileError(
                    "header_row_missing",
                    f"El archivo termina antes de la fila de encabezados ({t.header_row}).", row=t.header_row)
            row = self._moved_header(seen, row)
            self.header = ["" if c is None else (str(int(c)) if isinstance(c, float) and c.is_integer() else str(c)).strip()
                           for c in row]
            while self.header and not self.header[-1]:
                self.header.pop()
            if not self.header:
                raise ImportFileError(
                    "header_row_missing",
                    f"La fila de encabezados ({t.header_row}) está vacía. Revise el número de fila de "
                    "encabezados de la plantilla o la hoja seleccionada.", row=t.header_row)
            index: dict[str, int] = {}
            for i, h in enumerate(self.header):
                k = normalize_header(h)
                if not k:
                    continue
                if k in index:
                    if any(normalize_header(fm.header) == k for fm in t.fields if fm.header):
                        self.stats.warnings.append(
                            f"El encabezado «{h}» aparece en las columnas {column_letter(index[k])} y "
                            f"{column_letter(i)}; se usa la columna {column_letter(index[k])}.")
                    continue
                index[k] = i
            self.available_columns = [h for h in self.header if h]
            read = self.source.sheet_name
            if isinstance(t.sheet, str) and read and read.strip().casefold() != t.sheet.strip().casefold():
                self.stats.warnings.append(
                    f"El libro no tiene la hoja «{t.sheet}» de la plantilla; se leyó la hoja «{read}», que tiene "
                    "sus encabezados.")
            for fm in t.fields:
                if fm.header is not None:
                    i = index.get(normalize_header(fm.header))
                    if i is None:
                        self.missing_columns.append(fm.header)
                    self._col_of[fm.field] = i
            if self.missing_columns and strict:
                raise ImportFileError(
                    "missing_columns",
                    f"Faltan columnas en el encabezado (fila {t.header_row}): "
                    + ", ".join(f"«{m}»" for m in self.missing_columns)
                    + ". Columnas disponibles: " + ", ".join(f"«{a}»" for a in self.available_columns) + ".",
                    row=t.header_row, missing=self.missing_columns, available=self.available_columns)
        for fm in t.fields:
            if fm.position is not None:
                self._col_of[fm.field] = column_index(fm.position)

    def _moved_header(self, seen: list[tuple[int, tuple]], row: tuple) -> tuple:
        """The header row: the template's, or — when that row lacks the template's headers and one of the
        `HEADER_SEARCH_ROWS` rows above or below has them all (a title line more or less than last month) —
        that row, with a warning. Rows read past the header are given back to the mapper (`_Replay`)."""
        t = self.template
        if not any(fm.header for fm in t.fields) or t.holds_headers(row):
            return row
        at = len(seen) - 1
        for _ in range(HEADER_SEARCH_ROWS):
            nxt = next(self.source, None)
            if nxt is None:
                break
            seen.append((self.source.row_number, nxt))
        order = sorted(range(len(seen)), key=lambda i: (abs(i - at), i))
        found = next((i for i in order if i != at and seen[i][0] >= t.header_row - HEADER_SEARCH_ROWS
                      and t.holds_headers(seen[i][1])), None)
        if found is None:
            self.source = _Replay(self.source, seen[at + 1:])
            return row
        rn, header = seen[found]
        self.source = _Replay(self.source, seen[found + 1:])
        self.stats.warnings.append(
            f"Los encabezados de la plantilla están en la fila {rn} y no en la fila {t.header_row}; "
            f"se leyeron los datos desde la fila {rn + 1}.")
        return header

    def _compile(self) -> None:
        t = self.template
        self._plan: list[_Plan] = []
        for fm in t.fields:
            p = _Plan()
            p.name = fm.field
            p.idx = self._col_of.get(fm.field)
            p.parse = make_parser(
                fm.parser, decimal_separator=t.decimal_separator, thousands_separator=t.thousands_separator,
                places=fm.decimal_places, date_formats=fm.date_formats or t.date_formats,
                excel_serial=t.excel_serial_dates, zfill=fm.zfill, max_length=fm.max_length)
            p.identity = fm.parser == "text" and not fm.zfill and fm.max_length is None
            p.required = fm.required
            p.col = column_letter(p.idx) if p.idx is not None else None
            hdr = self.header[p.idx] if (p.idx is not None and p.idx < len(self.header)) else ""
            p.label = f"«{fm.label or fm.field}»" + (f" (columna {p.col}" + (f" «{hdr}»" if hdr else "") + ")" if p.col else "")
            default = fm.default
            if isinstance(default, str) and default.strip():
                try:
                    default = p.parse(default.strip())
                except CellError as e:
                    raise _bad_template(f"el valor por defecto de «{fm.field}» no es válido: {e.message_es}") from None
            elif isinstance(default, str):
                default = None
            p.default = default
            self._plan.append(p)
        checkers = []
        for p, fm in zip(self._plan, t.fields):
            c = compile_field_rules(p.name, p.label, p.col, fm.rules, period=self.period)
            if c is not None:
                checkers.append((p.name, c))
        cross = compile_checks(t.checks, {p.name: (p.col, p.label) for p in self._plan})
        self._checker = self._make_checker(checkers, cross) if (checkers or cross) else None
        quick = compile_quick({fm.field: fm.rules for fm in t.fields if fm.rules}, t.checks, period=self.period)
        self._quick = (lambda values: False) if (self._checker is not None and quick is None) else quick
        # footer detection
        self._footer_labels = frozenset(normalize_header(x) for x in t.footer_labels if x)
        self._footer_initials = frozenset(x[0] for x in self._footer_labels) | frozenset(
            x[0].upper() for x in self._footer_labels) | frozenset("sS")  # subtotal rows too
        if t.footer_label_column is not None:
            self._footer_cols = (column_index(t.footer_label_column),)
        else:
            self._footer_cols = (0, 1, 2, 3)
        dt = t.declared_totals
        self._sum_fields = set(dt.fields if dt else []) | {fm.field for fm in t.fields if fm.sum_total}
        for name in self._sum_fields:
            self.stats.computed_totals[name] = Decimal(0)
        # merged cells: row0 -> list of (first_col0, last_col0, anchor (r0, c0), range text). Read when first needed
        # without fill_merged (an empty cell's message): a big sheet's merged ranges may still be on their way
        # (readers._StreamSheetRowSource).
        self._merged: dict[int, list] | None = None
        self._anchor_values: dict[tuple, Any] = {}
        if t.fill_merged:
            self._merged_rows()

    def _merged_rows(self) -> dict[int, list]:
        if self._merged is None:
            self._merged = {}
            ranges = self.source.merged_ranges or []
            if ranges and len(ranges) <= 100_000:
                for (r1, c1), (r2, c2) in ranges:
                    text = f"{column_letter(c1)}{r1 + 1}:{column_letter(c2)}{r2 + 1}"
                    for r in range(r1, r2 + 1):
                        self._merged.setdefault(r, []).append((c1, c2, (r1, c1), text))
        return self._merged

    @staticmethod
    def _make_checker(checkers: list, cross: Callable | None) -> Callable[[dict, int, set], list]:
        """One function for a row's rules: each field's (non-empty values) then the cross-field checks
        (skipped when a field they use already failed)."""
        def check(values: dict, rn: int, failed: set) -> list:
            out = []
            for name, c in checkers:
                v = values[name]
                if v is not None and name not in failed:
                    out += c(v, rn)
            if cross is not None and not failed:
                out += cross(values, rn)
            return out
        return check

    def header_of(self, column: str | None) -> str:
        """The header text of a column letter ("" when unknown)."""
        if not column:
            return ""
        try:
            i = column_index(column)
        except ValueError:
            return ""
        return self.header[i] if i < len(self.header) else ""

    # -- iteration -----------------------------------------------------------------------------
    def __iter__(self) -> Iterator[MappedRow]:
        # The generator itself: a for loop then resumes it directly (no Python-level __next__ per row).
        return self._it

    def __next__(self) -> MappedRow:
        return next(self._it)

    def _is_footer(self, row: tuple) -> int:
        """1: a footer ("TOTAL") row, the first non-empty cell among the label columns is a footer label;
        2: a subtotal row (that cell starts with «Subtotal» or «Total ...», `SUBTOTAL_PREFIXES`); 0: neither."""
        initials = self._footer_initials
        n = len(row)
        for i in self._footer_cols:
            if i >= n:
                break
            c = row[i]
            if c.__class__ is str:
                c = c.strip()
                if not c:
                    continue
                if c[0] in initials:
                    label = normalize_header(c)
                    if label in self._footer_labels:
                        return 1
                    if is_subtotal(label, row, i):
                        return 2
            return 0  # only the first non-empty cell is a label candidate
        return 0

    def _run(self) -> Iterator[MappedRow]:
        src = self.source
        stats = self.stats
        t = self.template
        max_errors = t.max_errors
        sums = self.stats.computed_totals
        sum_fields = tuple(self._sum_fields)
        merged = self._merged if t.fill_merged else None
        fill_merged = bool(merged)
        footer_check = bool(self._footer_labels)
        footer_first_cell = t.footer_label_column is None
        initials = self._footer_initials
        is_footer = self._is_footer
        spreadsheet = self._spreadsheet
        far = 1 << 30
        # Flat tuples: attribute lookups cost more than the work in the hot loop.
        plan = [(p.name, far if p.idx is None else p.idx, p.parse, p.parse.for_str,
                 p.required and p.default is None, p.default, p) for p in self._plan]
        fast = _compile_fast(self._plan, spreadsheet)
        checker = self._checker
        quick = self._quick
        no_failed: frozenset = frozenset()
        take = self.take
        footer_row: tuple | None = None
        footer_num = 0
        for row in src:
            stats.rows_read += 1
            rn = src.row_number
            if fill_merged and rn - 1 in merged:
                row = self._apply_merged(rn - 1, row)
            # Empty row? CSV cells are all str (a first cell with text settles it without joining the row);
            # spreadsheet cells may be numbers, dates, bools.
            if spreadsheet:
                if _blank_cells(row):
                    stats.empty_rows += 1
                    continue
            elif not row or ((c0 := row[0]).isspace() or not c0) and not "".join(row).strip():
                stats.empty_rows += 1
                continue
            n = len(row)
            if footer_check:
                c = row[0]
                if footer_first_cell and (c.__class__ is not str or (c and c[0] not in initials and c[0] != " ")):
                    pass  # the label cell would be the first one: not a footer
                elif kind := is_footer(row):
                    if kind == 2:
                        stats.subtotal_rows.append(rn)
                        continue
                    stats.footer_rows.append(rn)
                    footer_row, footer_num = row, rn
                    continue
            if take is not None and take(row, rn):
                stats.data_rows += 1
                continue
            try:
                values = fast(row)
            except Exception:
                pass
            else:
                problems = None
                if checker is not None:
                    try:
                        passed = quick(values)
                    except Exception:  # noqa: BLE001 - e.g. a number bound on a date: the detailed check says it
                        passed = False
                    if not passed:
                        problems = checker(values, rn, no_failed)
                if not problems:
                    stats.data_rows += 1
                    for name in sum_fields:
                        x = values[name]
                        if x is not None:
                            sums[name] += x
                    yield MappedRow(rn, values, [], row)
                    continue
            values = {}
            errors: list | None = None
            for name, idx, parse, sparse, req, default, p in plan:
                v = row[idx] if idx < n else ""
                try:
                    if v.__class__ is str:
                        v = v.strip()
                        if not v:
                            if req:
                                if errors is None:
                                    errors = []
                                errors.append(RowError(rn, p.col, name, "", self._empty_message(p, rn),
                                                       "required"))
                            values[name] = default
                        elif sparse is None:
                            values[name] = v
                        else:
                            values[name] = sparse(v)
                    else:
                        values[name] = parse(v)
                except CellError as e:
                    if errors is None:
                        errors = []
                    errors.append(RowError(rn, p.col, name, v, f"Fila {rn}, {p.label}: {e.message_es}.", e.code))
                    values[name] = None
            if checker is not None:
                problems = checker(values, rn, {e.field for e in errors} if errors else no_failed)
                if problems:
                    errors = (errors or []) + problems
            stats.data_rows += 1
            if errors:
                stats.error_rows += 1
                stats.error_count += len(errors)
                yield MappedRow(rn, values, errors, row)
                if max_errors is not None and stats.error_rows >= max_errors:
                    stats.aborted = True
                    stats.warnings.append(
                        f"Se detuvo la lectura en la fila {rn}: se alcanzó el máximo de {max_errors} filas "
                        "con errores.")
                    return
                continue
            for name in sum_fields:
                x = values[name]
                if x is not None:
                    sums[name] += x
            yield MappedRow(rn, values, [], row)
        if take is not None and sum_fields:
            for name, x in take.totals().items():
                sums[name] += x
        self._check_totals(footer_row, footer_num)
        stats.finished = True

    def _apply_merged(self, r0: int, row: tuple) -> tuple:
        """fill_merged: copy each merged range's top-left value into the cells it covers."""
        out = None
        for c1, c2, anchor, _text in self._merged[r0]:
            if anchor[0] == r0 and c1 < len(row):
                self._anchor_values[anchor] = row[c1]
            val = self._anchor_values.get(anchor, "")
            for c in range(c1, c2 + 1):
                if (r0, c) == anchor:
                    continue
                if out is None:
                    out = list(row)
                if c >= len(out):
                    out.extend([""] * (c + 1 - len(out)))
                out[c] = val
        return tuple(out) if out is not None else row

    def _empty_message(self, p: _Plan, rn: int) -> str:
        if p.idx is None:  # preview with a missing column
            return f"Fila {rn}, {p.label}: el campo es obligatorio y falta su columna en el archivo."
        base = f"Fila {rn}, {p.label}: el campo es obligatorio y la celda está vacía"
        if p.idx is not None:
            for c1, c2, anchor, text in self._merged_rows().get(rn - 1, ()):
                if c1 <= p.idx <= c2 and anchor != (rn - 1, p.idx):
                    return (base + f". La celda forma parte de las celdas combinadas {text}: solo la primera "
                            "celda guarda el valor. Descombine las celdas y repita el valor en cada fila.")
        if self._spreadsheet:
            return (base + " (si tiene una fórmula, el archivo se guardó sin el resultado calculado o la "
                    "fórmula da error como #N/A o #¡DIV/0!; ábralo en Excel, corrija y guarde de nuevo).")
        return base + "."

    def _check_totals(self, footer_row: tuple | None, footer_num: int) -> None:
        dt = self.template.declared_totals
        stats = self.stats
        if not dt:
            return
        tol = Decimal(dt.tolerance)
        plan = {p.name: p for p in self._plan}
        for name in dt.fields:
            p = plan[name]
            declared = None
            where = ""
            if dt.from_footer and footer_row is not None and p.idx is not None and p.idx < len(footer_row):
                v = footer_row[p.idx]
                if v.__class__ is str:
                    v = v.strip()
                if v not in ("", None):
                    try:
                        declared = Decimal(p.parse(v))
                        where = f"en la fila de totales {footer_num}"
                    except (CellError, InvalidOperation, TypeError) as e:
                        stats.file_errors.append(RowError(
                            footer_num, p.col, name, v,
                            f"Fila {footer_num} (totales), {p.label}: {getattr(e, 'message_es', e)}.", "invalid_total"))
                        continue
            if declared is None and name in dt.expected:
                declared = Decimal(str(dt.expected[name]))
                where = "por el usuario"
            if declared is None:
                stats.file_errors.append(RowError(
                    None, p.col, name, None,
                    f"No se encontró el total declarado de {p.label} (no hay fila «TOTAL» con ese valor).",
                    "total_missing"))
                continue
            stats.declared_totals[name] = declared
            computed = stats.computed_totals.get(name, Decimal(0))
            if abs(computed - declared) > tol:
                stats.file_errors.append(RowError(
                    footer_num or None, p.col, name, str(declared),
                    f"La suma de {p.label} en las filas sin errores es {computed} y el total declarado "
                    f"{where} es {declared} (diferencia {computed - declared}).", "total_mismatch"))
        if dt.expected_rows is not None and dt.expected_rows != stats.data_rows:
            stats.file_errors.append(RowError(
                None, None, None, dt.expected_rows,
                f"El archivo tiene {stats.data_rows} filas de datos y se esperaban {dt.expected_rows}.",
                "row_count_mismatch"))


def map_rows(row_source: RowSource, template: Template, *, strict_columns: bool = True,
             period: str | None = None) -> RowMapper:
    """Map a RowSource with a template. Reads the header immediately (raising ImportFileError
    ``missing_columns`` when mapped headers are absent, unless ``strict_columns=False``); then
    iterate the returned :class:`RowMapper` for :class:`MappedRow` items."""
    return RowMapper(row_source, template, strict_columns=strict_columns, period=period)


@dataclass
class PreviewResult:
    rows: list                      # MappedRow, at most `limit`
    errors: list                    # RowError of those rows (flattened)
    header: list                    # header cells as text ([] when the template has no header row)
    missing_columns: list           # mapped headers not found
    available_columns: list = field(default_factory=list)
    sheet_name: str | None = None
    sheet_names: list = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None
    total_rows_estimate: int | None = None
    stats: MapStats | None = None
    warnings: list = field(default_factory=list)


def preview(path: Any, filename: str | None, template: Template, limit: int = 50,
            member: str | None = None, *, limits: Limits | None = None, period: str | None = None) -> PreviewResult:
    """First ``limit`` data rows mapped with ``template`` (missing columns are reported, not raised).
    File-level problems (corrupt, encrypted, wrong sheet, ``limits`` exceeded...) raise ImportFileError.
    ``limits``: see ``open_rows`` (default ``DEFAULT_LIMITS``; ``PREVIEW_LIMITS`` refuses big files early)."""
    src = open_for_template(path, filename, template, member=member, limits=limits)
    try:
        mapper = RowMapper(src, template, strict_columns=False, period=period)
        rows: list[MappedRow] = []
        for mr in mapper:
            rows.append(mr)
            if len(rows) >= limit:
                break
        errs = [e for r in rows for e in r.errors] + list(mapper.stats.file_errors)
        return PreviewResult(
            rows=rows, errors=errs, header=mapper.header, missing_columns=mapper.missing_columns,
            available_columns=mapper.available_columns, sheet_name=src.sheet_name,
            sheet_names=src.sheet_names, encoding=src.encoding, delimiter=src.delimiter,
            total_rows_estimate=src.total_rows_estimate, stats=mapper.stats,
            warnings=list(mapper.stats.warnings))
    finally:
        src.close()
