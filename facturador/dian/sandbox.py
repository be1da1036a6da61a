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
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import sys
import tempfile
import threading
import time
import uuid as uuid_mod
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

from lxml import etree

from . import enablement
from .ns import DIAN_EXTENSIONS, NS, ROOT
from .ws import packaging, responses, soap
from .ws.responses import (DianResponse, NumberingRange, NumberingRangeResponse, RuleMessage, TrackIdMessage,
                           UploadResponse, XmlDocumentResponse)

log = logging.getLogger(__name__)

PATH = "/WcfDianCustomerServices.svc"
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


def _text(root, path: str) -> str | None:
    found = root.xpath(path, namespaces=NS)
    if not found:
        return None
    v = found[0]
    return (v if isinstance(v, str) else (v.text or "")).strip()


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
                 authorized_senders: dict[str, list[str]] | None = None, address: str | None = None):
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
        self.batches: dict[str, dict] = {}       # zip_key -> {files, test_set_id, polls_left, results}
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

    # ------------------------------------------------------------ configuration
    def _add_range(self, r: Range):
        with self.lock:
            self.ranges = [x for x in self.ranges if not (x.nit == r.nit and x.prefix == r.prefix and
                                                          x.from_number == r.from_number)]
            self.ranges.append(r)
            self._save()

    def register_range(self, nit: str, prefix: str, from_number: int, to_number: int, technical_key: str,
                       software_id: str | None = None, **extra) -> Range:
        r = Range(str(nit), prefix, int(from_number), int(to_number), technical_key, software_id, **extra)
        self._add_range(r)
        return r

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
            if batch["results"] is None:
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
                return DianResponse(responses.STATUS_NOT_FOUND, False,
                                    responses.STATUS_TEXT[responses.STATUS_NOT_FOUND],
                                    responses.STATUS_TEXT[responses.STATUS_NOT_FOUND])
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
        from .verify import verify_document

        def msg(code, severity, text):
            return RuleMessage(code, severity, text, RuleMessage(code, severity, text, "").format())

        try:
            root = etree.fromstring(xml, soap.PARSER)
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
        findings = prevalidate(xml, schema_dir=self.schema_dir, technical_key=key, pin=pin,
                               software_id=f["software_id"] if pin else None, numbering=numbering,
                               lookup_invoice=self._lookup_invoice)
        for fd in findings:
            out.append(msg(fd.code, fd.severity, fd.message_es))
        report = verify_document(xml, technical_key=key, pin=pin, schema_dir=self.schema_dir)
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
                if prior is None:
                    prior = next((d for d in self.documents.values() if d["accepted"] and d["nit"] ==
                                  f["supplier_nit"] and d["number"] == f["number"] and d["kind"] == f["kind"]), None)
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
                        "issue_date": f["issue_date"], "xml": xml, "response": resp, "accepted": False})
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
                                         "response": resp, "accepted": True, "test_set_id": test_set_id}
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

    def do_GET(self):
        if urlparse(self.path).path.rstrip("/") != PATH:
            return self._send(404, b"Not found", "text/plain")
        self._send(200, "Simulador local del servicio WcfDianCustomerServices de la DIAN (sin validez fiscal). "
                        "Use POST con SOAP 1.2.".encode(), "text/plain; charset=utf-8")

    def do_POST(self):
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


def _parse_range(value: str) -> dict:
    parts = value.split(":")
    if len(parts) not in (5, 6):
        raise argparse.ArgumentTypeError("use NIT:PREFIJO:DESDE:HASTA:CLAVE_TECNICA[:SOFTWARE_ID]")
    nit, prefix, lo, hi, key = parts[:5]
    return {"nit": nit, "prefix": prefix, "from_number": int(lo), "to_number": int(hi), "technical_key": key,
            "software_id": parts[5] if len(parts) == 6 else None}


def main(argv=None) -> int:
    """``dian-sandbox --port 8089 [--host 127.0.0.1] [--state estado.json] [--range ...] [--software ID:PIN]
    [--test-set ID[:FACTURAS:NC:ND]]``."""
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
