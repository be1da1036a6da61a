"""Template proposals from a sample of the file (no Django): where the data is, and what each column is.

The caller gives the target fields it knows as a catalog of :class:`FieldSpec` (name, Spanish label,
parser, header synonyms, default rules) and a :class:`Sample` of the file's first rows
(:func:`read_sample`; run it in a child process for untrusted files: ``tabular.isolated.sample_isolated``).
:func:`suggest` then

* finds the header row, even below title rows and merged cells (the row with most text cells that
  name catalog fields, followed by data), and a totals row ("TOTAL", "Totales"...);
* guesses the file's decimal/thousands separators ("1.234,50" / "1,234.50" / "$ 6.200") and date formats;
* gives each column a kind from its values (number, integer, date, phone, text) and proposes a field
  (header synonyms, accents and case ignored, checked against the kind), a parser and rules; columns no
  catalog field fits become typed extra attributes ``extra.<header>`` (or are left out).

``Suggestion.template()`` is a ``Template.to_dict()``-shaped dict the caller may edit and store.

>>> catalog = [FieldSpec("reference", "Cuenta", synonyms=("cuenta", "referencia"), required=True),
...            FieldSpec("minutes", "Minutos", "decimal", ("minutos", "min"), rules={"non_negative": True}),
...            FieldSpec("amount", "Valor total", "decimal", ("valor total", "total"))]
>>> rows = [["Detalle de consumo", None, None], ["Periodo 2026-10", None, None], [None, None, None],
...         ["Cuenta", "Minutos", "Valor Total"], ["00123", 10, "$ 1.234,50"], ["00124", 5, "6.200"],
...         ["TOTAL", 15, "7.434,50"]]
>>> s = suggest(Sample.from_rows(rows), catalog)
>>> s.header_row, s.totals_row, s.decimal_separator, s.thousands_separator
(4, 7, ',', '.')
>>> [(c.letter, c.header, c.field, c.parser) for c in s.columns]
[('A', 'Cuenta', 'reference', 'text'), ('B', 'Minutos', 'minutes', 'decimal'), ('C', 'Valor Total', 'amount', 'decimal')]
>>> s.template()["fields"][1]
{'field': 'minutes', 'label': 'Minutos', 'header': 'Minutos', 'parser': 'decimal', 'required': False, 'rules': {'non_negative': True}}
>>> s.template()["declared_totals"]
{'fields': ['minutes', 'amount'], 'from_footer': True, 'tolerance': '1'}
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import asdict, dataclass, field as _field
from typing import Any, Iterable

from .errors import column_letter
from .limits import Limits
from .mapping import DEFAULT_FOOTER_LABELS, is_subtotal, normalize_header, only_label_has_words
from .parsers import TIME_PART, CellError, compile_date_format, make_decimal, make_phone, split_date_range
from .readers import open_rows

__all__ = ["FieldSpec", "Sample", "ColumnProposal", "Suggestion", "read_sample", "suggest", "header_key"]

SCAN_ROWS = 30          # rows searched for the header
SAMPLE_ROWS = 60        # rows read by read_sample
KIND_SHARE = 0.6        # share of a column's values that decides its kind
_NUMBER_RX = re.compile(r"^[\s(+-]*(?:COP|COL\$|US\$|\$)?\s*[-+]?\d[\d.,' \u00a0]*\)?-?$", re.I)
_AND_TIME = r"(?:[ T]\s*" + TIME_PART + ")?$"  # a time of day may follow a date, nothing else
_DATE_RX = {fmt: re.compile(rx + _AND_TIME, re.I) for fmt, rx in (
    ("dd/mm/yyyy", r"^\d{1,2}/\d{1,2}/\d{4}"), ("dd-mm-yyyy", r"^\d{1,2}-\d{1,2}-\d{4}"),
    ("yyyy-mm-dd", r"^\d{4}-\d{1,2}-\d{1,2}"), ("yyyy/mm/dd", r"^\d{4}/\d{1,2}/\d{1,2}"),
    ("dd.mm.yyyy", r"^\d{1,2}\.\d{1,2}\.\d{4}"), ("dd/mm/yy", r"^\d{1,2}/\d{1,2}/\d{2}"),
    ("dd-mm-yy", r"^\d{1,2}-\d{1,2}-\d{2}"))}
# Day first (Colombia, Mexico) unless a sample proves the month first: each such format and its US twin.
_MONTH_FIRST = {"dd/mm/yyyy": "mm/dd/yyyy", "dd-mm-yyyy": "mm-dd-yyyy", "dd.mm.yyyy": "mm.dd.yyyy",
                "dd/mm/yy": "mm/dd/yy", "dd-mm-yy": "mm-dd-yy"}


class _MonthNameDate:
    """A date with its month as a name (31-oct-2026, 31/Oct/26, 5 de octubre de 2026): a `_DATE_RX` entry."""

    def __init__(self, fmt: str):
        self.parse = compile_date_format(fmt)

    def match(self, s: str) -> bool:
        try:
            self.parse(s)
        except ValueError:
            return False
        return True


_DATE_RX.update({"dd-mmm-yyyy": _MonthNameDate("dd-mmm-yyyy"), "dd-mmm-yy": _MonthNameDate("dd-mmm-yy")})
_FOOTER = frozenset(DEFAULT_FOOTER_LABELS)
_KINDS_OF_PARSER = {"text": None, "period": None, "boolean": None, "decimal": {"number", "integer"},
                    "percent": {"number", "integer"},
                    "integer": {"integer", "number"}, "date": {"date"}, "date_range": {"date_range"},
                    "phone": {"phone", "integer", "text"}}


def _is_date(s: str) -> bool:
    return any(rx.match(s) for rx in _DATE_RX.values())


def _date_range_sides(s: str) -> tuple[str, str] | None:
    """The first and last date of a period written in one cell («01/08/2026 - 31/08/2026»), or None."""
    return next(((a, b) for a, b in split_date_range(s) if _is_date(a) and _is_date(b)), None)


def header_key(value: Any) -> str:
    """Header comparison key for synonyms: :func:`normalize_header` with punctuation turned into spaces, and a
    percent sign into the word «porcentaje» (a «% IVA» column is the rate, not the «IVA» value).

    >>> header_key("  Datos (MB) "), header_key("Dirección:"), header_key("N° de línea"), header_key("% IVA")
    ('datos mb', 'direccion', 'n de linea', 'porcentaje iva')
    """
    s = normalize_header(value)
    s = re.sub(r"[^\w]+", " ", s.replace("°", " ").replace("º", " ").replace("%", " porcentaje "))
    return " ".join(s.split())


@dataclass(frozen=True)
class FieldSpec:
    """A target field the caller knows: ``name`` (stored in the template), ``label`` (Spanish, shown),
    the ``parser`` it wants, header ``synonyms`` (any case/accents; most specific first: when several columns name
    the field exactly, the one named by the label or the earliest synonym takes it), default ``rules``, ``required``, and
    extra mapping ``options`` (e.g. ``{"decimal_places": 2}``), and ``parser_by_kind`` to change the parser
    when the column's values are of a kind (``{"phone": "phone"}``)."""

    name: str
    label: str
    parser: str = "text"
    synonyms: tuple = ()
    rules: dict | None = None
    required: bool = False
    options: dict | None = None
    parser_by_kind: dict | None = None   # e.g. {"phone": "phone"}: a text field whose values are phone lines
    money: bool | None = None            # False: not an amount (a usage, a quantity), never for «Valor ...» headers
    other_units: tuple = ()              # header words that name another unit: «Datos (GB)» is no «Datos (MB)»

    def keys(self) -> list[str]:
        return [k for k in dict.fromkeys(header_key(s) for s in (self.label, self.name, *self.synonyms)) if k]


@dataclass
class Sample:
    """The first rows of a file as read (row number as the user sees it, cells) and where they come from."""

    rows: list                      # [(row_number, tuple of cells)], blank rows included
    sheet_name: str | None = None
    sheet_names: list = _field(default_factory=list)
    file_type: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    merged_ranges: list = _field(default_factory=list)

    @classmethod
    def from_rows(cls, rows: Iterable[Iterable[Any]], **kw: Any) -> "Sample":
        return cls(rows=[(i + 1, tuple("" if c is None else c for c in r)) for i, r in enumerate(rows)], **kw)


MAX_SHEETS_SAMPLED = 12  # read_sample's search for the data sheet looks at no more visible worksheets than this


def read_sample(path: Any, filename: str | None, *, sheet: str | int | None = None, rows: int = SAMPLE_ROWS,
                member: str | None = None, limits: Limits | None = None) -> Sample:
    """The first ``rows`` rows of the file (ImportFileError when it cannot be read). ``limits``: the file's
    limits as an import would check them (default ``DEFAULT_LIMITS``; ``PREVIEW_LIMITS`` refuses any sheet
    declaring more than 5,000 rows, although only the first rows are read).

    Without ``sheet``, a workbook with several visible worksheets is sampled from the one that looks most like
    a table (:func:`_table_score`: operators often put a cover or summary sheet first)."""
    if sheet is None:
        sheet = _data_sheet(path, filename, member, rows, limits)
    src = open_rows(path, filename, sheet=sheet, member=member, limits=limits)
    try:
        got = []
        for row in src:
            got.append((src.row_number, tuple(row)))
            if len(got) >= rows:
                break
        return Sample(rows=got, sheet_name=src.sheet_name, sheet_names=list(src.sheet_names or []),
                      file_type=src.file_type, encoding=src.encoding, delimiter=src.delimiter,
                      merged_ranges=[tuple(map(tuple, r)) for r in (src.merged_ranges or [])[:1000]])
    finally:
        src.close()


def _first_rows(src: Any, rows: int) -> list[tuple]:
    got = []
    for row in src:
        got.append(tuple(row))
        if len(got) >= rows:
            break
    return got


def _table_score(rows: list[tuple]) -> int:
    """How much of a table the rows hold: filled cells in rows with at least three of them (a title, a note or a
    label-value summary scores little)."""
    score = 0
    for row in rows:
        filled = sum(1 for c in row if _filled(c))
        if filled >= 3:
            score += filled
    return score


def _data_sheet(path: Any, filename: str | None, member: str | None, rows: int, limits: Limits | None):
    """The visible worksheet with the best :func:`_table_score` (the first on ties); None for a CSV or a workbook
    with one visible worksheet."""
    src = open_rows(path, filename, member=member, limits=limits)
    try:
        names = list(src.visible_sheets)
        if len(names) < 2:
            return None
        best, best_score = names[0], _table_score(_first_rows(src, rows))
    finally:
        src.close()
    for name in names[1:MAX_SHEETS_SAMPLED]:
        other = open_rows(path, filename, sheet=name, member=member, limits=limits)
        try:
            score = _table_score(_first_rows(other, rows))
        finally:
            other.close()
        if score > best_score:
            best, best_score = name, score
    return best


@dataclass
class ColumnProposal:
    index: int                      # 0-based
    letter: str
    header: str
    samples: list                   # up to 5 values as text
    kind: str                       # number, integer, date, phone, text, empty
    field: str | None = None        # proposed target field (None: not imported)
    label: str = ""
    parser: str = "text"
    rules: dict = _field(default_factory=dict)
    required: bool = False
    options: dict = _field(default_factory=dict)
    score: int = 0                  # how sure the header match is (0: by kind or extra)
    by_position: bool = False       # its header is in the row above the header row: mapped by its letter


@dataclass
class Suggestion:
    header_row: int
    totals_row: int | None
    columns: list
    sheet: str | None = None
    sheet_names: list = _field(default_factory=list)
    decimal_separator: str = ","
    thousands_separator: str = "."
    date_formats: list = _field(default_factory=lambda: ["dd/mm/yyyy", "yyyy-mm-dd"])
    footer_label: str | None = None
    checks: list = _field(default_factory=list)
    data_rows: list = _field(default_factory=list)   # [(row_number, cells)] after the header, totals excluded
    totals_cells: tuple = ()

    def template(self, *, name: str = "") -> dict:
        """The proposal as a template dict (``Template.from_dict`` accepts it)."""
        fields, numeric = [], []
        for c in self.columns:
            if not c.field:
                continue
            fd: dict = {"field": c.field, "label": c.label or c.header or c.field}
            if c.header and not c.by_position:
                fd["header"] = c.header
            else:
                fd["position"] = c.letter
            fd["parser"] = c.parser
            fd["required"] = c.required
            fd.update(c.options or {})
            if c.rules:
                fd["rules"] = dict(c.rules)
            fields.append(fd)
            if c.parser in ("decimal", "integer") and self.totals_row and c.field:
                numeric.append(c)
        out: dict = {"name": name, "sheet": self.sheet, "header_row": self.header_row,
                     "decimal_separator": self.decimal_separator, "thousands_separator": self.thousands_separator,
                     "date_formats": list(self.date_formats), "fields": fields}
        if self.footer_label and normalize_header(self.footer_label) not in _FOOTER:
            out["footer_labels"] = [*DEFAULT_FOOTER_LABELS, self.footer_label]
        if self.totals_row:
            totals = self.totals_cells
            summed = [c.field for c in numeric if c.index < len(totals) and _filled(totals[c.index])]
            if summed:
                out["declared_totals"] = {"fields": summed, "from_footer": True, "tolerance": "1"}
        mapped = {f["field"] for f in fields}
        checks, targets = [], set()
        for c in self.checks:  # the first applicable check per total (the list goes from most to least specific)
            if set(c["fields"]) | {c["equals"]} <= mapped and c["equals"] not in targets:
                checks.append(c)
                targets.add(c["equals"])
        if checks:
            out["checks"] = checks
        return out

    def to_dict(self) -> dict:
        return {"sheet": self.sheet, "sheet_names": self.sheet_names, "header_row": self.header_row,
                "totals_row": self.totals_row, "decimal_separator": self.decimal_separator,
                "thousands_separator": self.thousands_separator, "date_formats": self.date_formats,
                "columns": [asdict(c) for c in self.columns]}


def _filled(v: Any) -> bool:
    return v is not None and not (isinstance(v, str) and not v.strip())


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, _dt.datetime):
        return v.strftime("%d/%m/%Y") if not (v.hour or v.minute or v.second) else v.strftime("%d/%m/%Y %H:%M")
    if isinstance(v, _dt.date):
        return v.strftime("%d/%m/%Y")
    return str(v).strip()


SUBTOTAL = "\x00subtotal"  # `_is_footer`'s answer for a subtotal row inside the data (skipped)


def _is_footer(cells: tuple) -> str | None:
    for i, c in enumerate(cells[:4]):
        if not _filled(c):
            continue
        if isinstance(c, str):
            k = header_key(c)
            if k in _FOOTER or k.startswith("total ") and only_label_has_words(cells, i):
                return c.strip()  # «Total cuenta 0001» may be a subtotal: see `suggest`
            if is_subtotal(normalize_header(c), cells, i):
                return SUBTOTAL
        return None
    return None


def _header_score(cells: tuple, keys: dict) -> tuple[int, int]:
    filled = [c for c in cells if _filled(c)]
    texts = [c for c in filled if isinstance(c, str) and not _NUMBER_RX.match(c.strip())
             and not any(rx.match(c.strip()) for rx in _DATE_RX.values())]
    if len(texts) < 2 or len(texts) < 0.6 * len(filled):
        return 0, len(filled)
    matched = sum(1 for c in texts if _best_key(header_key(c), keys)[0] >= 60)
    return matched * 10 + len(texts), len(filled)


def _best_key(hk: str, keys: dict) -> tuple[int, str | None]:
    """(score, field) of the best synonym match of a header key: exact 100 to 130 (the field's label and its first
    synonyms score higher: «Total» is more surely the total than «Valor»), whole words 60 + length."""
    if not hk:
        return 0, None
    best, who = 0, None
    padded = f" {hk} "
    for name, ks in keys.items():
        for rank, k in enumerate(ks):
            if k == hk:
                s = 130 - min(rank, 30)
            elif f" {k} " in padded:
                s = 60 + min(len(k), 30)
            else:
                continue
            if s > best:
                best, who = s, name
    return best, who


def _separators(values: list[str]) -> tuple[str, str]:
    """Vote on the decimal separator from number-looking strings; Colombian default ``,`` / ``.``."""
    comma = dot = 0
    for v in values:
        t = re.sub(r"[^\d.,]", "", v)
        if "," in t and "." in t:
            if t.rfind(",") > t.rfind("."):
                comma += 2
            else:
                dot += 2
        elif "," in t:
            tail = t.rsplit(",", 1)[1]
            if len(tail) != 3 or t.count(",") == 1 and len(t.split(",")[0]) > 3:
                comma += 1
            else:
                dot += 1  # "1,234" / "1,234,567": thousands commas
        elif "." in t:
            tail = t.rsplit(".", 1)[1]
            if len(tail) != 3 or t.count(".") == 1 and len(t.split(".")[0]) > 3:
                dot += 1
            else:
                comma += 1  # "6.200": thousands dots
    return (".", ",") if dot > comma else (",", ".")


def _kind(values: list, decimal_sep: str, thousands_sep: str) -> str:
    if not values:
        return "empty"
    number = make_decimal(decimal_sep, thousands_sep)
    phone = make_phone()
    counts = {"date": 0, "date_range": 0, "number": 0, "integer": 0, "phone": 0}
    for v in values:
        if isinstance(v, bool):
            continue
        if isinstance(v, (_dt.date, _dt.datetime)):
            counts["date"] += 1
            continue
        if isinstance(v, str) and _is_date(v.strip()):
            counts["date"] += 1
            continue
        if isinstance(v, str) and _date_range_sides(v):
            counts["date_range"] += 1
            continue
        try:
            phone(v.strip() if isinstance(v, str) else v)
            counts["phone"] += 1
        except CellError:
            pass
        try:  # a rate's percent sign («19 %») does not make it text
            d = v if isinstance(v, (int, float)) else number(v.strip().removesuffix("%"))
        except (CellError, AttributeError):
            continue
        counts["number"] += 1
        if float(d).is_integer():
            counts["integer"] += 1
    n = len(values)
    if counts["date"] >= KIND_SHARE * n:
        return "date"
    if counts["date_range"] >= KIND_SHARE * n:
        return "date_range"
    if counts["phone"] >= KIND_SHARE * n:
        return "phone"
    if counts["integer"] >= KIND_SHARE * n and counts["integer"] == counts["number"]:
        return "integer"
    if counts["number"] >= KIND_SHARE * n:
        return "number"
    return "text"


def _date_formats(values: list) -> list[str]:
    """The date formats of the sample's text dates, in order of appearance. Day and month stay in the Colombian
    and Mexican order unless the sample proves the other (a second number above 12 and never a first one:
    an export in the US order, «10/31/2026»).

    >>> _date_formats(["10/31/2026", "01/02/2026", "31-oct-2026"]), _date_formats(["01/02/2026", "31/12/2026"])
    (['mm/dd/yyyy', 'dd-mmm-yyyy', 'yyyy-mm-dd'], ['dd/mm/yyyy', 'yyyy-mm-dd'])
    """
    seen = []
    day_first = month_first = False  # proven by a number above 12 in the first / second place
    texts = []
    for v in values:  # a period's two dates count as dates
        if isinstance(v, str):
            sides = _date_range_sides(v.strip())
            texts.extend(sides if sides else [v.strip()])
    for s in texts:
        for fmt, rx in _DATE_RX.items():
            if rx.match(s):
                if fmt not in seen:
                    seen.append(fmt)
                if fmt in _MONTH_FIRST:
                    first, second = (int(x) for x in re.split(r"[/.-]", s.split()[0].split("T")[0])[:2])
                    day_first |= first > 12
                    month_first |= second > 12
    if month_first and not day_first:
        seen = [_MONTH_FIRST.get(f, f) for f in seen]
    out = seen or ["dd/mm/yyyy"]
    if "yyyy-mm-dd" not in out:
        out.append("yyyy-mm-dd")
    return out


def _parser_for(kind: str) -> str:
    return {"number": "decimal", "integer": "integer", "date": "date"}.get(kind, "text")


# Spanish puts the head noun first: «Valor consumo» is a value (of the consumption), «Consumo kWh» a consumption.
MONEY_HEADS = frozenset({"valor", "vlr", "vr", "precio", "importe", "monto"})


def _money_header(hk: str) -> bool:
    """Whether a header key is led by a word for money («Valor consumo», «Vr. energía», «Importe»).

    >>> _money_header("valor consumo"), _money_header("consumo kwh"), _money_header("")
    (True, False, False)
    """
    return hk.split(" ", 1)[0] in MONEY_HEADS


def _compatible(spec: FieldSpec, kind: str) -> bool:
    accepted = _KINDS_OF_PARSER.get(spec.parser)
    return accepted is None or kind == "empty" or kind in accepted or (
        spec.parser in ("decimal", "integer") and kind == "text")  # 'N/A' among amounts: still the field


def suggest(sample: Sample, catalog: list[FieldSpec], *, extra: bool = True, extra_prefix: str = "extra.",
            checks: list | None = None, header_row: int | None = None) -> Suggestion:
    """Propose where the data is and a field, parser and rules for each column (see the module doc).

    ``extra``: columns no catalog field fits become ``extra_prefix + header key`` fields typed by their
    values (False: they are left out). ``checks``: cross-field checks (``Template.checks``), most specific
    first: the first one per ``equals`` field whose fields the template all maps is kept. ``header_row``
    (1-based, as the user sees it): use that row as the header instead of looking for it."""
    keys = {s.name: s.keys() for s in catalog}
    specs = {s.name: s for s in catalog}
    rows = sample.rows
    # 1. header row: best score among the first rows that have data below them
    best = (0, None)
    nonblank = [(rn, cells) for rn, cells in rows if any(_filled(c) for c in cells)]
    for i, (rn, cells) in enumerate(nonblank[:SCAN_ROWS]):
        score, n = _header_score(cells, keys)
        if not score:
            continue
        # data below: the fullest of the next three rows is half as wide (a row that names two or more catalog
        # fields only needs two filled cells below it: a register's first rows may leave optional cells empty)
        filled = max((sum(1 for c in r[1] if _filled(c)) for r in nonblank[i + 1:i + 4]), default=0)
        if filled < (2 if score >= 20 else max(2, n // 2)):
            continue
        if score > best[0]:
            best = (score, i)
    hi = best[1] if best[1] is not None else 0
    if header_row:
        hi = next((i for i, (rn, _c) in enumerate(nonblank) if rn >= header_row), hi)
    header_rn, header_cells = nonblank[hi] if nonblank else (1, ())
    header = [_text(c) for c in header_cells]
    # 2. data rows and the totals row
    data, totals_rn, totals_cells, footer_label = [], None, (), None
    after = nonblank[hi + 1:]
    for k, (rn, cells) in enumerate(after):
        label = _is_footer(cells)
        if label and label != SUBTOTAL and header_key(label) not in _FOOTER and any(
                not _is_footer(c) and sum(map(_filled, c)) >= 2 for _rn, c in after[k + 1:k + 6]):
            label = SUBTOTAL  # «Total cuenta 0001» with lines after it: a subtotal, not the file's totals
        if label == SUBTOTAL:
            continue
        if label:
            totals_rn, totals_cells, footer_label = rn, cells, label
            break
        data.append((rn, cells))
    width = max([len(header)] + [len(c) for _rn, c in data[:30]] or [0])
    while width and not header[width - 1:width] and not any(
            width - 1 < len(c) and _filled(c[width - 1]) for _rn, c in data):
        width -= 1
    header += [""] * (width - len(header))
    # Two header rows («Línea», «Cuenta» merged down over a row of sub-headers «Minutos», «SMS»...): a column
    # without a header takes the cell just above, and is then found by its position (its header row is the lower).
    above = dict(nonblank).get(header_rn - 1, ()) if hi > 0 else ()
    if sum(1 for c in above if isinstance(c, str) and c.strip()) < 2:
        above = ()  # a title line, not a header row
    by_position = set()
    for j in range(width):
        if not header[j] and j < len(above) and isinstance(above[j], str) and above[j].strip():
            header[j] = _text(above[j])
            by_position.add(j)
    # A header written in two columns («Valor», «Valor»): each is found by its letter (by its header, both would
    # read the first one).
    named: dict = {}
    for j, h in enumerate(header):
        if h:
            named.setdefault(normalize_header(h), []).append(j)
    by_position.update(j for cols in named.values() if len(cols) > 1 for j in cols)
    columns_values = [[cells[j] for _rn, cells in data if j < len(cells) and _filled(cells[j])] for j in range(width)]
    strings = [v for col in columns_values for v in col if isinstance(v, str) and _NUMBER_RX.match(v.strip())]
    dec, th = _separators(strings)
    date_formats = _date_formats([v for col in columns_values for v in col])
    # 3. each column: kind, then the best field by header synonyms (checked against the kind)
    cols = []
    for j in range(width):
        vals = columns_values[j][:40]
        cols.append(ColumnProposal(index=j, letter=column_letter(j), header=header[j], by_position=j in by_position,
                                   samples=[_text(v) for v in vals[:5]], kind=_kind(vals, dec, th)))
    pairs, other_unit = [], set()
    for c in cols:
        hk = header_key(c.header)
        money = _money_header(hk)
        words = hk.split(" ")
        scores = {name: _best_key(hk, {name: ks})[0] for name, ks in keys.items()}
        # «Consumo datos (GB)»: a usage the catalog keeps in another unit. No usage or quantity field takes it
        # («consumo» would make it a Cantidad): it is kept as an extra attribute, never mis-scaled.
        if any(spec.other_units and scores[n] and any(w in spec.other_units for w in words)
               for n, spec in specs.items()):
            other_unit.add(c.index)
        for order, name in enumerate(keys):
            score = scores[name]
            if (money or c.index in other_unit) and specs[name].money is False:
                continue  # «Valor consumo» is no consumption; «Datos (GB)» no Cantidad nor Datos (MB)
            if score and _compatible(specs[name], c.kind):
                pairs.append((score, c.index, order, name))
    pairs.sort()  # ties: the left column, then the field listed first in the catalog
    pairs.sort(key=lambda p: -p[0])
    taken_cols, taken_fields = set(), set()
    for score, j, _order, name in pairs:
        if j in taken_cols or name in taken_fields:
            continue
        taken_cols.add(j)
        taken_fields.add(name)
        spec, c = specs[name], cols[j]
        c.field, c.label, c.score, c.required = name, spec.label, score, spec.required
        c.parser = (spec.parser_by_kind or {}).get(c.kind, spec.parser)
        c.rules = dict(spec.rules or {})
        c.options = dict(spec.options or {})
    # A column whose header names no field but whose values can only be one: phone lines («MIN», as operators call
    # the mobile number) are the service line, a period in one cell («01/08/2026 - 31/08/2026») the usage period.
    for spec in catalog:
        by_kind = spec.parser_by_kind or {}
        kind = "phone" if "phone" in by_kind else "date_range" if spec.parser == "date_range" else None
        if spec.name in taken_fields or kind is None:
            continue
        c = next((c for c in cols if not c.field and c.kind == kind), None)
        if c is not None:
            taken_fields.add(spec.name)
            c.field, c.label, c.required, c.parser = spec.name, spec.label, spec.required, by_kind.get(kind, spec.parser)
            c.rules, c.options = dict(spec.rules or {}), dict(spec.options or {})
    used_extra = set()
    for c in cols:
        if c.field or not extra or c.kind == "empty":
            continue
        slug = header_key(c.header).replace(" ", "_") or c.letter.lower()
        name = extra_prefix + slug
        while name in used_extra:
            name += "_"
        used_extra.add(name)
        c.field, c.label, c.parser = name, c.header or c.letter, _parser_for(c.kind)
        if c.index in other_unit and c.kind in ("number", "integer"):
            c.parser, c.rules = "decimal", {"non_negative": True}  # a usage: typed, and never below zero
    out = Suggestion(header_row=header_rn, totals_row=totals_rn, columns=cols, sheet=sample.sheet_name,
                     sheet_names=list(sample.sheet_names), decimal_separator=dec, thousands_separator=th,
                     date_formats=date_formats, footer_label=footer_label, checks=list(checks or []), data_rows=data,
                     totals_cells=tuple(totals_cells))
    return out
