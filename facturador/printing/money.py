"""Money and dates as people read them, one rule per country (pure Python, no Django).

This is the only implementation: the web pages (``{% load money %}`` in core), e-mails, invoice PDFs and the CLI
all call it.

* Colombia: ``$ 6.200`` when the amount is whole pesos, ``$ 6.200,50`` otherwise.
* Mexico: ``$6,200.50``, always two decimals.
* Dates: ``dd/mm/aaaa``.

Amounts are rounded half-up to cents first; ``None`` and ``""`` give ``""`` (templates add ``|default:"—"``).

>>> format_money(6200, "CO")
'$ 6.200'
>>> format_money("6200.5", "CO")
'$ 6.200,50'
>>> format_money(Decimal("4125000000.00"), "CO")
'$ 4.125.000.000'
>>> format_money(-20172.15, "CO")
'-$ 20.172,15'
>>> format_money("6200.004", "CO")
'$ 6.200'
>>> format_money("0.005", "CO")
'$ 0,01'
>>> format_money(6200.5, "MX")
'$6,200.50'
>>> format_money(6200, "MX")
'$6,200.00'
>>> format_money("-1234567.125", "MX")
'-$1,234,567.13'
>>> format_money("2.675", "MX")
'$2.68'
>>> format_money("0E-10", "MX")
'$0.00'
>>> format_money(None, "CO")
''
>>> format_money(98500, "COP")
'$ 98.500'
>>> format_money(1250.5, "USD")
'$ 1.250,50 USD'
>>> format_money(6200, "CO", symbol=False)
'6.200'
>>> format_money("12.345678", "MX", decimals=6)
'$12.345678'
>>> format_date(_dt.date(2026, 9, 3))
'03/09/2026'
>>> format_date(None)
''
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from functools import lru_cache
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

__all__ = ["format_money", "format_date", "style_for", "quantize", "CENT"]

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Style:
    thousands: str
    decimal: str
    prefix: str            # the symbol and what separates it from the digits
    whole_without_decimals: bool
    currency: str


STYLES = {
    "CO": Style(thousands=".", decimal=",", prefix="$ ", whole_without_decimals=True, currency="COP"),
    "MX": Style(thousands=",", decimal=".", prefix="$", whole_without_decimals=False, currency="MXN"),
}
_CURRENCY_COUNTRY = {s.currency: c for c, s in STYLES.items()}


def style_for(country) -> Style:
    """The style of a country code ("CO", "MX"), a currency code ("COP", "MXN") or anything with ``.country``
    (an issuer); Colombia's when unknown (another currency: Colombia's, followed by its code)."""
    code = getattr(country, "country", country)
    code = str(code or "CO").upper()
    return STYLES.get(code) or STYLES.get(_CURRENCY_COUNTRY.get(code, "CO"))


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None


def quantize(value, places: int = 2) -> Decimal | None:
    """``value`` as a Decimal with ``places`` decimals, rounded half-up (``None`` stays ``None``).

    >>> quantize("34540.9600000000"), quantize("0E-10"), quantize("2.675"), quantize("-2.675")
    (Decimal('34540.96'), Decimal('0.00'), Decimal('2.68'), Decimal('-2.68'))
    """
    d = _decimal(value)
    if d is None:
        return None
    return d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _group(digits: str, sep: str) -> str:
    groups = []
    while len(digits) > 3:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    groups.insert(0, digits)
    return sep.join(groups)


def format_money(value, country="CO", *, symbol: bool = True, decimals: int | None = None) -> str:
    """The amount as a person of ``country`` writes it (see the module's rules).

    ``country`` as in :func:`style_for`; another currency's code (``"USD"``) follows the amount.
    ``decimals`` forces a number of decimals (e.g. a unit price with more precision than cents)."""
    if value.__class__ is Decimal and country.__class__ is str and value.is_finite():
        # equal Decimals format alike (rounded to the same places first): an invoice batch repeats its prices
        return _format_decimal(value, country, symbol, decimals)
    return _format_money(value, country, symbol, decimals)


@lru_cache(maxsize=4096)
def _format_decimal(value: Decimal, country: str, symbol: bool, decimals: int | None) -> str:
    return _format_money(value, country, symbol, decimals)


def _format_money(value, country, symbol: bool, decimals: int | None) -> str:
    style = style_for(country)
    code = str(getattr(country, "country", country) or "").upper()
    suffix = f" {code}" if len(code) == 3 and code.isalpha() and code not in _CURRENCY_COUNTRY else ""
    d = quantize(value, 2 if decimals is None else decimals)
    if d is None:
        return ""
    if decimals is None and style.whole_without_decimals and d == d.to_integral_value():
        d = d.quantize(Decimal(1))
    sign = "-" if d < 0 else ""
    text = _digits(abs(d), style)
    return f"{sign}{style.prefix}{text}{suffix}" if symbol else f"{sign}{text}"


def _digits(d: Decimal, style: Style) -> str:
    """A non-negative Decimal's digits, thousands grouped, with the style's decimal separator."""
    whole, _, frac = f"{d:f}".partition(".")
    return _group(whole, style.thousands) + (style.decimal + frac if frac else "")


def format_quantity(value, country="CO", *, max_decimals: int = 3) -> str:
    """A quantity (minutes, MB, kWh...) as a person of ``country`` writes it: thousands grouped, at most
    ``max_decimals`` decimals (rounded half-up) and no trailing zeros.

    >>> format_quantity("420553.100000000"), format_quantity("822.00"), format_quantity(1234.5, "MX")
    ('420.553,1', '822', '1,234.5')
    >>> format_quantity(None), format_quantity("-0.0004")
    ('', '0')
    """
    style = style_for(country)
    d = quantize(value, max_decimals)
    if d is None:
        return ""
    d = d.normalize() if d != 0 else Decimal(0)
    return ("-" if d < 0 else "") + _digits(abs(d), style)


def format_date(value) -> str:
    """``dd/mm/aaaa`` (a datetime gives its own date: convert it to local time first)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = _dt.date.fromisoformat(value[:10])
    return value.strftime("%d/%m/%Y")
