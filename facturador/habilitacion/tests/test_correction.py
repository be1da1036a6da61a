"""A run with a rejection (wrong technical key typed in the test numbering), its correction and re-send, over HTTP."""

import io

import pytest
from django.core.management import call_command
from python_calamine import CalamineWorkbook

from facturador.core.cli import RefusedCommand
from facturador.core.models import Job, NumberingRange
from facturador.dian import enablement
from facturador.einvoice.models import DianDocument
from facturador.habilitacion import actions
from facturador.habilitacion.models import TestSetDocument, TestSetRun

from .conftest import ACTOR, SOFTWARE_PIN, new_software, run_job_inline

pytestmark = pytest.mark.django_db


@pytest.fixture
def enabled_client(client, make_user, new_issuer, dian_sandbox):
    issuer = new_issuer()
    user = make_user("hab_admin", issuer, "admin")
    client.force_login(user)
    client.user = user
    software_id, test_set_id = new_software(dian_sandbox, invoices=2, credit_notes=1, debit_notes=1)
    actions.register(issuer, ACTOR, reception_email="fe@empresa.example")
    actions.save_operation_mode(issuer, ACTOR, software_id=software_id, pin=SOFTWARE_PIN, test_set_id=test_set_id,
                       endpoint=dian_sandbox.url)
    client.issuer, client.test_set_id = issuer, test_set_id
    return client


def _numbering_post(client, key):
    return client.post("/habilitacion/numeracion-pruebas/", {
        "prefix": "SETP", "range_from": 990000000, "range_to": 995000000, "resolution_number": "18760000001",
        "valid_from": "2019-01-19", "valid_to": "2030-01-19", "technical_key": key, "credit_prefix": "NCP",
        "debit_prefix": "NDP"})


def test_rejected_document_is_corrected_and_resent(enabled_client, dian_sandbox, api_client):
    client, issuer = enabled_client, enabled_client.issuer
    wrong_key = "0" * 40  # a typo in the technical key: every invoice CUFE is wrong for DIAN
    assert _numbering_post(client, wrong_key).status_code == 302
    resp = client.post("/habilitacion/sets/nuevo/", {"test_set_id": client.test_set_id.upper(), "invoices": 2,
                                                     "credit_notes": 1, "debit_notes": 1})
    assert resp.status_code == 302
    run = TestSetRun.objects.get(issuer=issuer)
    assert run.test_set_id == client.test_set_id  # normalised GUID
    job = run_job_inline(run.job)
    run.refresh_from_db()
    assert job.status == Job.Status.FINISHED_WITH_ERRORS and job.errors == 2
    assert run.outcome == TestSetRun.Outcome.ERRORS
    invoices = list(DianDocument.objects.filter(issuer=issuer, kind="invoice").order_by("number"))
    assert [d.status for d in invoices] == ["rejected", "rejected"]
    assert all("FAD06" in {r["code"] for r in d.rules} for d in invoices)
    assert not DianDocument.objects.filter(issuer=issuer).exclude(kind="invoice").exists()  # notes wait

    page = client.get(f"/habilitacion/sets/{run.pk}/").content.decode()
    assert "Rechazado" in page and "FAD06" in page and "Corregir y reenviar" in page
    assert 'data-k="remaining">2<' in page and 'data-k="signed">2<' in page
    filtered = client.get(f"/habilitacion/sets/{run.pk}/", {"aceptacion": "rechazado", "numeracion": "SETP990000001"})
    assert filtered.content.decode().count("data-number=") == 1

    # The user fixes the key and corrects each rejected invoice (here: same data, re-issued with a new number).
    assert _numbering_post(client, enablement.TEST_TECHNICAL_KEY).status_code == 302
    rng = NumberingRange.objects.get(issuer=issuer, document_type="invoice", environment="test", active=True)
    assert rng.technical_key.reveal() == enablement.TEST_TECHNICAL_KEY and rng.next_number == 990000002  # used numbers kept
    # The first through the page (same data, re-issued with a new number), the second through the API.
    first, second = TestSetDocument.objects.filter(run=run, kind="invoice").order_by("slot")
    form = client.get(f"/habilitacion/sets/{run.pk}/documentos/{first.pk}/corregir/")
    assert "FAD06" in form.content.decode()
    line = first.document.payload["lines"][0]
    resp = client.post(f"/habilitacion/sets/{run.pk}/documentos/{first.pk}/corregir/", {
        "customer_name": first.document.customer_name, "customer_id": first.document.customer_id,
        "description": line["description"], "quantity": line["quantity"], "unit_price": line["unit_price"],
        "iva": "19"})
    assert resp.status_code == 302, resp.content.decode()[:2000]
    api_client.force_authenticate(client.user)
    corrections = f"/api/v1/issuers/{issuer.pk}/habilitacion/runs/{run.pk}/documents"
    resp = api_client.post(f"{corrections}/{second.pk}/correct/", {"description": "Servicio corregido"}, format="json")
    assert resp.status_code == 201 and resp.json()["number"] == "SETP990000003" and resp.json()["active"]
    resp = api_client.post(f"{corrections}/{second.pk}/correct/", {}, format="json")  # once only
    assert resp.status_code == 409 and resp.json()["code"] == "habilitacion.correction.not_rejected"
    with pytest.raises(RefusedCommand) as refused:  # the CLI says the same about the replaced document
        call_command("habilitacion", "correct", "--issuer", issuer.tax_id, "--run", str(run.pk), "--document",
                     "SETP990000000", stdout=io.StringIO())
    assert refused.value.returncode == 2 and refused.value.refusal.code == "habilitacion.correction.not_rejected"
    assert TestSetDocument.objects.get(run=run, kind="invoice", slot=1, active=True).document.payload["lines"][0][
        "description"] == "Servicio corregido"
    run.refresh_from_db()
    job = run_job_inline(run.job)
    run.refresh_from_db()
    assert job.status == Job.Status.FINISHED, (job.error, job.message)
    assert run.outcome == TestSetRun.Outcome.ACCEPTED
    assert dian_sandbox.test_set_status(client.test_set_id).is_accepted

    active = TestSetDocument.objects.filter(run=run, active=True)
    assert active.count() == 4 and {e.document.status for e in active} == {"accepted"}
    replaced = TestSetDocument.objects.filter(run=run, active=False)
    assert [e.document.full_number for e in replaced.order_by("slot")] == ["SETP990000000", "SETP990000001"]
    assert {e.replaced_by.document.full_number for e in replaced} == {"SETP990000002", "SETP990000003"}
    # every number taken from the test range is a stored document of this run
    numbers = sorted(DianDocument.objects.filter(issuer=issuer, prefix="SETP").values_list("number", flat=True))
    assert numbers == list(range(990000000, 990000004))

    # Excel export: one row per document (rejected ones included) with state and rule codes.
    resp = client.get(f"/habilitacion/sets/{run.pk}/excel/")
    assert resp["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = CalamineWorkbook.from_filelike(io.BytesIO(resp.content)).get_sheet_by_index(0).to_python()
    assert rows[0][:3] == ["Documento", "Prefijo", "Número"]
    body = [r for r in rows[1:] if r and r[1] in ("SETP", "NCP", "NDP")]
    assert len(body) == 6
    states = {(r[1], int(r[2])): (r[7], r[9]) for r in body}
    assert states[("SETP", 990000000)][0] == "Rechazado" and "FAD06" in states[("SETP", 990000000)][1]
    assert states[("SETP", 990000003)][0] == "Aceptado"
    only_rejected = client.get(f"/habilitacion/sets/{run.pk}/excel/", {"aceptacion": "rechazado"})
    rows = CalamineWorkbook.from_filelike(io.BytesIO(only_rejected.content)).get_sheet_by_index(0).to_python()
    assert len([r for r in rows[1:] if r and r[1] == "SETP"]) == 2
