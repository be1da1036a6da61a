from facturador.einvoice.models import DianDocument


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
    assert resp.json()["rule"] == "FAK24" and resp.json()["field"] == "customer.dv"
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
