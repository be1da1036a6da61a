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


@pytest.mark.django_db
def test_telecom_file_typed_lines_charges_and_defects(issuer_co, operator, tmp_path):
    tpl = telecom_template(issuer_co, operator)
    data = write_telecom_xlsx(tmp_path / "c.xlsx", n=8).read_bytes()
    imp = import_file(issuer_co, operator, tpl, "consumo.xlsx", data)
    assert (imp.rows_valid, imp.rows_invalid) == (4, 4)
    assert sorted(imp.row_errors.values_list("row_number", "column")) == [(5, "K"), (6, "L"), (7, "A"), (8, "F")]
    line = Line.objects.get(import_job=imp, row_number=9)
    assert (line.service_line, line.reference, line.cost_center, line.minutes, line.iva_amount) == (
        "3100000004", "00102", "Gerencia", Decimal("124.00"), Decimal("2280.00"))
    assert line.cut_date.isoformat() == "2026-10-31" and line.period == "2026-10"
    assert Charge.objects.filter(source_import_id=imp.pk).count() == 4
    # several lines of one account are not duplicates (account + line + concept + cut date)
    assert imp.reconciliation["duplicates"]["count"] == 0


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
