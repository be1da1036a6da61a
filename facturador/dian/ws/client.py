"""Client for DIAN's ``WcfDianCustomerServices`` (SOAP 1.2 + WS-Security), pure Python.

Transport: ``requests`` (a ``Session`` keeps connections alive between calls). Every attempt builds a fresh
envelope (new timestamp and signature). Retries with exponential backoff happen only on transport problems:
connection refused/reset, timeouts, HTTP 5xx (and 408/429) without a SOAP fault and SOAP faults whose code is ``Receiver``
(server side). A well-formed DIAN answer, including a rejection (99) or a ``Sender`` fault (bad security,
bad request), is returned or raised at once: resending cannot change it. Re-sending a document after a
timeout is safe: if DIAN had processed it, the answer is rule 90 which ``DianResponse.accepted`` treats as
accepted, with the CUFE in ``xml_document_key``.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import time
from typing import Callable

import requests
from lxml import etree

from ..errors import DianError
from . import packaging, responses, soap
from .responses import (AcquirerResponse, DianResponse, DocumentInfoResponse, ExchangeEmailsResponse,
                        NumberingRangeResponse, UploadResponse, XmlDocumentResponse)

log = logging.getLogger(__name__)

HABILITACION_URL = "https://vpfe-hab.dian.gov.co/WcfDianCustomerServices.svc"
PRODUCTION_URL = "https://vpfe.dian.gov.co/WcfDianCustomerServices.svc"
ENDPOINTS = {
    "habilitacion": HABILITACION_URL, "hab": HABILITACION_URL, "test": HABILITACION_URL, "2": HABILITACION_URL,
    "produccion": PRODUCTION_URL, "production": PRODUCTION_URL, "prod": PRODUCTION_URL, "1": PRODUCTION_URL,
}


def endpoint_for(environment: str) -> str:
    """Endpoint URL for an environment name (``habilitacion``/``produccion``, or ProfileExecutionID 2/1)."""
    try:
        return ENDPOINTS[str(environment).strip().lower()]
    except KeyError:
        raise DianError("ws_environment", "environment", f"Ambiente DIAN desconocido: {environment!r} "
                        "(use habilitacion o produccion).", f"unknown environment {environment!r}") from None


class DianTransportError(DianError):
    """DIAN could not be reached or answered with something that is not a SOAP response.
    ``attempts`` is how many requests were made; ``status`` the last HTTP status (None if no answer)."""

    def __init__(self, message: str, english: str, attempts: int, status: int | None = None,
                 code: str = "ws_transport"):
        super().__init__(code, "endpoint", message, english)
        self.attempts = attempts
        self.status = status


class DianSoapFault(DianError):
    """DIAN answered with a SOAP fault (e.g. WS-Security refused). ``fault`` holds code/subcode/reason."""

    def __init__(self, fault: soap.Fault, attempts: int, status: int | None):
        super().__init__(f"ws_fault_{fault.subcode or fault.code}", "soap:Fault",
                         f"La DIAN rechazó la solicitud: {fault.reason or fault.subcode or fault.code}",
                         f"SOAP fault {fault.code}/{fault.subcode}: {fault.reason}")
        self.fault = fault
        self.attempts = attempts
        self.status = status


class DianStillProcessing(DianError):
    """``poll_until_final`` ran out of attempts while DIAN still said "en proceso". ``responses`` is the last
    answer; poll again later with the same track id."""

    def __init__(self, track_id: str, attempts: int, responses: list[DianResponse]):
        super().__init__("ws_pending", "trackId", f"La DIAN aún está procesando el envío {track_id} después de "
                         f"{attempts} consultas; se consultará de nuevo más tarde.",
                         f"still processing {track_id} after {attempts} polls")
        self.track_id = track_id
        self.attempts = attempts
        self.responses = responses


class DianClient:
    """``DianClient(endpoint, signer)``; ``signer`` has ``.key`` (RSA private key) and ``.certificate``
    (``facturador.dian.xades.Signer`` or any object with those attributes).

    ``endpoint`` is a URL or an environment name (``habilitacion``/``produccion``). ``timeout`` is the per-request
    timeout in seconds (connect, read); ``retries`` the number of extra attempts on transport errors, waiting
    ``backoff * 2**n`` seconds (capped at ``max_backoff``). ``timestamp_ttl`` is the WS-Security lifetime.
    ``clock`` returns the current aware datetime (UTC) used for timestamps; ``sleep`` waits between attempts.
    ``key_reference`` is how the signature points to the certificate (``soap.build_envelope``): ``direct`` (the
    documented request shape) or ``thumbprint`` (the WSDL policy's ``sp:RequireThumbprintReference``).
    """

    def __init__(self, endpoint: str, signer, timeout: float | tuple[float, float] = 60.0, retries: int = 3,
                 backoff: float = 1.0, max_backoff: float = 30.0, timestamp_ttl: float = 60.0,
                 session: requests.Session | None = None, verify_tls: bool | str = True,
                 clock: Callable[[], dt.datetime] | None = None, sleep: Callable[[float], None] = time.sleep,
                 key_reference: str = "direct"):
        self.endpoint = endpoint if "://" in str(endpoint) else endpoint_for(endpoint)
        self.signer = signer
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timestamp_ttl = timestamp_ttl
        self.session = session or requests.Session()
        self.verify_tls = verify_tls
        self.clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self.sleep = sleep
        self.key_reference = key_reference

    # ---------------------------------------------------------------- transport
    def _delay(self, attempt: int) -> float:
        return min(self.max_backoff, self.backoff * (2 ** attempt))

    def call(self, operation: str, **params):
        """Send one operation and return the parsed result (see ``responses.parse_result``)."""
        last_status, last_error = None, ""
        attempts = 0
        for attempt in range(self.retries + 1):
            if attempt:
                wait = self._delay(attempt - 1)
                log.info("DIAN %s retry %d/%d in %.2fs (%s)", operation, attempt, self.retries, wait, last_error)
                self.sleep(wait)
            attempts += 1
            body = soap.build_envelope(operation, params, self.endpoint, self.signer.key, self.signer.certificate,
                                       now=self.clock(), ttl=self.timestamp_ttl, key_reference=self.key_reference)
            headers = {"Content-Type": f'application/soap+xml; charset=utf-8; action="{soap.action_uri(operation)}"',
                       "Accept": "application/soap+xml, text/xml"}
            try:
                resp = self.session.post(self.endpoint, data=body, headers=headers, timeout=self.timeout,
                                         verify=self.verify_tls)
            except (requests.ConnectionError, requests.Timeout) as exc:
                last_status, last_error = None, f"{type(exc).__name__}: {exc}"
                continue
            last_status = resp.status_code
            root = None
            if resp.content:
                try:
                    root = etree.fromstring(resp.content, soap.PARSER)
                except etree.XMLSyntaxError:
                    root = None
            if root is not None and root.tag == f"{{{soap.SOAP}}}Envelope":
                fault = soap.find_fault(root)
                if fault is not None:
                    if fault.is_sender:
                        raise DianSoapFault(fault, attempts, resp.status_code)
                    last_error = f"SOAP fault {fault.code}/{fault.subcode}: {fault.reason}"
                    if attempt == self.retries:
                        raise DianSoapFault(fault, attempts, resp.status_code)
                    continue
                if resp.status_code == 200:
                    try:
                        return responses.parse_result(root, operation)
                    except (DianError, ValueError) as exc:
                        raise DianTransportError(
                            "La respuesta de la DIAN no tiene el formato esperado.",
                            f"malformed {operation} response: {exc}", attempts, 200, code="ws_bad_response") from exc
            if resp.status_code >= 500 or resp.status_code in (408, 429):
                last_error = f"HTTP {resp.status_code}"
                continue
            raise DianTransportError(
                f"Respuesta inesperada de la DIAN (HTTP {resp.status_code}).",
                f"unexpected HTTP {resp.status_code} from {self.endpoint}", attempts, resp.status_code,
                code="ws_http")
        raise DianTransportError(
            f"No fue posible comunicarse con la DIAN después de {attempts} intentos ({last_error}).",
            f"DIAN unreachable after {attempts} attempts: {last_error}", attempts, last_status)

    # ---------------------------------------------------------------- operations
    def send_bill_sync(self, filename: str, zip_bytes: bytes) -> DianResponse:
        """``SendBillSync``: one document per zip; ``filename`` is the zip name."""
        return self.call("SendBillSync", fileName=filename, contentFile=base64.b64encode(zip_bytes).decode("ascii"))

    def send_bill_async(self, filename: str, zip_bytes: bytes) -> UploadResponse:
        """``SendBillAsync``: up to 50 documents; returns the ``ZipKey`` to poll with ``get_status_zip``."""
        return self.call("SendBillAsync", fileName=filename, contentFile=base64.b64encode(zip_bytes).decode("ascii"))

    def send_test_set_async(self, filename: str, zip_bytes: bytes, test_set_id: str) -> UploadResponse:
        """``SendTestSetAsync`` (habilitación) with the TestSetId shown in DIAN's portal."""
        return self.call("SendTestSetAsync", fileName=filename,
                         contentFile=base64.b64encode(zip_bytes).decode("ascii"), testSetId=test_set_id)

    def get_status(self, track_id: str) -> DianResponse:
        """``GetStatus`` of one document by CUFE/CUDE."""
        return self.call("GetStatus", trackId=track_id)

    def get_status_zip(self, track_id: str) -> list[DianResponse]:
        """``GetStatusZip`` of an async upload by ZipKey: one ``DianResponse`` per document (or one "en proceso")."""
        return self.call("GetStatusZip", trackId=track_id)

    def get_numbering_range(self, account_code: str, account_code_t: str, software_code: str) -> NumberingRangeResponse:
        """``GetNumberingRange``: ranges (with ``technical_key``) of NIT ``account_code`` for a software."""
        return self.call("GetNumberingRange", accountCode=account_code, accountCodeT=account_code_t,
                         softwareCode=software_code)

    def get_xml_by_document_key(self, track_id: str) -> XmlDocumentResponse:
        """``GetXmlByDocumentKey``: the stored UBL of a CUFE/CUDE."""
        return self.call("GetXmlByDocumentKey", trackId=track_id)

    def send_event_update_status(self, zip_bytes: bytes) -> DianResponse:
        """``SendEventUpdateStatus``: a zip with one signed ``ApplicationResponse`` event (RADIAN 030 acuse de
        recibo, 031 reclamo, 032 recibo del bien o servicio, 033 aceptación expresa, 034 aceptación tácita).
        ``xml_document_key`` of the answer is the event's CUDE; a re-sent event answers rule 90 (``accepted``)."""
        return self.call("SendEventUpdateStatus", contentFile=base64.b64encode(zip_bytes).decode("ascii"))

    def get_status_event(self, track_id: str) -> DianResponse:
        """``GetStatusEvent``: the events registered on a document (by its CUFE/CUDE) or the status of one event
        (by the event's CUDE)."""
        return self.call("GetStatusEvent", trackId=track_id)

    def get_reference_notes(self, track_id: str) -> DianResponse:
        """``GetReferenceNotes``: the credit/debit notes that refer to an invoice (by its CUFE)."""
        return self.call("GetReferenceNotes", trackId=track_id)

    def get_document_info(self, uuid: str) -> DocumentInfoResponse:
        """``GetDocumentInfo``: what DIAN holds about a document (parties, totals, state, events, notes)."""
        return self.call("GetDocumentInfo", uuid=uuid)

    def get_acquirer(self, identification_type: str, identification_number: str) -> AcquirerResponse:
        """``GetAcquirer``: a buyer's name and reception e-mail registered at DIAN, by identification type (DIAN's
        code list: 13 cédula, 31 NIT, ...) and number (NIT without check digit)."""
        return self.call("GetAcquirer", identificationType=str(identification_type),
                         identificationNumber=str(identification_number))

    def get_exchange_emails(self) -> ExchangeEmailsResponse:
        """``GetExchangeEmails``: the CSV of reception e-mails of the e-invoicing taxpayers (``.rows``)."""
        return self.call("GetExchangeEmails")

    def send_bill_attachment_async(self, filename: str, zip_bytes: bytes) -> UploadResponse:
        """``SendBillAttachmentAsync``: a zip of ``AttachedDocument`` containers; poll the ``ZipKey`` with
        ``get_status_zip``."""
        return self.call("SendBillAttachmentAsync", fileName=filename,
                         contentFile=base64.b64encode(zip_bytes).decode("ascii"))

    # ---------------------------------------------------------------- helpers
    def send_event(self, xml_filename: str, xml_bytes: bytes) -> DianResponse:
        """Zip one signed ApplicationResponse event (``ar...xml``) and send it with ``SendEventUpdateStatus``."""
        return self.send_event_update_status(packaging.make_zip(xml_filename, xml_bytes))

    def send_document(self, xml_filename: str, xml_bytes: bytes, zip_name: str | None = None) -> DianResponse:
        """Zip one signed XML and send it with ``SendBillSync``."""
        zip_name = zip_name or ("z" + xml_filename[2:-4] + ".zip" if xml_filename.endswith(".xml") else
                                xml_filename + ".zip")
        return self.send_bill_sync(zip_name, packaging.make_zip(xml_filename, xml_bytes))

    def poll_until_final(self, track_id: str, attempts: int = 10, interval: float = 2.0, max_interval: float = 60.0,
                         use_zip: bool = True) -> list[DianResponse]:
        """Poll ``GetStatusZip`` (or ``GetStatus`` when ``use_zip`` is False) until no entry is "en proceso";
        waits ``interval`` seconds, doubling up to ``max_interval``, at most ``attempts`` queries. Returns the
        final responses; raises ``DianStillProcessing`` when the attempts run out."""
        last: list[DianResponse] = []
        wait = interval
        for n in range(max(1, attempts)):
            if n:
                self.sleep(wait)
                wait = min(max_interval, wait * 2)
            last = self.get_status_zip(track_id) if use_zip else [self.get_status(track_id)]
            if last and all(r.final for r in last):
                return last
        raise DianStillProcessing(track_id, max(1, attempts), last)
