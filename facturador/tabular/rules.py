"""Validation rules of a template's fields, checked after each cell is parsed (no Django).

A field's ``rules`` (``FieldMapping.rules``, a JSON object) may hold:

==================  =====================================================  ==========================
key                 meaning                                                error code
==================  =====================================================  ==========================
``min`` / ``max``   number (or ``"YYYY-MM-DD"`` date) bounds, inclusive    ``below_min`` / ``above_max``
``non_negative``    ``true``: the number may not be below zero             ``negative``
``min_length``      text length bounds (``max_length`` as well)            ``too_short`` / ``too_long``
``pattern``         a regular expression the whole text must match         ``pattern_mismatch``
``allowed``         list of allowed values (compared accent/case-blind)    ``not_allowed``
``period_days``     a date within the import period ± that many days       ``date_outside_period``
==================  =====================================================  ==========================

Type checks come from the field's parser (``invalid_number``, ``invalid_date``, ``phone_invalid``...), and
``required`` from ``FieldMapping.required`` (``required``). Cross-field checks live in
``Template.checks``: ``{"kind": "sum", "fields": ["net_amount", "iva_amount"], "equals": "amount",
"tolerance": "1"}`` — the sum of the fields must equal the other field within the tolerance
(``sum_mismatch``); a check whose fields are not all present in the row is skipped.

>>> check = compile_field_rules("minutes", "«Minutos» (columna F)", "F", {"non_negative": True})
>>> check(Decimal("-3"), 7)[0].code
'negative'
>>> check(Decimal("3"), 7)
[]
>>> sum_check = compile_checks([{"kind": "sum", "fields": ["net", "iva"], "equals": "total", "tolerance": "1"}],
...                            {"net": ("I", "«Neto»"), "iva": ("J", "«IVA»"), "total": ("K", "«Total»")})
>>> [e.code for e in sum_check({"net": Decimal(100), "iva": Decimal(19), "total": Decimal("119.60")}, 4)]
[]
>>> [e.message_es for e in sum_check({"net": Decimal(100), "iva": Decimal(19), "total": Decimal(125)}, 4)]
['Fila 4, «Total»: el total 125 no es la suma de «Neto» + «IVA» (119); diferencia 6, tolerancia 1.']
"""

from __future__ import annotations

import calendar
import datetime as _dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from .errors import RowError

__all__ = ["RULE_KEYS", "CHECK_KINDS", "compile_field_rules", "compile_checks", "validate_rules", "validate_checks",
           "period_bounds"]

RULE_KEYS = ("min", "max", "non_negative", "min_length", "max_length", "pattern", "allowed", "period_days")
CHECK_KINDS = ("sum",)
MAX_PATTERN = 200


def _fold(v: Any) -> str:
    s = unicodedata.normalize("NFKD", str(v))
    return " ".join("".join(c for c in s if not unicodedata.combining(c)).casefold().split())


def _bound(v: Any) -> Any:
    if isinstance(v, str) and len(v) == 10 and v[4] == "-" and v[7] == "-":
        return _dt.date.fromisoformat(v)
    return Decimal(str(v))


def validate_rules(field: str, rules: Any) -> str | None:
    """A Spanish reason why ``rules`` is not a valid rules object, or None."""
    if rules is None:
        return None
    if not isinstance(rules, dict):
        return f"las reglas de «{field}» deben ser un objeto JSON"
    unknown = set(rules) - set(RULE_KEYS)
    if unknown:
        return f"reglas desconocidas en «{field}»: {', '.join(sorted(unknown))} (use {', '.join(RULE_KEYS)})"
    try:
        for k in ("min", "max"):
            if rules.get(k) is not None:
                _bound(rules[k])
        for k in ("min_length", "max_length", "period_days"):
            if rules.get(k) is not None and (not isinstance(rules[k], int) or isinstance(rules[k], bool) or rules[k] < 0):
                return f"la regla «{k}» de «{field}» debe ser un número entero desde 0"
    except (InvalidOperation, ValueError, TypeError):
        return f"los límites mínimo/máximo de «{field}» deben ser números o fechas AAAA-MM-DD"
    if rules.get("pattern") is not None:
        p = rules["pattern"]
        if not isinstance(p, str) or len(p) > MAX_PATTERN:
            return f"el patrón de «{field}» debe ser un texto de hasta {MAX_PATTERN} caracteres"
        try:
            re.compile(p)
        except re.error:
            return f"el patrón de «{field}» no es una expresión regular válida"
    if rules.get("allowed") is not None and not (isinstance(rules["allowed"], list) and rules["allowed"]):
        return f"los valores permitidos de «{field}» deben ser una lista no vacía"
    return None


def period_bounds(period: str | None, days: int) -> tuple[_dt.date, _dt.date] | None:
    """First and last day of ``"YYYY-MM"`` widened by ``days``.

    >>> period_bounds("2026-02", 5)
    (datetime.date(2026, 1, 27), datetime.date(2026, 3, 5))
    """
    if not period:
        return None
    y, m = int(period[:4]), int(period[5:7])
    first = _dt.date(y, m, 1)
    last = _dt.date(y, m, calendar.monthrange(y, m)[1])
    return first - _dt.timedelta(days=days), last + _dt.timedelta(days=days)


def compile_field_rules(field: str, label: str, column: str | None, rules: dict | None, *,
                        period: str | None = None) -> Callable[[Any, int], list] | None:
    """``check(value, row_number) -> [RowError]`` for a parsed, non-empty value; None when no rule applies."""
    if not rules:
        return None
    tests: list[Callable[[Any], tuple[str, str] | None]] = []
    lo = _bound(rules["min"]) if rules.get("min") is not None else None
    hi = _bound(rules["max"]) if rules.get("max") is not None else None
    if rules.get("non_negative"):
        tests.append(lambda v: ("negative", f"el valor {v} es negativo y este campo no admite negativos")
                     if isinstance(v, (int, Decimal)) and v < 0 else None)
    if lo is not None:
        tests.append(lambda v: ("below_min", f"el valor {_show(v)} es menor que el mínimo {_show(lo)}")
                     if _cmp(v, lo) and v < lo else None)
    if hi is not None:
        tests.append(lambda v: ("above_max", f"el valor {_show(v)} es mayor que el máximo {_show(hi)}")
                     if _cmp(v, hi) and v > hi else None)
    mn, mx = rules.get("min_length"), rules.get("max_length")
    if mn is not None:
        tests.append(lambda v: ("too_short", f"el texto tiene {len(str(v))} caracteres; el mínimo es {mn}")
                     if len(str(v)) < mn else None)
    if mx is not None:
        tests.append(lambda v: ("too_long", f"el texto tiene {len(str(v))} caracteres; el máximo es {mx}")
                     if len(str(v)) > mx else None)
    if rules.get("pattern"):
        rx = re.compile(rules["pattern"])
        tests.append(lambda v: ("pattern_mismatch", f"«{v}» no tiene el formato esperado ({rules['pattern']})")
                     if not rx.fullmatch(str(v)) else None)
    if rules.get("allowed"):
        allowed = {_fold(a) for a in rules["allowed"]}
        shown = ", ".join(str(a) for a in rules["allowed"][:10]) + ("…" if len(rules["allowed"]) > 10 else "")
        tests.append(lambda v: ("not_allowed", f"«{v}» no es uno de los valores permitidos ({shown})")
                     if _fold(v) not in allowed else None)
    if rules.get("period_days") is not None and period:
        first, last = period_bounds(period, rules["period_days"])
        tests.append(lambda v: ("date_outside_period",
                                f"la fecha {v:%d/%m/%Y} está fuera del periodo {period} "
                                f"(se admite del {first:%d/%m/%Y} al {last:%d/%m/%Y})")
                     if isinstance(v, _dt.date) and not first <= v <= last else None)
    if not tests:
        return None

    def check(value: Any, rn: int) -> list:
        out = []
        for t in tests:
            found = t(value)
            if found:
                out.append(RowError(rn, column, field, value, f"Fila {rn}, {label}: {found[1]}.", found[0]))
        return out
    return check


def _cmp(v: Any, bound: Any) -> bool:
    if isinstance(bound, _dt.date):
        return isinstance(v, _dt.date)
    return isinstance(v, (int, Decimal)) and not isinstance(v, bool)


def _show(v: Any) -> str:
    return f"{v:%d/%m/%Y}" if isinstance(v, _dt.date) else str(v)


def validate_checks(checks: Any, fields: set) -> str | None:
    """A Spanish reason why ``Template.checks`` is not valid, or None."""
    if not checks:
        return None
    if not isinstance(checks, list):
        return "«checks» debe ser una lista"
    for c in checks:
        if not isinstance(c, dict) or c.get("kind") not in CHECK_KINDS or set(c) - {"kind", "fields", "equals",
                                                                                    "tolerance"}:
            return "cada validación cruzada debe ser {\"kind\": \"sum\", \"fields\": [...], \"equals\": ..., \"tolerance\": ...}"
        names = list(c.get("fields") or []) + [c.get("equals")]
        missing = [n for n in names if n not in fields]
        if missing or len(names) < 2:
            return f"la validación cruzada usa campos que la plantilla no mapea: {', '.join(map(str, missing))}"
        try:
            Decimal(str(c.get("tolerance", "0")))
        except InvalidOperation:
            return "la tolerancia de una validación cruzada debe ser un número"
    return None


def compile_checks(checks: list | None, columns: dict) -> Callable[[dict, int], list] | None:
    """``check(values, row_number) -> [RowError]`` for the template's cross-field checks.

    ``columns``: field -> (column letter or None, label). Fields that are None in the row skip the check."""
    if not checks:
        return None
    compiled = []
    for c in checks:
        tol = Decimal(str(c.get("tolerance", "0")))
        compiled.append((tuple(c["fields"]), c["equals"], tol))

    def check(values: dict, rn: int) -> list:
        out = []
        for parts, equals, tol in compiled:
            total = values.get(equals)
            if total is None:
                continue
            s = Decimal(0)
            for p in parts:
                v = values.get(p)
                if v is None:
                    break
                s += v
            else:
                if abs(Decimal(total) - s) > tol:
                    col, label = columns.get(equals, (None, f"«{equals}»"))
                    names = " + ".join(columns.get(p, (None, f"«{p}»"))[1].split(" (")[0] for p in parts)
                    out.append(RowError(rn, col, equals, total,
                                        f"Fila {rn}, {label}: el total {total} no es la suma de {names} ({s}); "
                                        f"diferencia {abs(Decimal(total) - s)}, tolerancia {tol}.", "sum_mismatch"))
        return out
    return check


def compile_quick(field_rules: dict, checks: list | None, *, period: str | None = None) -> Callable[[dict], bool] | None:
    """``quick(values) -> True`` when a row certainly passes every rule (the hot path: bounds and sums compared
    inline in generated code); False sends it to the detailed checks, which say why. None: no rules.

    >>> q = compile_quick({"minutes": {"non_negative": True}, "cut": {"period_days": 0}}, None, period="2026-10")
    >>> q({"minutes": Decimal(3), "cut": _dt.date(2026, 10, 31)}), q({"minutes": Decimal(-1), "cut": None})
    (True, False)
    """
    env: dict[str, Any] = {}
    lines = ["def quick(values):"]
    n = 0
    for name, rules in field_rules.items():
        if not rules:
            continue
        n += 1
        env[f"K{n}"] = name
        lo = _bound(rules["min"]) if rules.get("min") is not None else None
        hi = _bound(rules["max"]) if rules.get("max") is not None else None
        if rules.get("non_negative"):
            lo = Decimal(0) if lo is None or (not isinstance(lo, _dt.date) and lo < 0) else lo
        preds = []
        if rules.get("period_days") is not None and period:
            first, last = period_bounds(period, rules["period_days"])
            env[f"F{n}"], env[f"T{n}"] = first, last
            preds.append(f"not F{n} <= v <= T{n}")
        if lo is not None:
            env[f"L{n}"] = lo
            preds.append(f"v < L{n}")
        if hi is not None:
            env[f"H{n}"] = hi
            preds.append(f"v > H{n}")
        other = {k: v for k, v in rules.items() if k in ("min_length", "max_length", "pattern", "allowed")}
        if other:
            check = compile_field_rules(name, name, None, other)
            env[f"C{n}"] = check
            preds.append(f"C{n}(v, 0)")
        if preds:
            lines.append(f"    v = values[K{n}]")
            lines.append(f"    if v is not None and ({' or '.join(preds)}): return False")
    for i, c in enumerate(checks or []):
        parts = list(c["fields"])
        env[f"S{i}"] = c["equals"]
        env[f"TOL{i}"] = Decimal(str(c.get("tolerance", "0")))
        for j, p in enumerate(parts):
            env[f"S{i}_{j}"] = p
        lines.append(f"    t = values[S{i}]")
        for j in range(len(parts)):
            lines.append(f"    p{j} = values[S{i}_{j}]")
        # "is not None" one by one: "None in parts" would compare each Decimal with None (slow path).
        present = " and ".join(f"p{j} is not None" for j in range(len(parts)))
        total = " + ".join(f"p{j}" for j in range(len(parts)))
        lines.append(f"    if t is not None and {present} and abs(t - ({total})) > TOL{i}: return False")
    if len(lines) == 1:
        return None
    lines.append("    return True")
    exec(compile("\n".join(lines), "<tabular-rules>", "exec"), env)  # noqa: S102 - names/constants only
    return env["quick"]
