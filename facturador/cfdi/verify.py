"""Independent verification of a (stamped) CFDI 4.0.

Uses only lxml (XSD, and libxslt for the cadena original from SAT's XSLT files — the copies that
satcfdi ships are used as *files*) and ``cryptography`` (RSA PKCS#1 v1.5 / SHA-256). satcfdi's own
objects and verification code are not involved, so this checks what satcfdi produced.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from . import xml as cx
from .csd import certificate_number
from .errors import SchemaError

__all__ = ["VerificationResult", "verify_cfdi", "verify_emisor_seal", "verify_tfd_seal", "rsa_sha256_ok",
           "MAX_XML_BYTES"]

#: Largest CFDI accepted for verification (bytes); a CFDI with many concepts is a few MB at most.
MAX_XML_BYTES = 20 * 2**20


def rsa_sha256_ok(cert: x509.Certificate, data: bytes, b64sig: str) -> bool:
    try:
        sig = base64.b64decode(b64sig, validate=True)
        cert.public_key().verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def _cert_from_doc(doc) -> x509.Certificate | None:
    try:
        return x509.load_der_x509_certificate(base64.b64decode(doc.get("Certificado") or "", validate=True))
    except (ValueError, TypeError):
        return None


def verify_emisor_seal(doc) -> tuple[bool, str]:
    """(ok, reason). Checks NoCertificado vs the embedded certificate and Sello over the cadena original."""
    if isinstance(doc, (bytes, str)):
        doc = cx.parse(doc)
    cert = _cert_from_doc(doc)
    if cert is None:
        return False, "certificado_invalido"
    if certificate_number(cert) != doc.get("NoCertificado"):
        return False, "no_certificado"
    cadena = cx.cadena_original(doc).encode("utf-8")
    if not rsa_sha256_ok(cert, cadena, doc.get("Sello") or ""):
        return False, "sello"
    return True, ""


def verify_tfd_seal(doc, pac_cert: x509.Certificate) -> tuple[bool, str]:
    if isinstance(doc, (bytes, str)):
        doc = cx.parse(doc)
    tfd = doc.find("cfdi:Complemento/tfd:TimbreFiscalDigital", cx.NS)
    if tfd is None:
        return False, "sin_timbre"
    if tfd.get("SelloCFD") != doc.get("Sello"):
        return False, "sello_cfd"
    if certificate_number(pac_cert) != tfd.get("NoCertificadoSAT"):
        return False, "no_certificado_sat"
    if not rsa_sha256_ok(pac_cert, cx.cadena_original_tfd(tfd).encode("utf-8"), tfd.get("SelloSAT") or ""):
        return False, "sello_sat"
    return True, ""


NS_CFDI33 = "http://www.sat.gob.mx/cfd/3"


def _as_certificate(c) -> x509.Certificate | None:
    if isinstance(c, (bytes, bytearray)):
        c = bytes(c)
        return x509.load_der_x509_certificate(c) if c[:1] == b"\x30" else x509.load_pem_x509_certificate(c)
    return c


def _check_tfd(doc, cert: x509.Certificate, res: "VerificationResult") -> None:
    ok, why = verify_tfd_seal(doc, cert)
    res.sello_sat_ok = ok
    if not ok:
        res.errors.append(f"timbre: {why}")


@dataclass
class VerificationResult:
    xsd_ok: bool = False
    sello_ok: bool = False
    stamped: bool = False
    sello_sat_ok: bool | None = None     # None: stamped but no PAC certificate to check with (see stamp_note)
    uuid: str | None = None
    errors: list[str] = field(default_factory=list)
    stamp_required: bool = False
    version: str | None = None
    #: elements inside cfdi:Addenda: outside the seal and the stamp, not validated against SAT's schemas
    addenda: list[str] = field(default_factory=list)
    #: why the stamp (SelloSAT) was not checked, when it was not
    stamp_note: str = ""

    @property
    def ok(self) -> bool:
        if self.stamp_required and not self.stamped:
            return False
        return self.xsd_ok and self.sello_ok and (not self.stamped or self.sello_sat_ok is True)

    def to_json(self) -> dict:
        return {"ok": self.ok, "version": self.version, "uuid": self.uuid, "xsd_ok": self.xsd_ok,
                "sello_ok": self.sello_ok, "stamped": self.stamped, "sello_sat_ok": self.sello_sat_ok,
                "stamp_note": self.stamp_note, "addenda": self.addenda, "errors": self.errors}


def verify_cfdi(xml_bytes: bytes, pac_certificates=None, *, require_stamp: bool = False,
                max_bytes: int | None = MAX_XML_BYTES) -> VerificationResult:
    """Verify XSD (cfdv40 + TFD + Pagos 2.0), emisor seal and — when the certificate named by
    ``NoCertificadoSAT`` is in ``pac_certificates`` (dict number → DER bytes or x509 cert, or a list)
    — the TFD seal; ``pac_certificates`` may also be a callable number → certificate (x509 or DER/PEM bytes)
    or None (not available). Input larger than ``max_bytes`` (default 20 MB) or declaring a DOCTYPE/entities
    is refused before anything else (``errors`` says why; parsing never expands entities)."""
    res = VerificationResult(stamp_required=require_stamp)
    size = len(xml_bytes.encode("utf-8") if isinstance(xml_bytes, str) else xml_bytes)
    if max_bytes is not None and size > max_bytes:
        res.errors.append(f"xml_demasiado_grande: el CFDI ocupa {size:,} bytes; el máximo es {max_bytes:,}.")
        return res
    try:
        doc = cx.parse(xml_bytes)
    except SchemaError as exc:
        res.errors.append(str(exc))
        return res
    docinfo = doc.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        res.errors.append("xml_con_dtd: el CFDI declara un DOCTYPE o entidades; no se admiten.")
        return res
    res.version = doc.get("Version")
    qname = etree.QName(doc)
    if qname.namespace == NS_CFDI33 or (res.version or "").startswith("3."):
        res.errors.append(f"version_no_soportada: CFDI {res.version or '3.x'}: solo se verifica CFDI 4.0 (la "
                          "versión 3.3 dejó de admitirse para emitir el 1 de abril de 2023); no se revisaron el "
                          "sello ni los esquemas.")
        return res
    if qname.namespace != cx.NS_CFDI or qname.localname != "Comprobante":
        res.errors.append(f"no_es_cfdi: la raíz {qname.localname} ({qname.namespace or 'sin espacio de nombres'}) "
                          "no es un cfdi:Comprobante 4.0.")
        return res
    # the Addenda is outside the seal and the stamp (SAT's cadena original leaves it out) and free-form:
    # the rest is validated without it, and it is reported on its own
    addenda = doc.find("cfdi:Addenda", cx.NS)
    checked = doc
    if addenda is not None:
        res.addenda = [etree.QName(el).localname if isinstance(el.tag, str) else str(el.tag) for el in addenda]
        checked = etree.fromstring(etree.tostring(doc), cx._PARSER)
        checked.remove(checked.find("cfdi:Addenda", cx.NS))
    try:
        cx.validate_xsd(checked, full=True)     # SAT's XSD files untouched
        res.xsd_ok = True
    except SchemaError as exc:
        res.errors.extend(exc.errors)
    ok, why = verify_emisor_seal(doc)
    res.sello_ok = ok
    if not ok:
        res.errors.append(f"sello: {why}")
    tfd = doc.find("cfdi:Complemento/tfd:TimbreFiscalDigital", cx.NS)
    res.stamped = tfd is not None
    if tfd is None:
        if require_stamp:
            res.errors.append("sin timbre fiscal digital")
        return res
    res.uuid = tfd.get("UUID")
    number = tfd.get("NoCertificadoSAT")
    if callable(pac_certificates):  # a lookup by number (e.g. SAT's certificate repository, cached)
        cert = _as_certificate(pac_certificates(number or ""))
        if cert is not None:
            _check_tfd(doc, cert, res)
        else:
            res.stamp_note = (f"Certificado del SAT no disponible: el número {number or '(sin NoCertificadoSAT)'} no "
                              "se encontró, así que no se verificó el sello del SAT (SelloSAT) del timbre.")
            res.errors.append(f"timbre_no_verificado: {res.stamp_note}")
        return res
    certs = {}
    if isinstance(pac_certificates, dict):
        items = pac_certificates.values()
    else:
        items = pac_certificates or ()
    for c in items:
        c = _as_certificate(c)
        certs[certificate_number(c)] = c
    cert = certs.get(number)
    if cert is not None:
        _check_tfd(doc, cert, res)
    else:
        given = f" (se dieron: {', '.join(sorted(certs))})" if certs else ""
        res.stamp_note = (f"No se verificó el sello del SAT (SelloSAT) del timbre: falta el certificado del PAC "
                          f"número {number or '(sin NoCertificadoSAT)'}{given}; indíquelo con --pac-cert.")
        res.errors.append(f"timbre_no_verificado: {res.stamp_note}")
    return res
