"""The client's newer operations against the local DIAN service: RADIAN events, notes, document info, acquirers,
exchange e-mails and attachments."""
from lxml import etree

from facturador.dian import attached
from facturador.dian.sandbox import DianSandbox, SandboxServer
from facturador.dian.verify import verify_signature
from facturador.dian.ws import document_filename, make_zip, make_zip_many, zip_filename
from facturador.dian.xades import sign

from .conftest import CUSTOMER_NIT, SUPPLIER_NIT, build_event, build_signed, invoice_json, note_json

CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
_n = iter(range(5000, 10**6))


def fname(kind="invoice"):
    return document_filename(kind, SUPPLIER_NIT, next(_n), 2026)


def ar_name():
    return document_filename("application_response", CUSTOMER_NIT, next(_n), 2026)


def accepted_invoice(client, signer):
    xml = build_signed(invoice_json(990100000 + next(_n)), signer)
    r = client.send_document(fname(), xml)
    assert r.accepted, r.messages
    return xml, r.xml_document_key


def send(client, code, invoice, signer, **kw):
    return client.send_event(ar_name(), build_event(code, invoice, signer, number=str(next(_n)), **kw))


def test_event_accepted_with_its_cude_and_a_signed_answer(client, signer):
    inv, cufe = accepted_invoice(client, signer)
    ev = build_event("030", inv, signer)
    r = client.send_event(ar_name(), ev)
    assert r.status_code == "00" and r.accepted, r.messages
    assert r.xml_document_key == etree.fromstring(ev).findtext(f"{{{CBC}}}UUID")
    assert "030" in r.status_message
    assert verify_signature(r.application_response).ok
    again = client.send_event(ar_name(), ev)
    assert again.is_duplicate and again.accepted and again.xml_document_key == r.xml_document_key


def test_events_in_order_then_get_status_event(client, signer):
    inv, cufe = accepted_invoice(client, signer)
    for code in ("030", "032", "033"):
        r = send(client, code, inv, signer)
        assert r.accepted, (code, r.messages)
    st = client.get_status_event(cufe)
    assert st.status_code == "00" and st.xml_document_key == cufe
    assert all(c in st.status_message for c in ("030", "032", "033"))
    assert client.get_status_event(r.xml_document_key).xml_document_key == r.xml_document_key  # by an event's CUDE
    assert client.get_status_event("no-existe").not_found


def test_event_order_rules(client, signer):
    inv, _ = accepted_invoice(client, signer)
    r = send(client, "032", inv, signer)
    assert not r.accepted and [m.code for m in r.rejections] == ["LGC03"]  # 032 needs 030 first
    assert send(client, "030", inv, signer).accepted
    again = send(client, "030", inv, signer)  # another 030 (new CUDE) on the same invoice
    assert [m.code for m in again.rejections] == ["LGC01"]
    assert [m.code for m in send(client, "033", inv, signer).rejections] == ["LGC03"]  # acceptance needs 032
    assert send(client, "032", inv, signer).accepted
    assert send(client, "031", inv, signer).accepted  # claim
    assert [m.code for m in send(client, "033", inv, signer).rejections] == ["LGC04"]  # nothing after a claim


def test_tacit_acceptance_only_after_the_term(client, signer):
    inv, _ = accepted_invoice(client, signer)
    assert send(client, "030", inv, signer).accepted and send(client, "032", inv, signer).accepted
    early = send(client, "034", inv, signer, sender_nit=SUPPLIER_NIT)  # the 3 business days have not passed
    assert [m.code for m in early.rejections] == ["LGC20"]


def test_event_cude_is_recomputed_with_the_software_pin(client, signer):
    inv, _ = accepted_invoice(client, signer)
    r = send(client, "030", inv, signer, pin="00000")
    assert not r.accepted and [m.code for m in r.rejections] == ["AAD06"]


def test_no_claim_after_acceptance_and_tacit_acceptance_by_the_supplier(client, signer):
    import datetime as dt
    inv, _ = accepted_invoice(client, signer)
    before = dt.date.today() - dt.timedelta(days=12)
    assert send(client, "030", inv, signer, issue_date=before).accepted
    assert send(client, "032", inv, signer, issue_date=before).accepted
    wrong = send(client, "034", inv, signer)  # tacit acceptance is the supplier's, not the buyer's
    assert [m.code for m in wrong.rejections] == ["LGC06"]
    assert send(client, "034", inv, signer, sender_nit=SUPPLIER_NIT).accepted
    assert [m.code for m in send(client, "031", inv, signer).rejections] == ["LGC05"]


def test_event_on_unknown_document_bad_code_or_bad_signature(client, signer):
    foreign = build_signed(invoice_json(990100000 + next(_n)), signer)  # never sent
    assert [m.code for m in send(client, "030", foreign, signer).rejections] == ["LGC02"]
    inv, _ = accepted_invoice(client, signer)
    bad_code = build_event("030", inv, signer, number="98").replace(b">030</cbc:ResponseCode>",
                                                                    b">099</cbc:ResponseCode>")
    assert "AAH03" in [m.code for m in client.send_event(ar_name(), bad_code).rejections]
    tampered = build_event("030", inv, signer).replace(b"Acuse de recibo", b"Acuse alterado")
    r = client.send_event(ar_name(), tampered)
    assert not r.accepted and "ZE02" in [m.code for m in r.rejections]
    assert client.send_event_update_status(b"no es zip").status_code == "89"


def test_reference_notes_and_document_info(client, signer):
    inv, cufe = accepted_invoice(client, signer)
    root = etree.fromstring(inv)
    number, date = root.findtext(f"{{{CBC}}}ID"), root.findtext(f"{{{CBC}}}IssueDate")
    cn = build_signed(note_json("credit_note", next(_n), number, cufe, date), signer)
    rn = client.send_document(fname("credit_note"), cn)
    assert rn.accepted, rn.messages
    notes = client.get_reference_notes(cufe)
    assert notes.status_code == "00" and rn.xml_document_key in notes.status_message
    assert client.get_reference_notes("no-existe").not_found
    assert send(client, "030", inv, signer).accepted
    info = client.get_document_info(cufe)
    assert info.ok
    doc = info.document
    assert (doc.uuid, doc.document_type_id, doc.issuer.number, doc.receiver.number) == \
        (cufe, "01", SUPPLIER_NIT, CUSTOMER_NIT)
    assert doc.number.series == "SETP" and number.endswith(doc.number.folio)
    assert doc.event_codes == ["030"] and doc.status == {30: "Acuse de recibo de Factura Electrónica de Venta"}
    assert [(n.uuid, n.concept.code) for n in doc.notes] == [(rn.xml_document_key, "1")]
    assert doc.totals.total == __import__("decimal").Decimal(root.findtext(
        "{urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2}LegalMonetaryTotal/"
        f"{{{CBC}}}PayableAmount"))
    note_info = client.get_document_info(rn.xml_document_key).document
    assert note_info.references[0].uuid == cufe and note_info.holder is None
    missing = client.get_document_info("no-existe")
    assert not missing.ok and missing.status_code == "404" and missing.documents == []


def test_title_date_after_acceptance(client, signer):
    inv, cufe = accepted_invoice(client, signer)
    for code in ("030", "032", "033"):
        assert send(client, code, inv, signer).accepted
    assert client.get_document_info(cufe).document.holder.registered_as_title_date


def test_acquirer_and_exchange_emails(client, sandbox):
    sandbox.register_acquirer("31", "800199436-4", "Cliente Comercial Ltda.", "recepcion@cliente.example")
    sandbox.register_acquirer("13", "1020304050", "Ana Pérez", "ana@correo.example")
    a = client.get_acquirer("31", "800199436")
    assert a.ok and (a.name, a.email) == ("Cliente Comercial Ltda.", "recepcion@cliente.example")
    assert not client.get_acquirer("13", "999").ok and client.get_acquirer("13", "999").status_code == "404"
    assert client.get_acquirer("99", "800199436").status_code == "400"
    ex = client.get_exchange_emails()
    assert ex.ok
    assert [(r["NumeroIdentificacion"], r["CorreoRecepcion"]) for r in ex.rows] == [
        ("1020304050", "ana@correo.example"), ("800199436", "recepcion@cliente.example")]


def test_send_bill_attachment_async(client, signer):
    inv, cufe = accepted_invoice(client, signer)
    ar = client.get_status(cufe).application_response
    container = sign(attached.build_attached_document(inv, ar), signer)
    foreign = sign(attached.build_attached_document(build_signed(invoice_json(990100000 + next(_n)), signer), None),
                   signer)
    names = [document_filename("attached_document", SUPPLIER_NIT, next(_n), 2026) for _ in range(2)]
    up = client.send_bill_attachment_async(zip_filename(SUPPLIER_NIT, next(_n), 2026),
                                           make_zip_many([(names[0], container), (names[1], foreign)]))
    assert up.ok
    final = client.poll_until_final(up.zip_key, interval=0)
    assert [(r.status_code, r.xml_document_key) for r in final][0] == ("00", cufe)
    assert final[1].status_code == "99" and [m.code for m in final[1].rejections] == ["LGC02"]


def test_events_and_acquirers_survive_a_restart(tmp_path, signer, software_id, pin):
    from facturador.dian.ws import DianClient
    state = str(tmp_path / "state.json")
    with SandboxServer(software={software_id: pin}, state_file=state) as srv:
        c = DianClient(srv.url, signer, timeout=10, retries=0)
        inv, cufe = accepted_invoice(c, signer)
        assert send(c, "030", inv, signer).accepted
        srv.register_acquirer("31", "800199436", "Cliente", "r@cliente.example")
    again = DianSandbox(state_file=state)
    assert again.op_GetDocumentInfo(cufe).document.event_codes == ["030"]
    assert again.op_GetAcquirer("31", "800199436").email == "r@cliente.example"
    assert make_zip  # imported for symmetry with the other tests


def test_event_is_checked_against_the_xsd(signer, software_id, pin):
    import datetime as dt

    import pytest

    from facturador.dian import events
    from facturador.dian.model import Party, Software

    from .conftest import SCHEMA_DIR
    if not (SCHEMA_DIR / "maindoc" / "UBL-ApplicationResponse-2.1.xsd").is_file():
        pytest.skip("DIAN XSDs not found")
    sb = DianSandbox(software={software_id: pin}, schema_dir=str(SCHEMA_DIR))
    ev = events.Event("030", "X1", dt.date.today(), dt.time(10, 0), "2", Software(software_id, pin, CUSTOMER_NIT),
                      Party(CUSTOMER_NIT, "Cliente"), Party(SUPPLIER_NIT, "Proveedor"), "SETP990000001", "a" * 96)
    assert "ZB01" not in [m.code for m in sb.process_event(events.sign_event(ev, signer), "ar.xml").rejections]
    root = events.build_event(ev)
    etree.SubElement(root, f"{{{CBC}}}Bogus").text = "1"  # not in UBL's ApplicationResponse
    assert "ZB01" in [m.code for m in sb.process_event(sign(root, signer), "ar.xml").rejections]
