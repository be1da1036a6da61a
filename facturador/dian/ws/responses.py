"""DIAN web-service results as dataclasses, parsed from (and, for the sandbox, written to) SOAP responses.

The data contracts follow DIAN's WCF service (shared/reference/dian.md §4.4): ``DianResponse`` (namespace
``http://schemas.datacontract.org/2004/07/DianResponse``), ``UploadDocumentResponse`` with
``XmlParamsResponseTrackId`` entries, ``NumberRangeResponseList``/``NumberRangeResponse`` and ``EventResponse``.
Parsing goes by local names, so prefixes and the odd unprefixed element that DIAN emits do not matter.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

from lxml import etree

from ..errors import DianError
from .soap import ARRAYS, SOAP, WCF, WSA, WSSE, WSU, XSI, SoapError, utc_iso

NS_DIAN_RESPONSE = "http://schemas.datacontract.org/2004/07/DianResponse"
NS_UPLOAD = "http://schemas.datacontract.org/2004/07/UploadDocumentResponse"
NS_TRACK = "http://schemas.datacontract.org/2004/07/XmlParamsResponseTrackId"
NS_RANGE_LIST = "http://schemas.datacontract.org/2004/07/NumberRangeResponseList"
NS_RANGE = "http://schemas.datacontract.org/2004/07/NumberRangeResponse"
NS_EVENT = "http://schemas.datacontract.org/2004/07/EventResponse"

STATUS_ACCEPTED = "00"
STATUS_REJECTED = "99"
STATUS_IN_PROCESS = "98"
STATUS_NOT_FOUND = "66"
STATUS_ZIP_OR_AUTH = "89"
STATUS_TEST_SET = "2"
DUPLICATE_RULE = "90"
STATUS_TEXT = {
    STATUS_ACCEPTED: "Procesado Correctamente.",
    STATUS_REJECTED: "Validación contiene errores en campos mandatorios.",
    STATUS_IN_PROCESS: "Batch en proceso de validación.",
    STATUS_NOT_FOUND: "TrackId no existe en los registros de la DIAN.",
}

# "Regla: FAD06, Rechazo: ..." / "Regla: FAJ40, Notificación: ..." (the form DIAN used until 2019 and still uses in
# some answers) and "Regla: AC38b Documento fue enviado ..." (Anexo Técnico 1.9: no severity word, the severity
# follows from the answer: IsValid false -> rejection, true -> notification).
_RULE_RE = re.compile(r"^\s*Regla\s*:?\s*(?P<code>[A-Za-z0-9][A-Za-z0-9_.]*)\s*[,:;-]?\s*"
                      r"(?:(?P<kind>Rechazo|Notificaci[oó]n)\s*:\s*)?(?P<msg>.*)$", re.IGNORECASE | re.DOTALL)

REJECTION = "rejection"
NOTIFICATION = "notification"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class RuleMessage:
    """One ``ErrorMessage`` entry: ``"Regla: FAD06, Rechazo: ..."`` -> code FAD06, severity rejection;
    ``"Regla: AC38b Documento ..."`` (Anexo 1.9) -> code AC38b, severity ``default`` (given by the answer)."""
    code: str | None
    severity: str          # rejection | notification | unknown (free text without "Regla:", or no context)
    message: str
    raw: str

    @classmethod
    def parse(cls, raw: str, default: str = UNKNOWN) -> "RuleMessage":
        """``default`` is the severity of a rule line that does not name one (the 1.9 form): the caller knows it
        from the answer (``parse_dian_response`` passes rejection for IsValid false, notification for true)."""
        m = _RULE_RE.match(raw or "")
        if not m:
            return cls(None, UNKNOWN, " ".join((raw or "").split()), raw or "")
        if m["kind"]:
            kind = REJECTION if m["kind"].lower().startswith("rech") else NOTIFICATION
        else:
            kind = default
        return cls(m["code"], kind, " ".join(m["msg"].split()), raw)

    def format(self) -> str:
        if self.code is None:
            return self.message
        if self.severity == UNKNOWN:
            return f"Regla: {self.code} {self.message}"
        return f"Regla: {self.code}, {'Rechazo' if self.severity == REJECTION else 'Notificación'}: {self.message}"


@dataclass
class DianResponse:
    """Result of SendBillSync / GetStatus, and each entry of GetStatusZip."""
    status_code: str
    is_valid: bool
    status_description: str = ""
    status_message: str = ""
    messages: list[RuleMessage] = field(default_factory=list)
    xml_document_key: str | None = None          # CUFE/CUDE
    xml_file_name: str | None = None
    application_response: bytes | None = None    # DIAN's ApplicationResponse, verbatim (decoded XmlBase64Bytes,
    #                                               taken out of its zip when DIAN sends it zipped)

    @property
    def summary(self) -> str:
        """DIAN's description and message in one line, as stored beside the document or event."""
        return " ".join(filter(None, [self.status_description, self.status_message]))

    def rule_dicts(self) -> list[dict]:
        """The rule messages as stored (JSON): ``{"code", "message", "severity"}`` each."""
        return [{"code": m.code or "", "message": m.message, "severity": m.severity} for m in self.messages]

    @property
    def rejections(self) -> list[RuleMessage]:
        return [m for m in self.messages if m.severity == REJECTION]

    @property
    def notifications(self) -> list[RuleMessage]:
        return [m for m in self.messages if m.severity == NOTIFICATION]

    @property
    def is_duplicate(self) -> bool:
        """DIAN says "Regla: 90, Rechazo: Documento procesado anteriormente." (already accepted before)."""
        return any(m.code == DUPLICATE_RULE for m in self.messages)

    @property
    def in_process(self) -> bool:
        return self.status_code == STATUS_IN_PROCESS or (
            self.status_code in ("", None) and "proceso" in (self.status_description or "").lower())

    @property
    def not_found(self) -> bool:
        """66: DIAN has no record of that track id (CUFE or ZipKey)."""
        return self.status_code == STATUS_NOT_FOUND

    @property
    def test_set_accepted(self) -> bool:
        return "se encuentra aceptado" in (self.status_description or "").lower()

    @property
    def accepted(self) -> bool:
        """Valid document (00, notifications allowed) or a duplicate of an already accepted one (rule 90)."""
        return (self.is_valid and self.status_code == STATUS_ACCEPTED) or self.is_duplicate

    @property
    def rejected(self) -> bool:
        return not self.accepted and not self.in_process and not self.test_set_accepted

    @property
    def final(self) -> bool:
        return not self.in_process


@dataclass
class TrackIdMessage:
    """``XmlParamsResponseTrackId``: a per-file message of an async upload."""
    success: bool
    document_key: str | None = None
    sender_code: str | None = None
    xml_file_name: str | None = None
    processed_message: str = ""


@dataclass
class UploadResponse:
    """Result of SendBillAsync / SendTestSetAsync."""
    zip_key: str | None
    errors: list[TrackIdMessage] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.zip_key)


@dataclass
class NumberingRange:
    resolution_number: str
    resolution_date: str
    prefix: str
    from_number: int
    to_number: int
    valid_date_from: str
    valid_date_to: str
    technical_key: str | None


@dataclass
class NumberingRangeResponse:
    operation_code: str
    operation_description: str
    ranges: list[NumberingRange] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.operation_code == "100"


@dataclass
class XmlDocumentResponse:
    """Result of GetXmlByDocumentKey (``EventResponse``)."""
    code: str
    message: str
    xml: bytes | None

    @property
    def ok(self) -> bool:
        return self.code == "100" and self.xml is not None


# ------------------------------------------------------------------------------------------------ parsing
def _local(el) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _child(el, name: str):
    if el is None:
        return None
    for c in el:
        if _local(c) == name:
            return c
    return None


def _text(el, name: str) -> str | None:
    c = _child(el, name)
    if c is None or c.get(f"{{{XSI}}}nil") == "true":
        return None
    return (c.text or "").strip()


def _b64decode(value: str | None, field_name: str) -> bytes | None:
    if not value:
        return None
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise SoapError("ws_base64", field_name, f"El campo {field_name} de la respuesta no es base64 válido.",
                        f"invalid base64 in {field_name}") from None


def _maybe_unzip(data: bytes | None) -> bytes | None:
    """Some DIAN answers carry the XML zipped (``PK`` header): return the single XML inside, else the bytes."""
    if data and data[:4] == b"PK\x03\x04":
        from .packaging import xml_from_zip
        return xml_from_zip(data)[1]
    return data


def _result(root, operation: str):
    body = root.find(f"{{{SOAP}}}Body")
    resp = _child(body, f"{operation}Response")
    result = _child(resp, f"{operation}Result")
    if result is None:
        raise SoapError("ws_response", f"{operation}Result", f"La respuesta de {operation} no tiene resultado.",
                        f"no {operation}Result in response")
    return result


def parse_dian_response(el) -> DianResponse:
    is_valid = (_text(el, "IsValid") or "").lower() == "true"
    status_code = _text(el, "StatusCode") or ""
    # A rule line without a severity word (Anexo 1.9) takes it from the verdict: on a valid document it can only be
    # a notification, on an invalid one DIAN lists the rules that made it fail.
    default = NOTIFICATION if is_valid else REJECTION
    errors = _child(el, "ErrorMessage")
    messages = []
    if errors is not None and errors.get(f"{{{XSI}}}nil") != "true":
        messages = [RuleMessage.parse((s.text or "").strip(), default) for s in errors if _local(s) == "string"]
    try:
        ar = _maybe_unzip(_b64decode(_text(el, "XmlBase64Bytes"), "XmlBase64Bytes"))
    except DianError:
        # The ApplicationResponse is the proof of an accepted document: a broken one is an error. On any other
        # verdict it is informative only and must not hide the verdict and its rules (the Anexo's own example
        # carries the placeholder "xmlbase64").
        if is_valid or status_code == STATUS_ACCEPTED:
            raise
        ar = None
    return DianResponse(
        status_code=status_code,
        is_valid=is_valid,
        status_description=_text(el, "StatusDescription") or "",
        status_message=_text(el, "StatusMessage") or "",
        messages=messages,
        xml_document_key=_text(el, "XmlDocumentKey") or None,
        xml_file_name=_text(el, "XmlFileName") or None,
        application_response=ar,
    )


def parse_result(root, operation: str):
    """Parse the body of a (non-fault) response envelope for ``operation``."""
    result = _result(root, operation)
    if operation in DIAN_RESPONSE_OPERATIONS:
        return parse_dian_response(result)
    if operation == "GetStatusZip":
        return [parse_dian_response(c) for c in result if _local(c) == "DianResponse"]
    if operation in UPLOAD_OPERATIONS:
        errors = []
        lst = _child(result, "ErrorMessageList")
        if lst is not None and lst.get(f"{{{XSI}}}nil") != "true":
            for c in lst:
                if _local(c) == "XmlParamsResponseTrackId":
                    errors.append(TrackIdMessage((_text(c, "Success") or "").lower() == "true",
                                                 _text(c, "DocumentKey"), _text(c, "SenderCode"),
                                                 _text(c, "XmlFileName"), _text(c, "ProcessedMessage") or ""))
        return UploadResponse(_text(result, "ZipKey") or None, errors)
    if operation == "GetNumberingRange":
        ranges = []
        lst = _child(result, "ResponseList")
        for c in (lst if lst is not None else []):
            if _local(c) != "NumberRangeResponse":
                continue
            ranges.append(NumberingRange(_text(c, "ResolutionNumber") or "", _text(c, "ResolutionDate") or "",
                                         _text(c, "Prefix") or "", int(_text(c, "FromNumber") or 0),
                                         int(_text(c, "ToNumber") or 0), _text(c, "ValidDateFrom") or "",
                                         _text(c, "ValidDateTo") or "", _text(c, "TechnicalKey") or None))
        return NumberingRangeResponse(_text(result, "OperationCode") or "",
                                      _text(result, "OperationDescription") or "", ranges)
    if operation == "GetXmlByDocumentKey":
        return XmlDocumentResponse(_text(result, "Code") or "", _text(result, "Message") or "",
                                   _maybe_unzip(_b64decode(_text(result, "XmlBytesBase64"), "XmlBytesBase64")))
    if operation in CONTRACT_OPERATIONS:
        return _read_contract(result, CONTRACT_OPERATIONS[operation])
    raise SoapError("ws_operation", "operation", f"Operación desconocida: {operation}.", f"unknown {operation}")


# ------------------------------------------------------------------------------------------------ writing
def _sub(parent, tag, text=None, nil=False, nsmap=None):
    el = etree.SubElement(parent, tag, nsmap=nsmap) if nsmap else etree.SubElement(parent, tag)
    if nil:
        el.set(f"{{{XSI}}}nil", "true")
    elif text is not None:
        el.text = text
    return el


def _write_dian_response(parent, tag, r: DianResponse, nsmap=None):
    b = NS_DIAN_RESPONSE
    el = _sub(parent, tag, nsmap=nsmap)
    if r.messages:
        em = _sub(el, f"{{{b}}}ErrorMessage", nsmap={"c": ARRAYS})
        for m in r.messages:
            _sub(em, f"{{{ARRAYS}}}string", m.raw or m.format())
    else:
        _sub(el, f"{{{b}}}ErrorMessage", nil=True, nsmap={"c": ARRAYS})
    _sub(el, f"{{{b}}}IsValid", "true" if r.is_valid else "false")
    _sub(el, f"{{{b}}}StatusCode", r.status_code)
    for name, value in (("StatusDescription", r.status_description), ("StatusMessage", r.status_message)):
        _sub(el, f"{{{b}}}{name}", value or None, nil=not value)
    ar = r.application_response
    _sub(el, f"{{{b}}}XmlBase64Bytes", base64.b64encode(ar).decode("ascii") if ar else None, nil=not ar)
    _sub(el, f"{{{b}}}XmlBytes", nil=True)
    _sub(el, f"{{{b}}}XmlDocumentKey", r.xml_document_key, nil=not r.xml_document_key)
    _sub(el, f"{{{b}}}XmlFileName", r.xml_file_name, nil=not r.xml_file_name)
    return el


def build_response(operation: str, result) -> bytes:
    """Response envelope for ``operation`` carrying ``result`` (the dataclass the client would parse)."""
    env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"s": SOAP, "a": WSA, "u": WSU})
    header = _sub(env, f"{{{SOAP}}}Header")
    action = _sub(header, f"{{{WSA}}}Action", f"http://wcf.dian.colombia/IWcfDianCustomerServices/{operation}Response")
    action.set(f"{{{SOAP}}}mustUnderstand", "1")
    sec = _sub(header, f"{{{WSSE}}}Security", nsmap={"o": WSSE})
    sec.set(f"{{{SOAP}}}mustUnderstand", "1")
    ts = _sub(sec, f"{{{WSU}}}Timestamp")
    ts.set(f"{{{WSU}}}Id", "_0")
    now = dt.datetime.now(dt.timezone.utc)
    _sub(ts, f"{{{WSU}}}Created", utc_iso(now))
    _sub(ts, f"{{{WSU}}}Expires", utc_iso(now + dt.timedelta(minutes=5)))
    body = _sub(env, f"{{{SOAP}}}Body")
    resp = _sub(body, f"{{{WCF}}}{operation}Response", nsmap={None: WCF})
    tag = f"{{{WCF}}}{operation}Result"
    if operation in DIAN_RESPONSE_OPERATIONS:
        _write_dian_response(resp, tag, result, nsmap={"b": NS_DIAN_RESPONSE, "i": XSI})
    elif operation == "GetStatusZip":
        res = _sub(resp, tag, nsmap={"b": NS_DIAN_RESPONSE, "i": XSI})
        for r in result:
            _write_dian_response(res, f"{{{NS_DIAN_RESPONSE}}}DianResponse", r)
    elif operation in UPLOAD_OPERATIONS:
        res = _sub(resp, tag, nsmap={"b": NS_UPLOAD, "i": XSI})
        if result.errors:
            lst = _sub(res, f"{{{NS_UPLOAD}}}ErrorMessageList", nsmap={"c": NS_TRACK})
            for e in result.errors:
                t = _sub(lst, f"{{{NS_TRACK}}}XmlParamsResponseTrackId")
                _sub(t, f"{{{NS_TRACK}}}DocumentKey", e.document_key, nil=not e.document_key)
                _sub(t, f"{{{NS_TRACK}}}ProcessedMessage", e.processed_message)
                _sub(t, f"{{{NS_TRACK}}}SenderCode", e.sender_code, nil=not e.sender_code)
                _sub(t, f"{{{NS_TRACK}}}Success", "true" if e.success else "false")
                _sub(t, f"{{{NS_TRACK}}}XmlFileName", e.xml_file_name, nil=not e.xml_file_name)
        else:
            _sub(res, f"{{{NS_UPLOAD}}}ErrorMessageList", nil=True, nsmap={"c": NS_TRACK})
        _sub(res, f"{{{NS_UPLOAD}}}ZipKey", result.zip_key, nil=not result.zip_key)
    elif operation == "GetNumberingRange":
        res = _sub(resp, tag, nsmap={"b": NS_RANGE_LIST, "i": XSI})
        _sub(res, f"{{{NS_RANGE_LIST}}}OperationCode", result.operation_code)
        _sub(res, f"{{{NS_RANGE_LIST}}}OperationDescription", result.operation_description)
        # no ranges (refused or none found): ResponseList nil, as DIAN answers (2019 capture)
        lst = _sub(res, f"{{{NS_RANGE_LIST}}}ResponseList", nil=not result.ranges, nsmap={"c": NS_RANGE})
        for rg in result.ranges:
            n = _sub(lst, f"{{{NS_RANGE}}}NumberRangeResponse")
            for name, value in (("ResolutionNumber", rg.resolution_number), ("ResolutionDate", rg.resolution_date),
                                ("Prefix", rg.prefix), ("FromNumber", str(rg.from_number)),
                                ("ToNumber", str(rg.to_number)), ("ValidDateFrom", rg.valid_date_from),
                                ("ValidDateTo", rg.valid_date_to), ("TechnicalKey", rg.technical_key)):
                _sub(n, f"{{{NS_RANGE}}}{name}", value, nil=value is None)
    elif operation == "GetXmlByDocumentKey":
        res = _sub(resp, tag, nsmap={"b": NS_EVENT, "i": XSI})
        _sub(res, f"{{{NS_EVENT}}}Code", result.code)
        _sub(res, f"{{{NS_EVENT}}}Message", result.message)
        _sub(res, f"{{{NS_EVENT}}}XmlBytesBase64",
             base64.b64encode(result.xml).decode("ascii") if result.xml else None, nil=not result.xml)
    elif operation in CONTRACT_OPERATIONS:
        _write_contract(_sub(resp, tag, nsmap={"b": _CONTRACTS[type(result)][0], "i": XSI}), result)
    else:
        raise SoapError("ws_operation", "operation", f"Operación desconocida: {operation}.", f"unknown {operation}")
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


# ------------------------------------------------------------------------------------------------ newer operations
# GetAcquirer, GetExchangeEmails and GetDocumentInfo answer with their own data contracts (WSDL); the element order of
# each contract is the WSDL's (DataContractSerializer: alphabetical), written and read by the table below.
NS_ACQUIRER = "http://schemas.datacontract.org/2004/07/Gosocket.Dian.Services.Utils.Common"
NS_EXCHANGE = "http://schemas.datacontract.org/2004/07/ExchangeEmailResponse"
NS_DOCINFO = "http://schemas.datacontract.org/2004/07/DocumentInfoResponse"
_DC = "http://schemas.datacontract.org/2004/07/"
NS_DOCUMENTO, NS_NOTA, NS_CONCEPTO, NS_ENTIDAD = _DC + "Documento", _DC + "Nota", _DC + "ConceptoCorreccion", \
    _DC + "Entidad"
NS_TENEDOR, NS_NUMERO, NS_TOTAL, NS_VALIDACION = _DC + "LegitimoTenedor", _DC + "NumeroDocumento", \
    _DC + "TotalEImpuestos", _DC + "ValidacionDoc"
NS_EVENTO, NS_REFERENCIA = _DC + "Evento", _DC + "ReferenciaDocumento"

STATUS_OK = "200"            # approximation: the code DIAN uses for a successful GetAcquirer/GetDocumentInfo
STATUS_MISSING = "404"       # approximation: nothing found
STATUS_BAD_REQUEST = "400"   # approximation: a malformed query (unknown identification type, ...)


@dataclass
class AcquirerResponse:
    """``GetAcquirer`` (``AdquirienteResponse``): the name and reception e-mail DIAN has for a buyer."""
    status_code: str
    message: str = ""
    name: str | None = None
    email: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code == STATUS_OK and bool(self.name or self.email)


@dataclass
class ExchangeEmailsResponse:
    """``GetExchangeEmails`` (``ExchangeEmailResponse``): a CSV of the e-invoicing taxpayers' reception e-mails,
    base64 in ``CsvBase64Bytes`` (an ``xs:string`` in the contract). ``rows`` is that CSV read as dicts."""
    success: bool
    status_code: str = ""
    message: str = ""
    csv: bytes | None = None

    @property
    def ok(self) -> bool:
        return self.success

    @property
    def rows(self) -> list[dict]:
        import csv
        import io
        if not self.csv:
            return []
        text = self.csv.decode("utf-8-sig")
        return list(csv.DictReader(io.StringIO(text)))


@dataclass
class Entity:
    """``Entidad``: a party of a document or event."""
    name: str | None = None
    number: str | None = None        # NumeroDoc
    origin: str | None = None        # Procedencia
    id_type: str | None = None       # TipoDoc


@dataclass
class DocumentNumber:
    """``NumeroDocumento``: serie (prefix), folio (number), issue and signing dates."""
    issue_date: str | None = None
    signing_date: str | None = None
    folio: str | None = None
    series: str | None = None


@dataclass
class Totals:
    """``TotalEImpuestos``."""
    iva: Decimal = Decimal("0")
    total: Decimal = Decimal("0")


@dataclass
class Validation:
    """``ValidacionDoc``: one validation rule and its result."""
    is_notification: bool = False
    is_valid: bool = True
    message: str | None = None       # MensajeError
    name: str | None = None          # Nombre (the rule)
    status: str | None = None


@dataclass
class LegitimateHolder:
    """``LegitimoTenedor``: who holds the invoice as a título valor."""
    registered_as_title_date: str | None = None   # FechaInscripcionComoTituloValor
    name: str | None = None


@dataclass
class CorrectionConcept:
    """``ConceptoCorreccion`` of a note (discrepancy code)."""
    code: str | None = None
    description: str | None = None
    name: str | None = None


@dataclass
class DocumentReferenceInfo:
    """``ReferenciaDocumento``: a document an event or note refers to."""
    description: str | None = None
    document_type_id: str | None = None
    document_type_name: str | None = None
    issuer: Entity | None = None
    date: str | None = None
    receiver: Entity | None = None
    uuid: str | None = None


@dataclass
class EventInfo:
    """``Evento``: an event (ApplicationResponse 030-034, ...) registered on a document."""
    code: str | None = None
    description: str | None = None
    issuer: Entity | None = None
    number: DocumentNumber | None = None
    receiver: Entity | None = None
    references: list[DocumentReferenceInfo] = field(default_factory=list)
    uuid: str | None = None
    validations: list[Validation] = field(default_factory=list)


@dataclass
class NoteInfo:
    """``Nota``: a credit or debit note that refers to the document."""
    concept: CorrectionConcept | None = None
    issuer: Entity | None = None
    holder: LegitimateHolder | None = None
    type_name: str | None = None
    number: DocumentNumber | None = None
    receiver: Entity | None = None
    totals: Totals | None = None
    uuid: str | None = None
    validations: list[Validation] = field(default_factory=list)


@dataclass
class DocumentInfo:
    """``Documento``: what DIAN knows about a document, with its notes (``DocumentTags``), events and state
    (``Estado``: code -> description)."""
    document_code: str | None = None
    document_description: str | None = None
    notes: list[NoteInfo] = field(default_factory=list)
    document_type_id: str | None = None
    document_type_name: str | None = None
    issuer: Entity | None = None
    status: dict[int, str] = field(default_factory=dict)
    events: list[EventInfo] = field(default_factory=list)
    holder: LegitimateHolder | None = None
    number: DocumentNumber | None = None
    receiver: Entity | None = None
    references: list[DocumentReferenceInfo] = field(default_factory=list)
    totals: Totals | None = None
    uuid: str | None = None
    validations: list[Validation] = field(default_factory=list)

    @property
    def event_codes(self) -> list[str]:
        return [e.code for e in self.events if e.code]


@dataclass
class DocumentInfoResponse:
    """``GetDocumentInfo`` (``DocumentInfoResponse``)."""
    status_code: str
    status_description: str = ""
    documents: list[DocumentInfo] = field(default_factory=list)
    compressed: str | None = None    # CompressedDocumentInfo

    @property
    def ok(self) -> bool:
        return self.status_code == STATUS_OK and bool(self.documents)

    @property
    def document(self) -> DocumentInfo | None:
        return self.documents[0] if self.documents else None


# Contract table: class -> (namespace of its elements, [(element, attribute, kind)]) in the WSDL's order.
# kinds: "s" nillable string, "b" boolean, "d" double (Decimal), a class (nillable object),
# ("list", class, item namespace, item element) (nillable array; empty -> nil), "kv" ArrayOfKeyValueOfintstring.
def _arr(cls, ns, name):
    return ("list", cls, ns, name)


_CONTRACTS = {
    AcquirerResponse: (NS_ACQUIRER, [("Message", "message", "s"), ("ReceiverEmail", "email", "s"),
                                     ("ReceiverName", "name", "s"), ("StatusCode", "status_code", "s")]),
    ExchangeEmailsResponse: (NS_EXCHANGE, [("CsvBase64Bytes", "csv", "b64s"), ("Message", "message", "s"),
                                           ("StatusCode", "status_code", "s"), ("Success", "success", "b")]),
    Entity: (NS_ENTIDAD, [("Nombre", "name", "s"), ("NumeroDoc", "number", "s"), ("Procedencia", "origin", "s"),
                          ("TipoDoc", "id_type", "s")]),
    DocumentNumber: (NS_NUMERO, [("FechaEmision", "issue_date", "s"), ("FechaFirma", "signing_date", "s"),
                                 ("Folio", "folio", "s"), ("Serie", "series", "s")]),
    Totals: (NS_TOTAL, [("Iva", "iva", "d"), ("Total", "total", "d")]),
    Validation: (NS_VALIDACION, [("IsNotification", "is_notification", "b"), ("IsValida", "is_valid", "b"),
                                 ("MensajeError", "message", "s"), ("Nombre", "name", "s"),
                                 ("Status", "status", "s")]),
    LegitimateHolder: (NS_TENEDOR, [("FechaInscripcionComoTituloValor", "registered_as_title_date", "s"),
                                    ("Nombre", "name", "s")]),
    CorrectionConcept: (NS_CONCEPTO, [("Codigo", "code", "s"), ("Descripcion", "description", "s"),
                                      ("Nombre", "name", "s")]),
    DocumentReferenceInfo: (NS_REFERENCIA, [
        ("Descripcion", "description", "s"), ("DocumentTypeId", "document_type_id", "s"),
        ("DocumentTypeName", "document_type_name", "s"), ("Emisor", "issuer", Entity), ("Fecha", "date", "s"),
        ("Receptor", "receiver", Entity), ("UUID", "uuid", "s")]),
    EventInfo: (NS_EVENTO, [
        ("Codigo", "code", "s"), ("Descripcion", "description", "s"), ("Emisor", "issuer", Entity),
        ("NumeroDocumento", "number", DocumentNumber), ("Receptor", "receiver", Entity),
        ("ReferenciasDocumento", "references", _arr(DocumentReferenceInfo, NS_REFERENCIA, "ReferenciaDocumento")),
        ("UUID", "uuid", "s"), ("ValidacionesDoc", "validations", _arr(Validation, NS_VALIDACION, "ValidacionDoc"))]),
    NoteInfo: (NS_NOTA, [
        ("ConceptoCorreccion", "concept", CorrectionConcept), ("Emisor", "issuer", Entity),
        ("LegitimoTenedor", "holder", LegitimateHolder), ("NombreTipoDocumento", "type_name", "s"),
        ("NumeroDocumento", "number", DocumentNumber), ("Receptor", "receiver", Entity),
        ("TotalEImpuestos", "totals", Totals), ("UUID", "uuid", "s"),
        ("ValidacionesDoc", "validations", _arr(Validation, NS_VALIDACION, "ValidacionDoc"))]),
    DocumentInfo: (NS_DOCUMENTO, [
        ("DocumentCode", "document_code", "s"), ("DocumentDescription", "document_description", "s"),
        ("DocumentTags", "notes", _arr(NoteInfo, NS_NOTA, "Nota")), ("DocumentTypeId", "document_type_id", "s"),
        ("DocumentTypeName", "document_type_name", "s"), ("Emisor", "issuer", Entity), ("Estado", "status", "kv"),
        ("Eventos", "events", _arr(EventInfo, NS_EVENTO, "Evento")), ("LegitimoTenedor", "holder", LegitimateHolder),
        ("NumeroDocumento", "number", DocumentNumber), ("Receptor", "receiver", Entity),
        ("Referencias", "references", _arr(DocumentReferenceInfo, NS_REFERENCIA, "ReferenciaDocumento")),
        ("TotalEImpuestos", "totals", Totals), ("UUID", "uuid", "s"),
        ("ValidacionesDoc", "validations", _arr(Validation, NS_VALIDACION, "ValidacionDoc"))]),
    DocumentInfoResponse: (NS_DOCINFO, [
        ("CompressedDocumentInfo", "compressed", "s"),
        ("DocumentInfo", "documents", _arr(DocumentInfo, NS_DOCUMENTO, "Documento")),
        ("StatusCode", "status_code", "s"), ("StatusDescription", "status_description", "s")]),
}


def _write_contract(el, obj):
    ns, fields = _CONTRACTS[type(obj)]
    for name, attr, kind in fields:
        value, tag = getattr(obj, attr), f"{{{ns}}}{name}"
        if kind == "s":
            _sub(el, tag, value, nil=value is None)
        elif kind == "b64s":
            _sub(el, tag, base64.b64encode(value).decode("ascii") if value else None, nil=not value)
        elif kind == "b":
            _sub(el, tag, "true" if value else "false")
        elif kind == "d":
            _sub(el, tag, str(Decimal(value or 0)))
        elif kind == "kv":
            lst = _sub(el, tag, nil=not value, nsmap={"c": ARRAYS})
            for k, v in (value or {}).items():
                kv = _sub(lst, f"{{{ARRAYS}}}KeyValueOfintstring")
                _sub(kv, f"{{{ARRAYS}}}Key", str(int(k)))
                _sub(kv, f"{{{ARRAYS}}}Value", v, nil=v is None)
        elif isinstance(kind, tuple):
            _, cls, item_ns, item = kind
            lst = _sub(el, tag, nil=not value, nsmap={"c": item_ns} if item_ns != ns else None)
            for v in value or ():
                _write_contract(_sub(lst, f"{{{item_ns}}}{item}"), v)
        else:  # nested object
            child = _sub(el, tag, nil=value is None,
                         nsmap={"c": _CONTRACTS[kind][0]} if _CONTRACTS[kind][0] != ns else None)
            if value is not None:
                _write_contract(child, value)
    return el


def _read_contract(el, cls):
    _, fields = _CONTRACTS[cls]
    values = {}
    for name, attr, kind in fields:
        c = _child(el, name)
        nil = c is None or c.get(f"{{{XSI}}}nil") == "true"
        if kind == "s":
            values[attr] = None if nil else (c.text or "").strip()
        elif kind == "b64s":
            values[attr] = None if nil else _b64decode((c.text or "").strip(), name)
        elif kind == "b":
            values[attr] = not nil and (c.text or "").strip().lower() == "true"
        elif kind == "d":
            values[attr] = Decimal((c.text or "0").strip() or "0") if not nil else Decimal("0")
        elif kind == "kv":
            values[attr] = {} if nil else {int(_text(kv, "Key") or 0): _text(kv, "Value") for kv in c
                                           if _local(kv) == "KeyValueOfintstring"}
        elif isinstance(kind, tuple):
            _, item_cls, _ns, item = kind
            values[attr] = [] if nil else [_read_contract(x, item_cls) for x in c if _local(x) == item]
        else:
            values[attr] = None if nil else _read_contract(c, kind)
    return cls(**values)


# Operation -> the shape of its result.
DIAN_RESPONSE_OPERATIONS = ("SendBillSync", "GetStatus", "SendEventUpdateStatus", "GetStatusEvent",
                            "GetReferenceNotes")
UPLOAD_OPERATIONS = ("SendBillAsync", "SendTestSetAsync", "SendBillAttachmentAsync")
CONTRACT_OPERATIONS = {"GetAcquirer": AcquirerResponse, "GetExchangeEmails": ExchangeEmailsResponse,
                       "GetDocumentInfo": DocumentInfoResponse}
