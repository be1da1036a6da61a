"""Cell parsers, compiled once per template field (no per-cell regex on the hot path).

Each ``make_*`` returns a function ``parse(value) -> python value`` that raises :class:`CellError`
(with a Spanish message) when the value cannot be converted. Parsers receive values that are
already known to be non-empty; strings arrive stripped. Each parser also has ``parse.for_str``:
the same conversion specialised for (stripped, non-empty) strings — the CSV hot path — or
``None`` when strings are kept as they are (plain text fields).
"""

from __future__ import annotations

import datetime as _dt
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable

__all__ = ["CellError", "PARSER_NAMES", "make_parser", "make_text", "make_integer", "make_decimal",
           "make_date", "make_date_range", "make_period", "make_boolean", "make_phone", "excel_serial_to_date",
           "compile_date_format"]

PARSER_NAMES = ("text", "integer", "decimal", "percent", "date", "date_range", "period", "boolean", "phone")
_EXCEL_EPOCH = _dt.date(1899, 12, 30)
_EXCEL_EPOCH_PRE_1900_03 = _dt.date(1899, 12, 31)  # serials < 61 (Excel's fictitious 1900-02-29)
_CURRENCY = ("COL$", "MX$", "US$", "COP", "MXN", "USD", "EUR", "$", "€")
_SPACES = " \u00a0\u202f\u2007\t"
_DASHES = frozenset({"-", "\u2013", "\u2014"})  # a number cell that is only a dash (and a currency sign) is zero
# What may follow a date in its cell: a time of day as spreadsheets and exports write it («2026-09-30T00:00:00»,
# «30/09/2026 12:00:00 a. m.», «30/09/2026 23:59 -05:00»). Anything else after a date («01/08/2026 - 31/08/2026»)
# makes the cell no date: read as one, it would silently drop the rest.
TIME_PART = r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:\s*[ap]\.?\s?m\.?)?(?:\s*(?:z|utc|[+-]\d{2}(?::?\d{2})?))?"
_TIME_PART = re.compile(TIME_PART, re.I)
_EXCEL_ERRORS = frozenset({"#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!",
                           "#¡DIV/0!", "#N/D", "#¿NOMBRE?", "#¡NULO!", "#¡NUM!", "#¡REF!", "#¡VALOR!",
                           "#GETTING_DATA", "#SPILL!", "#CALC!"})


class CellError(ValueError):
    def __init__(self, message_es: str, code: str = "invalid_value"):
        super().__init__(message_es)
        self.message_es = message_es
        self.code = code


def _excel_error(v: str) -> CellError | None:
    if v and v[0] == "#" and v.upper() in _EXCEL_ERRORS:
        return CellError(f"la celda contiene un error de fórmula de Excel ({v}); corrija la fórmula",
                         "formula_error")
    return None


def _kind_es(v: Any) -> str:
    if isinstance(v, bool):
        return "un valor lógico (VERDADERO/FALSO)"
    if isinstance(v, _dt.datetime):
        return "una fecha y hora"
    if isinstance(v, _dt.date):
        return "una fecha"
    if isinstance(v, (_dt.time, _dt.timedelta)):
        return "una hora o duración"
    return "un valor no reconocido"


def _memo(fn: Callable[[str], Any], size: int = 4096) -> Callable[[str], Any]:
    """Bounded memo for parsers with immutable results (dates, periods, Decimals, ints).

    Billing files repeat a few distinct dates, periods, tariffs and rates over millions of rows.
    The cache keeps the first ``size`` distinct strings and then stops growing (no eviction churn
    when a column is all-distinct, e.g. amounts: a miss then costs one dict lookup). Errors are
    not cached.
    """
    cache: dict = {}
    get = cache.get

    def memo(s: str) -> Any:
        r = get(s)
        if r is None:
            r = fn(s)
            if len(cache) < size:
                cache[s] = r
        return r
    return memo


# ---------------------------------------------------------------------------------------- text ---

def _float_text(v: float) -> str:
    if v.is_integer():
        return str(int(v))
    return format(Decimal(repr(v)), "f")


def make_text(*, zfill: int | None = None, max_length: int | None = None) -> Callable[[Any], str]:
    """Text: strings kept as typed (leading zeros kept, outer spaces stripped).

    Numeric spreadsheet cells become their plain digits (``123.0`` -> ``"123"``): Excel already
    dropped leading zeros of numbers typed into a General cell; ``zfill`` pads them back
    (e.g. account codes of fixed width).
    """
    def parse(v: Any) -> str:
        cls = v.__class__
        if cls is str:
            s = v
        elif cls is float:
            s = _float_text(v)
        elif cls is int:
            s = str(v)
        elif cls is bool:
            s = "VERDADERO" if v else "FALSO"
        elif isinstance(v, (_dt.date, _dt.time)):
            s = v.isoformat()
        else:
            s = str(v)
        if zfill and len(s) < zfill and s.isdigit():
            s = s.zfill(zfill)
        if max_length is not None and len(s) > max_length:
            raise CellError(f"el texto tiene {len(s)} caracteres; el máximo es {max_length}", "too_long")
        return s
    parse.for_str = None if (not zfill and max_length is None) else parse  # None: strings kept as they are
    parse.zfill, parse.max_length = zfill, max_length  # lets the mapper's generated code inline the length check
    return parse


# ------------------------------------------------------------------------------------- numbers ---

def make_decimal(decimal_separator: str = ",", thousands_separator: str = ".",
                 places: int | None = None, percent: bool = False) -> Callable[[Any], Decimal]:
    """Decimal numbers written with the given separators.

    Accepted (with ``decimal=","`` and ``thousands="."``): ``1234,5``, ``1.234.567,89``,
    ``$ 1.234,50``, ``-1.000``, ``-$1.000``, ``(1.000)`` (negative), ``1.000-`` (trailing minus), ``COP 5.000``,
    ``1 234,50`` (spaces, also no-break ones, grouping the thousands).
    Thousands groups must be of three digits; a separator that does not belong to the configured
    format (``1,234.56`` with decimal ``,``) is an error rather than a silent misreading.
    Spreadsheet numbers (float/int) are taken as they are (float via its shortest repr).
    A lone dash, with or without a currency sign (``$ -``, ``-``), is zero: the accounting format of Excel and
    LibreOffice writes zero so, and a CSV saved from such a sheet keeps the text.
    ``places`` rounds half-up to that many decimals. ``percent``: a rate in percentage points, written with or
    without its sign (``19 %``, ``19%``, ``19``: 19).

    >>> make_decimal(percent=True)("19 %"), make_decimal(percent=True)("5,5%"), make_decimal(percent=True)("19")
    (Decimal('19'), Decimal('5.5'), Decimal('19'))
    >>> make_decimal(places=2)("$ -"), make_decimal()("-")
    (Decimal('0.00'), Decimal('0'))
    """
    dec = decimal_separator
    th = thousands_separator or ""
    if th in (" ", "\u00a0", "\u202f"):
        th = " "
    if dec not in (",", "."):
        raise ValueError("decimal_separator must be ',' or '.'")
    if th == dec or th not in ("", ".", ",", " ", "'"):
        raise ValueError("thousands_separator must be '', '.', ',', ' ' or \"'\" and differ from the decimal one")
    other = "." if dec == "," else ","  # a separator that is invalid unless it is the thousands one
    quant = Decimal(1).scaleb(-places) if places is not None else None
    digits = frozenset("0123456789")
    allowed_first = frozenset("0123456789-+")
    th_k = [th * k for k in range(8)]
    th_space = th == " "  # spaces of several kinds: always take the clean-up path
    fmt_es = f"separador decimal «{dec}»" + (f" y de miles «{th}»" if th else "")

    def bad(s: str, why: str = "") -> CellError:
        return CellError(f"«{s}» no es un número válido ({why or 'se esperaba ' + fmt_es})", "invalid_number")

    def clean(s: str) -> tuple[str, bool]:
        # Slow path: currency symbols, spaces, parentheses, signs in odd places.
        t = s.upper()
        for sym in _CURRENCY:
            if sym in t:
                t = t.replace(sym, "")
        neg = False
        t = t.strip(_SPACES)
        if t in _DASHES:  # «$ -», «-»: zero as a spreadsheet's accounting format writes it
            return "0", False
        if percent and t.endswith("%"):
            t = t[:-1].rstrip(_SPACES)
        if t.startswith("(") and t.endswith(")"):
            neg, t = True, t[1:-1].strip(_SPACES)
        if (neg or t.endswith("-")) and t[:1] in "-+" or neg and t[-1:] in "-+":
            return t, neg  # "(-1)", "-1-": two signs, refused by the caller
        if t.endswith("-"):
            neg, t = not neg, t[:-1].strip(_SPACES)
        if t.startswith("-"):
            neg, t = not neg, t[1:].strip(_SPACES)
        elif t.startswith("+"):
            t = t[1:].strip(_SPACES)
        for sym in _CURRENCY:  # "-$ 1.000"
            if t.startswith(sym):
                t = t[len(sym):].strip(_SPACES)
        if th == " ":
            for sp in _SPACES:
                t = t.replace(sp, " ")
        elif th and th not in t and any(sp in t for sp in _SPACES):
            # "1 234,50": spaces (also Excel's no-break ones) group the thousands; the grouping is checked below
            for sp in _SPACES:
                t = t.replace(sp, th)
        return t, neg

    def parse_str(s: str, slow: bool = False) -> Decimal:
        # Hot path: plain numbers ("1234,5", "1.234.567,89", "-12") skip all the clean-up.
        t = s
        neg = False
        c0 = t[0]
        hot = not slow and c0 in allowed_first and t[-1] in digits and " " not in t and not th_space
        if hot:
            if c0 == "-":
                neg, t = True, t[1:]
            elif c0 == "+":
                t = t[1:]
        else:
            err = _excel_error(t)
            if err:
                raise err
            t, neg = clean(t)
            if not t or t[0] in "+-":  # nothing left, or a second sign ("--1")
                raise bad(s)
        if th and th in t:
            ip, sep, fp = t.partition(dec)
            # Valid grouping d{1,3}(<th>ddd)*: the separators sit exactly at positions -4, -8, ...
            # and the first group is not empty (len % 4 != 0). String ops only, no regex.
            k = ip.count(th)
            if len(ip) % 4 == 0 or ip[-4::-4] != (th_k[k] if k < 8 else th * k):
                raise bad(s, f"los grupos de miles deben ser de tres dígitos; se esperaba {fmt_es}")
            t = ip.replace(th, "") + "." + fp if sep else ip.replace(th, "")
        elif other in t:  # a "." or "," that is neither the decimal nor the thousands separator
            raise bad(s)
        elif dec == ",":
            t = t.replace(",", ".")
        u = t.replace(".", "", 1)
        if not (u.isdigit() and u.isascii()):
            if hot:  # "-$1.000", a no-break space...: what the hot path does not clean
                return parse_str(s, True)
            raise bad(s)
        d = Decimal(t)
        if neg:
            d = -d
        if quant is not None:
            dot = t.find(".")
            if dot < 0 or len(t) - dot - 1 != places:  # already at the right exponent: skip
                d = d.quantize(quant, rounding=ROUND_HALF_UP)
        return d

    def parse(v: Any) -> Decimal:
        cls = v.__class__
        if cls is str:
            return parse_str(v)
        if cls is float:
            if v - v != 0.0:  # NaN or an infinity
                raise CellError("el número no es finito", "invalid_number")
            d = Decimal(repr(v))
        elif cls is int:
            d = Decimal(v)
        elif cls is Decimal:
            d = v
        else:
            raise CellError(f"se esperaba un número y la celda tiene {_kind_es(v)}", "invalid_number")
        if quant is not None:
            d = d.quantize(quant, rounding=ROUND_HALF_UP)
        return d
    cache: dict = {}
    get = cache.get
    size = 4096
    to_dot = dec == ","
    _D = Decimal

    def for_str(s: str) -> Decimal:
        # _memo(parse_str) with the commonest cell inlined (one call per cell): digits with at most one
        # decimal separator, e.g. "1234,56" -- always valid, needs no clean-up.
        r = get(s)
        if r is not None:
            return r
        u = s.replace(dec, "", 1)
        if u.isdigit() and u.isascii():
            t = s.replace(",", ".") if to_dot else s
            r = _D(t)
            if quant is not None:
                dot = t.find(".")
                if dot < 0 or len(t) - dot - 1 != places:
                    r = r.quantize(quant, rounding=ROUND_HALF_UP)
        else:
            r = parse_str(s)
        if len(cache) < size:
            cache[s] = r
        return r
    parse.for_str = for_str
    # For the mapper's generated code (`mapping._compile_fast`), which inlines for_str's commonest case.
    parse.inline = (dec, places, cache, size, quant)
    return parse


def make_integer(decimal_separator: str = ",", thousands_separator: str = ".") -> Callable[[Any], int]:
    """Whole numbers: ``"007"`` -> 7, ``"1.234"`` -> 1234 (thousands ``.``), ``12.0`` (float) -> 12."""
    as_decimal = make_decimal(decimal_separator, thousands_separator)

    def parse_str(v: str) -> int:
        if v.isdigit() and v.isascii():
            return int(v)
        return parse(v)
    for_str = _memo(parse_str)

    def parse(v: Any) -> int:
        cls = v.__class__
        if cls is str:
            if v.isdigit() and v.isascii():
                return int(v)
            d = as_decimal(v)
        elif cls is int:
            return v
        elif cls is float:
            if v.is_integer():
                return int(v)
            raise CellError(f"«{_float_text(v)}» no es un número entero", "invalid_integer")
        else:
            d = as_decimal(v)
        if d != d.to_integral_value():
            raise CellError(f"«{v}» no es un número entero", "invalid_integer")
        return int(d)
    parse.for_str = for_str
    return parse


# --------------------------------------------------------------------------------------- dates ---

def excel_serial_to_date(n: float) -> _dt.date:
    """Excel 1900 date system serial -> date (1 = 1900-01-01; handles the fictitious 1900-02-29)."""
    if not 1 <= n < 2958466:
        raise CellError(f"«{n}» no es un número de fecha de Excel válido", "invalid_date")
    days = int(n)
    if days < 60:
        return _EXCEL_EPOCH_PRE_1900_03 + _dt.timedelta(days=days)
    if days == 60:
        raise CellError("la fecha 29/02/1900 no existe", "invalid_date")
    return _EXCEL_EPOCH + _dt.timedelta(days=days)


_TOKENS = (("yyyy", "Y"), ("aaaa", "Y"), ("yy", "y"), ("aa", "y"), ("mm", "m"), ("dd", "d"),
           ("m", "m"), ("d", "d"))


def compile_date_format(fmt: str) -> Callable[[str], _dt.date]:
    """Compile ``dd/mm/yyyy``-style (or ``%d/%m/%Y``-style) formats into a fast splitter.

    Supported fast forms: three fields d, m, Y/y in any order separated by one of ``/ - .``
    or no separator (``yyyymmdd``, ``ddmmyyyy``). A time of day after a space or ``T`` is ignored (`TIME_PART`);
    any other text after the date is refused. Anything else falls back to ``datetime.strptime``.

    >>> p = compile_date_format("dd/mm/yyyy")
    >>> p("30/09/2026 12:00:00 a. m."), compile_date_format("yyyy-mm-dd")("2026-09-30T00:00:00.000Z")
    (datetime.date(2026, 9, 30), datetime.date(2026, 9, 30))
    >>> p("01/08/2026 - 31/08/2026")
    Traceback (most recent call last):
    ...
    ValueError: 01/08/2026 - 31/08/2026
    """
    f = fmt.strip()
    pf = f.replace("%d", "dd").replace("%m", "mm").replace("%Y", "yyyy").replace("%y", "yy")
    if "mmm" in pf.lower():
        return _month_name_date(pf.lower())
    if "%" not in pf:
        low = pf.lower()
        order: list[str] = []
        seps: set[str] = set()
        i = 0
        widths: list[int] = []
        while i < len(low):
            for tok, kind in _TOKENS:
                if low.startswith(tok, i):
                    order.append(kind)
                    widths.append(len(tok))
                    i += len(tok)
                    break
            else:
                seps.add(low[i])
                i += 1
        if sorted(o.lower() for o in order) == ["d", "m", "y"] and len(seps) <= 1 and seps <= {"/", "-", "."}:
            sep = seps.pop() if seps else ""
            return _fast_date(order, sep, widths)
    strp = f if "%" in f else None
    if strp is None:
        raise ValueError(f"unsupported date format {fmt!r}")

    def parse_strptime(s: str) -> _dt.date:
        return _dt.datetime.strptime(s, strp).date()
    return parse_strptime


# Month names as people and spreadsheets write them: Spanish (es-CO, es-MX) and English, full or abbreviated.
MONTH_NAMES = {name: k for k, names in enumerate((
    ("ene", "enero", "jan", "january"), ("feb", "febrero", "february"), ("mar", "marzo", "march"),
    ("abr", "abril", "apr", "april"), ("may", "mayo"), ("jun", "junio", "june"), ("jul", "julio", "july"),
    ("ago", "agosto", "aug", "august"), ("sep", "sept", "set", "septiembre", "setiembre", "september"),
    ("oct", "octubre", "october"), ("nov", "noviembre", "november"), ("dic", "diciembre", "dec", "december")),
    start=1) for name in names}


def _month_name_date(fmt: str) -> Callable[[str], _dt.date]:
    """A format with the month as a name (``mmm``: ``dd-mmm-yyyy``, ``mmm dd yyyy``, ``dd de mmmm de yyyy``...):
    day, month and year in the format's order, separated by any of ``/ - .`` or spaces, with an optional «de»;
    the month in Spanish or English, full or abbreviated, any case, with or without a final dot.

    >>> p = _month_name_date("dd-mmm-yyyy")
    >>> p("31-oct-2026"), p("31/Oct/2026"), p("5 de octubre de 2026"), p("05-SEPT.-2026")
    (datetime.date(2026, 10, 31), datetime.date(2026, 10, 31), datetime.date(2026, 10, 5), datetime.date(2026, 9, 5))
    >>> _month_name_date("mmm dd yy")("Dec 1 26"), _month_name_date("dd de mmmm de aaaa")("1 de enero de 2027")
    (datetime.date(2026, 12, 1), datetime.date(2027, 1, 1))
    """
    kinds = re.findall(r"y+|a{2,}|m+|d+", re.sub(r"\bde\b", " ", fmt))
    order = ["Y" if k[0] in "ya" and len(k) >= 4 else "y" if k[0] in "ya" else "m" if k[0] == "m" else "d"
             for k in kinds]
    if sorted(o.lower() for o in order) != ["d", "m", "y"]:
        raise ValueError(f"unsupported date format {fmt!r}")
    iy, im, id_ = order.index("Y") if "Y" in order else order.index("y"), order.index("m"), order.index("d")
    two_digit_year = "y" in order
    split = re.compile(r"(?:[\s/.\-]+(?:de\s+)?)").split

    def parse(s: str) -> _dt.date:
        parts = [p for p in split(s.strip().lower()) if p]
        if len(parts) == 4 and parts[3][:2].isdigit() and ":" in parts[3]:
            parts = parts[:3]  # a time after the date
        if len(parts) != 3:
            raise ValueError(s)
        y, name, d = parts[iy], parts[im], parts[id_]
        month = MONTH_NAMES.get(name)
        if month is None or not (y.isdigit() and d.isdigit()) or len(d) > 2 or len(y) != (2 if two_digit_year else 4):
            raise ValueError(s)
        year = int(y) + ((2000 if int(y) < 70 else 1900) if two_digit_year else 0)
        return _dt.date(year, month, int(d))
    return parse


def _fast_date(order: list[str], sep: str, widths: list[int]) -> Callable[[str], _dt.date]:
    iy, im, id_ = order.index("Y") if "Y" in order else order.index("y"), order.index("m"), order.index("d")
    two_digit_year = "y" in order

    def parse(s: str) -> _dt.date:
        cut = s.find(" ")
        if cut < 0:
            cut = s.find("T")
        if cut > 0:
            if not _TIME_PART.fullmatch(s[cut + 1:].strip()):
                raise ValueError(s)
            s = s[:cut]
        if sep:
            parts = s.split(sep)
        else:
            if len(s) != sum(widths):
                raise ValueError(s)
            parts, p = [], 0
            for w in widths:
                parts.append(s[p:p + w])
                p += w
        if len(parts) != 3:
            raise ValueError(s)
        y, m, d = parts[iy], parts[im], parts[id_]
        if not (y.isdigit() and m.isdigit() and d.isdigit()) or len(d) > 2 or len(m) > 2:
            raise ValueError(s)
        year = int(y)
        if two_digit_year:
            if len(y) != 2:
                raise ValueError(s)
            year += 2000 if year < 70 else 1900
        elif len(y) != 4:
            raise ValueError(s)
        return _dt.date(year, int(m), int(d))
    return parse


def make_date(formats: list[str] | tuple[str, ...] = ("dd/mm/yyyy", "yyyy-mm-dd"),
              excel_serial: bool = True) -> Callable[[Any], _dt.date]:
    """Dates: strings in the given formats (first that fits wins), spreadsheet dates/datetimes
    (time dropped) and, when ``excel_serial``, Excel serial numbers in numeric cells."""
    compiled = [compile_date_format(f) for f in formats]
    shown = " o ".join(formats)

    def parse_str(v: str) -> _dt.date:
        for fn in compiled:
            try:
                return fn(v)
            except ValueError:
                continue
        err = _excel_error(v)
        if err:
            raise err
        if excel_serial and v.isdigit() and len(v) <= 5:
            return excel_serial_to_date(int(v))
        raise CellError(f"«{v}» no es una fecha válida (formato esperado: {shown})", "invalid_date")

    for_str = _memo(parse_str)

    def parse(v: Any) -> _dt.date:
        cls = v.__class__
        if cls is str:
            return for_str(v)
        if cls is _dt.date:
            return v
        if cls is _dt.datetime:
            return v.date()
        if (cls is float or cls is int) and excel_serial:
            return excel_serial_to_date(v)
        raise CellError(f"se esperaba una fecha y la celda tiene {_kind_es(v)}", "invalid_date")
    parse.for_str = for_str
    return parse


# Between the two dates of a period written in one cell: a dash with spaces around it (a date may hold dashes), an
# en or em dash, «al», «a», «hasta» or «to»; before the first, an optional «del», «de» or «desde».
_RANGE_JOINS = re.compile(r"\s+-\s+|\s*[\u2013\u2014]\s*|\s+(?:al|a|hasta|to)\s+|(?<=\d)-(?=\d{1,2}/)", re.I)
_RANGE_LEAD = re.compile(r"^(?:del|de|desde)\s+", re.I)


def split_date_range(s: str) -> list[tuple[str, str]]:
    """The ways a cell can be cut into a first and a last date (the texts; none when there is no joining word).

    >>> split_date_range("del 01/08/2026 al 31/08/2026"), split_date_range("01/08/2026-31/08/2026")
    ([('01/08/2026', '31/08/2026')], [('01/08/2026', '31/08/2026')])
    >>> split_date_range("2026-08-01 - 2026-08-31"), split_date_range("31/08/2026")
    ([('2026-08-01', '2026-08-31')], [])
    """
    s = _RANGE_LEAD.sub("", s.strip())
    return [(s[:m.start()].strip(), s[m.end():].strip()) for m in _RANGE_JOINS.finditer(s)
            if s[:m.start()].strip() and s[m.end():].strip()]


def make_date_range(formats: list[str] | tuple[str, ...] = ("dd/mm/yyyy", "yyyy-mm-dd")) -> Callable[[Any], tuple]:
    """A period written in one cell, «01/08/2026 - 31/08/2026» («del 1-ago-2026 al 31-ago-2026», «01/08/2026 a
    31/08/2026»...): ``(first, last)`` dates, each in one of the ``formats``; a last date before the first is refused.

    >>> r = make_date_range()
    >>> r("01/08/2026 - 31/08/2026")
    (datetime.date(2026, 8, 1), datetime.date(2026, 8, 31))
    >>> r("31/08/2026 - 01/08/2026")
    Traceback (most recent call last):
    ...
    facturador.tabular.parsers.CellError: el periodo «31/08/2026 - 01/08/2026» termina antes de empezar
    """
    date = make_date(formats, excel_serial=False).for_str
    shown = " o ".join(formats)

    def parse_str(v: str) -> tuple:
        for first, last in split_date_range(v):
            try:
                got = date(first), date(last)
            except CellError:
                continue
            if got[1] < got[0]:
                raise CellError(f"el periodo «{v}» termina antes de empezar", "invalid_date_range")
            return got
        err = _excel_error(v)
        if err:
            raise err
        raise CellError(f"«{v}» no es un periodo de fechas (se esperaba la fecha inicial y la final, "
                        f"p. ej. «01/08/2026 - 31/08/2026», en formato {shown})", "invalid_date_range")

    for_str = _memo(parse_str)

    def parse(v: Any) -> tuple:
        if v.__class__ is str:
            return for_str(v)
        raise CellError(f"se esperaba un periodo de fechas («01/08/2026 - 31/08/2026») y la celda tiene {_kind_es(v)}",
                        "invalid_date_range")
    parse.for_str = for_str
    return parse


def make_period() -> Callable[[Any], str]:
    """Billing period as ``"YYYY-MM"``: accepts ``2026-01``, ``2026/1``, ``202601``, ``01/2026``,
    ``1-2026``, dates/datetimes and numeric cells like ``202601``."""
    def out(y: int, m: int, src: Any) -> str:
        if not (1900 <= y <= 2999 and 1 <= m <= 12):
            raise CellError(f"«{src}» no es un periodo válido (AAAA-MM)", "invalid_period")
        return f"{y:04d}-{m:02d}"

    def parse_str(v: str) -> str:
        for sep in ("-", "/", "."):
            if sep in v:
                a, _, b = v.partition(sep)
                a, b = a.strip(), b.strip()
                if a.isdigit() and b.isdigit():
                    if len(a) == 4 and len(b) <= 2:
                        return out(int(a), int(b), v)
                    if len(b) == 4 and len(a) <= 2:
                        return out(int(b), int(a), v)
                break
        if v.isdigit() and len(v) == 6:
            return out(int(v[:4]), int(v[4:]), v)
        raise CellError(f"«{v}» no es un periodo válido (AAAA-MM)", "invalid_period")

    for_str = _memo(parse_str)

    def parse(v: Any) -> str:
        cls = v.__class__
        if cls is str:
            return for_str(v)
        if isinstance(v, _dt.date):
            return f"{v.year:04d}-{v.month:02d}"
        if (cls is float and v.is_integer()) or cls is int:
            n = int(v)
            return out(n // 100, n % 100, v)
        raise CellError(f"se esperaba un periodo AAAA-MM y la celda tiene {_kind_es(v)}", "invalid_period")
    parse.for_str = for_str
    return parse


_TRUE = frozenset({"si", "sí", "s", "x", "1", "true", "verdadero", "v", "yes", "y"})
_FALSE = frozenset({"no", "n", "0", "false", "falso", "f"})


def make_boolean() -> Callable[[Any], bool]:
    def parse(v: Any) -> bool:
        cls = v.__class__
        if cls is bool:
            return v
        if cls is str:
            k = v.casefold()
            if k in _TRUE:
                return True
            if k in _FALSE:
                return False
        elif (cls is int or cls is float) and v in (0, 1):
            return bool(v)
        raise CellError(f"«{v}» no es un valor sí/no", "invalid_boolean")
    parse.for_str = parse
    return parse


_PHONE_JUNK = str.maketrans("", "", " -().\u00a0/")


def make_phone() -> Callable[[Any], str]:
    """A Colombian phone line as its 10 national digits: mobile ``3xx xxx xxxx`` or fixed
    ``60`` + area digit + 7 digits (the 2021 national numbering plan). Spaces, dashes, dots,
    parentheses and a ``+57``/``57`` prefix are dropped; numeric cells are read as their digits.

    >>> p = make_phone()
    >>> p("310 555 1234"), p("+57 (601) 555-1234"), p(3105551234.0)
    ('3105551234', '6015551234', '3105551234')
    >>> p("31055512")
    Traceback (most recent call last):
    ...
    facturador.tabular.parsers.CellError: «31055512» no es una línea telefónica colombiana válida (tiene 8 dígitos; se esperaban 10: celular 3xxxxxxxxx o fijo 60 + indicativo + 7 dígitos)
    """
    def parse(v: Any) -> str:
        cls = v.__class__
        if cls is float and v.is_integer():
            s = str(int(v))
        elif cls is int:
            s = str(v)
        else:
            s = str(v).translate(_PHONE_JUNK)
        if s.startswith("+"):
            s = s[1:]
        if len(s) == 12 and s.startswith("57"):
            s = s[2:]
        if not (s.isdigit() and s.isascii()):
            raise CellError(f"«{v}» no es una línea telefónica (solo se admiten dígitos)", "phone_invalid")
        if len(s) != 10:
            raise CellError(f"«{v}» no es una línea telefónica colombiana válida (tiene {len(s)} dígitos; se "
                            "esperaban 10: celular 3xxxxxxxxx o fijo 60 + indicativo + 7 dígitos)", "phone_invalid")
        if s[0] == "3" or (s.startswith("60") and s[2] in "12345678"):
            return s
        raise CellError(f"«{v}» no es una línea telefónica colombiana válida (un celular empieza por 3 y un fijo "
                        "por 60 + indicativo)", "phone_invalid")
    memo = _memo(parse)

    def for_str(v: str) -> str:
        # Hot path: a clean mobile line (most of a telecom file, and distinct on each row: no memo).
        if len(v) == 10 and v[0] == "3" and v.isdigit() and v.isascii():
            return v
        return memo(v)
    parse.for_str = for_str
    return parse


def make_parser(kind: str, *, decimal_separator: str = ",", thousands_separator: str = ".",
                places: int | None = None, date_formats: list[str] | tuple[str, ...] = ("dd/mm/yyyy", "yyyy-mm-dd"),
                excel_serial: bool = True, zfill: int | None = None,
                max_length: int | None = None) -> Callable[[Any], Any]:
    if kind == "text":
        return make_text(zfill=zfill, max_length=max_length)
    if kind == "integer":
        return make_integer(decimal_separator, thousands_separator)
    if kind == "decimal":
        return make_decimal(decimal_separator, thousands_separator, places)
    if kind == "percent":
        return make_decimal(decimal_separator, thousands_separator, places, percent=True)
    if kind == "date":
        return make_date(date_formats, excel_serial)
    if kind == "date_range":
        return make_date_range(date_formats)
    if kind == "period":
        return make_period()
    if kind == "boolean":
        return make_boolean()
    if kind == "phone":
        return make_phone()
    raise ValueError(f"unknown parser {kind!r}")
