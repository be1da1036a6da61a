import csv
import datetime as dt
import io

import python_calamine as pc

from facturador.tabular.mapping import FieldMapping, Template, map_rows
from facturador.tabular.readers import open_rows
from facturador.tabular.reports import write_error_report

from .builders import csv_bytes


def _mapped():
    rows = [["Cuenta", "Valor", "Nota"], ["001", "abc", "=HYPERLINK(\"http://x\")"], ["002", "5", "ok"],
            ["", "-7", "@SUM(A1)"]]
    t = Template(fields=[FieldMapping("account", header="cuenta", required=True),
                         FieldMapping("amount", header="valor", parser="decimal")])
    m = map_rows(open_rows(io.BytesIO(csv_bytes(rows, delimiter=";")), "d.csv"), t)
    return m, (r for r in m if r.errors)


def test_csv_report_binary_output_has_bom_row_and_errors():
    m, bad = _mapped()
    out = io.BytesIO()
    n = write_error_report(bad, m.header, out, "csv")
    assert n == 2
    data = out.getvalue()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Fila", "Cuenta", "Valor", "Nota", "Errores"]
    assert rows[1][:3] == ["2", "001", "abc"]
    assert rows[1][3].startswith("'=")          # formula injection neutralised
    assert "«abc» no es un número válido" in rows[1][4]
    assert rows[2][:4] == ["4", "", "-7", "'@SUM(A1)"]  # "-7" is a number: left alone
    assert "obligatorio" in rows[2][4]


def test_csv_report_triples_short_and_long_rows(tmp_path):
    path = tmp_path / "errores.csv"
    items = [(9, ("a", 1.0, dt.date(2026, 1, 2)), ["uno", "dos"]), (10, ("b",), ["tres"]),
             (11, ("c", 2.5, None, "=extra"), ["cuatro"])]
    assert write_error_report(items, ["x", "=y", "z"], str(path), "csv") == 3
    assert path.read_bytes().decode("utf-8-sig").splitlines() == [
        "Fila;x;'=y;z;Errores", "9;a;1;02/01/2026;uno | dos", "10;b;;;tres", "11;c;2,5;;cuatro;'=extra"]


def test_xlsx_report_round_trip(tmp_path):
    m, bad = _mapped()
    p = tmp_path / "errores.xlsx"
    assert write_error_report(bad, m.header, str(p), "xlsx") == 2
    wb = pc.CalamineWorkbook.from_path(str(p))
    assert wb.sheet_names == ["Errores"]
    rows = wb.get_sheet_by_index(0).to_python()
    assert rows[0] == ["Fila", "Cuenta", "Valor", "Nota", "Errores"]
    assert rows[1][0] == 2 and rows[1][1:4] == ["001", "abc", '=HYPERLINK("http://x")']  # kept as text
    assert "no es un número válido" in rows[1][4]
    assert rows[2][0] == 4 and "obligatorio" in rows[2][4]


def test_xlsx_report_to_fileobj_with_typed_values():
    out = io.BytesIO()
    write_error_report([(3, ("x", 2.5, dt.date(2026, 1, 2), True), ["malo"])], ["a", "b", "c", "d"], out, "xlsx")
    rows = pc.CalamineWorkbook.from_filelike(io.BytesIO(out.getvalue())).get_sheet_by_index(0).to_python()
    assert rows[1] == [3, "x", 2.5, dt.date(2026, 1, 2), True, "malo"]
