"""The one money/date rule per country (facturador.printing.money)."""

import datetime as dt
import doctest
from decimal import Decimal

import pytest

from facturador.printing import money
from facturador.printing.money import format_date, format_money, quantize


def test_doctests():
    result = doctest.testmod(money)
    assert result.attempted > 10 and result.failed == 0


@pytest.mark.parametrize("value,text", [
    (6200, "$ 6.200"), (Decimal("6200.50"), "$ 6.200,50"), (Decimal("4125000000.00"), "$ 4.125.000.000"),
    (Decimal("-98500"), "-$ 98.500"), (Decimal("0.004"), "$ 0"), (Decimal("-0.005"), "-$ 0,01"),
    ("1234567.445", "$ 1.234.567,45"), (999.995, "$ 1.000"),
])
def test_colombia(value, text):
    assert format_money(value, "CO") == text


@pytest.mark.parametrize("value,text", [
    (6200, "$6,200.00"), (Decimal("6200.5"), "$6,200.50"), (Decimal("-1798.305"), "-$1,798.31"),
    (Decimal("34540.9600000000"), "$34,540.96"), (0, "$0.00"), (999.995, "$1,000.00"),
])
def test_mexico(value, text):
    assert format_money(value, "MX") == text


def test_the_country_comes_from_an_issuer_or_a_currency():
    class Issuer:
        country = "MX"
    assert format_money(1, Issuer()) == "$1.00"
    assert format_money(1, "MXN") == "$1.00"
    assert format_money(1, "cop") == "$ 1"
    assert format_money(1, None) == "$ 1"  # unknown: Colombia


def test_none_and_blank_are_blank_and_nonsense_is_an_error():
    assert format_money(None) == "" and format_money("") == ""
    with pytest.raises(ValueError):
        format_money("doce")


def test_quantize_gives_two_places_half_up():
    assert str(quantize("0E-10")) == "0.00"
    assert str(quantize(Decimal("34540.9600000000"))) == "34540.96"
    assert str(quantize("0.125")) == "0.13" and str(quantize("-0.125")) == "-0.13"
    assert quantize(None) is None


def test_dates():
    assert format_date(dt.date(2026, 1, 31)) == "31/01/2026"
    assert format_date(dt.datetime(2026, 1, 31, 23, 59)) == "31/01/2026"
    assert format_date("2026-01-31") == "31/01/2026"
    assert format_date("") == ""
