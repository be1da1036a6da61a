"""End to end against the local DIAN service over HTTP: registration → accepted test set → production."""

import datetime as dt

import pytest

from facturador.core.errors import Refusal
from facturador.core.models import Job
from facturador.dian import enablement
from facturador.einvoice import services as einvoice
from facturador.einvoice.models import DianDocument, OperationMode
from facturador.habilitacion import actions, services
from facturador.habilitacion.models import Enablement, TestSetRun

from .conftest import ACTOR, SOFTWARE_PIN, new_software, run_job_inline

pytestmark = pytest.mark.django_db


def test_new_issuer_to_production_and_a_production_invoice(new_issuer, dian_sandbox, django_capture_on_commit_callbacks):
    issuer = new_issuer()
    software_id, test_set_id = new_software(dian_sandbox, invoices=3, credit_notes=1, debit_notes=1)
    en = services.enablement_for(issuer)
    assert en.state == Enablement.State.PENDING

    actions.register(issuer, ACTOR, reception_email="recepcion@empresa.example")
    mode = actions.save_operation_mode(issuer, ACTOR, software_id=software_id, pin=SOFTWARE_PIN, test_set_id=test_set_id,
                              endpoint=dian_sandbox.url)
    ranges = services.ensure_test_ranges(issuer, mode)
    assert ranges["invoice"].prefix == "SETP" and ranges["invoice"].range_from == 990000000
    assert ranges["invoice"].technical_key.reveal() == enablement.TEST_TECHNICAL_KEY

    run = actions.start_run(issuer, ACTOR, invoices=3, credit_notes=1, debit_notes=1)
    job = run_job_inline(run.job)
    run.refresh_from_db()
    assert job.status == Job.Status.FINISHED, (job.error, job.message)
    assert run.outcome == TestSetRun.Outcome.ACCEPTED, run.dian_message
    assert "se encuentra Aceptado" in run.dian_message
    docs = DianDocument.objects.filter(issuer=issuer, test_set=True)
    assert docs.count() == 5 and set(docs.values_list("status", flat=True)) == {"accepted"}
    notes = docs.exclude(kind="invoice")
    assert all(n.referenced_id and n.referenced.kind == "invoice" for n in notes)
    assert dian_sandbox.test_set_status(test_set_id).is_accepted
    mode.refresh_from_db()
    assert mode.state == OperationMode.State.ACCEPTED
    en.refresh_from_db()
    assert en.state == Enablement.State.ENABLED and en.enabled_on

    # Production: start date (once), resolution from form 1876, sync with GetNumberingRange.
    en = actions.switch_to_production(issuer, ACTOR, start_date=dt.date(2026, 12, 1))
    with pytest.raises(Refusal) as exc:
        actions.switch_to_production(issuer, ACTOR, start_date=dt.date(2027, 1, 1))
    assert exc.value.code == "habilitacion.production.already_confirmed"
    mode.refresh_from_db()
    assert mode.environment == "production" and mode.state == "production" and mode.url == dian_sandbox.url

    payload = services.invoice_payload(0)
    with pytest.raises(einvoice.EinvoiceError) as exc:  # no production numbering at all
        einvoice.issue(issuer, payload, send=False)
    assert exc.value.details["rule"] == "FAB05b"

    today = dt.date.today()
    rng = actions.register_resolution(issuer, ACTOR, prefix="FE", range_from=1, range_to=1000, valid_from=today,
                                       valid_to=today + dt.timedelta(days=365), resolution_number="18764000001234")
    with pytest.raises(einvoice.EinvoiceError) as exc:  # registered but not synced: no technical key
        einvoice.issue(issuer, payload, send=False)
    assert exc.value.details["rule"] == "FAD06"
    assert not services.production_ready(issuer)

    prod_key = "a" * 40
    dian_sandbox.register_range(issuer.tax_id, "FE", 1, 1000, prod_key, software_id=software_id,
                                resolution_number="18764000001234")
    updated, message = actions.sync_numbering(issuer, ACTOR)
    assert [r.pk for r in updated] == [rng.pk]
    assert "sincronizada" in message
    rng.refresh_from_db()
    assert rng.technical_key.reveal() == prod_key
    assert not services.production_ready(issuer)  # synced, but the prefix is not associated with the software
    with pytest.raises(einvoice.EinvoiceError) as exc:
        einvoice.issue(issuer, payload, send=False)
    assert exc.value.code == "einvoice.numbering.prefix_not_associated" and "FE" in exc.value.message
    actions.associate_prefix(issuer, ACTOR)
    assert services.production_ready(issuer)

    from facturador.einvoice import delivery

    doc = einvoice.issue(issuer, payload, send=False)
    assert doc.environment == "production" and doc.full_number == "FE1"
    delivery.send_and_follow(doc, poll_interval=0.01)
    assert doc.status == "accepted", doc.rules
    assert services.step_status(issuer)["resolucion"]


def test_documents_dian_is_still_processing_are_followed_until_final(new_issuer, settings):
    """DIAN answers 'Batch en proceso de validación' several times: the runner keeps asking, then finishes."""
    from facturador.dian.sandbox import SandboxServer

    settings.FACTURADOR_DIAN_POLL_ATTEMPTS = 1  # each send_and_follow gives up after one 'en proceso'
    settings.FACTURADOR_DIAN_POLL_INTERVAL = 0.01
    server = SandboxServer(async_pending_polls=2).start()
    try:
        issuer = new_issuer()
        software_id, test_set_id = new_software(server, invoices=1, credit_notes=1, debit_notes=0)
        actions.register(issuer, ACTOR, reception_email="fe@empresa.example")
        actions.save_operation_mode(issuer, ACTOR, software_id=software_id, pin=SOFTWARE_PIN, test_set_id=test_set_id,
                           endpoint=server.url)
        run = actions.start_run(issuer, ACTOR, invoices=1, credit_notes=1, debit_notes=0)
        job = run_job_inline(run.job)
        run.refresh_from_db()
        assert job.status == Job.Status.FINISHED, (job.error, job.message)
        assert run.outcome == TestSetRun.Outcome.ACCEPTED
        statuses = DianDocument.objects.filter(issuer=issuer).values_list("kind", "status")
        assert sorted(statuses) == [("credit_note", "accepted"), ("invoice", "accepted")]
    finally:
        server.stop()
