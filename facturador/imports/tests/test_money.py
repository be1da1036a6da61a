"""Amounts and periods of an import as people read and type them (pages) and as programs read them (API)."""

import pytest

from facturador.imports.tests import files


def row(ref, amount):
    return [ref, "Consumo", "1", amount, amount]


@pytest.fixture
def imported(do_import):
    rows = [row("001", "325000,00"), row("002", "500,50")]
    return do_import("a.csv", files.csv_bytes(rows + [["TOTAL", "", "", "", "325600,00"]]))


@pytest.mark.django_db
def test_detail_and_reconciliation_pages_write_amounts_the_colombian_way(imported, client_co):
    html = client_co.get(f"/importaciones/{imported.pk}/").content.decode()
    assert "$ 325.500,50" in html
    html = client_co.get(f"/importaciones/{imported.pk}/conciliacion/").content.decode()
    assert "$ 325.500,50" in html and "$ 325.600" in html and "-$ 99,50" in html and "325500.50" not in html


@pytest.mark.django_db
def test_api_amounts_are_plain_decimals_with_two_places(imported, api_client, admin_co, issuer_co):
    api_client.force_authenticate(admin_co)
    d = api_client.get(f"/api/v1/issuers/{issuer_co.pk}/imports/jobs/{imported.pk}/").json()
    assert d["amount_total"] == "325500.50" and d["declared_amount"] == "325600.00"


@pytest.mark.django_db
def test_schedule_form_offers_a_month_picker_with_the_imported_periods(imported, client_co):
    html = client_co.get("/importaciones/programar/").content.decode()
    assert 'type="month"' in html and 'name="period"' in html and 'list="id_period-periods"' in html
    assert '<option value="2026-10"></option>' in html


@pytest.mark.django_db
def test_reconciliation_page_in_english(imported, client_co):
    client_co.post("/idioma/setlang/", {"language": "en", "next": "/"})
    html = client_co.get(f"/importaciones/{imported.pk}/conciliacion/").content.decode()
    assert "Control totals" in html and "Difference" in html and "Totales de control" not in html
