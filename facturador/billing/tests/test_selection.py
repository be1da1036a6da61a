"""Selecting what to bill: references file problems are reported before anything is generated."""


import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from facturador.billing.models import Batch, BillingInvoice
from facturador.billing.selection import parse_references
from facturador.billing.tests.helpers import make_accounts, make_range
from facturador.core.models import Job


def form(periods="2026-09", refs=None, **kw):
    from facturador.billing.models import InvoiceTemplate

    data = {"periods": periods, "billing_type": "normal", "issue_date": "2026-10-01", "due_date": "2026-10-20",
            "template": InvoiceTemplate.objects.get(is_default=True).pk if InvoiceTemplate.objects.exists() else ""}
    if refs is not None:
        data["references_file"] = SimpleUploadedFile("refs.txt", refs.encode("utf-8"))
    data.update(kw)
    return data


@pytest.fixture
def setup(issuer_co):
    from facturador.billing import invoice_templates

    make_range(issuer_co)
    invoice_templates.ensure_default(issuer_co)
    return make_accounts(issuer_co, 5)


def test_parse_references_file():
    text = "\ufeff000123\r\n\r\n  000124 ;Juan\n\"000125\",x\n\t\n"
    assert parse_references(text.encode("utf-8")) == [(1, "000123"), (3, "000124"), (4, "000125")]


@pytest.mark.django_db
def test_unknown_and_duplicated_references_refused(issuer_co, setup, client_co):
    refs = "000001\n000002\n000002\n1\n000009\n"
    resp = client_co.post("/facturacion/lotes/nuevo/", form(refs=refs))
    assert resp.status_code == 200
    body = resp.content.decode()
    assert "3 problemas" in body and "No se generó nada" in body
    problems = resp.context["problems"]
    assert [(p["line"], p["reference"]) for p in problems] == [(3, "000002"), (4, "1"), (5, "000009")]
    assert "repetida" in problems[0]["reason"] and "línea 2" in problems[0]["reason"]
    assert "desconocida" in problems[1]["reason"] and "desconocida" in problems[2]["reason"]
    assert not Batch.objects.exists() and not Job.objects.exists() and not BillingInvoice.objects.exists()


@pytest.mark.django_db
def test_leading_zero_hint(issuer_co, setup, client_co):
    from facturador.billing.models import Account

    Account.objects.create(issuer=issuer_co, reference="777", holder_name="Sin ceros")
    resp = client_co.post("/facturacion/lotes/nuevo/", form(refs="000777\n"))
    assert "¿Quiso decir 777?" in resp.context["problems"][0]["reason"]


@pytest.mark.django_db
def test_period_without_charges_refused(issuer_co, setup, client_co):
    resp = client_co.post("/facturacion/lotes/nuevo/", form(periods="2026-09,2026-12", refs="000001\n"))
    assert resp.status_code == 200
    assert "El periodo 2026-12 no tiene cargos" in resp.content.decode()
    assert resp.context["form"].errors.as_data()["periods"][0].code == "billing.batch.period_without_charges"
    assert not Batch.objects.exists()


@pytest.mark.django_db
def test_clean_file_goes_to_confirmation_then_batch(issuer_co, setup, client_co):
    resp = client_co.post("/facturacion/lotes/nuevo/", form(refs="000002\n000004\n"))
    assert resp.status_code == 302 and resp.url == "/facturacion/lotes/confirmar/"
    page = client_co.get(resp.url)
    assert page.context["draft"]["count"] == 2
    assert "$ 40.002" in page.content.decode() or "$ 40,002" in page.content.decode()
    assert not Batch.objects.exists()
    done = client_co.post("/facturacion/lotes/confirmar/")
    batch = Batch.objects.get()
    assert done.status_code == 302 and done.url == f"/facturacion/lotes/{batch.pk}/"
    assert batch.references == ["000002", "000004"] and batch.job.status == Job.Status.PENDING
    assert batch.template_version == 1 and batch.job.total == 2


@pytest.mark.django_db
def test_api_refuses_duplicates(issuer_co, setup, admin_co, api_client):
    api_client.force_authenticate(admin_co)
    r = api_client.post(f"/api/v1/issuers/{issuer_co.pk}/billing/batches/", {
        "periods": ["2026-09"], "issue_date": "2026-10-01", "due_date": "2026-10-20",
        "references": ["000001", "000001", "X1"]}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "billing.references.invalid" and "2 problemas" in r.json()["detail"]
    assert [p["reference"] for p in r.json()["details"]["problems"]] == ["000001", "X1"]
    assert not Batch.objects.exists()


@pytest.mark.django_db
def test_batch_form_offers_periods_with_charges_as_check_boxes(issuer_co, setup, client_co):
    html = client_co.get("/facturacion/lotes/nuevo/").content.decode()
    assert '<input type="checkbox" name="periods" value="2026-09"' in html
    assert 'name="periods" type="text"' not in html and 'type="text" name="periods"' not in html


@pytest.mark.django_db
def test_batch_form_takes_several_checked_periods(issuer_co, client_co):
    from facturador.billing import invoice_templates

    make_range(issuer_co)
    invoice_templates.ensure_default(issuer_co)
    make_accounts(issuer_co, 2, periods=("2026-09", "2026-10"))
    resp = client_co.post("/facturacion/lotes/nuevo/", form(periods=["2026-09", "2026-10"], refs="000001\n"))
    assert resp.status_code == 302
    assert client_co.session["billing_batch_draft"]["periods"] == ["2026-09", "2026-10"]
