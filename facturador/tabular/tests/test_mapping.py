import datetime as dt
import io
import json
from decimal import Decimal

import pytest

from facturador.tabular.errors import ImportFileError
from facturador.tabular.mapping import (FieldMapping, Template, TotalsCheck, map_rows, normalize_header,
                                        open_for_template, preview)
from facturador.tabular import readers
from facturador.tabular.readers import open_rows

from .builders import csv_bytes, write_ods, write_xlsx


def tpl(**kw):
    base = dict(fields=[
        FieldMapping("account", header="Código cliente", required=True),
        FieldMapping("amount", header="valor", parser="decimal", required=True),
        FieldMapping("issue_date", header="FECHA", parser="date"),
        FieldMapping("period", position="D", parser="period"),
    ])
    base.update(kw)
    return Template(**base)


HEADER = ["codigo cliente", "Valor ", "Fecha", "Periodo", "Notas"]


def csv_src(rows, **kw):
    return open_rows(io.BytesIO(csv_bytes(rows, **kw)), "datos.csv")


def test_maps_by_header_accent_and_case_insensitive_and_by_position():
    src = csv_src([HEADER, ["000123", "1.234,50", "05/01/2026", "2026-01", "x"]], delimiter=";")
    mapper = map_rows(src, tpl())
    rows = list(mapper)
    assert len(rows) == 1 and rows[0].ok
    assert rows[0].row_number == 2
    assert rows[0].values == {"account": "000123", "amount": Decimal("1234.50"),
                              "issue_date": dt.date(2026, 1, 5), "period": "2026-01"}
    assert rows[0].raw[4] == "x"
    assert mapper.stats.ok and mapper.stats.data_rows == 1


def test_normalize_header():
    assert normalize_header("  Código   Cliente:* ") == "codigo cliente"
    assert normalize_header(2026.0) == "2026"


def test_missing_columns_lists_missing_and_available():
    src = csv_src([["Código cliente", "Total", "Notas"], ["1", "2", "3"]])
    with pytest.raises(ImportFileError) as ei:
        map_rows(src, tpl())
    e = ei.value
    assert e.code == "missing_columns"
    assert e.details["missing"] == ["valor", "FECHA"]
    assert e.details["available"] == ["Código cliente", "Total", "Notas"]
    assert "«valor»" in e.message_es and "«Notas»" in e.message_es


def test_row_errors_carry_row_column_field_value():
    src = csv_src([HEADER, ["1", "abc", "31/02/2026", "2026-13", ""], ["", "5", "", "", ""]], delimiter=";")
    rows = list(map_rows(src, tpl()))
    e = {(x.field, x.code): x for x in rows[0].errors}
    assert set(e) == {("amount", "invalid_number"), ("issue_date", "invalid_date"), ("period", "invalid_period")}
    assert e[("amount", "invalid_number")].row == 2 and e[("amount", "invalid_number")].column == "B"
    assert e[("amount", "invalid_number")].value == "abc"
    assert "Fila 2" in e[("amount", "invalid_number")].message_es and "«Valor»" in e[("amount", "invalid_number")].message_es
    assert [(x.field, x.code, x.row, x.column) for x in rows[1].errors] == [("account", "required", 3, "A")]


def test_empty_rows_skipped_and_counted_defaults_applied():
    t = tpl(fields=[FieldMapping("account", header="Código cliente", required=True),
                    FieldMapping("amount", header="valor", parser="decimal", default="0"),
                    FieldMapping("service", default="ENERGIA")])
    src = csv_src([HEADER, ["1", "", "", "", ""], [], ["", " ", "", "", ""], ["2", "3,5", "", "", ""]], delimiter=";")
    m = map_rows(src, t)
    rows = list(m)
    assert [r.row_number for r in rows] == [2, 5]
    assert rows[0].values == {"account": "1", "amount": Decimal("0"), "service": "ENERGIA"}
    assert rows[1].values["amount"] == Decimal("3.5")
    assert m.stats.empty_rows == 2 and m.stats.rows_read == 4


def test_header_row_below_titles_and_no_header_mode():
    rows = [["Reporte de consumos"], [], HEADER, ["9", "1", "", "", ""]]
    m = map_rows(csv_src(rows, delimiter=";"), tpl(header_row=3))
    assert [r.values["account"] for r in m] == ["9"]
    t = Template(fields=[FieldMapping("a", position=1), FieldMapping("b", position="B", parser="integer")],
                 header_row=None)
    assert [r.values for r in map_rows(csv_src([["x", "7"], ["y", "8"]]), t)] == [
        {"a": "x", "b": 7}, {"a": "y", "b": 8}]
    with pytest.raises(ImportFileError) as ei:
        map_rows(csv_src([["a"]]), tpl(header_row=5))
    assert ei.value.code == "header_row_missing"


def test_footer_total_row_and_declared_totals_match():
    rows = [HEADER, ["1", "1.000,50", "", "", ""], ["2", "2.000", "", "", ""], ["TOTAL:", "3.000,50", "", "", ""]]
    t = tpl(declared_totals=TotalsCheck(fields=["amount"], expected_rows=2))
    m = map_rows(csv_src(rows, delimiter=";"), t)
    out = list(m)
    assert [r.row_number for r in out] == [2, 3]
    assert m.stats.footer_rows == [4]
    assert m.stats.computed_totals["amount"] == Decimal("3000.50")
    assert m.stats.declared_totals["amount"] == Decimal("3000.50")
    assert m.stats.file_errors == [] and m.stats.ok


def test_subtotal_rows_inside_the_data_are_skipped_and_the_footer_still_counts():
    rows = [HEADER, ["1", "1.000", "", "", ""], ["Subtotal zona norte", "1.000", "", "", ""], ["2", "2.000", "", "", ""],
            ["Total cliente 2", "2.000", "", "", ""], ["TOTAL", "3.000", "", "", ""]]
    m = map_rows(csv_src(rows, delimiter=";"), tpl(declared_totals=TotalsCheck(fields=["amount"])))
    assert [r.row_number for r in m] == [2, 4]
    assert (m.stats.subtotal_rows, m.stats.footer_rows, m.stats.ok) == ([3, 5], [6], True)


def test_a_line_whose_label_starts_with_total_is_a_line_when_it_has_other_words():
    rows = [HEADER, ["Total Colombia SA", "1.000", "", "", "cliente nuevo"], ["TOTAL", "1.000", "", "", ""]]
    m = map_rows(csv_src(rows, delimiter=";"), tpl(declared_totals=TotalsCheck(fields=["amount"])))
    assert [r.values["account"] for r in m] == ["Total Colombia SA"] and m.stats.subtotal_rows == []


def test_declared_totals_mismatch_and_user_expected():
    rows = [HEADER, ["1", "1.000", "", "", ""], ["Total general", "1.500", "", "", ""]]
    m = map_rows(csv_src(rows, delimiter=";"), tpl(declared_totals=TotalsCheck(fields=["amount"])))
    list(m)
    [err] = m.stats.file_errors
    assert err.code == "total_mismatch" and err.row == 3 and "1500" in err.message_es
    assert not m.stats.ok
    # Without a footer: totals given by the user, and a row count that does not match.
    m = map_rows(csv_src(rows[:2], delimiter=";"),
                 tpl(declared_totals=TotalsCheck(fields=["amount"], expected={"amount": "1000"}, expected_rows=3)))
    list(m)
    assert [e.code for e in m.stats.file_errors] == ["row_count_mismatch"]


def test_all_or_nothing_and_max_errors():
    rows = [HEADER] + [["", "x", "", "", ""]] * 10
    m = map_rows(csv_src(rows, delimiter=";"), tpl(all_or_nothing=True, max_errors=3))
    out = list(m)
    assert len(out) == 3 and m.stats.aborted and not m.stats.ok
    assert "máximo de 3" in m.stats.warnings[0]


def test_template_json_round_trip_and_validation():
    t = tpl(sheet="Consumos", header_row=2, decimal_separator=".", thousands_separator=",",
            date_formats=["yyyy-mm-dd"], declared_totals=TotalsCheck(fields=["amount"], tolerance="0.01"))
    d = json.loads(json.dumps(t.to_dict()))
    assert d["schema"] == 1
    assert Template.from_dict(d) == t
    bad = [
        {"fields": []},
        {"fields": [{"field": "a", "header": "x", "position": "A"}]},
        {"fields": [{"field": "a", "header": "x", "parser": "money"}]},
        {"fields": [{"field": "a", "position": "A1"}]},
        {"fields": [{"field": "a", "header": "x"}], "header_row": None},
        {"fields": [{"field": "a"}]},
        {"fields": [{"field": "a", "header": "x"}], "decimal_separator": "."},  # same as thousands "."
        {"fields": [{"field": "a", "header": "x"}], "colour": "red"},
        {"fields": [{"field": "a", "header": "x"}], "date_formats": ["dd/mm"]},
        {"fields": [{"field": "a", "header": "x"}], "declared_totals": {"fields": ["b"]}},
        {"fields": [{"field": "a", "header": "x"}], "schema": 99},
        {"fields": [{"field": "a", "header": "x"}], "file_type": "pdf"},
    ]
    for b in bad:
        with pytest.raises(ImportFileError) as ei:
            Template.from_dict(b)
        assert ei.value.code == "invalid_template", b


def test_invalid_default_is_a_template_error():
    t = Template(fields=[FieldMapping("a", header="x", parser="decimal", default="abc")])
    with pytest.raises(ImportFileError) as ei:
        map_rows(csv_src([["x"], ["1"]]), t)
    assert ei.value.code == "invalid_template"


# ---------------------------------------------------------------------------- spreadsheet cases ---

@pytest.mark.parametrize("background", [False, True])
def test_xlsx_formulas_merged_cells_and_leading_zeros(tmp_path, monkeypatch, background):
    """`background`: as for a big file, the dimension from the sheet's head and the merged ranges read when the
    message of an empty merged cell first needs them."""
    if background:
        monkeypatch.setattr(readers, "BACKGROUND_METADATA_BYTES", 0)
    rows = [["Código cliente", "Valor", "Fecha", "Periodo"],
            ["00042", 1500.25, dt.date(2026, 2, 1), "2026-02"],
            ["00043", None, dt.datetime(2026, 2, 2, 8, 0), 202602],
            [None, 10, None, None],
            [None, 20, None, None]]
    p = write_xlsx(tmp_path / "f.xlsx", {"Datos": rows},
                   formulas=[(2, 1, "=B2*2", "")],              # formula saved without a result
                   merges=[(3, 0, 4, 0, "00044")])              # A4:A5 merged vertically
    src = open_rows(p, background_metadata=background)
    m = map_rows(src, tpl())
    out = {r.row_number: r for r in m}
    assert out[2].values == {"account": "00042", "amount": Decimal("1500.25"), "issue_date": dt.date(2026, 2, 1),
                             "period": "2026-02"}
    assert out[3].values["issue_date"] == dt.date(2026, 2, 2) and out[3].values["period"] == "2026-02"
    [e] = out[3].errors
    assert e.field == "amount" and e.code == "required" and "fórmula" in e.message_es
    assert out[4].ok and out[4].values["account"] == "00044"
    [e] = out[5].errors
    assert e.field == "account" and "combinadas A4:A5" in e.message_es
    # fill_merged copies the top-left value down.
    m = map_rows(open_rows(p), tpl(fill_merged=True))
    out = {r.row_number: r for r in m}
    assert out[5].ok and out[5].values["account"] == "00044"


def test_xlsx_numeric_codes_with_zfill(tmp_path):
    p = write_xlsx(tmp_path / "z.xlsx", {"S": [["cuenta", "valor"], [42, 1], [7, 2]]})
    t = Template(fields=[FieldMapping("account", header="cuenta", zfill=6),
                         FieldMapping("amount", header="valor", parser="integer")])
    assert [r.values for r in map_rows(open_rows(p), t)] == [{"account": "000042", "amount": 1},
                                                              {"account": "000007", "amount": 2}]


def test_preview_reports_missing_columns_instead_of_raising(tmp_path):
    p = write_ods(tmp_path / "p.ods", {"Hoja1": [["Código cliente", "Fecha"]] + [[f"{i:03d}", "01/02/2026"]
                                                                                 for i in range(100)]})
    res = preview(p, "p.ods", tpl(), limit=10)
    assert res.missing_columns == ["valor"]
    assert res.header == ["Código cliente", "Fecha"]
    assert len(res.rows) == 10 and res.rows[0].values["account"] == "000"
    assert all(e.field == "amount" and e.code == "required" and "falta su columna" in e.message_es
               for e in res.errors)
    assert len(res.errors) == 10
    assert res.sheet_names == ["Hoja1"] and res.total_rows_estimate == 101


def test_preview_wrong_sheet_raises(tmp_path):
    p = write_xlsx(tmp_path / "w.xlsx", {"Datos": [["a"]]})
    with pytest.raises(ImportFileError) as ei:
        preview(p, "w.xlsx", tpl(sheet="Consumos"))
    assert ei.value.code == "sheet_not_found" and "«Datos»" in ei.value.message_es


def test_open_for_template_uses_template_options():
    data = "a|b\n1|2\n".encode("latin-1")
    t = Template(fields=[FieldMapping("x", header="a")], delimiter="|", encoding="latin-1")
    src = open_for_template(io.BytesIO(data), "d.txt", t)
    assert src.delimiter == "|" and src.encoding == "iso8859-1"
    assert [r.values for r in map_rows(src, t)] == [{"x": "1"}]


def test_generated_fast_path_matches_general_path(tmp_path, monkeypatch):
    """Clean rows go through generated code; the general loop must give the same values."""
    from facturador.tabular import mapping

    rows = [["Código cliente", "Valor", "Fecha", "Periodo", "Nota"],
            ["0001", 1234.5, dt.date(2026, 1, 5), 202601, None],
            ["0002", 0, dt.datetime(2026, 1, 6, 7, 0), "2026-02", "x"],
            ["0003", "1.234,56", "07/01/2026", "03/2026", None]]
    xlsx = write_xlsx(tmp_path / "s.xlsx", {"S": rows})
    csv_data = csv_bytes([[("" if c is None else str(c)) for c in r] for r in
                          [rows[0], ["0001", "1.234,5", "05/01/2026", "2026-01", ""], ["0002", "0", "", "2026-02", "x"]]],
                         delimiter=";")
    t = tpl(fields=tpl().fields + [FieldMapping("note", header="nota", default="-")])

    def run():
        a = [r.values for r in map_rows(open_rows(xlsx), t)]
        b = [r.values for r in map_rows(open_rows(io.BytesIO(csv_data), "d.csv"), t)]
        return a, b

    fast = run()

    def never(plan, spreadsheet):
        def f(row):
            raise mapping._Slow
        return f
    monkeypatch.setattr(mapping, "_compile_fast", never)
    slow = run()
    assert fast == slow
    assert fast[0][1]["amount"] == Decimal("0") and fast[0][0]["note"] == "-"
    assert fast[1][1]["issue_date"] is None


def test_header_only_file_maps_nothing_and_is_ok():
    m = map_rows(csv_src([HEADER]), tpl())
    assert list(m) == [] and m.stats.ok and m.stats.data_rows == 0


def test_duplicate_header_uses_first_and_warns():
    t = Template(fields=[FieldMapping("amount", header="valor", parser="integer")])
    m = map_rows(csv_src([["Valor", "VALOR"], ["1", "2"]]), t)
    assert [r.values for r in m] == [{"amount": 1}]
    assert m.stats.warnings and "columnas A y B" in m.stats.warnings[0]


def test_fast_path_decimals_are_the_parsers_digit_for_digit(tmp_path, monkeypatch):
    # The generated fast path parses plain decimal cells itself (text and spreadsheet numbers): same values
    # and the same exponent (what a COPY writes) as the parser, including rounding to the column's places.
    from facturador.tabular import mapping

    t = Template(fields=[FieldMapping("ref", header="ref", required=True),
                         FieldMapping("amount", header="valor", parser="decimal", decimal_places=2),
                         FieldMapping("qty", header="cantidad", parser="decimal")])
    rows = [["ref", "valor", "cantidad"], ["a", 2.005, 617.0], ["b", 12.5, 0.125], ["c", -3.0, 1e-7],
            ["d", "1.234,5", "7,25"], ["e", "12,345", "0012"], ["f", "12,34", "-3"]]
    xlsx = write_xlsx(tmp_path / "n.xlsx", {"S": rows})
    csv_data = csv_bytes([[str(c) if c.__class__ is str else str(c).replace(".", ",") for c in r] for r in rows],
                         delimiter=";")

    def run():
        return [[{k: str(v) for k, v in r.values.items()} for r in map_rows(src, t)]
                for src in (open_rows(xlsx), open_rows(io.BytesIO(csv_data), "d.csv"))]

    fast = run()
    monkeypatch.setattr(mapping, "_compile_fast", lambda plan, spreadsheet: lambda row: (_ for _ in ()).throw(mapping._Slow))
    assert fast == run()
    assert fast[0][0]["amount"] == "2.01" and fast[1][4]["amount"] == "12.35" and fast[0][2]["qty"] == "1E-7"
