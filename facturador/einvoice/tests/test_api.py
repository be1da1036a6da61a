import pytest

from facturador.core.models import AuditEntry, Certificate, NumberingRange
from facturador.einvoice.models import DianDocument, OperationMode
from facturador.einvoice.tests.conftest import INVOICE


def test_api_create_list_and_files(api_client, admin_co, dian_issuer, invoice_payload):
    api_client.force_authenticate(admin_co)
    base = f"/api/v1/issuers/{dian_issuer.pk}/dian/documents/"
    created = api_client.post(base, {**invoice_payload, "send": False}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "signed" and len(body["cufe"]) == 96
    xml = api_client.get(f"{base}{body['id']}/files/xml/")
    assert xml.status_code == 200 and xml.content.startswith(b"<?xml")
    assert [d["id"] for d in api_client.get(base).json()["results"]] == [body["id"]]


def test_api_bad_input_names_field_and_rule(api_client, admin_co, dian_issuer, invoice_payload):
    api_client.force_authenticate(admin_co)
    invoice_payload["customer"]["dv"] = "7"
    resp = api_client.post(f"/api/v1/issuers/{dian_issuer.pk}/dian/documents/", {**invoice_payload, "send": False}, format="json")
    assert resp.status_code == 400
    body = resp.json()
    assert body["code"] == "einvoice.document.invalid" and body["field"] == "customer.dv"
    assert body["details"]["rule"] == "FAK24" and "FAK24" in body["detail"]
    assert not DianDocument.objects.exists()


def test_operation_mode_api_never_returns_the_pin(api_client, admin_co, dian_issuer):
    api_client.force_authenticate(admin_co)
    body = api_client.get(f"/api/v1/issuers/{dian_issuer.pk}/dian/operation-modes/").content
    assert b"70942" not in body and b"pin_masked" in body


def test_api_accepts_consumidor_final(api_client, admin_co, dian_issuer, invoice_payload):
    api_client.force_authenticate(admin_co)
    invoice_payload["customer"] = "consumidor_final"
    resp = api_client.post(f"/api/v1/issuers/{dian_issuer.pk}/dian/documents/", {**invoice_payload, "send": False}, format="json")
    assert resp.status_code == 201, resp.content
    assert resp.json()["customer_id"] == "222222222222"


# --- refusals of the issue action, as the API answers them -----------------------------------------

def post(api_client, issuer, payload):
    return api_client.post(f"/api/v1/issuers/{issuer.pk}/dian/documents/", {**payload, "send": False}, format="json")


@pytest.fixture
def api(api_client, admin_co):
    api_client.force_authenticate(admin_co)
    return api_client


def test_api_issue_refused_without_software(api, dian_issuer, invoice_payload):
    OperationMode.objects.filter(issuer=dian_issuer).update(active=False)
    resp = post(api, dian_issuer, invoice_payload)
    assert resp.status_code == 400
    assert resp.json()["code"] == "einvoice.software.missing" and resp.json()["field"] == "operation_mode"


def test_api_issue_refused_without_certificate(api, dian_issuer, invoice_payload):
    Certificate.objects.filter(issuer=dian_issuer).update(active=False)
    resp = post(api, dian_issuer, invoice_payload)
    assert resp.status_code == 400
    assert resp.json()["code"] == "einvoice.certificate.missing" and resp.json()["field"] == "certificate"


def test_api_issue_refused_without_numbering(api, dian_issuer, invoice_payload):
    NumberingRange.objects.filter(issuer=dian_issuer, document_type="invoice").update(active=False)
    resp = post(api, dian_issuer, invoice_payload)
    assert resp.status_code == 400
    body = resp.json()
    assert body["code"] == "einvoice.numbering.unavailable" and body["details"]["rule"] == "FAB05b"
    assert body["details"]["reason"] == "core.numbering.no_range"


def test_api_note_refused_for_an_unknown_invoice(api, dian_issuer, invoice_payload):
    note = {**invoice_payload, "kind": "credit_note", "reference": {"number": "SETP123"},
            "discrepancy": {"code": "2", "description": "Anulación"}}
    resp = post(api, dian_issuer, note)
    assert resp.status_code == 400
    body = resp.json()
    assert body["code"] == "einvoice.reference.not_found" and body["field"] == "reference"
    assert body["details"]["rule"] == "CBG04b"


def test_api_several_input_problems_are_all_in_details(api, dian_issuer, invoice_payload):
    invoice_payload["lines"][0]["quantity"] = "-1"
    invoice_payload["lines"][1]["unit_price"] = "no es un número"
    resp = post(api, dian_issuer, invoice_payload)
    assert resp.status_code == 400
    body = resp.json()
    assert body["code"] == "einvoice.document.invalid"
    fields = [e["field"] for e in body["details"]["errors"]]
    assert len(fields) >= 2 and body["field"] == fields[0]
    assert any(f.startswith("lines[0]") for f in fields) and any(f.startswith("lines[1]") for f in fields)


def test_api_retry_of_a_final_document_is_a_conflict(api, dian_issuer, invoice_payload):
    doc_id = post(api, dian_issuer, invoice_payload).json()["id"]
    DianDocument.objects.filter(pk=doc_id).update(status="accepted")
    resp = api.post(f"/api/v1/issuers/{dian_issuer.pk}/dian/documents/{doc_id}/retry/")
    assert resp.status_code == 409 and resp.json()["code"] == "einvoice.document.final"


def test_api_retry_queues_a_job_and_is_audited(api, dian_issuer, invoice_payload):
    doc_id = post(api, dian_issuer, invoice_payload).json()["id"]
    resp = api.post(f"/api/v1/issuers/{dian_issuer.pk}/dian/documents/{doc_id}/retry/")
    assert resp.status_code == 200 and resp.json()["job"]
    entry = AuditEntry.objects.get(action="einvoice.retry")
    assert entry.channel == "api" and entry.object_id == str(doc_id)


def test_api_missing_file_is_not_found(api, dian_issuer, invoice_payload):
    doc_id = post(api, dian_issuer, invoice_payload).json()["id"]
    resp = api.get(f"/api/v1/issuers/{dian_issuer.pk}/dian/documents/{doc_id}/files/response/")
    assert resp.status_code == 404 and resp.json()["code"] == "einvoice.file.missing"


def test_api_list_filters_like_the_web_list(api, dian_issuer, invoice_payload):
    doc_id = post(api, dian_issuer, invoice_payload).json()["id"]
    base = f"/api/v1/issuers/{dian_issuer.pk}/dian/documents/"
    assert [d["id"] for d in api.get(base, {"q": "Cliente Comercial"}).json()["results"]] == [doc_id]
    assert api.get(base, {"q": "nadie"}).json()["results"] == []
    bad = api.get(base, {"from": "2026-13-01"})
    assert bad.status_code == 400 and bad.json()["code"] == "einvoice.filter.date_invalid"


def test_operation_mode_api_goes_through_the_action(api, dian_issuer):
    base = f"/api/v1/issuers/{dian_issuer.pk}/dian/operation-modes/"
    data = {"software_name": "Otro", "software_id": "9a1c9a0e-6b7d-4f3a-9d2e-1a2b3c4d5e6f", "software_pin": "12345",
            "provider_nit": dian_issuer.tax_id, "test_set_id": "no-es-un-guid", "environment": "test"}
    bad = api.post(base, data, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "einvoice.operation_mode.test_set_id_invalid"
    data["test_set_id"] = "3F1C9A9E1B2C4D5E8F90123456789ABC"
    created = api.post(base, data, format="json")
    assert created.status_code == 201, created.content
    mode = OperationMode.objects.get(pk=created.json()["id"])
    assert mode.test_set_id == "3f1c9a9e-1b2c-4d5e-8f90-123456789abc" and mode.software_pin.reveal() == "12345"
    assert list(OperationMode.objects.filter(issuer=dian_issuer, active=True)) == [mode]  # replaced the active one
    assert AuditEntry.objects.get(action="einvoice.mode").channel == "api"
    old = dian_issuer.mode
    post(api, dian_issuer, {**INVOICE, "send": False})  # signed with the new mode
    resp = api.delete(f"{base}{mode.pk}/")
    assert resp.status_code == 409 and resp.json()["code"] == "einvoice.operation_mode.in_use"
    assert api.delete(f"{base}{old.pk}/").status_code == 204
    assert AuditEntry.objects.filter(action="einvoice.mode_delete").count() == 1


def test_the_pdf_of_a_consumidor_final_invoice(api_client, admin_co, dian_issuer, invoice_payload):
    api_client.force_authenticate(admin_co)
    invoice_payload["customer"] = "consumidor_final"
    base = f"/api/v1/issuers/{dian_issuer.pk}/dian/documents/"
    doc = api_client.post(base, {**invoice_payload, "send": False}, format="json").json()
    pdf = api_client.get(f"{base}{doc['id']}/files/pdf/")
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content if pdf.streaming else [pdf.content]).startswith(b"%PDF")


def test_the_pdf_of_an_issuer_without_city_has_no_stray_separator(api_client, admin_co, dian_issuer, invoice_payload):
    import pypdfium2 as pdfium

    dian_issuer.address, dian_issuer.city = "Calle 5 # 38-14", ""
    dian_issuer.save(update_fields=["address", "city"])
    api_client.force_authenticate(admin_co)
    base = f"/api/v1/issuers/{dian_issuer.pk}/dian/documents/"
    doc = api_client.post(base, {**invoice_payload, "send": False}, format="json").json()
    pdf = api_client.get(f"{base}{doc['id']}/files/pdf/")
    text = pdfium.PdfDocument(b"".join(pdf.streaming_content if pdf.streaming else [pdf.content]))[0] \
        .get_textpage().get_text_range()
    line = next(x for x in text.splitlines() if "Calle 5 # 38-14" in x)
    assert "·" not in line
