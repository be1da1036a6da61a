"""Typed lines: a telecom "Detalle de consumo" mapped from a proposal, every defect reported, each valid row
kept as a typed line next to its charge, and reconciliation at the level of the service line."""

from decimal import Decimal

import pytest

from facturador.billing.models import Charge
from facturador.imports import pipeline
from facturador.imports.models import Line
from facturador.imports.tests.conftest import import_file, make_template
from facturador.tabular.suggest import Sample
from facturador.tabular.tests.builders import telecom_rows, write_telecom_xlsx


def telecom_template(issuer, operator, **kw):
    mapping = pipeline.propose(Sample.from_rows(telecom_rows())).template(name="Detalle")
    return make_template(issuer, operator, "Detalle", mapping=pipeline.normalize_mapping(mapping), **kw)


def test_proposal_maps_the_twelve_columns():
    mapping = pipeline.propose(Sample.from_rows(telecom_rows())).template()
    assert [f["field"] for f in mapping["fields"]] == [
        "service_line", "reference", "cost_center", "plan", "concept", "minutes", "data_mb", "sms", "net_amount",
        "iva_amount", "amount", "cut_date"]
    assert mapping["header_row"] == 4 and mapping["checks"][0]["fields"] == ["net_amount", "iva_amount"]


def test_usage_in_another_unit_is_not_proposed_as_minutes_or_megabytes():
    """«Consumo datos (GB)» as MB would understate each line 1,024 times, «Voz (segundos)» as minutes 60 times."""
    sample = Sample.from_rows([("Cuenta", "Consumo datos (GB)", "Voz (segundos)", "Datos (MB)", "Valor"),
                               ("0001", "1,5", "120", "1536", "1.000,00")])
    fields = {f["header"]: f["field"] for f in pipeline.propose(sample).template()["fields"]}
    assert fields["Datos (MB)"] == "data_mb" and "minutes" not in fields.values()
    assert fields["Consumo datos (GB)"] != "data_mb" and fields["Voz (segundos)"] == "extra.voz_segundos"


PERIOD_ROWS = [("Cuenta", "Línea", "Periodo facturado", "Valor total"),
               ("0001", "3104567890", "01/09/2026 - 30/09/2026", "53.800,00"),
               ("0001", "3104567891", "del 01/09/2026 al 30/09/2026", "35.700,00"),
               ("0002", "3157654321", "30/09/2026 - 01/09/2026", "11.900,00")]


@pytest.mark.django_db
def test_a_usage_period_in_one_cell_fills_both_usage_dates(issuer_co, operator, admin_co, client):
    """«01/09/2026 - 30/09/2026» in one column: proposed as the usage period, kept as the lines' usage from and to
    (it was read as its first date, the end dropped); a period that ends before it starts is the row's error."""
    import csv
    import io

    mapping = pipeline.propose(Sample.from_rows(PERIOD_ROWS)).template(name="Periodos")
    assert [(f["field"], f["parser"]) for f in mapping["fields"]][2] == ("usage_period", "date_range")
    tpl = make_template(issuer_co, operator, "Periodos", mapping=pipeline.normalize_mapping(mapping))
    buf = io.StringIO()
    csv.writer(buf, delimiter=";").writerows(PERIOD_ROWS)
    imp = import_file(issuer_co, operator, tpl, "periodos.csv", buf.getvalue().encode())
    assert sorted(imp.row_errors.values_list("row_number", "column", "code")) == [(4, "C", "invalid_date_range")]
    got = {(line.usage_from.isoformat(), line.usage_to.isoformat()) for line in Line.objects.filter(source_import_id=imp.pk)}
    assert got == {("2026-09-01", "2026-09-30")} and imp.rows_valid == 2
    client.force_login(admin_co)
    assert "01/09/2026 – 30/09/2026" in client.get("/importaciones/lineas/").content.decode()  # the Líneas screen


def test_a_usage_period_and_its_dates_are_not_mapped_twice():
    mapping = pipeline.propose(Sample.from_rows(PERIOD_ROWS)).template()
    mapping["fields"].append({"field": "usage_from", "header": "Desde", "parser": "date"})
    with pytest.raises(pipeline.MappingInvalid) as refused:
        pipeline.normalize_mapping(mapping)
    assert refused.value.code == "imports.mapping.usage_period_twice"


@pytest.mark.django_db
def test_telecom_file_typed_lines_charges_and_defects(issuer_co, operator, tmp_path):
    tpl = telecom_template(issuer_co, operator)
    data = write_telecom_xlsx(tmp_path / "c.xlsx", n=8).read_bytes()
    imp = import_file(issuer_co, operator, tpl, "consumo.xlsx", data)
    assert (imp.rows_valid, imp.rows_invalid) == (4, 4)
    assert sorted(imp.row_errors.values_list("row_number", "column", "code")) == [
        (5, "K", "invalid_number"), (6, "L", "invalid_date"), (7, "A", "phone_invalid"), (8, "F", "negative")]
    line = Line.objects.get(source_import_id=imp.pk, row_number=9)
    assert (line.service_line, line.reference, line.cost_center, line.minutes, line.iva_amount) == (
        "3100000004", "00102", "Gerencia", Decimal("124.00"), Decimal("2280.00"))
    assert line.cut_date.isoformat() == "2026-10-31" and line.period == "2026-10"
    assert Charge.objects.filter(source_import_id=imp.pk).count() == 4
    # several lines of one account are not duplicates (account + line + concept + cut date)
    assert imp.reconciliation["duplicates"]["count"] == 0


@pytest.mark.django_db
def test_telecom_csv_typed_lines_charges_and_defects(issuer_co, operator):
    """The same file as CSV: on PostgreSQL its clean rows take the fast path (fastlines), with the same result."""
    import csv
    import io

    from django.db import connection

    tpl = telecom_template(issuer_co, operator)
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";")
    for row in telecom_rows(8):
        writer.writerow(["" if c is None else f"{c:.2f}".replace(".", ",") if isinstance(c, float) else c
                         for c in row])
    imp = import_file(issuer_co, operator, tpl, "consumo.csv", text.getvalue().encode())
    assert (imp.rows_valid, imp.rows_invalid) == (4, 4)
    assert sorted(imp.row_errors.values_list("row_number", "column", "code")) == [
        (5, "K", "invalid_number"), (6, "L", "invalid_date"), (7, "A", "phone_invalid"), (8, "F", "negative")]
    line = Line.objects.get(source_import_id=imp.pk, row_number=9)
    assert (line.service_line, line.reference, line.cost_center, line.minutes, line.iva_amount, line.amount) == (
        "3100000004", "00102", "Gerencia", Decimal("124.00"), Decimal("2280.00"), Decimal("14280.00"))
    assert line.cut_date.isoformat() == "2026-10-31" and line.account_id is None
    assert imp.amount_total == sum(Charge.objects.filter(source_import_id=imp.pk).values_list("amount", flat=True))
    assert imp.reconciliation["duplicates"]["count"] == 0
    assert imp.job.result["fast_lines"] == (4 if connection.vendor == "postgresql" else 0)


@pytest.mark.django_db
def test_service_lines_new_gone_and_changed(issuer_co, operator, tmp_path):
    tpl = telecom_template(issuer_co, operator, change_threshold=Decimal("10"))
    first = write_telecom_xlsx(tmp_path / "a.xlsx", n=6, defects=False).read_bytes()
    import_file(issuer_co, operator, tpl, "sep.xlsx", first, period="2026-09")
    rows = telecom_rows(6, defects=False)
    rows[4][0] = "3209999999"                     # a new line instead of 3100000000
    rows[5][8], rows[5][9], rows[5][10] = 20000.0, 3800.0, 23800.0   # 3100000001 doubles
    from facturador.tabular.tests.builders import write_xlsx
    second = write_xlsx(tmp_path / "b.xlsx", {"Detalle": rows}).read_bytes()
    s = import_file(issuer_co, operator, tpl, "oct.xlsx", second).reconciliation["service_lines"]
    assert (s["previous_lines"], s["new"], s["gone"], s["changed"]) == (6, 1, 1, 1)
    assert s["new_items"][0]["line"] == "3209999999" and s["changed_items"][0]["line"] == "3100000001"


@pytest.mark.django_db
def test_service_lines_summed_when_a_line_is_on_two_rows(issuer_co, operator, tmp_path):
    from facturador.tabular.tests.builders import write_xlsx

    tpl = telecom_template(issuer_co, operator, change_threshold=Decimal("10"))
    rows = telecom_rows(6, defects=False)
    rows[9][0], rows[9][4] = rows[5][0], "Roaming"  # 3100000001 twice in September (12495 + 14875)
    sep = import_file(issuer_co, operator, tpl, "sep.xlsx", write_xlsx(tmp_path / "a.xlsx", {"Detalle": rows}).read_bytes(),
                      period="2026-09")
    oct_ = import_file(issuer_co, operator, tpl, "oct.xlsx",
                       write_xlsx(tmp_path / "b.xlsx", {"Detalle": telecom_rows(6, defects=False)}).read_bytes())
    s = oct_.reconciliation["service_lines"]
    assert (sep.reconciliation["service_lines"]["unique_lines"], s["unique_lines"]) == (False, True)
    assert (s["previous_lines"], s["new"], s["gone"], s["changed"]) == (5, 1, 0, 1)
    assert s["changed_items"][0] == {"line": "3100000001", "previous": "27370.00", "current": "12495.00",
                                     "change_pct": "-54.35"}


@pytest.mark.django_db
def test_lines_api_filters_totals_export_and_screen(issuer_co, operator, tmp_path, api_client, admin_co, client):
    from facturador.tabular import open_rows

    tpl = telecom_template(issuer_co, operator)
    imp = import_file(issuer_co, operator, tpl, "c.xlsx", write_telecom_xlsx(tmp_path / "c.xlsx", n=8).read_bytes())
    api_client.force_authenticate(admin_co)
    base = f"/api/v1/issuers/{issuer_co.pk}/imports/lines"
    errors = api_client.get(f"/api/v1/issuers/{issuer_co.pk}/imports/jobs/{imp.pk}/errors/", {"fmt": "json"}).data
    assert errors["errors"][0] == {"row": 5, "column": "K", "header": "Valor total", "value": "N/A",
                                   "code": "invalid_number", "message": errors["errors"][0]["message"]}
    r = api_client.get(f"{base}/", {"import_id": imp.pk, "account": "00102"})
    assert r.status_code == 200 and [x["service_line"] for x in r.data["results"]] == ["3100000004", "3100000005"]
    assert r.data["results"][0]["amount"] == "14280.00" and r.data["results"][0]["extra"] == {}
    t = api_client.get(f"{base}/totals/", {"cost_center": "Gerencia"}).data
    assert t["lines"] == 2 and t["amount"] == "29750.00" and t["minutes"] == "250"
    (tmp_path / "lineas.xlsx").write_bytes(b"".join(api_client.get(f"{base}/export/").streaming_content))
    with open_rows(tmp_path / "lineas.xlsx") as rows:
        table = list(rows)
    assert len(table) == 5 and table[0][4] == "Línea" and table[1][19] == 14280
    client.force_login(admin_co)
    page = client.get("/importaciones/lineas/", {"service_line": "3100000004"}).content.decode()
    assert "3100000004" in page and "3100000005" not in page and "Exportar a Excel" in page
    mapping = pipeline.propose(Sample.from_rows(telecom_rows())).template(name="Con centro")
    del mapping["fields"][2]["label"]
    mapping["fields"][2]["field"] = "extra.centro"  # "Centro de costo" kept as an extra attribute
    tpl2 = make_template(issuer_co, operator, "Con centro", mapping=pipeline.normalize_mapping(mapping))
    import_file(issuer_co, operator, tpl2, "c2.xlsx", write_telecom_xlsx(tmp_path / "c2.xlsx", n=8).read_bytes(),
                period="2026-11", force=True)
    page = client.get("/importaciones/lineas/", {"attr_name": "centro", "attr_value": "Ventas"}).content.decode()
    assert page.count("centro: Ventas") == 2 and "centro: Gerencia" not in page


@pytest.mark.django_db
def test_account_page_shows_its_lines_and_charges_by_period(issuer_co, operator, tmp_path, admin_co, client):
    from facturador.billing.models import Account

    account = Account.objects.create(issuer=issuer_co, reference="00102", holder_name="Titular 102")
    tpl = telecom_template(issuer_co, operator)
    import_file(issuer_co, operator, tpl, "c.xlsx", write_telecom_xlsx(tmp_path / "c.xlsx", n=8).read_bytes())
    client.force_login(admin_co)
    page = client.get(f"/facturacion/cuentas/{account.pk}/").content.decode()
    assert 'id="account-lines"' in page and "2026-10" in page and "3100000005" in page and "Cargo básico" in page


@pytest.mark.django_db
def test_visual_mapper_proposes_previews_errors_and_saves_a_version(issuer_co, admin_co, client, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from facturador.imports.models import ImportTemplate

    client.force_login(admin_co)
    data = write_telecom_xlsx(tmp_path / "c.xlsx").read_bytes()
    base = {"operator_code": "movil", "operator_name": "Operador Móvil", "name": "Detalle", "period": "2026-10",
            "change_threshold": "30", "duplicate_key": ["reference", "service_line", "concept", "cut_date"]}
    r = client.post("/importaciones/plantillas/mapear/", {**base, "sample": SimpleUploadedFile("c.xlsx", data)})
    ctx = r.context
    assert ctx["proposal"].header_row == 4 and ctx["proposal"].totals_row == 11
    assert [e["code"] for e in ctx["preview"]["errors_detail"]] == ["invalid_number", "invalid_date", "phone_invalid",
                                                                    "negative"]
    assert 'class="cell-error">N/A<' in r.content.decode()
    post = {**base, "token": ctx["token"], "sample_name": ctx["sample_name"], "header_row": "4", "save": "1"}
    for c in ctx["columns"]:
        post.update({f"c{c['i']}_field": c["field"], f"c{c['i']}_parser": c["parser"]})
    post["c2_field"] = ""  # the user drops "Centro de costo"
    r = client.post("/importaciones/plantillas/mapear/", post)
    assert r.status_code == 302
    tpl = ImportTemplate.objects.get(operator__code="MOVIL", name="Detalle")
    fields = [f["field"] for f in tpl.mapping["fields"]]
    assert "cost_center" not in fields and "service_line" in fields and tpl.version == 1
    assert tpl.duplicate_key == ["reference", "service_line", "concept", "cut_date"]
    assert [f["rules"] for f in tpl.mapping["fields"] if f["field"] == "minutes"] == [None]  # no rule posted


@pytest.mark.django_db
def test_api_suggest_saves_a_template_for_a_new_operator(issuer_co, api_client, admin_co, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    api_client.force_authenticate(admin_co)
    data = write_telecom_xlsx(tmp_path / "c.xlsx").read_bytes()
    r = api_client.post(f"/api/v1/issuers/{issuer_co.pk}/imports/templates/suggest/",
                        {"file": SimpleUploadedFile("c.xlsx", data), "operator": "claro", "name": "Detalle",
                         "save": "true"}, format="multipart")
    assert r.status_code == 200 and r.data["proposal"]["totals_row"] == 11
    assert r.data["template"]["version"] == 1 and r.data["template"]["duplicate_key"] == []
    assert r.data["mapping"]["checks"][0]["equals"] == "amount"


@pytest.mark.django_db
def test_duplicates_by_the_template_key(issuer_co, operator, tmp_path):
    tpl = telecom_template(issuer_co, operator, duplicate_key=["reference", "concept"])
    imp = import_file(issuer_co, operator, tpl, "c.xlsx", write_telecom_xlsx(tmp_path / "c.xlsx", n=8).read_bytes())
    d = imp.reconciliation["duplicates"]
    assert d["key"] == ["reference", "concept"] and (d["count"], d["lines"]) == (2, 4)  # accounts 00102 and 00103


@pytest.mark.django_db
def test_duplicates_query_skipped_when_no_two_keys_are_equal(issuer_co, operator, tmp_path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    tpl = telecom_template(issuer_co, operator)
    with CaptureQueriesContext(connection) as ctx:
        imp = import_file(issuer_co, operator, tpl, "c.xlsx", write_telecom_xlsx(tmp_path / "c.xlsx", n=8).read_bytes())
    assert imp.reconciliation["duplicates"] == {"count": 0, "lines": 0, "items": [],
                                                "key": ["reference", "service_line", "concept", "cut_date"]}
    assert not [q for q in ctx.captured_queries if "HAVING COUNT(*) > 1" in q["sql"]]


def test_a_rate_stored_as_a_fraction_is_read_in_percent_when_the_amounts_prove_it():
    """A spreadsheet's «19 %» cell holds 0.19: taken as 0.19 %, the invoice's IVA would not match its rate."""
    from facturador.tabular import Template

    typed = pipeline.make_typed(Template.from_dict({"fields": [
        {"field": "reference", "header": "Cuenta"}, {"field": "net_amount", "header": "Neto", "parser": "decimal"},
        {"field": "iva_rate", "header": "Tarifa", "parser": "percent"},
        {"field": "iva_amount", "header": "IVA", "parser": "decimal"}]}))
    rate = pipeline.TYPED_COLUMNS.index("iva_rate")

    def line(net, r, iva):
        return typed({"reference": "1", "net_amount": Decimal(net), "iva_rate": Decimal(r), "iva_amount": Decimal(iva)})
    assert line("1000", "0.19", "190")[rate] == Decimal("19")
    assert line("1000", "0.5", "5")[rate] == Decimal("0.5")  # 0.5 % of 1,000 is 5: a real half-percent rate
    assert line("1000", "19", "190")[rate] == Decimal("19")


@pytest.mark.django_db
def test_visual_mapper_sets_and_clears_the_zero_padding_of_a_column(issuer_co, admin_co, client, tmp_path):
    """Accounts a spreadsheet stored as numbers need padding the mapper could only show, not change."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from facturador.imports.models import ImportTemplate

    client.force_login(admin_co)
    data = write_telecom_xlsx(tmp_path / "c.xlsx").read_bytes()
    base = {"operator_code": "movil", "operator_name": "Operador Móvil", "period": "2026-10", "change_threshold": "30"}
    ctx = client.post("/importaciones/plantillas/mapear/", {**base, "name": "D", "sample": SimpleUploadedFile(
        "c.xlsx", data)}).context
    for name, zfill in (("Con ceros", "10"), ("Sin ceros", "")):
        post = {**base, "name": name, "token": ctx["token"], "sample_name": ctx["sample_name"], "header_row": "4",
                "save": "1"}
        for c in ctx["columns"]:
            post.update({f"c{c['i']}_field": c["field"], f"c{c['i']}_parser": c["parser"]})
        post["c1_zfill"] = zfill  # «Cuenta»
        assert client.post("/importaciones/plantillas/mapear/", post).status_code == 302
        reference = next(f for f in ImportTemplate.objects.get(name=name).mapping["fields"] if f["field"] == "reference")
        assert reference["zfill"] == (int(zfill) if zfill else None)
