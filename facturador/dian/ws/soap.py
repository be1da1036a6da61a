"""SOAP 1.2 envelopes for DIAN's ``WcfDianCustomerServices`` with WS-Addressing and WS-Security.

Shape (shared/reference/dian.md §4.1-4.2): ``soap:Header`` carries ``wsse:Security`` (``wsu:Timestamp`` with
Created/Expires, ``wsse:BinarySecurityToken`` with the DER certificate in base64, and a ``ds:Signature``),
``wsa:Action`` (the operation URI) and ``wsa:To`` (the endpoint, with a ``wsu:Id``). The signature uses exclusive
C14N (``InclusiveNamespaces PrefixList="wsa soap wcf"`` on SignedInfo, ``"soap wcf"`` on the reference),
RSA-SHA256 and one SHA-256 reference to ``#<wsa:To Id>``; ``KeyInfo`` points to the token through a
``wsse:SecurityTokenReference`` (a ``wsse:Reference`` to the token, or the ``#ThumbprintSHA1`` ``KeyIdentifier`` that
the WSDL policy's ``sp:RequireThumbprintReference`` names; ``verify_security`` accepts both).

Signing and verification are hand-built with lxml's exclusive C14N and ``cryptography`` (no xmlsec binding):
the structure is small and fixed, the same approach as ``facturador.dian.xades``, and the tests cross-check the
result with the independent ``xmlsec1`` tool.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from ..errors import DianError
from ..ns import DS

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WCF = "http://wcf.dian.colombia"
WSA = "http://www.w3.org/2005/08/addressing"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
EC = "http://www.w3.org/2001/10/xml-exc-c14n#"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ARRAYS = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"

EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64_BINARY = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
THUMBPRINT_SHA1 = "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1"
ACTION_BASE = "http://wcf.dian.colombia/IWcfDianCustomerServices/"
FAULT_ACTION = "http://www.w3.org/2005/08/addressing/soap/fault"
SIGNED_INFO_PREFIXES = ["wsa", "soap", "wcf"]
REFERENCE_PREFIXES = ["soap", "wcf"]

# Operation -> ordered parameter names (WSDL of WcfDianCustomerServices).
OPERATIONS: dict[str, tuple[str, ...]] = {
    "SendBillSync": ("fileName", "contentFile"),
    "SendBillAsync": ("fileName", "contentFile"),
    "SendTestSetAsync": ("fileName", "contentFile", "testSetId"),
    "GetStatus": ("trackId",),
    "GetStatusZip": ("trackId",),
    "GetNumberingRange": ("accountCode", "accountCodeT", "softwareCode"),
    "GetXmlByDocumentKey": ("trackId",),
    "SendEventUpdateStatus": ("contentFile",),
    "GetStatusEvent": ("trackId",),
    "GetReferenceNotes": ("trackId",),
    "GetDocumentInfo": ("uuid",),
    "GetAcquirer": ("identificationType", "identificationNumber"),
    "GetExchangeEmails": (),
    "SendBillAttachmentAsync": ("fileName", "contentFile"),
}

# The algorithm suite of DIAN's WS-Policy (``sp:Basic256Sha256Rsa15``): RSA-SHA256 signatures, SHA-256 digests.
# Anything else (RSA-SHA1, SHA-1, ...) does not satisfy the policy and WCF refuses it.
_SIG_HASHES = {RSA_SHA256: hashes.SHA256}
_DIGESTS = {SHA256: hashlib.sha256}
KEY_REFERENCES = ("direct", "thumbprint")

PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_blank_text=False)


class SoapError(DianError):
    """Malformed SOAP message."""


class SecurityError(DianError):
    """WS-Security check failed. ``code`` is the WS-Security fault subcode (``InvalidSecurity``,
    ``MessageExpired``, ``FailedAuthentication``, ``InvalidSecurityToken``, ``FailedCheck``)."""


def action_uri(operation: str) -> str:
    return ACTION_BASE + operation


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def utc_iso(t: dt.datetime) -> str:
    """``2026-11-22T08:00:00.123Z`` (UTC, milliseconds), the form WCF writes."""
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def parse_time(value: str) -> dt.datetime:
    v = (value or "").strip()
    if v.endswith("Z"):
        v = v[:-1] + "+00:00"
    t = dt.datetime.fromisoformat(v)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t


def exc_c14n(el, prefixes=None) -> bytes:
    return etree.tostring(el, method="c14n", exclusive=True, with_comments=False,
                          inclusive_ns_prefixes=list(prefixes) if prefixes else None)


def _sub(parent, tag, text=None, attrib=None, nsmap=None):
    el = etree.SubElement(parent, tag, attrib or {}, nsmap=nsmap) if nsmap else etree.SubElement(parent, tag,
                                                                                                  attrib or {})
    if text is not None:
        el.text = text
    return el


def certificate_thumbprint(certificate: x509.Certificate) -> str:
    """Base64 SHA-1 of the DER certificate: the value of a ``#ThumbprintSHA1`` ``KeyIdentifier``."""
    return _b64(hashlib.sha1(certificate.public_bytes(serialization.Encoding.DER)).digest())


# ------------------------------------------------------------------------------------------------ build + sign
def build_envelope(operation: str, params: dict, to: str, key: rsa.RSAPrivateKey, certificate: x509.Certificate,
                   now: dt.datetime | None = None, ttl: float = 60.0, key_reference: str = "direct") -> bytes:
    """Signed SOAP 1.2 request for ``operation`` with ``params`` (names as in ``OPERATIONS``).

    ``to`` is the endpoint URL written in ``wsa:To``; ``ttl`` the timestamp lifetime in seconds.
    ``key_reference``: how ``KeyInfo`` points to the certificate, ``direct`` (``wsse:Reference`` to the
    ``BinarySecurityToken``, what DIAN's documentation and most clients send) or ``thumbprint``
    (``wsse:KeyIdentifier`` ``#ThumbprintSHA1``, what the WSDL policy's ``sp:RequireThumbprintReference`` asks);
    the token is included in the message either way."""
    if key_reference not in KEY_REFERENCES:
        raise SoapError("ws_key_reference", "key_reference", f"Referencia de llave desconocida: {key_reference}.",
                        f"unknown key reference {key_reference!r}")
    if operation not in OPERATIONS:
        raise SoapError("ws_operation", "operation", f"Operación desconocida: {operation}.",
                        f"unknown operation {operation}")
    missing = [p for p in OPERATIONS[operation] if params.get(p) is None]
    if missing:
        raise SoapError("ws_params", missing[0], f"Falta el parámetro {missing[0]} de {operation}.",
                        f"missing parameter {missing[0]} for {operation}")
    now = now or dt.datetime.now(dt.timezone.utc)
    env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"soap": SOAP, "wcf": WCF})
    header = _sub(env, f"{{{SOAP}}}Header", nsmap={"wsa": WSA})
    sec = _sub(header, f"{{{WSSE}}}Security", attrib={f"{{{SOAP}}}mustUnderstand": "true"},
               nsmap={"wsse": WSSE, "wsu": WSU})
    suffix = uuid.uuid4().hex.upper()
    ts = _sub(sec, f"{{{WSU}}}Timestamp", attrib={f"{{{WSU}}}Id": f"TS-{suffix}"})
    _sub(ts, f"{{{WSU}}}Created", utc_iso(now))
    _sub(ts, f"{{{WSU}}}Expires", utc_iso(now + dt.timedelta(seconds=ttl)))
    bst_id = f"X509-{suffix}"
    _sub(sec, f"{{{WSSE}}}BinarySecurityToken",
         _b64(certificate.public_bytes(serialization.Encoding.DER)),
         {"EncodingType": BASE64_BINARY, "ValueType": X509V3, f"{{{WSU}}}Id": bst_id})
    _sub(header, f"{{{WSA}}}Action", action_uri(operation))
    to_id = f"id-{suffix}"
    _sub(header, f"{{{WSA}}}To", to, {f"{{{WSU}}}Id": to_id}, nsmap={"wsu": WSU})
    body = _sub(env, f"{{{SOAP}}}Body")
    op = _sub(body, f"{{{WCF}}}{operation}")
    for name in OPERATIONS[operation]:
        _sub(op, f"{{{WCF}}}{name}", str(params[name]))

    sig = _sub(sec, f"{{{DS}}}Signature", attrib={"Id": f"SIG-{suffix}"}, nsmap={"ds": DS})
    si = _sub(sig, f"{{{DS}}}SignedInfo")
    cm = _sub(si, f"{{{DS}}}CanonicalizationMethod", attrib={"Algorithm": EXC_C14N})
    _sub(cm, f"{{{EC}}}InclusiveNamespaces", attrib={"PrefixList": " ".join(SIGNED_INFO_PREFIXES)},
         nsmap={"ec": EC})
    _sub(si, f"{{{DS}}}SignatureMethod", attrib={"Algorithm": RSA_SHA256})
    ref = _sub(si, f"{{{DS}}}Reference", attrib={"URI": f"#{to_id}"})
    tr = _sub(_sub(ref, f"{{{DS}}}Transforms"), f"{{{DS}}}Transform", attrib={"Algorithm": EXC_C14N})
    _sub(tr, f"{{{EC}}}InclusiveNamespaces", attrib={"PrefixList": " ".join(REFERENCE_PREFIXES)},
         nsmap={"ec": EC})
    _sub(ref, f"{{{DS}}}DigestMethod", attrib={"Algorithm": SHA256})
    _sub(ref, f"{{{DS}}}DigestValue")
    _sub(sig, f"{{{DS}}}SignatureValue")
    ki = _sub(sig, f"{{{DS}}}KeyInfo", attrib={"Id": f"KI-{suffix}"})
    str_el = _sub(ki, f"{{{WSSE}}}SecurityTokenReference", attrib={f"{{{WSU}}}Id": f"STR-{suffix}"})
    if key_reference == "thumbprint":
        _sub(str_el, f"{{{WSSE}}}KeyIdentifier", certificate_thumbprint(certificate),
             {"ValueType": THUMBPRINT_SHA1, "EncodingType": BASE64_BINARY})
    else:
        _sub(str_el, f"{{{WSSE}}}Reference", attrib={"URI": f"#{bst_id}", "ValueType": X509V3})
    # Canonicalise the tree as the receiver will see it: lxml's exclusive C14N of a sub-element built in memory
    # does not render the InclusiveNamespaces prefixes declared on ancestors, a parsed tree does.
    env = etree.fromstring(etree.tostring(env), PARSER)
    to_el = env.find(f"{{{SOAP}}}Header/{{{WSA}}}To")
    sig = env.find(f"{{{SOAP}}}Header/{{{WSSE}}}Security/{{{DS}}}Signature")
    si = sig.find(f"{{{DS}}}SignedInfo")
    si.find(f"{{{DS}}}Reference/{{{DS}}}DigestValue").text = _b64(
        hashlib.sha256(exc_c14n(to_el, REFERENCE_PREFIXES)).digest())
    sig.find(f"{{{DS}}}SignatureValue").text = _b64(
        key.sign(exc_c14n(si, SIGNED_INFO_PREFIXES), padding.PKCS1v15(), hashes.SHA256()))
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


# ------------------------------------------------------------------------------------------------ read requests
@dataclass
class Request:
    """A parsed SOAP request."""
    operation: str
    action: str | None
    to: str | None
    params: dict
    root: etree._Element


def parse_request(data: bytes) -> Request:
    """Parse a request envelope (no security check). Raises ``SoapError``."""
    try:
        root = etree.fromstring(data, PARSER)
    except etree.XMLSyntaxError as exc:
        raise SoapError("ws_xml", "Envelope", "El mensaje SOAP no es XML bien formado.", f"bad XML: {exc}") from None
    if root.tag != f"{{{SOAP}}}Envelope":
        raise SoapError("ws_envelope", "Envelope", "El mensaje no es un sobre SOAP 1.2.", f"root is {root.tag}")
    body = root.find(f"{{{SOAP}}}Body")
    if body is None or len(body) == 0:
        raise SoapError("ws_body", "Body", "El sobre SOAP no tiene cuerpo.", "no Body")
    op_el = body[0]
    qn = etree.QName(op_el)
    if qn.namespace != WCF or qn.localname not in OPERATIONS:
        raise SoapError("ws_operation", "Body", f"Operación no soportada: {qn.localname}.",
                        f"unsupported operation {qn.text}")
    params = {}
    for child in op_el:
        if isinstance(child.tag, str):
            params[etree.QName(child).localname] = (child.text or "").strip()
    action = root.findtext(f"{{{SOAP}}}Header/{{{WSA}}}Action")
    to = root.findtext(f"{{{SOAP}}}Header/{{{WSA}}}To")
    return Request(qn.localname, action.strip() if action else None, to.strip() if to else None, params, root)


def _by_id(root, ident: str):
    found = root.xpath("//*[@wsu:Id=$i or @Id=$i]", namespaces={"wsu": WSU}, i=ident)
    if len(found) != 1:
        return None
    return found[0]


def _prefix_list(parent) -> list[str] | None:
    inc = parent.find(f"{{{EC}}}InclusiveNamespaces")
    if inc is None:
        return None
    return [p if p != "#default" else "" for p in (inc.get("PrefixList") or "").split()] or None


@dataclass
class SecurityInfo:
    certificate: x509.Certificate
    created: dt.datetime
    expires: dt.datetime


def _token_certificate(bst):
    try:
        return x509.load_der_x509_certificate(base64.b64decode("".join((bst.text or "").split()), validate=True))
    except ValueError:
        return None


def _key_token(root, sec, sig):
    """The ``BinarySecurityToken`` that ``KeyInfo/SecurityTokenReference`` designates: a ``wsse:Reference`` to its
    Id, or a ``wsse:KeyIdentifier`` with the SHA-1 thumbprint of its certificate (the WSDL policy's
    ``sp:RequireThumbprintReference``; the token itself is included, ``IncludeToken/AlwaysToRecipient``)."""
    ns = {"ds": DS, "wsse": WSSE}
    str_el = sig.find(f"{{{DS}}}KeyInfo/{{{WSSE}}}SecurityTokenReference")
    bst = None
    if str_el is not None:
        ref_uri = str_el.xpath("wsse:Reference/@URI", namespaces=ns)
        kid = str_el.find(f"{{{WSSE}}}KeyIdentifier")
        if ref_uri and ref_uri[0].startswith("#"):
            bst = _by_id(root, ref_uri[0][1:])
        elif kid is not None and kid.get("ValueType") == THUMBPRINT_SHA1:
            if kid.get("EncodingType", BASE64_BINARY) != BASE64_BINARY:
                raise SecurityError("InvalidSecurityToken", "KeyIdentifier", "La huella del certificado debe "
                                    "venir en base64.", "KeyIdentifier is not Base64Binary")
            try:
                wanted = base64.b64decode("".join((kid.text or "").split()), validate=True)
            except ValueError:
                wanted = b""
            for cand in sec.findall(f"{{{WSSE}}}BinarySecurityToken"):
                cert = _token_certificate(cand)
                if cert is not None and hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).digest() == wanted:
                    bst = cand
                    break
            if bst is None:
                raise SecurityError("InvalidSecurityToken", "KeyIdentifier", "La huella (ThumbprintSHA1) de la "
                                    "firma no corresponde a ningún certificado del mensaje.",
                                    "no BinarySecurityToken matches the thumbprint")
        elif kid is not None:
            raise SecurityError("InvalidSecurityToken", "KeyIdentifier", "Tipo de identificador de llave no "
                                f"soportado: {kid.get('ValueType')}.", "unsupported KeyIdentifier ValueType")
    if bst is None or bst.tag != f"{{{WSSE}}}BinarySecurityToken":
        raise SecurityError("InvalidSecurityToken", "Signature/KeyInfo", "La firma no referencia un "
                            "BinarySecurityToken del mensaje.", "KeyInfo does not reference a BST")
    return bst


def verify_security(root, now: dt.datetime | None = None, clock_skew: float = 300.0,
                    check_certificate_dates: bool = True) -> SecurityInfo:
    """Check the WS-Security header of a request: timestamp inside its window (with ``clock_skew`` seconds of
    tolerance, WCF's default is 5 minutes), a signature whose references include ``wsa:To``, valid digests and a
    valid RSA signature by the key of the ``BinarySecurityToken`` certificate (referenced directly or by its SHA-1
    thumbprint), with the policy's algorithm suite Basic256Sha256Rsa15 (RSA-SHA256, SHA-256 digests).
    Raises ``SecurityError``."""
    now = now or dt.datetime.now(dt.timezone.utc)
    skew = dt.timedelta(seconds=clock_skew)
    header = root.find(f"{{{SOAP}}}Header")
    sec = header.find(f"{{{WSSE}}}Security") if header is not None else None
    if sec is None:
        raise SecurityError("InvalidSecurity", "Header/Security", "El mensaje no tiene encabezado WS-Security.",
                            "no wsse:Security header")
    ts = sec.find(f"{{{WSU}}}Timestamp")
    if ts is None:
        raise SecurityError("InvalidSecurity", "Security/Timestamp", "El encabezado de seguridad no tiene "
                            "Timestamp.", "no wsu:Timestamp")
    try:
        created = parse_time(ts.findtext(f"{{{WSU}}}Created"))
        expires = parse_time(ts.findtext(f"{{{WSU}}}Expires"))
    except (TypeError, ValueError):
        raise SecurityError("InvalidSecurity", "Security/Timestamp", "Fechas del Timestamp inválidas.",
                            "bad timestamp values") from None
    if expires + skew < now:
        raise SecurityError("MessageExpired", "Security/Timestamp/Expires",
                            f"El mensaje expiró el {utc_iso(expires)} (hora del servidor {utc_iso(now)}).",
                            "message expired")
    if created - skew > now or expires < created:
        raise SecurityError("InvalidSecurity", "Security/Timestamp/Created",
                            "La hora de creación del mensaje está en el futuro o después de su expiración.",
                            "timestamp created in the future")
    sig = sec.find(f"{{{DS}}}Signature")
    if sig is None:
        raise SecurityError("InvalidSecurity", "Security/Signature", "El mensaje no está firmado.", "no signature")
    si = sig.find(f"{{{DS}}}SignedInfo")
    sv = sig.findtext(f"{{{DS}}}SignatureValue")
    if si is None or not sv:
        raise SecurityError("InvalidSecurity", "Signature", "Firma incompleta.", "incomplete signature")
    bst = _key_token(root, sec, sig)
    if bst.get("ValueType") != X509V3:
        raise SecurityError("InvalidSecurityToken", "BinarySecurityToken", "El token debe ser un certificado "
                            "X.509 v3.", "BST is not X509v3")
    cert = _token_certificate(bst)
    if cert is None:
        raise SecurityError("InvalidSecurityToken", "BinarySecurityToken", "El certificado del token no se "
                            "puede leer.", "unreadable BST certificate")
    if check_certificate_dates and not (cert.not_valid_before_utc - skew <= now <= cert.not_valid_after_utc + skew):
        raise SecurityError("FailedAuthentication", "BinarySecurityToken",
                            f"El certificado no está vigente (vigencia {cert.not_valid_before_utc:%Y-%m-%d} a "
                            f"{cert.not_valid_after_utc:%Y-%m-%d}).", "certificate outside its validity period")
    # SignedInfo algorithms
    cm = si.find(f"{{{DS}}}CanonicalizationMethod")
    if cm is None or cm.get("Algorithm") != EXC_C14N:
        raise SecurityError("InvalidSecurity", "SignedInfo/CanonicalizationMethod",
                            "La canonicalización de SignedInfo debe ser exc-c14n.", "unsupported c14n")
    sm = si.find(f"{{{DS}}}SignatureMethod")
    hash_cls = _SIG_HASHES.get(sm.get("Algorithm") if sm is not None else None)
    if hash_cls is None:
        raise SecurityError("InvalidSecurity", "SignedInfo/SignatureMethod",
                            "Algoritmo de firma no admitido: la política del servicio (Basic256Sha256Rsa15) exige "
                            "RSA-SHA256.", f"signature method {sm.get('Algorithm') if sm is not None else None} "
                            "is not the policy's RSA-SHA256")
    to_el = header.find(f"{{{WSA}}}To")
    signed_to = False
    refs = si.findall(f"{{{DS}}}Reference")
    if not refs:
        raise SecurityError("InvalidSecurity", "SignedInfo/Reference", "La firma no tiene referencias.",
                            "no references")
    for ref in refs:
        uri = ref.get("URI") or ""
        target = _by_id(root, uri[1:]) if uri.startswith("#") else None
        if target is None:
            raise SecurityError("InvalidSecurity", "SignedInfo/Reference", f"Referencia no encontrada: {uri}.",
                                f"reference target not found: {uri}")
        prefixes = None
        for tr in ref.findall(f"{{{DS}}}Transforms/{{{DS}}}Transform"):
            if tr.get("Algorithm") != EXC_C14N:
                raise SecurityError("InvalidSecurity", "Reference/Transform", "Transformación no soportada.",
                                    f"unsupported transform {tr.get('Algorithm')}")
            prefixes = _prefix_list(tr)
        dm = ref.find(f"{{{DS}}}DigestMethod")
        fn = _DIGESTS.get(dm.get("Algorithm") if dm is not None else None)
        if fn is None:
            raise SecurityError("InvalidSecurity", "Reference/DigestMethod",
                                "Algoritmo de resumen no admitido: la política del servicio (Basic256Sha256Rsa15) "
                                "exige SHA-256.", f"digest {dm.get('Algorithm') if dm is not None else None} is not "
                                "the policy's SHA-256")
        expected = (ref.findtext(f"{{{DS}}}DigestValue") or "").strip()
        actual = _b64(fn(exc_c14n(target, prefixes)).digest())
        if actual != expected:
            raise SecurityError("FailedCheck", f"Reference[{uri}]", "El resumen de un elemento firmado no "
                                "coincide: el mensaje fue alterado.", f"digest mismatch for {uri}")
        if target is to_el:
            signed_to = True
    if not signed_to:
        raise SecurityError("InvalidSecurity", "Header/To", "La firma debe cubrir el encabezado wsa:To.",
                            "wsa:To is not signed")
    pub = cert.public_key()
    if not isinstance(pub, rsa.RSAPublicKey):
        raise SecurityError("InvalidSecurityToken", "BinarySecurityToken", "La llave del certificado debe ser RSA.",
                            "non-RSA key")
    try:
        pub.verify(base64.b64decode("".join(sv.split())), exc_c14n(si, _prefix_list(cm)), padding.PKCS1v15(),
                   hash_cls())
    except (InvalidSignature, ValueError):
        raise SecurityError("FailedCheck", "Signature/SignatureValue", "El valor de la firma del mensaje no es "
                            "válido para el certificado enviado.", "signature value does not verify") from None
    return SecurityInfo(cert, created, expires)


# ------------------------------------------------------------------------------------------------ faults
@dataclass
class Fault:
    code: str          # local name of the SOAP fault code: Sender, Receiver (or SOAP 1.1 style Client, Server)
    subcode: str       # local name of the first subcode, '' if none
    reason: str

    @property
    def is_sender(self) -> bool:
        return self.code in ("Sender", "Client", "VersionMismatch", "MustUnderstand", "DataEncodingUnknown")


def build_fault(code: str, subcode: str | None, reason: str, subcode_ns: str = WSSE, lang: str = "es-CO") -> bytes:
    """SOAP 1.2 fault envelope (as WCF answers with HTTP 500)."""
    env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"s": SOAP, "a": WSA})
    _sub(_sub(env, f"{{{SOAP}}}Header"), f"{{{WSA}}}Action", FAULT_ACTION, {f"{{{SOAP}}}mustUnderstand": "1"})
    fault = _sub(_sub(env, f"{{{SOAP}}}Body"), f"{{{SOAP}}}Fault")
    c = _sub(fault, f"{{{SOAP}}}Code")
    _sub(c, f"{{{SOAP}}}Value", f"s:{code}")
    if subcode:
        sc = _sub(c, f"{{{SOAP}}}Subcode")
        _sub(sc, f"{{{SOAP}}}Value", f"f:{subcode}", nsmap={"f": subcode_ns})
    _sub(_sub(fault, f"{{{SOAP}}}Reason"), f"{{{SOAP}}}Text", reason,
         {"{http://www.w3.org/XML/1998/namespace}lang": lang})
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def find_fault(root) -> Fault | None:
    """The SOAP fault of a response envelope, if any (SOAP 1.2; tolerant of SOAP 1.1-style code values)."""
    fault = root.find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
    if fault is None:
        return None
    code = (fault.findtext(f"{{{SOAP}}}Code/{{{SOAP}}}Value") or "").strip().rsplit(":", 1)[-1]
    sub = (fault.findtext(f"{{{SOAP}}}Code/{{{SOAP}}}Subcode/{{{SOAP}}}Value") or "").strip().rsplit(":", 1)[-1]
    reason = " ".join(t.strip() for t in fault.xpath("s:Reason/s:Text/text()", namespaces={"s": SOAP}))
    return Fault(code, sub, reason)
