"""A local stand-in for DIAN's ``WcfDianCustomerServices``: a real HTTP SOAP 1.2 server for tests and demos.

It checks WS-Security as DIAN does (timestamp window, signature over ``wsa:To`` by the ``BinarySecurityToken``
certificate; SOAP fault otherwise), unzips what it receives, validates each XML with
``facturador.dian.validate.prevalidate`` and ``facturador.dian.verify.verify_document`` (XAdES signature, CUFE/CUDE
with the technical key of a registered range or the habilitación key, software PIN, totals, optional XSD), and
answers with DIAN's data contracts:

* accepted: ``00`` "Procesado Correctamente." with a UBL ``ApplicationResponse`` signed by the sandbox's own
  throw-away certificate (never a DIAN one), notifications in ``ErrorMessage``;
* rejected: ``99`` with ``"Regla: XXX, Rechazo: ..."`` messages;
* duplicate of an accepted document: ``99`` with ``Regla: 90, Rechazo: Documento procesado anteriormente.``, the
  original CUFE and ApplicationResponse;
* async uploads (``SendBillAsync``/``SendTestSetAsync``): a ``ZipKey``; ``GetStatusZip`` answers ``98`` "Batch en
  proceso de validación." for the first ``async_pending_polls`` queries, then the final per-document results;
* test sets: accepted invoices / credit notes / debit notes are counted per TestSetId; once the configured counts
  are reached ``GetStatusZip`` adds an entry with status ``2`` "Set de prueba con identificador <id> se encuentra
  Aceptado." (as DIAN does, ``IsValid`` false);
* ``GetStatus`` (by CUFE), ``GetNumberingRange`` (ranges with technical keys for NIT + software; ``401``
  "NIT: X no autorizado para consultar rangos de numeración del NIT: Y" when the certificate's NIT is neither the
  queried NIT, an authorised sender for it nor the owner of the software, as DIAN answered in 2019),
  ``GetXmlByDocumentKey`` (stored documents).
* RADIAN events (``SendEventUpdateStatus``): a signed ``ApplicationResponse`` about an invoice the service accepted,
  from its buyer (030, 031, 032, 033) or its supplier (034), in a valid order (030 first; 032 after 030; 031, 033,
  034 after 030 and 032; each code once; nothing after a 031 claim; no claim or second acceptance after 033/034;
  034 only once the term of ``events.TACIT_TERM_BUSINESS_DAYS`` business days after the 032 has passed), valid
  by its own rules (XSD with ``schema_dir``; signature; the sending software registered and the event's CUDE
  recomputed with its PIN, ``AAD06`` otherwise; a 031's claim concept; a 032's person);
  ``GetStatusEvent``, ``GetReferenceNotes`` and ``GetDocumentInfo`` answer from the documents and events held;
  ``GetAcquirer``/``GetExchangeEmails`` from a registry seeded with ``register_acquirer``;
  ``SendBillAttachmentAsync`` takes signed AttachedDocuments of accepted documents (results by GetStatusZip).
  Approximations: the event rule codes other than AAD06/ZB01/ZE02/90 (LGC01-LGC07, LGC20, AAH03, AAH09, AAF01,
  AAB24b), the ``200``/``404``/``400`` status codes of the newer contracts, the CSV columns, the text of
  GetStatusEvent/GetReferenceNotes.

Security as the WSDL's WS-Policy requires (``soap.verify_security``): the signature's ``KeyInfo`` may point to the
``BinarySecurityToken`` directly or by its ``#ThumbprintSHA1`` (``sp:RequireThumbprintReference``), the algorithm
suite is Basic256Sha256Rsa15 (RSA-SHA256 and SHA-256 only), and ``wsa:To`` must be the service's own address (the
URL the request reached, or ``address``), else a ``DestinationUnreachable`` fault as WCF's address filter answers.
``XmlFileName`` is the document's name without extension, as in DIAN's answers.

State lives in memory behind a lock and, with ``state_file``, is saved as JSON after every change.
Unknown details of DIAN's real service (exact codes of GetNumberingRange/GetXmlByDocumentKey failures, wording
of some messages) are approximations; they are marked below.

Start it with ``SandboxServer(...).start()`` or from the shell: ``python -m facturador.dian.sandbox --port 8089``
(``--port 0`` picks a free port and prints the URL).

**Authorised ranges.** DIAN learns a production numbering from MUISCA's form 1876 and gives it a technical key;
GetNumberingRange then answers it. Here the ranges are registered with ``register_range`` (Python), ``--range``
(start-up), or the local service's own administration endpoint, which is *not* part of DIAN's WSDL and answers
only on the loopback interface: ``POST /_admin/ranges`` with JSON ``{"nit", "prefix", "from_number", "to_number",
"resolution_number", "resolution_date", "valid_date_from", "valid_date_to", "software_id"?, "technical_key"?}``
(without a key the service makes one, as DIAN does; 201 with the range, its key included) and ``GET
/_admin/ranges?nit=N``. ``SandboxAdmin(url)`` and ``dian-sandbox register-range --url URL ...`` call it.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import datetime as dt
import hashlib
import ipaddress
import json
import logging
import os
import secrets
import sys
import tempfile
import threading
import time
import uuid as uuid_mod
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

from lxml import etree

from . import enablement, events
from ._read import text as _text  # compiled XPath, cached: these paths are read for every document
from .ns import DIAN_EXTENSIONS, NS, ROOT
from .ws import packaging, responses, soap
from .ws.responses import (DianResponse, NumberingRange, NumberingRangeResponse, RuleMessage, TrackIdMessage,
                           UploadResponse, XmlDocumentResponse)

log = logging.getLogger(__name__)

PATH = "/WcfDianCustomerServices.svc"
ADMIN_RANGES_PATH = "/_admin/ranges"  # the local service's own administration (not DIAN's WSDL), loopback only
HAB_TECHNICAL_KEY = enablement.TEST_TECHNICAL_KEY
HAB_PREFIXES = enablement.TEST_PREFIXES
HAB_RANGE = (enablement.TEST_RESOLUTION, *enablement.TEST_RANGE, enablement.TEST_VALID_FROM, enablement.TEST_VALID_TO)
DIAN_NIT, DIAN_DV, DIAN_NAME = "800197268", "4", "Unidad Especial Dirección de Impuestos y Aduanas Nacionales"
MAX_REQUEST_BYTES = 64 * 1024 * 1024

AR_NS = ROOT["ApplicationResponse"]
_EXT = DIAN_EXTENSIONS
KIND_LABEL = {"invoice": "Factura electrónica", "credit_note": "Nota Crédito electrónica",
              "debit_note": "Nota Débito electrónica"}
KIND_COUNTER = {"invoice": "invoices", "credit_note": "credit_notes", "debit_note": "debit_notes"}



def _not_found() -> DianResponse:
    """DIAN's answer for a trackId it does not know (or a document it did not accept)."""
    text = responses.STATUS_TEXT[responses.STATUS_NOT_FOUND]
    return DianResponse(responses.STATUS_NOT_FOUND, False, text, text)

@dataclass
class Range:
    """A numbering range known to the sandbox (what DIAN's GetNumberingRange returns)."""
    nit: str
    prefix: str
    from_number: int
    to_number: int
    technical_key: str
    software_id: str | None = None      # None: returned for any software of that NIT
    resolution_number: str = "18760000001"
    resolution_date: str = "2019-01-19"
    valid_date_from: str = "2019-01-19"
    valid_date_to: str = "2030-01-19"


@dataclass
class TestSet:
    """Required accepted documents per kind; counts of what was accepted so far."""
    id: str
    invoices: int = 2
    credit_notes: int = 1
    debit_notes: int = 1
    accepted: dict = field(default_factory=lambda: {"invoices": 0, "credit_notes": 0, "debit_notes": 0})
    sent: int = 0

    @property
    def is_accepted(self) -> bool:
        return all(self.accepted[k] >= getattr(self, k) for k in ("invoices", "credit_notes", "debit_notes"))

    @property
    def status_description(self) -> str:
        state = "Aceptado" if self.is_accepted else "En proceso"
        return f"Set de prueba con identificador {self.id} se encuentra {state}."


# ---------------------------------------------------------------------------------------------- JSON state helpers
def _resp_to_json(r: DianResponse) -> dict:
    d = dataclasses.asdict(r)
    d["messages"] = [m.raw or m.format() for m in r.messages]
    d["application_response"] = base64.b64encode(r.application_response).decode() if r.application_response else None
    return d


def _resp_from_json(d: dict) -> DianResponse:
    d = dict(d)
    d["messages"] = [RuleMessage.parse(m) for m in d.get("messages", [])]
    ar = d.get("application_response")
    d["application_response"] = base64.b64decode(ar) if ar else None
    return DianResponse(**d)


_SUPPLIER_TAX = "cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme"
_CUSTOMER_TAX = "cac:AccountingCustomerParty/cac:Party/cac:PartyTaxScheme"

# RADIAN events (ApplicationResponse cac:DocumentResponse/cac:Response/cbc:ResponseCode) the service registers.
EVENTS = events.EVENTS
ACCEPTANCES = ("033", "034")
# DIAN's identification types (code list TipoIdDoc) that GetAcquirer accepts.
ID_TYPES = frozenset({"11", "12", "13", "21", "22", "31", "41", "42", "47", "48", "50", "91"})


def _fields(root) -> dict:
    kind = packaging.ROOT_KIND.get(etree.QName(root).localname)
    number = _text(root, "cbc:ID") or ""
    prefix = _text(root, _EXT + "/sts:InvoiceControl/sts:AuthorizedInvoices/sts:Prefix")
    if prefix is None:  # notes: the prefix is the non-digit head of the number
        i = 0
        while i < len(number) and not number[i].isdigit():
            i += 1
        prefix = number[:i]
    consecutive = number[len(prefix):] if number.startswith(prefix) else ""
    return {
        "kind": kind if kind in KIND_LABEL else None,
        "number": number,
        "prefix": prefix,
        "consecutive": int(consecutive) if consecutive.isdigit() else None,
        "uuid": (_text(root, "cbc:UUID") or "").lower(),
        "issue_date": _text(root, "cbc:IssueDate") or "",
        "environment": _text(root, "cbc:ProfileExecutionID") or "",
        "supplier_nit": _text(root, "cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID") or "",
        "supplier_name": _text(root, "cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/cbc:RegistrationName")
        or "",
        "software_id": _text(root, _EXT + "/sts:SoftwareProvider/sts:SoftwareID") or "",
        "supplier_id_type": _text(root, _SUPPLIER_TAX + "/cbc:CompanyID/@schemeName") or "31",
        "customer_nit": _text(root, _CUSTOMER_TAX + "/cbc:CompanyID") or "",
        "customer_id_type": _text(root, _CUSTOMER_TAX + "/cbc:CompanyID/@schemeName") or "",
        "customer_name": _text(root, _CUSTOMER_TAX + "/cbc:RegistrationName") or "",
        "type_code": _text(root, "cbc:InvoiceTypeCode|cbc:CreditNoteTypeCode") or
        {"credit_note": "91", "debit_note": "92"}.get(kind, ""),
        "payable": _text(root, "cac:LegalMonetaryTotal/cbc:PayableAmount|cac:RequestedMonetaryTotal/"
                               "cbc:PayableAmount") or "0",
        "iva": _text(root, "cac:TaxTotal[cac:TaxSubtotal/cac:TaxCategory/cac:TaxScheme/cbc:ID='01']/cbc:TaxAmount")
        or "0",
        "reference_uuid": (_text(root, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:UUID") or "").lower(),
        "reference_number": _text(root, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID") or "",
        "discrepancy_code": _text(root, "cac:DiscrepancyResponse/cbc:ResponseCode") or "",
        "discrepancy_description": _text(root, "cac:DiscrepancyResponse/cbc:Description") or "",
        "signing_time": _text(root, "ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/ds:Signature/"
                                    "ds:Object/xades:QualifyingProperties/xades:SignedProperties/"
                                    "xades:SignedSignatureProperties/xades:SigningTime") or "",
    }


def _nit(value) -> str:
    """Digits of a NIT without its check digit (``900373076-1`` -> ``900373076``)."""
    return "".join(ch for ch in str(value or "").split("-")[0] if ch.isdigit())


def _stem(name: str | None) -> str | None:
    """``fv09...01.xml`` -> ``fv09...01``: DIAN's ``XmlFileName`` carries no extension."""
    if not name:
        return name
    base, dot, ext = name.rpartition(".")
    return base if dot and base and ext.lower() in ("xml", "zip") else name


def _same_address(a: str, b: str) -> bool:
    """Endpoint addresses compared as WCF's address filter does: scheme, host and port exactly (host without
    case), path without case and trailing slash."""
    ua, ub = urlparse(a.strip()), urlparse(b.strip())

    def port(u):
        return u.port or {"http": 80, "https": 443}.get(u.scheme.lower())
    try:
        return (ua.scheme.lower(), (ua.hostname or "").lower(), port(ua), ua.path.rstrip("/").lower()) == \
            (ub.scheme.lower(), (ub.hostname or "").lower(), port(ub), ub.path.rstrip("/").lower())
    except ValueError:  # bad port
        return False


def certificate_nit(cert) -> str | None:
    """NIT in a certificate subject (``serialNumber``, as Colombian CAs write it; DV and dashes removed)."""
    from cryptography.x509.oid import NameOID
    attrs = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    if not attrs:
        return None
    digits = "".join(ch for ch in str(attrs[0].value).split("-")[0] if ch.isdigit())
    return digits or None


# ---------------------------------------------------------------------------------------------- the service
class DianSandbox:
    """Protocol and business logic, independent of HTTP (``handle(body, content_type) -> (status, body, type)``)."""

    def __init__(self, ranges=(), test_sets=None, software=None, schema_dir: str | None = None,
                 state_file: str | None = None, async_pending_polls: int = 1, clock_skew: float = 300.0,
                 habilitacion: bool = True, sign_responses: bool = True,
                 authorized_senders: dict[str, list[str]] | None = None, address: str | None = None,
                 acquirers=()):
        self.lock = threading.RLock()
        # The address wsa:To must name; None: the URL each request reached (scheme http, its Host header, its path).
        self.address = address
        self._local = threading.local()
        # None: any valid WS-Security certificate may send for any NIT. Otherwise the certificate's NIT must be the
        # issuer's or be listed for it (a proveedor tecnológico), else status 89 as DIAN answers.
        self.authorized_senders = ({k: list(v) for k, v in authorized_senders.items()}
                                   if authorized_senders is not None else None)
        self.ranges: list[Range] = []
        self.software: dict[str, str] = dict(software or {})
        self.software_owner: dict[str, str] = {}  # software id -> NIT of its owner (when registered with one)
        self.test_sets: dict[str, TestSet] = {}
        self.documents: dict[str, dict] = {}     # uuid -> {number, nit, kind, xml, response, accepted, ...}
        self._accepted_numbers: dict[tuple, str] = {}  # (nit, number, kind) -> uuid of the accepted document
        self.batches: dict[str, dict] = {}       # zip_key -> {files, test_set_id, polls_left, results, kind}
        self.events: dict[str, dict] = {}        # CUDE -> {code, document_uuid, sender/receiver, xml, response, ...}
        self.acquirers: dict[str, dict] = {}     # "type:number" -> {id_type, number, name, email}
        self.schema_dir = schema_dir
        self.state_file = state_file
        self.async_pending_polls = async_pending_polls
        self.clock_skew = clock_skew
        self.habilitacion = habilitacion
        self.sign_responses = sign_responses
        self.request_count = 0
        self._fail_next: list[int] = []
        self._delay_next: list[float] = []
        self._signer = None
        if state_file and os.path.exists(state_file):
            self._load()
        for r in ranges:
            self.register_range(**r) if isinstance(r, dict) else self._add_range(r)
        for tid, cfg in (test_sets or {}).items():
            if tid not in self.test_sets:
                self.add_test_set(tid, **(cfg or {}))
        for a in acquirers:
            self.register_acquirer(**a) if isinstance(a, dict) else self.register_acquirer(*a)

    # ------------------------------------------------------------ configuration
    def _add_range(self, r: Range):
        with self.lock:
            self.ranges = [x for x in self.ranges if not (x.nit == r.nit and x.prefix == r.prefix and
                                                          x.from_number == r.from_number)]
            self.ranges.append(r)
            self._save()

    def register_range(self, nit: str, prefix: str, from_number: int, to_number: int,
                       technical_key: str | None = None, software_id: str | None = None, **extra) -> Range:
        """A numbering range DIAN knows (authorised with form 1876). Without ``technical_key`` the service makes one,
        as DIAN does, or keeps the key it already gave the same range (NIT, prefix, first number)."""
        nit = _nit(nit) or str(nit)
        with self.lock:
            if not technical_key:
                same = next((x for x in self.ranges if _nit(x.nit) == nit and x.prefix == prefix and
                             x.from_number == int(from_number)), None)
                technical_key = same.technical_key if same is not None else secrets.token_hex(32)
            r = Range(nit, prefix, int(from_number), int(to_number), technical_key, software_id or None, **extra)
            self._add_range(r)
        return r

    def ranges_of(self, nit: str) -> list[Range]:
        with self.lock:
            return [r for r in self.ranges if _nit(r.nit) == _nit(nit)]

    def register_range_json(self, data) -> Range:
        """``register_range`` from the administration endpoint's JSON; ``ValueError`` with a Spanish message when
        the data is not a valid authorised range."""
        if not isinstance(data, dict):
            raise ValueError("Se espera un objeto JSON.")
        missing = [k for k in ("nit", "prefix", "from_number", "to_number", "resolution_number") if data.get(k) in (None, "")]
        if missing:
            raise ValueError(f"Falta el campo {missing[0]}.")
        unknown = set(data) - {f.name for f in dataclasses.fields(Range)}
        if unknown:
            raise ValueError(f"Campo desconocido: {sorted(unknown)[0]}.")
        nit, prefix = _nit(data["nit"]), str(data["prefix"]).strip().upper()
        if not nit:
            raise ValueError("El NIT no es válido.")
        if not (prefix.isalnum() and len(prefix) <= 4):
            raise ValueError("El prefijo tiene de 1 a 4 caracteres alfanuméricos.")
        try:
            lo, hi = int(data["from_number"]), int(data["to_number"])
        except (TypeError, ValueError):
            raise ValueError("El rango debe ser numérico.") from None
        if lo < 1 or hi < lo:
            raise ValueError("El rango no es válido (desde ≤ hasta).")
        extra = {"resolution_number": str(data["resolution_number"]).strip()}
        for name in ("resolution_date", "valid_date_from", "valid_date_to"):
            if data.get(name):
                try:
                    extra[name] = dt.date.fromisoformat(str(data[name])[:10]).isoformat()
                except ValueError:
                    raise ValueError(f"{name} debe ser una fecha AAAA-MM-DD.") from None
        extra.setdefault("resolution_date", extra.get("valid_date_from", Range.resolution_date))
        return self.register_range(nit, prefix, lo, hi, (data.get("technical_key") or "").strip() or None,
                                   (data.get("software_id") or "").strip() or None, **extra)

    def register_software(self, software_id: str, pin: str, nit: str | None = None):
        """``nit``: the software's owner (a proveedor tecnológico), who may then query the numbering ranges of the
        NITs associated with that software."""
        with self.lock:
            self.software[software_id] = str(pin)
            if nit:
                self.software_owner[software_id] = _nit(nit)
            self._save()

    def add_test_set(self, test_set_id: str, invoices: int = 2, credit_notes: int = 1, debit_notes: int = 1):
        with self.lock:
            self.test_sets[test_set_id] = TestSet(test_set_id, invoices, credit_notes, debit_notes)
            self._save()

    def register_acquirer(self, id_type: str, number: str, name: str, email: str | None = None) -> dict:
        """A buyer DIAN knows (what ``GetAcquirer`` answers and ``GetExchangeEmails`` lists). ``number`` without
        check digit."""
        entry = {"id_type": str(id_type).strip(), "number": _nit(number) or str(number).strip(), "name": name,
                 "email": email}
        with self.lock:
            self.acquirers[f"{entry['id_type']}:{entry['number']}"] = entry
            self._save()
        return entry

    def test_set_status(self, test_set_id: str) -> TestSet | None:
        with self.lock:
            return self.test_sets.get(test_set_id)

    def fail_next(self, count: int = 1, status: int = 503):
        """Answer the next ``count`` requests with a bare HTTP ``status`` (to exercise client retries)."""
        with self.lock:
            self._fail_next.extend([status] * count)

    def delay_next(self, count: int = 1, seconds: float = 1.0):
        """Sleep ``seconds`` before answering each of the next ``count`` requests (to exercise client timeouts)."""
        with self.lock:
            self._delay_next.extend([seconds] * count)

    # ------------------------------------------------------------ persistence
    def _save(self):
        if not self.state_file:
            return
        state = {
            "ranges": [dataclasses.asdict(r) for r in self.ranges],
            "software": self.software,
            "software_owner": self.software_owner,
            "test_sets": {k: dataclasses.asdict(v) for k, v in self.test_sets.items()},
            "documents": {k: {**v, "xml": base64.b64encode(v["xml"]).decode(),
                              "response": _resp_to_json(v["response"])} for k, v in self.documents.items()},
            "batches": {k: {**v, "files": [[n, base64.b64encode(b).decode()] for n, b in v["files"]],
                            "results": [_resp_to_json(r) for r in v["results"]] if v["results"] is not None
                            else None} for k, v in self.batches.items()},
            "events": {k: {**v, "xml": base64.b64encode(v["xml"]).decode(), "response": _resp_to_json(v["response"])}
                       for k, v in self.events.items()},
            "acquirers": self.acquirers,
        }
        d = os.path.dirname(os.path.abspath(self.state_file))
        fd, tmp = tempfile.mkstemp(prefix=".sandbox-", dir=d)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(state, fh, ensure_ascii=False)
        os.replace(tmp, self.state_file)

    def _load(self):
        with open(self.state_file, encoding="utf-8") as fh:
            state = json.load(fh)
        self.ranges = [Range(**r) for r in state.get("ranges", [])]
        self.software.update(state.get("software", {}))
        self.software_owner.update(state.get("software_owner", {}))
        self.test_sets = {k: TestSet(**v) for k, v in state.get("test_sets", {}).items()}
        self.documents = {k: {**v, "xml": base64.b64decode(v["xml"]), "response": _resp_from_json(v["response"])}
                          for k, v in state.get("documents", {}).items()}
        self.batches = {k: {**v, "files": [(n, base64.b64decode(b)) for n, b in v["files"]],
                            "results": [_resp_from_json(r) for r in v["results"]] if v["results"] is not None
                            else None} for k, v in state.get("batches", {}).items()}
        self.events = {k: {**v, "xml": base64.b64decode(v["xml"]), "response": _resp_from_json(v["response"])}
                       for k, v in state.get("events", {}).items()}
        self._accepted_numbers = {(d["nit"], d["number"], d["kind"]): k for k, d in self.documents.items()
                                  if d["accepted"]}
        self.acquirers = dict(state.get("acquirers", {}))

    # ------------------------------------------------------------ HTTP entry
    def handle(self, body: bytes, content_type: str = "", address: str | None = None) -> tuple[int, bytes, str]:
        """Process one POST; returns (HTTP status, body, content type). ``address`` is the URL the request reached
        (the HTTP server passes it); ``wsa:To`` must match it, or ``self.address`` when set."""
        with self.lock:
            self.request_count += 1
            fail = self._fail_next.pop(0) if self._fail_next else None
            delay = self._delay_next.pop(0) if self._delay_next else 0.0
        if delay:
            time.sleep(delay)
        if fail:
            return fail, b"Service Unavailable (sandbox)", "text/plain"
        ctype = "application/soap+xml; charset=utf-8"
        if "application/soap+xml" not in (content_type or "").lower():
            return 415, (f"Cannot process the message because the content type '{content_type}' was not the "
                         "expected type 'application/soap+xml; charset=utf-8'.").encode(), "text/plain"
        try:
            req = soap.parse_request(body)
        except soap.SoapError as exc:
            return 500, soap.build_fault("Sender", None, exc.message), ctype
        ct_action = next((part.split("=", 1)[1].strip().strip('"') for part in content_type.split(";")
                          if part.strip().lower().startswith("action=")), None)
        if ct_action is not None and ct_action != req.action:
            return 500, soap.build_fault("Sender", "ActionMismatch",
                                         f"La acción del Content-Type ({ct_action}) no coincide con wsa:Action.",
                                         subcode_ns=soap.WSA), ctype
        if req.action != soap.action_uri(req.operation):
            return 500, soap.build_fault("Sender", "ActionNotSupported",
                                         f"La acción {req.action!r} no corresponde a la operación {req.operation}.",
                                         subcode_ns=soap.WSA), ctype
        own = self.address or address
        if own and req.to is not None and not _same_address(req.to, own):
            return 500, soap.build_fault("Sender", "DestinationUnreachable",
                                         f"El mensaje dirigido a '{req.to}' no puede procesarse en este servicio "
                                         f"({own}): wsa:To no coincide con la dirección del servicio.",
                                         subcode_ns=soap.WSA), ctype
        try:
            sec = soap.verify_security(req.root, clock_skew=self.clock_skew)
        except soap.SecurityError as exc:
            log.info("sandbox: security refused (%s): %s", exc.code, exc)
            return 500, soap.build_fault("Sender", exc.code, exc.message), ctype
        self._local.sender_nit = certificate_nit(sec.certificate)
        missing = [p for p in soap.OPERATIONS[req.operation] if not req.params.get(p)]
        if missing:
            return 500, soap.build_fault("Sender", None, f"Falta el parámetro {missing[0]}."), ctype
        try:
            result = getattr(self, "op_" + req.operation)(**req.params)
        except Exception as exc:  # noqa: BLE001 - a server answers with a Receiver fault, as WCF does
            log.exception("sandbox: %s failed", req.operation)
            return 500, soap.build_fault("Receiver", None, f"Error interno del servicio: {exc}"), ctype
        return 200, responses.build_response(req.operation, result), ctype

    # ------------------------------------------------------------ operations
    def op_SendBillSync(self, fileName: str, contentFile: str) -> DianResponse:
        files, error = self._unzip(contentFile)
        if error:
            return DianResponse(responses.STATUS_ZIP_OR_AUTH, False, error, error, xml_file_name=_stem(fileName))
        xmls = [(n, b) for n, b in files if n.lower().endswith(".xml")]
        if len(xmls) != 1:
            msg = ("Error descomprimiendo el archivo ZIP: No fue encontrado ningun documento XML valido." if not xmls
                   else "El método síncrono solo puede recibir un documento.")
            return DianResponse(responses.STATUS_ZIP_OR_AUTH, False, msg, msg, xml_file_name=_stem(fileName))
        return self.process_document(xmls[0][1], xmls[0][0], sender_nit=getattr(self._local, "sender_nit", None))

    def op_SendBillAsync(self, fileName: str, contentFile: str, testSetId: str | None = None) -> UploadResponse:
        files, error = self._unzip(contentFile)
        if error:
            return UploadResponse(None, [TrackIdMessage(False, None, None, _stem(fileName), error)])
        xmls = [(n, b) for n, b in files if n.lower().endswith(".xml")]
        if not xmls:
            return UploadResponse(None, [TrackIdMessage(False, None, None, _stem(fileName), "Error descomprimiendo el "
                                                        "archivo ZIP: No fue encontrado ningun documento XML valido.")])
        if len(xmls) > packaging.MAX_ASYNC_FILES:
            return UploadResponse(None, [TrackIdMessage(False, None, None, _stem(fileName), "El zip excede el máximo de "
                                                        f"{packaging.MAX_ASYNC_FILES} documentos.")])
        key = str(uuid_mod.uuid4())
        with self.lock:
            self.batches[key] = {"file_name": fileName, "files": xmls, "test_set_id": testSetId,
                                 "polls_left": self.async_pending_polls, "results": None,
                                 "sender_nit": getattr(self._local, "sender_nit", None)}
            self._save()
        return UploadResponse(key, [])

    def op_SendTestSetAsync(self, fileName: str, contentFile: str, testSetId: str) -> UploadResponse:
        with self.lock:
            known = testSetId in self.test_sets
        if not known:  # approximation: DIAN's exact wording for an unknown TestSetId is not documented here
            return UploadResponse(None, [TrackIdMessage(False, None, None, _stem(fileName),
                                                        f"El TestSetId {testSetId} no existe o no está habilitado.")])
        return self.op_SendBillAsync(fileName, contentFile, testSetId)

    def op_GetStatusZip(self, trackId: str) -> list[DianResponse]:
        with self.lock:
            batch = self.batches.get(trackId)
            if batch is None:
                return [DianResponse(responses.STATUS_NOT_FOUND, False, "TrackId no encontrado.",
                                     responses.STATUS_TEXT[responses.STATUS_NOT_FOUND])]
            if batch["polls_left"] > 0:
                batch["polls_left"] -= 1
                self._save()
                return [DianResponse(responses.STATUS_IN_PROCESS, False,
                                     responses.STATUS_TEXT[responses.STATUS_IN_PROCESS])]
            if batch["results"] is None and batch.get("kind") == "attachment":
                batch["results"] = [self.process_attachment(b, n) for n, b in batch["files"]]
            elif batch["results"] is None:
                batch["results"] = [self.process_document(b, n, test_set_id=batch["test_set_id"],
                                                          sender_nit=batch.get("sender_nit"))
                                    for n, b in batch["files"]]
                self._save()
            out = list(batch["results"])
            ts = self.test_sets.get(batch["test_set_id"]) if batch["test_set_id"] else None
            if ts is not None and ts.is_accepted:
                out.append(DianResponse(responses.STATUS_TEST_SET, False, ts.status_description))
            return out

    def op_GetStatus(self, trackId: str) -> DianResponse:
        with self.lock:
            doc = self.documents.get(trackId.strip().lower())
            if doc is None:
                return _not_found()
            return doc["response"]

    def may_query_ranges(self, sender_nit: str | None, account_code: str, software_code: str) -> bool:
        """The certificate's NIT may ask for ``account_code``'s ranges: it is that NIT, an authorised sender for it,
        or the owner of ``software_code`` when that software is associated with the NIT (has a range of it)."""
        sender, account = _nit(sender_nit), _nit(account_code)
        if not sender:
            return False
        if sender == account or sender in map(_nit, (self.authorized_senders or {}).get(account, ())):
            return True
        return self.software_owner.get(software_code) == sender and any(
            _nit(r.nit) == account and r.software_id == software_code for r in self.ranges)

    def op_GetNumberingRange(self, accountCode: str, accountCodeT: str, softwareCode: str) -> NumberingRangeResponse:
        sender = getattr(self._local, "sender_nit", None)
        with self.lock:
            allowed = self.may_query_ranges(sender, accountCode.strip(), softwareCode.strip())
            found = [r for r in self.ranges if _nit(r.nit) == _nit(accountCode)
                     and (r.software_id is None or r.software_id == softwareCode.strip())]
        if not allowed:  # DIAN's answer (2019 capture): 401, ResponseList nil
            return NumberingRangeResponse("401", f"NIT: {sender or '(sin NIT en el certificado)'} no autorizado "
                                                 f"para consultar rangos de numeración del NIT: {accountCode.strip()}")
        if not found:  # approximation of DIAN's "not found" answer
            return NumberingRangeResponse("301", f"No se encontraron rangos de numeración para el NIT {accountCode} "
                                                 f"y el software {softwareCode}.")
        return NumberingRangeResponse("100", "Acción completada OK.", [
            NumberingRange(r.resolution_number, r.resolution_date, r.prefix, r.from_number, r.to_number,
                           r.valid_date_from, r.valid_date_to, r.technical_key) for r in found])

    def op_GetXmlByDocumentKey(self, trackId: str) -> XmlDocumentResponse:
        with self.lock:
            doc = self.documents.get(trackId.strip().lower())
        if doc is None or not doc["accepted"]:  # approximation of DIAN's "not found" code
            return XmlDocumentResponse("404", f"No se encontró el documento con CUFE/CUDE {trackId}.", None)
        return XmlDocumentResponse("100", "Accion completada OK", doc["xml"])

    # ------------------------------------------------------------ events, notes, document info, acquirers
    def op_SendEventUpdateStatus(self, contentFile: str) -> DianResponse:
        files, error = self._unzip(contentFile)
        if error:
            return DianResponse(responses.STATUS_ZIP_OR_AUTH, False, error, error)
        xmls = [(n, b) for n, b in files if n.lower().endswith(".xml")]
        if len(xmls) != 1:
            msg = ("Error descomprimiendo el archivo ZIP: No fue encontrado ningun documento XML valido." if not xmls
                   else "El método síncrono solo puede recibir un documento.")
            return DianResponse(responses.STATUS_ZIP_OR_AUTH, False, msg, msg)
        return self.process_event(xmls[0][1], xmls[0][0], sender_nit=getattr(self._local, "sender_nit", None))

    def op_GetStatusEvent(self, trackId: str) -> DianResponse:
        key = trackId.strip().lower()
        with self.lock:
            event = self.events.get(key)
            if event is not None:
                return event["response"]
            doc = self.documents.get(key)
            if doc is None or not doc["accepted"]:
                return _not_found()
            events = self._document_events(key)
        listed = "; ".join(f"{e['code']} {EVENTS[e['code']]} ({e['issue_date']}, CUDE {e['cude']})" for e in events)
        text = (f"Eventos del documento {doc['number']}: {listed}." if events else
                f"El documento {doc['number']} no tiene eventos registrados.")
        last = events[-1]["response"].application_response if events else None
        return DianResponse(responses.STATUS_ACCEPTED, True, responses.STATUS_TEXT[responses.STATUS_ACCEPTED], text,
                            xml_document_key=key, application_response=last)

    def op_GetReferenceNotes(self, trackId: str) -> DianResponse:
        key = trackId.strip().lower()
        with self.lock:
            doc = self.documents.get(key)
            if doc is None or not doc["accepted"]:
                return _not_found()
            notes = self._document_notes(key)
        listed = "; ".join(f"{n['number']} {KIND_LABEL[n['kind']]} (CUDE {n['uuid']})" for n in notes)
        text = (f"Notas que referencian el documento {doc['number']}: {listed}." if notes else
                f"El documento {doc['number']} no tiene notas asociadas.")
        return DianResponse(responses.STATUS_ACCEPTED, True, responses.STATUS_TEXT[responses.STATUS_ACCEPTED], text,
                            xml_document_key=key)

    def op_GetDocumentInfo(self, uuid: str) -> responses.DocumentInfoResponse:
        key = uuid.strip().lower()
        with self.lock:
            doc = self.documents.get(key)
            if doc is None or not doc["accepted"]:
                return responses.DocumentInfoResponse(responses.STATUS_MISSING, f"No se encontró el documento con "
                                                      f"CUFE/CUDE {uuid.strip()}.")
            info = self._document_info(doc)
        return responses.DocumentInfoResponse(responses.STATUS_OK, "Consulta exitosa.", [info])

    def op_GetAcquirer(self, identificationType: str, identificationNumber: str) -> responses.AcquirerResponse:
        id_type, number = identificationType.strip(), _nit(identificationNumber) or identificationNumber.strip()
        if id_type not in ID_TYPES:
            return responses.AcquirerResponse(responses.STATUS_BAD_REQUEST,
                                              f"Tipo de identificación no válido: {id_type}.")
        with self.lock:
            found = self.acquirers.get(f"{id_type}:{number}")
        if found is None:
            return responses.AcquirerResponse(responses.STATUS_MISSING, f"El adquiriente con identificación {id_type} "
                                              f"{number} no se encuentra registrado.")
        return responses.AcquirerResponse(responses.STATUS_OK, "Consulta exitosa.", found["name"], found["email"])

    def op_GetExchangeEmails(self) -> responses.ExchangeEmailsResponse:
        import csv
        import io
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\r\n")
        w.writerow(["TipoIdentificacion", "NumeroIdentificacion", "RazonSocial", "CorreoRecepcion"])
        with self.lock:
            for a in sorted(self.acquirers.values(), key=lambda a: (a["number"], a["id_type"])):
                if a.get("email"):
                    w.writerow([a["id_type"], a["number"], a["name"], a["email"]])
        return responses.ExchangeEmailsResponse(True, responses.STATUS_OK, "Consulta exitosa.",
                                                out.getvalue().encode("utf-8"))

    def op_SendBillAttachmentAsync(self, fileName: str, contentFile: str) -> UploadResponse:
        up = self.op_SendBillAsync(fileName, contentFile)
        if up.zip_key:
            with self.lock:
                self.batches[up.zip_key]["kind"] = "attachment"
                self._save()
        return up

    # ------------------------------------------------------------ event processing
    def _document_events(self, uuid: str) -> list[dict]:
        return sorted((e for e in self.events.values() if e["accepted"] and e["document_uuid"] == uuid),
                      key=lambda e: e["seq"])

    def _document_notes(self, uuid: str) -> list[dict]:
        return [d for d in self.documents.values() if d["accepted"] and d["kind"] in ("credit_note", "debit_note")
                and d.get("info", {}).get("reference_uuid") == uuid]

    def event_rejections(self, ev: dict) -> list[RuleMessage]:
        """The RADIAN rules an event breaks against what the service knows (document, earlier events). Rule codes
        are approximations of DIAN's (LGC*)."""
        def rej(code, text):
            return RuleMessage(code, responses.REJECTION, text, f"Regla: {code}, Rechazo: {text}")
        code = ev["code"]
        if code not in EVENTS:
            return [rej("AAH03", f"Código de evento no admitido: {code or '(vacío)'}.")]
        doc = self.documents.get(ev["document_uuid"])
        if doc is None or not doc["accepted"]:
            return [rej("LGC02", f"El documento referenciado (CUFE {ev['document_uuid'] or '(vacío)'}) no existe o no "
                                 "ha sido validado por la DIAN.")]
        if doc["kind"] != "invoice":
            return [rej("LGC07", "Los eventos solo se registran sobre una Factura Electrónica de Venta.")]
        info = doc.get("info", {})
        out = []
        buyer, seller = _nit(info.get("customer_nit")), _nit(doc["nit"])
        if code == "034" and ev["sender_nit"] != seller:
            out.append(rej("LGC06", f"La aceptación tácita (034) la registra el emisor de la factura (NIT {seller}), "
                                    f"no el NIT {ev['sender_nit']}."))
        elif code != "034" and ev["sender_nit"] != buyer:
            out.append(rej("LGC06", f"El evento {code} lo registra el adquiriente de la factura (NIT {buyer}), no el "
                                    f"NIT {ev['sender_nit']}."))
        have = [e["code"] for e in self._document_events(ev["document_uuid"])]
        if code in have:
            out.append(rej("LGC01", f"Evento {code} registrado previamente para el documento {doc['number']}."))
        elif "031" in have:
            out.append(rej("LGC04", f"La factura {doc['number']} tiene un reclamo (031): no admite más eventos."))
        elif any(a in have for a in ACCEPTANCES) and code in ("031", *ACCEPTANCES):
            out.append(rej("LGC05", f"La factura {doc['number']} ya fue aceptada; no admite el evento {code}."))
        else:
            missing = [c for c in events.PREREQUISITES[code] if c not in have]
            if missing:
                out.append(rej("LGC03", f"El evento {code} requiere el registro previo de "
                                        f"{', '.join(f'{c} ({EVENTS[c]})' for c in missing)}."))
            elif code == "034":
                receipt = next(e for e in self._document_events(ev["document_uuid"]) if e["code"] == "032")
                try:
                    allowed = events.tacit_acceptance_date(dt.date.fromisoformat(receipt["issue_date"]))
                    day = dt.date.fromisoformat(ev["issue_date"])
                except ValueError:
                    allowed, day = None, None
                if allowed is None or day < allowed:
                    out.append(rej("LGC20", f"La aceptación tácita (034) solo puede registrarse desde el "
                                            f"{allowed or '(fecha inválida)'}: vence el término de "
                                            f"{events.TACIT_TERM_BUSINESS_DAYS} días hábiles siguientes al recibo "
                                            f"del bien (032) del {receipt['issue_date']} sin reclamo."))
        return out

    def event_shape_rejections(self, xml: bytes, root, ev: dict) -> list[RuleMessage]:
        """The event's own rules: XSD (with ``schema_dir``), the sending software known, its CUDE recomputed
        with that software's PIN (``events.recompute_cude``; AAD06 as DIAN answers), the claim concept of a 031,
        and the person of a 032."""
        def rej(code, text):
            return RuleMessage(code, responses.REJECTION, text, f"Regla: {code}, Rechazo: {text}")
        out = []
        if self.schema_dir:
            from .xsd import validate_xsd
            errors = validate_xsd(xml, self.schema_dir)
            if errors:
                out.append(rej("ZB01", f"Fallo en el esquema XML del archivo: {errors[0]}"))
        f = events.event_fields(root)
        pin = self.software.get(f["software_id"])
        if pin is None:
            out.append(rej("AAB24b", "Identificador del software asignado cuando el software se activa en el "
                                     "Sistema de Facturación Electrónica no corresponde a un software autorizado."))
        elif events.recompute_cude(f, pin) != ev["cude"]:
            out.append(rej("AAD06", "Valor del CUDE no está calculado correctamente."))
        if f["code"] == "031" and f["claim_reason"] not in events.CLAIM_REASONS:
            out.append(rej("AAH09", "El reclamo (031) debe informar el concepto de reclamo (listID 01 a 04)."))
        if f["code"] in events.PERSON_REQUIRED and not f["person_id"]:
            out.append(rej("AAF01", f"El evento {f['code']} debe identificar a la persona que recibe "
                                    "(cac:IssuerParty/cac:Person)."))
        return out

    def process_event(self, xml: bytes, file_name: str, sender_nit: str | None = None) -> DianResponse:
        from .verify import verify_signature
        file_name = _stem(file_name)

        def rejected(messages, key=None):
            return DianResponse(responses.STATUS_REJECTED, False, responses.STATUS_TEXT[responses.STATUS_REJECTED],
                                "Documento con errores en campos mandatorios.", messages, key, file_name, None)
        try:
            root = etree.fromstring(xml, soap.PARSER)
        except etree.XMLSyntaxError as exc:
            return rejected([RuleMessage.parse(f"Regla: ZB01, Rechazo: Fallo en el esquema XML del archivo: {exc}")])
        if root.tag != f"{{{AR_NS}}}ApplicationResponse":
            return rejected([RuleMessage.parse("Regla: ZB01, Rechazo: Fallo en el esquema XML del archivo: el evento "
                                               "debe ser un ApplicationResponse.")])
        tax = "cac:{}/cac:PartyTaxScheme/cbc:{}"
        ev = {"cude": (_text(root, "cbc:UUID") or "").lower(), "id": _text(root, "cbc:ID") or "",
              "issue_date": _text(root, "cbc:IssueDate") or "", "issue_time": _text(root, "cbc:IssueTime") or "",
              "environment": _text(root, "cbc:ProfileExecutionID") or "",
              "code": _text(root, "cac:DocumentResponse/cac:Response/cbc:ResponseCode") or "",
              "document_uuid": (_text(root, "cac:DocumentResponse/cac:DocumentReference/cbc:UUID") or "").lower(),
              "document_number": _text(root, "cac:DocumentResponse/cac:DocumentReference/cbc:ID") or "",
              "sender_nit": _nit(_text(root, tax.format("SenderParty", "CompanyID"))),
              "sender_name": _text(root, tax.format("SenderParty", "RegistrationName")) or "",
              "receiver_nit": _nit(_text(root, tax.format("ReceiverParty", "CompanyID"))),
              "receiver_name": _text(root, tax.format("ReceiverParty", "RegistrationName")) or "",
              "signing_time": _text(root, "ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/ds:Signature/"
                                          "ds:Object/xades:QualifyingProperties/xades:SignedProperties/"
                                          "xades:SignedSignatureProperties/xades:SigningTime") or ""}
        if not ev["cude"]:
            return rejected([RuleMessage.parse("Regla: AAD05, Rechazo: El evento no tiene CUDE (cbc:UUID).")])
        if self.authorized_senders is not None and sender_nit != ev["sender_nit"] and \
                sender_nit not in self.authorized_senders.get(ev["sender_nit"], ()):
            text = (f"NIT {sender_nit or '(sin NIT en el certificado)'} no autorizado a enviar eventos para el NIT "
                    f"{ev['sender_nit']}.")
            return DianResponse(responses.STATUS_ZIP_OR_AUTH, False, text, text, xml_file_name=file_name)
        check = verify_signature(xml, root)
        with self.lock:
            prior = self.events.get(ev["cude"])
            if prior is not None and prior["accepted"]:
                return DianResponse(responses.STATUS_REJECTED, False, responses.STATUS_TEXT[responses.STATUS_REJECTED],
                                    "Documento con errores en campos mandatorios.",
                                    [RuleMessage.parse("Regla: 90, Rechazo: Documento procesado anteriormente.")],
                                    ev["cude"], file_name, prior["response"].application_response)
            messages = [] if check.ok is True else [
                RuleMessage(check.rule or "ZE02", responses.REJECTION, check.message,
                            f"Regla: {check.rule or 'ZE02'}, Rechazo: {check.message}")]
            messages += self.event_shape_rejections(xml, root, ev)
            messages += self.event_rejections(ev)
            if messages:
                resp = rejected(messages, ev["cude"])
                accepted = False
            else:
                ar = self._application_response(
                    {"environment": ev["environment"], "uuid": ev["cude"], "supplier_nit": ev["sender_nit"],
                     "supplier_name": ev["sender_name"], "number": ev["id"], "kind": "event"}, [])
                doc = self.documents[ev["document_uuid"]]
                resp = DianResponse(responses.STATUS_ACCEPTED, True, responses.STATUS_TEXT[responses.STATUS_ACCEPTED],
                                    f"Evento {ev['code']} ({EVENTS[ev['code']]}) registrado para el documento "
                                    f"{doc['number']}.", [], ev["cude"], file_name, ar)
                accepted = True
            self.events[ev["cude"]] = {**ev, "xml": xml, "response": resp, "accepted": accepted,
                                       "seq": len(self.events) + 1}
            self._save()
            return resp

    def process_attachment(self, xml: bytes, file_name: str) -> DianResponse:
        """One ``AttachedDocument`` of ``SendBillAttachmentAsync``: signed, and its embedded document one the
        service accepted."""
        from .verify import verify_signature
        file_name = _stem(file_name)

        def rejected(code, text, key=None):
            return DianResponse(responses.STATUS_REJECTED, False, responses.STATUS_TEXT[responses.STATUS_REJECTED],
                                "Documento con errores en campos mandatorios.",
                                [RuleMessage(code, responses.REJECTION, text, f"Regla: {code}, Rechazo: {text}")],
                                key, file_name, None)
        try:
            root = etree.fromstring(xml, soap.PARSER)
        except etree.XMLSyntaxError as exc:
            return rejected("ZB01", f"Fallo en el esquema XML del archivo: {exc}")
        if root.tag != f"{{{ROOT['AttachedDocument']}}}AttachedDocument":
            return rejected("ZB01", "Fallo en el esquema XML del archivo: se esperaba un AttachedDocument.")
        check = verify_signature(xml, root)
        if not check.ok:
            return rejected(check.rule or "ZE02", check.message)
        inner = _text(root, "cac:Attachment/cac:ExternalReference/cbc:Description")
        key = None
        if inner:
            try:
                key = (_text(etree.fromstring(inner.encode("utf-8"), soap.PARSER), "cbc:UUID") or "").lower()
            except etree.XMLSyntaxError:
                key = None
        key = key or (_text(root, "cac:ParentDocumentLineReference/cac:DocumentReference/cbc:UUID") or "").lower()
        with self.lock:
            doc = self.documents.get(key or "")
        if doc is None or not doc["accepted"]:
            return rejected("LGC02", f"El documento del contenedor (CUFE {key or '(vacío)'}) no existe o no ha sido "
                                     "validado por la DIAN.", key or None)
        return DianResponse(responses.STATUS_ACCEPTED, True, responses.STATUS_TEXT[responses.STATUS_ACCEPTED],
                            f"Contenedor del documento {doc['number']} recibido.", [], key, file_name, None)

    def _document_info(self, doc: dict) -> responses.DocumentInfo:
        info = doc.get("info", {})

        def entity(name, nit, id_type):
            return responses.Entity(name or None, nit or None, "Nacional", id_type or None)

        def number(full, prefix, issue_date, signing):
            return responses.DocumentNumber(issue_date or None, signing or None,
                                            full[len(prefix):] if prefix and full.startswith(prefix) else full,
                                            prefix or None)

        def validations(resp):
            return [responses.Validation(m.severity == responses.NOTIFICATION, m.severity != responses.REJECTION,
                                         m.message, m.code, "Notificación" if m.severity == responses.NOTIFICATION
                                         else "Rechazo" if m.severity == responses.REJECTION else None)
                    for m in resp.messages]
        issuer = entity(info.get("supplier_name"), doc["nit"], info.get("supplier_id_type") or "31")
        receiver = entity(info.get("customer_name"), info.get("customer_nit"), info.get("customer_id_type"))
        type_name = KIND_LABEL.get(doc["kind"], "")
        events = self._document_events(doc["uuid"])
        title_date = next((e["issue_date"] for e in events if e["code"] in ACCEPTANCES), None)
        ev_infos = [responses.EventInfo(
            e["code"], EVENTS[e["code"]], entity(e["sender_name"], e["sender_nit"], "31"),
            responses.DocumentNumber(e["issue_date"] or None, e.get("signing_time") or None, e["id"] or None, None),
            entity(e["receiver_name"], e["receiver_nit"], "31"),
            [responses.DocumentReferenceInfo(None, info.get("type_code") or None, type_name, issuer,
                                             doc["issue_date"] or None, receiver, doc["uuid"])],
            e["cude"], validations(e["response"])) for e in events]
        notes = []
        for n in self._document_notes(doc["uuid"]):
            ni = n.get("info", {})
            notes.append(responses.NoteInfo(
                responses.CorrectionConcept(ni.get("discrepancy_code") or None, ni.get("discrepancy_description")
                                            or None, None),
                entity(ni.get("supplier_name"), n["nit"], ni.get("supplier_id_type") or "31"),
                responses.LegitimateHolder(None, ni.get("supplier_name") or None), KIND_LABEL.get(n["kind"]),
                number(n["number"], ni.get("prefix", ""), n["issue_date"], ni.get("signing_time")),
                entity(ni.get("customer_name"), ni.get("customer_nit"), ni.get("customer_id_type")),
                responses.Totals(Decimal(ni.get("iva") or "0"), Decimal(ni.get("payable") or "0")), n["uuid"],
                validations(n["response"])))
        references = []
        if info.get("reference_uuid"):
            ref = self.documents.get(info["reference_uuid"])
            references.append(responses.DocumentReferenceInfo(
                "Factura referenciada", "01", KIND_LABEL["invoice"], issuer,
                ref["issue_date"] if ref else None, receiver, info["reference_uuid"]))
        return responses.DocumentInfo(
            info.get("type_code") or None, type_name, notes, info.get("type_code") or None, type_name, issuer,
            {int(e["code"]): EVENTS[e["code"]] for e in events}, ev_infos,
            responses.LegitimateHolder(title_date, info.get("supplier_name") or None) if doc["kind"] == "invoice"
            else None,
            number(doc["number"], info.get("prefix", ""), doc["issue_date"], info.get("signing_time")), receiver,
            references, responses.Totals(Decimal(info.get("iva") or "0"), Decimal(info.get("payable") or "0")),
            doc["uuid"], validations(doc["response"]))

    # ------------------------------------------------------------ document processing
    def _unzip(self, content_b64: str) -> tuple[list, str | None]:
        try:
            data = base64.b64decode("".join(content_b64.split()), validate=True)
        except ValueError:
            return [], "Error descomprimiendo el archivo ZIP: el contenido no es base64 válido."
        try:
            return packaging.read_zip(data), None
        except packaging.PackagingError as exc:
            prefix = "Error descomprimiendo el archivo ZIP"
            text = exc.message if exc.message.startswith(prefix) else f"{prefix}: {exc.message}"
            return [], text

    def _find_range(self, f: dict) -> tuple[Range | None, str | None]:
        for r in self.ranges:
            if r.nit == f["supplier_nit"] and r.prefix == f["prefix"] and f["consecutive"] is not None and \
                    r.from_number <= f["consecutive"] <= r.to_number:
                return r, r.technical_key
        if self.habilitacion and f["environment"] == "2" and f["prefix"] in HAB_PREFIXES:
            return None, HAB_TECHNICAL_KEY
        return None, None

    def _lookup_invoice(self, uuid: str, number: str) -> dict | None:
        doc = self.documents.get((uuid or "").lower())
        if doc and doc["accepted"]:
            return {"supplier_nit": doc["nit"], "issue_date": doc["issue_date"]}
        return None

    def evaluate(self, xml: bytes) -> tuple[dict | None, list[RuleMessage]]:
        """Validation only: (document fields, rule messages)."""
        from .model import Numbering
        from .validate import prevalidate
        from ._read import MAX_XML_BYTES
        from .verify import _parse_or_report, _verify_root, totals_findings

        def msg(code, severity, text):
            return RuleMessage(code, severity, text, RuleMessage(code, severity, text, "").format())

        # one safe parse for the fields, the rules and verify_document's checks (the trees are only read); the
        # service's own parser for what the safe one refuses (a DOCTYPE, more than 20 MB), as before
        checked, report = _parse_or_report(xml, MAX_XML_BYTES)
        try:
            root = checked if checked is not None else etree.fromstring(xml, soap.PARSER)
        except etree.XMLSyntaxError as exc:
            return None, [msg("ZB01", responses.REJECTION, f"Fallo en el esquema XML del archivo: {exc}")]
        f = _fields(root)
        if f["kind"] is None:
            return None, [msg("ZB01", responses.REJECTION, "Fallo en el esquema XML del archivo: tipo de documento "
                                                           "no soportado.")]
        rp = {"invoice": "FA", "credit_note": "CA", "debit_note": "DA"}[f["kind"]]
        out: list[RuleMessage] = []
        pin = self.software.get(f["software_id"])
        if pin is None:
            out.append(msg(rp + "B24b", responses.REJECTION, "Identificador del software asignado cuando el software "
                           "se activa en el Sistema de Facturación Electrónica no corresponde a un software "
                           "autorizado para este facturador."))
        numbering, key = None, None
        if f["kind"] == "invoice":
            rng, key = self._find_range(f)
            if rng is not None:
                numbering = Numbering(rng.prefix, 0, rng.resolution_number, rng.from_number, rng.to_number,
                                      dt.date.fromisoformat(rng.valid_date_from),
                                      dt.date.fromisoformat(rng.valid_date_to), rng.technical_key)
            elif key == HAB_TECHNICAL_KEY:
                numbering = Numbering(f["prefix"], 0, *HAB_RANGE, HAB_TECHNICAL_KEY)
            else:
                out.append(msg("FAD05e", responses.REJECTION, "Número de factura no existe para el número de "
                                                               "autorización."))
        # one signature verification and one reading of the totals for both the rules and verify_document's checks
        signature = totals = None
        if report is None:
            totals = totals_findings(checked, f["kind"])
            report = _verify_root(xml, checked, technical_key=key, pin=pin, schema_dir=self.schema_dir, totals=totals)
            signature = report.check("signature")
        findings = prevalidate(xml, schema_dir=self.schema_dir, technical_key=key, pin=pin,
                               software_id=f["software_id"] if pin else None, numbering=numbering,
                               lookup_invoice=self._lookup_invoice, root=checked, signature=signature,
                               totals=totals)
        for fd in findings:
            out.append(msg(fd.code, fd.severity, fd.message_es))
        for check in report.checks:
            if check.ok is False:
                out.append(msg(check.rule or "ZB01", responses.REJECTION, check.message))
        seen, unique = set(), []
        for m in out:
            if m.code not in seen:
                seen.add(m.code)
                unique.append(m)
        return f, unique

    def process_document(self, xml: bytes, file_name: str, test_set_id: str | None = None,
                         sender_nit: str | None = None) -> DianResponse:
        file_name = _stem(file_name)
        f, messages = self.evaluate(xml)
        if f is not None and self.authorized_senders is not None and sender_nit != f["supplier_nit"] and \
                sender_nit not in self.authorized_senders.get(f["supplier_nit"], ()):
            text = (f"NIT {sender_nit or '(sin NIT en el certificado)'} no autorizado a enviar documentos para "
                    f"emisor con NIT {f['supplier_nit']}.")
            return DianResponse(responses.STATUS_ZIP_OR_AUTH, False, text, text, xml_file_name=file_name)
        with self.lock:
            if f is not None:
                prior = self.documents.get(f["uuid"]) if f["uuid"] else None
                if prior is None:  # the same number accepted under another CUFE (an index, not a scan of all)
                    known = self._accepted_numbers.get((f["supplier_nit"], f["number"], f["kind"]))
                    prior = self.documents.get(known) if known else None
                if prior is not None and prior["accepted"]:
                    return DianResponse(responses.STATUS_REJECTED, False,
                                        responses.STATUS_TEXT[responses.STATUS_REJECTED],
                                        "Documento con errores en campos mandatorios.",
                                        [RuleMessage.parse("Regla: 90, Rechazo: Documento procesado anteriormente.")],
                                        prior["uuid"], file_name, prior["response"].application_response)
            rejections = [m for m in messages if m.severity == responses.REJECTION]
            ts = self.test_sets.get(test_set_id) if test_set_id else None
            if ts is not None:
                ts.sent += 1
            if f is None or rejections:
                resp = DianResponse(responses.STATUS_REJECTED, False,
                                    responses.STATUS_TEXT[responses.STATUS_REJECTED],
                                    "Documento con errores en campos mandatorios.", messages,
                                    f["uuid"] if f else None, file_name, None)
                if f is not None and f["uuid"]:
                    self.documents.setdefault(f["uuid"], {
                        "uuid": f["uuid"], "number": f["number"], "nit": f["supplier_nit"], "kind": f["kind"],
                        "issue_date": f["issue_date"], "xml": xml, "response": resp, "accepted": False, "info": f})
                    if not self.documents[f["uuid"]]["accepted"]:
                        self.documents[f["uuid"]].update(xml=xml, response=resp)
                self._save()
                return resp
            ar = self._application_response(f, messages)
            resp = DianResponse(responses.STATUS_ACCEPTED, True, responses.STATUS_TEXT[responses.STATUS_ACCEPTED],
                                f"La {KIND_LABEL[f['kind']]} {f['number']}, ha sido autorizada.", messages,
                                f["uuid"], file_name, ar)
            self.documents[f["uuid"]] = {"uuid": f["uuid"], "number": f["number"], "nit": f["supplier_nit"],
                                         "kind": f["kind"], "issue_date": f["issue_date"], "xml": xml,
                                         "response": resp, "accepted": True, "test_set_id": test_set_id,
                                         "info": f}
            self._accepted_numbers[(f["supplier_nit"], f["number"], f["kind"])] = f["uuid"]
            if ts is not None:
                ts.accepted[KIND_COUNTER[f["kind"]]] += 1
            self._save()
            return resp

    # ------------------------------------------------------------ ApplicationResponse
    def _sandbox_signer(self):
        if self._signer is None:
            from .testing import make_test_certificate
            from .xades import Signer
            key, cert, ca = make_test_certificate(DIAN_NIT, days_valid=3650)
            self._signer = Signer(key, cert, [ca])
        return self._signer

    def _application_response(self, f: dict, messages: list[RuleMessage]) -> bytes:
        cbc, cac, ext = (f"{{{NS[p]}}}" for p in ("cbc", "cac", "ext"))
        now = dt.datetime.now(dt.timezone(dt.timedelta(hours=-5)))
        root = etree.Element(f"{{{AR_NS}}}ApplicationResponse",
                             nsmap={None: AR_NS, "cac": NS["cac"], "cbc": NS["cbc"], "ext": NS["ext"]})

        def e(parent, tag, text=None, **attrib):
            el = etree.SubElement(parent, tag, {k: v for k, v in attrib.items()})
            if text is not None:
                el.text = text
            return el

        etree.SubElement(root, ext + "UBLExtensions")
        e(root, cbc + "UBLVersionID", "UBL 2.1")
        e(root, cbc + "CustomizationID", "1")
        e(root, cbc + "ProfileID", "DIAN 2.1")
        e(root, cbc + "ProfileExecutionID", f["environment"] or "2")
        ar_id = str(int(hashlib.sha256(f["uuid"].encode()).hexdigest()[:8], 16))
        issue_date, issue_time = now.strftime("%Y-%m-%d"), now.strftime("%H:%M:%S-05:00")
        cude = hashlib.sha384(f"{ar_id}{issue_date}{issue_time}{f['uuid']}{DIAN_NIT}".encode()).hexdigest()
        e(root, cbc + "ID", ar_id)
        e(root, cbc + "UUID", cude, schemeName="CUDE-SHA384")
        e(root, cbc + "IssueDate", issue_date)
        e(root, cbc + "IssueTime", issue_time)
        e(root, cbc + "Note", "Respuesta generada por el simulador local de la DIAN (sin validez fiscal).")
        for tag, nit, name in (("SenderParty", DIAN_NIT, DIAN_NAME),
                               ("ReceiverParty", f["supplier_nit"], f["supplier_name"] or f["supplier_nit"])):
            pts = e(e(root, cac + tag), cac + "PartyTaxScheme")
            e(pts, cbc + "RegistrationName", name)
            e(pts, cbc + "CompanyID", nit, schemeName="31",
              **({"schemeID": DIAN_DV} if nit == DIAN_NIT else {}))
            ts = e(pts, cac + "TaxScheme")
            e(ts, cbc + "ID", "01")
            e(ts, cbc + "Name", "IVA")
        dr = e(root, cac + "DocumentResponse")
        r = e(dr, cac + "Response")
        e(r, cbc + "ResponseCode", "02")
        e(r, cbc + "Description", "Documento validado por la DIAN")
        ref = e(dr, cac + "DocumentReference")
        e(ref, cbc + "ID", f["number"])
        e(ref, cbc + "UUID", f["uuid"], schemeName="CUDE-SHA384" if f["kind"] != "invoice" else "CUFE-SHA384")
        lines = [("0000", "0")] + [(m.code or "", m.message) for m in messages]
        for i, (code, desc) in enumerate(lines, 1):
            lr = e(dr, cac + "LineResponse")
            e(e(lr, cac + "LineReference"), cbc + "LineID", str(i))
            rr = e(lr, cac + "Response")
            e(rr, cbc + "ResponseCode", code)
            e(rr, cbc + "Description", desc)
        if self.sign_responses:
            from .xades import sign
            return sign(root, self._sandbox_signer(), role="third party")
        return b'<?xml version="1.0" encoding="UTF-8"?>' + etree.tostring(root, encoding="UTF-8")


# ---------------------------------------------------------------------------------------------- HTTP server
class _Handler(BaseHTTPRequestHandler):
    server_version = "DianSandbox/1.0"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # route http.server logs to logging
        log.debug("sandbox %s - %s", self.address_string(), fmt % args)

    def _send(self, status: int, body: bytes, ctype: str):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, data):
        self._send(status, json.dumps(data, ensure_ascii=False).encode(), "application/json; charset=utf-8")

    def _admin(self, method: str) -> None:
        """The local service's own administration (not DIAN's WSDL): only from this machine."""
        try:
            local = ipaddress.ip_address(self.client_address[0].split("%")[0]).is_loopback
        except ValueError:
            local = False
        if not local:
            self.close_connection = True
            return self._send_json(403, {"error": "La administración del simulador solo responde en la interfaz local."})
        sandbox = self.server.sandbox
        if method == "GET":
            nit = (parse_qs(urlparse(self.path).query).get("nit") or [""])[0]
            ranges = sandbox.ranges_of(nit) if nit else list(sandbox.ranges)
            return self._send_json(200, {"ranges": [dataclasses.asdict(r) for r in ranges]})
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > 1024 * 1024:
            self.close_connection = True
            return self._send_json(413, {"error": "Solicitud demasiado grande."})
        try:
            data = json.loads(self.rfile.read(length) or b"null")
            r = sandbox.register_range_json(data)
        except (ValueError, UnicodeDecodeError) as exc:  # json.JSONDecodeError is a ValueError
            msg = str(exc) if not isinstance(exc, json.JSONDecodeError) else "El cuerpo no es JSON válido."
            return self._send_json(400, {"error": msg})
        log.info("sandbox: authorised range registered: NIT %s %s %s-%s", r.nit, r.prefix, r.from_number, r.to_number)
        return self._send_json(201, dataclasses.asdict(r))

    def do_GET(self):
        if urlparse(self.path).path.rstrip("/") == ADMIN_RANGES_PATH:
            return self._admin("GET")
        if urlparse(self.path).path.rstrip("/") != PATH:
            return self._send(404, b"Not found", "text/plain")
        self._send(200, "Simulador local del servicio WcfDianCustomerServices de la DIAN (sin validez fiscal). "
                        "Use POST con SOAP 1.2.".encode(), "text/plain; charset=utf-8")

    def do_POST(self):
        if urlparse(self.path).path.rstrip("/") == ADMIN_RANGES_PATH:
            return self._admin("POST")
        if urlparse(self.path).path.rstrip("/") != PATH:
            self.close_connection = True  # the body is not read: do not reuse the connection
            return self._send(404, b"Not found", "text/plain")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_REQUEST_BYTES:
            self.close_connection = True
            return self._send(413, b"Request too large", "text/plain")
        body = self.rfile.read(length)
        host = self.headers.get("Host") or "%s:%s" % self.server.server_address[:2]
        address = f"http://{host}{urlparse(self.path).path}"
        status, data, ctype = self.server.sandbox.handle(body, self.headers.get("Content-Type", ""), address)
        self._send(status, data, ctype)


class SandboxServer:
    """``SandboxServer(host, port, ranges=[Range|dict], test_sets={id: {invoices, credit_notes, debit_notes}},
    software={software_id: pin}, ...)``; ``start()`` serves in a background thread, ``url`` is the endpoint to
    give to ``DianClient``, ``stop()`` shuts it down. Other keyword arguments go to ``DianSandbox``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, ranges=(), test_sets=None, software=None, **kw):
        self.sandbox = DianSandbox(ranges=ranges, test_sets=test_sets, software=software, **kw)
        self.host, self.port = host, port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __getattr__(self, name):  # register_range, register_software, add_test_set, fail_next, ...
        if name.startswith("_") or name == "sandbox":
            raise AttributeError(name)
        return getattr(self.sandbox, name)

    def start(self) -> "SandboxServer":
        httpd = ThreadingHTTPServer((self.host, self.port), _Handler)
        httpd.daemon_threads = True
        httpd.sandbox = self.sandbox
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"dian-sandbox:{self.port}", daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{PATH}"

    def stop(self):
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class SandboxAdmin:
    """Client of a running local service's administration endpoint (``POST/GET /_admin/ranges``), given its
    SOAP endpoint or base URL: ``SandboxAdmin(url).register_range(nit, prefix, from_number, to_number, ...)``."""

    def __init__(self, url: str, timeout: float = 10.0):
        u = urlparse(url)
        self.base = f"{u.scheme}://{u.netloc}"
        self.timeout = timeout

    def _call(self, method: str, path: str, data=None):
        import urllib.error
        import urllib.request

        body = json.dumps(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - a local admin URL
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error") or str(exc)
            except ValueError:
                message = str(exc)
            raise ValueError(message) from exc

    def register_range(self, nit: str, prefix: str, from_number: int, to_number: int,
                       technical_key: str | None = None, software_id: str | None = None, **extra) -> Range:
        data = {"nit": nit, "prefix": prefix, "from_number": from_number, "to_number": to_number, **extra}
        if technical_key:
            data["technical_key"] = technical_key
        if software_id:
            data["software_id"] = software_id
        return Range(**self._call("POST", ADMIN_RANGES_PATH, data))

    def ranges_of(self, nit: str) -> list[Range]:
        return [Range(**r) for r in self._call("GET", f"{ADMIN_RANGES_PATH}?{urlencode({'nit': nit})}")["ranges"]]


def _parse_range(value: str) -> dict:
    parts = value.split(":")
    if len(parts) not in (5, 6):
        raise argparse.ArgumentTypeError("use NIT:PREFIJO:DESDE:HASTA:CLAVE_TECNICA[:SOFTWARE_ID]")
    nit, prefix, lo, hi, key = parts[:5]
    return {"nit": nit, "prefix": prefix, "from_number": int(lo), "to_number": int(hi), "technical_key": key,
            "software_id": parts[5] if len(parts) == 6 else None}


def admin_main(argv) -> int:
    """``dian-sandbox register-range --url URL --nit NIT --prefix FE --from 1 --to 100 --resolution N --valid-from
    AAAA-MM-DD --valid-to AAAA-MM-DD [--resolution-date ...] [--software-id ID] [--technical-key K]`` and
    ``dian-sandbox ranges --url URL [--nit NIT]``: a running local service's authorised ranges (as DIAN learns them
    from form 1876)."""
    p = argparse.ArgumentParser(prog="dian-sandbox", description="Rangos autorizados del simulador local de la DIAN "
                                "(administración local, no es parte del servicio de la DIAN).")
    sub = p.add_subparsers(dest="command", required=True)
    reg = sub.add_parser("register-range", help="registrar un rango autorizado (formulario 1876)")
    lst = sub.add_parser("ranges", help="listar los rangos registrados")
    for sp in (reg, lst):
        sp.add_argument("--url", default="http://127.0.0.1:8089", help="dirección del simulador")
    lst.add_argument("--nit")
    reg.add_argument("--nit", required=True)
    reg.add_argument("--prefix", required=True)
    reg.add_argument("--from", dest="from_number", type=int, required=True)
    reg.add_argument("--to", dest="to_number", type=int, required=True)
    reg.add_argument("--resolution", dest="resolution_number", required=True)
    reg.add_argument("--resolution-date")
    reg.add_argument("--valid-from", dest="valid_date_from", required=True)
    reg.add_argument("--valid-to", dest="valid_date_to", required=True)
    reg.add_argument("--software-id")
    reg.add_argument("--technical-key", help="sin ella el simulador genera una, como la DIAN")
    args = p.parse_args(argv)
    admin = SandboxAdmin(args.url)
    try:
        if args.command == "ranges":
            found = admin.ranges_of(args.nit) if args.nit else admin._call("GET", ADMIN_RANGES_PATH)["ranges"]
            for r in found:
                r = r if isinstance(r, Range) else Range(**r)
                print(f"{r.nit} {r.prefix} {r.from_number}-{r.to_number} res. {r.resolution_number} "
                      f"{r.valid_date_from}..{r.valid_date_to} software {r.software_id or '(cualquiera)'} "
                      f"clave {r.technical_key}")
            return 0
        extra = {k: getattr(args, k) for k in ("resolution_number", "resolution_date", "valid_date_from",
                                               "valid_date_to") if getattr(args, k)}
        r = admin.register_range(args.nit, args.prefix, args.from_number, args.to_number, args.technical_key,
                                 args.software_id, **extra)
    except ValueError as exc:
        print(f"Rechazado: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"No se pudo contactar el simulador en {args.url}: {exc}", file=sys.stderr)
        return 1
    print(f"Rango autorizado {r.prefix} {r.from_number}-{r.to_number} del NIT {r.nit} registrado; "
          f"clave técnica {r.technical_key}")
    return 0


def main(argv=None) -> int:
    """``dian-sandbox --port 8089 [--host 127.0.0.1] [--state estado.json] [--range ...] [--software ID:PIN]
    [--test-set ID[:FACTURAS:NC:ND]]``; ``dian-sandbox register-range|ranges ...`` (see ``admin_main``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("register-range", "ranges"):
        return admin_main(argv)
    p = argparse.ArgumentParser(prog="dian-sandbox", description="Simulador local del servicio web de la DIAN "
                                "(WcfDianCustomerServices, SOAP 1.2 con WS-Security).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8089)
    p.add_argument("--state", help="archivo JSON donde guardar el estado (documentos, sets de prueba)")
    p.add_argument("--schema-dir", help="directorio con los XSD de la DIAN (valida ZB01)")
    p.add_argument("--range", action="append", type=_parse_range, default=[],
                   help="rango de numeración NIT:PREFIJO:DESDE:HASTA:CLAVE_TECNICA[:SOFTWARE_ID]")
    p.add_argument("--software", action="append", default=[], help="software autorizado ID:PIN")
    p.add_argument("--test-set", action="append", default=[], help="set de pruebas ID[:FACTURAS:NC:ND]")
    p.add_argument("--pending-polls", type=int, default=1,
                   help="consultas GetStatusZip que responden 98 (en proceso) antes del resultado")
    p.add_argument("--no-habilitacion", action="store_true",
                   help="no aceptar la clave técnica de habilitación para los prefijos SETP/SETT/SETG")
    args = p.parse_args(argv)
    software = {}
    for s in args.software:
        sid, _, pin = s.partition(":")
        if not pin:
            p.error("--software debe ser ID:PIN")
        software[sid] = pin
    test_sets = {}
    for t in args.test_set:
        parts = t.split(":")
        counts = [int(x) for x in parts[1:4]] if len(parts) == 4 else [2, 1, 1]
        test_sets[parts[0]] = dict(zip(("invoices", "credit_notes", "debit_notes"), counts))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    server = SandboxServer(args.host, args.port, ranges=args.range, test_sets=test_sets, software=software,
                           schema_dir=args.schema_dir, state_file=args.state,
                           async_pending_polls=args.pending_polls, habilitacion=not args.no_habilitacion)
    try:
        server.start()
    except OSError as exc:
        print(f"No se pudo abrir {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    print(f"Simulador DIAN escuchando en {server.url} (Ctrl-C para terminar)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
