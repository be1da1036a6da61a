"""Sending signed documents to DIAN's web service and following them to a final answer.

Resending is safe: DIAN answers an already-processed document with rule 90, which we record as
accepted with the CUFE DIAN returns. A worker that dies between sending and saving therefore
never leaves a document in a wrong state once the job runs again.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from facturador.core import jobs, outbound
from facturador.core.errors import Refusal
from facturador.core.models import IssuedDocument
from facturador.dian.ws import packaging
from facturador.dian.ws.client import DianClient, DianSoapFault, DianStillProcessing, DianTransportError
from facturador.einvoice.models import DianDocument, FileCounter, OperationMode
from facturador.einvoice.services import dian_client

logger = logging.getLogger(__name__)


def client_for(doc: DianDocument) -> DianClient:
    """A client for the document's software endpoint, checked again now (core.outbound): a stored address the
    deployment no longer allows, or whose host now resolves to a private network, is refused."""
    return dian_client(doc.issuer, doc.operation_mode)


def _next_counter(issuer, year: int, count: int = 1) -> int:
    """Take ``count`` consecutive values of the issuer's yearly file counter; returns the first."""
    with transaction.atomic():
        FileCounter.objects.get_or_create(issuer=issuer, year=year)
        FileCounter.objects.filter(issuer=issuer, year=year).update(next_value=F("next_value") + count)
        return FileCounter.objects.values_list("next_value", flat=True).get(issuer=issuer, year=year) - count


def file_names(issuer, kind: str, year: int, count: int) -> tuple[list[str], str]:
    """``count`` new DIAN XML file names of ``kind`` and the name of the zip that carries them (SendBillAsync),
    from one allocation of the yearly file counter."""
    first = _next_counter(issuer, year, count + 1)
    names = [packaging.document_filename(kind, issuer.tax_id, first + k, year) for k in range(count)]
    return names, packaging.zip_filename(issuer.tax_id, first + count, year)


def ensure_file_name(doc: DianDocument) -> str:
    """Allocate the DIAN file name once per document; resends reuse it."""
    if not doc.file_name:
        counter = _next_counter(doc.issuer, doc.issue_date.year)
        name = packaging.document_filename(doc.kind, doc.issuer.tax_id, counter, doc.issue_date.year)
        DianDocument.objects.filter(pk=doc.pk, file_name="").update(file_name=name)
        doc.refresh_from_db(fields=["file_name"])
    return doc.file_name


def apply_response(doc: DianDocument, response) -> None:
    """Record one of DIAN's answers on the document (not saved): state, code, message, rules, ApplicationResponse."""
    if response.accepted:
        doc.status = DianDocument.Status.ACCEPTED
        if response.is_duplicate and response.xml_document_key and not doc.cufe:
            doc.cufe = response.xml_document_key
    elif response.in_process:
        doc.status = DianDocument.Status.PENDING
    else:
        doc.status = DianDocument.Status.REJECTED
    doc.dian_status_code = response.status_code or ""
    doc.dian_message = response.summary[:2000]
    doc.rules = response.rule_dicts()
    if response.application_response:
        doc.application_response = response.application_response
    doc.answered_at = timezone.now()


def _save(doc: DianDocument):
    doc.save(update_fields=["status", "dian_status_code", "dian_message", "rules", "application_response", "answered_at",
                            "cufe", "zip_key", "sent_at", "send_attempts"])
    IssuedDocument.objects.filter(source="einvoice.document", source_id=str(doc.pk)).update(status=doc.status)


def send_and_follow(doc: DianDocument, *, client: DianClient | None = None,
                    poll_attempts: int | None = None, poll_interval: float | None = None) -> DianDocument:
    """Send (or resume following) one document; leaves it accepted, rejected, pending or in error."""
    if doc.status in (DianDocument.Status.ACCEPTED, DianDocument.Status.REJECTED):
        return doc
    if client is None:
        try:
            client = client_for(doc)
        except Refusal as refusal:
            logger.warning("Not sending %s: %s", doc, refusal)
            doc.status = DianDocument.Status.ERROR
            doc.dian_message = refusal.message[:2000]
            _save(doc)
            return doc
    poll_attempts = poll_attempts or settings.FACTURADOR_DIAN_POLL_ATTEMPTS
    poll_interval = poll_interval if poll_interval is not None else settings.FACTURADOR_DIAN_POLL_INTERVAL
    filename = ensure_file_name(doc)
    zip_name = "z" + filename[2:-4] + ".zip"
    try:
        if doc.zip_key and doc.status == DianDocument.Status.PENDING:
            responses = client.poll_until_final(doc.zip_key, attempts=poll_attempts, interval=poll_interval)
        else:
            doc.send_attempts += 1
            doc.sent_at = timezone.now()
            payload = packaging.make_zip(filename, bytes(doc.signed_xml))
            if doc.test_set:
                upload = client.send_test_set_async(zip_name, payload, doc.operation_mode.test_set_id)
                if not upload.ok:
                    doc.status = DianDocument.Status.REJECTED
                    doc.rules = [{"code": "", "message": e.processed_message, "severity": "rejection"} for e in upload.errors]
                    doc.dian_message = "La DIAN no recibió el archivo."
                    doc.answered_at = timezone.now()
                    _save(doc)
                    return doc
                doc.zip_key = upload.zip_key or ""
                doc.status = DianDocument.Status.PENDING
                _save(doc)
                responses = client.poll_until_final(doc.zip_key, attempts=poll_attempts, interval=poll_interval)
            else:
                doc.status = DianDocument.Status.SENT
                _save(doc)
                responses = [client.send_bill_sync(zip_name, payload)]
    except DianStillProcessing:
        doc.status = DianDocument.Status.PENDING
        doc.dian_message = "La DIAN sigue procesando el documento; se consultará de nuevo."
        _save(doc)
        follow_later(doc)
        return doc
    except DianTransportError as exc:
        # People get a generic text: the detail (refused connection, HTTP status...) would let a tenant probe
        # which addresses and ports answer. The log keeps it.
        logger.warning("Sending %s to DIAN failed: %s", doc, exc)
        doc.status = DianDocument.Status.ERROR
        doc.dian_message = outbound.CONNECTION_FAILED
        _save(doc)
        return doc
    except DianSoapFault as exc:
        logger.warning("DIAN answered %s with a fault: %s", doc, exc)
        doc.status = DianDocument.Status.ERROR
        doc.dian_message = exc.message
        _save(doc)
        return doc
    mine = [r for r in responses if (r.xml_document_key or "") == doc.cufe] or responses
    apply_response(doc, mine[0])
    test_set = next((r for r in responses if r.test_set_accepted), None)
    if test_set is not None:
        # "Set de prueba con identificador … se encuentra Aceptado": the software may now go to production.
        doc.dian_message = f"{doc.dian_message} {test_set.status_description}".strip()[:2000]
        OperationMode.objects.filter(pk=doc.operation_mode_id, state__in=["registered", "testing"]).update(
            state=OperationMode.State.ACCEPTED)
    _save(doc)
    return doc


def follow_later(doc: DianDocument, seconds: int = 60):
    """Ask again later without holding a worker: a new job that runs after `seconds`."""
    with transaction.atomic():
        job = jobs.create_job(doc.issuer, "einvoice.send", title=f"Consulta de estado de {doc}",
                              params={"document": doc.pk}, total=1,
                              run_after=timezone.now() + timezone.timedelta(seconds=seconds))
        DianDocument.objects.filter(pk=doc.pk).update(job=job)
