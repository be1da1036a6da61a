"""A local test PAC: a real HTTP server speaking Finkok's SOAP and SW Sapien's REST protocols.

    sb = PacSandbox().start()          # 127.0.0.1, free port
    pac = FinkokPac("demo", "demo", sb.url)      or   SwSapienPac(sb.url, user="demo", password="demo")
    res = pac.stamp(sealed_xml)
    sb.stop()

What it checks before stamping (like a PAC): well-formed XML and SAT XSD (``301``), the emisor
certificate number and seal over the cadena original built by libxslt from SAT's XSLT and verified
with ``cryptography`` (Finkok ``302``/``303``, SW ``CFDI40102``/``CFDI40103``), emisor RFC = certificate
RFC (``303``/``CFDI40140``), certificate validity at Fecha (``305``/``CFDI40104``), Fecha no more than
72 h old (``401``), generic-RFC receptor rules (``CFDI40149``/``CFDI40159``/``CFDI40146``) and UsoCFDI vs
régimen (``CFDI40161``). A document stamped before is answered with its existing stamp (incidence
``307``, same UUID). The TimbreFiscalDigital 1.1 is sealed with an RSA test certificate generated at
start (``sandbox.certificate``; also served at ``GET /certificates/<NoCertificadoSAT>.cer`` and, as SAT's certificate
repository publishes it, at ``GET /rccf/<6>/<6>/<2>/<2>/<2>/<NoCertificadoSAT>.cer``: point
``FACTURADOR_SAT_CERTIFICATES_URL`` at ``<url>/rccf/``).

Cancellation: motives 01–04 (01 requires the substituting UUID), 201 accepted, 202 already
cancelled, 203 not the emisor's, 205 unknown UUID. Status: Finkok ``get_sat_status`` and an imitation of SAT's
own status service ``ConsultaCFDIService.svc`` (``cfdi.sat_status``: ``Consulta`` with the expresión impresa;
found only when emisor, receptor and total match the stamped CFDI; ``N - 601`` for an incomplete expression;
``EsCancelable`` by the $1,000 / generic-RFC rule; test hooks :meth:`mark_cancelled`, :meth:`set_sat_status`).

Test hooks: ``delay`` (seconds before answering), :meth:`fail_next` (a given error code, or a bare
HTTP status such as 503, for the next N requests). Everything is in memory.

Endpoints: ``POST /servicios/soap/stamp[.wsdl]`` (``stamp``, ``quick_stamp``, ``stamped`` — the previous stamp, or
alert ``603`` "El CFDI no contiene un timbre previo"), ``POST /servicios/soap/cancel[.wsdl]`` (``cancel``,
``get_sat_status``); the other operations of Finkok's WSDLs answer a SOAP fault. Answers follow the element order
of Finkok's WSDLs (shared/pac/finkok/). SW: ``POST /security/authenticate`` (headers ``user``/``password``) and
``POST /v2/security/authenticate`` (JSON body), bearer scheme in any case,
``POST /cfdi33/stamp/v4`` (also ``/v4/cfdi33/stamp/v4``), ``POST /cfdi33/cancel/{rfc}/{uuid}/{motivo}[/{folio}]``,
``POST /ConsultaCFDIService.svc``, ``GET /certificates/{n}.cer``, ``GET /rccf/…/{n}.cer``, ``GET /health``.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import logging
import re
import secrets
import threading
import time
import uuid as uuidlib
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape as xml_escape

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from . import xml as cx
from .catalogs import usos_cfdi_for_regimen
from .csd import certificate_number
from .errors import SchemaError
from .satcerts import rccf_path
from .verify import rsa_sha256_ok

log = logging.getLogger(__name__)
MAX_REQUEST_BYTES = 16 * 1024 * 1024  # a CFDI is kilobytes; refuse anything huge before reading it

__all__ = ["PacSandbox", "main", "SANDBOX_RFC_PAC"]

SANDBOX_RFC_PAC = "SPR190613I52"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
APPS = "apps.services.soap.core.views"
STAMP_NS = "http://facturacion.finkok.com/stamp"
CANCEL_NS = "http://facturacion.finkok.com/cancel"
GENERIC = ("XAXX010101000", "XEXX010101000")
# Operations of Finkok's WSDLs (shared/pac/finkok/stamp.wsdl, cancel40.wsdl) and the ones this sandbox implements;
# the others answer a SOAP fault ``senv:Server.NotImplemented`` (a name outside the WSDL: ``senv:Client.ResourceNotFound``,
# as spyne, Finkok's SOAP framework, answers).
FINKOK_STAMP_OPS = ("stamp", "sign_stamp", "stamped", "quick_stamp", "query_pending")
FINKOK_CANCEL_OPS = ("dmethod", "cancel_signature", "get_out_sat_status", "get_out_pending", "get_pending",
                     "get_sat_status", "get_related_signature", "get_related", "query_pending_cancellation",
                     "accept_reject_signature", "sign_cancel", "get_receipt", "cancel", "get_out_related", "out_cancel",
                     "out_accept_reject", "accept_reject")
FINKOK_IMPLEMENTED = {"stamp": ("stamp", "quick_stamp", "stamped"), "cancel": ("cancel", "get_sat_status")}


def _mexico_now() -> dt.datetime:
    try:
        from zoneinfo import ZoneInfo
        return dt.datetime.now(ZoneInfo("America/Mexico_City")).replace(tzinfo=None, microsecond=0)
    except Exception:  # no tz database: central Mexico has been UTC-6 all year since 2022
        return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=6)).replace(tzinfo=None, microsecond=0)


def _local_now(cp: str | None) -> dt.datetime:
    try:
        from satcfdi.transform import get_timezone
        return dt.datetime.now(get_timezone(cp)).replace(tzinfo=None, microsecond=0)
    except Exception:
        return _mexico_now()


class Reject(Exception):
    def __init__(self, finkok: str, sw: str, message: str, http_status: int = 400):
        super().__init__(message)
        self.finkok, self.sw, self.message, self.http_status = finkok, sw, message, http_status


@dataclass
class _Record:
    uuid: str
    xml: bytes
    rfc_emisor: str
    rfc_receptor: str
    total: str
    fecha_timbrado: str
    estado: str = "Vigente"
    motivo: str | None = None
    folio_sustitucion: str | None = None
    estatus_cancelacion: str = ""
    validacion_efos: str = "200"

    @property
    def es_cancelable(self) -> str:
        """SAT's answer: up to $1,000 or to a generic RFC a CFDI is cancelled without the receptor's acceptance
        (approximation of the current rules, which have more cases)."""
        try:
            small = float(self.total) <= 1000
        except ValueError:
            small = False
        return ("Cancelable sin aceptación" if small or self.rfc_receptor in GENERIC
                else "Cancelable con aceptación")


def _make_certificate(number: str, rfc: str) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "FACTURADOR PAC SANDBOX (SIN VALIDEZ FISCAL)"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "FACTURADOR PAC SANDBOX"),
        x509.NameAttribute(NameOID.X500_UNIQUE_IDENTIFIER, rfc),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "MX"),
    ])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(int.from_bytes(number.encode("ascii"), "big"))
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


class _State:
    def __init__(self, sandbox: "PacSandbox"):
        self.sb = sandbox
        self.lock = threading.Lock()
        self.by_uuid: dict[str, _Record] = {}
        self.by_seal: dict[str, str] = {}
        self.tokens: dict[str, float] = {}

    # ---------------------------------------------------------------- stamping
    def stamp(self, raw: bytes) -> tuple[_Record, bool]:
        try:
            doc = cx.parse(raw)
        except SchemaError as exc:
            raise Reject("301", "301", f"XML mal formado: {exc.errors[0]}")
        if doc.tag != f"{{{cx.NS_CFDI}}}Comprobante" or doc.get("Version") != "4.0":
            raise Reject("301", "301", "XML mal formado: no es un CFDI 4.0")
        seal_key = hashlib.sha256((doc.get("Sello") or "").encode()).hexdigest()
        if doc.find("cfdi:Complemento/tfd:TimbreFiscalDigital", cx.NS) is not None:
            raise Reject("307", "307", "El CFDI contiene un timbre previo")
        try:
            cx.validate_xsd(doc)
        except SchemaError as exc:
            raise Reject("301", "301", f"XML mal formado: {exc.errors[0]}")
        # certificate and seal
        try:
            cert = x509.load_der_x509_certificate(base64.b64decode(doc.get("Certificado") or "", validate=True))
        except (ValueError, TypeError):
            raise Reject("302", "CFDI40102", "Sello mal formado o inválido: el certificado no se puede leer")
        if certificate_number(cert) != doc.get("NoCertificado"):
            raise Reject("303", "CFDI40103", "El NoCertificado no corresponde al certificado del comprobante")
        cadena = cx.cadena_original(doc).encode("utf-8")
        if not rsa_sha256_ok(cert, cadena, doc.get("Sello") or ""):
            raise Reject("302", "CFDI40102", "Sello mal formado o inválido")
        emisor = doc.find("cfdi:Emisor", cx.NS)
        receptor = doc.find("cfdi:Receptor", cx.NS)
        subject_ids = " ".join(a.value for a in cert.subject.get_attributes_for_oid(NameOID.X500_UNIQUE_IDENTIFIER))
        if emisor.get("Rfc") not in subject_ids.split():
            raise Reject("303", "CFDI40140", "Sello no corresponde al emisor: el RFC del certificado es otro")
        fecha = dt.datetime.fromisoformat(doc.get("Fecha"))
        cert_from = cert.not_valid_before_utc.replace(tzinfo=None) - dt.timedelta(hours=7)
        cert_to = cert.not_valid_after_utc.replace(tzinfo=None) + dt.timedelta(hours=7)
        if not cert_from <= fecha <= cert_to:
            raise Reject("305", "CFDI40104", "La fecha de emisión no está dentro de la vigencia del CSD del emisor")
        now = _local_now(doc.get("LugarExpedicion"))     # Fecha is local time of LugarExpedicion
        if self.sb.check_dates and not (now - dt.timedelta(hours=72) <= fecha <= now + dt.timedelta(minutes=10)):
            raise Reject("401", "401", "Fecha y hora de generación fuera de rango")
        with self.lock:   # a valid document stamped before: answer its existing stamp (307)
            prev = self.by_seal.get(seal_key)
            if prev:
                return self.by_uuid[prev], True
        self._business_rules(doc, receptor)
        with self.lock:
            prev = self.by_seal.get(seal_key)
            if prev:
                return self.by_uuid[prev], True
            rec = self._add_tfd(doc, emisor.get("Rfc"), receptor.get("Rfc"), doc.get("Total"))
            self.by_seal[seal_key] = rec.uuid
            self.by_uuid[rec.uuid] = rec
        return rec, False

    def previous(self, raw: bytes) -> _Record | None:
        """The stamp of a CFDI stamped before (same seal), for Finkok's ``stamped``; None if never stamped."""
        try:
            doc = cx.parse(raw)
        except SchemaError as exc:
            raise Reject("301", "301", f"XML mal formado: {exc.errors[0]}")
        seal_key = hashlib.sha256((doc.get("Sello") or "").encode()).hexdigest()
        with self.lock:
            prev = self.by_seal.get(seal_key)
            return self.by_uuid[prev] if prev else None

    def _business_rules(self, doc, receptor) -> None:
        rfc = receptor.get("Rfc")
        uso = receptor.get("UsoCFDI")
        regimen = receptor.get("RegimenFiscalReceptor")
        if rfc in GENERIC:
            if receptor.get("DomicilioFiscalReceptor") != doc.get("LugarExpedicion"):
                raise Reject("CFDI40149", "CFDI40149", "El campo DomicilioFiscalReceptor debe ser igual a LugarExpedicion con RFC genérico")
            if regimen != "616":
                raise Reject("CFDI40159", "CFDI40159", "El campo RegimenFiscalReceptor debe ser 616 con RFC genérico")
        if receptor.get("Nombre", "").upper() == "PUBLICO EN GENERAL" and rfc != "XAXX010101000":
            raise Reject("CFDI40146", "CFDI40146", "PUBLICO EN GENERAL solo con XAXX010101000")
        moral = None if rfc in GENERIC else len(rfc) == 12
        if uso not in usos_cfdi_for_regimen(regimen, persona_moral=moral):
            raise Reject("CFDI40161", "CFDI40161",
                         "La clave del campo UsoCFDI debe corresponder con el tipo de persona y el régimen correspondiente")

    def _add_tfd(self, doc, rfc_e: str, rfc_r: str, total: str) -> _Record:
        uid = str(uuidlib.uuid4()).upper()
        fecha = _mexico_now().isoformat(timespec="seconds")
        tfd = etree.Element(f"{{{cx.NS_TFD}}}TimbreFiscalDigital", nsmap={"tfd": cx.NS_TFD, "xsi": cx.NS_XSI})
        tfd.set(f"{{{cx.NS_XSI}}}schemaLocation", "http://www.sat.gob.mx/TimbreFiscalDigital "
                "http://www.sat.gob.mx/sitio_internet/cfd/TimbreFiscalDigital/TimbreFiscalDigitalv11.xsd")
        for k, v in (("Version", "1.1"), ("UUID", uid), ("FechaTimbrado", fecha), ("RfcProvCertif", SANDBOX_RFC_PAC),
                     ("SelloCFD", doc.get("Sello")), ("NoCertificadoSAT", self.sb.certificate_number), ("SelloSAT", "")):
            tfd.set(k, v)
        cadena = cx.cadena_original_tfd(tfd).encode("utf-8")
        tfd.set("SelloSAT", base64.b64encode(self.sb._key.sign(cadena, padding.PKCS1v15(), hashes.SHA256())).decode())
        comp = doc.find("cfdi:Complemento", cx.NS)
        if comp is None:
            comp = etree.Element(f"{{{cx.NS_CFDI}}}Complemento")
            addenda = doc.find("cfdi:Addenda", cx.NS)
            if addenda is not None:
                addenda.addprevious(comp)
            else:
                doc.append(comp)
        comp.append(tfd)
        out = etree.tostring(doc, xml_declaration=True, encoding="UTF-8")
        return _Record(uuid=uid, xml=out, rfc_emisor=rfc_e, rfc_receptor=rfc_r, total=total, fecha_timbrado=fecha)

    # ---------------------------------------------------------------- cancel / status
    def cancel(self, rfc: str, uid: str, motivo: str, folio: str | None) -> tuple[str, str]:
        uid = (uid or "").upper()
        folio = (folio or "").upper() or None
        if motivo not in ("01", "02", "03", "04"):
            raise Reject("cancel_motivo_invalido", "cancel_motivo_invalido", "Motivo de cancelación inválido")
        if motivo == "01" and not folio:
            raise Reject("cancel_sin_folio_sustitucion", "cancel_sin_folio_sustitucion",
                         "El motivo 01 requiere FolioSustitucion")
        if motivo != "01" and folio:
            raise Reject("cancel_folio_no_aplica", "cancel_folio_no_aplica",
                         "FolioSustitucion solo aplica con motivo 01")
        with self.lock:
            rec = self.by_uuid.get(uid)
            if rec is None:
                return "205", "UUID No encontrado"
            if rec.rfc_emisor != rfc:
                return "203", "UUID No corresponde al emisor"
            if folio and folio not in self.by_uuid:
                raise Reject("cancel_folio_inexistente", "cancel_folio_inexistente",
                             "El FolioSustitucion no corresponde a un CFDI timbrado")
            if rec.estado == "Cancelado":
                return "202", "Cancelado"
            rec.estado, rec.motivo, rec.folio_sustitucion = "Cancelado", motivo, folio
            rec.estatus_cancelacion = "Cancelado sin aceptación"
            return "201", "Cancelado sin aceptación"

    def status(self, uid: str) -> _Record | None:
        with self.lock:
            return self.by_uuid.get((uid or "").upper())


# ------------------------------------------------------------------------------- HTTP layer
def _soap(body_inner: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><senv:Envelope xmlns:senv="{SOAP_ENV}" '
            f'xmlns:s0="{APPS}" xmlns:tns="{STAMP_NS}" xmlns:cns="{CANCEL_NS}"><senv:Body>{body_inner}'
            f"</senv:Body></senv:Envelope>").encode("utf-8")


def _soap_fault(msg: str, code: str = "senv:Client") -> bytes:
    return _soap(f"<senv:Fault><faultcode>{code}</faultcode><faultstring>{xml_escape(msg)}</faultstring></senv:Fault>")


def _emisor_rfc(raw: bytes) -> str:
    """The emisor RFC of a CFDI for an incidence, '' when it cannot be read."""
    try:
        el = etree.fromstring(raw, parser=etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False))
        return el.find(f"{{{cx.NS_CFDI}}}Emisor").get("Rfc") or ""
    except Exception:  # noqa: BLE001 - best effort for a rejected document
        return ""


class _Handler(BaseHTTPRequestHandler):
    server_version = "FacturadorPacSandbox/1.0"
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True     # headers and body go out in separate writes

    @property
    def sb(self) -> "PacSandbox":
        return self.server.sandbox  # type: ignore[attr-defined]

    def log_message(self, fmt, *args):  # quiet; use logging
        log.debug("sandbox %s - " + fmt, self.address_string(), *args)

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: dict) -> None:
        self._send(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def _xml(self, body: bytes, status: int = 200) -> None:
        self._send(status, body, "text/xml; charset=utf-8")

    def _body(self) -> bytes | None:
        """The request body, or None (after answering 413) when it is larger than MAX_REQUEST_BYTES or unsized."""
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            n = -1
        if n < 0 or n > MAX_REQUEST_BYTES:
            self.close_connection = True
            self._send(413, _soap_fault("La solicitud supera el tamaño máximo admitido."), "text/xml; charset=utf-8")
            return None
        return self.rfile.read(n) if n else b""

    # ---------------------------------------------------------------- GET
    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/health":
            return self._json(200, {"status": "ok"})
        m = re.fullmatch(r"/certificates/(\d+)\.cer", path)
        if m and m.group(1) == self.sb.certificate_number:
            return self._send(200, self.sb.certificate_der, "application/pkix-cert")
        # SAT's certificate repository layout (rdc.sat.gob.mx/rccf/…): the stamping certificate is found the way
        # a receiver finds SAT's
        if path == "/rccf/" + rccf_path(self.sb.certificate_number):
            return self._send(200, self.sb.certificate_der, "application/x-x509-ca-cert")
        self._json(404, {"status": "error", "message": "Not found"})

    # ---------------------------------------------------------------- POST
    def do_POST(self):
        body = self._body()
        if body is None:
            return
        path = self.path.split("?", 1)[0].rstrip("/")
        if path in ("/security/authenticate", "/v2/security/authenticate"):
            return self._sw_auth(body, v2=path.startswith("/v2/"))
        injected = self.sb._take_failure()
        if self.sb.delay:
            time.sleep(self.sb.delay)
        if injected and injected.get("http_status"):
            return self._send(int(injected["http_status"]), b"Service Unavailable", "text/plain")
        if path in ("/servicios/soap/stamp", "/servicios/soap/stamp.wsdl", "/servicios/soap/cancel",
                    "/servicios/soap/cancel.wsdl"):
            service = "stamp" if "/stamp" in path else "cancel"
            try:
                return self._finkok(service, body, injected)
            except Exception as exc:  # a SOAP service answers a SOAP fault, never a bare error page
                log.exception("sandbox error")
                return self._xml(_soap_fault(f"Error interno del PAC local: {exc}", "senv:Server"), 500)
        try:
            if path in ("/cfdi33/stamp/v4", "/v4/cfdi33/stamp/v4"):
                return self._sw_stamp(body, injected)
            m = re.fullmatch(r"/cfdi33/cancel/([^/]+)/([^/]+)/([^/]+)(?:/([^/]+))?", path)
            if m:
                return self._sw_cancel(*m.groups(), injected=injected)
            if path == "/ConsultaCFDIService.svc":
                return self._sat_status(body)
        except Exception as exc:  # never let a handler die silently
            log.exception("sandbox error")
            return self._json(500, {"status": "error", "message": f"Error interno: {exc}"})
        self._json(404, {"status": "error", "message": f"Not found: {path}"})

    # ---------------------------------------------------------------- Finkok
    def _finkok_op(self, body: bytes):
        try:
            root = etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False))
        except etree.XMLSyntaxError:
            return None, None
        b = root.find(f"{{{SOAP_ENV}}}Body")
        op = b[0] if b is not None and len(b) else None
        return root, op

    @staticmethod
    def _child(op, name: str) -> str:
        for el in op:
            if etree.QName(el).localname == name:
                return el.text or ""
        return ""

    def _finkok_auth_ok(self, op) -> bool:
        return self.sb.users.get(self._child(op, "username")) == self._child(op, "password") and self._child(op, "username") != ""

    def _finkok_stamp_result(self, opname: str, xml_text: str = "", uid: str = "", fecha: str = "", status: str = "",
                             sat_seal: str = "", no_cert: str = "", incid: list[tuple[str, str]] = (),
                             rfc: str = "") -> bytes:
        """``AcuseRecepcionCFDI`` in the WSDL's order (xml, UUID, faultstring, Fecha, CodEstatus, faultcode, SatSeal,
        Incidencias, NoCertificadoSAT); each ``Incidencia`` as IdIncidencia, RfcEmisor, Uuid, CodigoError,
        WorkProcessId, MensajeIncidencia, ExtraInfo, NoCertificadoPac, FechaRegistro."""
        inc = "".join(
            f"<s0:Incidencia><s0:IdIncidencia>{secrets.token_hex(8)}</s0:IdIncidencia>"
            f"<s0:RfcEmisor>{xml_escape(rfc)}</s0:RfcEmisor><s0:Uuid>{uid}</s0:Uuid>"
            f"<s0:CodigoError>{xml_escape(c)}</s0:CodigoError><s0:WorkProcessId>{secrets.token_hex(8)}</s0:WorkProcessId>"
            f"<s0:MensajeIncidencia>{xml_escape(m)}</s0:MensajeIncidencia><s0:ExtraInfo/>"
            f"<s0:NoCertificadoPac>{no_cert}</s0:NoCertificadoPac><s0:FechaRegistro>{_mexico_now().isoformat()}</s0:FechaRegistro>"
            f"</s0:Incidencia>" for c, m in incid)
        return _soap(f"<tns:{opname}Response><tns:{opname}Result><s0:xml>{xml_escape(xml_text)}</s0:xml>"
                     f"<s0:UUID>{uid}</s0:UUID><s0:Fecha>{fecha}</s0:Fecha><s0:CodEstatus>{xml_escape(status)}</s0:CodEstatus>"
                     f"<s0:SatSeal>{sat_seal}</s0:SatSeal><s0:Incidencias>{inc}</s0:Incidencias>"
                     f"<s0:NoCertificadoSAT>{no_cert}</s0:NoCertificadoSAT></tns:{opname}Result></tns:{opname}Response>")

    def _finkok(self, service: str, body: bytes, injected):
        """One Finkok SOAP call: the operation must be in the service's WSDL (else ``Client.ResourceNotFound``) and
        implemented here (else ``Server.NotImplemented``), both as SOAP 1.1 faults (HTTP 500, as SOAP 1.1 §6.2 and
        WS-I BP R1126 require and spyne answers)."""
        root, op = self._finkok_op(body)
        if op is None:
            return self._xml(_soap_fault("Invalid SOAP request"), 500)
        qn = etree.QName(op)
        ns, ops = (STAMP_NS, FINKOK_STAMP_OPS) if service == "stamp" else (CANCEL_NS, FINKOK_CANCEL_OPS)
        if qn.namespace != ns or qn.localname not in ops:
            return self._xml(_soap_fault(f"Requested resource {qn.text!r} not found", "senv:Client.ResourceNotFound"), 500)
        if qn.localname not in FINKOK_IMPLEMENTED[service]:
            return self._xml(_soap_fault(f"Operación no implementada en el PAC local: {qn.localname}",
                                         "senv:Server.NotImplemented"), 500)
        if service == "stamp":
            return self._finkok_stamp(op, injected)
        return self._finkok_cancel(op, injected)

    def _finkok_stamp(self, op, injected):
        name = etree.QName(op).localname
        if not self._finkok_auth_ok(op):
            return self._xml(self._finkok_stamp_result(name, incid=[("300", "Usuario o contraseña inválidos")]))
        if injected:
            return self._xml(self._finkok_stamp_result(name, incid=[(injected["code"], injected["message"])]))
        try:
            raw = base64.b64decode(self._child(op, "xml"), validate=True)
        except ValueError:
            return self._xml(self._finkok_stamp_result(name, incid=[("301", "XML mal formado: base64 inválido")]))
        try:
            if name == "stamped":  # recover a previous stamp; never stamps
                rec, dup = self.sb._state.previous(raw), False
                if rec is None:
                    return self._xml(self._finkok_stamp_result(
                        name, incid=[("603", "El CFDI no contiene un timbre previo")]))
            else:
                rec, dup = self.sb._state.stamp(raw)
        except Reject as r:
            return self._xml(self._finkok_stamp_result(name, incid=[(r.finkok, r.message)], rfc=_emisor_rfc(raw)))
        tfd = cx.parse(rec.xml).find("cfdi:Complemento/tfd:TimbreFiscalDigital", cx.NS)
        incid = [("307", "El CFDI contiene un timbre previo")] if dup else []
        status = "" if dup or name == "stamped" else "Comprobante timbrado satisfactoriamente"
        return self._xml(self._finkok_stamp_result(name, rec.xml.decode("utf-8"), rec.uuid, rec.fecha_timbrado, status,
                                                   tfd.get("SelloSAT"), self.sb.certificate_number, incid,
                                                   rfc=rec.rfc_emisor))

    def _finkok_cancel(self, op, injected):
        name = etree.QName(op).localname
        if not self._finkok_auth_ok(op):
            if name == "get_sat_status":
                return self._xml(_soap("<cns:get_sat_statusResponse><cns:get_sat_statusResult><s0:error>"
                                       "300 - Usuario o contraseña inválidos</s0:error></cns:get_sat_statusResult>"
                                       "</cns:get_sat_statusResponse>"))
            return self._xml(_soap(f"<cns:{name}Response><cns:{name}Result><s0:CodEstatus>300 - Usuario o contraseña inválidos"
                                   f"</s0:CodEstatus></cns:{name}Result></cns:{name}Response>"))
        if name == "get_sat_status":
            rec = self.sb._state.status(self._child(op, "uuid"))
            estado = rec.estado if rec else "No Encontrado"
            code = "S - Comprobante obtenido satisfactoriamente." if rec else "N - 602: Comprobante no encontrado."
            canc = "Cancelado sin aceptación" if rec and rec.estado == "Cancelado" else ""
            return self._xml(_soap(
                f"<cns:get_sat_statusResponse><cns:get_sat_statusResult><s0:sat><s0:EsCancelable>Cancelable sin aceptación"
                f"</s0:EsCancelable><s0:CodigoEstatus>{code}</s0:CodigoEstatus><s0:Estado>{estado}</s0:Estado>"
                f"<s0:EstatusCancelacion>{canc}</s0:EstatusCancelacion></s0:sat></cns:get_sat_statusResult>"
                f"</cns:get_sat_statusResponse>"))
        rfc = self._child(op, "taxpayer_id")
        err = self._check_finkok_csd(op, rfc)
        if err or injected:
            msg = err or f"{injected['code']} - {injected['message']}"
            return self._xml(_soap(f"<cns:cancelResponse><cns:cancelResult><s0:CodEstatus>{xml_escape(msg)}</s0:CodEstatus>"
                                   f"</cns:cancelResult></cns:cancelResponse>"))
        uel = op.find(f".//{{{APPS}}}UUID")
        if uel is None or not uel.get("UUID"):
            return self._xml(_soap_fault("UUIDS missing"), 500)
        try:
            code, estatus = self.sb._state.cancel(rfc, uel.get("UUID"), uel.get("Motivo"), uel.get("FolioSustitucion"))
        except Reject as r:
            return self._xml(_soap(f"<cns:cancelResponse><cns:cancelResult><s0:CodEstatus>{r.finkok} - {xml_escape(r.message)}"
                                   f"</s0:CodEstatus></cns:cancelResult></cns:cancelResponse>"))
        fecha = _mexico_now().isoformat()
        acuse = (f'<Acuse Fecha="{fecha}" RfcEmisor="{rfc}"><Folios><UUID>{uel.get("UUID").upper()}</UUID>'
                 f"<EstatusUUID>{code}</EstatusUUID></Folios></Acuse>")
        # CancelaCFDResult (Folios, Acuse, Fecha, RfcEmisor, CodEstatus); Folio as UUID, EstatusUUID, EstatusCancelacion
        return self._xml(_soap(
            f"<cns:cancelResponse><cns:cancelResult><s0:Folios><s0:Folio><s0:UUID>{uel.get('UUID').upper()}</s0:UUID>"
            f"<s0:EstatusUUID>{code}</s0:EstatusUUID><s0:EstatusCancelacion>{xml_escape(estatus)}</s0:EstatusCancelacion>"
            f"</s0:Folio></s0:Folios><s0:Acuse>{xml_escape(acuse)}</s0:Acuse><s0:Fecha>{fecha}</s0:Fecha>"
            f"<s0:RfcEmisor>{rfc}</s0:RfcEmisor></cns:cancelResult></cns:cancelResponse>"))

    def _check_finkok_csd(self, op, rfc: str) -> str | None:
        """Finkok's ``cancel`` carries the CSD as base64(PEM); the key is encrypted with the account password."""
        try:
            cert = x509.load_pem_x509_certificate(base64.b64decode(self._child(op, "cer")))
            key = serialization.load_pem_private_key(base64.b64decode(self._child(op, "key")),
                                                     password=self._child(op, "password").encode())
        except (ValueError, TypeError):
            return "csd_invalido - Certificado o llave privada inválidos"
        if cert.public_key().public_numbers() != key.public_key().public_numbers():
            return "csd_invalido - La llave no corresponde al certificado"
        ids = " ".join(a.value for a in cert.subject.get_attributes_for_oid(NameOID.X500_UNIQUE_IDENTIFIER)).split()
        if rfc not in ids:
            return "203 - El certificado no corresponde al RFC emisor"
        return None

    # ---------------------------------------------------------------- SW
    def _sw_auth(self, body: bytes = b"", v2: bool = False):
        """``/security/authenticate`` reads the ``user``/``password`` headers; ``/v2/security/authenticate`` the JSON
        body ``{"user": ..., "password": ...}`` that SW's official SDK sends (shared/pac/swsapien.md)."""
        if v2:
            try:
                creds = json.loads(body or b"{}")
            except ValueError:
                creds = None
            if not isinstance(creds, dict):
                return self._json(400, {"status": "error", "message": "El cuerpo debe ser JSON con user y password",
                                        "messageDetail": "invalid JSON body"})
            user, pwd = creds.get("user"), creds.get("password")
        else:
            user, pwd = self.headers.get("user"), self.headers.get("password")
        if not user or self.sb.users.get(user) != pwd:
            return self._json(401, {"status": "error", "message": "AU4101 - Credenciales inválidas",
                                    "messageDetail": "Usuario o contraseña incorrectos"})
        token = secrets.token_urlsafe(32)
        expires = int(time.time()) + 7200
        with self.sb._state.lock:
            self.sb._state.tokens[token] = expires
        return self._json(200, {"status": "success", "data": {"token": token, "expires_in": expires, "tokeny_type": "bearer"}})

    def _sw_token_ok(self) -> bool:
        scheme, _, tok = (self.headers.get("Authorization") or "").strip().partition(" ")
        tok = tok.strip() if scheme.lower() == "bearer" else ""  # auth schemes are case-insensitive (RFC 7235)
        with self.sb._state.lock:
            exp = self.sb._state.tokens.get(tok)
        return bool(exp and exp > time.time()) or (self.sb.sw_token is not None and tok == self.sb.sw_token)

    def _sw_error(self, code: str, message: str, status: int = 400, data=None):
        return self._json(status, {"status": "error", "message": f"{code} - {message}", "messageDetail": message,
                                   "data": data})

    def _sw_stamp(self, body: bytes, injected):
        if not self._sw_token_ok():
            return self._sw_error("AU4101", "Token inválido o expirado", 401)
        if injected:
            return self._sw_error(injected["code"], injected["message"])
        ctype = self.headers.get("Content-Type") or ""
        raw = None
        if ctype.startswith("multipart/"):
            msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
            for part in msg.iter_parts():
                if part.get_param("name", header="content-disposition") == "xml":
                    raw = part.get_payload(decode=True)
        else:
            raw = body
        if not raw:
            return self._sw_error("301", "XML mal formado: falta el campo xml")
        try:
            rec, dup = self.sb._state.stamp(raw)
        except Reject as r:
            return self._sw_error(r.sw, r.message, r.http_status)
        tfd = cx.parse(rec.xml).find("cfdi:Complemento/tfd:TimbreFiscalDigital", cx.NS)
        data = {"cadenaOriginalSAT": cx.cadena_original_tfd(tfd), "noCertificadoSAT": self.sb.certificate_number,
                "noCertificadoCFDI": cx.parse(rec.xml).get("NoCertificado"), "uuid": rec.uuid,
                "selloSAT": tfd.get("SelloSAT"), "selloCFDI": tfd.get("SelloCFD"), "fechaTimbrado": rec.fecha_timbrado,
                "qrCode": "", "cfdi": rec.xml.decode("utf-8")}
        if dup:
            return self._json(400, {"status": "error", "message": "307. El comprobante contiene un timbre previo.",
                                    "messageDetail": "", "data": data})
        return self._json(200, {"status": "success", "data": data})

    def _sw_cancel(self, rfc, uid, motivo, folio, injected=None):
        if not self._sw_token_ok():
            return self._sw_error("AU4101", "Token inválido o expirado", 401)
        if injected:
            return self._sw_error(injected["code"], injected["message"])
        try:
            code, estatus = self.sb._state.cancel(rfc, uid, motivo, folio)
        except Reject as r:
            return self._sw_error(r.sw, r.message)
        if code not in ("201", "202"):
            return self._sw_error(code, estatus)
        acuse = f'<Acuse Fecha="{_mexico_now().isoformat()}" RfcEmisor="{rfc}"><Folios><UUID>{uid.upper()}</UUID><EstatusUUID>{code}</EstatusUUID></Folios></Acuse>'
        return self._json(200, {"status": "success", "data": {"acuse": acuse, "uuid": {uid.upper(): code},
                                                               "estatusCancelacion": estatus}})

    # ---------------------------------------------------------------- SAT consulta
    def _sat_status(self, body: bytes):
        """SAT's ``ConsultaCFDIService.svc`` ``Consulta``: the CFDIs this PAC stamped, found only when the
        expression's emisor, receptor and total match the stamped CFDI (as SAT does)."""
        from decimal import Decimal, InvalidOperation

        from . import sat_status as st
        try:
            root = etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False, no_network=True,
                                                                 load_dtd=False, huge_tree=False))
            expr = root.findtext(f"{{{SOAP_ENV}}}Body/{{{st.TEMPURI}}}Consulta/{{{st.TEMPURI}}}expresionImpresa")
        except etree.XMLSyntaxError:
            expr = None
        if expr is None:
            return self._xml(_soap_fault("El mensaje no es una solicitud Consulta válida.", "s:Client"), 500)
        q = st.parse_expresion(expr)
        if not all(q.get(k) for k in ("re", "rr", "tt", "id")):
            return self._xml(st.response_body(st.INVALID, "No Encontrado"))
        rec = self.sb._state.status(q["id"])
        try:
            same_total = rec is not None and Decimal(q["tt"]) == Decimal(rec.total)
        except InvalidOperation:
            same_total = False
        if rec is None or not same_total or (q["re"].upper(), q["rr"].upper()) != (rec.rfc_emisor, rec.rfc_receptor):
            return self._xml(st.response_body(st.NOT_FOUND, "No Encontrado"))
        with self.sb._state.lock:
            answer = st.response_body(st.FOUND, rec.estado, rec.es_cancelable, rec.estatus_cancelacion,
                                      rec.validacion_efos)
        self._xml(answer)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class PacSandbox:
    """Local test PAC. ``users`` maps user → password for both protocols (default ``demo``/``demo``);
    ``sw_token`` is an optional long-lived SW token accepted as is."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, delay: float = 0, *,
                 users: dict[str, str] | None = None, sw_token: str | None = None,
                 check_dates: bool = True, certificate_number: str | None = None):
        self.host, self.port, self.delay = host, port, float(delay)
        self.users = dict(users or {"demo": "demo"})
        self.sw_token = sw_token
        self.check_dates = check_dates
        self.certificate_number = certificate_number or ("3000100000059" + f"{secrets.randbelow(10**7):07d}")
        self._key, self.certificate = _make_certificate(self.certificate_number, SANDBOX_RFC_PAC)
        self.certificate_der = self.certificate.public_bytes(serialization.Encoding.DER)
        self._state = _State(self)
        self._failures: list[dict] = []
        self._flock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # test hooks
    def fail_next(self, code: str | None = None, message: str = "Error simulado", *, http_status: int | None = None,
                  count: int = 1) -> None:
        """Answer the next ``count`` stamp/cancel requests with error ``code`` (or a bare HTTP status)."""
        with self._flock:
            self._failures.extend({"code": code, "message": message, "http_status": http_status} for _ in range(count))

    def _take_failure(self) -> dict | None:
        with self._flock:
            return self._failures.pop(0) if self._failures else None

    def set_sat_status(self, uuid: str, *, estado: str | None = None, estatus_cancelacion: str | None = None,
                       validacion_efos: str | None = None) -> None:
        """Test hook: what SAT's status service answers for a stamped CFDI (e.g. ``estado="Cancelado",
        estatus_cancelacion="Cancelado con aceptación"`` for a cancellation the receptor accepted elsewhere)."""
        rec = self._state.status(uuid)
        if rec is None:
            raise KeyError(uuid)
        with self._state.lock:
            if estado is not None:
                rec.estado = estado
            if estatus_cancelacion is not None:
                rec.estatus_cancelacion = estatus_cancelacion
            if validacion_efos is not None:
                rec.validacion_efos = validacion_efos

    def mark_cancelled(self, uuid: str, estatus: str = "Cancelado sin aceptación") -> None:
        self.set_sat_status(uuid, estado="Cancelado", estatus_cancelacion=estatus)

    def stamped(self, uuid: str) -> bytes | None:
        rec = self._state.status(uuid)
        return rec.xml if rec else None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("sandbox not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "PacSandbox":
        self._server = _Server((self.host, self.port), _Handler)
        self._server.sandbox = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, name="pac-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "PacSandbox":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="pac-sandbox", description="Local test PAC (Finkok SOAP + SW Sapien REST protocols).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8089)
    p.add_argument("--delay", type=float, default=0.0, help="seconds to wait before answering (timeout tests)")
    p.add_argument("--user", default="demo")
    p.add_argument("--password", default="demo")
    p.add_argument("--no-date-check", action="store_true", help="accept any CFDI Fecha (no 72 h rule)")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    sb = PacSandbox(a.host, a.port, a.delay, users={a.user: a.password}, check_dates=not a.no_date_check).start()
    print(f"PAC sandbox listening on {sb.url}  (user {a.user!r}; TFD certificate {sb.certificate_number} "
          f"at {sb.url}/certificates/{sb.certificate_number}.cer)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sb.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
