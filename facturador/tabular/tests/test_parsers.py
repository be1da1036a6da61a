import datetime as dt
from decimal import Decimal

import pytest

from facturador.tabular.parsers import (CellError, compile_date_format, excel_serial_to_date, make_boolean,
                                        make_date, make_decimal, make_integer, make_period, make_text)

# Colombian convention: decimal comma, thousands dot.
CO_OK = [
    ("1.234.567,89", "1234567.89"),
    ("$ 1.234,50", "1234.50"),
    ("$1.234,50", "1234.50"),
    ("COP 5.000", "5000"),
    ("(1.000)", "-1000"),
    ("-1.000,5", "-1000.5"),
    ("1.000-", "-1000"),
    ("-$ 2.500", "-2500"),
    ("1234,5", "1234.5"),
    ("0,05", "0.05"),
    ("+12", "12"),
    ("999", "999"),
    ("12.345", "12345"),
    ("123.456.789,1", "123456789.1"),
    ("1\u00a0234,5", None),  # NBSP is not the configured thousands separator
    ("$ -", "0"),  # zero in a spreadsheet's accounting format, kept by its CSV export (it was an invalid number)
    (" $  -  ", "0"),
    ("-", "0"),
    ("\u2013", "0"),
]
CO_BAD = ["1,234.56", "1.23", "12,34,5", "abc", "1.2345", "--1", "NaN", "Infinity", "1e5", "1_000", "#N/A",
          "$", "(1.000", "1.000.00", "1,2,3", "1234.567", ".123,5", "1..234", "12.34.567"]

# Mexican convention: decimal point, thousands comma.
MX_OK = [
    ("1,234.56", "1234.56"),
    ("$1,234.50", "1234.50"),
    ("MX$ 1,000", "1000"),
    ("MXN 12,345,678.9", "12345678.9"),
    ("(1,000.00)", "-1000.00"),
    ("1234.5", "1234.5"),
    ("-0.5", "-0.5"),
]
MX_BAD = ["1.234,56", "1,23", "1,2345.0", "12.34.5"]


@pytest.mark.parametrize("text,expected", [x for x in CO_OK if x[1]])
def test_decimal_colombia(text, expected):
    assert make_decimal(",", ".")(text) == Decimal(expected)


@pytest.mark.parametrize("text", CO_BAD + ["1\u00a0234,56,7", "--1", "(-1)", "-1-"])
def test_decimal_colombia_rejects(text):
    with pytest.raises(CellError) as ei:
        make_decimal(",", ".")(text)
    assert ei.value.message_es


@pytest.mark.parametrize("text,expected", MX_OK)
def test_decimal_mexico(text, expected):
    assert make_decimal(".", ",")(text) == Decimal(expected)


@pytest.mark.parametrize("text", MX_BAD)
def test_decimal_mexico_rejects(text):
    with pytest.raises(CellError):
        make_decimal(".", ",")(text)


def test_decimal_space_thousands_and_places():
    p = make_decimal(",", " ", places=2)
    assert p("1 234 567,895") == Decimal("1234567.90")  # half-up
    assert p("1\u00a0234,5") == Decimal("1234.50")
    assert make_decimal(",", "", places=0)("2,5") == Decimal("3")


def test_decimal_from_spreadsheet_numbers():
    p = make_decimal(",", ".")
    assert p(1234.5) == Decimal("1234.5")
    assert p(0.1) == Decimal("0.1")  # shortest repr, not the binary expansion
    assert p(7) == Decimal(7)
    for bad in (True, dt.date(2026, 1, 1), float("nan")):
        with pytest.raises(CellError):
            p(bad)


def test_decimal_excel_error_message():
    with pytest.raises(CellError) as ei:
        make_decimal()("#DIV/0!")
    assert ei.value.code == "formula_error" and "fórmula" in ei.value.message_es


def test_bad_separator_configuration():
    with pytest.raises(ValueError):
        make_decimal(",", ",")
    with pytest.raises(ValueError):
        make_decimal(";", ".")


@pytest.mark.parametrize("value,expected", [("007", 7), ("1.234", 1234), ("-5", -5), (12.0, 12), (3, 3),
                                            ("1.000,00", 1000)])
def test_integer(value, expected):
    assert make_integer(",", ".")(value) == expected


@pytest.mark.parametrize("value", ["1,5", 2.5, "x", "1.23"])
def test_integer_rejects(value):
    with pytest.raises(CellError):
        make_integer(",", ".")(value)


def test_text_keeps_leading_zeros_and_handles_numbers():
    p = make_text()
    assert p("00123") == "00123"
    assert p(123.0) == "123"
    assert p(1234.5) == "1234.5"
    assert p(12345678901234.0) == "12345678901234"
    assert p(dt.date(2026, 1, 5)) == "2026-01-05"
    assert p(True) == "VERDADERO"
    assert make_text(zfill=6)(123.0) == "000123"
    assert make_text(zfill=6)("AB1") == "AB1"
    with pytest.raises(CellError):
        make_text(max_length=3)("ABCD")


@pytest.mark.parametrize("value,expected", [
    ("05/01/2026", dt.date(2026, 1, 5)),
    ("5/1/2026", dt.date(2026, 1, 5)),
    ("2026-01-05", dt.date(2026, 1, 5)),
    ("05/01/2026 00:00:00", dt.date(2026, 1, 5)),
    ("2026-01-05T10:30:00", dt.date(2026, 1, 5)),
    ("05/01/2026 12:00:00 a. m.", dt.date(2026, 1, 5)),   # a Spanish-locale spreadsheet's CSV export
    ("2026-01-05T10:30:00.000-05:00", dt.date(2026, 1, 5)),
    (dt.datetime(2026, 1, 5, 10, 30), dt.date(2026, 1, 5)),
    (dt.date(2026, 1, 5), dt.date(2026, 1, 5)),
    (45292.0, dt.date(2024, 1, 1)),      # Excel serial numbers (well-known anchors)
    (45292, dt.date(2024, 1, 1)),
    ("45292", dt.date(2024, 1, 1)),
    (1, dt.date(1900, 1, 1)),
    (59, dt.date(1900, 2, 28)),
    (61, dt.date(1900, 3, 1)),
])
def test_date_default_formats(value, expected):
    assert make_date()(value) == expected


@pytest.mark.parametrize("value", ["31/02/2026", "2026-13-01", "05-01-2026", "hoy", "5/1/26", True, 0,
                                   "01/08/2026 - 31/08/2026", "05/01/2026 pendiente"])  # not read as their first date
def test_date_rejects(value):
    with pytest.raises(CellError):
        make_date()(value)


def test_date_other_formats_and_order():
    assert make_date(["mm/dd/yyyy"])("01/05/2026") == dt.date(2026, 1, 5)
    assert make_date(["dd.mm.yy"])("05.01.26") == dt.date(2026, 1, 5)
    assert make_date(["yyyymmdd"])("20260105") == dt.date(2026, 1, 5)
    assert make_date(["%d/%m/%Y"])("05/01/2026") == dt.date(2026, 1, 5)
    assert make_date(["%d de %B de %Y"])  # strptime fallback compiles
    with pytest.raises(CellError):
        make_date(["dd/mm/yyyy"], excel_serial=False)(45292.0)
    with pytest.raises(ValueError):
        compile_date_format("dd/mm")


def test_excel_serial_bounds():
    with pytest.raises(CellError):
        excel_serial_to_date(60)  # Excel's fictitious 1900-02-29
    with pytest.raises(CellError):
        excel_serial_to_date(3_000_000)


@pytest.mark.parametrize("value,expected", [
    ("2026-01", "2026-01"), ("2026/1", "2026-01"), ("202601", "2026-01"), ("01/2026", "2026-01"),
    ("1-2026", "2026-01"), (202612.0, "2026-12"), (dt.date(2026, 3, 31), "2026-03"),
    (dt.datetime(2026, 3, 1, 5), "2026-03"),
])
def test_period(value, expected):
    assert make_period()(value) == expected


@pytest.mark.parametrize("value", ["2026-13", "13/2026", "abc", "2026", 2026.5, "2026-00"])
def test_period_rejects(value):
    with pytest.raises(CellError):
        make_period()(value)


def test_boolean():
    p = make_boolean()
    assert [p(x) for x in ("Sí", "si", "X", "1", "VERDADERO", True, 1.0)] == [True] * 7
    assert [p(x) for x in ("No", "n", "0", "falso", False, 0)] == [False] * 6
    with pytest.raises(CellError):
        p("quizás")


def test_decimal_places_exponent_and_memo_consistency():
    p = make_decimal(",", ".", places=2).for_str
    for text in ("1.234,50", "7", "0,125", "1.234,5"):
        first, again = p(text), p(text)  # second call may come from the memo
        assert first == again and first.as_tuple().exponent == -2
    assert p("0,125") == Decimal("0.13")
    for _ in range(2):  # errors are never cached
        with pytest.raises(CellError):
            p("1,234.5")
    assert make_integer(",", ".").for_str("1.234") == 1234


def test_decimals_with_a_minus_before_the_currency_sign_or_spaces_grouping_the_thousands():
    from decimal import Decimal

    from facturador.tabular.parsers import CellError, make_decimal

    parse = make_decimal(",", ".")
    assert [parse(v) for v in ("-$1.000", "1 234,50", "1\u00a0234\u00a0567,5", "1\u202f234,5")] == [
        Decimal("-1000"), Decimal("1234.50"), Decimal("1234567.5"), Decimal("1234.5")]
    with pytest.raises(CellError):
        parse("12 34,5")  # groups of three, as with dots
