"""The proposal engine (tabular.suggest), the rules (tabular.rules) and the dry run (tabular.validate)."""

from decimal import Decimal

from facturador.tabular import FieldSpec, Template, read_sample, suggest, validate_file
from facturador.tabular.tests.builders import write_telecom_xlsx

CATALOG = [
    FieldSpec("service_line", "Línea", "phone", ("linea", "numero de linea", "celular")),
    FieldSpec("reference", "Cuenta", "text", ("cuenta", "referencia"), required=True),
    FieldSpec("minutes", "Minutos", "decimal", ("minutos",), rules={"non_negative": True}),
    FieldSpec("net_amount", "Valor sin IVA", "decimal", ("valor sin iva", "subtotal")),
    FieldSpec("iva_amount", "IVA", "decimal", ("iva", "valor iva")),
    FieldSpec("amount", "Valor total", "decimal", ("valor total", "total")),
    FieldSpec("cut_date", "Fecha de corte", "date", ("fecha corte", "fecha de corte"), rules={"period_days": 31}),
]
SUM = {"kind": "sum", "fields": ["net_amount", "iva_amount"], "equals": "amount", "tolerance": "1"}


def test_telecom_sample_header_totals_and_fields(tmp_path):
    path = write_telecom_xlsx(tmp_path / "consumo.xlsx")
    s = suggest(read_sample(path, "consumo.xlsx"), CATALOG, checks=[SUM])
    assert (s.header_row, s.totals_row, s.sheet) == (4, 11, "Detalle")
    by = {c.header: c for c in s.columns}
    assert by["Línea"].field == "service_line" and by["Línea"].parser == "phone"
    assert by["Minutos"].rules == {"non_negative": True}
    assert by["Centro de costo"].field == "extra.centro_de_costo" and by["SMS"].parser == "integer"
    assert s.template()["checks"] == [SUM]


def test_every_defect_of_the_telecom_file_is_reported(tmp_path):
    path = write_telecom_xlsx(tmp_path / "consumo.xlsx")
    t = Template.from_dict(suggest(read_sample(path, "consumo.xlsx"), CATALOG, checks=[SUM]).template())
    r = validate_file(path, "consumo.xlsx", t, period="2026-10")
    found = {(e["row"], e["column"], e["code"]) for e in r["errors"]}
    assert found == {(5, "K", "invalid_number"), (6, "L", "invalid_date"), (7, "A", "phone_invalid"),
                     (8, "F", "negative")}
    assert (r["rows_read"], r["rows_valid"]) == (6, 2)
    assert next(e for e in r["errors"] if e["code"] == "negative")["header"] == "Minutos"


def test_sum_check_and_period_window():
    import io
    t = Template.from_dict({"fields": [
        {"field": "net_amount", "header": "Neto", "parser": "decimal"},
        {"field": "iva_amount", "header": "IVA", "parser": "decimal"},
        {"field": "amount", "header": "Total", "parser": "decimal"},
        {"field": "cut_date", "header": "Corte", "parser": "date", "rules": {"period_days": 5}}], "checks": [SUM]})
    data = "Neto;IVA;Total;Corte\n100;19;119,5;30/10/2026\n100;19;130;30/10/2026\n1;0;1;15/12/2026\n"
    r = validate_file(io.BytesIO(data.encode()), "x.csv", t, period="2026-10")
    assert [(e["row"], e["code"]) for e in r["errors"]] == [(3, "sum_mismatch"), (4, "date_outside_period")]
    assert r["totals"]["amount"] == str(Decimal("119.5"))


def test_dot_decimal_file_and_unknown_rule_refused():
    from facturador.tabular import ImportFileError, Sample
    s = suggest(Sample.from_rows([["Cuenta", "Valor total"], ["1", "1,234.50"], ["2", "12.75"]]), CATALOG)
    assert (s.decimal_separator, s.thousands_separator) == (".", ",")
    try:
        Template.from_dict({"fields": [{"field": "x", "header": "X", "rules": {"bogus": 1}}]})
    except ImportFileError as exc:
        assert exc.code == "invalid_template" and "bogus" in exc.message_es
    else:
        raise AssertionError("unknown rule accepted")


def test_header_found_above_sparse_first_rows():
    from facturador.tabular import Sample
    rows = [["Registro de cuentas"], ["Cuenta", "Minutos", "Valor total", "Plan", "Centro", "Correo"],
            ["001", None, "10,00"], ["002", 3, "12,00", "Plan A", "Ventas", "a@b.co"]]
    assert suggest(Sample.from_rows(rows), CATALOG).header_row == 2


def test_sample_comes_from_the_data_sheet_not_a_cover_sheet_before_it(tmp_path):
    from facturador.tabular.tests.builders import telecom_rows, write_xlsx

    path = write_xlsx(tmp_path / "consumo.xlsx", {"Resumen": [["El detalle está en la hoja siguiente"]],
                                                   "Detalle Oct-26": telecom_rows()})
    s = suggest(read_sample(path, "consumo.xlsx"), CATALOG, checks=[SUM])
    assert (s.sheet, s.header_row) == ("Detalle Oct-26", 4)


def test_a_template_whose_sheet_was_renamed_reads_the_sheet_with_its_headers(tmp_path):
    from facturador.tabular.tests.builders import telecom_rows, write_xlsx

    september = write_xlsx(tmp_path / "sep.xlsx", {"Resumen": [["Resumen"]], "Detalle Sep-26": telecom_rows()})
    t = Template.from_dict(suggest(read_sample(september, "sep.xlsx"), CATALOG, checks=[SUM]).template())
    october = write_xlsx(tmp_path / "oct.xlsx", {"Resumen": [["Resumen", "de", "octubre"]],
                                                 "Detalle Oct-26": telecom_rows()})
    r = validate_file(october, "oct.xlsx", t, period="2026-10")
    assert (r["sheet"], r["rows_read"]) == ("Detalle Oct-26", 6)
    assert any("«Detalle Sep-26»" in w and "«Detalle Oct-26»" in w for w in r["warnings"])


def test_a_renamed_sheet_is_not_guessed_when_no_sheet_has_the_template_headers(tmp_path):
    import pytest

    from facturador.tabular import ImportFileError
    from facturador.tabular.tests.builders import telecom_rows, write_xlsx

    september = write_xlsx(tmp_path / "sep.xlsx", {"Detalle Sep-26": telecom_rows()})
    t = Template.from_dict(suggest(read_sample(september, "sep.xlsx"), CATALOG, checks=[SUM]).template())
    other = write_xlsx(tmp_path / "otro.xlsx", {"Hoja1": [["Cuenta", "Valor"], ["1", 2]]})
    with pytest.raises(ImportFileError) as e:
        validate_file(other, "otro.xlsx", t, period="2026-10")
    assert e.value.code == "sheet_not_found"


def test_a_header_moved_by_a_title_line_more_or_less_is_found_with_a_warning(tmp_path):
    from facturador.tabular.tests.builders import telecom_rows, write_xlsx

    october = write_xlsx(tmp_path / "oct.xlsx", {"Detalle": telecom_rows()})
    t = Template.from_dict(suggest(read_sample(october, "oct.xlsx"), CATALOG, checks=[SUM]).template())
    assert t.header_row == 4
    more = write_xlsx(tmp_path / "nov.xlsx", {"Detalle": [["Cliente: Alumbrado"], *telecom_rows()]})
    fewer = write_xlsx(tmp_path / "dic.xlsx", {"Detalle": telecom_rows()[1:]})
    for path, header_at in ((more, 5), (fewer, 3)):
        r = validate_file(path, path.name, t, period="2026-10")
        assert (r["rows_read"], r["rows_valid"]) == (6, 2), path.name
        assert {e["row"] for e in r["errors"]} == {header_at + 1, header_at + 2, header_at + 3, header_at + 4}
        assert any(f"fila {header_at} y no en la fila 4" in w for w in r["warnings"])


def _sample(*rows):
    from facturador.tabular import Sample

    return Sample(rows=list(enumerate(rows, start=1)))


def test_a_header_led_by_valor_is_a_value_not_a_usage():
    """«Valor consumo» names money (Spanish puts the head noun first); the catalog's usage field must not take it."""
    catalog = [FieldSpec("reference", "Cuenta", "text", ("cuenta",), required=True),
               FieldSpec("quantity", "Cantidad", "decimal", ("cantidad", "consumo"), money=False),
               FieldSpec("amount", "Valor total", "decimal", ("valor total", "valor"))]
    s = suggest(_sample(("Cuenta", "Valor consumo", "Consumo", "Valor total"),
                        ("001", "$ 1.000,00", "12", "$ 1.190,00"), ("002", "$ 2.000,00", "30", "$ 2.380,00")), catalog)
    by = {c.header: c.field for c in s.columns}
    assert by == {"Cuenta": "reference", "Valor consumo": "extra.valor_consumo", "Consumo": "quantity",
                  "Valor total": "amount"}


def test_a_usage_in_another_unit_is_an_extra_usage_not_the_quantity():
    """«Consumo datos (GB)»: «consumo» made it the Cantidad (12.5 × 4,304 on the invoice); the catalog keeps data in
    MB, so the column stays the operator's figure, as a typed extra attribute that cannot be negative."""
    catalog = [FieldSpec("reference", "Cuenta", "text", ("cuenta",), required=True),
               FieldSpec("quantity", "Cantidad", "decimal", ("cantidad", "consumo"), money=False),
               FieldSpec("data_mb", "Datos (MB)", "decimal", ("datos mb", "consumo datos"), money=False,
                         other_units=("gb", "kb")),
               FieldSpec("amount", "Valor total", "decimal", ("valor total",))]
    s = suggest(_sample(("Cuenta", "Consumo datos (GB)", "Valor total"), ("001", "12,5", "53.800"),
                        ("002", "3,2", "53.800")), catalog)
    gb = s.columns[1]
    assert (gb.field, gb.parser, gb.rules) == ("extra.consumo_datos_gb", "decimal", {"non_negative": True})


def test_a_column_of_phone_lines_without_a_known_header_is_the_service_line():
    """Colombian operators head the mobile number «MIN»: its values are phone lines, so it is the service line."""
    catalog = [FieldSpec("reference", "Cuenta", "text", ("cuenta",), required=True),
               FieldSpec("service_line", "Línea", "text", ("linea",), parser_by_kind={"phone": "phone"}),
               FieldSpec("amount", "Valor total", "decimal", ("valor total",))]
    s = suggest(_sample(("Cuenta", "MIN", "Celular contacto", "Valor total"),
                        ("88001", "3001112233", "3109998877", "11.900"),
                        ("88001", "3001112234", "3109998877", "11.900")), catalog)
    assert [(c.field, c.parser) for c in s.columns[1:3]] == [("service_line", "phone"), ("extra.celular_contacto", "text")]


def test_a_percent_sign_in_a_header_makes_it_the_rate():
    """«% IVA» lost its sign in the comparison key and took the IVA value field, leaving the «IVA» column of amounts
    an extra attribute (and every «19%» an invalid number)."""
    catalog = [FieldSpec("reference", "Cuenta", "text", ("cuenta",), required=True),
               FieldSpec("iva_rate", "Tarifa IVA (%)", "percent", ("tarifa iva", "porcentaje iva")),
               FieldSpec("iva_amount", "IVA", "decimal", ("iva", "valor iva"))]
    s = suggest(_sample(("Cuenta", "% IVA", "IVA"), ("001", "19%", "$ 9.500"), ("002", "19%", "$ 2.280")), catalog)
    assert [c.field for c in s.columns] == ["reference", "iva_rate", "iva_amount"]


def test_a_header_in_two_columns_is_mapped_by_letter_and_total_beats_valor():
    """«VALOR» twice: both proposed fields read the first column (the second's figures silently replaced), and the
    net «VALOR» took the amount from «TOTAL» (the invoice would have billed without IVA)."""
    catalog = [FieldSpec("reference", "Cuenta", "text", ("cuenta",), required=True),
               FieldSpec("amount", "Valor total", "decimal", ("valor total", "total", "valor"))]
    s = suggest(_sample(("CUENTA", "VALOR", "VALOR", "TOTAL"), ("1", "1.000", "500", "1.190"),
                        ("2", "2.000", "0", "2.380")), catalog)
    fields = s.template()["fields"]
    assert [(f["field"], f.get("header"), f.get("position")) for f in fields] == [
        ("reference", "CUENTA", None), ("extra.valor", None, "B"), ("extra.valor_", None, "C"), ("amount", "TOTAL", None)]


def test_a_date_range_is_not_its_first_date():
    """«01/08/2026 - 31/08/2026» was proposed as a date and imported as 2026-08-01, the end silently dropped: it is a
    period (the catalog's date_range field takes it, whatever its header), or text when the catalog has none."""
    rows = (("Cuenta", "Fechas"), ("001", "01/08/2026 - 31/08/2026"), ("002", "del 01/08/2026 al 31/08/2026"))
    catalog = [FieldSpec("reference", "Cuenta", "text", ("cuenta",), required=True)]
    s = suggest(_sample(*rows), catalog)
    assert (s.columns[1].kind, s.columns[1].field, s.columns[1].parser) == ("date_range", "extra.fechas", "text")
    s = suggest(_sample(*rows), catalog + [FieldSpec("usage_period", "Periodo", "date_range", ("periodo",))])
    assert (s.columns[1].field, s.columns[1].parser) == ("usage_period", "date_range")


def test_dates_with_month_names_are_recognised_and_read():
    from facturador.tabular.parsers import make_parser

    catalog = [FieldSpec("reference", "Cuenta", "text", ("cuenta",), required=True),
               FieldSpec("cut_date", "Fecha de corte", "date", ("fecha corte",))]
    s = suggest(_sample(("Cuenta", "Fecha corte"), ("001", "31-oct-2026"), ("002", "30-Sep-26")), catalog)
    assert s.columns[1].kind == "date" and s.date_formats[:2] == ["dd-mmm-yyyy", "dd-mmm-yy"]
    parse = make_parser("date", date_formats=s.date_formats)
    assert [str(parse(v)) for v in ("31-oct-2026", "30-Sep-26", "5 de octubre de 2026")] == [
        "2026-10-31", "2026-09-30", "2026-10-05"]


def test_dates_in_the_us_order_are_proposed_as_such_only_when_the_sample_proves_it():
    catalog = [FieldSpec("reference", "Cuenta", "text", ("cuenta",), required=True),
               FieldSpec("cut_date", "Fecha de corte", "date", ("fecha corte",))]
    us = suggest(_sample(("Cuenta", "Fecha corte"), ("001", "10/31/2026"), ("002", "10/01/2026")), catalog)
    ours = suggest(_sample(("Cuenta", "Fecha corte"), ("001", "10/01/2026"), ("002", "11/01/2026")), catalog)
    assert (us.date_formats[0], ours.date_formats[0]) == ("mm/dd/yyyy", "dd/mm/yyyy")


def test_dotted_dates_and_two_digit_years_are_recognised_and_read():
    """«30.09.2026» (SAP and European exports) and «30/09/26» (a spreadsheet's short date) were text."""
    from facturador.tabular.parsers import make_parser

    catalog = [FieldSpec("reference", "Cuenta", "text", ("cuenta",), required=True),
               FieldSpec("cut_date", "Fecha de corte", "date", ("fecha corte",))]
    for values, fmt in ((("30.09.2026", "29.09.2026 00:00"), "dd.mm.yyyy"), (("30/09/26", "29/09/26"), "dd/mm/yy")):
        s = suggest(_sample(("Cuenta", "Fecha corte"), ("001", values[0]), ("002", values[1])), catalog)
        assert s.columns[1].kind == "date" and s.date_formats[0] == fmt
        parse = make_parser("date", date_formats=s.date_formats)
        assert [str(parse(v)) for v in values] == ["2026-09-30", "2026-09-29"]


def test_two_header_rows_take_the_merged_cells_above_by_position():
    """«Línea» and «Cuenta» merged down over the row of sub-headers «Minutos», «Total»: found in the row above."""
    from facturador.tabular import Template

    catalog = [FieldSpec("reference", "Cuenta", "text", ("cuenta",), required=True),
               FieldSpec("minutes", "Minutos", "decimal", ("minutos",)),
               FieldSpec("amount", "Valor total", "decimal", ("total",))]
    s = suggest(_sample(("Cuenta", "Consumo", "Valores"), (None, "Minutos", "Total"), ("001", "10", "1.190"),
                        ("002", "3", "595")), catalog)
    assert s.header_row == 2 and [c.field for c in s.columns] == ["reference", "minutes", "amount"]
    fields = s.template()["fields"]
    assert (fields[0].get("position"), fields[0].get("header"), fields[1]["header"]) == ("A", None, "Minutos")
    Template.from_dict(s.template())  # a valid template


def test_subtotal_rows_are_not_sample_data():
    catalog = [FieldSpec("reference", "Cuenta", "text", ("cuenta",), required=True),
               FieldSpec("amount", "Valor total", "decimal", ("valor total",))]
    s = suggest(_sample(("Cuenta", "Valor total"), ("001", "1.000"), ("Subtotal cuenta 001", "1.000"), ("002", "5"),
                        ("Total general", "1.005")), catalog)
    assert s.columns[0].samples == ["001", "002"] and s.totals_row == 5


def test_a_total_row_with_lines_after_it_is_a_subtotal():
    catalog = [FieldSpec("reference", "Cuenta", "text", ("cuenta",), required=True),
               FieldSpec("amount", "Valor total", "decimal", ("valor total",))]
    s = suggest(_sample(("Cuenta", "Valor total"), ("001", "1.000"), ("Total cuenta 001", "1.000"), ("002", "5"),
                        ("003", "7"), ("Total factura", "1.012")), catalog)
    assert s.columns[0].samples == ["001", "002", "003"] and s.totals_row == 6


def test_a_line_whose_label_starts_with_total_stays_sample_data_when_it_has_other_words():
    """As in the engine (tabular.mapping.is_subtotal): an account «Total Colombia SA» with its address is a line."""
    catalog = [FieldSpec("reference", "Cuenta", "text", ("cuenta",), required=True),
               FieldSpec("address", "Dirección", "text", ("direccion",))]
    s = suggest(_sample(("Cuenta", "Dirección"), ("Total Colombia SA", "Cra 7"), ("Subtotal zona", ""),
                        ("Ana", "Cl 1")), catalog)
    assert s.columns[0].samples == ["Total Colombia SA", "Ana"]
