"""verify_document on each DIAN document type by its own rules (issue 16): DIAN's ApplicationResponse, the
AttachedDocument with nested reports, and XML that is not a DIAN document at all."""

import datetime as dt

import pytest
from lxml import etree

from facturador.dian import verify, xades
from facturador.dian.attached import build_attached_document
from facturador.dian.sandbox import DianSandbox

from .conftest import PIN, SOFTWARE_ID, TECH_KEY, make_invoice

NOW = dt.datetime.now(xades.COT)


@pytest.fixture(scope="module")
def invoice(signer):
    return xades.sign_document(make_invoice(issue_date=NOW.date()), signer)


@pytest.fixture(scope="module")
def application_response(invoice):
    """DIAN's signed ApplicationResponse, as the local DIAN service answers an accepted invoice."""
    resp = DianSandbox(software={SOFTWARE_ID: PIN}).process_document(invoice, "fv.xml")
    assert resp.is_valid and resp.application_response, resp
    return resp.application_response


@pytest.fixture(scope="module")
def attached(invoice, application_response, signer):
    return xades.sign(build_attached_document(invoice, application_response), signer, role="supplier")


def _kw(schema_dir=None):
    return {"technical_key": TECH_KEY, "pin": PIN, "software_id": SOFTWARE_ID, "schema_dir": schema_dir}


def test_dian_application_response_is_verified_by_its_own_rules(application_response, schema_dir):
    report = verify.verify_document(application_response, schema_dir=schema_dir)
    by = {c.name: c for c in report.checks}
    assert "totals" not in by and "software_security_code" not in by  # no LegalMonetaryTotal → no FAU14
    assert all(c.rule != "ZB01" for c in report.checks), report.dumps()
    assert by["xsd"].ok and by["signature"].ok and by["signer_role"].ok and by["signature_policy"].ok
    assert by["cude"].ok is None and "DIAN" in by["cude"].message  # DIAN's validation answer: not recomputable
    assert report.ok, report.dumps()
    assert report.document["kind"] == "application_response" and report.document["response_code"] == "02"


def test_tampered_application_response_fails_its_signature(application_response):
    tampered = application_response.replace(b"Documento validado por la DIAN", b"Documento rechazado por la DIAN")
    assert tampered != application_response
    report = verify.verify_document(tampered)
    assert report.check("signature").ok is False and not report.ok


def test_event_cude_is_checked_with_the_pin(signer):
    """A buyer's event (030 acuse de recibo): its CUDE is SHA-384 over its fields and the software PIN."""
    ar = etree.fromstring(
        '<ApplicationResponse xmlns="urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2" '
        'xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2" '
        'xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2" '
        'xmlns:ext="urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2">'
        '<ext:UBLExtensions/><cbc:UBLVersionID>UBL 2.1</cbc:UBLVersionID><cbc:ID>AR1</cbc:ID><cbc:UUID/>'
        f'<cbc:IssueDate>{NOW:%Y-%m-%d}</cbc:IssueDate><cbc:IssueTime>10:00:00-05:00</cbc:IssueTime>'
        '<cac:SenderParty><cac:PartyTaxScheme><cbc:CompanyID>800199436</cbc:CompanyID></cac:PartyTaxScheme>'
        '</cac:SenderParty><cac:ReceiverParty><cac:PartyTaxScheme><cbc:CompanyID>900373076</cbc:CompanyID>'
        '</cac:PartyTaxScheme></cac:ReceiverParty><cac:DocumentResponse><cac:Response>'
        '<cbc:ResponseCode>030</cbc:ResponseCode></cac:Response><cac:DocumentReference><cbc:ID>SETP990000101</cbc:ID>'
        '<cbc:DocumentTypeCode>01</cbc:DocumentTypeCode></cac:DocumentReference></cac:DocumentResponse>'
        '</ApplicationResponse>')
    info = verify.application_response_info(ar)
    expected = verify.event_cude(info, PIN)
    # the formula's input, spelled out
    import hashlib
    assert expected == hashlib.sha384(f"AR1{NOW:%Y-%m-%d}10:00:00-05:00800199436900373076030SETP99000010101{PIN}"
                                      .encode()).hexdigest()
    ar.find("{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}UUID").text = expected
    good = xades.sign(etree.fromstring(etree.tostring(ar)), signer, role="supplier")
    cude = verify.verify_document(good, pin=PIN).check("cude")
    assert cude.ok is True
    assert verify.verify_document(good).check("cude").ok is None  # no PIN: not checked, and said why
    wrong = verify.verify_document(good, pin="99999").check("cude")
    assert (wrong.ok, wrong.rule) == (False, "AAD06")


def test_attached_document_nests_the_reports_of_what_it_carries(attached, schema_dir):
    report = verify.verify_document(attached, **_kw(schema_dir))
    by = {c.name: c for c in report.checks}
    assert "cufe" not in by and "totals" not in by
    assert by["xsd"].ok and by["signature"].ok and by["attachments"].ok, report.dumps()
    assert set(report.embedded) == {"document", "application_response"}
    doc = report.embedded["document"]
    assert doc.check("cufe").ok and doc.check("totals").ok and doc.check("signature").ok
    assert report.embedded["application_response"].check("signature").ok
    assert report.ok, report.dumps()
    j = report.to_json()
    assert j["embedded"]["document"]["document"]["number"] == "SETP990000101"


def test_attached_document_reports_a_tampered_embedded_invoice(invoice, application_response, signer):
    bad_invoice = invoice.replace(b"Cliente Comercial", b"Cliente Comerciel")
    report = verify.verify_document(xades.sign(build_attached_document(bad_invoice, application_response), signer),
                                    **_kw())
    assert report.check("signature").ok  # the container's own signature is fine
    assert report.embedded["document"].check("signature").ok is False
    assert not report.ok


def test_attached_document_with_a_response_to_another_document(application_response, signer):
    other = xades.sign_document(make_invoice(4, issue_date=NOW.date()), signer)
    report = verify.verify_document(xades.sign(build_attached_document(other, application_response), signer), **_kw())
    check = report.check("attachments")
    assert check.ok is False and "otro documento" in check.message


def test_attached_document_without_application_response(invoice, signer):
    report = verify.verify_document(xades.sign(build_attached_document(invoice, None), signer), **_kw())
    assert report.check("attachments").ok is False and "ApplicationResponse" in report.check("attachments").message


@pytest.mark.parametrize("xml", [
    b"<Invoice><ID>1</ID></Invoice>",
    b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"><ID>1</ID></Invoice>',
    b'<Factura xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>',
])
def test_xml_that_is_not_a_dian_document_says_so(xml):
    report = verify.verify_document(xml, **_kw())
    assert [c.name for c in report.checks] == ["document"]
    assert report.checks[0].ok is False and "No es un documento electrónico de la DIAN" in report.checks[0].message
    assert "CUFE" not in report.checks[0].message or "no se calcula" in report.checks[0].message
    assert not report.ok
