import base64
import datetime as dt
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree

from facturador.dian.testing import make_test_certificate
from facturador.dian.ws import responses, soap
from facturador.dian.ws.soap import SecurityError

URL = "https://vpfe-hab.dian.gov.co/WcfDianCustomerServices.svc"
NS = {"soap": soap.SOAP, "wsa": soap.WSA, "wsse": soap.WSSE, "wsu": soap.WSU, "ds": soap.DS, "wcf": soap.WCF,
      "ec": soap.EC}


@pytest.fixture(scope="module")
def keypair():
    key, cert, _ca = make_test_certificate("900373076")
    return key, cert


def envelope(keypair, **kw):
    key, cert = keypair
    return soap.build_envelope("SendTestSetAsync", {"fileName": "z.zip", "contentFile": "UEs=", "testSetId": "t-1"},
                               URL, key, cert, **kw)


def test_envelope_shape(keypair):
    now = dt.datetime(2026, 11, 22, 13, 0, 0, 123000, tzinfo=dt.timezone.utc)
    root = etree.fromstring(envelope(keypair, now=now, ttl=300))
    x = lambda p: root.xpath(p, namespaces=NS)  # noqa: E731
    assert x("string(soap:Header/wsa:Action)") == "http://wcf.dian.colombia/IWcfDianCustomerServices/SendTestSetAsync"
    to = x("soap:Header/wsa:To")[0]
    assert to.text == URL
    to_id = to.get(f"{{{soap.WSU}}}Id")
    assert to_id
    assert x("string(soap:Header/wsse:Security/wsu:Timestamp/wsu:Created)") == "2026-11-22T13:00:00.123Z"
    assert x("string(soap:Header/wsse:Security/wsu:Timestamp/wsu:Expires)") == "2026-11-22T13:05:00.123Z"
    bst = x("soap:Header/wsse:Security/wsse:BinarySecurityToken")[0]
    assert bst.get("ValueType").endswith("#X509v3") and bst.get("EncodingType").endswith("#Base64Binary")
    assert base64.b64decode(bst.text) == keypair[1].public_bytes(serialization.Encoding.DER)
    si = x("soap:Header/wsse:Security/ds:Signature/ds:SignedInfo")[0]
    assert si.xpath("string(ds:CanonicalizationMethod/@Algorithm)", namespaces=NS) == soap.EXC_C14N
    assert si.xpath("string(ds:CanonicalizationMethod/ec:InclusiveNamespaces/@PrefixList)", namespaces=NS) == \
        "wsa soap wcf"
    assert si.xpath("string(ds:SignatureMethod/@Algorithm)", namespaces=NS) == soap.RSA_SHA256
    refs = si.xpath("ds:Reference", namespaces=NS)
    assert [r.get("URI") for r in refs] == [f"#{to_id}"]
    assert refs[0].xpath("string(ds:Transforms/ds:Transform/ec:InclusiveNamespaces/@PrefixList)",
                         namespaces=NS) == "soap wcf"
    str_ref = x("string(soap:Header/wsse:Security/ds:Signature/ds:KeyInfo/wsse:SecurityTokenReference/"
                "wsse:Reference/@URI)")
    assert str_ref == "#" + bst.get(f"{{{soap.WSU}}}Id")
    body = x("soap:Body/wcf:SendTestSetAsync")[0]
    assert [etree.QName(c).localname for c in body] == ["fileName", "contentFile", "testSetId"]
    assert [c.text for c in body] == ["z.zip", "UEs=", "t-1"]


def test_missing_parameter_is_refused(keypair):
    with pytest.raises(soap.SoapError) as e:
        soap.build_envelope("GetStatus", {}, URL, *keypair)
    assert e.value.field == "trackId"


def test_own_envelope_verifies(keypair):
    info = soap.verify_security(etree.fromstring(envelope(keypair)))
    assert info.certificate == keypair[1]


def test_signature_verified_by_xmlsec1(keypair, tmp_path):
    """Independent check of the WS-Security signature with the xmlsec1 tool (and that it sees tampering)."""
    if not shutil.which("xmlsec1"):
        pytest.skip("xmlsec1 not installed (Debian package xmlsec1)")
    pem = tmp_path / "cert.pem"
    pem.write_bytes(keypair[1].public_bytes(serialization.Encoding.PEM))
    good = tmp_path / "env.xml"
    good.write_bytes(envelope(keypair))
    cmd = ["xmlsec1", "--verify", "--pubkey-cert-pem", str(pem), "--id-attr:Id", "To"]
    r = subprocess.run(cmd + [str(good)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    bad = tmp_path / "bad.xml"
    bad.write_bytes(good.read_bytes().replace(URL.encode(), b"https://otro.example/svc"))
    r = subprocess.run(cmd + [str(bad)], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0


def test_tampered_to_fails(keypair):
    data = envelope(keypair).replace(URL.encode(), b"https://vpfe.dian.gov.co/WcfDianCustomerServices.svc")
    with pytest.raises(SecurityError) as e:
        soap.verify_security(etree.fromstring(data))
    assert e.value.code == "FailedCheck"


def test_reserialised_envelope_still_verifies(keypair):
    """exc-c14n makes the signature independent of how the envelope is re-serialised (prefix declarations)."""
    root = etree.fromstring(envelope(keypair))
    again = etree.fromstring(etree.tostring(root, pretty_print=False))
    soap.verify_security(again)


def test_expired_and_future_timestamps(keypair):
    now = dt.datetime.now(dt.timezone.utc)
    old = etree.fromstring(envelope(keypair, now=now - dt.timedelta(minutes=20), ttl=60))
    with pytest.raises(SecurityError) as e:
        soap.verify_security(old, now=now)
    assert e.value.code == "MessageExpired" and "expiró" in e.value.message
    # inside the clock skew it passes
    soap.verify_security(etree.fromstring(envelope(keypair, now=now - dt.timedelta(seconds=90), ttl=60)), now=now)
    future = etree.fromstring(envelope(keypair, now=now + dt.timedelta(minutes=30)))
    with pytest.raises(SecurityError):
        soap.verify_security(future, now=now)


def test_key_not_matching_token_fails(keypair):
    other_key, _other_cert, _ = make_test_certificate("800199436")
    data = soap.build_envelope("GetStatus", {"trackId": "x"}, URL, other_key, keypair[1])
    with pytest.raises(SecurityError) as e:
        soap.verify_security(etree.fromstring(data))
    assert e.value.code == "FailedCheck"


def test_signature_must_cover_to(keypair):
    root = etree.fromstring(envelope(keypair))
    ts_id = root.xpath("string(//wsu:Timestamp/@wsu:Id)", namespaces=NS)
    ref = root.xpath("//ds:Reference", namespaces=NS)[0]
    ref.set("URI", "#" + ts_id)
    with pytest.raises(SecurityError):
        soap.verify_security(root)


def test_missing_security_and_expired_certificate(keypair):
    root = etree.fromstring(envelope(keypair))
    sec = root.find(f"{{{soap.SOAP}}}Header/{{{soap.WSSE}}}Security")
    sec.getparent().remove(sec)
    with pytest.raises(SecurityError) as e:
        soap.verify_security(root)
    assert e.value.code == "InvalidSecurity"
    key, cert, _ = make_test_certificate("900373076", expired=True)
    with pytest.raises(SecurityError) as e:
        soap.verify_security(etree.fromstring(soap.build_envelope("GetStatus", {"trackId": "x"}, URL, key, cert)))
    assert e.value.code == "FailedAuthentication"


def test_fault_round_trip():
    root = etree.fromstring(soap.build_fault("Sender", "InvalidSecurity", "Firma inválida"))
    f = soap.find_fault(root)
    assert (f.code, f.subcode, f.reason, f.is_sender) == ("Sender", "InvalidSecurity", "Firma inválida", True)
    assert not soap.find_fault(etree.fromstring(soap.build_fault("Receiver", None, "x"))).is_sender


# A response written by hand in the shape of DIAN's WCF answers (dian.md §4.4): prefixes s/a/b/c/i,
# nil elements, and an XmlBase64Bytes without prefix as seen in the wild.
AR = "<ApplicationResponse>ok</ApplicationResponse>".encode()
HAND_WRITTEN = f"""<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"
  xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:Action s:mustUnderstand="1"
  >http://wcf.dian.colombia/IWcfDianCustomerServices/GetStatusZipResponse</a:Action></s:Header><s:Body>
 <GetStatusZipResponse xmlns="http://wcf.dian.colombia"><GetStatusZipResult
   xmlns:b="http://schemas.datacontract.org/2004/07/DianResponse" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
  <b:DianResponse>
   <b:ErrorMessage xmlns:c="http://schemas.microsoft.com/2003/10/Serialization/Arrays">
    <c:string>Regla: FAK55, Notificación: No se informó el correo.</c:string>
    <c:string>Regla: FAJ43b, Notificacion: Nombre no coincide con el RUT</c:string>
   </b:ErrorMessage>
   <b:IsValid>true</b:IsValid><b:StatusCode>00</b:StatusCode>
   <b:StatusDescription>Procesado Correctamente.</b:StatusDescription>
   <b:StatusMessage>La Factura electrónica SETP990000001, ha sido autorizada.</b:StatusMessage>
   <XmlBase64Bytes>{base64.b64encode(AR).decode()}</XmlBase64Bytes><b:XmlBytes i:nil="true"/>
   <b:XmlDocumentKey>abc123</b:XmlDocumentKey><b:XmlFileName>fv1</b:XmlFileName>
  </b:DianResponse>
  <b:DianResponse>
   <b:ErrorMessage xmlns:c="http://schemas.microsoft.com/2003/10/Serialization/Arrays">
    <c:string>Regla: FAD06, Rechazo: Valor del CUFE no está calculado correctamente.</c:string>
    <c:string>Regla: FAK55, Notificación: No se informó el correo.</c:string>
    <c:string>Error inesperado sin regla</c:string>
   </b:ErrorMessage>
   <b:IsValid>false</b:IsValid><b:StatusCode>99</b:StatusCode>
   <b:StatusDescription>Validación contiene errores en campos mandatorios.</b:StatusDescription>
   <b:StatusMessage i:nil="true"/><b:XmlBase64Bytes i:nil="true"/><b:XmlBytes i:nil="true"/>
   <b:XmlDocumentKey i:nil="true"/><b:XmlFileName>fv2</b:XmlFileName>
  </b:DianResponse>
  <b:DianResponse>
   <b:ErrorMessage i:nil="true" xmlns:c="http://schemas.microsoft.com/2003/10/Serialization/Arrays"/>
   <b:IsValid>false</b:IsValid><b:StatusCode/>
   <b:StatusDescription>Batch en proceso de validación.</b:StatusDescription>
  </b:DianResponse>
 </GetStatusZipResult></GetStatusZipResponse></s:Body></s:Envelope>""".encode()


def test_parse_hand_written_dian_response():
    ok, bad, pending = responses.parse_result(etree.fromstring(HAND_WRITTEN), "GetStatusZip")
    assert ok.accepted and ok.is_valid and ok.status_code == "00" and ok.final
    assert ok.application_response == AR
    assert [(m.code, m.severity) for m in ok.notifications] == [("FAK55", "notification"), ("FAJ43b", "notification")]
    assert ok.rejections == [] and ok.xml_document_key == "abc123"
    assert not bad.accepted and bad.rejected and bad.application_response is None
    assert [m.code for m in bad.rejections] == ["FAD06"]
    assert bad.rejections[0].message == "Valor del CUFE no está calculado correctamente."
    assert bad.messages[2].severity == "unknown" and bad.messages[2].code is None
    assert pending.in_process and not pending.final and not pending.rejected


def test_rule_message_parsing():
    m = responses.RuleMessage.parse("Regla: 90, Rechazo: Documento procesado anteriormente.")
    assert (m.code, m.severity, m.message) == ("90", "rejection", "Documento procesado anteriormente.")
    assert responses.RuleMessage.parse(m.format()) == m
    dup = responses.DianResponse("99", False, messages=[m], xml_document_key="k")
    assert dup.is_duplicate and dup.accepted and not dup.rejected


def test_zipped_application_response_is_unzipped():
    from facturador.dian.ws.packaging import make_zip
    zipped = base64.b64encode(make_zip("ar0800197268000260000001a.xml", AR)).decode()
    data = HAND_WRITTEN.replace(base64.b64encode(AR), zipped.encode())
    ok = responses.parse_result(etree.fromstring(data), "GetStatusZip")[0]
    assert ok.application_response == AR


def test_bad_base64_is_a_clear_error():
    data = HAND_WRITTEN.replace(base64.b64encode(AR), b"@@not-base64@@")
    with pytest.raises(soap.SoapError) as e:
        responses.parse_result(etree.fromstring(data), "GetStatusZip")
    assert e.value.field == "XmlBase64Bytes"
