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
from facturador.core.errors import Conflict, Invalid, NotFound, Refusal
from facturador.core.uploads import TooLarge, read_within
from facturador.reception import services
from facturador.reception.models import Intake, Mailbox, ReceivedDocument, Source

POLL_KIND = "reception.poll"


def _read_upload(upload, name: str) -> bytes:
    limit = settings.FACTURADOR_RECEPTION_MAX_BYTES
    try:
        data = read_within(upload, limit)
    except TooLarge as exc:
        what = (f"pesa {exc.size / 2**20:.1f} MB; el máximo es" if exc.size is not None else "supera el máximo de")
        raise Invalid("reception.file.too_large", f"El archivo «{name}» {what} {limit / 2**20:.0f} MB.",
                      field="file") from None
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


def import_files(issuer, actor: Actor, *, uploads, source: str = Source.CLI) -> list[Intake]:
    """Receive many files at once (a folder given to the CLI): each is an arrival, as with `import_file`, but they
    are recorded and filed `services.BATCH_SIZE` per transaction (`services.import_batch`).

    ``uploads``: binary files (with ``name``), read one at a time. A file that cannot be read (too large, empty,
    not a document) is a failed arrival with its reason and never stops the others; nothing is refused as a
    whole. One audit entry for the lot."""
    if source not in (Source.UPLOAD, Source.CLI):
        raise Invalid("reception.intake.bad_source", "Origen no válido.", field="source")
    out: list[Intake] = []
    pending: list[tuple[str, bytes]] = []

    def flush():
        out.extend(services.import_batch(issuer, source=source, arrivals=pending, user=actor.user))
        pending.clear()

    for upload in uploads:
        name = services.clean_filename(getattr(upload, "name", "") or "archivo")
        try:
            pending.append((name, _read_upload(upload, name)))
        except Invalid as exc:  # too large or empty: listed with its reason (in order), not read
            if pending:
                flush()
            out.append(services.record_refused(issuer, source=source, name=name, size=getattr(upload, "size", 0)
                                               or 0, code=exc.code, message=exc.message, user=actor.user))
        if len(pending) >= services.BATCH_SIZE:
            flush()
    if pending:
        flush()
    totals = {k: sum(getattr(i, k) for i in out) for k in ("documents", "duplicates", "set_aside", "errors")}
    audit.record("reception.import", actor=actor, issuer=issuer, obj=None,
                 summary=f"{len(out)} archivos: {totals['documents']} nuevos, {totals['duplicates']} duplicados, "
                         f"{totals['set_aside']} apartados, {totals['errors']} errores")
    return out


#: arrivals that may be read again: nothing (failed) or not everything (partial) was filed
REPROCESSABLE = (Intake.Status.FAILED, Intake.Status.PARTIAL)


def reprocess_intake(issuer, actor: Actor, *, intake_id) -> Intake:
    """Read a failed (or partly failed) arrival again from its stored copy, through the same intake as when it
    arrived. Idempotent: a document already filed (by this arrival or another) is counted as a duplicate, never
    stored twice. The intake's outcome is replaced by the new one."""
    try:
        intake = Intake.objects.select_related("issuer").filter(issuer=issuer, pk=int(intake_id)).first()
    except (TypeError, ValueError):
        intake = None
    if intake is None:
        raise NotFound("reception.intake.not_found", "Llegada no encontrada.", field="intake")
    if intake.status not in REPROCESSABLE:
        raise Conflict("reception.intake.not_failed", f"La llegada #{intake.pk} está «{intake.get_status_display()}»; "
                       "solo se reprocesan las llegadas con errores.", field="intake")
    if not intake.file:
        raise Conflict("reception.intake.no_copy", f"La llegada #{intake.pk} no tiene copia guardada (no se "
                       "descargó); no se puede reprocesar.", field="intake")
    try:
        with intake.file.open("rb") as fh:
            data = fh.read()
    except OSError:
        raise Conflict("reception.intake.no_copy", f"No se encontró la copia guardada de la llegada #{intake.pk}.",
                       field="intake") from None
    if not data:  # a message over the size cap is recorded without its content
        raise Conflict("reception.intake.no_copy", f"La llegada #{intake.pk} no tiene copia guardada (no se "
                       "descargó); no se puede reprocesar.", field="intake")
    before = intake.get_status_display()
    intake = services.process_intake(intake, data)
    audit.record("reception.intake.reprocess", actor=actor, issuer=issuer, obj=intake,
                 summary=f"#{intake.pk} {intake.original_name}: {before} → {intake.get_status_display()}; "
                         f"{intake.documents} nuevos, {intake.duplicates} duplicados, {intake.set_aside} apartados, "
                         f"{intake.errors} errores")
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
    for name in ("enabled", "username", "folder", "done_folder", "poll_minutes"):
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


# --- DIAN events (RADIAN) and SAT status -------------------------------------------------------------------

EVENTS_KIND, SAT_KIND, TACIT_KIND = "reception.events", "reception.sat_status", "reception.tacit"
EVENT_SETTINGS_FIELDS = ("person_id_type", "person_id_number", "person_first_name", "person_family_name",
                         "person_job_title", "person_department", "event_prefix", "email_supplier",
                         "auto_tacit_acceptance")


def _own(issuer, document: ReceivedDocument) -> ReceivedDocument:
    if document is None or document.issuer_id != issuer.pk:
        raise NotFound("reception.document.not_found", "El documento no existe para este emisor.", field="document")
    return document


def send_event(issuer, actor: Actor, *, document: ReceivedDocument, code: str, reason: str | None = None,
               wait: bool = False):
    """Register a DIAN event (030 acuse de recibo, 031 reclamo with its concept, 032 recibo del bien o servicio,
    033 aceptación expresa) about a received invoice: order rules checked, the event built and signed with the
    issuer's certificate and software, stored once, then sent by a job (``wait``: sent now, in this process)."""
    from facturador.reception import radian

    document = _own(issuer, document)
    code, reason = (code or "").strip(), (reason or "").strip() or None
    with transaction.atomic():
        event = radian.create_event(document, code, reason, user=actor.user)
        if not wait:
            radian.schedule_send(issuer, [event], user=actor.user)
        audit.record("reception.event", actor=actor, issuer=issuer, obj=event,
                     summary=f"{event} sobre {document.number}")
    if wait:
        event = radian.send_event(event)
    return event


def send_events_bulk(issuer, actor: Actor, *, documents, action: str) -> dict:
    """The bulk buttons of the inbox: ``acknowledge`` (030), ``receive`` (032) or ``accept`` (033) for many
    received invoices. Each document is checked by the same order rules; the ones refused are listed with the
    refusal (code, message) and the others get their event, sent by one job. Refused when none could."""
    from facturador.reception import radian

    code = radian.BULK.get((action or "").strip())
    if code is None:
        raise Invalid("reception.event.bulk_action", "Acción no válida: acknowledge (acusar recibo), receive "
                      "(recibir) o accept (aceptar).", field="action")
    documents = list(documents)
    if not documents:
        raise Invalid("reception.event.none_selected", "Seleccione al menos un documento.", field="documents")
    created, refused, first = [], [], None
    with transaction.atomic():
        for doc in documents:
            try:
                with transaction.atomic():
                    created.append(radian.create_event(_own(issuer, doc), code, user=actor.user))
            except Refusal as exc:
                first = first or exc
                refused.append({"document": getattr(doc, "pk", None), "number": getattr(doc, "number", ""),
                                "code": exc.code, "message": exc.message})
        if not created:  # none could: the first refusal, with the list of all
            first.details = {**(first.details or {}), "refused": refused}
            raise first
        job = radian.schedule_send(issuer, created, user=actor.user)
        audit.record("reception.event_bulk", actor=actor, issuer=issuer, obj=job,
                     summary=f"Evento {code} para {len(created)} documento(s); {len(refused)} rechazado(s)")
    return {"code": code, "events": created, "refused": refused, "job": job}


def save_event_settings(issuer, actor: Actor, *, values: dict):
    """The person named in 030/032 events, the event prefix, e-mailing the supplier, and registering 034 on the
    issuer's own invoices."""
    from facturador.reception import radian

    unknown = set(values) - set(EVENT_SETTINGS_FIELDS)
    if unknown:
        raise Invalid("reception.event_settings.unknown_field", f"Campo desconocido: {', '.join(sorted(unknown))}.",
                      field=sorted(unknown)[0])
    if values.get("person_id_type") and values["person_id_type"] not in ("11", "12", "13", "21", "22", "31", "41",
                                                                         "42", "47", "48", "50", "91"):
        raise Invalid("reception.event_settings.id_type_invalid", "Tipo de documento desconocido (13 cédula de "
                      "ciudadanía, 22 cédula de extranjería, 41 pasaporte...).", field="person_id_type")
    prefix = values.get("event_prefix")
    if prefix is not None and not (str(prefix).isalnum() or prefix == "") or len(str(prefix or "")) > 10:
        raise Invalid("reception.event_settings.prefix_invalid", "El prefijo de los eventos tiene hasta 10 letras o "
                      "números.", field="event_prefix")
    with transaction.atomic():
        obj = radian.settings_for(issuer)
        for k, v in values.items():
            setattr(obj, k, v.strip() if isinstance(v, str) else v)
        obj.save()
        audit.record("reception.event_settings", actor=actor, issuer=issuer, obj=obj,
                     summary="Configuración de eventos DIAN")
    return obj


def follow_tacit_acceptance(issuer, actor: Actor):
    """Check now the tacit-acceptance term of the issuer's own invoices (and register 034 where due, when
    enabled): a job."""
    if issuer.country != "CO":
        raise Invalid("reception.tacit.not_colombian", "La aceptación tácita es un evento de la DIAN (Colombia).",
                      field="issuer")
    with transaction.atomic():
        job = jobs.create_job(issuer, TACIT_KIND, title="Aceptación tácita de mis facturas", user=actor.user,
                              total=0)
        audit.record("reception.tacit", actor=actor, issuer=issuer, obj=job, summary=job.title)
    return job


def check_sat_status(issuer, actor: Actor, *, document: ReceivedDocument) -> ReceivedDocument:
    """Ask SAT whether a received CFDI is vigente (Estado, EsCancelable, EstatusCancelacion), now."""
    from facturador.reception import satstatus

    document = _own(issuer, document)
    document = satstatus.check(document)
    audit.record("reception.sat_status", actor=actor, issuer=issuer, obj=document,
                 summary=f"{document.number}: {document.get_sat_state_display()}")
    return document


def recheck_stamp(issuer, actor: Actor, *, document: ReceivedDocument) -> ReceivedDocument:
    """Verify a received CFDI's stamp again (its SAT certificate was not available when it arrived)."""
    from facturador.reception import satcerts

    document = _own(issuer, document)
    if document.country != "MX" or not document.stamp_check:
        raise Invalid("reception.stamp.not_a_cfdi", "El timbre fiscal se verifica en CFDI de México timbrados.",
                      field="document")
    satcerts.recheck_stamp(document)
    audit.record("reception.stamp_check", actor=actor, issuer=issuer, obj=document,
                 summary=f"{document.number}: {document.get_stamp_check_display()}")
    return document


def check_dian_status(issuer, actor: Actor, *, document: ReceivedDocument) -> ReceivedDocument:
    """Ask DIAN (GetStatus by the CUFE/CUDE, with the issuer's software) for a received Colombian document, now."""
    from facturador.reception import dianstatus

    document = dianstatus.check(_own(issuer, document))
    audit.record("reception.dian_status", actor=actor, issuer=issuer, obj=document,
                 summary=f"{document.number}: {document.get_dian_check_display()}")
    return document


def check_sat_status_bulk(issuer, actor: Actor, *, documents):
    """Ask SAT for many received CFDIs: a job."""
    ids = [_own(issuer, d).pk for d in documents if d is not None and d.country == "MX"]
    if not ids:
        raise Invalid("reception.sat.none_selected", "Seleccione al menos un CFDI de México.", field="documents")
    with transaction.atomic():
        job = jobs.create_job(issuer, SAT_KIND, title=f"Consulta en el SAT de {len(ids)} CFDI", user=actor.user,
                              params={"documents": ids}, total=len(ids))
        audit.record("reception.sat_status_bulk", actor=actor, issuer=issuer, obj=job, summary=job.title)
    return job
