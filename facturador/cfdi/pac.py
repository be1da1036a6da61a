"""PAC (Proveedor Autorizado de Certificación) clients behind one interface.

* :class:`Pac` — the protocol the rest of Facturador uses: ``stamp``, ``cancel``, ``status``.
* :class:`FinkokPac` — Finkok's SOAP services (``/servicios/soap/stamp`` operation ``stamp``,
  ``/servicios/soap/cancel`` operations ``cancel`` and ``get_sat_status``); user/password travel
  inside each request, cancellation sends the CSD (PEM, key encrypted with the account password).
* :class:`SwSapienPac` — SW Sapien (SmarterWeb) REST: ``POST /security/authenticate`` (headers
  ``user``/``password``) → bearer token, ``POST /cfdi33/stamp/v4`` (multipart field ``xml``),
  ``POST /cfdi33/cancel/{rfc}/{uuid}/{motivo}[/{folioSustitucion}]`` (CSD stored in the SW
  account), status through SAT's public consulta service.

Errors: :class:`PacError` (``code`` is the PAC's own code — ``CFDI40xxx`` or Finkok's ``30x`` —
``message_es`` a plain Spanish explanation, ``pac_message`` the PAC's text) and
:class:`PacTimeout` (subclass). Timeouts and bounded retries: every call has a ``timeout``; network
failures and 5xx are retried ``retries`` times with backoff. Re-sending a stamp is safe: PACs
answer a document already stamped with its existing stamp (Finkok incidence 307).
"""

from __future__ import annotations

import base64
import html
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable
from xml.sax.saxutils import escape as _xml_escape

import requests
from lxml import etree

from . import sat_status
from . import xml as cx

log = logging.getLogger(__name__)

__all__ = ["Pac", "StampResult", "CancelResult", "StatusResult", "PacError", "PacTimeout",
           "FinkokPac", "SwSapienPac", "SatStatusClient", "PAC_ERRORS_ES", "pac_message_es",
           "CANCEL_MOTIVES"]

CANCEL_MOTIVES = ("01", "02", "03", "04")

# Plain-Spanish explanations of the most frequent rejections (SAT "Matriz de errores" CFDI 4.0 codes,
# paraphrased; Finkok numeric incidences). Unknown codes fall back to the PAC's own text.
PAC_ERRORS_ES: dict[str, str] = {
    "301": "El XML está mal formado o no cumple el esquema del SAT.",
    "302": "El sello del comprobante no es válido: el XML cambió después de sellarse o se selló con otro certificado.",
    "303": "El sello no corresponde al emisor: el certificado no es del RFC emisor.",
    "304": "El certificado (CSD) del emisor está revocado o vencido.",
    "305": "La fecha del comprobante no está dentro de la vigencia del certificado del emisor.",
    "306": "El certificado usado no es un CSD (parece una e.firma).",
    "307": "El comprobante ya había sido timbrado (timbre previo).",
    "308": "El certificado no fue emitido por el SAT.",
    "401": "La fecha del comprobante está fuera del plazo para timbrar (máximo 72 horas).",
    "402": "El RFC del emisor no está en la lista de contribuyentes obligados (LCO) del SAT.",
    "702": "El RFC emisor no está registrado en la cuenta del PAC.",
    "708": "El PAC no pudo comunicarse con el SAT; intente de nuevo en unos minutos.",
    "CFDI40101": "La fecha del comprobante no tiene el formato requerido (AAAA-MM-DDThh:mm:ss).",
    "CFDI40102": "El sello del comprobante no es válido: el XML cambió después de sellarse o se selló con otro certificado.",
    "CFDI40103": "El número de certificado no corresponde al certificado incluido en el comprobante.",
    "CFDI40104": "La fecha del comprobante está fuera de la vigencia del certificado del emisor.",
    "CFDI40108": "El subtotal no es igual a la suma de los importes de los conceptos.",
    "CFDI40111": "El código postal del lugar de expedición no existe en el catálogo del SAT.",
    "CFDI40116": "La forma de pago no existe en el catálogo del SAT.",
    "CFDI40119": "El total no es igual a subtotal − descuentos + impuestos trasladados − retenidos.",
    "CFDI40121": "Con método de pago PUE la forma de pago no puede ser 99 (Por definir).",
    "CFDI40123": "El método de pago no existe en el catálogo del SAT.",
    "CFDI40130": "Falta la información global (periodicidad, mes y año) en una factura a PUBLICO EN GENERAL.",
    "CFDI40138": "El nombre del emisor no coincide con el registrado en el SAT para su RFC.",
    "CFDI40139": "El régimen fiscal del emisor no corresponde a su tipo de persona.",
    "CFDI40140": "El RFC del emisor no corresponde al del certificado con que se selló.",
    "CFDI40143": "El RFC del receptor no está en la lista de RFC inscritos no cancelados del SAT.",
    "CFDI40144": "El nombre del receptor no coincide con el registrado en el SAT para su RFC.",
    "CFDI40145": "El nombre del receptor no coincide con el registrado en el SAT para su RFC.",
    "CFDI40146": "«PUBLICO EN GENERAL» solo se permite con el RFC XAXX010101000.",
    "CFDI40147": "El código postal del receptor no coincide con el de su constancia de situación fiscal.",
    "CFDI40149": "Con RFC genérico el código postal del receptor debe ser el del lugar de expedición.",
    "CFDI40157": "El régimen fiscal del receptor no existe en el catálogo del SAT.",
    "CFDI40158": "El régimen fiscal del receptor no corresponde a su tipo de persona.",
    "CFDI40159": "Con RFC genérico el régimen fiscal del receptor debe ser 616 (Sin obligaciones fiscales).",
    "CFDI40160": "El uso de CFDI no existe en el catálogo del SAT.",
    "CFDI40161": "El uso de CFDI no corresponde al régimen fiscal ni al tipo de persona del receptor.",
    "CFDI40215": "El importe de un impuesto no es igual a base × tasa redondeado.",
    "CFDI40221": "El total de impuestos no es igual a la suma redondeada de los impuestos de los conceptos.",
    "300": "El usuario o la contraseña del PAC no son correctos.",
    "AU4101": "El usuario, la contraseña o el token del PAC no son válidos.",
    "cancel_folio_no_aplica": "El UUID sustituto solo se indica con el motivo de cancelación 01.",
    "cancel_folio_inexistente": "El UUID sustituto no corresponde a un comprobante timbrado.",
    "csd_invalido": "El certificado o la llave enviados al PAC no son válidos o no corresponden.",
    "auth": "El usuario o la contraseña del PAC no son correctos.",
    "cancel_sin_folio_sustitucion": "La cancelación con motivo 01 requiere el UUID del comprobante que sustituye al cancelado.",
    "cancel_motivo_invalido": "El motivo de cancelación debe ser 01, 02, 03 o 04.",
    "202": "El comprobante ya había sido cancelado.",
    "203": "El comprobante no corresponde al emisor que solicita la cancelación.",
    "205": "El UUID no existe (o el SAT aún no lo registra).",
    "csd_requerido": "Para cancelar con este PAC se necesita el certificado y la llave del emisor (CSD).",
    "respuesta_invalida": "La respuesta del PAC no se pudo interpretar.",
    "http": "El PAC respondió con un error de comunicación.",
    "conexion": "No fue posible conectar con el PAC.",
    "timeout": "El PAC no respondió a tiempo; el comprobante puede reenviarse sin riesgo de duplicarlo.",
}

_CODE_RE = re.compile(r"^\s*([A-Za-z_]*\d\w*|[a-z][a-z_]+)\s*(?:[.:]|\s-)\s*(.*)$", re.S)


def pac_message_es(code: str, pac_message: str = "") -> str:
    known = PAC_ERRORS_ES.get(code)
    if known:
        return known
    return f"El PAC rechazó el comprobante ({code}): {pac_message}".strip() if pac_message else \
        f"El PAC rechazó el comprobante ({code})."


class PacError(Exception):
    """A PAC refused or failed. ``code`` keeps the PAC's code (e.g. ``CFDI40102``, ``302``)."""

    def __init__(self, code: str, message_es: str | None = None, *, pac_message: str = "",
                 field: str | None = None, http_status: int | None = None):
        self.code = str(code)
        self.pac_message = pac_message or ""
        self.message_es = message_es or pac_message_es(self.code, self.pac_message)
        self.message = self.message_es
        self.field = field
        self.http_status = http_status
        super().__init__(f"PAC error {self.code}: {self.pac_message or self.message_es}")


class PacTimeout(PacError):
    def __init__(self, pac_message: str = ""):
        super().__init__("timeout", pac_message=pac_message)


@dataclass
class StampResult:
    uuid: str
    xml_bytes: bytes
    fecha_timbrado: str
    no_certificado_sat: str
    duplicate: bool = False          # True when the PAC returned a previous stamp (307)
    sello_sat: str = ""
    raw: dict = field(default_factory=dict, repr=False)


@dataclass
class CancelResult:
    uuid: str
    status_code: str                 # SAT EstatusUUID: 201 accepted, 202 previously cancelled...
    estatus_cancelacion: str = ""    # e.g. "Cancelado sin aceptación", "En proceso"
    acuse: bytes = b""
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def accepted(self) -> bool:
        return self.status_code in ("201", "202")


@dataclass
class StatusResult:
    uuid: str
    estado: str                      # Vigente / Cancelado / No Encontrado
    codigo_estatus: str = ""
    es_cancelable: str = ""
    estatus_cancelacion: str = ""
    validacion_efos: str = ""

    @property
    def found(self) -> bool:
        return self.codigo_estatus.startswith("S")


@runtime_checkable
class Pac(Protocol):
    def stamp(self, xml_bytes: bytes) -> StampResult: ...

    def cancel(self, rfc: str, uuid: str, motive: str, substitute_uuid: str | None = None) -> CancelResult: ...

    def status(self, rfc_emisor: str, rfc_receptor: str, total: str, uuid: str) -> StatusResult: ...


# --------------------------------------------------------------------------- transport
class _Http:
    def __init__(self, timeout: float, retries: int, backoff: float):
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self.session = requests.Session()

    def request(self, method: str, url: str, **kw) -> requests.Response:
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * (2 ** (attempt - 1)))
            try:
                r = self.session.request(method, url, timeout=self.timeout, **kw)
            except requests.Timeout as exc:
                last = exc
                log.warning("PAC timeout on %s (attempt %d/%d)", url, attempt + 1, self.retries + 1)
                continue
            except requests.ConnectionError as exc:
                last = exc
                log.warning("PAC connection error on %s: %s", url, exc)
                continue
            if r.status_code in (502, 503, 504) and attempt < self.retries:
                last = PacError("http", pac_message=f"HTTP {r.status_code}", http_status=r.status_code)
                continue
            return r
        if isinstance(last, requests.Timeout):
            raise PacTimeout(f"no response from {url} within {self.timeout}s") from last
        if isinstance(last, PacError):
            raise last
        raise PacError("conexion", pac_message=str(last)) from last


def _split_code(text: str) -> tuple[str, str]:
    m = _CODE_RE.match(text or "")
    if m:
        return m.group(1), m.group(2).strip()
    return "", (text or "").strip()


def _tfd_fields(xml_bytes: bytes) -> dict:
    doc = cx.parse(xml_bytes)
    tfd = doc.find("cfdi:Complemento/tfd:TimbreFiscalDigital", cx.NS)
    if tfd is None:
        raise PacError("respuesta_invalida", pac_message="stamped XML has no TimbreFiscalDigital")
    return dict(tfd.attrib)


# --------------------------------------------------------------------------- Finkok (SOAP)
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
FINKOK_STAMP_NS = "http://facturacion.finkok.com/stamp"
FINKOK_CANCEL_NS = "http://facturacion.finkok.com/cancel"
FINKOK_APPS_NS = "apps.services.soap.core.views"


class FinkokPac:
    """Finkok SOAP client. ``url`` is the host (``https://demo-facturacion.finkok.com`` for tests,
    ``https://facturacion.finkok.com`` for production, or a :class:`PacSandbox` URL)."""

    TEST_URL = "https://demo-facturacion.finkok.com"
    PROD_URL = "https://facturacion.finkok.com"
    SUCCESS = "Comprobante timbrado satisfactoriamente"

    def __init__(self, username: str, password: str, url: str = TEST_URL, *, csd=None,
                 timeout: float = 30.0, retries: int = 2, backoff: float = 0.5):
        self.username = username
        self.password = password
        self.url = url.rstrip("/")
        self.csd = csd
        self._http = _Http(timeout, retries, backoff)

    def _envelope(self, ns: str, op: str, parts: list[tuple[str, str]], raw_inner: str = "") -> bytes:
        body = "".join(f"<p:{k}>{_xml_escape(v)}</p:{k}>" for k, v in parts)
        return (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" '
                f'xmlns:p="{ns}" xmlns:apps="{FINKOK_APPS_NS}"><soapenv:Header/><soapenv:Body>'
                f"<p:{op}>{raw_inner}{body}</p:{op}></soapenv:Body></soapenv:Envelope>").encode("utf-8")

    def _post(self, service: str, envelope: bytes, op: str) -> etree._Element:
        r = self._http.request("POST", f"{self.url}/servicios/soap/{service}", data=envelope,
                               headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": op})
        try:
            root = etree.fromstring(r.content, parser=etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError as exc:
            raise PacError("respuesta_invalida", pac_message=f"HTTP {r.status_code}: {r.text[:200]}",
                           http_status=r.status_code) from exc
        fault = root.find(f".//{{{SOAP_ENV}}}Fault")
        if fault is not None:
            msg = fault.findtext("faultstring") or "SOAP fault"
            code, rest = _split_code(msg)
            raise PacError(code or "http", pac_message=msg, http_status=r.status_code)
        return root

    # Answers are read along the WSDL's structure (shared/pac/finkok/): Body/<op>Response/<op>Result (operation
    # namespace), then the result type's own children (namespace apps.services.soap.core.views), never by searching
    # the whole document: a UUID or CodEstatus elsewhere (an Incidencia, a Folio) must not be taken for the result's.
    @staticmethod
    def _result(root, ns: str, op: str):
        body = root.find(f"{{{SOAP_ENV}}}Body")
        resp = body.find(f"{{{ns}}}{op}Response") if body is not None else None
        result = resp.find(f"{{{ns}}}{op}Result") if resp is not None else None
        if result is None:
            raise PacError("respuesta_invalida", pac_message=f"no {op}Result in the {op} response")
        return result

    @staticmethod
    def _a(el, name):
        """Text of the direct child ``name`` (apps namespace) of a result element."""
        return el.findtext(f"{{{FINKOK_APPS_NS}}}{name}") if el is not None else None

    def stamp(self, xml_bytes: bytes) -> StampResult:
        env = self._envelope(FINKOK_STAMP_NS, "stamp", [
            ("xml", base64.b64encode(xml_bytes).decode("ascii")),
            ("username", self.username), ("password", self.password)])
        # AcuseRecepcionCFDI: xml, UUID, faultstring, Fecha, CodEstatus, faultcode, SatSeal, Incidencias,
        # NoCertificadoSAT; Incidencias/Incidencia: IdIncidencia, RfcEmisor, Uuid, CodigoError, WorkProcessId,
        # MensajeIncidencia, ExtraInfo, NoCertificadoPac, FechaRegistro.
        result = self._result(self._post("stamp", env, "stamp"), FINKOK_STAMP_NS, "stamp")
        xml_text = self._a(result, "xml") or ""
        uuid = self._a(result, "UUID") or ""
        status = self._a(result, "CodEstatus") or ""
        incidencias = result.find(f"{{{FINKOK_APPS_NS}}}Incidencias")
        incid = [(self._a(i, "CodigoError") or "", self._a(i, "MensajeIncidencia") or "")
                 for i in (incidencias if incidencias is not None else ())
                 if i.tag == f"{{{FINKOK_APPS_NS}}}Incidencia"]
        duplicate = any(c == "307" for c, _ in incid)
        if xml_text and uuid and (status == self.SUCCESS or duplicate or not incid):
            stamped = html.unescape(xml_text).encode("utf-8") if xml_text.lstrip().startswith("&lt;") else xml_text.encode("utf-8")
            tfd = _tfd_fields(stamped)
            return StampResult(uuid=tfd["UUID"], xml_bytes=stamped, fecha_timbrado=tfd["FechaTimbrado"],
                               no_certificado_sat=tfd["NoCertificadoSAT"], duplicate=duplicate,
                               sello_sat=tfd["SelloSAT"], raw={"CodEstatus": status, "Incidencias": incid})
        if incid:
            code, msg = incid[0]
            c2, rest = _split_code(msg)
            raise PacError(code or c2 or "desconocido", pac_message=msg)
        raise PacError("respuesta_invalida", pac_message=status or "empty stamp response")

    def _csd_parts(self) -> list[tuple[str, str]]:
        if self.csd is None:
            raise PacError("csd_requerido")
        cer = base64.b64encode(self.csd.pem_certificate()).decode("ascii")
        key = base64.b64encode(self.csd.pem_private_key(self.password)).decode("ascii")
        return [("cer", cer), ("key", key)]

    def cancel(self, rfc: str, uuid: str, motive: str, substitute_uuid: str | None = None) -> CancelResult:
        uuid = uuid.upper()
        attrs = f'UUID="{_xml_escape(uuid)}" Motivo="{_xml_escape(str(motive))}"'
        attrs += f' FolioSustitucion="{_xml_escape((substitute_uuid or "").upper())}"'
        inner = f"<p:UUIDS><apps:UUID {attrs}/></p:UUIDS>"
        env = self._envelope(FINKOK_CANCEL_NS, "cancel", [
            ("username", self.username), ("password", self.password), ("taxpayer_id", rfc),
            *self._csd_parts(), ("store_pending", "false")], raw_inner=inner)
        # CancelaCFDResult: Folios (Folio: UUID, EstatusUUID, EstatusCancelacion), Acuse, Fecha, RfcEmisor, CodEstatus
        result = self._result(self._post("cancel", env, "cancel"), FINKOK_CANCEL_NS, "cancel")
        folios = result.find(f"{{{FINKOK_APPS_NS}}}Folios")
        folio = None
        for f in (folios if folios is not None else ()):
            if f.tag == f"{{{FINKOK_APPS_NS}}}Folio" and (self._a(f, "UUID") or "").upper() in (uuid, ""):
                folio = f
                break
        cod = self._a(result, "CodEstatus")
        if folio is None:
            code, msg = _split_code(cod or "")
            raise PacError(code or "cancelacion", pac_message=cod or "no Folio in response")
        est_uuid = self._a(folio, "EstatusUUID") or ""
        est_canc = self._a(folio, "EstatusCancelacion") or ""
        acuse = html.unescape(self._a(result, "Acuse") or "").encode("utf-8")
        if est_uuid not in ("201", "202"):
            raise PacError(est_uuid or "cancelacion", pac_message=est_canc or cod or "")
        return CancelResult(uuid=uuid, status_code=est_uuid, estatus_cancelacion=est_canc, acuse=acuse)

    def status(self, rfc_emisor: str, rfc_receptor: str, total: str, uuid: str) -> StatusResult:
        env = self._envelope(FINKOK_CANCEL_NS, "get_sat_status", [
            ("username", self.username), ("password", self.password), ("taxpayer_id", rfc_emisor),
            ("rtaxpayer_id", rfc_receptor), ("uuid", uuid.upper()), ("total", str(total))])
        # AcuseSatEstatus: error, sat (AcuseSATConsulta: [DetallesValidacionEFOS,] EsCancelable, [ValidacionEFOS,]
        # CodigoEstatus, Estado, EstatusCancelacion)
        result = self._result(self._post("cancel", env, "get_sat_status"), FINKOK_CANCEL_NS, "get_sat_status")
        err = self._a(result, "error")
        if err:
            code, msg = _split_code(err)
            raise PacError(code or "estatus", pac_message=err)
        sat = result.find(f"{{{FINKOK_APPS_NS}}}sat")
        if sat is None:
            raise PacError("respuesta_invalida", pac_message="no sat in the get_sat_status response")
        return StatusResult(uuid=uuid.upper(), estado=self._a(sat, "Estado") or "",
                            codigo_estatus=self._a(sat, "CodigoEstatus") or "",
                            es_cancelable=self._a(sat, "EsCancelable") or "",
                            estatus_cancelacion=self._a(sat, "EstatusCancelacion") or "")


# --------------------------------------------------------------------------- SAT consulta (status)
SAT_STATUS_URL = sat_status.OFFICIAL_URL


class SatStatusClient:
    """SAT's public CFDI status service (SOAP ``Consulta`` with the expresión impresa, ``cfdi.sat_status``)."""

    def __init__(self, url: str = SAT_STATUS_URL, *, timeout: float = 30.0, retries: int = 2, backoff: float = 0.5):
        self.url = url
        self._http = _Http(timeout, retries, backoff)

    def status(self, rfc_emisor: str, rfc_receptor: str, total: str, uuid: str) -> StatusResult:
        body = sat_status.request_body(sat_status.expresion_impresa(rfc_emisor, rfc_receptor, total, uuid))
        r = self._http.request("POST", self.url, data=body, headers={
            "Content-Type": "text/xml; charset=utf-8", "SOAPAction": sat_status.SOAP_ACTION})
        try:
            f = sat_status.parse_response(r.content)
        except ValueError as exc:
            raise PacError("respuesta_invalida", pac_message=str(exc)[:200], http_status=r.status_code) from exc
        return StatusResult(uuid=uuid.upper(), estado=f["Estado"], codigo_estatus=f["CodigoEstatus"],
                            es_cancelable=f["EsCancelable"], estatus_cancelacion=f["EstatusCancelacion"],
                            validacion_efos=f["ValidacionEFOS"])


# --------------------------------------------------------------------------- SW Sapien (REST)
class SwSapienPac:
    """SW Sapien REST client. Give ``token`` (long-lived account token) or ``user``/``password``
    (a session token is requested from ``/security/authenticate`` and renewed before it expires)."""

    TEST_URL = "https://services.test.sw.com.mx"
    PROD_URL = "https://services.sw.com.mx"

    def __init__(self, url: str = TEST_URL, *, user: str | None = None, password: str | None = None,
                 token: str | None = None, status_url: str | None = None,
                 timeout: float = 30.0, retries: int = 2, backoff: float = 0.5):
        if not token and not (user and password):
            raise ValueError("SwSapienPac needs token or user+password")
        self.url = url.rstrip("/")
        self.user, self.password = user, password
        self._token = token
        self._token_expires = float("inf") if token else 0.0
        self._lock = threading.Lock()
        self._http = _Http(timeout, retries, backoff)
        self._status = SatStatusClient(status_url or SAT_STATUS_URL, timeout=timeout, retries=retries, backoff=backoff)

    def _json(self, r: requests.Response) -> dict:
        try:
            return r.json()
        except ValueError as exc:
            raise PacError("respuesta_invalida", pac_message=f"HTTP {r.status_code}: {r.text[:200]}",
                           http_status=r.status_code) from exc

    def _error(self, r: requests.Response, body: dict) -> PacError:
        msg = str(body.get("message") or "")
        detail = str(body.get("messageDetail") or "")
        code, rest = _split_code(msg)
        if r.status_code == 401 and not code:
            code = "auth"
        return PacError(code or "http", pac_message=(msg + (f" ({detail})" if detail else "")).strip(),
                        http_status=r.status_code)

    def token(self) -> str:
        with self._lock:
            if self._token and time.time() < self._token_expires - 60:
                return self._token
            r = self._http.request("POST", f"{self.url}/security/authenticate",
                                   headers={"user": self.user or "", "password": self.password or ""})
            body = self._json(r)
            if r.status_code != 200 or body.get("status") != "success":
                raise self._error(r, body)
            data = body.get("data") or {}
            self._token = data["token"]
            exp = data.get("expires_in")
            try:
                exp = float(exp)
                # SW answers a Unix timestamp; accept a duration in seconds too.
                self._token_expires = exp if exp > 10**9 else time.time() + exp
            except (TypeError, ValueError):
                self._token_expires = time.time() + 3600
            return self._token

    def _auth(self) -> dict:
        return {"Authorization": f"Bearer {self.token()}"}

    def stamp(self, xml_bytes: bytes) -> StampResult:
        r = self._http.request("POST", f"{self.url}/cfdi33/stamp/v4", headers=self._auth(),
                               files={"xml": ("cfdi.xml", xml_bytes, "text/xml")})
        body = self._json(r)
        data = body.get("data") or {}
        msg = str(body.get("message") or "")
        duplicate = msg.strip().startswith("307")
        if (body.get("status") == "success" or duplicate) and data.get("cfdi"):
            stamped = data["cfdi"].encode("utf-8")
            tfd = _tfd_fields(stamped)
            return StampResult(uuid=tfd["UUID"], xml_bytes=stamped,
                               fecha_timbrado=data.get("fechaTimbrado") or tfd["FechaTimbrado"],
                               no_certificado_sat=data.get("noCertificadoSAT") or tfd["NoCertificadoSAT"],
                               duplicate=duplicate, sello_sat=tfd["SelloSAT"], raw={k: v for k, v in data.items() if k != "cfdi"})
        raise self._error(r, body)

    def cancel(self, rfc: str, uuid: str, motive: str, substitute_uuid: str | None = None) -> CancelResult:
        uuid = uuid.upper()
        path = f"/cfdi33/cancel/{rfc}/{uuid}/{motive}"
        if substitute_uuid:
            path += f"/{substitute_uuid.upper()}"
        r = self._http.request("POST", self.url + path, headers=self._auth())
        body = self._json(r)
        if body.get("status") != "success":
            raise self._error(r, body)
        data = body.get("data") or {}
        codes = data.get("uuid") or {}
        code = str(codes.get(uuid) or codes.get(uuid.lower()) or next(iter(codes.values()), ""))
        return CancelResult(uuid=uuid, status_code=code, estatus_cancelacion=str(data.get("estatusCancelacion") or ""),
                            acuse=str(data.get("acuse") or "").encode("utf-8"))

    def status(self, rfc_emisor: str, rfc_receptor: str, total: str, uuid: str) -> StatusResult:
        return self._status.status(rfc_emisor, rfc_receptor, total, uuid)
