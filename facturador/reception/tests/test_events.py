"""DIAN events on received invoices and SAT status of received CFDIs, against the real local DIAN service and
the local PAC (which imitates SAT's status service), with real signatures; through the action, the API and the
CLI."""
import copy
import datetime as dt
import io
import json
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command

from facturador.core import certificates
from facturador.core.actors import Actor
from facturador.core.cli import RefusedCommand
from facturador.core.errors import Conflict, Invalid
from facturador.dian import events as dian_events
from facturador.dian import ubl, xades
from facturador.dian.jsonio import document_from_json
from facturador.dian.model import Party, Software
from facturador.dian.sandbox import SandboxServer
from facturador.dian.testing import make_test_pkcs12
from facturador.dian.ws import DianClient, document_filename
from facturador.einvoice.models import OperationMode
from facturador.reception import actions, radian
from facturador.reception.models import EventSettings, Intake, ReceivedDocument, ReceptionEvent

SUPPLIER, BUYER = "900373076", "800199436"
SUPPLIER_SW, BUYER_SW = ("5f1c9a0e-6b7d-4f3a-9d2e-1a2b3c4d5e6f", "12345"), ("a1b2c3d4-0000-4000-8000-000000000001", "54321")
_numbers = iter(range(990200000, 990300000))


@pytest.fixture(scope="module")
def supplier_signer():
    return xades.load_pkcs12(make_test_pkcs12(SUPPLIER, "clave"), "clave")


@pytest.fixture
def dian(db):
    server = SandboxServer(software=dict([SUPPLIER_SW, BUYER_SW])).start()
    yield server
    server.stop()


@pytest.fixture
def buyer(make_issuer, dian, settings):
    """The receiving issuer (the invoices' buyer), with its certificate, its DIAN software at the local service
    and the person who receives goods."""
    issuer = make_issuer("CO", tax_id=BUYER, legal_name="Cliente Comercial Ltda.")
    certificates.store(issuer, kind="p12", password="clave", p12=make_test_pkcs12(BUYER, "clave"))
    OperationMode.objects.create(issuer=issuer, software_name="Facturador", software_id=BUYER_SW[0],
                                 software_pin=BUYER_SW[1], provider_nit=BUYER, environment="test",
                                 endpoint=dian.url)
    EventSettings.objects.create(issuer=issuer, person_id_number="1020304050", person_first_name="Ana",
                                 person_family_name="Pérez", person_job_title="Almacenista")
    settings.FACTURADOR_ALLOWED_ENDPOINTS = [dian.url]
    return issuer


def supplier_invoice(dian, signer) -> bytes:
    """An invoice of the supplier to the buyer, accepted by the local DIAN service."""
    from pathlib import Path
    data = json.loads((Path(__file__).resolve().parents[3] / "examples/dian/invoice-iva19-withholdings.json")
                      .read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    data["numbering"]["number"] = next(_numbers)
    xml = xades.sign(ubl.build_xml(document_from_json(data)), signer)
    r = DianClient(dian.url, signer, timeout=10, retries=0).send_document(
        document_filename("invoice", SUPPLIER, next(_numbers), 2026), xml)
    assert r.accepted, r.messages
    return xml


def received(issuer, xml: bytes, email="facturas@proveedor.example") -> ReceivedDocument:
    from lxml import etree

    from facturador.dian.ns import NS
    root = etree.fromstring(xml)
    intake = Intake.objects.create(issuer=issuer, source="upload", original_name="factura.xml")
    doc = ReceivedDocument(
        issuer=issuer, intake=intake, source="upload", country="CO", kind="invoice", type_code="01",
        supplier_tax_id=SUPPLIER, supplier_check_digit="1", supplier_name="Empresa de Pruebas S.A.S.",
        supplier_email=email, buyer_tax_id=BUYER, number=root.findtext("cbc:ID", namespaces=NS),
        uuid=root.findtext("cbc:UUID", namespaces=NS), environment="2", verification="ok", total=1000,
        dian_validation="accepted")
    doc.xml.save("factura.xml", ContentFile(xml), save=False)
    doc.save()
    return doc


@pytest.fixture
def invoice(buyer, dian, supplier_signer):
    return received(buyer, supplier_invoice(dian, supplier_signer))


def actor():
    return Actor.cli()


def test_events_in_order_are_registered_by_dian_and_emailed_to_the_supplier(buyer, invoice, dian, smtp_server):
    for code, state in (("030", "acknowledged"), ("032", "goods_received"), ("033", "accepted")):
        ev = actions.send_event(buyer, actor(), document=invoice, code=code, wait=True)
        assert ev.state == "accepted", (code, ev.rules)
        invoice.refresh_from_db()
        assert invoice.dian_state == state
    # the local service recomputed each CUDE with the buyer's PIN and verified each signature before accepting
    assert {k for k, e in dian.events.items() if e["accepted"]} == set(
        ReceptionEvent.objects.filter(document=invoice).values_list("cude", flat=True))
    msg = smtp_server.messages[-1]
    assert msg["To"] == "facturas@proveedor.example" and str(msg["Subject"]).strip().startswith("Evento;")
    zipped = next(p for p in msg.iter_attachments()).get_content()
    names = zipfile.ZipFile(io.BytesIO(zipped)).namelist()
    assert any(n.startswith("evento-033") for n in names) and any(n.startswith("respuesta-dian") for n in names)


def test_order_rules_are_refused_by_the_action(buyer, invoice):
    with pytest.raises(Conflict) as e:
        actions.send_event(buyer, actor(), document=invoice, code="033")
    assert e.value.code == "reception.event.order" and e.value.details["missing"] == ["030", "032"]
    with pytest.raises(Invalid) as e:
        actions.send_event(buyer, actor(), document=invoice, code="031")
    assert e.value.code == "reception.event.reason_required"
    actions.send_event(buyer, actor(), document=invoice, code="030", wait=True)
    with pytest.raises(Conflict) as e:
        actions.send_event(buyer, actor(), document=invoice, code="030")
    assert e.value.code == "reception.event.duplicate"
    actions.send_event(buyer, actor(), document=invoice, code="032", wait=True)
    claim = actions.send_event(buyer, actor(), document=invoice, code="031", reason="03", wait=True)
    from lxml import etree
    assert claim.state == "accepted"
    assert dian_events.event_fields(etree.fromstring(bytes(claim.signed_xml)))["claim_reason"] == "03"
    with pytest.raises(Conflict) as e:
        actions.send_event(buyer, actor(), document=invoice, code="033")
    assert e.value.code == "reception.event.claimed"


def test_a_resumed_job_asks_dian_and_never_sends_twice(buyer, invoice, dian):
    ev = radian.create_event(invoice, "030")
    client = radian.dian_client(buyer, radian.active_mode(buyer))
    assert client.send_event("ar.xml", bytes(ev.signed_xml)).accepted  # sent, then the worker "died"
    ReceptionEvent.objects.filter(pk=ev.pk).update(state="sending", sent_at=dt.datetime.now(dt.timezone.utc))
    sent_before = dian.request_count
    ev.refresh_from_db()
    radian.send_event(ev)
    assert ev.state == "accepted"
    assert dian.request_count == sent_before + 1  # only GetStatusEvent
    assert sum(1 for e in dian.events.values() if e["code"] == "030") == 1


def test_bulk_acknowledge_then_accept_reports_refusals(buyer, dian, supplier_signer):
    a, b = (received(buyer, supplier_invoice(dian, supplier_signer)) for _ in range(2))
    out = actions.send_events_bulk(buyer, actor(), documents=[a, b], action="acknowledge")
    assert [e.code for e in out["events"]] == ["030", "030"] and out["refused"] == []
    from facturador.core.jobs import execute_job
    execute_job.call(out["job"].pk)
    assert set(ReceptionEvent.objects.filter(document__in=[a, b]).values_list("state", flat=True)) == {"accepted"}
    actions.send_event(buyer, actor(), document=a, code="032", wait=True)
    out = actions.send_events_bulk(buyer, actor(), documents=[a, b], action="accept")
    assert [e.document_id for e in out["events"]] == [a.pk]
    assert [(r["document"], r["code"]) for r in out["refused"]] == [(b.pk, "reception.event.order")]


def test_api_refuses_out_of_order_and_queues_an_event(buyer, invoice, api_client, make_user):
    user = make_user("contador", buyer, "billing")
    api_client.force_authenticate(user)
    url = f"/api/v1/issuers/{buyer.pk}/received-events/"
    r = api_client.post(url, {"document": invoice.pk, "code": "032"}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "reception.event.order"
    r = api_client.post(url, {"document": invoice.pk, "code": "030"}, format="json")
    assert r.status_code == 201 and r.json()["code"] == "030" and r.json()["state"] == "pending"
    r = api_client.post(url + "bulk/", {"documents": [invoice.pk], "action": "accept"}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "reception.event.order"


def test_cli_event_and_its_refusal(buyer, invoice, capsys):
    with pytest.raises(RefusedCommand) as e:
        call_command("reception", "event", "033", "--issuer", BUYER, "--document", invoice.uuid)
    assert e.value.refusal.code == "reception.event.order"
    out = io.StringIO()
    call_command("reception", "event", "030", "--issuer", BUYER, "--document", invoice.uuid, "--wait", "--json",
                 stdout=out)
    data = json.loads(out.getvalue())
    assert data["code"] == "030" and data["state"] == "accepted" and len(data["cude"]) == 96


def test_tacit_acceptance_of_own_invoice_after_the_term(dian, make_issuer, settings, supplier_signer):
    """The supplier side: its invoice received 030 and 032 from the buyer 12 days ago; with 034 enabled the
    periodic follow-up registers the tacit acceptance."""
    from facturador.einvoice.models import DianDocument
    from facturador.reception.models import TacitTerm

    supplier = make_issuer("CO", tax_id=SUPPLIER, legal_name="Empresa de Pruebas S.A.S.")
    certificates.store(supplier, kind="p12", password="clave", p12=make_test_pkcs12(SUPPLIER, "clave"))
    mode = OperationMode.objects.create(issuer=supplier, software_name="Facturador", software_id=SUPPLIER_SW[0],
                                        software_pin=SUPPLIER_SW[1], provider_nit=SUPPLIER, environment="test",
                                        endpoint=dian.url)
    settings.FACTURADOR_ALLOWED_ENDPOINTS = [dian.url]
    xml = supplier_invoice(dian, supplier_signer)
    from lxml import etree

    from facturador.core.tests.helpers import make_range
    from facturador.dian.ns import NS
    root = etree.fromstring(xml)
    rng = make_range(supplier)
    inv = DianDocument.objects.create(
        issuer=supplier, kind="invoice", type_code="01", environment="test", operation_mode=mode,
        numbering_range=rng, prefix="SETP", number=int(root.findtext("cbc:ID", namespaces=NS)[4:]),
        status="accepted", payload={"customer": {"id_type": "31"}}, issue_date=dt.date.today(),
        customer_name="Cliente Comercial Ltda.", customer_id=BUYER, total=1000,
        cufe=root.findtext("cbc:UUID", namespaces=NS), signed_xml=xml)
    buyer_signer = xades.load_pkcs12(make_test_pkcs12(BUYER, "clave"), "clave")
    client = DianClient(dian.url, buyer_signer, timeout=10, retries=0)
    long_ago = dt.date.today() - dt.timedelta(days=12)
    for n, code in enumerate(("030", "032")):
        ev = dian_events.Event(code, f"B{n}", long_ago, dt.time(9, 0), "2", Software(*BUYER_SW, BUYER),
                               Party(BUYER, "Cliente"), Party(SUPPLIER, "Proveedor"), inv.full_number, inv.cufe,
                               person=dian_events.Person("1020304050", "Ana", "Pérez"))
        signed = dian_events.sign_event(ev, buyer_signer, signing_time=dt.datetime.now(dt.timezone.utc))
        assert client.send_event("ar.xml", signed).accepted
    radian.follow_own_invoices(supplier)  # not enabled: the term is tracked, nothing registered
    assert TacitTerm.objects.get(document=inv).status == "due"
    assert not ReceptionEvent.objects.filter(own_document=inv).exists()
    EventSettings.objects.filter(issuer=supplier).update(auto_tacit_acceptance=True)
    created = radian.follow_own_invoices(supplier)
    assert [(e.code, e.state) for e in created] == [("034", "accepted")]
    assert TacitTerm.objects.get(document=inv).status == "registered"


# --- SAT status (Mexico) ----------------------------------------------------------------------------------

@pytest.fixture
def pac(settings):
    from facturador.cfdi.sandbox import PacSandbox
    sb = PacSandbox().start()
    settings.FACTURADOR_SAT_STATUS_URL = sb.url + "/ConsultaCFDIService.svc"
    settings.FACTURADOR_ALLOWED_ENDPOINTS = [sb.url]
    yield sb
    sb.stop()


def test_sat_status_single_and_bulk(pac, make_issuer):
    from lxml import etree

    from facturador.cfdi.build import Concepto, Emisor, Invoice, Receptor, build_invoice
    from facturador.cfdi.csd import load_csd
    from facturador.cfdi.pac import FinkokPac
    from facturador.cfdi.tests.conftest import shared_dir
    from facturador.core.jobs import execute_job

    d = shared_dir() / "sat" / "csd"
    if not (d / "EKU9003173C9.cer").exists():
        pytest.skip("SAT test CSD not found")
    csd = load_csd((d / "EKU9003173C9.cer").read_bytes(), (d / "EKU9003173C9.key").read_bytes(), "12345678a")
    inv = Invoice(emisor=Emisor.from_csd(csd, "601"), receptor=Receptor(
        rfc="URE180429TM6", nombre="UNIVERSIDAD ROBOTICA ESPAÑOLA", codigo_postal="86991", regimen_fiscal="601",
        uso_cfdi="G03"), lugar_expedicion="42501", serie="R", folio="1",
        conceptos=[Concepto("84111506", "1", "E48", "Servicio", "1500", iva="16")])
    stamped = FinkokPac("demo", "demo", pac.url, csd=csd, retries=0, timeout=10).stamp(build_invoice(inv, csd))
    root = etree.fromstring(stamped.xml_bytes)
    issuer = make_issuer("MX", tax_id="URE180429TM6", legal_name="UNIVERSIDAD ROBOTICA ESPAÑOLA",
                         postal_code="86991")
    intake = Intake.objects.create(issuer=issuer, source="upload", original_name="cfdi.xml")
    doc = ReceivedDocument(issuer=issuer, intake=intake, source="upload", country="MX", kind="cfdi_ingreso",
                           supplier_tax_id=csd.rfc, buyer_tax_id="URE180429TM6", number="R1",
                           uuid=stamped.uuid.lower(), verification="ok", total=root.get("Total"), currency="MXN")
    doc.xml.save("cfdi.xml", ContentFile(stamped.xml_bytes), save=False)
    doc.save()
    doc = actions.check_sat_status(issuer, actor(), document=doc)
    assert (doc.sat_state, doc.sat_cancellable, doc.sat_cancellation_status) == \
        ("vigente", "Cancelable con aceptación", "")
    pac.mark_cancelled(stamped.uuid, "Cancelado con aceptación")
    job = actions.check_sat_status_bulk(issuer, actor(), documents=[doc])
    execute_job.call(job.pk)
    doc.refresh_from_db()
    assert (doc.sat_state, doc.sat_cancellation_status) == ("cancelado", "Cancelado con aceptación")


def test_web_buttons_refuse_out_of_order_and_bulk_acknowledges(buyer, invoice, client, make_user):
    client.force_login(make_user("recepcion", buyer, "billing"))
    r = client.post(f"/recepcion/{invoice.pk}/evento/", {"code": "033"}, follow=True)
    assert "requiere registrar antes 030" in r.content.decode()
    assert not ReceptionEvent.objects.filter(document=invoice).exists()
    r = client.post("/recepcion/eventos/lote/", {"documents": [invoice.pk], "action": "acknowledge"}, follow=True)
    assert r.status_code == 200 and ReceptionEvent.objects.get(document=invoice).code == "030"
    page = client.get(f"/recepcion/{invoice.pk}/").content.decode()
    assert 'data-code="030"' in page and "Reclamar (031)" in page
    r = client.post("/recepcion/eventos/configuracion/", {"person_id_type": "13", "person_id_number": "52000111",
                                                         "person_first_name": "Luz", "person_family_name": "Díaz",
                                                         "event_prefix": "EVR", "email_supplier": "on"})
    assert r.status_code == 302 and EventSettings.objects.get(issuer=buyer).person_id_number == "52000111"
    assert "tacit-terms" in client.get("/recepcion/eventos/configuracion/").content.decode()


# --- "Consultar estado en la DIAN": GetStatus by the CUFE ---------------------------------------------------

def test_dian_status_of_a_received_invoice_is_asked_with_its_cufe(buyer, invoice, dian):
    doc = actions.check_dian_status(buyer, actor(), document=invoice)
    assert (doc.dian_check, doc.get_dian_check_display()) == ("valid", "Válido en la DIAN")
    assert doc.dian_checked_at is not None and doc.dian_check_message


def test_dian_status_of_a_document_dian_does_not_have(buyer, invoice):
    ReceivedDocument.objects.filter(pk=invoice.pk).update(uuid="ab" * 48)  # a CUFE no one sent to DIAN
    invoice.refresh_from_db()
    assert actions.check_dian_status(buyer, actor(), document=invoice).dian_check == "not_found"


def test_dian_status_when_dian_does_not_answer_is_a_503_refusal(buyer, invoice, dian):
    from facturador.reception.dianstatus import DianUnavailable

    dian.stop()
    with pytest.raises(DianUnavailable) as e:
        actions.check_dian_status(buyer, actor(), document=invoice)
    assert e.value.status == 503 and e.value.code == "reception.dian.unavailable"
    invoice.refresh_from_db()
    assert invoice.dian_check == ""


def test_dian_status_through_the_page_the_api_and_the_cli(buyer, invoice, dian, client, api_client, make_user,
                                                         capsys):
    user = make_user("compras", buyer, "billing")
    client.force_login(user)
    client.post(f"/recepcion/{invoice.pk}/dian/")
    page = client.get(f"/recepcion/{invoice.pk}/").content.decode()
    assert "Válido en la DIAN" in page
    api_client.force_authenticate(user)
    resp = api_client.post(f"/api/v1/issuers/{buyer.pk}/received/{invoice.pk}/dian-status/")
    assert resp.status_code == 200 and resp.json()["dian_check"] == "valid"
    call_command("reception", "dian-status", "--issuer", BUYER, "--document", invoice.uuid, "--json")
    assert json.loads(capsys.readouterr().out)["dian_check"] == "valid"
