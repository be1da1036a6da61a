"""The user actions of reception: one function each, shared by the web UI, the API and the CLI.

Each takes ``(issuer, actor, *, ...)``, checks the rules, does the work and writes the audit entry once. Refusals
are `core.errors.Refusal` with codes ``reception.<subject>.<reason>``. Reading and filing are in
`reception.intake` and `reception.services`; the mailbox is polled by `reception.mailbox` from `reception.jobs`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from facturador.core import audit, jobs, outbound
from facturador.core.actors import Actor
from facturador.core.errors import Conflict, Invalid, NotFound
from facturador.reception import services
from facturador.reception.models import Intake, Mailbox, ReceivedDocument, Source

POLL_KIND = "reception.poll"


def _read_upload(upload, name: str) -> bytes:
    limit = settings.FACTURADOR_RECEPTION_MAX_BYTES
    declared = getattr(upload, "size", None)
    if declared is not None and declared > limit:
        raise Invalid("reception.file.too_large", f"El archivo «{name}» pesa {declared / 2**20:.1f} MB; el máximo es "
                      f"{limit / 2**20:.0f} MB.", field="file")
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise Invalid("reception.file.too_large", f"El archivo «{name}» supera el máximo de {limit / 2**20:.0f} MB.",
                      field="file")
    if not data:
        raise Invalid("reception.file.empty", f"El archivo «{name}» está vacío.", field="file")
    return data


def import_file(issuer, actor: Actor, *, upload, source: str = Source.UPLOAD) -> Intake:
    """Receive one file (a DIAN AttachedDocument xml or zip, a CFDI xml, or an email .eml with them).

    The arrival is recorded, then its documents are verified and filed in one transaction. When nothing in it
    could be filed (every member unreadable), the refusal names the file and member; the failed arrival stays
    listed with its errors. Duplicates and documents addressed to another NIT/RFC are not errors: the result says
    so per document.
    """
    if source not in (Source.UPLOAD, Source.CLI):
        raise Invalid("reception.intake.bad_source", "Origen no válido.", field="source")
    name = services.clean_filename(getattr(upload, "name", "") or "archivo")
    data = _read_upload(upload, name)
    intake = services.record_intake(issuer, source=source, name=name, data=data, user=actor.user)
    intake = services.process_intake(intake, data)
    audit.record("reception.import", actor=actor, issuer=issuer, obj=intake,
                 summary=f"{name}: {intake.documents} nuevos, {intake.duplicates} duplicados, "
                         f"{intake.set_aside} apartados, {intake.errors} errores")
    if intake.status == Intake.Status.FAILED:
        raise Invalid(intake.error_code or "reception.file.no_documents", intake.error_message, field="file",
                      details={"intake": intake.pk, "results": intake.results})
    return intake


def get_document(issuer, pk) -> ReceivedDocument:
    doc = ReceivedDocument.objects.filter(issuer=issuer, pk=pk).first()
    if doc is None:
        raise NotFound("reception.document.not_found", "Documento recibido no encontrado.", field="id")
    return doc


# ----------------------------------------------------------------------------------------- mailbox
def save_mailbox(issuer, actor: Actor, *, values: dict, password: str | None = None) -> Mailbox:
    """Create or change the issuer's reception mailbox. `password` None keeps the stored one."""
    mailbox = Mailbox.objects.filter(issuer=issuer).first() or Mailbox(issuer=issuer)
    host = (values.get("host") or "").strip()
    if not host:
        raise Invalid("reception.mailbox.host_missing", "Indique el servidor IMAP.", field="host")
    port = int(values.get("port") or 993)
    if not 0 < port < 65536:
        raise Invalid("reception.mailbox.bad_port", "Puerto no válido.", field="port")
    security = values.get("security") or Mailbox.Security.SSL
    if security not in Mailbox.Security.values:
        raise Invalid("reception.mailbox.bad_security", "Seguridad no válida.", field="security")
    outbound.check_mail_server(host, port, tls=security != Mailbox.Security.NONE, field="host")
    if not (values.get("username") or "").strip():
        raise Invalid("reception.mailbox.user_missing", "Indique el usuario del buzón.", field="username")
    for name in ("enabled", "address", "username", "folder", "done_folder", "poll_minutes"):
        if name in values:
            setattr(mailbox, name, values[name])
    mailbox.host, mailbox.port, mailbox.security = host, port, security
    mailbox.username = mailbox.username.strip()
    mailbox.folder = (mailbox.folder or "INBOX").strip()
    mailbox.poll_minutes = max(1, int(mailbox.poll_minutes or 5))
    if password is not None:
        mailbox.password = password
    if not mailbox.password:
        raise Invalid("reception.mailbox.password_missing", "Indique la contraseña del buzón.", field="password")
    with transaction.atomic():
        mailbox.save()
        audit.record("reception.mailbox.save", actor=actor, issuer=issuer, obj=mailbox, summary=str(mailbox))
    return mailbox


def poll_mailbox(issuer, actor: Actor, *, enqueue: bool = True):
    """Create the job that reads the mailbox now (refused when one is already pending or running)."""
    mailbox = Mailbox.objects.filter(issuer=issuer).first()
    if mailbox is None:
        raise NotFound("reception.mailbox.not_configured", "Configure primero el buzón de recepción.", field="mailbox")
    with transaction.atomic():
        if mailbox.last_job_id and mailbox.last_job.status in ("pending", "running"):
            raise Conflict("reception.mailbox.busy", "Ya hay una consulta del buzón en curso.")
        job = create_poll_job(mailbox, user=actor.user, enqueue=enqueue)
        audit.record("reception.mailbox.poll", actor=actor, issuer=issuer, obj=mailbox, summary=str(mailbox))
    return job


def create_poll_job(mailbox: Mailbox, *, user=None, enqueue: bool = True):
    job = jobs.create_job(mailbox.issuer, POLL_KIND, title=f"Buzón de recepción {mailbox.username}@{mailbox.host}",
                          params={"mailbox": mailbox.pk}, user=user, enqueue=enqueue)
    Mailbox.objects.filter(pk=mailbox.pk).update(last_job=job, last_poll_at=timezone.now())
    mailbox.last_job = job
    return job
