"""The channels around the one action: CLI, API and web pages (parse, call, present)."""

import io
import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from facturador.core.cli import RefusedCommand
from facturador.core.models import AuditEntry
from facturador.reception.models import ReceivedDocument

from .conftest import BUYER_NIT


def test_cli_import_json_and_list(receiver_co, co_zip, tmp_path, capsys):
    path = tmp_path / "z.zip"
    path.write_bytes(co_zip)
    call_command("reception", "import", str(path), "--issuer", BUYER_NIT, "--json")
    out = json.loads(capsys.readouterr().out)
    assert out["documents"] == 1 and out["results"][0]["outcome"] == "filed"
    assert AuditEntry.objects.filter(action="reception.import", issuer=receiver_co).count() == 1
    call_command("reception", "list", "--issuer", BUYER_NIT, "--json")
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["supplier_tax_id"] for r in rows] == ["900373076"] and rows[0]["source"] == "cli"


def test_cli_bad_file_exits_with_refusal(receiver_co, tmp_path):
    path = tmp_path / "nota.txt"
    path.write_bytes(b"no soy una factura")
    with pytest.raises(RefusedCommand) as err:
        call_command("reception", "import", str(path), "--issuer", BUYER_NIT)
    assert err.value.returncode == 2 and err.value.refusal.code == "reception.file.unknown_type"


def test_api_upload_list_detail_and_tenancy(api_client, reception_admin, receiver_co, co_zip, make_issuer, make_user):
    api_client.force_authenticate(reception_admin)
    base = f"/api/v1/issuers/{receiver_co.pk}/received/"
    created = api_client.post(base, {"file": io.BytesIO(co_zip)}, format="multipart")
    assert created.status_code == 201, created.content
    listed = api_client.get(base, {"supplier": "900373076"}).json()["results"]
    assert len(listed) == 1 and listed[0]["total"].count(".") == 1 and listed[0]["has_pdf"]
    xml = api_client.get(f"{base}{listed[0]['id']}/files/xml/")
    assert xml.status_code == 200 and b"Invoice" in xml.content
    other = make_issuer("CO", tax_id="901234567")
    api_client.force_authenticate(make_user("otro", other))
    assert api_client.get(f"/api/v1/issuers/{other.pk}/received/{listed[0]['id']}/").status_code == 404


def test_api_bad_upload_answers_code_and_field(api_client, reception_admin, receiver_co):
    api_client.force_authenticate(reception_admin)
    resp = api_client.post(f"/api/v1/issuers/{receiver_co.pk}/received/",
                           {"file": io.BytesIO(b"<Invoice/>")}, format="multipart")
    assert resp.status_code == 400 and resp.json()["field"] == "file"
    assert resp.json()["code"] == "reception.xml.not_a_document"


def test_inbox_filters_detail_and_excel_export(client, reception_admin, receiver_co, co_zip):
    client.force_login(reception_admin)
    resp = client.post(reverse("reception:upload"), {"file": _named(co_zip, "z.zip")})
    assert resp.status_code == 302
    doc = ReceivedDocument.objects.get(issuer=receiver_co)
    page = client.get(reverse("reception:inbox"), {"supplier": "900373076", "state": "ok"}).content.decode()
    assert doc.number in page
    assert doc.number not in client.get(reverse("reception:inbox"), {"state": "set_aside"}).content.decode()
    detail = client.get(reverse("reception:detail", args=[doc.pk])).content.decode()
    assert doc.uuid in detail and "PDF del proveedor" in detail
    answer = reverse("reception:download", args=[doc.pk, "respuesta"])
    assert answer in detail  # inside the AttachedDocument kept: offered, and extracted when downloaded
    resp = client.get(answer)
    assert resp.status_code == 200 and b"ApplicationResponse" in resp.content
    xlsx = client.get(reverse("reception:export"))
    from python_calamine import CalamineWorkbook

    sheet = CalamineWorkbook.from_filelike(io.BytesIO(xlsx.content)).get_sheet_by_name("Recibidos").to_python()
    values = [c for row in sheet for c in row]
    assert doc.number in values and float(doc.total) in values


def test_upload_form_shows_refusal_on_the_file_field(client, reception_admin):
    client.force_login(reception_admin)
    resp = client.post(reverse("reception:upload"), {"file": _named(b"hola", "x.txt")})
    assert resp.status_code == 200 and "no es un XML, un zip ni un correo" in resp.content.decode()


def _named(data, name):
    f = io.BytesIO(data)
    f.name = name
    return f


def test_mailbox_form_refuses_private_server_and_never_shows_the_password(client, reception_admin, receiver_co,
                                                                          settings):
    client.force_login(reception_admin)
    values = {"enabled": "on", "host": "192.168.1.10", "port": "993", "security": "ssl", "username": "facturas",
              "password": "secreto-imap", "folder": "INBOX", "poll_minutes": "5"}
    refused = client.post(reverse("reception:mailbox"), values).content.decode()
    assert "no está permitido" in refused
    settings.FACTURADOR_ALLOWED_ENDPOINTS = ["imap://192.168.1.10"]
    assert client.post(reverse("reception:mailbox"), values).status_code == 302
    page = client.get(reverse("reception:mailbox")).content.decode()
    assert "secreto-imap" not in page and "192.168.1.10" in page
    assert "secreto-imap" not in str(AuditEntry.objects.filter(action="reception.mailbox.save").values())


def test_without_the_suppliers_pdf_a_summary_is_rendered(client, reception_admin, receiver_co, co_zips):
    from .conftest import attached_xml

    client.force_login(reception_admin)
    name, xml = attached_xml(co_zips[1])
    client.post(reverse("reception:upload"), {"file": _named(xml, name)})
    doc = ReceivedDocument.objects.get(issuer=receiver_co)
    assert not doc.has_pdf
    resp = client.get(reverse("reception:download", args=[doc.pk, "pdf"]))
    assert resp.content.startswith(b"%PDF") and "resumen-" in resp["Content-Disposition"]


def test_api_bad_date_filter_is_refused_naming_the_field(api_client, reception_admin, receiver_co):
    api_client.force_authenticate(reception_admin)
    resp = api_client.get(f"/api/v1/issuers/{receiver_co.pk}/received/", {"date_from": "ayer"})
    assert resp.status_code == 400 and resp.json()["field"] == "date_from"


def test_mailbox_page_shows_the_address_registered_in_habilitacion(client, reception_admin, receiver_co):
    from facturador.habilitacion.models import Enablement

    Enablement.objects.create(issuer=receiver_co, reception_email="facturas@cliente.example")
    client.force_login(reception_admin)
    assert "facturas@cliente.example" in client.get(reverse("reception:mailbox")).content.decode()


def test_inbox_offers_the_bulk_actions_of_the_issuers_country(client, reception_admin, make_user, receiver_mx):
    client.force_login(reception_admin)
    colombian = client.get(reverse("reception:inbox")).content.decode()
    assert "Acusar recibo" in colombian and "Consultar en el SAT" not in colombian
    client.force_login(make_user("recepcion-mx", receiver_mx, "admin"))
    mexican = client.get(reverse("reception:inbox")).content.decode()
    assert "Consultar en el SAT" in mexican and "Acusar recibo" not in mexican
