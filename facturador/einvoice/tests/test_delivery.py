"""The production client against the local DIAN service, over HTTP."""

import pytest
from django.db import transaction

from conftest import wait_for
from facturador.einvoice import delivery, services
from facturador.einvoice.models import DianDocument


def fast(doc):
    return delivery.send_and_follow(doc, poll_interval=0.01, poll_attempts=5)


def test_sync_send_accepted_and_duplicate_is_rule_90(dian_issuer, sandbox, invoice_payload):
    doc = services.issue(dian_issuer, invoice_payload, send=False)
    fast(doc)
    assert doc.status == "accepted", (doc.dian_message, doc.rules)
    assert doc.dian_status_code == "00"
    assert b"ApplicationResponse" in bytes(doc.application_response)
    assert doc.file_name.startswith("fv0900373076000") and doc.file_name.endswith(".xml")
    # A resend (e.g. after a crash between send and save) is answered with rule 90 and stays accepted.
    DianDocument.objects.filter(pk=doc.pk).update(status="signed")
    doc.refresh_from_db()
    fast(doc)
    assert doc.status == "accepted"
    assert any(r["code"] == "90" for r in doc.rules)


def test_rejection_keeps_rule_codes(dian_issuer, sandbox, invoice_payload):
    doc = services.issue(dian_issuer, invoice_payload, send=False)
    # DIAN rejects a document whose signature does not verify: corrupt one signed byte of the amounts.
    xml = bytes(doc.signed_xml).replace(b">369600.00<", b">369601.00<", 1)
    DianDocument.objects.filter(pk=doc.pk).update(signed_xml=xml)
    doc.refresh_from_db()
    fast(doc)
    assert doc.status == "rejected"
    assert doc.rejections and all(r["code"] for r in doc.rejections)


def test_test_set_async_until_accepted(dian_issuer, sandbox, invoice_payload):
    docs = [services.issue(dian_issuer, invoice_payload, send=False, test_set=True) for _ in range(2)]
    credit = {**invoice_payload, "kind": "credit_note", "reference": {"document": docs[0].pk},
              "discrepancy": {"code": "2", "description": "Anulación"}}
    credit.pop("withholdings")
    debit = {**credit, "kind": "debit_note", "discrepancy": {"code": "4", "description": "Otros"}}
    docs.append(services.issue(dian_issuer, credit, send=False, test_set=True))
    docs.append(services.issue(dian_issuer, debit, send=False, test_set=True))
    for d in docs:
        fast(d)
        assert d.status == "accepted", (d, d.dian_message, d.rules)
        assert d.zip_key
    assert sandbox.test_set_status(dian_issuer.mode.test_set_id).is_accepted
    assert "se encuentra Aceptado" in docs[-1].dian_message
    dian_issuer.mode.refresh_from_db()
    assert dian_issuer.mode.state == "accepted"


def test_transport_error_leaves_document_retryable(dian_issuer, invoice_payload):
    dian_issuer.mode.endpoint = "http://127.0.0.1:9/WcfDianCustomerServices.svc"  # nothing listens there
    dian_issuer.mode.save()
    doc = services.issue(dian_issuer, invoice_payload, send=False)
    client = delivery.client_for(doc)
    client.retries, client.backoff = 1, 0.01
    delivery.send_and_follow(doc, client=client)
    assert doc.status == "error" and doc.can_retry
    assert doc.dian_message


@pytest.mark.django_db(transaction=True)
def test_issue_and_send_through_a_worker(dian_issuer, sandbox, invoice_payload, start_worker):
    start_worker(FACTURADOR_DIAN_POLL_INTERVAL="0.05")
    with transaction.atomic():
        doc = services.issue(dian_issuer, invoice_payload)
    wait_for(lambda: DianDocument.objects.get(pk=doc.pk).status == "accepted", timeout=60, message="document accepted")
    # The handler commits the document's state; the job's own final state is written just after it returns.
    wait_for(lambda: DianDocument.objects.get(pk=doc.pk).job.status != "running", timeout=30, message="job ended")
    doc.refresh_from_db()
    assert doc.job.status == "finished"
    assert bytes(doc.application_response).startswith(b"<?xml") or b"ApplicationResponse" in bytes(doc.application_response)


def test_cli_issue_and_wait(dian_issuer, sandbox, invoice_payload, tmp_path, capsys):
    import json

    from django.core.management import call_command

    path = tmp_path / "factura.json"
    path.write_text(json.dumps(invoice_payload))
    call_command("einvoice", "issue", str(path), "--issuer", dian_issuer.tax_id, "--wait")
    out = capsys.readouterr().out
    assert "SETP990000000" in out and "Aceptado" in out
    assert DianDocument.objects.get().status == "accepted"


def test_accepted_document_gives_the_buyer_its_files(dian_issuer, sandbox, invoice_payload):
    """What mass email attaches: the AttachedDocument zip (signed XML + ApplicationResponse) and the PDF."""
    import io
    import zipfile

    from facturador.core.models import IssuedDocument
    from facturador.dian.attached import extract
    from facturador.dian.verify import verify_signature

    doc = services.issue(dian_issuer, invoice_payload, send=False)
    issued = IssuedDocument.objects.get(source="einvoice.document", source_id=str(doc.pk))
    issued.ensure_files()
    assert not issued.attachment  # not before DIAN accepts it
    fast(doc)
    issued.refresh_from_db()
    issued.ensure_files()
    with zipfile.ZipFile(io.BytesIO(issued.attachment.read())) as zf:
        names = sorted(zf.namelist())
        attached = zf.read(f"ad{doc.full_number}.xml")
    assert names == [f"{doc.full_number}.pdf", f"ad{doc.full_number}.xml"]
    embedded, response = extract(attached)
    assert embedded == bytes(doc.signed_xml) and response == bytes(doc.application_response)
    assert verify_signature(attached).ok
    assert issued.xml.read() == bytes(doc.signed_xml) and issued.pdf.read().startswith(b"%PDF")



def test_software_endpoint_on_a_private_address_is_refused(api_client, admin_co, dian_issuer, settings):
    settings.FACTURADOR_ALLOWED_ENDPOINTS = []
    api_client.force_authenticate(admin_co)
    resp = api_client.patch(f"/api/v1/issuers/{dian_issuer.pk}/dian/operation-modes/{dian_issuer.mode.pk}/",
                            {"endpoint": "http://10.0.0.7:8080/WcfDianCustomerServices.svc"}, format="json")
    assert resp.status_code == 400
    assert (resp.json()["code"], resp.json()["field"]) == ("core.endpoint.not_allowed", "endpoint")
    dian_issuer.mode.refresh_from_db()
    assert dian_issuer.mode.endpoint == ""


def test_stored_endpoint_no_longer_allowed_is_not_contacted(dian_issuer, invoice_payload, settings):
    dian_issuer.mode.endpoint = "http://127.0.0.1:9/WcfDianCustomerServices.svc"
    dian_issuer.mode.save()
    doc = services.issue(dian_issuer, invoice_payload, send=False)
    settings.FACTURADOR_ALLOWED_ENDPOINTS = []
    delivery.send_and_follow(doc)
    assert doc.status == "error" and doc.send_attempts == 0
    assert "no está permitida" in doc.dian_message


def test_connection_failure_is_reported_generically(dian_issuer, invoice_payload):
    from facturador.core.outbound import CONNECTION_FAILED

    dian_issuer.mode.endpoint = "http://127.0.0.1:9/WcfDianCustomerServices.svc"  # nothing listens there
    dian_issuer.mode.save()
    doc = services.issue(dian_issuer, invoice_payload, send=False)
    client = delivery.client_for(doc)
    client.retries, client.backoff = 1, 0.01
    delivery.send_and_follow(doc, client=client)
    assert doc.dian_message == CONNECTION_FAILED
