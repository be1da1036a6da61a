"""XAdES-EPES enveloped signature for DIAN documents, hand-built (canonical text, lxml, ``cryptography``).

Per DIAN's signature policy v2: inclusive C14N 1.0, RSA-SHA256 (or SHA-512), three references (the document
with the enveloped-signature transform, ``KeyInfo`` and ``SignedProperties``), XAdES 1.3.2 ``SigningCertificate``
(v1: certificate digest + issuer/serial), the DIAN policy identifier and hash, and ``ClaimedRole``. The
signature goes into the second ``ext:UBLExtension/ext:ExtensionContent``. The returned bytes are the final
document: nothing re-serialises it afterwards.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from lxml import etree

from .errors import SigningError
from .ns import DS, EXT, XADES
from .ubl import _ESC_ATTR, _ESC_TEXT

C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
SIGNED_PROPS_TYPE = "http://uri.etsi.org/01903#SignedProperties"
POLICY_URL = "https://facturaelectronica.dian.gov.co/politicadefirma/v2/politicadefirmav2.pdf"
POLICY_DESCRIPTION = "Política de firma para facturas electrónicas de la República de Colombia."
POLICY_HASH = {  # digest of politicadefirmav2.pdf (shared/reference/dian.md §3.1)
    "sha256": "dMoMvtcG5aIzgYo0tIsSQeVJBDnUnfSOfBpxXrmor0Y=",
    "sha512": "Zcjw1Z9nGQn2j6NyGx8kAaLbOfJGd/fJxRTCeirlqAg7zRG27piJkJOpflGu7XACpMj9hC6dVMcCyzqHxxPZeQ==",
}
DIGEST_URI = {"sha256": "http://www.w3.org/2001/04/xmlenc#sha256", "sha512": "http://www.w3.org/2001/04/xmlenc#sha512"}
SIGNATURE_URI = {"sha256": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                 "sha512": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"}
ROLES = ("supplier", "third party")
COT = dt.timezone(dt.timedelta(hours=-5))

_HASH = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}
_CRYPTO_HASH = {"sha256": hashes.SHA256, "sha512": hashes.SHA512}
# the signature's own text (see ``sign``): nothing to resolve, no blank text to keep or drop
_FRAGMENT_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass
class Signer:
    """A loaded signing certificate: RSA key, leaf certificate and (optional) chain."""
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    chain: list[x509.Certificate] = field(default_factory=list)

    def __post_init__(self):
        self._der = self.certificate.public_bytes(serialization.Encoding.DER)
        self._certs_b64 = [_b64(self._der)] + [
            _b64(c.public_bytes(serialization.Encoding.DER)) for c in self.chain]
        self._cert_digest = {alg: _b64(f(self._der).digest()) for alg, f in _HASH.items()}
        self.issuer_name = self.certificate.issuer.rfc4514_string()
        self.serial_number = self.certificate.serial_number
        self._parts_of: dict[str, _Parts] = {}

    def _parts(self, digest: str) -> _Parts:
        """The constant parts of this signer's signatures with ``digest``, written once."""
        parts = self._parts_of.get(digest)
        if parts is None:
            parts = self._parts_of[digest] = _Parts.of(self, digest)
        return parts

    @property
    def not_valid_before(self) -> dt.datetime:
        return self.certificate.not_valid_before_utc

    @property
    def not_valid_after(self) -> dt.datetime:
        return self.certificate.not_valid_after_utc

    @property
    def subject_nit(self) -> str | None:
        """NIT carried by the subject (serialNumber attribute), if any."""
        attrs = self.certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
        if not attrs:
            return None
        digits = "".join(ch for ch in str(attrs[0].value).split("-")[0] if ch.isdigit())
        return digits or None


@dataclass(frozen=True)
class _Parts:
    """Canonical text (see ``sign``) of what every signature of one signer and digest algorithm shares."""
    methods: str          # SignedInfo's CanonicalizationMethod and SignatureMethod
    transforms: str       # the document reference's enveloped-signature transform
    digest_method: str
    key_info: str         # KeyInfo's content after its Id attribute, end tag included
    certificate: str      # SigningCertificate and SignaturePolicyIdentifier
    role: dict[str, str]  # SignerRole for each role, with the end tags of SignedSignatureProperties/SignedProperties

    @classmethod
    def of(cls, signer: Signer, digest: str) -> _Parts:
        d_uri = DIGEST_URI[digest]
        digest_method = f'<ds:DigestMethod Algorithm="{d_uri}"></ds:DigestMethod>'
        return cls(
            methods=(f'<ds:CanonicalizationMethod Algorithm="{C14N}"></ds:CanonicalizationMethod>'
                     f'<ds:SignatureMethod Algorithm="{SIGNATURE_URI[digest]}"></ds:SignatureMethod>'),
            transforms=f'<ds:Transforms><ds:Transform Algorithm="{ENVELOPED}"></ds:Transform></ds:Transforms>',
            digest_method=digest_method,
            key_info="<ds:X509Data>" + "".join(f"<ds:X509Certificate>{b64}</ds:X509Certificate>"
                                               for b64 in signer._certs_b64) + "</ds:X509Data></ds:KeyInfo>",
            certificate=(
                f"<xades:SigningCertificate><xades:Cert><xades:CertDigest>{digest_method}<ds:DigestValue>"
                f"{signer._cert_digest[digest]}</ds:DigestValue></xades:CertDigest><xades:IssuerSerial>"
                f"<ds:X509IssuerName>{signer.issuer_name.translate(_ESC_TEXT)}</ds:X509IssuerName>"
                f"<ds:X509SerialNumber>{signer.serial_number}</ds:X509SerialNumber></xades:IssuerSerial>"
                "</xades:Cert></xades:SigningCertificate><xades:SignaturePolicyIdentifier><xades:SignaturePolicyId>"
                f"<xades:SigPolicyId><xades:Identifier>{POLICY_URL}</xades:Identifier><xades:Description>"
                f"{POLICY_DESCRIPTION}</xades:Description></xades:SigPolicyId><xades:SigPolicyHash>{digest_method}"
                f"<ds:DigestValue>{POLICY_HASH[digest]}</ds:DigestValue></xades:SigPolicyHash>"
                "</xades:SignaturePolicyId></xades:SignaturePolicyIdentifier>"),
            role={role: (f"<xades:SignerRole><xades:ClaimedRoles><xades:ClaimedRole>{role}</xades:ClaimedRole>"
                         "</xades:ClaimedRoles></xades:SignerRole></xades:SignedSignatureProperties>"
                         "</xades:SignedProperties>") for role in ROLES})


def load_pkcs12(data: bytes, password: str) -> Signer:
    """Load a PKCS#12 (.p12/.pfx). Raises ``SigningError`` with a Spanish message on a wrong password,
    damaged file, missing key or non-RSA key."""
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password.encode("utf-8") if password else None)
    except ValueError as exc:
        raise SigningError("cert_password", "certificate",
                           "No se pudo abrir el certificado: la contraseña es incorrecta o el archivo PKCS#12 "
                           "está dañado.", f"cannot open PKCS#12: {exc}") from None
    if key is None or cert is None:
        raise SigningError("cert_incomplete", "certificate",
                           "El archivo PKCS#12 no contiene la llave privada y el certificado.",
                           "PKCS#12 lacks private key or certificate")
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SigningError("cert_key_type", "certificate", "La llave del certificado debe ser RSA.",
                           "certificate key must be RSA")
    return Signer(key, cert, [c for c in (extra or []) if c != cert])


def _c14n(el) -> bytes:
    return etree.tostring(el, method="c14n", exclusive=False, with_comments=False)


def _sub(parent, tag, text=None, attrib=None):
    el = etree.SubElement(parent, tag, attrib) if attrib else etree.SubElement(parent, tag)
    if text is not None:
        el.text = text
    return el


def _signature_slot(root):
    exts = root.find(f"{{{EXT}}}UBLExtensions")
    if exts is None:
        raise SigningError("sign_no_extensions", "ext:UBLExtensions",
                           "El documento no tiene ext:UBLExtensions para alojar la firma.",
                           "document has no ext:UBLExtensions")
    items = exts.findall(f"{{{EXT}}}UBLExtension")
    if len(items) < 2:
        slot = _sub(_sub(exts, f"{{{EXT}}}UBLExtension"), f"{{{EXT}}}ExtensionContent")
    else:
        slot = items[1].find(f"{{{EXT}}}ExtensionContent")
        if slot is None:
            slot = _sub(items[1], f"{{{EXT}}}ExtensionContent")
    if len(slot) or (slot.text or "").strip():
        raise SigningError("sign_already_signed", "ext:UBLExtension[2]",
                           "El documento ya está firmado (la segunda extensión no está vacía).",
                           "second UBLExtension is not empty")
    return slot


def sign_document(doc, signer: Signer, role: str = "supplier", digest: str = "sha256",
                  signing_time: dt.datetime | None = None) -> bytes:
    """Build (``ubl.build_markup``) and sign a ``model.Document`` in one go; return the signed bytes.

    Faster than ``sign(ubl.build_xml(doc), ...)``: the builder's text is already canonical, so the document
    digest is taken from it directly instead of running C14N over the tree."""
    from . import ubl
    markup = ubl.build_markup(doc)
    return sign(ubl.parse_markup(markup), signer, role, digest, signing_time,
                canonical=markup.encode("utf-8"))


def sign(xml, signer: Signer, role: str = "supplier", digest: str = "sha256",
         signing_time: dt.datetime | None = None, canonical: bytes | None = None) -> bytes:
    """Sign a DIAN document (lxml root element, modified in place, or XML bytes); return the signed bytes.

    ``canonical``: the document's inclusive C14N as the caller already has it (``ubl.build_markup``'s text,
    UTF-8), used for the document digest instead of canonicalising the tree again."""
    if role not in ROLES:
        raise SigningError("sign_role", "role", "El rol del firmante debe ser 'supplier' o 'third party'.",
                           f"invalid role {role!r}")
    if digest not in _HASH:
        raise SigningError("sign_digest", "digest", "El algoritmo de resumen debe ser sha256 o sha512.",
                           f"invalid digest {digest!r}")
    when = signing_time or dt.datetime.now(COT)
    if when.tzinfo is None:
        when = when.replace(tzinfo=COT)
    if when > signer.not_valid_after:
        raise SigningError("cert_expired", "certificate",
                           f"El certificado de firma venció el {signer.not_valid_after:%Y-%m-%d}; "
                           "renuévelo antes de firmar documentos.",
                           f"certificate expired on {signer.not_valid_after.isoformat()}")
    if when < signer.not_valid_before:
        raise SigningError("cert_not_yet_valid", "certificate",
                           f"El certificado de firma solo es válido desde el {signer.not_valid_before:%Y-%m-%d}.",
                           "certificate not yet valid")
    if isinstance(xml, (bytes, bytearray)):
        root = etree.fromstring(bytes(xml), etree.XMLParser(resolve_entities=False, no_network=True,
                                                            huge_tree=True))
    else:
        root = xml
    hash_fn = _HASH[digest]
    slot = _signature_slot(root)
    # enveloped: the signature is not there yet, so the digest is over the document as it is now
    doc_digest = _b64(hash_fn(canonical if canonical is not None else _c14n(root)).digest())

    # The signature is written as text, its three signed parts directly in canonical form (inclusive C14N 1.0:
    # every namespace in scope declared on the part's element, sorted; attributes sorted; start/end tag pairs),
    # so they are digested and signed without building them as elements and canonicalising them; the constant
    # parts (certificates, policy) come from the signer. The whole signature is then parsed once into the slot.
    sid = f"xmldsig-{uuid.uuid4()}"
    scope = slot.nsmap
    own = {p: uri for p, uri in (("ds", DS), ("xades", XADES)) if scope.get(p) != uri}
    scope.update(own)
    ns = "".join(f' xmlns{":" + p if p else ""}="{uri.translate(_ESC_ATTR)}"'
                 for p, uri in sorted(scope.items(), key=lambda item: item[0] or ""))
    parts = signer._parts(digest)
    key_info = f' Id="{sid}-keyinfo">' + parts.key_info
    props = (f' Id="{sid}-signedprops"><xades:SignedSignatureProperties><xades:SigningTime>'
             f'{when.astimezone(COT).isoformat(timespec="milliseconds")}</xades:SigningTime>'
             + parts.certificate + parts.role[role])
    signed_info = (f">{parts.methods}<ds:Reference Id=\"{sid}-ref0\" URI=\"\">{parts.transforms}{parts.digest_method}"
                   f"<ds:DigestValue>{doc_digest}</ds:DigestValue></ds:Reference>"
                   f'<ds:Reference URI="#{sid}-keyinfo">{parts.digest_method}<ds:DigestValue>'
                   f"{_b64(hash_fn(f'<ds:KeyInfo{ns}{key_info}'.encode()).digest())}</ds:DigestValue></ds:Reference>"
                   f'<ds:Reference Type="{SIGNED_PROPS_TYPE}" URI="#{sid}-signedprops">{parts.digest_method}'
                   f"<ds:DigestValue>{_b64(hash_fn(f'<xades:SignedProperties{ns}{props}'.encode()).digest())}"
                   "</ds:DigestValue></ds:Reference></ds:SignedInfo>")
    value = _b64(signer.key.sign(f"<ds:SignedInfo{ns}{signed_info}".encode(), padding.PKCS1v15(),
                                 _CRYPTO_HASH[digest]()))
    own_ns = "".join(f' xmlns:{p}="{uri}"' for p, uri in own.items())
    # parsed inside an element declaring the namespaces in scope, so that the signature, once moved into the
    # slot, uses the document's own declarations (and declares ds/xades itself only where the document does not)
    fragment = etree.fromstring(
        f'<w{ns}><ds:Signature{own_ns} Id="{sid}"><ds:SignedInfo{signed_info}'
        f'<ds:SignatureValue Id="{sid}-sigvalue">{value}</ds:SignatureValue><ds:KeyInfo{key_info}'
        f'<ds:Object><xades:QualifyingProperties Target="#{sid}"><xades:SignedProperties{props}'
        "</xades:QualifyingProperties></ds:Object></ds:Signature></w>", _FRAGMENT_PARSER)
    slot.append(fragment[0])
    return b'<?xml version="1.0" encoding="UTF-8"?>' + etree.tostring(root, encoding="UTF-8",
                                                                       xml_declaration=False)
