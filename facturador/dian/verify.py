"""Verify a DIAN document as received: CUFE/CUDE, SoftwareSecurityCode, XSD, XAdES signature and totals.

Works on any party's documents (no assumption about our own formatting). Each check reports
``ok`` True/False, or None when it could not run (e.g. no technical key given); notifications that
do not reject (FAD09e, the signer's NIT) are ``Report.warnings``. Each document type by its own
rules: invoices and notes (all of the above), ApplicationResponse (XSD, signature, an event's CUDE),
AttachedDocument (XSD, signature, and nested reports of the invoice and the ApplicationResponse it
carries); XML that is none of these is reported as not a DIAN document. Never raises on bad input.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from . import cufe as cufe_mod
from . import xsd as xsd_mod
from ._read import (
    MAX_XML_BYTES,
    RULE_PREFIX,
    XmlInputError,
    dec,
    document_info,
    lines,
    parse,
    rule,
    text,
    xp,
)
from .ns import DIAN_EXTENSIONS, DS, ROOT, XADES

_DIGESTS = {
    "http://www.w3.org/2000/09/xmldsig#sha1": hashlib.sha1,
    "http://www.w3.org/2001/04/xmlenc#sha256": hashlib.sha256,
    "http://www.w3.org/2001/04/xmldsig-more#sha384": hashlib.sha384,
    "http://www.w3.org/2001/04/xmlenc#sha512": hashlib.sha512,
}
_SIG_HASH = {
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1": ("rsa", hashes.SHA1),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": ("rsa", hashes.SHA256),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": ("rsa", hashes.SHA384),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": ("rsa", hashes.SHA512),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": ("ec", hashes.SHA256),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384": ("ec", hashes.SHA384),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512": ("ec", hashes.SHA512),
}
_C14N = {
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315": (False, False),
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments": (False, True),
    "http://www.w3.org/2006/12/xml-c14n11": (False, False),  # approximated by C14N 1.0
    "http://www.w3.org/2006/12/xml-c14n11#WithComments": (False, True),
    "http://www.w3.org/2001/10/xml-exc-c14n#": (True, False),
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments": (True, True),
}
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
CHECK_NAMES = ("xsd", "signature", "signed_properties", "signature_policy", "signer_role", "certificate_validity",
               "cufe", "software_security_code", "totals")


@dataclass
class Check:
    name: str
    ok: bool | None
    rule: str = ""
    message: str = ""


@dataclass
class Report:
    """``checks`` decide ``ok``; ``warnings`` (notifications such as FAD09e, the signer's NIT) never do."""
    document: dict
    checks: list[Check] = field(default_factory=list)
    warnings: list[Check] = field(default_factory=list)
    #: an AttachedDocument's reports of what it carries: "document" (the invoice or note) and
    #: "application_response" (DIAN's answer), each verified by its own rules
    embedded: dict[str, Report] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True only when every check that could run passed (checks with ok=None are skipped), in this
        report and in every embedded one."""
        return (all(c.ok is not False for c in self.checks) and any(c.ok for c in self.checks)
                and all(r.ok for r in self.embedded.values()))

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)

    def warning(self, name: str) -> Check | None:
        return next((c for c in self.warnings if c.name == name), None)

    def to_json(self) -> dict:
        out = {"document": self.document, "checks": [_check_json(c) for c in self.checks],
               "warnings": [_check_json(c) for c in self.warnings]}
        if self.embedded:
            out["embedded"] = {k: r.to_json() for k, r in self.embedded.items()}
        return out

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, indent=2)


def _check_json(c: Check) -> dict:
    """``dataclasses.asdict(c)`` without its generic deep copy (the fields are immutable scalars)."""
    return {"name": c.name, "ok": c.ok, "rule": c.rule, "message": c.message}


# ---------------------------------------------------------------- signature
class _SigFail(Exception):
    def __init__(self, message: str, code: str = "ZE02"):
        super().__init__(message)
        self.code = code


def _c14n(node, algorithm: str | None, prefixes=None) -> bytes:
    exclusive, comments = _C14N.get(algorithm or "", (False, False))
    if algorithm and algorithm not in _C14N:
        raise _SigFail(f"Algoritmo de canonicalización no soportado: {algorithm}")
    return etree.tostring(node, method="c14n", exclusive=exclusive, with_comments=comments,
                          inclusive_ns_prefixes=prefixes if exclusive else None)


def _remove_keep_tail(el):
    parent, tail = el.getparent(), el.tail
    prev = el.getprevious()
    if tail:
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


#: every Id / ID / id attribute of the document (the attribute nodes, each knowing its element): selecting the
#: attributes is ~4x cheaper in libxml2 than selecting the elements with ``//*[@Id or @ID or @id]``
_ID_ATTRIBUTES = etree.XPath("//@Id|//@ID|//@id")


def _id_index(root) -> dict[str, list]:
    """Id / ID / id value → the elements carrying it (each once), from one pass over the tree (for every
    reference of a signature, instead of one pass per reference)."""
    index: dict[str, list] = {}
    for attr in _ID_ATTRIBUTES(root):
        el = attr.getparent()
        found = index.setdefault(str(attr), [])
        if not any(e is el for e in found):  # Id="x" and id="x" on one element: one element
            found.append(el)
    return index


def _find_by_id(root, ident: str, index: dict | None = None):
    found = (index if index is not None else _id_index(root)).get(ident, [])
    if len(found) != 1:
        raise _SigFail(f"La referencia #{ident} no identifica un único elemento.")
    return found[0]


def _detach(el):
    """Take ``el`` out of its tree as `_remove_keep_tail` does; returns the function that puts it back exactly
    (its position, its tail and the text it was merged into)."""
    parent, prev, tail = el.getparent(), el.getprevious(), el.tail
    position = parent.index(el)
    merged_into = prev.tail if prev is not None else parent.text
    _remove_keep_tail(el)

    def restore():
        parent.insert(position, el)
        el.tail = tail
        if prev is not None:
            prev.tail = merged_into
        else:
            parent.text = merged_into
    return restore


def _reference_octets(ref, root, xml_bytes: bytes, index: dict | None = None) -> bytes:
    uri = ref.get("URI")
    transforms = [t for t in xp(ref, "ds:Transforms/ds:Transform")]
    borrowed = False  # the caller's tree itself, changed only for the C14N and put back
    if uri == "":
        if root.getparent() is None and root.getprevious() is None and root.getnext() is None:
            # nothing but the root element in the document (no comment or processing instruction around it): the
            # parsed tree is the same document for C14N, without parsing the bytes again nor copying the tree
            doc, borrowed = root, True
        else:
            doc = parse(xml_bytes, max_bytes=None)  # the same bytes already parsed within the caller's limit
        node = doc.getroottree()
    elif uri and uri.startswith("#"):
        doc = None
        node = _find_by_id(root, uri[1:], index)
    else:
        raise _SigFail(f"URI de referencia no soportada: {uri!r}")
    algorithm, prefixes = None, None
    restore = None
    try:
        for t in transforms:
            alg = t.get("Algorithm")
            if alg == ENVELOPED:
                if doc is None:
                    raise _SigFail("Transformación enveloped-signature sobre una referencia parcial no soportada.")
                target = xp(doc, "//ds:Signature")
                if len(target) == 1:
                    if borrowed:
                        restore = _detach(target[0])
                    else:
                        _remove_keep_tail(target[0])
            elif alg in _C14N:
                algorithm = alg
                inc = t.find("{http://www.w3.org/2001/10/xml-exc-c14n#}InclusiveNamespaces")
                prefixes = (inc.get("PrefixList") or "").split() if inc is not None else None
            else:
                raise _SigFail(f"Transformación no soportada: {alg}")
        return _c14n(node, algorithm, prefixes)
    finally:
        if restore is not None:
            restore()


def _digest(method_el, data: bytes) -> bytes:
    alg = method_el.get("Algorithm") if method_el is not None else None
    if alg not in _DIGESTS:
        raise _SigFail(f"Algoritmo de resumen no soportado: {alg}")
    return _DIGESTS[alg](data).digest()


# Certificates read once per distinct certificate: DIAN signs every ApplicationResponse with the same one, and a
# supplier every invoice and AttachedDocument with its own. Keyed by the DER bytes (and the parsed certificate,
# whose hash is its DER's), so a cached value is only ever given for the same certificate; errors are not cached.
@lru_cache(maxsize=256)
def _certificate(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


@lru_cache(maxsize=256)
def _public_key(cert: x509.Certificate):
    return cert.public_key()


@lru_cache(maxsize=256)
def _subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def _signing_cert_refs(sig) -> list:
    """``.//xades:SigningCertificate/xades:Cert | .//*[local-name()='SigningCertificateV2']/*`` in document order,
    with lxml's C tag filter instead of XPath's local-name() test on every node of the signature."""
    out = []
    for el in sig.iter(f"{{{XADES}}}SigningCertificate", "{*}SigningCertificateV2"):
        v2 = etree.QName(el).localname == "SigningCertificateV2"
        out.extend(c for c in el if isinstance(c.tag, str) and (v2 or c.tag == f"{{{XADES}}}Cert"))
    return out


def verify_signature(xml_bytes: bytes, root=None, *, max_bytes: int | None = MAX_XML_BYTES) -> Check:
    """Verify the XAdES signature: every reference digest, the SignatureValue, and that the certificate in
    KeyInfo is the one named by SigningCertificate (digest and serial). ``max_bytes`` bounds
    ``xml_bytes`` when ``root`` is not given (XmlInputError / XMLSyntaxError propagate).

    Only the cryptography: DIAN's XAdES-EPES profile (signed properties, policy, role, certificate
    validity) is checked by ``xades_profile`` (``verify_document`` runs both)."""
    root = parse(xml_bytes, max_bytes=max_bytes) if root is None else root
    return _verify_signature(xml_bytes, root)[0]


def _verify_signature(xml_bytes: bytes, root) -> tuple[Check, x509.Certificate | None]:
    try:
        sigs = xp(root, "//ds:Signature")
        if not sigs:
            raise _SigFail("El documento no está firmado (no hay ds:Signature).")
        if len(sigs) > 1:
            raise _SigFail("El documento tiene más de una firma.")
        sig = sigs[0]
        si = sig.find(f"{{{DS}}}SignedInfo")
        if si is None:
            raise _SigFail("Falta ds:SignedInfo.")
        refs = xp(si, "ds:Reference")
        if not refs:
            raise _SigFail("ds:SignedInfo no tiene referencias.")
        uris = [r.get("URI") for r in refs]
        if "" not in uris:
            raise _SigFail("La firma no cubre el documento completo (falta la referencia URI=\"\").")
        if not xp(sig, "ds:KeyInfo/ds:X509Data/ds:X509Certificate"):
            raise _SigFail("La firma no incluye el certificado (ds:X509Certificate).", "ZD06")
        for qp in xp(sig, "ds:Object/xades:QualifyingProperties|ds:Object/*[local-name()='QualifyingProperties']"):
            if qp.get("Target") != "#" + (sig.get("Id") or ""):
                raise _SigFail("xades:QualifyingProperties/@Target no apunta a la firma.")
        index = _id_index(root) if any(u and u.startswith("#") for u in uris) else None
        for i, ref in enumerate(refs):
            octets = _reference_octets(ref, root, xml_bytes, index)
            expected = base64.b64decode("".join((text(ref, "ds:DigestValue") or "").split()))
            if _digest(ref.find(f"{{{DS}}}DigestMethod"), octets) != expected:
                what = ref.get("URI") or "(documento)"
                raise _SigFail(f"El resumen de la referencia {i + 1} ({what}) no coincide: el contenido firmado "
                               "fue modificado.")
        certs_b64 = xp(sig, "ds:KeyInfo/ds:X509Data/ds:X509Certificate/text()")
        if not certs_b64:
            raise _SigFail("La firma no incluye el certificado (ds:X509Certificate).", "ZD06")
        ders = []
        for c in certs_b64:
            try:
                ders.append(base64.b64decode("".join(c.split())))
            except ValueError:
                raise _SigFail("Certificado en KeyInfo mal codificado.") from None
        cert_refs = _signing_cert_refs(sig)
        if not cert_refs:
            raise _SigFail("Falta xades:SigningCertificate (XAdES-EPES).")
        signing_der = None
        for cref in cert_refs:
            dm = cref.find(f"{{{XADES}}}CertDigest")
            if dm is None:
                continue
            want = base64.b64decode("".join((text(dm, "ds:DigestValue") or "").split()))
            for der in ders:
                if _digest(dm.find(f"{{{DS}}}DigestMethod"), der) == want:
                    signing_der = der
                    serial = text(cref, "xades:IssuerSerial/ds:X509SerialNumber")
                    if serial is not None:
                        cert = _certificate(der)
                        if serial.strip() != str(cert.serial_number):
                            raise _SigFail("El número de serie en SigningCertificate no corresponde al certificado.")
                    break
            if signing_der:
                break
        if signing_der is None:
            raise _SigFail("El certificado de KeyInfo no corresponde al resumen de xades:SigningCertificate.")
        try:
            cert = _certificate(signing_der)
        except ValueError:
            raise _SigFail("El certificado de firma no se puede leer.") from None
        sm = si.find(f"{{{DS}}}SignatureMethod")
        kind_hash = _SIG_HASH.get(sm.get("Algorithm") if sm is not None else None)
        if not kind_hash:
            raise _SigFail("Algoritmo de firma no soportado.")
        cm = si.find(f"{{{DS}}}CanonicalizationMethod")
        inc = cm.find("{http://www.w3.org/2001/10/xml-exc-c14n#}InclusiveNamespaces") if cm is not None else None
        signed_info = _c14n(si, cm.get("Algorithm") if cm is not None else None,
                            (inc.get("PrefixList") or "").split() if inc is not None else None)
        value = base64.b64decode("".join((text(sig, "ds:SignatureValue") or "").split()))
        key = _public_key(cert)
        try:
            if kind_hash[0] == "rsa" and isinstance(key, rsa.RSAPublicKey):
                key.verify(value, signed_info, padding.PKCS1v15(), kind_hash[1]())
            elif kind_hash[0] == "ec" and isinstance(key, ec.EllipticCurvePublicKey):
                from cryptography.hazmat.primitives.asymmetric.utils import (
                    encode_dss_signature,
                )
                half = len(value) // 2
                der_sig = encode_dss_signature(int.from_bytes(value[:half], "big"), int.from_bytes(value[half:], "big"))
                key.verify(der_sig, signed_info, ec.ECDSA(kind_hash[1]()))
            else:
                raise _SigFail("El tipo de llave del certificado no corresponde al algoritmo de firma.")
        except InvalidSignature:
            raise _SigFail("Valor de la firma inválido (SignatureValue no corresponde a SignedInfo).") from None
        subject = _subject(cert)
        return Check("signature", True, "", f"Firma criptográficamente válida ({len(refs)} referencias); "
                                            f"certificado: {subject}."), cert
    except _SigFail as exc:
        return Check("signature", False, exc.code, str(exc)), None
    except (ValueError, TypeError, etree.LxmlError) as exc:
        return Check("signature", False, "ZE02", f"No se pudo verificar la firma: {exc}"), None


# ---------------------------------------------------------------- XAdES-EPES profile (DIAN's policy v2)
POLICY_IDENTIFIER = "https://facturaelectronica.dian.gov.co/politicadefirma/v2/politicadefirmav2.pdf"
#: digest of politicadefirmav2.pdf per DigestMethod (shared/reference/dian.md §3.1)
POLICY_HASHES = {
    "http://www.w3.org/2000/09/xmldsig#sha1": "sbcECQ7v+y/m3OcBCJyvmkBhtFs=",
    "http://www.w3.org/2001/04/xmlenc#sha256": "dMoMvtcG5aIzgYo0tIsSQeVJBDnUnfSOfBpxXrmor0Y=",
    "http://www.w3.org/2001/04/xmldsig-more#sha384": "EQC0kiWPaAME6IsEZ7WuaTWJ97Zmf6hIO69rMCVURmQxBB9ebgLrjhL5BArQ0a0l",
    "http://www.w3.org/2001/04/xmlenc#sha512":
        "Zcjw1Z9nGQn2j6NyGx8kAaLbOfJGd/fJxRTCeirlqAg7zRG27piJkJOpflGu7XACpMj9hC6dVMcCyzqHxxPZeQ==",
}
SIGNED_PROPERTIES_TYPE = "http://uri.etsi.org/01903#SignedProperties"
#: ClaimedRole DIAN accepts per document: the supplier signs its documents itself or through a provider
#: ("third party"); an ApplicationResponse (DIAN's answer or an event) may also be the customer's.
ROLES = {"invoice": ("supplier", "third party"), "credit_note": ("supplier", "third party"),
         "debit_note": ("supplier", "third party"), "attached_document": ("supplier", "third party"),
         "application_response": ("supplier", "customer", "third party")}
XADES_CHECK_NAMES = CHECK_NAMES[2:6]
_COT = dt.timezone(dt.timedelta(hours=-5))


def _signing_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=_COT)  # Colombian legal time when no offset


def certificate_nit(cert: x509.Certificate) -> str | None:
    """NIT of a certificate's subject: ``serialNumber`` as Colombian CAs write it (DV and dashes dropped)."""
    attrs = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    if not attrs:
        return None
    digits = "".join(ch for ch in str(attrs[0].value).split("-")[0] if ch.isdigit())
    return digits or None


_certificate_nit = lru_cache(maxsize=256)(certificate_nit)


def _digits(value: str | None) -> str:
    return "".join(ch for ch in (value or "") if ch.isdigit())


def xades_profile(root, info: dict, cert: x509.Certificate | None) -> tuple[list[Check], list[Check]]:
    """(checks, warnings) of DIAN's XAdES-EPES profile on a signed document: the SignedProperties are
    signed, the DIAN policy (identifier and hash), the ClaimedRole, the certificate's validity at
    SigningTime; warnings: SigningTime vs IssueDate (FAD09e) and the signer's NIT vs the parties.
    ``cert`` is the signing certificate (None when the signature could not be read)."""
    kind = info.get("kind")
    sigs = xp(root, "//ds:Signature")
    if len(sigs) != 1:
        why = "el documento no está firmado." if not sigs else "el documento tiene más de una firma."
        return [Check(n, None, "", f"No se verificó: {why}") for n in XADES_CHECK_NAMES], []
    sig = sigs[0]
    checks, warnings = [], []
    sp = xp(sig, "ds:Object/xades:QualifyingProperties/xades:SignedProperties")
    sp = sp[0] if sp else None

    # the SignedProperties must be covered by a reference (else time, certificate and policy are unsigned)
    if sp is None:
        checks.append(Check("signed_properties", False, "ZE02", "Falta xades:SignedProperties: la firma no es "
                                                                "XAdES-EPES."))
    else:
        ids = {sp.get("Id"), sp.get("ID"), sp.get("id")} - {None}
        refs = xp(sig, "ds:SignedInfo/ds:Reference")
        covered = [r for r in refs if (r.get("URI") or "").startswith("#") and r.get("URI")[1:] in ids]
        if not covered:
            checks.append(Check("signed_properties", False, "ZE02",
                                "La firma no tiene una referencia a xades:SignedProperties: la hora de firma, el "
                                "certificado y la política no están firmados (XAdES-EPES exige las tres "
                                "referencias)."))
        elif covered[0].get("Type") != SIGNED_PROPERTIES_TYPE:
            checks.append(Check("signed_properties", False, "ZE02",
                                f"La referencia a xades:SignedProperties no declara Type=\"{SIGNED_PROPERTIES_TYPE}\"."))
        else:
            checks.append(Check("signed_properties", True, "", "Las propiedades XAdES están firmadas."))

    # the DIAN policy
    ssp = sp.find(f"{{{XADES}}}SignedSignatureProperties") if sp is not None else None
    spi = xp(ssp, "xades:SignaturePolicyIdentifier/xades:SignaturePolicyId") if ssp is not None else []
    if not spi:
        checks.append(Check("signature_policy", False, "ZE02",
                            "Falta la política de firma (xades:SignaturePolicyIdentifier): DIAN exige "
                            "XAdES-EPES con su política v2."))
    else:
        ident = (text(spi[0], "xades:SigPolicyId/xades:Identifier") or "").strip()
        alg = xp(spi[0], "xades:SigPolicyHash/ds:DigestMethod/@Algorithm")  # compiled once, not on every call
        alg = alg[0] if alg else None
        value = "".join((text(spi[0], "xades:SigPolicyHash/ds:DigestValue") or "").split())
        if ident != POLICY_IDENTIFIER:
            checks.append(Check("signature_policy", False, "ZE02",
                                f"El identificador de la política de firma ({ident or 'vacío'}) no es el de la DIAN "
                                f"({POLICY_IDENTIFIER})."))
        elif alg not in POLICY_HASHES:
            checks.append(Check("signature_policy", False, "ZE02",
                                f"Algoritmo de SigPolicyHash no soportado: {alg}."))
        elif value != POLICY_HASHES[alg]:
            checks.append(Check("signature_policy", False, "ZE02",
                                f"SigPolicyHash ({value or 'vacío'}) no es el resumen de la política de firma de la "
                                f"DIAN ({POLICY_HASHES[alg]})."))
        else:
            checks.append(Check("signature_policy", True, "", "Política de firma de la DIAN (v2) con su resumen "
                                                              "correcto."))

    # the role
    roles = [r.strip() for r in xp(ssp, "xades:SignerRole/xades:ClaimedRoles/xades:ClaimedRole/text()")] \
        if ssp is not None else []
    allowed = ROLES.get(kind, ("supplier", "third party"))
    if not roles:
        checks.append(Check("signer_role", False, "ZE02", "Falta xades:ClaimedRole (rol del firmante)."))
    elif any(r not in allowed for r in roles):
        bad = ", ".join(r for r in roles if r not in allowed)
        checks.append(Check("signer_role", False, "ZE02",
                            f"ClaimedRole '{bad}' no corresponde a este documento: lo firma el emisor "
                            f"({' o '.join(repr(a) for a in allowed)})."))
    else:
        checks.append(Check("signer_role", True, "", f"Rol del firmante: {', '.join(roles)}."))

    # the certificate at SigningTime
    raw_time = text(ssp, "xades:SigningTime") if ssp is not None else None
    when = _signing_time(raw_time)
    if when is None:
        checks.append(Check("certificate_validity", False, "ZE02",
                            f"xades:SigningTime {'falta' if not raw_time else f'no es una fecha válida ({raw_time})'}."))
    elif cert is None:
        checks.append(Check("certificate_validity", None, "", "No se verificó: el certificado de firma no se pudo "
                                                              "leer."))
    elif when > cert.not_valid_after_utc:
        checks.append(Check("certificate_validity", False, "",
                            f"El certificado de firma estaba vencido al firmar: venció el "
                            f"{cert.not_valid_after_utc:%Y-%m-%d} y la firma es del {when:%Y-%m-%d %H:%M}."))
    elif when < cert.not_valid_before_utc:
        checks.append(Check("certificate_validity", False, "",
                            f"El certificado de firma aún no era válido al firmar: vale desde el "
                            f"{cert.not_valid_before_utc:%Y-%m-%d} y la firma es del {when:%Y-%m-%d %H:%M}."))
    else:
        checks.append(Check("certificate_validity", True, "", "Certificado vigente en la hora de firma "
                                                              f"({cert.not_valid_before_utc:%Y-%m-%d} a "
                                                              f"{cert.not_valid_after_utc:%Y-%m-%d})."))

    # notifications
    if when is not None and kind in RULE_PREFIX and info.get("issue_date"):
        signed_on = when.astimezone(_COT).date().isoformat()
        if signed_on != info["issue_date"]:
            warnings.append(Check("signing_time", False, rule(kind, "FAD09e"),
                                  f"La fecha de emisión ({info['issue_date']}) debe ser igual a la fecha de la firma "
                                  f"({signed_on})."))
    if cert is not None:
        nit = _certificate_nit(cert)
        parties = {k: _digits(v) for k, v in (("emisor", info.get("supplier_nit")),
                                               ("proveedor tecnológico", info.get("provider_nit"))) if _digits(v)}
        if not nit:
            warnings.append(Check("signer_nit", False, "", "El certificado de firma no indica un NIT "
                                                           "(serialNumber); no se pudo comparar con el emisor."))
        elif parties and nit not in parties.values():
            named = ", ".join(f"{k} {v}" for k, v in parties.items())
            warnings.append(Check("signer_nit", False, "", f"El certificado de firma es del NIT {nit}, que no es "
                                                           f"el del {named}."))
    return checks, warnings


# ---------------------------------------------------------------- totals
def _money(v) -> Decimal:
    d = dec(v)
    return d if d is not None else Decimal("0")


def totals_findings(root, kind: str | None) -> list[tuple[str, str]]:
    """(rule, Spanish message) for every totals rule the document breaks."""
    out = []
    lmt = xp(root, "cac:LegalMonetaryTotal|cac:RequestedMonetaryTotal")
    if not lmt:
        return [(rule(kind, "FAU14"), "Falta el grupo de totales (LegalMonetaryTotal).")]
    lmt = lmt[0]
    doc_lines = lines(root)
    line_sum = sum((_money(text(li, "cbc:LineExtensionAmount")) for li in doc_lines), Decimal("0"))
    lext = _money(text(lmt, "cbc:LineExtensionAmount"))
    if line_sum != lext:
        out.append((rule(kind, "FAU06"), f"LineExtensionAmount {lext} es distinto de la suma de las líneas {line_sum}."))
    bases = sum((_money(v) for li in doc_lines
                 for v in xp(li, "cac:TaxTotal/cac:TaxSubtotal/cbc:TaxableAmount/text()")), Decimal("0"))
    texcl = _money(text(lmt, "cbc:TaxExclusiveAmount"))
    if bases.quantize(Decimal("0.01")) != texcl.quantize(Decimal("0.01")):
        out.append((rule(kind, "FAU04"), f"Base imponible (TaxExclusiveAmount) {texcl} es distinta de la suma de las "
                                         f"bases imponibles de las líneas {bases}."))
    line_schemes = {s.strip() for li in doc_lines
                    for s in xp(li, "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cac:TaxScheme/cbc:ID/text()")}
    header = [frozenset(s.strip() for s in xp(tt, "cac:TaxSubtotal/cac:TaxCategory/cac:TaxScheme/cbc:ID/text()"))
              for tt in xp(root, "cac:TaxTotal")]
    header_schemes = [s for h in header for s in h]
    dup = sorted({s for s in header_schemes if header_schemes.count(s) > 1})
    missing = sorted(line_schemes - set(header_schemes))
    if dup or missing or any(len(h) > 1 for h in header):
        detail = "; ".join(filter(None, [dup and f"repetidos {', '.join(dup)}",
                                         missing and f"sin total de cabecera {', '.join(missing)}"]))
        out.append((rule(kind, "FAS01b"), "Debe existir un TaxTotal de cabecera por cada tipo de tributo informado "
                                          f"en las líneas ({detail or 'tributos mezclados'})."))
    for li_no, li in enumerate(doc_lines, 1):
        for sub in xp(li, "cac:TaxTotal/cac:TaxSubtotal"):
            base, amt, pct = (dec(text(sub, p)) for p in ("cbc:TaxableAmount", "cbc:TaxAmount",
                                                          "cac:TaxCategory/cbc:Percent"))
            if base is not None and amt is not None and pct is not None and abs(base * pct / 100 - amt) > Decimal("0.01"):
                out.append((rule(kind, "FAS07"), f"Línea {li_no}: el valor del tributo {amt} no corresponde al {pct} % "
                                                 f"de la base imponible {base}."))
    for tt in xp(root, "cac:TaxTotal"):
        subs = xp(tt, "cac:TaxSubtotal")
        if subs and sum((_money(text(s, "cbc:TaxAmount")) for s in subs), Decimal("0")) != _money(
                text(tt, "cbc:TaxAmount")):
            out.append((rule(kind, "FAS07"), "El TaxAmount de un TaxTotal de cabecera no es la suma de sus subtotales."))
    taxes = sum((_money(text(tt, "cbc:TaxAmount")) for tt in xp(root, "cac:TaxTotal")), Decimal("0"))
    tincl = _money(text(lmt, "cbc:TaxInclusiveAmount"))
    if tincl != lext + taxes:
        out.append((rule(kind, "FAU08"), f"TaxInclusiveAmount {tincl} es distinto de LineExtensionAmount más tributos "
                                         f"({lext + taxes})."))
    allow = _money(text(lmt, "cbc:AllowanceTotalAmount"))
    charge = _money(text(lmt, "cbc:ChargeTotalAmount"))
    prepaid = _money(text(lmt, "cbc:PrepaidAmount"))
    rounding = _money(text(lmt, "cbc:PayableRoundingAmount"))
    payable = _money(text(lmt, "cbc:PayableAmount"))
    expected = lext + taxes - allow + charge - prepaid + rounding
    if payable != expected:
        out.append((rule(kind, "FAU14"), f"Valor a pagar {payable} es distinto de valor bruto más tributos - "
                                         f"descuentos + cargos - anticipos ({expected})."))
    hdr_allow = sum((_money(text(a, "cbc:Amount")) for a in xp(root, "cac:AllowanceCharge[cbc:ChargeIndicator='false']")),
                    Decimal("0"))
    hdr_charge = sum((_money(text(a, "cbc:Amount")) for a in xp(root, "cac:AllowanceCharge[cbc:ChargeIndicator='true']")),
                     Decimal("0"))
    if hdr_allow != allow:
        out.append((rule(kind, "FAU16"), f"AllowanceTotalAmount {allow} no es la suma de los descuentos {hdr_allow}."))
    if hdr_charge != charge:
        out.append((rule(kind, "FAU18"), f"ChargeTotalAmount {charge} no es la suma de los cargos {hdr_charge}."))
    return out


# ---------------------------------------------------------------- xsd
def xsd_check(xml_bytes: bytes, schema_dir) -> Check:
    """The XSD check; never raises (an unusable schema directory means the check could not run)."""
    try:
        errors = xsd_mod.validate_xsd(xml_bytes, schema_dir)
    except xsd_mod.SchemaDirError as exc:
        return Check("xsd", None, "", exc.message)
    except (etree.LxmlError, ValueError) as exc:
        errors = [f"el validador XSD no pudo procesar el documento: {exc}"]
    return Check("xsd", not errors, "ZB01" if errors else "",
                 "; ".join(errors[:5]) if errors else "Cumple los esquemas XSD.")


# ---------------------------------------------------------------- entry point
def _unreadable(message: str) -> Report:
    return Report({}, [Check("xsd", False, "ZB01", message)] +
                  [Check(n, None, "", "No se pudo leer el documento.") for n in CHECK_NAMES[1:]])


def _not_dian(info: dict, message: str) -> Report:
    return Report(info, [Check("document", False, "ZB01", message)])


def _common_checks(report: Report, xml_bytes: bytes, root, schema_dir) -> None:
    """XSD, the signature's cryptography and DIAN's XAdES-EPES profile: the same for every document type."""
    if not schema_dir:
        report.checks.append(Check("xsd", None, "", "Sin directorio de esquemas XSD (FACTURADOR_DIAN_SCHEMA_DIR)."))
    else:
        report.checks.append(xsd_check(xml_bytes, schema_dir))
    sig_check, cert = _verify_signature(xml_bytes, root)
    report.checks.append(sig_check)
    checks, warnings = xades_profile(root, report.document, cert)
    report.checks.extend(checks)
    report.warnings.extend(warnings)


def _party_nit(root, role: str) -> str | None:
    return text(root, f"cac:{role}/cac:PartyTaxScheme/cbc:CompanyID")


#: ResponseCodes of RADIAN events (acuse 030, reclamo 031, recibo de bienes 032, aceptación expresa 033,
#: tácita 034, ...): documents of a party, identified by a CUDE computed with its software PIN.
def _is_event(code: str | None) -> bool:
    return bool(code) and len(code) == 3 and code.startswith("03")


def event_cude(info: dict, pin: str) -> str:
    """CUDE of an event ApplicationResponse (``events.event_cude``: NumDE + FecEmi + HorEmi + NitFE + DocAdq +
    ResponseCode + ID + DocumentTypeCode + Software-PIN, checked against the annex's worked example)."""
    from .events import event_cude as cude
    return cude(*(info.get(k) or "" for k in ("number", "issue_date", "issue_time", "sender_nit", "receiver_nit",
                                              "response_code", "reference_id", "reference_type_code")), pin)


def application_response_info(root) -> dict:
    dr = "cac:DocumentResponse"
    return {
        "root": "ApplicationResponse", "kind": "application_response", "type": None,
        "number": text(root, "cbc:ID"), "uuid": text(root, "cbc:UUID"), "uuid_scheme": text(root, "cbc:UUID/@schemeName"),
        "environment": text(root, "cbc:ProfileExecutionID"), "issue_date": text(root, "cbc:IssueDate"),
        "issue_time": text(root, "cbc:IssueTime"),
        "sender_nit": _party_nit(root, "SenderParty"), "receiver_nit": _party_nit(root, "ReceiverParty"),
        "supplier_nit": _party_nit(root, "SenderParty"),  # who issues (and signs) the response
        "response_code": text(root, f"{dr}/cac:Response/cbc:ResponseCode"),
        "response_description": text(root, f"{dr}/cac:Response/cbc:Description"),
        "reference_id": text(root, f"{dr}/cac:DocumentReference/cbc:ID"),
        "reference_uuid": text(root, f"{dr}/cac:DocumentReference/cbc:UUID"),
        "reference_type_code": text(root, f"{dr}/cac:DocumentReference/cbc:DocumentTypeCode"),
    }


def verify_application_response(xml_bytes: bytes, root, *, pin: str | None = None, schema_dir=None) -> Report:
    """An ApplicationResponse by its own rules: XSD, signature and XAdES profile, and the CUDE of an event
    (with the PIN of the software that issued it). DIAN's own validation answers carry a CUDE that DIAN
    assigns: it cannot be recomputed and is reported as not checked. No totals: it has none."""
    info = application_response_info(root)
    report = Report(info)
    _common_checks(report, xml_bytes, root, schema_dir)
    code = info["response_code"]
    if not _is_event(code):
        report.checks.append(Check("cude", None, "", f"Respuesta de validación (ResponseCode {code or 'vacío'}): "
                                                     "su CUDE lo asigna la DIAN y no se puede recalcular."))
    elif not pin:
        report.checks.append(Check("cude", None, "", f"No se verificó el CUDE del evento {code}: se necesita el PIN "
                                                     "del software que lo emitió."))
    else:
        expected = event_cude(info, pin)
        ok = (info["uuid"] or "").lower() == expected
        report.checks.append(Check("cude", ok, "" if ok else "AAD06", "CUDE del evento correcto." if ok else
                                   f"Valor del CUDE no está calculado correctamente (esperado {expected})."))
    return report


def _cdata(el) -> bytes | None:
    return el[0].text.encode("utf-8") if el and el[0].text and el[0].text.strip() else None


def verify_attached_document(xml_bytes: bytes, root, *, technical_key: str | None = None, pin: str | None = None,
                             software_id: str | None = None, schema_dir=None,
                             max_bytes: int | None = MAX_XML_BYTES, _trees: dict | None = None) -> Report:
    """An AttachedDocument: its XSD and signature, that what it carries belongs together, and a nested report
    for the embedded invoice/note and for the embedded ApplicationResponse (``report.embedded``).

    ``_trees`` (internal, for callers that read the embedded documents too, e.g. reception): a dict of
    "document" / "application_response" → (bytes, parsed root). A given entry is used instead of parsing the
    same bytes again; entries parsed here are added to it."""
    line_ref = "cac:ParentDocumentLineReference/cac:DocumentReference"
    info = {"root": "AttachedDocument", "kind": "attached_document", "type": None,
            "number": text(root, "cbc:ID"), "parent_document_id": text(root, "cbc:ParentDocumentID"),
            "environment": text(root, "cbc:ProfileExecutionID"), "issue_date": text(root, "cbc:IssueDate"),
            "issue_time": text(root, "cbc:IssueTime"), "sender_nit": _party_nit(root, "SenderParty"),
            "supplier_nit": _party_nit(root, "SenderParty"), "receiver_nit": _party_nit(root, "ReceiverParty"),
            "document_uuid": text(root, f"{line_ref}/cbc:UUID")}
    report = Report(info)
    _common_checks(report, xml_bytes, root, schema_dir)
    doc = _cdata(xp(root, "cac:Attachment/cac:ExternalReference/cbc:Description"))
    ar = _cdata(xp(root, f"{line_ref}/cac:Attachment/cac:ExternalReference/cbc:Description"))
    trees = {} if _trees is None else _trees
    if doc is not None:
        report.embedded["document"] = _verify_shared(trees, "document", doc, technical_key, pin, software_id,
                                                     schema_dir, max_bytes=max_bytes)
    if ar is not None:
        report.embedded["application_response"] = _verify_shared(trees, "application_response", ar,
                                                                 schema_dir=schema_dir, max_bytes=max_bytes)
    problems = []
    d = report.embedded.get("document")
    a = report.embedded.get("application_response")
    if d is None:
        problems.append("no contiene el documento electrónico (cac:Attachment/cac:ExternalReference/cbc:Description)")
    elif d.document.get("kind") not in RULE_PREFIX:
        problems.append("el documento que contiene no es una factura ni una nota")
    if a is None:
        problems.append("no contiene la ApplicationResponse de la DIAN")
    elif a.document.get("kind") != "application_response":
        problems.append("la respuesta que contiene no es una ApplicationResponse")
    if d is not None and a is not None and d.document.get("kind") in RULE_PREFIX \
            and a.document.get("kind") == "application_response":
        uuid = (d.document.get("uuid") or "").lower()
        if (a.document.get("reference_uuid") or "").lower() != uuid:
            problems.append("la ApplicationResponse responde a otro documento (su CUFE/CUDE no es el del documento)")
        if a.document.get("response_code") != "02":
            problems.append(f"la DIAN no validó el documento (ResponseCode {a.document.get('response_code')})")
        if (info["document_uuid"] or "").lower() != uuid:
            problems.append("ParentDocumentLineReference no indica el CUFE/CUDE del documento que contiene")
        if info["parent_document_id"] and info["parent_document_id"] != d.document.get("number"):
            problems.append("ParentDocumentID no es el número del documento que contiene")
    report.checks.append(Check("attachments", not problems, "ZB01" if problems else "",
                               ("El contenedor " + "; ".join(problems) + ".") if problems else
                               "Contiene el documento y la ApplicationResponse de la DIAN que lo valida "
                               "(ver «embedded»)."))
    return report


def _parse_or_report(xml_bytes: bytes, max_bytes: int | None):
    """The parsed root, or a report whose first check failed (ZB01) when the bytes cannot be read safely."""
    try:
        return parse(xml_bytes, max_bytes=max_bytes), None
    except etree.XMLSyntaxError as exc:
        return None, _unreadable(f"XML mal formado: {exc}")
    except XmlInputError as exc:
        return None, _unreadable(exc.message)


def _verify_shared(trees: dict, name: str, xml_bytes: bytes, *args, max_bytes, **kwargs) -> Report:
    """`verify_document` of an embedded document, reusing (and recording) its parsed tree in ``trees``."""
    given = trees.get(name)
    if given is not None and given[0] == xml_bytes:
        if max_bytes is not None and len(xml_bytes) > max_bytes:  # the limit applies as when parsing here
            return verify_document(xml_bytes, *args, max_bytes=max_bytes, **kwargs)
        return _verify_root(xml_bytes, given[1], *args, max_bytes=max_bytes, **kwargs)
    root, unreadable = _parse_or_report(xml_bytes, max_bytes)
    if unreadable is not None:
        return unreadable
    trees[name] = (xml_bytes, root)
    return _verify_root(xml_bytes, root, *args, max_bytes=max_bytes, **kwargs)


def verify_document(xml_bytes: bytes, technical_key: str | None = None, pin: str | None = None,
                    software_id: str | None = None, schema_dir: str | None = None, *,
                    max_bytes: int | None = MAX_XML_BYTES) -> Report:
    """Run every check on ``xml_bytes``. A document larger than ``max_bytes`` (default 20 MB), with
    a DOCTYPE/entity declarations or malformed gets a report whose first check failed (ZB01) and
    the others not run."""
    root, unreadable = _parse_or_report(xml_bytes, max_bytes)
    if unreadable is not None:
        return unreadable
    return _verify_root(xml_bytes, root, technical_key, pin, software_id, schema_dir, max_bytes=max_bytes)


def _verify_root(xml_bytes: bytes, root, technical_key: str | None = None, pin: str | None = None,
                 software_id: str | None = None, schema_dir: str | None = None, *,
                 max_bytes: int | None = MAX_XML_BYTES, trees: dict | None = None,
                 totals: list[tuple[str, str]] | None = None) -> Report:
    """`verify_document` of ``xml_bytes`` already parsed (within ``max_bytes``) as ``root``, which is left as it was
    (the enveloped-signature transform takes the signature out for its C14N and puts it back, `_detach`).
    Internal: ``trees`` is passed on to `verify_attached_document`; ``totals``: `totals_findings` of an invoice or
    note's ``root`` as the caller already has it (the local DIAN service, which runs `validate.prevalidate` too)."""
    qname = etree.QName(root)
    if ROOT.get(qname.localname) != qname.namespace:
        expected = f" (se esperaba {ROOT[qname.localname]})" if qname.localname in ROOT else ""
        return _not_dian({"root": qname.localname, "namespace": qname.namespace, "kind": None},
                         f"No es un documento electrónico de la DIAN: la raíz {qname.localname} "
                         f"{'no tiene espacio de nombres' if not qname.namespace else f'está en {qname.namespace}'}"
                         f"{expected}; se admiten Invoice, CreditNote, DebitNote, ApplicationResponse y "
                         "AttachedDocument de UBL 2.1.")
    if qname.localname == "ApplicationResponse":
        return verify_application_response(xml_bytes, root, pin=pin, schema_dir=schema_dir)
    if qname.localname == "AttachedDocument":
        return verify_attached_document(xml_bytes, root, technical_key=technical_key, pin=pin,
                                        software_id=software_id, schema_dir=schema_dir, max_bytes=max_bytes,
                                        _trees=trees)
    info = document_info(root)
    kind = info["kind"]
    if not xp(root, DIAN_EXTENSIONS) and not xp(root, "//ds:Signature"):
        return _not_dian(info, f"No es un documento electrónico de la DIAN: {qname.localname} sin extensiones DIAN "
                               "(ext:UBLExtensions/sts:DianExtensions) ni firma; no se calcula su CUFE/CUDE.")
    report = Report(info)
    _common_checks(report, xml_bytes, root, schema_dir)

    # cufe / cude
    cude = info["type"] in ("03", "91", "92")
    label = "CUDE" if cude else "CUFE"
    key = pin if cude else technical_key
    code = rule(kind, "FAD06")
    if not key:
        need = "el PIN del software" if cude else "la clave técnica del rango de numeración"
        report.checks.append(Check("cufe", None, "", f"No se verificó el {label}: se necesita {need}."))
    else:
        expected = cufe_mod.cufe(info["number"] or "", info["issue_date"] or "", info["issue_time"] or "",
                                 info["line_extension"], info["tax_iva"], info["tax_inc"], info["tax_ica"],
                                 info["payable"], info["supplier_nit"] or "", info["customer_id"] or "", key,
                                 info["environment"] or "")
        ok = (info["uuid"] or "").lower() == expected
        report.checks.append(Check("cufe", ok, "" if ok else code,
                                   f"{label} correcto." if ok else
                                   f"Valor del {label} no está calculado correctamente (esperado {expected})."))
    # software security code
    sid = software_id or info["software_id"]
    if not pin or not sid:
        report.checks.append(Check("software_security_code", None, "",
                                   "No se verificó la huella del software: se necesitan el PIN y el identificador."))
    else:
        expected = cufe_mod.software_security_code(sid, pin, info["number"] or "")
        ok = (info["software_security_code"] or "").lower() == expected
        if software_id and info["software_id"] and software_id != info["software_id"]:
            ok = False
        report.checks.append(Check("software_security_code", ok, "" if ok else "FAB27b",
                                   "Huella del software correcta." if ok else
                                   "SoftwareSecurityCode no corresponde a SHA-384(SoftwareID + PIN + número)."))
    # totals
    findings = totals if totals is not None else totals_findings(root, kind)
    report.checks.append(Check("totals", not findings, findings[0][0] if findings else "",
                               " ".join(m for _, m in findings) if findings else "Totales consistentes."))
    return report
