"""Clean rows straight to their charge's COPY text: the direct loader's hot path.

For a clean row, `pipeline._load` would build the mapper's dict of parsed values, check its rules, turn it into the
line and its typed tuple, and the loader would format those back into COPY text: about 11 µs of CPU per row of a
twelve-column telecom CSV (18 µs from an xlsx), which made the worker's one core the bound of the whole import.
`line_taker` generates, for a template whose fields and rules it knows, one function that takes such a row and
writes its COPY line directly (≈ 4 µs): the cell text itself where it already is what PostgreSQL reads
(``1234,56`` → ``1234.56``; a spreadsheet number's shortest repr), cents as integers for the amount total and the
net + taxes = total check, a memo per distinct date. Any row it is not sure of — an empty or odd cell, a value its
parser would refuse or round, a negative usage, a total that does not add up, a text to escape — it leaves to the
general path (it returns False), which then maps and reports that row as before. So it changes no result: for
every row it takes, the line is the one the general path would have loaded (`tests/test_fastlines.py` compares
both on varied rows of a CSV and of an xlsx).

Templates it does not cover (it returns None and every row takes the general path): a quantity or unit price
column, tax rates (their fraction fix), `extra.*` attributes, defaults, parsers other than text, phone, decimal,
integer and date, rules other than non-negative and days around the period, a duplicate key with a number.
"""

from __future__ import annotations

from decimal import Decimal

from facturador.imports import fields as line_fields
from facturador.imports import loading
from facturador.imports.staging import TYPED_BLANK, TYPED_COLUMNS, TYPED_ON_CHARGE
from facturador.tabular.parsers import CellError
from facturador.tabular.rules import period_bounds

# Targets, by what their COPY text is. Text: the line's own (reference, concept) and its typed text columns, with
# their length limits (a longer value is an error on the general path).
_TEXT = {"reference": line_fields.REFERENCE_MAX, "concept": line_fields.CONCEPT_MAX, **line_fields.TEXT_MAX}
# Numbers (amounts and usage) and the largest magnitude each column takes.
_NUMBER = {"amount": line_fields.MAX_AMOUNT,
           **{n: line_fields.NUM_MAX[n] for n in (*line_fields.MONEY, *line_fields.USAGE) if n != "amount"}}
_MONEY = line_fields.MONEY
_DATES = line_fields.DATES
_NULL = "\\N"
DATE_MEMO = 4096  # distinct dates remembered (a billing file has a handful)


class _Skip(Exception):
    """Internal: the row goes to the general path."""


def _number_text(parse, v: str) -> str:
    """A number's COPY text through its parser (thousands separators, signs, rounding to the column's places)."""
    text = str(parse(v))
    if "E" in text or "e" in text:  # exponent notation: let the general path decide
        raise _Skip
    return text


def _float_text(parse, v, places: int | None) -> str:
    """A spreadsheet number's COPY text: a float's shortest repr as the parser reads it (``Decimal(repr(v))``, padded
    to `places` decimals when it has no more: nothing to round); anything else through the parser."""
    if v.__class__ is float:
        r = repr(v)
        dot = r.find(".")
        if dot > 0 and "e" not in r:  # plain notation (not 1e-05, inf or nan)
            if places is None:
                return r
            d = len(r) - dot - 1
            if d <= places:
                return r + "0" * (places - d)
    return _number_text(parse, v)


def _date_memo(parse, bounds):
    """``get(v) -> (iso text, date)`` for a date cell, remembered per distinct text; `_Skip` when the parser refuses
    it or it falls outside `bounds` (the period's days rule)."""
    cache: dict = {}
    get = cache.get

    def date(v):
        got = get(v) if v.__class__ is str else None  # a cell's date or serial number: parsed each time
        if got is None:
            d = parse(v)
            if bounds is not None and not bounds[0] <= d <= bounds[1]:
                raise _Skip
            got = (d.isoformat(), d)
            if v.__class__ is str and len(cache) < DATE_MEMO:
                cache[v] = got
        return got
    return date


def line_taker(template, mapper, loader, key_fields: list[str], *, out: list, batch: int, flush, add_hash,
               add_line_hash):
    """``take(row, row_number) -> bool`` for `mapper.take` (see `tabular.mapping.RowMapper`), or None when the
    template is not covered (module docstring).

    A taken row's COPY line (the `loader`'s column layout: `loading.DirectLoader`) is appended to `out`, in file
    order among the general path's lines; `flush()` is called when `out` holds `batch` lines. Its duplicate
    key and service line are hashed as `pipeline._load` does (`add_hash`, `add_line_hash`). ``take.counts`` holds
    [lines taken, their amounts in cents].
    """
    t = template
    sheet = mapper.source.file_type != "csv"  # cells may be numbers and dates besides text
    plan = {p.name: p for p in mapper._plan}
    fms = {fm.field: fm for fm in t.fields}
    if "reference" not in fms or "amount" not in fms or fms["amount"].decimal_places != 2:
        return None
    for fm in t.fields:
        if fm.default is not None or plan[fm.field].idx is None:
            return None
        if fm.field in _DATES:
            if fm.parser != "date" or set(fm.rules or {}) - {"period_days"}:
                return None
        elif fm.field in _TEXT:
            if fm.parser not in ("text", "phone") or fm.rules:
                return None
        elif fm.field in _NUMBER:
            if fm.parser not in ("decimal", "integer") or set(fm.rules or {}) - {"non_negative"}:
                return None
        else:  # quantity, unit price, rates, extra attributes
            return None
    # Declared totals: the sums of what the rows taken say.
    summed = sorted(set(t.declared_totals.fields if t.declared_totals else []) |
                    {fm.field for fm in t.fields if fm.sum_total})
    if any(n not in _NUMBER for n in summed):
        return None
    # Money in cents (integers); other numbers (a TOTAL row often sums the minutes too) as Decimals of their text.
    in_cents = [n in _MONEY and fms[n].decimal_places == 2 for n in summed]
    money_cents = {n for n, cents in zip(summed, in_cents) if cents}
    tolerances = []
    for c in t.checks or []:
        names = [*c["fields"], c["equals"]]
        if c.get("kind", "sum") != "sum" or any(n not in _MONEY or fms[n].decimal_places != 2 for n in names):
            return None
        tol = Decimal(str(c.get("tolerance", "0"))) * 100
        if tol != tol.to_integral_value():
            return None
        money_cents.update(names)
        tolerances.append((c, int(tol)))
    for k in key_fields:
        if k not in ("reference", "concept", *_TEXT, *_DATES):
            return None

    dec = t.decimal_separator
    env: dict = {"_Skip": _Skip, "_num": _number_text, "_fnum": _float_text, "_D": Decimal, "NULL": _NULL,
                 "OUT": out.append, "OUTL": out, "FLUSH": flush, "BATCH": batch, "H": add_hash,
                 "HL": add_line_hash, "ACC": loader.accounts.get, "UNKNOWN": loader.unknown_reference, "COUNTS": [0, 0],
                 "SUMS": [0 if cents else Decimal(0) for cents in in_cents]}
    body: list[str] = []
    text_of: dict[str, str] = {}   # target -> expression of its COPY text
    value_of: dict[str, str] = {}  # target -> expression of its Python value (for the duplicate key)
    for k, fm in enumerate(t.fields):
        name, p = fm.field, plan[fm.field]
        v, x = f"v{k}", f"x{k}"
        env[f"P{k}"], env[f"Q{k}"] = p.parse.for_str or p.parse, p.parse  # for text cells, for any cell
        required = p.required or name in ("reference", "concept", "amount")
        after: list[str] = []  # checks of the converted value
        if name in _TEXT:
            limit = _TEXT[name]
            if fm.parser == "phone":  # a clean mobile line as it is; anything else through the parser
                conv = (f"{v} if len({v}) == 10 and {v}[0] == '3' and {v}.isdigit() and {v}.isascii() "
                        f"else P{k}({v})")
            elif fm.zfill:  # zero padding: the parser's
                conv = f"P{k}({v})"
            else:  # as it is, within the template's length limit too (the parser refuses longer text)
                conv = v
                if fm.max_length is not None:
                    limit = min(limit, fm.max_length)
            target, empty = x, "''"
            cell = [f"{x} = Q{k}(c)"]  # a number or date cell as its text, by the parser
            after.append(f"if len({x}) > {limit} or '\\\\' in {x} or not {x}.isprintable(): raise _Skip")
            text_of[name] = value_of[name] = x
        elif name in _NUMBER:
            digits = len(str(int(_NUMBER[name])))  # a shorter text is certainly within the column
            places = fm.decimal_places
            if fm.parser == "decimal" and places != 0:
                # Plain digits with at most one decimal separator (exactly `places` decimals when the template
                # rounds: nothing to round) are their own text, the separator made a point.
                exact = f" and {v}[-{places + 1}] == {dec!r}" if places else ""
                point = f"{v}.replace({dec!r}, '.')" if dec != "." else v
                conv = (f"{point} if (u{k} := {v}.replace({dec!r}, '', 1)).isdigit() and u{k}.isascii(){exact} "
                        f"else _num(P{k}, {v})")
            else:
                conv = f"_num(P{k}, {v})"
            target, empty = x, "NULL"
            # A number cell: its shortest repr when that is the parser's text (see _float_text), inline for the
            # usual places; whatever that does not settle goes through the parser.
            parsed = f"{x} = _num(Q{k}, c)"
            if fm.parser == "decimal" and places is None:
                cell = ["if kc is float:",
                        f"    {x} = r if '.' in (r := repr(c)) and 'e' not in r else _num(Q{k}, c)",
                        "elif kc is int:", f"    {x} = str(c)", "else:", f"    {parsed}"]
            elif fm.parser == "decimal" and places in (1, 2):
                # e: the repr's decimals; "1e+20", "inf" or "nan" have no point and at least 3 characters, "2.5e-07"
                # more than 2 decimals: those go through the parser.
                env[f"Z{k}"] = tuple("0" * (places - d) for d in range(places + 1))
                cell = ["if kc is float:",
                        f"    {x} = r + Z{k}[e] if 0 < (e := len(r := repr(c)) - r.find('.') - 1) <= {places} "
                        f"else _num(Q{k}, c)",
                        "elif kc is int:", f"    {x} = str(c) + {'.' + '0' * places!r}", "else:", f"    {parsed}"]
            elif fm.parser == "decimal":  # other places: _float_text
                cell = [f"{x} = _fnum(Q{k}, c, {places})"]
            else:  # an integer column
                cell = [parsed]
            checks = [f"len({x}) >= {digits}"]
            if (fm.rules or {}).get("non_negative"):
                checks.append(f"{x}[0] == '-'")
            after.append(f"if {' or '.join(checks)}: raise _Skip")
            if name in money_cents or name == "amount":
                # Exactly two decimals here (the template rounds money to cents): its cents as an integer.
                after.append(f"c_{name} = None if {x} is NULL else int({x}.replace('.', ''))")
            text_of[name] = x
        else:  # a date
            rules = fm.rules or {}
            bounds = period_bounds(mapper.period, rules["period_days"]) if rules.get("period_days") is not None \
                else None
            env[f"G{k}"] = _date_memo(p.parse, bounds)
            target, conv, empty = f"{x}, d{k}", f"G{k}({v})", "NULL, None"
            cell = [f"{x}, d{k} = G{k}(c)"]
            text_of[name], value_of[name] = x, f"d{k}"
        # The cell: text is stripped; empty is the field's empty value (or the row goes the general way).
        on_text = [f"{v} = c.strip()" if sheet else f"{v} = row[{p.idx}].strip()", f"if {v}:", f"    {target} = {conv}",
                   "else:", "    raise _Skip" if required else f"    {target} = {empty}"]
        if sheet:
            block = [f"c = row[{p.idx}]", "if (kc := c.__class__) is str:", *("    " + line for line in on_text),
                     "else:", *("    " + line for line in cell)]
        else:
            block = on_text
        body.extend("    " + line for line in [*block, *after])
    for i, (c, tol) in enumerate(tolerances):
        parts = [f"c_{n}" for n in c["fields"]]
        present = " and ".join(f"{q} is not None" for q in [*parts, f"c_{c['equals']}"])
        body.append(f"    if {present} and abs(c_{c['equals']} - ({' + '.join(parts)})) > {tol}: raise _Skip")

    # The COPY line, an f-string of names only: the loader's column layout (DirectLoader._layout): reference,
    # concept, quantity, unit price, amount, account, row number, the typed columns, then the constant columns.
    names = [text_of["reference"], text_of["concept"], "ONE", text_of["amount"], text_of["amount"], "acc", "rn"]
    for i in TYPED_ON_CHARGE:
        col = TYPED_COLUMNS[i]
        if col in text_of:
            names.append(text_of[col])
        else:
            env[f"B{i}"] = loading._copy_value(TYPED_BLANK[i])
            names.append(f"B{i}")
    env["ONE"], env["TAIL"] = "1", loader._suffix + "\n"
    line = "\\t".join("{" + n + "}" for n in names)
    key_parts = [value_of.get(k, f"K{j}") for j, k in enumerate(key_fields)]
    for j, k in enumerate(key_fields):
        if k not in value_of:  # unmapped: the typed blank (text "", others None)
            env[f"K{j}"] = TYPED_BLANK[TYPED_COLUMNS.index(k)]
    service_line = value_of.get("service_line", "''")
    src = "\n".join([
        "def take(row, rn):",
        "    try:",
        *("    " + statement for statement in body),
        "    except (_Skip, CellError, IndexError, TypeError, ValueError, ArithmeticError):",
        "        return False",
        f"    if (acc := ACC({text_of['reference']})) is None:",
        "        acc = NULL",
        f"        UNKNOWN({text_of['reference']})",
        f'    OUT(f"{line}\\t{{TAIL}}")',
        f"    H(hash(({', '.join(key_parts)},)))",
        f"    HL(hash({service_line} or {text_of['reference']}))",
        *(f"    if c_{n} is not None: SUMS[{j}] += c_{n}" if cents else
          f"    if {text_of[n]} is not NULL: SUMS[{j}] += _D({text_of[n]})"
          for j, (n, cents) in enumerate(zip(summed, in_cents))),
        "    COUNTS[0] += 1",
        "    COUNTS[1] += c_amount",
        "    if len(OUTL) >= BATCH:",
        "        FLUSH()",
        "    return True",
    ])
    env["CellError"] = CellError
    # Generated from field names, column indexes and limits only: no text of the file or template is in the source.
    exec(compile(src, "<fast-lines>", "exec"), env)  # noqa: S102
    take = env["take"]
    take.counts, sums = env["COUNTS"], env["SUMS"]
    take.totals = lambda: {n: Decimal(sums[j]).scaleb(-2) if cents else sums[j]
                           for j, (n, cents) in enumerate(zip(summed, in_cents))}
    return take

