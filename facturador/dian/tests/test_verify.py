import re

import pytest
from lxml import etree

from facturador.dian import ubl, verify, xades
from facturador.dian.testing import make_test_certificate

from .conftest import PIN, SOFTWARE_ID, TECH_KEY, make_invoice, make_note

CHECKS = ["xsd", "signature", "signed_properties", "signature_policy", "signer_role", "certificate_validity",
          "cufe", "software_security_code", "totals"]


@pytest.fixture(scope="module")
def signed_invoice(signer):
    return xades.sign(ubl.build_xml(make_invoice(10)), signer)


def _verify(data, schema_dir):
    return verify.verify_document(data, technical_key=TECH_KEY, pin=PIN, software_id=SOFTWARE_ID,
                                  schema_dir=schema_dir)


@pytest.mark.parametrize("digest", ["sha256", "sha512"])
@pytest.mark.parametrize("maker", [lambda: make_invoice(10), lambda: make_note(), lambda: make_note("debit_note"),
                                   lambda: make_note(with_reference=False)])
def test_our_documents_pass_every_check(maker, digest, signer, schema_dir):
    report = _verify(xades.sign_document(maker(), signer, digest=digest), schema_dir)
    assert [c.name for c in report.checks] == CHECKS
    assert [c.ok for c in report.checks] == [True] * len(CHECKS), report.dumps()
    assert report.ok
    j = report.to_json()
    assert set(j) == {"document", "checks", "warnings"}
    assert set(j["checks"][0]) == {"name", "ok", "rule", "message"}
    assert j["document"]["supplier_nit"] == "900373076"


def test_checks_that_cannot_run_are_skipped(signed_invoice):
    report = verify.verify_document(signed_invoice)  # no key, no pin, no schema dir (env unset in tests)
    by = {c.name: c.ok for c in report.checks}
    assert by["cufe"] is None and by["software_security_code"] is None
    assert by["signature"] is True and by["totals"] is True
    assert report.ok


def _replace_text(data: bytes, tag: bytes, new: bytes) -> bytes:
    pattern = re.compile(rb"(<" + tag + rb"[^>]*>)([^<]*)(<)")
    out, n = pattern.subn(lambda m: m.group(1) + new + m.group(3), data, count=1)
    assert n == 1
    return out


def test_flipped_amount(signed_invoice, schema_dir):
    data = _replace_text(signed_invoice, b"cbc:PayableAmount", b"1.00")
    report = _verify(data, schema_dir)
    by = {c.name: c for c in report.checks}
    assert not report.ok
    assert (by["signature"].ok, by["signature"].rule) == (False, "ZE02")
    assert (by["cufe"].ok, by["cufe"].rule) == (False, "FAD06")
    assert (by["totals"].ok, by["totals"].rule) == (False, "FAU14")


def test_flipped_amount_in_credit_note_uses_cad06(signer, schema_dir):
    data = xades.sign(ubl.build_xml(make_note()), signer)
    by = {c.name: c for c in _verify(data.replace(b">5000.00<", b">5001.00<"), schema_dir).checks}
    assert by["cufe"].rule == "CAD06"
    assert by["totals"].ok is False and by["totals"].rule.startswith("CA")


def test_flipped_name(signed_invoice, schema_dir):
    report = _verify(signed_invoice.replace(b"Cliente Comercial", b"Cliente Comerciel"), schema_dir)
    by = {c.name: c for c in report.checks}
    assert not report.ok
    assert (by["signature"].ok, by["signature"].rule) == (False, "ZE02")
    assert by["cufe"].ok and by["totals"].ok


def test_flipped_signature_value(signed_invoice, schema_dir):
    m = re.search(rb"<ds:SignatureValue[^>]*>(.)", signed_invoice)
    i = m.start(1)
    data = signed_invoice[:i] + (b"A" if signed_invoice[i:i + 1] != b"A" else b"B") + signed_invoice[i + 1:]
    sig = _verify(data, schema_dir).check("signature")
    assert (sig.ok, sig.rule) == (False, "ZE02")
    assert "firma inválido" in sig.message


def test_flipped_certificate(signed_invoice, schema_dir):
    m = re.search(rb"<ds:X509Certificate>(.{200})(.)", signed_invoice, re.S)
    i = m.start(2)
    data = signed_invoice[:i] + (b"A" if signed_invoice[i:i + 1] != b"A" else b"B") + signed_invoice[i + 1:]
    sig = _verify(data, schema_dir).check("signature")
    assert (sig.ok, sig.rule) == (False, "ZE02")


def test_missing_certificate_is_zd06(signed_invoice):
    data = re.sub(rb"<ds:X509Certificate>[^<]*</ds:X509Certificate>", b"", signed_invoice)
    sig = verify.verify_signature(data)
    assert (sig.ok, sig.rule) == (False, "ZD06")


def test_certificate_not_the_one_in_signing_certificate(signer):
    _, other_cert, _ = make_test_certificate("860034313")
    forged = xades.Signer(signer.key, other_cert)
    forged._cert_digest = signer._cert_digest  # SigningCertificate names the real cert, KeyInfo has another
    sig = verify.verify_signature(xades.sign(ubl.build_xml(make_invoice()), forged))
    assert sig.ok is False and "SigningCertificate" in sig.message


def test_signature_by_another_key_is_rejected(signer):
    other_key, _, _ = make_test_certificate("860034313")
    sig = verify.verify_signature(xades.sign(ubl.build_xml(make_invoice()), xades.Signer(other_key,
                                                                                         signer.certificate)))
    assert (sig.ok, sig.rule) == (False, "ZE02")


def test_any_changed_text_or_attribute_fails(signed_invoice):
    """Change one character in every text node and attribute value: verification must never pass."""
    positions = [m.start(1) for m in re.finditer(rb">\s*([0-9A-Za-z])", signed_invoice)]
    positions += [m.start(1) for m in re.finditer(rb'="([0-9A-Za-z])', signed_invoice)]
    # the Id of SignatureValue is not covered by any reference (XMLDSig), nothing depends on it
    sv = re.search(rb'<ds:SignatureValue Id="', signed_invoice).end()
    positions = [p for p in positions if p != sv]
    assert len(positions) > 300
    for p in positions:
        c = signed_invoice[p:p + 1]
        repl = b"7" if c != b"7" else b"8"
        if c.isalpha():
            repl = b"Q" if c != b"Q" else b"R"
        data = signed_invoice[:p] + repl + signed_invoice[p + 1:]
        try:
            etree.fromstring(data)
        except etree.XMLSyntaxError:
            continue
        assert not verify.verify_document(data).ok, data[max(0, p - 60):p + 20]


def test_third_party_signxml_document_verifies(schema_dir):
    """A signature made by another implementation (signxml XAdES, SigningCertificateV2, pretty-printed
    document) verifies with our verifier."""
    from cryptography.hazmat.primitives import serialization
    from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureMethod
    from signxml.xades import XAdESSignaturePolicy, XAdESSigner

    key, cert, _ = make_test_certificate("900373076")
    root = etree.fromstring(etree.tostring(ubl.build_xml(make_invoice()), pretty_print=True))
    slot = root.xpath("ext:UBLExtensions/ext:UBLExtension[2]/ext:ExtensionContent", namespaces=ubl.NS)[0]
    etree.SubElement(slot, "{http://www.w3.org/2000/09/xmldsig#}Signature", Id="placeholder")
    policy = XAdESSignaturePolicy(Identifier=xades.POLICY_URL, Description=xades.POLICY_DESCRIPTION,
                                  DigestMethod=DigestAlgorithm.SHA256, DigestValue=xades.POLICY_HASH["sha256"])
    signed = XAdESSigner(signature_policy=policy, claimed_roles=["supplier"],
                         signature_algorithm=SignatureMethod.RSA_SHA256, digest_algorithm=DigestAlgorithm.SHA256,
                         c14n_algorithm=CanonicalizationMethod.CANONICAL_XML_1_0).sign(
        root, key=key, cert=[cert.public_bytes(serialization.Encoding.PEM)])
    data = etree.tostring(signed)
    report = _verify(data, None)
    by = {c.name: c for c in report.checks}
    assert by["signature"].ok, by["signature"].message
    assert by["cufe"].ok and by["totals"].ok
    tampered = data.replace(b"Cliente Comercial", b"Cliente Comerciel")
    assert verify.verify_signature(tampered).ok is False


def test_malformed_xml():
    report = verify.verify_document(b"<Invoice><unclosed></Invoice>")
    assert not report.ok
    assert (report.checks[0].name, report.checks[0].rule) == ("xsd", "ZB01")


# ---------------------------------------------------------------- issue 16: DIAN's XAdES-EPES profile
def _edited_signature(signer, edit, **kw):
    """A validly signed invoice whose signature was built, edited by ``edit(sig_element)`` and re-signed
    (digests and SignatureValue recomputed), so only the edited XAdES property is wrong."""
    import base64
    import hashlib

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    data = xades.sign(ubl.build_xml(make_invoice()), signer, **kw)
    root = etree.fromstring(data)
    ns = {"ds": xades.DS, "xades": xades.XADES}
    sig = root.xpath("//ds:Signature", namespaces=ns)[0]
    edit(sig, ns)
    def c14n(el):
        return etree.tostring(el, method="c14n")
    for ref in sig.xpath("ds:SignedInfo/ds:Reference[@URI!='']", namespaces=ns):
        target = root.xpath("//*[@Id=$i]", i=ref.get("URI")[1:])[0]
        ref.find(f"{{{xades.DS}}}DigestValue").text = base64.b64encode(hashlib.sha256(c14n(target)).digest()).decode()
    si = sig.find(f"{{{xades.DS}}}SignedInfo")
    sig.find(f"{{{xades.DS}}}SignatureValue").text = base64.b64encode(
        signer.key.sign(c14n(si), padding.PKCS1v15(), hashes.SHA256())).decode()
    out = etree.tostring(root)
    assert verify.verify_signature(out).ok, verify.verify_signature(out).message  # cryptographically fine
    return out


def test_signature_without_signed_properties_reference_is_rejected(signer):
    def drop(sig, ns):
        ref = sig.xpath("ds:SignedInfo/ds:Reference[@Type]", namespaces=ns)[0]
        ref.getparent().remove(ref)
    report = verify.verify_document(_edited_signature(signer, drop))
    check = report.check("signed_properties")
    assert (check.ok, check.rule) == (False, "ZE02") and "SignedProperties" in check.message
    assert not report.ok


def test_wrong_policy_hash_is_rejected(signer):
    def wrong_hash(sig, ns):
        sig.xpath(".//xades:SigPolicyHash/ds:DigestValue", namespaces=ns)[0].text = "AAAA" + "A" * 40
    check = verify.verify_document(_edited_signature(signer, wrong_hash)).check("signature_policy")
    assert (check.ok, check.rule) == (False, "ZE02") and "SigPolicyHash" in check.message


def test_non_dian_policy_identifier_is_rejected(signer):
    def other_policy(sig, ns):
        sig.xpath(".//xades:SigPolicyId/xades:Identifier", namespaces=ns)[0].text = "https://example.com/policy.pdf"
    check = verify.verify_document(_edited_signature(signer, other_policy)).check("signature_policy")
    assert check.ok is False and "example.com" in check.message


def test_customer_role_on_a_supplier_invoice_is_rejected(signer):
    def customer(sig, ns):
        sig.xpath(".//xades:ClaimedRole", namespaces=ns)[0].text = "customer"
    report = verify.verify_document(_edited_signature(signer, customer))
    check = report.check("signer_role")
    assert check.ok is False and "customer" in check.message
    assert not report.ok


def test_third_party_role_is_accepted(signer):
    report = verify.verify_document(xades.sign(ubl.build_xml(make_invoice()), signer, role="third party"))
    assert report.check("signer_role").ok is True


def test_certificate_expired_at_signing_time_is_rejected(signer):
    def late(sig, ns):
        sig.xpath(".//xades:SigningTime", namespaces=ns)[0].text = "2099-06-01T10:00:00.000-05:00"
    report = verify.verify_document(_edited_signature(signer, late))
    check = report.check("certificate_validity")
    assert check.ok is False and "vencido" in check.message
    assert not report.ok


def test_certificate_not_yet_valid_at_signing_time_is_rejected(signer):
    def early(sig, ns):
        sig.xpath(".//xades:SigningTime", namespaces=ns)[0].text = "2001-01-01T10:00:00-05:00"
    check = verify.verify_document(_edited_signature(signer, early)).check("certificate_validity")
    assert check.ok is False and "aún no era válido" in check.message


def test_signing_date_other_than_issue_date_is_a_fad09e_warning(signer):
    import datetime as dt
    data = xades.sign(ubl.build_xml(make_invoice()), signer,
                      signing_time=dt.datetime.now(xades.COT))  # the invoice is dated 2026-11-20
    report = verify.verify_document(data)
    w = report.warning("signing_time")
    assert w is not None and w.rule == "FAD09e" and "2026-11-20" in w.message
    assert report.ok  # a notification, not a rejection
    same_day = xades.sign(ubl.build_xml(make_invoice(issue_date=dt.datetime.now(xades.COT).date())), signer)
    assert verify.verify_document(same_day).warning("signing_time") is None


def test_signer_nit_other_than_supplier_or_provider_is_a_warning(signer):
    from facturador.dian.testing import make_test_pkcs12
    other = xades.load_pkcs12(make_test_pkcs12("860034313", "x"), "x")
    report = verify.verify_document(xades.sign(ubl.build_xml(make_invoice()), other))
    w = report.warning("signer_nit")
    assert w is not None and "860034313" in w.message and "900373076" in w.message
    assert report.check("signature").ok and report.ok
    assert verify.verify_document(xades.sign(ubl.build_xml(make_invoice()), signer)).warning("signer_nit") is None


def test_a_reference_must_name_exactly_one_element():
    """Id / ID / id are all looked at; one element carrying the value twice is still one element."""
    root = etree.fromstring(b'<r><a Id="x" id="x"/><b ID="y"/><c id="y"/></r>')
    index = verify._id_index(root)
    assert verify._find_by_id(root, "x", index).tag == "a"
    for missing_or_twice in ("y", "z"):
        with pytest.raises(verify._SigFail):
            verify._find_by_id(root, missing_or_twice, index)


def test_a_processing_instruction_added_around_the_signed_document_breaks_its_digest(signed_invoice):
    """The whole-document reference covers what is around the root element too (C14N keeps processing
    instructions), so the verifier must not reduce the document to its root element."""
    head, sep, rest = signed_invoice.partition(b"?>") if signed_invoice.startswith(b"<?xml") else (b"", b"", signed_invoice)
    changed = head + sep + b'<?xml-stylesheet type="text/xsl" href="x.xsl"?>' + rest
    assert verify.verify_signature(signed_invoice).ok
    check = verify.verify_signature(changed)
    assert not check.ok and "resumen de la referencia" in check.message


def test_verifying_a_parsed_tree_leaves_it_as_it_was(signed_invoice):
    """The enveloped-signature transform works on the caller's tree (no copy): the signature is put back."""
    root = etree.fromstring(signed_invoice)
    before = etree.tostring(root)
    assert verify._verify_root(signed_invoice, root).check("signature").ok
    assert etree.tostring(root) == before


def test_tree_is_put_back_when_a_later_transform_is_refused(signed_invoice):
    root = etree.fromstring(signed_invoice)
    ref = root.xpath("//ds:Reference[@URI='']", namespaces={"ds": verify.DS})[0]
    transforms = ref.find(f"{{{verify.DS}}}Transforms")
    assert transforms[0].get("Algorithm") == verify.ENVELOPED
    etree.SubElement(transforms, f"{{{verify.DS}}}Transform", Algorithm="urn:unknown")  # after the enveloped one
    before = etree.tostring(root)
    with pytest.raises(verify._SigFail):
        verify._reference_octets(ref, root, signed_invoice)
    assert etree.tostring(root) == before


def test_a_certificate_is_read_once_for_all_the_documents_it_signed(signer):
    """DIAN's ApplicationResponse certificate is the same on every received document: parsed once (by its DER)."""
    docs = [xades.sign(ubl.build_xml(make_invoice()), signer) for _ in range(2)]
    verify._certificate.cache_clear()
    reports = [verify.verify_document(d) for d in docs]
    assert all(r.check("signature").ok for r in reports)
    info = verify._certificate.cache_info()
    assert (info.misses, info.currsize) == (1, 1)
