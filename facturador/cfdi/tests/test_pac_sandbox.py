import base64
import datetime as dt
import re
import socket
import subprocess
import sys

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from facturador.cfdi import xml as cx
from facturador.cfdi.build import build_invoice
from facturador.cfdi.csd import certificate_number
from facturador.cfdi.pac import FinkokPac, Pac, PacError, PacTimeout, SwSapienPac
from facturador.cfdi.sandbox import PacSandbox
from facturador.cfdi.verify import verify_cfdi

from .conftest import make_pac

NS = cx.NS


def reseal(xml: bytes, csd, mutate) -> bytes:
    """Change a sealed CFDI and seal it again correctly (to reach the PAC's business rules)."""
    doc = etree.fromstring(xml)
    mutate(doc)
    cadena = cx.cadena_original(doc).encode()
    doc.set("Sello", base64.b64encode(csd.private_key.sign(cadena, padding.PKCS1v15(), hashes.SHA256())).decode())
    return etree.tostring(doc, xml_declaration=True, encoding="UTF-8")


def test_adapters_implement_protocol(sandbox, csd):
    assert isinstance(make_pac("finkok", sandbox.url, csd), Pac)
    assert isinstance(make_pac("sw", sandbox.url, csd), Pac)


def test_stamp_and_verify_independently(pac, invoice, csd, sandbox):
    sealed = build_invoice(invoice, csd)
    res = pac.stamp(sealed)
    assert re.fullmatch(r"[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[0-9A-F]{4}-[0-9A-F]{12}", res.uuid)
    assert res.no_certificado_sat == sandbox.certificate_number and not res.duplicate
    # the TFD certificate is fetched over HTTP, like SAT's certificate repository
    cer = requests.get(f"{sandbox.url}/certificates/{res.no_certificado_sat}.cer", timeout=5).content
    assert certificate_number(x509.load_der_x509_certificate(cer)) == res.no_certificado_sat
    v = verify_cfdi(res.xml_bytes, [cer])
    assert v.ok and v.stamped and v.sello_sat_ok and v.uuid == res.uuid, v.errors
    doc = etree.fromstring(res.xml_bytes)
    tfd = doc.find("cfdi:Complemento/tfd:TimbreFiscalDigital", NS)
    assert tfd.get("SelloCFD") == doc.get("Sello") and tfd.get("FechaTimbrado") == res.fecha_timbrado
    # the stamp added the TFD and nothing else: without it the document is byte-identical in content
    tfd.getparent().getparent().remove(tfd.getparent())
    assert etree.tostring(doc, method="c14n") == etree.tostring(etree.fromstring(sealed), method="c14n")
    # a TFD seal checked with some other certificate fails
    other = PacSandbox(certificate_number=sandbox.certificate_number)
    assert verify_cfdi(res.xml_bytes, [other.certificate_der]).sello_sat_ok is False


def test_duplicate_returns_existing_stamp(pac, invoice, csd):
    sealed = build_invoice(invoice, csd)
    first = pac.stamp(sealed)
    again = pac.stamp(sealed)
    assert again.duplicate and again.uuid == first.uuid and again.xml_bytes == first.xml_bytes


def test_tampered_seal_rejected(pac, invoice, csd):
    sealed = build_invoice(invoice, csd)
    tampered = re.sub(rb'Folio="([^"]*)"', rb'Folio="\1X"', sealed, count=1)
    assert tampered != sealed
    with pytest.raises(PacError) as e:
        pac.stamp(tampered)
    expected = "302" if isinstance(pac, FinkokPac) else "CFDI40102"
    assert e.value.code == expected
    assert "sello" in e.value.message_es.lower() and "válido" in e.value.message_es
    assert e.value.pac_message


def test_business_rule_rejection(pac, invoice, csd):
    # a correctly sealed CFDI whose UsoCFDI does not fit the receptor's régimen
    bad = reseal(build_invoice(invoice, csd), csd, lambda d: d.find("cfdi:Receptor", NS).set("UsoCFDI", "D01"))
    with pytest.raises(PacError) as e:
        pac.stamp(bad)
    assert e.value.code == "CFDI40161" and "uso de CFDI" in e.value.message_es


def test_old_date_rejected(pac, invoice, csd):
    invoice.fecha = dt.datetime.now() - dt.timedelta(days=4)
    with pytest.raises(PacError) as e:
        pac.stamp(build_invoice(invoice, csd))
    assert e.value.code == "401" and "72 horas" in e.value.message_es


def test_injected_pac_error_mapped_to_spanish(pac, invoice, csd, sandbox):
    sandbox.fail_next("CFDI40147", "El campo DomicilioFiscalReceptor del receptor, debe encontrarse en la lista de RFC inscritos no cancelados en el SAT.")
    with pytest.raises(PacError) as e:
        pac.stamp(build_invoice(invoice, csd))
    assert e.value.code == "CFDI40147"
    assert e.value.message_es.startswith("El código postal del receptor")
    assert "DomicilioFiscalReceptor" in e.value.pac_message


@pytest.mark.parametrize("kind", ["finkok", "sw"])
def test_timeout(kind, invoice, csd):
    with PacSandbox(delay=1.5) as slow:
        client = make_pac(kind, slow.url, csd, timeout=0.3, retries=1, backoff=0.01)
        if kind == "sw":
            client.token()            # authentication is not delayed; the stamp is
        with pytest.raises(PacTimeout) as e:
            client.stamp(build_invoice(invoice, csd))
    assert e.value.code == "timeout" and "a tiempo" in e.value.message_es


@pytest.mark.parametrize("kind", ["finkok", "sw"])
def test_retry_after_503(kind, invoice, csd, sandbox):
    sandbox.fail_next(http_status=503)
    client = make_pac(kind, sandbox.url, csd, retries=1, backoff=0.01)
    res = client.stamp(build_invoice(invoice, csd))
    assert res.uuid and not res.duplicate


@pytest.mark.parametrize("kind", ["finkok", "sw"])
def test_bad_credentials(kind, invoice, csd, sandbox):
    if kind == "finkok":
        client = FinkokPac("demo", "nope", sandbox.url, retries=0)
    else:
        client = SwSapienPac(sandbox.url, user="demo", password="nope", retries=0)
    with pytest.raises(PacError) as e:
        client.stamp(build_invoice(invoice, csd))
    assert e.value.code in ("300", "AU4101") and "contraseña" in e.value.message_es


def test_cancel_motive_01_needs_substitute(pac, invoice, csd):
    original = pac.stamp(build_invoice(invoice, csd))
    with pytest.raises(PacError) as e:
        pac.cancel(csd.rfc, original.uuid, "01")
    assert e.value.code == "cancel_sin_folio_sustitucion" and "motivo 01" in e.value.message_es
    invoice.folio += "-S"
    invoice.relacionados, invoice.tipo_relacion = [original.uuid], "04"     # the substitute relates to it
    substitute = pac.stamp(build_invoice(invoice, csd))
    res = pac.cancel(csd.rfc, original.uuid, "01", substitute_uuid=substitute.uuid)
    assert res.status_code == "201" and res.accepted and original.uuid.encode() in res.acuse
    def total(stamp):  # SAT's status service finds a CFDI only by its emisor, receptor, total and UUID
        return etree.fromstring(stamp.xml_bytes).get("Total")
    st = pac.status(csd.rfc, invoice.receptor.rfc, total(original), original.uuid)
    assert st.estado == "Cancelado"
    assert pac.status(csd.rfc, invoice.receptor.rfc, total(substitute), substitute.uuid).estado == "Vigente"
    assert pac.cancel(csd.rfc, original.uuid, "02").status_code == "202"      # already cancelled


@pytest.mark.parametrize("motive", ["02", "03", "04"])
def test_cancel_other_motives(pac, invoice, csd, motive):
    stamped = pac.stamp(build_invoice(invoice, csd))
    assert pac.cancel(csd.rfc, stamped.uuid, motive).status_code == "201"


def test_cancel_unknown_uuid_and_foreign_rfc(pac, invoice, csd):
    with pytest.raises(PacError) as e:
        pac.cancel(csd.rfc, "00000000-0000-4000-8000-000000000000", "02")
    assert e.value.code == "205"
    stamped = pac.stamp(build_invoice(invoice, csd))
    if isinstance(pac, SwSapienPac):
        with pytest.raises(PacError) as e:
            pac.cancel("URE180429TM6", stamped.uuid, "02")
        assert e.value.code == "203"


def test_finkok_cancel_needs_csd(invoice, csd, sandbox):
    client = FinkokPac("demo", "demo", sandbox.url, retries=0)     # no CSD configured
    with pytest.raises(PacError) as e:
        client.cancel(csd.rfc, "00000000-0000-4000-8000-000000000000", "02")
    assert e.value.code == "csd_requerido"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_command_line_server(invoice, csd):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "facturador.cfdi.sandbox", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in line
        url = f"http://127.0.0.1:{port}"
        assert requests.get(url + "/health", timeout=5).json() == {"status": "ok"}
        res = FinkokPac("demo", "demo", url, retries=0).stamp(build_invoice(invoice, csd))
        assert verify_cfdi(res.xml_bytes).sello_ok
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_fecha_in_lugar_expedicion_time_zone(pac, invoice, csd):
    # Cancún (Tiempo del Sureste) is an hour ahead of central Mexico: "now" there is a valid Fecha.
    invoice.lugar_expedicion = "77500"
    res = pac.stamp(build_invoice(invoice, csd))
    assert etree.fromstring(res.xml_bytes).get("LugarExpedicion") == "77500"


def test_oversized_request_is_refused_before_it_is_read():
    import http.client

    from facturador.cfdi.sandbox import MAX_REQUEST_BYTES, PacSandbox

    sb = PacSandbox().start()
    try:
        host, port = sb.url.split("//")[1].split("/")[0].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.putrequest("POST", "/servicios/soap/stamp")
        conn.putheader("Content-Type", "text/xml; charset=utf-8")
        conn.putheader("Content-Length", str(MAX_REQUEST_BYTES + 1))
        conn.endheaders()
        resp = conn.getresponse()
        assert resp.status == 413 and b"Fault" in resp.read()
    finally:
        sb.stop()
