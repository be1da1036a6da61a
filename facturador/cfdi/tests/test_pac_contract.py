"""The local PAC against Finkok's published WSDLs (shared/pac/finkok/) and SW Sapien's SDK contract
(shared/pac/swsapien.md); the product's Finkok client reads answers along the WSDL's structure."""
import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from lxml import etree

from facturador.cfdi.build import build_invoice
from facturador.cfdi.pac import FinkokPac, SwSapienPac
from facturador.cfdi.sandbox import APPS, CANCEL_NS, SOAP_ENV, STAMP_NS

XS = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"


def sequence(shared, wsdl: str, type_name: str) -> list[str]:
    """Element names of a complexType's sequence in one of Finkok's WSDLs, in order."""
    t = etree.parse(str(shared / "pac" / "finkok" / wsdl))
    ct = t.find(f".//{{{XS}}}complexType[@name='{type_name}']")
    return [e.get("name") for e in ct.find(f"{{{XS}}}sequence")]


def operations(shared, wsdl: str) -> list[str]:
    t = etree.parse(str(shared / "pac" / "finkok" / wsdl))
    return [o.get("name") for o in t.iterfind(f".//{{{WSDL}}}portType/{{{WSDL}}}operation")]


def assert_in_contract_order(el, names):
    got = [etree.QName(c).localname for c in el]
    assert set(got) <= set(names), got
    assert got == [n for n in names if n in got], f"{got} is not in the WSDL order {names}"


def capture(pac):
    """The raw bodies the PAC answered (a requests response hook on the client's own session)."""
    seen = []
    pac._http.session.hooks["response"].append(lambda r, *a, **k: seen.append(r.content))
    return seen


def soap(ns, op, inner):
    return (f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:p="{ns}"><soapenv:Body><p:{op}>{inner}</p:{op}>'
            f"</soapenv:Body></soapenv:Envelope>").encode()


def test_incidencia_follows_the_wsdl_order(shared, sandbox, invoice, csd):
    pac = FinkokPac("demo", "demo", sandbox.url, retries=0, timeout=10)
    seen = capture(pac)
    xml = build_invoice(invoice, csd).replace(b'Total="', b'Total="1')  # the seal no longer matches
    with pytest.raises(Exception):
        pac.stamp(xml)
    root = etree.fromstring(seen[-1])
    result = root.find(f".//{{{STAMP_NS}}}stampResult")
    assert_in_contract_order(result, sequence(shared, "stamp.wsdl", "AcuseRecepcionCFDI"))
    inc = result.find(f"{{{APPS}}}Incidencias/{{{APPS}}}Incidencia")
    assert_in_contract_order(inc, sequence(shared, "stamp.wsdl", "Incidencia"))
    assert inc.findtext(f"{{{APPS}}}RfcEmisor") == csd.rfc and inc.findtext(f"{{{APPS}}}CodigoError") == "302"


def test_cancel_folio_follows_the_wsdl_order(shared, sandbox, invoice, csd):
    pac = FinkokPac("demo", "demo", sandbox.url, csd=csd, retries=0, timeout=10)
    stamped = pac.stamp(build_invoice(invoice, csd))
    seen = capture(pac)
    assert pac.cancel(csd.rfc, stamped.uuid, "02").status_code == "201"
    result = etree.fromstring(seen[-1]).find(f".//{{{CANCEL_NS}}}cancelResult")
    assert_in_contract_order(result, sequence(shared, "cancel40.wsdl", "CancelaCFDResult"))
    folio = result.find(f"{{{APPS}}}Folios/{{{APPS}}}Folio")
    assert_in_contract_order(folio, sequence(shared, "cancel40.wsdl", "Folio"))
    seen.clear()
    st = pac.status(csd.rfc, "URE180429TM6", "1", stamped.uuid)
    assert st.estado == "Cancelado"
    sat = etree.fromstring(seen[-1]).find(f".//{{{CANCEL_NS}}}get_sat_statusResult/{{{APPS}}}sat")
    assert_in_contract_order(sat, sequence(shared, "cancel40.wsdl", "AcuseSATConsulta"))


def test_stamped_of_a_never_stamped_cfdi_is_alert_603(sandbox, invoice, csd):
    xml = build_invoice(invoice, csd)
    body = soap(STAMP_NS, "stamped", f"<p:xml>{base64.b64encode(xml).decode()}</p:xml><p:username>demo</p:username>"
                                     "<p:password>demo</p:password>")
    r = requests.post(sandbox.url + "/servicios/soap/stamp", data=body, timeout=10,
                      headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "stamped"})
    result = etree.fromstring(r.content).find(f".//{{{STAMP_NS}}}stampedResult")
    assert r.status_code == 200
    assert result.findtext(f"{{{APPS}}}UUID") == ""
    inc = result.find(f"{{{APPS}}}Incidencias/{{{APPS}}}Incidencia")
    assert (inc.findtext(f"{{{APPS}}}CodigoError"), inc.findtext(f"{{{APPS}}}MensajeIncidencia")) == \
        ("603", "El CFDI no contiene un timbre previo")
    assert sandbox.stamped(result.findtext(f"{{{APPS}}}UUID") or "-") is None  # nothing was stamped
    # once stamped, stamped recovers that very stamp
    first = FinkokPac("demo", "demo", sandbox.url, retries=0, timeout=10).stamp(xml)
    r = requests.post(sandbox.url + "/servicios/soap/stamp", data=body, timeout=10,
                      headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "stamped"})
    result = etree.fromstring(r.content).find(f".//{{{STAMP_NS}}}stampedResult")
    assert result.findtext(f"{{{APPS}}}UUID") == first.uuid
    assert result.find(f"{{{APPS}}}Incidencias/{{{APPS}}}Incidencia") is None


@pytest.mark.parametrize("service,wsdl,ns", [("stamp", "stamp.wsdl", STAMP_NS), ("cancel", "cancel40.wsdl", CANCEL_NS),
                                             ("cancel", "cancel.wsdl", CANCEL_NS)])
def test_every_wsdl_operation_answers_soap(shared, sandbox, service, wsdl, ns):
    implemented = {"stamp": {"stamp", "quick_stamp", "stamped"}, "cancel": {"cancel", "get_sat_status"}}[service]
    for op in operations(shared, wsdl):
        for user in ("demo", "wrong"):
            body = soap(ns, op, f"<p:username>{user}</p:username><p:password>demo</p:password>")
            r = requests.post(f"{sandbox.url}/servicios/soap/{service}", data=body, timeout=10,
                              headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": op})
            assert r.headers["Content-Type"].startswith("text/xml"), (op, r.text)
            root = etree.fromstring(r.content)
            assert root.tag == f"{{{SOAP_ENV}}}Envelope"
            fault = root.find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
            if op in implemented:
                if fault is None:
                    assert r.status_code == 200
                    assert root.find(f"{{{SOAP_ENV}}}Body/{{{ns}}}{op}Response/{{{ns}}}{op}Result") is not None
            else:  # SOAP 1.1 §6.2: a fault travels with HTTP 500
                assert fault is not None and r.status_code == 500, (op, r.text)
                assert fault.findtext("faultcode") == "senv:Server.NotImplemented"
                assert op in fault.findtext("faultstring")
    r = requests.post(f"{sandbox.url}/servicios/soap/{service}", data=soap(ns, "no_such_operation", ""), timeout=10,
                      headers={"Content-Type": "text/xml; charset=utf-8"})
    assert etree.fromstring(r.content).findtext(f".//{{{SOAP_ENV}}}Fault/faultcode") == "senv:Client.ResourceNotFound"


def test_malformed_cancel_is_a_soap_fault(sandbox, csd):
    pac = FinkokPac("demo", "demo", sandbox.url, csd=csd, retries=0, timeout=10)
    inner = ("<p:UUIDS><apps:UUID xmlns:apps='apps.services.soap.core.views' Motivo='02'/></p:UUIDS>"
             "<p:username>demo</p:username><p:password>demo</p:password>"
             f"<p:taxpayer_id>{csd.rfc}</p:taxpayer_id>"
             + "".join(f"<p:{k}>{v}</p:{k}>" for k, v in pac._csd_parts()))
    r = requests.post(f"{sandbox.url}/servicios/soap/cancel", data=soap(CANCEL_NS, "cancel", inner), timeout=10,
                      headers={"Content-Type": "text/xml; charset=utf-8"})
    assert r.headers["Content-Type"].startswith("text/xml")
    assert etree.fromstring(r.content).find(f".//{{{SOAP_ENV}}}Fault") is not None


class _Canned(BaseHTTPRequestHandler):
    body = b""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *a):
        pass


@pytest.fixture
def canned():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Canned)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_finkok_client_reads_the_folio_of_its_uuid(canned, csd):
    """A cancel answer as the WSDL allows it (FolioArray is unbounded): the client takes its own UUID's Folio,
    not the first EstatusUUID it finds."""
    mine, other = "11111111-2222-3333-4444-555555555555", "AAAAAAAA-2222-3333-4444-555555555555"
    _Canned.body = (f'<senv:Envelope xmlns:senv="{SOAP_ENV}" xmlns:s0="{APPS}" xmlns:c="{CANCEL_NS}"><senv:Body>'
                    f"<c:cancelResponse><c:cancelResult><s0:Folios>"
                    f"<s0:Folio><s0:UUID>{other}</s0:UUID><s0:EstatusUUID>205</s0:EstatusUUID>"
                    f"<s0:EstatusCancelacion>UUID No encontrado</s0:EstatusCancelacion></s0:Folio>"
                    f"<s0:Folio><s0:UUID>{mine}</s0:UUID><s0:EstatusUUID>201</s0:EstatusUUID>"
                    f"<s0:EstatusCancelacion>Cancelado sin aceptación</s0:EstatusCancelacion></s0:Folio>"
                    f"</s0:Folios><s0:Acuse>&lt;Acuse/&gt;</s0:Acuse><s0:RfcEmisor>{csd.rfc}</s0:RfcEmisor>"
                    f"<s0:CodEstatus/></c:cancelResult></c:cancelResponse></senv:Body></senv:Envelope>").encode()
    pac = FinkokPac("demo", "demo", f"http://127.0.0.1:{canned.server_address[1]}", csd=csd, retries=0, timeout=5)
    res = pac.cancel(csd.rfc, mine.lower(), "02")
    assert (res.status_code, res.estatus_cancelacion, res.acuse) == ("201", "Cancelado sin aceptación", b"<Acuse/>")


def test_finkok_client_needs_the_result_element(canned):
    """An answer without stampResult is not a stamp, whatever it carries elsewhere."""
    _Canned.body = (f'<senv:Envelope xmlns:senv="{SOAP_ENV}" xmlns:s0="{APPS}"><senv:Body><other>'
                    "<s0:xml>x</s0:xml><s0:UUID>u</s0:UUID></other></senv:Body></senv:Envelope>").encode()
    pac = FinkokPac("demo", "demo", f"http://127.0.0.1:{canned.server_address[1]}", retries=0, timeout=5)
    with pytest.raises(Exception) as e:
        pac.stamp(b"<x/>")
    assert getattr(e.value, "code", "") == "respuesta_invalida"


def test_sw_v2_authenticate_with_json_and_lowercase_bearer(sandbox, invoice, csd):
    r = requests.post(sandbox.url + "/v2/security/authenticate", json={"user": "demo", "password": "demo"},
                      timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "success"
    token = r.json()["data"]["token"]
    bad = requests.post(sandbox.url + "/v2/security/authenticate", json={"user": "demo", "password": "x"},
                        timeout=10)
    assert bad.status_code == 401 and bad.json()["message"].startswith("AU4101")
    # the token works with the scheme in any case (the SDK writes "bearer" for its JSON calls)
    xml = build_invoice(invoice, csd)
    for scheme in ("bearer", "BEARER"):
        r = requests.post(sandbox.url + "/cfdi33/stamp/v4", headers={"Authorization": f"{scheme} {token}"},
                          files={"xml": ("cfdi.xml", xml, "text/xml")}, timeout=10)
        assert r.status_code in (200, 400) and r.json()["data"]["uuid"], r.text  # 400: 307 on the second call
    assert SwSapienPac(sandbox.url, token=token, retries=0, timeout=10).stamp(xml).duplicate
