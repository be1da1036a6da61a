"""SAT's CFDI status service (``ConsultaCFDIService.svc``, operation ``Consulta``): is a stamped CFDI vigente?

The question is the CFDI's *expresión impresa* (the QR's query): ``?re=<RFC emisor>&rr=<RFC receptor>&tt=<Total>
&id=<UUID>``; the answer carries ``CodigoEstatus`` (``S - Comprobante obtenido satisfactoriamente.``,
``N - 601: La expresión impresa proporcionada no es válida.``, ``N - 602: Comprobante no encontrado.``),
``Estado`` (``Vigente``, ``Cancelado``, ``No Encontrado``), ``EsCancelable`` (``Cancelable sin aceptación``,
``Cancelable con aceptación``, ``No cancelable``), ``EstatusCancelacion`` (empty, ``En proceso``,
``Cancelado sin aceptación``, ``Cancelado con aceptación``, ``Plazo vencido``, ``Solicitud rechazada``) and
``ValidacionEFOS`` (``200``; ``100`` when the emisor is in SAT's list of simulated operations).

>>> expresion_impresa("EKU9003173C9", "XAXX010101000", "1160.00", "6b1f2a3c-0000-4000-8000-00000000abcd")
'?re=EKU9003173C9&rr=XAXX010101000&tt=1160.00&id=6B1F2A3C-0000-4000-8000-00000000ABCD'
>>> parse_expresion("?re=EKU9003173C9&rr=XAXX010101000&tt=1160.000000&id=6B1F2A3C-0000-4000-8000-00000000ABCD")
{'re': 'EKU9003173C9', 'rr': 'XAXX010101000', 'tt': '1160.000000', 'id': '6B1F2A3C-0000-4000-8000-00000000ABCD'}
>>> parse_expresion("?re=H&amp;E951128469&rr=XAXX010101000&tt=1&id=X")["re"]   # '&' inside an RFC
'H&E951128469'

The client is ``pac.SatStatusClient`` (any endpoint: SAT's, or the local imitation in ``cfdi.sandbox``); the
caller checks the endpoint first (``core.outbound``).
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from lxml import etree

OFFICIAL_URL = "https://consultaqr.facturaelectronica.sat.gob.mx/ConsultaCFDIService.svc"
SOAP_ACTION = "http://tempuri.org/IConsultaCFDIService/Consulta"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TEMPURI = "http://tempuri.org/"
RESULT_NS = "http://schemas.datacontract.org/2004/07/Sat.Cfdi.Negocio.ConsultaCfdi.Servicio"
FOUND = "S - Comprobante obtenido satisfactoriamente."
INVALID = "N - 601: La expresión impresa proporcionada no es válida."
NOT_FOUND = "N - 602: Comprobante no encontrado."
FIELDS = ("CodigoEstatus", "EsCancelable", "Estado", "EstatusCancelacion", "ValidacionEFOS")
MAX_RESPONSE_BYTES = 64 * 1024
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def expresion_impresa(rfc_emisor: str, rfc_receptor: str, total: str, uuid: str) -> str:
    """The expression SAT's status service reads (an ``&`` inside an RFC is written ``&amp;``, as SAT asks)."""
    def rfc(v):
        return (v or "").strip().upper().replace("&", "&amp;")
    return f"?re={rfc(rfc_emisor)}&rr={rfc(rfc_receptor)}&tt={(total or '').strip()}&id={(uuid or '').strip().upper()}"


def parse_expresion(text: str) -> dict:
    """``re``/``rr``/``tt``/``id`` (and ``fe`` when present) of an expresión impresa; missing keys absent."""
    out = {}
    for part in (text or "").strip().lstrip("?").replace("&amp;", "\x00").split("&"):
        key, eq, value = part.partition("=")
        if eq and key.strip() in ("re", "rr", "tt", "id", "fe"):
            out[key.strip()] = value.strip().replace("\x00", "&")
    return out


def request_body(expresion: str) -> bytes:
    """The SOAP 1.1 envelope of ``Consulta`` (the expression in CDATA, as SAT's clients send it)."""
    return (f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:tem="{TEMPURI}">'
            f"<soap:Body><tem:Consulta><tem:expresionImpresa><![CDATA[{expresion}]]></tem:expresionImpresa>"
            "</tem:Consulta></soap:Body></soap:Envelope>").encode("utf-8")


def response_body(codigo_estatus: str, estado: str, es_cancelable: str = "", estatus_cancelacion: str = "",
                  validacion_efos: str = "") -> bytes:
    """The answer as SAT's WCF service writes it (``a:`` data-contract elements in alphabetical order)."""
    values = dict(zip(FIELDS, (codigo_estatus, es_cancelable, estado, estatus_cancelacion, validacion_efos)))
    inner = "".join(f"<a:{k}>{escape(v)}</a:{k}>" if v else f"<a:{k}/>" for k, v in values.items())
    return (f'<s:Envelope xmlns:s="{SOAP_ENV}"><s:Body><ConsultaResponse xmlns="{TEMPURI}">'
            f'<ConsultaResult xmlns:a="{RESULT_NS}" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">{inner}'
            "</ConsultaResult></ConsultaResponse></s:Body></s:Envelope>").encode("utf-8")


def parse_response(data: bytes) -> dict:
    """The fields (``FIELDS``, '' when absent) of a ``ConsultaResponse``; ``ValueError`` when it is not one
    (or a SOAP fault).

    >>> parse_response(response_body(NOT_FOUND, "No Encontrado"))["Estado"]
    'No Encontrado'
    """
    if len(data) > MAX_RESPONSE_BYTES:
        raise ValueError("respuesta del SAT demasiado grande")
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"respuesta del SAT ilegible: {exc}") from None
    result = root.find(f"{{{SOAP_ENV}}}Body/{{{TEMPURI}}}ConsultaResponse/{{{TEMPURI}}}ConsultaResult")
    if result is None:
        fault = root.findtext(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault/faultstring")
        raise ValueError(f"el SAT respondió un error: {fault}" if fault else "respuesta del SAT sin ConsultaResult")
    got = {etree.QName(el).localname: (el.text or "").strip() for el in result}
    return {k: got.get(k, "") for k in FIELDS}
