import io

import pypdfium2

from facturador.einvoice import services
from facturador.einvoice.models import DianDocument


def form_data(**extra):
    data = {"kind": "invoice", "customer_id_type": "31", "customer_id": "800199436-4", "customer_name": "Cliente S.A.S.",
            "customer_email": "cliente@example.com", "customer_address": "Calle 1", "customer_city_code": "11001",
            "customer_city_name": "Bogotá, D.C.", "customer_department": "Bogotá", "payment_method": "1",
            "line0_description": "Alumbrado público", "line0_quantity": "1", "line0_price": "10000", "line0_iva": "19"}
    data.update(extra)
    return data


def test_form_issues_and_detail_shows_cufe(client_co, dian_issuer):
    resp = client_co.post("/documentos/nuevo/", form_data())
    assert resp.status_code == 302, resp.content.decode()[:2000]
    doc = DianDocument.objects.get()
    page = client_co.get(resp["Location"]).content.decode()
    assert doc.cufe in page and "Firmado" in page


def test_form_wrong_dv_shows_field_error(client_co, dian_issuer):
    resp = client_co.post("/documentos/nuevo/", form_data(customer_id="800199436-5"))
    assert resp.status_code == 200
    assert "es 4, no 5" in resp.content.decode()
    assert not DianDocument.objects.exists()


def test_downloads(client_co, dian_issuer, invoice_payload):
    doc = services.issue(dian_issuer, invoice_payload, send=False)
    xml = client_co.get(f"/documentos/{doc.pk}/xml/")
    assert xml.status_code == 200 and xml.content == bytes(doc.signed_xml)
    pdf = client_co.get(f"/documentos/{doc.pk}/pdf/")
    assert pdf["Content-Type"] == "application/pdf"
    text = "".join(p.get_textpage().get_text_range() for p in pypdfium2.PdfDocument(io.BytesIO(pdf.content)))
    assert doc.full_number in text and doc.cufe[:20] in text.replace("\n", "").replace("\r", "")
    assert client_co.get(f"/documentos/{doc.pk}/contenedor/").status_code == 404  # only once accepted


def test_other_issuer_cannot_see_documents(client, make_issuer, make_user, dian_issuer, invoice_payload):
    doc = services.issue(dian_issuer, invoice_payload, send=False)
    other = make_user("otro", make_issuer("CO"), "admin")
    client.force_login(other)
    assert client.get(f"/documentos/{doc.pk}/").status_code == 404
    assert client.get(f"/documentos/{doc.pk}/xml/").status_code == 404
    assert doc.full_number not in client.get("/documentos/").content.decode()


def test_retry_queues_a_job_and_a_final_document_is_refused_on_the_page(client_co, dian_issuer, invoice_payload):
    from facturador.core.models import AuditEntry

    doc = services.issue(dian_issuer, invoice_payload, send=False)
    detail = f"/documentos/{doc.pk}/"
    assert client_co.post(f"{detail}reintentar/", HTTP_REFERER=f"http://testserver{detail}").status_code == 302
    doc.refresh_from_db()
    assert doc.job is not None and AuditEntry.objects.get(action="einvoice.retry").channel == "web"
    DianDocument.objects.filter(pk=doc.pk).update(status="accepted")
    resp = client_co.post(f"{detail}reintentar/", HTTP_REFERER=f"http://testserver{detail}", follow=True)
    assert "ya tiene respuesta definitiva" in resp.content.decode()
    assert AuditEntry.objects.filter(action="einvoice.retry").count() == 1


def test_mode_form_registers_software_and_replaces_the_active_one(client_co, dian_issuer):
    from facturador.core.models import AuditEntry
    from facturador.einvoice.models import OperationMode

    data = {"mode": "own", "software_name": "Nuevo", "software_id": "1f1c9a0e-6b7d-4f3a-9d2e-1a2b3c4d5e6f",
            "provider_nit": dian_issuer.tax_id, "test_set_id": "malo", "environment": "test", "active": "on",
            "pin": "55555"}
    resp = client_co.post("/documentos/software/nuevo/", data)
    assert resp.status_code == 200 and "GUID" in resp.content.decode()
    data["test_set_id"] = ""
    assert client_co.post("/documentos/software/nuevo/", data).status_code == 302
    active = OperationMode.objects.get(issuer=dian_issuer, active=True)
    assert active.software_name == "Nuevo" and active.software_pin.reveal() == "55555"
    assert AuditEntry.objects.get(action="einvoice.mode").object_id == str(active.pk)


def test_list_filters_like_the_api(client_co, dian_issuer, invoice_payload):
    doc = services.issue(dian_issuer, invoice_payload, send=False)
    assert doc.full_number in client_co.get("/documentos/", {"environment": "test", "q": "800199436"}).content.decode()
    assert doc.full_number not in client_co.get("/documentos/", {"environment": "production"}).content.decode()
    assert client_co.get("/documentos/", {"from": "ayer"}).status_code == 400  # refused: not a date


def test_list_and_detail_write_the_total_the_colombian_way_and_the_api_plain(client_co, dian_issuer, api_client,
                                                                            admin_co):
    client_co.post("/documentos/nuevo/", form_data())  # 10.000 + IVA 19 %
    doc = DianDocument.objects.get()
    assert "$ 11.900" in client_co.get("/documentos/").content.decode()
    assert "$ 11.900" in client_co.get(f"/documentos/{doc.pk}/").content.decode()
    api_client.force_authenticate(admin_co)
    row = api_client.get(f"/api/v1/issuers/{dian_issuer.pk}/dian/documents/{doc.pk}/").json()
    assert row["total"] == "11900.00"


def test_detail_page_in_english(client_co, dian_issuer):
    resp = client_co.post("/documentos/nuevo/", form_data())
    client_co.post("/idioma/setlang/", {"language": "en", "next": "/"})
    page = client_co.get(resp["Location"]).content.decode()
    assert "Amount due" in page and "Signed XML" in page and "Total a pagar" not in page
