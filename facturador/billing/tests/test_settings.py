"""Billing settings: one action (`billing.actions.save_settings`) behind the settings page, the API and the CLI."""

import io
import json
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from facturador.billing.models import BillingSettings
from facturador.core.cli import RefusedCommand
from facturador.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def url(issuer):
    return f"/api/v1/issuers/{issuer.pk}/billing/settings/"


def test_api_get_shows_the_settings_with_amounts_as_decimal_strings(issuer_co, admin_co, api_client):
    api_client.force_authenticate(admin_co)
    data = api_client.get(url(issuer_co)).json()
    assert data["gln"] == "7709998000001" and data["payment_tolerance"] == "0.99" and data["due_days"] == 15
    assert data["monthly_interest_rate"] == "2.000" and data["extra_glns"] == []


def test_api_patch_changes_only_the_fields_given_and_is_audited(issuer_co, admin_co, api_client):
    api_client.force_authenticate(admin_co)
    r = api_client.patch(url(issuer_co), {"payment_tolerance": "0.5", "extra_glns": ["7709998000018"]}, format="json")
    assert r.status_code == 200, r.content
    conf = BillingSettings.for_issuer(issuer_co)
    assert (conf.payment_tolerance, conf.extra_glns, conf.due_days) == (D("0.50"), ["7709998000018"], 15)
    entry = AuditEntry.objects.filter(action="billing.settings").latest("id")
    assert entry.channel == "api" and "payment_tolerance: 0.99 → 0.50" in entry.summary


def test_api_patch_refuses_each_bad_field_and_changes_nothing(issuer_co, admin_co, api_client):
    api_client.force_authenticate(admin_co)
    r = api_client.patch(url(issuer_co), {"gln": "7709998000002", "payment_tolerance": "-1", "due_days": "x",
                                          "color": "red"}, format="json")
    body = r.json()
    assert r.status_code == 400 and body["code"] == "billing.settings.unknown_field" and body["field"] == "color"
    assert {e["field"]: e["code"] for e in body["details"]["errors"]} == {
        "color": "billing.settings.unknown_field", "gln": "billing.settings.invalid_gln",
        "payment_tolerance": "billing.settings.invalid_tolerance", "due_days": "billing.settings.invalid_due_days"}
    assert BillingSettings.for_issuer(issuer_co).payment_tolerance == D("0.99")


def test_api_patch_needs_a_write_role(issuer_co, make_user, api_client):
    api_client.force_authenticate(make_user("lector", issuer_co, "readonly"))
    assert api_client.get(url(issuer_co)).status_code == 200
    assert api_client.patch(url(issuer_co), {"due_days": 20}, format="json").status_code == 403


def test_cli_set_then_show_json(issuer_co):
    call_command("billing", "settings", "set", "--issuer", issuer_co.tax_id, "due_days=30", "payment_tolerance=0,50",
                 stdout=io.StringIO())
    out = io.StringIO()
    call_command("billing", "settings", "show", "--issuer", issuer_co.tax_id, "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert (data["due_days"], data["payment_tolerance"]) == (30, "0.50")
    assert AuditEntry.objects.filter(action="billing.settings", channel="cli").exists()


def test_cli_set_refuses_a_bad_value_with_its_field(issuer_co):
    with pytest.raises(RefusedCommand) as info:
        call_command("billing", "settings", "set", "extra_glns=123", "--issuer", issuer_co.tax_id)
    assert info.value.refusal.code == "billing.settings.invalid_gln" and info.value.refusal.field == "extra_glns"


def test_the_days_to_pay_set_the_proposed_due_date_of_a_batch(issuer_co, client_co):
    import datetime as dt

    call_command("billing", "settings", "set", "due_days=20", "--issuer", issuer_co.tax_id, stdout=io.StringIO())
    form = client_co.get("/facturacion/lotes/nuevo/").context["form"]
    assert form.initial["due_date"] == dt.date.today() + dt.timedelta(days=20)


def test_settings_page_edits_the_collection_fields(issuer_co, client_co):
    data = {"gln": "7709998000001", "extra_glns": "7709998000018, 7709998000025", "payment_tolerance": "0.10",
            "due_days": "10", "ref_width": "10", "amount_width": "10", "numbering_prefix": "",
            "numbering_environment": "production", "monthly_interest_rate": "2", "document_title": "Factura"}
    assert client_co.post("/facturacion/configuracion/", data).status_code == 302
    conf = BillingSettings.for_issuer(issuer_co)
    assert conf.extra_glns == ["7709998000018", "7709998000025"] and conf.payment_tolerance == D("0.10")
    page = client_co.get("/facturacion/configuracion/").content.decode()
    assert "7709998000018, 7709998000025" in page
