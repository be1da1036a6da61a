"""The local DIAN service against the contract of DIAN's WSDL policy and its real answers.

WS-Policy ``WSHttpBinding_IWcfDianCustomerServices_policy``: X509 token referenced by thumbprint
(``sp:RequireThumbprintReference``, token included), algorithm suite ``Basic256Sha256Rsa15``, ``wsa:To`` signed and
matched against the endpoint; GetNumberingRange refused for an unauthorised requester as in the 2019 capture."""
import base64
import hashlib

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from facturador.dian.sandbox import SandboxServer
from facturador.dian.testing import make_test_pkcs12
from facturador.dian.ws import DianClient, document_filename, make_zip, responses, soap
from facturador.dian.xades import load_pkcs12

from .conftest import SUPPLIER_NIT, build_signed, invoice_json

NS = {"soap": soap.SOAP, "wsa": soap.WSA, "wsse": soap.WSSE, "wsu": soap.WSU, "ds": soap.DS, "ec": soap.EC}
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
HEADERS = {"Content-Type": "application/soap+xml; charset=utf-8"}
_n = iter(range(700, 10**6))


def post(url, body):
    r = requests.post(url, data=body, headers=HEADERS, timeout=10)
    return r, etree.fromstring(r.content)


def resign(body: bytes, key, signature_method=soap.RSA_SHA256, digest_method=soap.SHA256) -> bytes:
    """Re-sign a request envelope with other algorithms (what a client using another suite would send)."""
    root = etree.fromstring(body)
    si = root.find(".//ds:SignedInfo", NS)
    si.find("ds:SignatureMethod", NS).set("Algorithm", signature_method)
    ref = si.find("ds:Reference", NS)
    ref.find("ds:DigestMethod", NS).set("Algorithm", digest_method)
    to = root.find("soap:Header/wsa:To", NS)
    fn = hashlib.sha1 if digest_method == SHA1 else hashlib.sha256
    ref.find("ds:DigestValue", NS).text = base64.b64encode(fn(soap.exc_c14n(to, ["soap", "wcf"])).digest()).decode()
    h = hashes.SHA1() if signature_method == RSA_SHA1 else hashes.SHA256()
    root.find(".//ds:SignatureValue", NS).text = base64.b64encode(
        key.sign(soap.exc_c14n(si, ["wsa", "soap", "wcf"]), padding.PKCS1v15(), h)).decode()
    return etree.tostring(root)


def test_thumbprint_key_reference_is_accepted(sandbox, signer):
    body = soap.build_envelope("GetStatus", {"trackId": "no-existe"}, sandbox.url, signer.key, signer.certificate,
                               key_reference="thumbprint")
    root = etree.fromstring(body)
    kid = root.find(".//ds:KeyInfo/wsse:SecurityTokenReference/wsse:KeyIdentifier", NS)
    assert kid.get("ValueType") == soap.THUMBPRINT_SHA1
    assert root.find(".//ds:KeyInfo/wsse:SecurityTokenReference/wsse:Reference", NS) is None
    r, answer = post(sandbox.url, body)
    assert r.status_code == 200, r.text
    assert responses.parse_result(answer, "GetStatus").status_code == "66"
    # and the product's client in that mode sends a whole document through
    c = DianClient(sandbox.url, signer, timeout=10, retries=0, key_reference="thumbprint")
    xml = build_signed(invoice_json(990000000 + next(_n)), signer)
    assert c.send_document(document_filename("invoice", SUPPLIER_NIT, next(_n), 2026), xml).accepted


def test_thumbprint_of_another_certificate_is_refused(sandbox, signer):
    body = soap.build_envelope("GetStatus", {"trackId": "x"}, sandbox.url, signer.key, signer.certificate,
                               key_reference="thumbprint")
    other = load_pkcs12(make_test_pkcs12("901234567", "x"), "x").certificate
    body = body.replace(soap.certificate_thumbprint(signer.certificate).encode(),
                        soap.certificate_thumbprint(other).encode())
    r, answer = post(sandbox.url, body)
    assert r.status_code == 500 and soap.find_fault(answer).subcode == "InvalidSecurityToken"


@pytest.mark.parametrize("signature_method,digest_method", [(RSA_SHA1, soap.SHA256), (soap.RSA_SHA256, SHA1),
                                                            (RSA_SHA1, SHA1)])
def test_algorithms_outside_the_policy_suite_are_refused(sandbox, signer, signature_method, digest_method):
    body = soap.build_envelope("GetStatus", {"trackId": "x"}, sandbox.url, signer.key, signer.certificate)
    assert post(sandbox.url, resign(body, signer.key))[0].status_code == 200  # the re-signing itself is sound
    r, answer = post(sandbox.url, resign(body, signer.key, signature_method, digest_method))
    fault = soap.find_fault(answer)
    assert r.status_code == 500 and fault.subcode == "InvalidSecurity"
    assert "Basic256Sha256Rsa15" in fault.reason


def test_to_must_be_the_service_address(sandbox, signer):
    elsewhere = "https://vpfe-hab.dian.gov.co/WcfDianCustomerServices.svc"
    body = soap.build_envelope("GetStatus", {"trackId": "x"}, elsewhere, signer.key, signer.certificate)
    r, answer = post(sandbox.url, body)
    fault = soap.find_fault(answer)
    assert r.status_code == 500 and fault.subcode == "DestinationUnreachable" and elsewhere in fault.reason
    # same service reached under another spelling of its own address: accepted
    same = sandbox.url.replace("WcfDianCustomerServices.svc", "wcfdiancustomerservices.svc/")
    assert post(sandbox.url, soap.build_envelope("GetStatus", {"trackId": "x"}, same, signer.key,
                                                 signer.certificate))[0].status_code == 200


def test_configured_address_wins(signer, software_id, pin):
    public = "https://dian.example/WcfDianCustomerServices.svc"
    with SandboxServer(software={software_id: pin}, address=public) as srv:
        ok = soap.build_envelope("GetStatus", {"trackId": "x"}, public, signer.key, signer.certificate)
        assert post(srv.url, ok)[0].status_code == 200
        r, answer = post(srv.url, soap.build_envelope("GetStatus", {"trackId": "x"}, srv.url, signer.key,
                                                      signer.certificate))
        assert soap.find_fault(answer).subcode == "DestinationUnreachable"


def test_numbering_range_for_an_unauthorised_requester_is_401(sandbox, signer, software_id):
    sandbox.register_range("1111111111111", "FE", 1, 10, "k" * 40, software_id=software_id)
    sandbox.register_range(SUPPLIER_NIT, "FEV", 1, 10, "a" * 40, software_id=software_id)
    body = soap.build_envelope("GetNumberingRange", {"accountCode": "1111111111111", "accountCodeT": SUPPLIER_NIT,
                                                     "softwareCode": software_id}, sandbox.url, signer.key,
                               signer.certificate)
    r, answer = post(sandbox.url, body)
    assert r.status_code == 200
    assert answer.xpath("string(//*[local-name()='ResponseList']/@i:nil)", namespaces={"i": soap.XSI}) == "true"
    nr = responses.parse_result(answer, "GetNumberingRange")
    assert (nr.operation_code, nr.ranges, nr.ok) == ("401", [], False)
    assert nr.operation_description == (f"NIT: {SUPPLIER_NIT} no autorizado para consultar rangos de numeración "
                                        "del NIT: 1111111111111")
    # its own NIT: the ranges
    own = DianClient(sandbox.url, signer, timeout=10, retries=0).get_numbering_range(SUPPLIER_NIT, SUPPLIER_NIT,
                                                                                      software_id)
    assert own.ok and [g.prefix for g in own.ranges] == ["FEV"]


def test_numbering_range_for_the_software_owner_and_authorised_senders(sandbox, signer, software_id, pin):
    provider = load_pkcs12(make_test_pkcs12("901234567", "x"), "x")
    c = DianClient(sandbox.url, provider, timeout=10, retries=0)
    sandbox.register_range("800111222", "FE", 1, 10, "k" * 40, software_id=software_id)
    assert c.get_numbering_range("800111222", "901234567", software_id).operation_code == "401"
    sandbox.register_software(software_id, pin, nit="901234567-5")  # the provider owns the software
    got = c.get_numbering_range("800111222", "901234567", software_id)
    assert got.ok and [g.technical_key for g in got.ranges] == ["k" * 40]
    assert c.get_numbering_range("800333444", "901234567", software_id).operation_code == "401"  # not associated
    sandbox.sandbox.authorized_senders = {"800333444": ["901234567"]}
    assert c.get_numbering_range("800333444", "901234567", software_id).operation_code != "401"


def test_xml_file_name_has_no_extension(client, signer):
    name = document_filename("invoice", SUPPLIER_NIT, next(_n), 2026)
    assert name.endswith(".xml")
    r = client.send_document(name, build_signed(invoice_json(990000000 + next(_n)), signer))
    assert r.accepted and r.xml_file_name == name[:-4]
    up = client.send_test_set_async("z0090037307600026000001f.zip", make_zip(name, b"<x/>"), "set-que-no-existe")
    assert up.errors[0].xml_file_name == "z0090037307600026000001f"


def test_bad_zip_description_says_it_once(client):
    r = client.send_bill_sync("z.zip", b"not a zip")
    assert r.status_code == "89"
    assert r.status_description == "Error descomprimiendo el archivo ZIP."
    assert r.xml_file_name == "z"
