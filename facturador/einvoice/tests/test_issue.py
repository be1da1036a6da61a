"""Issuing: numbering, building, pre-validation and signing in one transaction."""

import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree

from facturador.core.models import IssuedDocument, NumberingRange
from facturador.dian import verify
from facturador.dian.ns import NS
from facturador.einvoice import services
from facturador.einvoice.models import DianDocument
from facturador.einvoice.tests.conftest import TEST_KEY


def test_issue_signs_a_valid_invoice(dian_issuer, invoice_payload, shared):
    doc = services.issue(dian_issuer, invoice_payload, send=False)
    assert doc.status == "signed" and doc.number == 990000000 and doc.full_number == "SETP990000000"
    assert len(doc.cufe) == 96
    report = verify.verify_document(bytes(doc.signed_xml), technical_key=TEST_KEY, pin="70942",
                                    software_id=dian_issuer.mode.software_id, schema_dir=str(shared / "dian/xsd"))
    assert report.ok, report.to_json()
    # payable = 2*150000*1.19 + 3*4200 = 369600; withholdings are informative
    assert str(doc.total) == "369600.00"
    assert IssuedDocument.objects.get(source="einvoice.document", source_id=str(doc.pk)).uuid == doc.cufe


@pytest.mark.skipif(shutil.which("xmlsec1") is None, reason="xmlsec1 not installed")
def test_signature_verifies_with_xmlsec1(dian_issuer, invoice_payload, tmp_path):
    from facturador.core.certificates import active_certificate

    doc = services.issue(dian_issuer, invoice_payload, send=False)
    (tmp_path / "doc.xml").write_bytes(bytes(doc.signed_xml))
    (tmp_path / "cert.pem").write_text(active_certificate(dian_issuer, "p12").certificate_pem)
    out = subprocess.run(["xmlsec1", "--verify", "--pubkey-cert-pem", str(tmp_path / "cert.pem"), "--id-attr:Id",
                          "SignedProperties", str(tmp_path / "doc.xml")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("mutate,rule,field", [
    (lambda p: p["customer"].update(dv="5"), "FAK24", "customer.dv"),
    (lambda p: p["lines"][0].update(quantity="-1"), None, "lines[0].quantity"),
    (lambda p: p.update(lines=[]), None, "lines"),
])
def test_bad_input_stores_nothing_and_keeps_the_number(dian_issuer, invoice_payload, mutate, rule, field):
    mutate(invoice_payload)
    with pytest.raises(services.EinvoiceError) as err:
        services.issue(dian_issuer, invoice_payload, send=False)
    assert err.value.code == "einvoice.document.invalid"
    if rule:
        assert err.value.details["rule"] == rule and f"(regla {rule})" in err.value.message
    assert err.value.field.startswith(field)
    assert err.value.details["errors"][0]["field"].startswith(field)
    assert err.value.message
    assert not DianDocument.objects.exists() and not IssuedDocument.objects.exists()
    assert NumberingRange.objects.get(issuer=dian_issuer, prefix="SETP").next_number == 990000000


def test_note_needs_its_invoice(dian_issuer, invoice_payload):
    note = {**invoice_payload, "kind": "credit_note", "reference": {"number": "SETP123"},
            "discrepancy": {"code": "2", "description": "Anulación"}}
    note.pop("withholdings")
    with pytest.raises(services.EinvoiceError) as err:
        services.issue(dian_issuer, note, send=False)
    assert err.value.code == "einvoice.reference.not_found" and err.value.details["rule"] == "CBG04b"
    invoice = services.issue(dian_issuer, invoice_payload, send=False)
    note["reference"] = {"number": invoice.full_number}
    credit = services.issue(dian_issuer, note, send=False)
    assert credit.referenced == invoice and credit.full_number == "NC1"
    root = etree.fromstring(bytes(credit.signed_xml))
    assert root.findtext("cac:BillingReference/cac:InvoiceDocumentReference/cbc:UUID", namespaces=NS) == invoice.cufe


def test_expired_certificate_is_refused(dian_issuer, invoice_payload):
    from facturador.core.models import Certificate
    from facturador.dian.testing import make_test_pkcs12
    from facturador.dian.xades import load_pkcs12

    expired = make_test_pkcs12(dian_issuer.tax_id, "clave", expired=True)
    cert = Certificate.objects.get(issuer=dian_issuer, active=True)
    signer = load_pkcs12(expired, "clave")
    cert.key_material = expired  # simulate a certificate that expired after upload
    cert.certificate_pem = signer.certificate.public_bytes(serialization.Encoding.PEM).decode()
    cert.save()
    with pytest.raises(services.EinvoiceError) as err:
        services.issue(dian_issuer, invoice_payload, send=False)
    assert err.value.code == "einvoice.certificate.invalid"
    assert err.value.field == "certificate" and "venció" in err.value.message
    assert not DianDocument.objects.exists()


def test_production_needs_a_synced_range(dian_issuer, invoice_payload):
    import datetime as dt

    from facturador.core.tests.helpers import make_range

    mode = dian_issuer.mode
    mode.environment = "production"
    mode.save()
    make_range(dian_issuer, environment="production", prefix="FE", range_from=1, range_to=5000,
               valid_from=dt.date(2026, 1, 1), valid_to=dt.date(2028, 1, 1), resolution_number="18764000000001")
    with pytest.raises(services.EinvoiceError) as err:
        services.issue(dian_issuer, invoice_payload, send=False)
    assert "clave técnica" in err.value.message and err.value.code == "einvoice.numbering.no_technical_key"
    assert err.value.details["rule"] == "FAD06"


def test_schema_validation_when_the_kit_is_configured(dian_issuer, invoice_payload, settings, shared):
    settings.FACTURADOR_DIAN_SCHEMA_DIR = str(shared / "dian/xsd")
    doc = services.issue(dian_issuer, invoice_payload, send=False)
    assert doc.status == "signed"


def test_the_signing_key_is_opened_once_per_certificate_and_again_when_it_is_replaced(dian_issuer, monkeypatch):
    from facturador.core import certificates
    from facturador.dian import xades
    from facturador.dian.testing import make_test_pkcs12

    opened = []
    real = xades.load_pkcs12
    monkeypatch.setattr(xades, "load_pkcs12", lambda *args: opened.append(1) or real(*args))
    monkeypatch.setattr(services, "_SIGNERS", {})
    first = services.signer_for(dian_issuer)
    assert services.signer_for(dian_issuer) is first and len(opened) == 1
    certificates.store(dian_issuer, kind="p12", password="otra", p12=make_test_pkcs12(dian_issuer.tax_id, "otra"))
    replaced = services.signer_for(dian_issuer)
    assert replaced is not first and replaced.certificate != first.certificate and len(opened) == 2


def test_pdf_qr_decodes_to_the_signed_qr_text(dian_issuer, invoice_payload):
    import pypdfium2
    import zxingcpp

    from facturador.einvoice.pdf import render

    doc = services.issue(dian_issuer, invoice_payload, send=False)
    pdf = pypdfium2.PdfDocument(render(doc))
    try:
        image = pdf[0].render(scale=4, grayscale=True).to_pil()  # 288 dpi
    finally:
        pdf.close()
    found = [r.text for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode]
    qr = next(etree.fromstring(bytes(doc.signed_xml)).iter(f"{{{NS['sts']}}}QRCode")).text
    assert found == [qr] and doc.cufe in qr
