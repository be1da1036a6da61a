"""billing.actions: refusal codes, audit entries, and a batch's status derived from its job."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from facturador.billing import actions
from facturador.billing.models import Account, Batch
from facturador.billing.tests.helpers import make_accounts, make_range
from facturador.core.actors import Actor
from facturador.core.errors import Conflict, NotFound
from facturador.core.models import AuditEntry, Job


@pytest.fixture
def batch(issuer_co):
    make_range(issuer_co)
    accounts = make_accounts(issuer_co, 2)
    return actions.create_batch(issuer_co, Actor.cli(), periods="2026-09", issue_date=dt.date(2026, 10, 1),
                                references=[a.reference for a in accounts])


@pytest.mark.django_db
def test_batch_status_follows_its_job_and_cancel_resume_are_refused_when_they_make_no_sense(issuer_co, batch):
    actor = Actor.cli()
    assert (batch.status, batch.get_status_display()) == ("pending", "Pendiente")
    with pytest.raises(Conflict) as running:
        actions.resume_batch(issuer_co, actor, batch)
    assert running.value.code == "billing.batch.running"
    actions.cancel_batch(issuer_co, actor, batch)
    batch.refresh_from_db()
    assert (batch.status, batch.get_status_display()) == ("cancelled", "Cancelado")
    with pytest.raises(Conflict) as done:
        actions.cancel_batch(issuer_co, actor, batch)
    assert done.value.code == "billing.batch.not_running"
    first_job = batch.job_id
    actions.resume_batch(issuer_co, actor, batch)
    batch = Batch.objects.select_related("job").get(pk=batch.pk)
    assert batch.job_id != first_job and batch.status == Job.Status.PENDING
    assert Job.objects.get(pk=batch.job_id).params == Job.objects.get(pk=first_job).params
    assert list(AuditEntry.objects.order_by("id").values_list("action", flat=True)) == [
        "batch.create", "batch.cancel", "batch.resume"]


@pytest.mark.django_db
def test_web_cancel_refusal_goes_back_with_its_message(issuer_co, batch, client_co):
    url = f"/facturacion/lotes/{batch.pk}/"
    assert client_co.post(url + "cancelar/").status_code == 302
    again = client_co.post(url + "cancelar/", HTTP_REFERER=f"http://testserver{url}")
    assert again.status_code == 302 and again.url == f"http://testserver{url}"
    assert "ya terminó" in client_co.get(url).content.decode()
    assert client_co.post(url + "cancelar/").status_code == 409  # no page to go back to: the refusal page


@pytest.mark.django_db
def test_account_in_use_cannot_be_deleted(issuer_co, admin_co, api_client):
    account = make_accounts(issuer_co, 1)[0]
    api_client.force_authenticate(admin_co)
    r = api_client.delete(f"/api/v1/issuers/{issuer_co.pk}/billing/accounts/{account.pk}/")
    assert r.status_code == 409 and r.json()["code"] == "billing.account.in_use"
    free = Account.objects.create(issuer=issuer_co, reference="9", holder_name="Sin cargos")
    assert api_client.delete(f"/api/v1/issuers/{issuer_co.pk}/billing/accounts/{free.pk}/").status_code == 204
    assert AuditEntry.objects.filter(action="account.delete", object_id=str(free.pk), channel="api").exists()


@pytest.mark.django_db
def test_unknown_template_is_not_found(issuer_co, admin_co, api_client):
    make_accounts(issuer_co, 1)
    with pytest.raises(NotFound) as info:
        actions.preview_batch(issuer_co, periods=["2026-09"], template="No existe")
    assert (info.value.code, info.value.field) == ("billing.template.not_found", "template")
    api_client.force_authenticate(admin_co)
    r = api_client.post(f"/api/v1/issuers/{issuer_co.pk}/billing/batches/", {
        "periods": ["2026-09"], "issue_date": "2026-10-01", "due_date": "2026-10-20", "template": "No existe"},
        format="json")
    assert r.status_code == 404 and r.json()["code"] == "billing.template.not_found"


@pytest.mark.django_db
def test_form_errors_carry_the_refusal_codes(issuer_co, client_co):
    settings = client_co.post("/facturacion/configuracion/", {
        "gln": "7709998000002", "ref_width": "30", "amount_width": "10", "numbering_environment": "production",
        "monthly_interest_rate": "2", "document_title": "Factura"})
    assert settings.context["form"].errors.as_data()["gln"][0].code == "billing.settings.invalid_gln"
    csv = "referencia;titular;tipo_id;numero_id;dv\n0002;Ferretería;NIT;800197268;9\n"
    upload = client_co.post("/facturacion/cuentas/cargar/", {"file": SimpleUploadedFile("c.pdf", csv.encode())})
    assert upload.context["form"].errors.as_data()["file"][0].code == "billing.accounts_file.unsupported_extension"
    assert not Account.objects.exists()
    account = client_co.post("/facturacion/cuentas/nueva/", {
        "reference": "01", "holder_name": "A", "id_type": "CC", "service_class": "residencial", "state": "active"})
    assert account.status_code == 302
    dup = client_co.post("/facturacion/cuentas/nueva/", {
        "reference": "01", "holder_name": "B", "id_type": "CC", "service_class": "residencial", "state": "active"})
    assert dup.context["form"].errors.as_data()["reference"][0].code == "billing.account.duplicate_reference"
    entry = AuditEntry.objects.get(action="account.create")
    assert (entry.channel, entry.actor, entry.object_type) == ("web", "admin_co", "billing.account")
