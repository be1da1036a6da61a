import datetime as dt

import pytest
from lxml import etree

from facturador.dian import ubl, xades, xsd
from facturador.dian.errors import SigningError
from facturador.dian.testing import make_test_pkcs12

from .conftest import make_invoice, make_note, xmlsec_verify

DS = "{http://www.w3.org/2000/09/xmldsig#}"
XA = "{http://uri.etsi.org/01903/v1.3.2#}"


@pytest.mark.parametrize("digest", ["sha256", "sha512"])
@pytest.mark.parametrize("maker", [lambda: make_invoice(10), lambda: make_note(), lambda: make_note("debit_note")])
def test_signed_documents_verify_with_xmlsec1_and_validate(maker, digest, signer, schema_dir, tmp_path):
    data = xades.sign(ubl.build_xml(maker()), signer, digest=digest)
    rc, err = xmlsec_verify(data, tmp_path)
    assert rc == 0, err
    assert "References (ok/all): 3/3" in err
    assert xsd.validate_xsd(data, schema_dir) == []


def test_signature_shape(signer):
    when = dt.datetime.now(xades.COT).replace(microsecond=0)
    data = xades.sign(ubl.build_xml(make_invoice()), signer, role="third party", signing_time=when)
    root = etree.fromstring(data)
    sig = root.findall(".//" + DS + "Signature")
    assert len(sig) == 1
    exts = root.find("{urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2}UBLExtensions")
    assert sig[0].getparent().getparent() is exts[1]  # 2nd UBLExtension
    si = sig[0].find(DS + "SignedInfo")
    assert si.find(DS + "CanonicalizationMethod").get("Algorithm") == "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
    refs = si.findall(DS + "Reference")
    assert [r.get("URI")[:1] for r in refs] == ["", "#", "#"]
    assert refs[2].get("Type") == "http://uri.etsi.org/01903#SignedProperties"
    assert sig[0].findtext(f".//{XA}SigPolicyHash/{DS}DigestValue") == "dMoMvtcG5aIzgYo0tIsSQeVJBDnUnfSOfBpxXrmor0Y="
    assert sig[0].findtext(f".//{XA}ClaimedRole") == "third party"
    assert sig[0].findtext(f".//{XA}SigningTime") == when.strftime("%Y-%m-%dT%H:%M:%S.000-05:00")
    assert sig[0].findtext(f".//{XA}IssuerSerial/{DS}X509SerialNumber") == str(signer.certificate.serial_number)
    assert signer.subject_nit == "900373076"


def test_sign_bytes_without_ds_namespace_on_root(signer, tmp_path):
    root = ubl.build_xml(make_invoice())
    plain = etree.Element(root.tag, nsmap={k: v for k, v in root.nsmap.items() if k not in ("ds", "xades", "xades141")})
    plain.extend(list(root))
    data = xades.sign(etree.tostring(plain), signer)
    rc, err = xmlsec_verify(data, tmp_path)
    assert rc == 0, err


def test_signature_text_escapes_the_certificate_issuer(tmp_path):
    """The signed parts are written as canonical text: an issuer name with & and < is escaped as C14N does, so
    the SignedProperties digest still matches the element a verifier canonicalises."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    from facturador.dian import testing, verify

    key = testing._key("escaped-issuer")
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Pruebas & <Cía> \"S.A.S.\""),
                      x509.NameAttribute(NameOID.SERIAL_NUMBER, "900373076")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    signer = xades.Signer(key, cert)
    data = xades.sign(ubl.build_xml(make_invoice()), signer)
    assert etree.fromstring(data).findtext(f".//{DS}X509IssuerName") == signer.issuer_name
    assert "&" in signer.issuer_name and "<" in signer.issuer_name
    check = verify.verify_signature(data)
    assert check.ok, check.message


def test_tampered_signed_document_fails_xmlsec1(signer, tmp_path):
    data = xades.sign(ubl.build_xml(make_invoice()), signer)
    rc, _ = xmlsec_verify(data.replace(b"Cliente Comercial", b"Cliente Comerciel"), tmp_path)
    assert rc != 0


def test_already_signed_document_is_refused(signer):
    data = xades.sign(ubl.build_xml(make_invoice()), signer)
    with pytest.raises(SigningError) as exc:
        xades.sign(data, signer)
    assert exc.value.code == "sign_already_signed"


def test_wrong_password_gives_clear_error():
    p12 = make_test_pkcs12("900373076", "correcta")
    with pytest.raises(SigningError) as exc:
        xades.load_pkcs12(p12, "incorrecta")
    assert exc.value.code == "cert_password"
    assert "contraseña" in exc.value.message


def test_expired_certificate_refused_at_signing():
    signer = xades.load_pkcs12(make_test_pkcs12("900373076", "x", expired=True), "x")
    with pytest.raises(SigningError) as exc:
        xades.sign(ubl.build_xml(make_invoice()), signer)
    assert exc.value.code == "cert_expired"
    assert "venció" in exc.value.message


def test_signing_time_before_validity_refused(signer):
    with pytest.raises(SigningError) as exc:
        xades.sign(ubl.build_xml(make_invoice()), signer, signing_time=dt.datetime(2001, 1, 1))
    assert exc.value.code == "cert_not_yet_valid"


def test_sign_pretty_printed_bytes_keeps_whitespace(signer, tmp_path):
    from facturador.dian import verify
    pretty = etree.tostring(ubl.build_xml(make_invoice()), pretty_print=True, xml_declaration=True, encoding="UTF-8")
    data = xades.sign(pretty, signer)
    assert b"\n  <cbc:UBLVersionID>" in data  # the document is not re-indented nor compacted
    rc, err = xmlsec_verify(data, tmp_path)
    assert rc == 0, err
    assert verify.verify_signature(data).ok
