"""The production client against the sandbox over real HTTP on 127.0.0.1."""
import datetime as dt
import os
import socket
import subprocess
import sys
import threading
import time
import types

import pytest
from lxml import etree

from facturador.dian.sandbox import SandboxServer
from facturador.dian.testing import make_test_certificate
from facturador.dian.verify import verify_signature
from facturador.dian.ws import (DianClient, DianSoapFault, DianStillProcessing, DianTransportError,
                                document_filename, make_zip, make_zip_many, zip_filename)

from .conftest import HAB_KEY, SCHEMA_DIR, SUPPLIER_NIT, build_signed, invoice_json, note_json

CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
_counter = iter(range(1, 10**6))


def fname(kind="invoice"):
    return document_filename(kind, SUPPLIER_NIT, next(_counter), 2026)


def cufe_of(xml: bytes) -> str:
    return etree.fromstring(xml).findtext(f"{{{CBC}}}UUID")


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_send_sync_accepted_with_application_response(client, signer):
    xml = build_signed(invoice_json(990000201), signer)
    r = client.send_document(fname(), xml)
    assert r.status_code == "00" and r.is_valid and r.accepted and not r.rejected
    assert r.status_description == "Procesado Correctamente."
    assert r.rejections == []
    assert r.xml_document_key == cufe_of(xml)
    ar = etree.fromstring(r.application_response)
    assert etree.QName(ar).localname == "ApplicationResponse"
    assert ar.findtext(f"{{{CAC}}}DocumentResponse/{{{CAC}}}DocumentReference/{{{CBC}}}UUID") == cufe_of(xml)
    assert ar.findtext(f"{{{CAC}}}DocumentResponse/{{{CAC}}}Response/{{{CBC}}}ResponseCode") == "02"
    assert verify_signature(r.application_response).ok  # signed by the sandbox's own throw-away key
    # GetStatus by CUFE returns the same verdict; GetXmlByDocumentKey the very bytes sent
    st = client.get_status(r.xml_document_key)
    assert st.accepted and st.application_response == r.application_response
    got = client.get_xml_by_document_key(r.xml_document_key)
    assert got.ok and got.xml == xml


def test_application_response_matches_the_xsd(client, signer):
    if not (SCHEMA_DIR / "maindoc" / "UBL-ApplicationResponse-2.1.xsd").is_file():
        pytest.skip(f"DIAN XSDs not found in {SCHEMA_DIR} (set FACTURADOR_SHARED_DIR)")
    r = client.send_document(fname(), build_signed(invoice_json(990000202), signer))
    schema = etree.XMLSchema(etree.parse(str(SCHEMA_DIR / "maindoc" / "UBL-ApplicationResponse-2.1.xsd")))
    doc = etree.fromstring(r.application_response)
    assert schema.validate(doc), schema.error_log


def test_bad_document_signature_is_rejected_with_its_rule(client, signer):
    xml = build_signed(invoice_json(990000203), signer)
    tampered = xml.replace(b"compras@cliente.example", b"otro@cliente.example")
    assert tampered != xml
    r = client.send_document(fname(), tampered)
    assert r.status_code == "99" and not r.is_valid and not r.accepted and r.rejected
    assert "ZE02" in [m.code for m in r.rejections]
    assert r.application_response is None
    # the rejected document is not "processed": the untouched one is then accepted
    assert client.send_document(fname(), xml).accepted


def test_wrong_cufe_key_rejected_fad06(client, signer):
    xml = build_signed(invoice_json(990000204, technical_key="0" * 40), signer)
    r = client.send_document(fname(), xml)
    assert not r.accepted and "FAD06" in [m.code for m in r.rejections]


def test_duplicate_is_rule_90_and_accepted_with_cufe(client, signer):
    xml = build_signed(invoice_json(990000205), signer)
    first = client.send_document(fname(), xml)
    assert first.accepted
    again = client.send_document(fname(), xml)
    assert again.status_code == "99" and not again.is_valid
    assert [m.code for m in again.rejections] == ["90"]
    assert again.is_duplicate and again.accepted
    assert again.xml_document_key == first.xml_document_key == cufe_of(xml)
    assert again.application_response == first.application_response


def test_same_number_under_another_cufe_is_rule_90_even_after_a_reload(sandbox, signer, software_id, pin, tmp_path):
    """An accepted number signed again (another issue time, so another CUFE) is answered as already processed,
    with the first document's CUFE, also by a sandbox that reloaded its state file (the number index is rebuilt)."""
    from facturador.dian.sandbox import DianSandbox

    first_json = invoice_json(990000209)
    second_json = invoice_json(990000209)
    second_json["issue_time"] = "23:59:59"
    first, second = build_signed(first_json, signer), build_signed(second_json, signer)
    assert cufe_of(first) != cufe_of(second)
    state = str(tmp_path / "state.json")
    box = DianSandbox(software={software_id: pin}, state_file=state)
    assert box.process_document(first, "a.xml").accepted
    for current in (box, DianSandbox(software={software_id: pin}, state_file=state)):
        again = current.process_document(second, "b.xml")
        assert [m.code for m in again.rejections] == ["90"]
        assert again.xml_document_key == cufe_of(first)


def test_registered_production_range_and_numbering_range(client, sandbox, signer, software_id):
    key = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
    data = invoice_json(1500, prefix="FEV", technical_key=key, environment="1", resolution="18764000001234",
                        range_from=1000, range_to=5000, valid_from="2026-01-01", valid_to="2027-12-31")
    xml = build_signed(data, signer)
    r = client.send_document(fname(), xml)
    assert not r.accepted and "FAD05e" in [m.code for m in r.rejections]  # range unknown to the sandbox
    sandbox.register_range(SUPPLIER_NIT, "FEV", 1000, 5000, key, software_id=software_id,
                           resolution_number="18764000001234", resolution_date="2026-01-01",
                           valid_date_from="2026-01-01", valid_date_to="2027-12-31")
    r = client.send_document(fname(), xml)
    assert r.accepted, r.messages
    nr = client.get_numbering_range(SUPPLIER_NIT, SUPPLIER_NIT, software_id)
    assert nr.ok and nr.operation_code == "100"
    assert [(g.prefix, g.from_number, g.to_number, g.technical_key, g.resolution_number) for g in nr.ranges] == \
        [("FEV", 1000, 5000, key, "18764000001234")]
    other = client.get_numbering_range(SUPPLIER_NIT, SUPPLIER_NIT, "otro-software")
    assert not other.ok and other.ranges == []


def test_unknown_software_rejected(sandbox, signer):
    sandbox.software.clear()
    c = DianClient(sandbox.url, signer, timeout=10, retries=0)
    r = c.send_document(fname(), build_signed(invoice_json(990000206), signer))
    assert "FAB24b" in [m.code for m in r.rejections]


def test_sync_needs_exactly_one_xml(client, signer):
    a = build_signed(invoice_json(990000207), signer)
    b = build_signed(invoice_json(990000208), signer)
    r = client.send_bill_sync(zip_filename(SUPPLIER_NIT, 1, 2026), make_zip_many([(fname(), a), (fname(), b)]))
    assert r.status_code == "89" and not r.accepted
    r = client.send_bill_sync(zip_filename(SUPPLIER_NIT, 2, 2026), b"not a zip")
    assert r.status_code == "89" and "ZIP" in r.status_description


def test_async_batch_in_process_then_final_by_polling(client, signer):
    a = build_signed(invoice_json(990000211), signer)
    b = build_signed(invoice_json(990000212, technical_key="f" * 40), signer)  # wrong CUFE -> rejected
    up = client.send_bill_async(zip_filename(SUPPLIER_NIT, 3, 2026), make_zip_many([(fname(), a), (fname(), b)]))
    assert up.ok and up.zip_key and up.errors == []
    first = client.get_status_zip(up.zip_key)
    assert len(first) == 1 and first[0].status_code == "98" and first[0].in_process and not first[0].final
    waits = []
    client.sleep = lambda s: (waits.append(s), time.sleep(s))
    final = client.poll_until_final(up.zip_key, attempts=5, interval=0.01)
    assert [r.status_code for r in final] == ["00", "99"]
    assert final[0].xml_document_key == cufe_of(a)
    assert "FAD06" in [m.code for m in final[1].rejections]
    assert client.get_status(cufe_of(a)).accepted
    assert client.get_status_zip("no-existe")[0].status_code == "66"
    assert client.get_status("f" * 96).status_code == "66"


def test_polling_is_bounded(sandbox, signer):
    sandbox.sandbox.async_pending_polls = 10
    waits = []
    c = DianClient(sandbox.url, signer, timeout=10, retries=0, sleep=lambda s: waits.append(s))
    up = c.send_bill_async(zip_filename(SUPPLIER_NIT, 4, 2026),
                           make_zip(fname(), build_signed(invoice_json(990000213), signer)))
    with pytest.raises(DianStillProcessing) as e:
        c.poll_until_final(up.zip_key, attempts=3, interval=0.5, max_interval=0.8)
    assert e.value.attempts == 3 and e.value.responses[0].in_process
    assert waits == [0.5, 0.8]
    assert e.value.code == "ws_pending" and "procesando" in e.value.message


def test_test_set_counts_to_accepted(client, sandbox, signer):
    set_id = "set-hab-1"
    sent = []

    def send(xml, kind="invoice"):
        up = client.send_test_set_async(zip_filename(SUPPLIER_NIT, len(sent) + 10, 2026),
                                        make_zip(fname(kind), xml), set_id)
        assert up.ok
        sent.append(up.zip_key)
        return client.poll_until_final(up.zip_key, attempts=4, interval=0.01)

    inv1 = build_signed(invoice_json(990000301), signer)
    inv2 = build_signed(invoice_json(990000302), signer)
    bad = build_signed(invoice_json(990000303, technical_key="1" * 40), signer)
    assert send(inv1)[0].accepted
    assert not send(bad)[0].accepted          # rejected documents do not count
    res = send(inv2)
    assert len(res) == 1 and res[0].accepted  # still missing the notes: no set verdict yet
    assert not sandbox.test_set_status(set_id).is_accepted
    inv1_date = etree.fromstring(inv1).findtext(f"{{{CBC}}}IssueDate")
    cn = build_signed(note_json("credit_note", 11, "SETP990000301", cufe_of(inv1), inv1_date), signer)
    assert send(cn, "credit_note")[0].accepted
    dn = build_signed(note_json("debit_note", 12, "SETP990000301", cufe_of(inv1), inv1_date), signer)
    res = send(dn, "debit_note")
    assert res[0].accepted
    verdict = res[-1]
    assert verdict.test_set_accepted and verdict.status_code == "2" and not verdict.is_valid
    assert verdict.status_description == f"Set de prueba con identificador {set_id} se encuentra Aceptado."
    ts = sandbox.test_set_status(set_id)
    assert ts.is_accepted and ts.accepted == {"invoices": 2, "credit_notes": 1, "debit_notes": 1} and ts.sent == 5
    up = client.send_test_set_async("z.zip", make_zip(fname(), inv1), "set-que-no-existe")
    assert not up.ok and up.errors and not up.errors[0].success


def test_credit_note_referencing_unknown_invoice_rejected(client, signer):
    cn = build_signed(note_json("credit_note", 21, "SETP990009999", "e" * 96, "2026-11-20"), signer)
    r = client.send_document(fname("credit_note"), cn)
    assert "CBG04a" in [m.code for m in r.rejections]


# ------------------------------------------------------------------ WS-Security refusals through the client
def test_expired_timestamp_refused(sandbox, signer):
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    c = DianClient(sandbox.url, signer, timeout=10, retries=3, clock=lambda: past, sleep=lambda s: None)
    with pytest.raises(DianSoapFault) as e:
        c.get_status("a" * 96)
    assert e.value.fault.code == "Sender" and e.value.fault.subcode == "MessageExpired"
    assert e.value.attempts == 1 and sandbox.request_count == 1   # a refusal is never retried
    assert e.value.status == 500


def test_wrong_signature_refused(sandbox, signer):
    other_key, _, _ = make_test_certificate("800199436")
    forged = types.SimpleNamespace(key=other_key, certificate=signer.certificate)
    c = DianClient(sandbox.url, forged, timeout=10, retries=2, sleep=lambda s: None)
    with pytest.raises(DianSoapFault) as e:
        c.get_numbering_range(SUPPLIER_NIT, SUPPLIER_NIT, "x")
    assert e.value.fault.subcode == "FailedCheck" and e.value.attempts == 1
    assert "firma" in e.value.fault.reason


def test_plain_http_post_without_soap_is_refused(sandbox):
    import requests
    r = requests.post(sandbox.url, data=b"<x/>", headers={"Content-Type": "text/xml"}, timeout=10)
    assert r.status_code == 415
    r = requests.post(sandbox.url, data=b"<x/>", headers={"Content-Type": "application/soap+xml"}, timeout=10)
    assert r.status_code == 500 and b"Fault" in r.content


# ------------------------------------------------------------------ retries
def test_retries_until_server_comes_up(signer, software_id, pin):
    port = free_port()
    srv = SandboxServer(port=port, software={software_id: pin})
    timer = threading.Timer(0.4, srv.start)
    timer.start()
    waits = []
    c = DianClient(f"http://127.0.0.1:{port}/WcfDianCustomerServices.svc", signer, timeout=5, retries=8,
                   backoff=0.1, max_backoff=0.4, sleep=lambda s: (waits.append(s), time.sleep(s)))
    try:
        r = c.get_status("b" * 96)
        assert r.status_code == "66"
        assert len(waits) >= 1 and waits[:3] == [0.1, 0.2, 0.4][:len(waits[:3])]
        assert srv.request_count == 1  # the failed attempts never reached it
    finally:
        timer.join()
        srv.stop()


def test_gives_up_after_bounded_attempts(signer):
    port = free_port()  # nothing listens there: connection refused
    waits = []
    c = DianClient(f"http://127.0.0.1:{port}/WcfDianCustomerServices.svc", signer, timeout=2, retries=2,
                   backoff=0.05, sleep=lambda s: waits.append(s))
    with pytest.raises(DianTransportError) as e:
        c.get_status("c" * 96)
    assert e.value.attempts == 3 and e.value.status is None and waits == [0.05, 0.1]
    assert "DIAN" in e.value.message


def test_retries_on_5xx_but_not_on_rejection(sandbox, signer):
    c = DianClient(sandbox.url, signer, timeout=10, retries=3, backoff=0.01)
    sandbox.fail_next(2, status=503)
    r = c.send_document(fname(), build_signed(invoice_json(990000401), signer))
    assert r.accepted and sandbox.request_count == 3
    bad = build_signed(invoice_json(990000402, technical_key="2" * 40), signer)
    r = c.send_document(fname(), bad)
    assert r.status_code == "99" and sandbox.request_count == 4   # a DIAN rejection is final
    sandbox.fail_next(5, status=502)
    with pytest.raises(DianTransportError) as e:
        c.get_status("d" * 96)
    assert e.value.attempts == 4 and e.value.status == 502


def test_timeout_then_retry_succeeds(sandbox, signer):
    sandbox.delay_next(1, 1.5)
    c = DianClient(sandbox.url, signer, timeout=0.5, retries=1, backoff=0.01)
    assert c.get_status("e" * 96).status_code == "66"
    assert sandbox.request_count == 2


def test_state_survives_restart(tmp_path, signer, software_id, pin):
    state = str(tmp_path / "sandbox.json")
    xml = build_signed(invoice_json(990000501), signer)
    with SandboxServer(software={software_id: pin}, state_file=state) as srv:
        first = DianClient(srv.url, signer, retries=0).send_document(fname(), xml)
        assert first.accepted
    with SandboxServer(state_file=state) as srv:
        c = DianClient(srv.url, signer, retries=0)
        assert c.get_status(first.xml_document_key).application_response == first.application_response
        assert c.send_document(fname(), xml).is_duplicate
        assert c.get_xml_by_document_key(first.xml_document_key).xml == xml


def test_command_line_server(signer, tmp_path):
    port = free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "facturador.dian.sandbox", "--port", str(port),
                             "--software", "sw-1:999", "--range", f"{SUPPLIER_NIT}:SETP:990000000:995000000:{HAB_KEY}"
                             ":sw-1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        line = proc.stdout.readline().decode()
        assert f":{port}/WcfDianCustomerServices.svc" in line
        c = DianClient(f"http://127.0.0.1:{port}/WcfDianCustomerServices.svc", signer, retries=5, backoff=0.1)
        nr = c.get_numbering_range(SUPPLIER_NIT, SUPPLIER_NIT, "sw-1")
        assert [(g.prefix, g.technical_key) for g in nr.ranges] == [("SETP", HAB_KEY)]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_sender_must_be_authorised_for_the_issuer(signer, software_id, pin):
    """Status 89 when the WS-Security certificate belongs neither to the issuer nor to an authorised provider."""
    from facturador.dian.testing import make_test_pkcs12
    from facturador.dian.xades import load_pkcs12
    provider = load_pkcs12(make_test_pkcs12("901234567", "x"), "x")
    xml = build_signed(invoice_json(990000601), signer)
    with SandboxServer(software={software_id: pin}, authorized_senders={}) as srv:
        r = DianClient(srv.url, provider, retries=0).send_document(fname(), xml)
        assert r.status_code == "89" and not r.accepted
        assert r.status_description == f"NIT 901234567 no autorizado a enviar documentos para emisor con NIT " \
                                       f"{SUPPLIER_NIT}."
        assert DianClient(srv.url, signer, retries=0).send_document(fname(), xml).accepted  # the issuer itself
        srv.sandbox.authorized_senders[SUPPLIER_NIT] = ["901234567"]
        assert DianClient(srv.url, provider, retries=0).send_document(fname(), xml).is_duplicate


def test_action_must_match_the_operation(sandbox, signer):
    import requests

    from facturador.dian.ws import soap
    body = soap.build_envelope("GetStatus", {"trackId": "x"}, sandbox.url, signer.key, signer.certificate)
    r = requests.post(sandbox.url, data=body, timeout=10, headers={
        "Content-Type": f'application/soap+xml; charset=utf-8; action="{soap.action_uri("GetStatusZip")}"'})
    assert r.status_code == 500
    assert soap.find_fault(etree.fromstring(r.content)).subcode == "ActionMismatch"
    wrong = body.replace(b"IWcfDianCustomerServices/GetStatus<", b"IWcfDianCustomerServices/GetStatusZip<")
    r = requests.post(sandbox.url, data=wrong, timeout=10, headers={"Content-Type": "application/soap+xml"})
    assert soap.find_fault(etree.fromstring(r.content)).subcode == "ActionNotSupported"


def test_concurrent_sends_keep_state_consistent(sandbox, signer):
    """Parallel clients: every distinct invoice is accepted once; the same invoice sent twice at the same time
    gives exactly one acceptance and one rule 90."""
    from concurrent.futures import ThreadPoolExecutor
    docs = [build_signed(invoice_json(990000700 + i), signer) for i in range(6)]
    twin = build_signed(invoice_json(990000799), signer)
    work = docs + [twin, twin]

    def send(xml):
        return DianClient(sandbox.url, signer, timeout=20, retries=0).send_document(fname(), xml)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(send, work))
    assert all(r.accepted for r in results)
    assert sorted(r.xml_document_key for r in results[:6]) == sorted(cufe_of(x) for x in docs)
    twins = results[6:]
    assert sorted(r.status_code for r in twins) == ["00", "99"]
    assert sum(r.is_duplicate for r in twins) == 1
    assert sandbox.request_count == len(work)


def test_command_line_port_zero_prints_the_real_port(signer):
    proc = subprocess.Popen([sys.executable, "-m", "facturador.dian.sandbox", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        line = proc.stdout.readline().decode()
        url = line.split()[line.split().index("en") + 1]
        assert not url.startswith("http://127.0.0.1:0/")
        assert DianClient(url, signer, retries=0).get_status("a" * 96).not_found
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_sandbox_with_xsd_validation(signer, software_id, pin):
    if not (SCHEMA_DIR / "maindoc" / "UBL-Invoice-2.1.xsd").is_file():
        pytest.skip(f"DIAN XSDs not found in {SCHEMA_DIR} (set FACTURADOR_SHARED_DIR)")
    xml = build_signed(invoice_json(990000801), signer)
    from facturador.dian import ubl
    from facturador.dian.jsonio import document_from_json
    from facturador.dian.xades import sign
    tree = ubl.build_xml(document_from_json(invoice_json(990000802)))
    tree.find(f"{{{CBC}}}IssueTime").addnext(etree.Element(f"{{{CBC}}}NoExisteEnUBL"))
    broken = sign(tree, signer)  # validly signed, but not schema-valid
    with SandboxServer(software={software_id: pin}, schema_dir=str(SCHEMA_DIR)) as srv:
        c = DianClient(srv.url, signer, retries=0)
        assert c.send_document(fname(), xml).accepted
        r = c.send_document(fname(), broken)
        assert [m.code for m in r.rejections] == ["ZB01"]
