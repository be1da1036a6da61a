"""What a user can do with mass sends, whatever the channel (web UI, API, `facturador mail`).

Each action takes the issuer and the actor (`core.actors.Actor`), validates, does the work (creating the
job when there is one) and writes one audit entry. A refusal is a `core.errors` refusal with a stable code
`mailing.<subject>.<reason>`; the channels only present it. Read-only queries are in services.py.
"""

from __future__ import annotations

import logging
import mailbox
import math
import smtplib
from datetime import timedelta
from email.utils import make_msgid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from facturador.core import audit
from facturador.core import jobs as core_jobs
from facturador.core.actors import Actor
from facturador.core.errors import Conflict, Forbidden, Invalid, NotFound, Refusal, Throttled
from facturador.core.models import IssuedDocument, Job, Membership, Role
from facturador.mailing import bounces, engine, exports, services
from facturador.mailing.jobs import SEND
from facturador.mailing.models import (
    AllowedTestRecipient,
    Delivery,
    MailSend,
    SentTest,
    Suppression,
)
from facturador.mailing.ratelimit import get_limiter

logger = logging.getLogger(__name__)


class MailServerError(Refusal):
    """The mail server could not be reached or the connection was lost (HTTP 502)."""

    status = 502


TEST_MAX_WAIT_SECONDS = 3  # a test email waits this long at most for the global rate limit to admit it


def _send(issuer, send) -> MailSend:
    """The send (object or id) of `issuer`, fresh with its job."""
    assert issuer is not None, "an action acts for one issuer"
    return services.get_send(issuer, send.pk if isinstance(send, MailSend) else send)


# --- registration -------------------------------------------------------------------------------------

def register_send(issuer, actor: Actor, *, ranges, subject, body, name="", date_from=None, date_to=None,
                  recipients=MailSend.Recipients.ALL, selected_customers=(), reply_to="", legally_required=True,
                  max_consecutive_failures=10) -> MailSend:
    """Register a send: the invoices of `ranges` (text or a list, see services.clean_ranges) issued in the
    period, to all their customers or to `selected_customers`, with its ledger (one row per invoice)."""
    ranges = services.clean_ranges(ranges)
    services.check_template(subject, "subject")
    services.check_template(body, "body")
    services.check_period(date_from, date_to)
    if recipients not in MailSend.Recipients.values:
        raise Invalid("mailing.recipients.invalid", "Elija a quién se envía: todos los clientes o una selección.",
                      field="recipients")
    selected_customers = [c for c in selected_customers or [] if c]
    if recipients == MailSend.Recipients.SELECTED and not selected_customers:
        raise Invalid("mailing.recipients.none_selected", "Seleccione al menos un cliente en la vista previa.",
                      field="recipients")
    if reply_to:
        try:
            validate_email(reply_to)
        except ValidationError:
            raise Invalid("mailing.reply_to.invalid", "El correo de «Responder a» no es válido.",
                          field="reply_to") from None
    if max_consecutive_failures is None or max_consecutive_failures < 0:
        raise Invalid("mailing.max_failures.invalid", "Los fallos consecutivos para detener son 0 o más.",
                      field="max_consecutive_failures")
    with transaction.atomic():
        send = MailSend.objects.create(
            issuer=issuer, name=name, ranges=ranges, date_from=date_from, date_to=date_to, recipients=recipients,
            selected_customers=selected_customers, subject=subject, body=body, reply_to=reply_to,
            legally_required=legally_required, max_consecutive_failures=max_consecutive_failures,
            created_by=actor.user,
        )
        if not services.documents_of_send(send):
            raise Invalid("mailing.documents.none", "No hay facturas en los rangos y el periodo indicados.",
                          field="ranges")
        services.build_ledger(send)
        audit.record("mailsend.create", actor=actor, issuer=issuer, obj=send, summary=send.ranges_display)
    return send


def _document(issuer, document) -> IssuedDocument | None:
    if document in (None, ""):
        return None
    try:
        pk = int(document.pk if isinstance(document, IssuedDocument) else document)
    except (TypeError, ValueError):
        pk = None
    doc = IssuedDocument.objects.filter(issuer=issuer, pk=pk).first() if pk is not None else None
    if doc is None:
        raise NotFound("mailing.document.not_found", f"No existe la factura {document} de este emisor.",
                       field="document")
    return doc


def preview(issuer, actor: Actor, *, send, document=None, subject=None, body=None) -> dict:
    """The message of one invoice of the send (the first by default), optionally with another subject or
    body. Read-only: not audited."""
    send = _send(issuer, send)
    subject = send.subject if subject is None else subject
    body = send.body if body is None else body
    services.check_template(subject, "subject")
    services.check_template(body, "body")
    rows = Delivery.objects.filter(send=send).select_related("document")
    if document not in (None, ""):
        rows = rows.filter(document=_document(issuer, document))
    row = rows.first()
    if row is None:
        raise NotFound("mailing.document.not_in_send", "Factura no incluida en el envío.", field="document")
    ctx = services.context_for(row.document, issuer)
    return {"document": row.document_id, "to": row.email, "subject": services.render(subject, ctx),
            "text": services.render(body, ctx), "html": services.render_html(body, ctx),
            "attachments": [{"filename": a.filename, "mimetype": a.mimetype, "size": len(a.content)}
                            for a in services.attachments_for(row.document)]}


def _count_test(issuer, actor: Actor, send, to) -> SentTest | None:
    """Count a test email against the actor's limit (settings.MAILING_TEST_PER_USER in any
    MAILING_TEST_WINDOW_SECONDS, whatever the issuer and the channel) or refuse it.

    The row is written (and committed) before counting, so requests racing each other see each other: of
    N concurrent requests the k-th to commit counts at least k, and at most the limit get through."""
    limit, window = settings.MAILING_TEST_PER_USER, settings.MAILING_TEST_WINDOW_SECONDS
    if not limit:
        return None
    now = timezone.now()
    row = SentTest.objects.create(issuer=issuer, send=send, user=actor.user, actor=actor.name or str(actor),
                                  email=to, created_at=now)
    mine = SentTest.objects.filter(created_at__gt=now - timedelta(seconds=window))
    mine = mine.filter(user=actor.user) if actor.user is not None else mine.filter(user=None, actor=row.actor)
    if mine.count() <= limit:
        return row
    row.delete()
    oldest = mine.order_by("created_at").values_list("created_at", flat=True).first() or now
    retry = max(1, math.ceil((oldest + timedelta(seconds=window) - timezone.now()).total_seconds()))
    raise Throttled("mailing.test.throttled",
                    f"Ya envió {limit} pruebas en los últimos {math.ceil(window / 60)} minutos; intente de nuevo "
                    f"en {math.ceil(retry / 60)} minutos.", details={"retry_after": retry})


def send_test(issuer, actor: Actor, *, send, email, document=None) -> str:
    """Send to `email` exactly what the customer of one invoice (the send's first by default) receives.
    Returns the test message's Message-ID."""
    send = _send(issuer, send)
    to = services.normalize_email(email)
    try:
        validate_email(to)
    except ValidationError:
        raise Invalid("mailing.test.email", "Escriba un correo válido para la prueba.", field="email") from None
    if not services.may_receive_test(issuer, actor, to):
        raise Forbidden("mailing.test.recipient_not_allowed",
                        f"Las pruebas solo se envían a su propio correo o a los correos de prueba que el "
                        f"administrador del emisor autorizó; «{to}» no está entre ellos.", field="email")
    doc = _document(issuer, document)
    if doc is None:
        first = Delivery.objects.filter(send=send).select_related("document").first()
        if first is None:
            raise Invalid("mailing.documents.none", "El envío no tiene facturas.")
        doc = first.document
    counted = _count_test(issuer, actor, send, to)
    # the platform's global rate limit (the workers' windows) applies to test emails too
    slot, wait = get_limiter().acquire_within(TEST_MAX_WAIT_SECONDS)
    if slot is None:
        if counted is not None:
            counted.delete()  # not sent: it does not count against the user's limit
        retry = max(1, math.ceil(wait))
        raise Throttled("mailing.test.rate_limited", "Se alcanzó el límite de correos por enviar de la plataforma; "
                        f"intente la prueba de nuevo en {retry} segundos.", details={"retry_after": retry})
    mid = make_msgid(idstring=f"fmtest{send.pk}", domain=services.message_id_domain())
    try:
        engine.deliver_one(send, doc, to, mid)
    except engine.Rejected as exc:  # the server's own answer (e.g. "550 5.1.1 user unknown") helps the user
        raise Refusal("mailing.test.rejected", f"El servidor de correo rechazó el mensaje: {exc}", field="email") from exc
    except engine.NotSent as exc:
        logger.warning("Test email of send %s to %s: connection lost before the end of data: %s", send.pk, to, exc)
        raise MailServerError("mailing.test.connection_lost",
                              "Se perdió la conexión con el servidor de correo antes de terminar la prueba; el "
                              "mensaje no se envió. Intente de nuevo en unos minutos.") from exc
    except engine.Ambiguous as exc:
        logger.warning("Test email of send %s to %s: connection lost waiting for the reply: %s", send.pk, to, exc)
        raise MailServerError("mailing.test.connection_lost",
                              "Se perdió la conexión con el servidor de correo esperando su respuesta; es posible "
                              "que la prueba haya llegado. Revise el buzón antes de intentar de nuevo.") from exc
    except (smtplib.SMTPException, OSError) as exc:  # server down, refused the login, a missing file...
        logger.warning("Test email of send %s to %s failed: %r", send.pk, to, exc)
        raise MailServerError("mailing.test.failed",
                              f"No se pudo enviar la prueba. {engine.describe_failure(exc)}") from exc
    audit.record("mailsend.test", actor=actor, issuer=issuer, obj=send, summary=to)
    return mid


def set_test_recipients(issuer, actor: Actor, *, emails) -> list[str]:
    """Replace the issuer's list of addresses test emails may go to (besides each user's own address).
    Only the issuer's administrators (and the CLI's operator) set it. Returns the list as stored."""
    user = actor.user
    if user is not None and not user.is_superuser and not Membership.objects.filter(
            user=user, issuer=issuer, role=Role.ADMIN).exists():
        raise Forbidden("mailing.test_recipients.admin_only",
                        "Solo un administrador del emisor puede cambiar los correos de prueba.", field="emails")
    cleaned = []
    for raw in emails or ():
        email = services.normalize_email(raw)
        if not email:
            continue
        try:
            validate_email(email)
        except ValidationError:
            raise Invalid("mailing.test_recipients.invalid", f"«{raw}» no es un correo válido.", field="emails",
                          details={"email": raw}) from None
        if email not in cleaned:
            cleaned.append(email)
    cleaned.sort()
    with transaction.atomic():
        AllowedTestRecipient.objects.filter(issuer=issuer).exclude(email__in=cleaned).delete()
        have = set(services.allowed_test_recipients(issuer))
        AllowedTestRecipient.objects.bulk_create([AllowedTestRecipient(issuer=issuer, email=e, added_by=user)
                                                  for e in cleaned if e not in have])
        audit.record("mailing.test_recipients", actor=actor, issuer=issuer, summary=", ".join(cleaned))
    return cleaned


# --- runs: start, stop, resume, resend ----------------------------------------------------------------

def _recheck_exclusions(send: MailSend):
    """Opt-outs and hard bounces that arrived since registration also apply to pending rows."""
    pending = Delivery.objects.filter(send=send, status=Delivery.Status.PENDING)
    supp = services.suppressions(send.issuer, pending.values_list("email", flat=True))
    for row in pending.filter(email__in=list(supp)):
        excl = services.exclusion_for(send.issuer, row.email, send.legally_required, supp)
        if excl:
            Delivery.objects.filter(pk=row.pk, status=Delivery.Status.PENDING).update(status=Delivery.Status.EXCLUDED,
                                                                                      exclusion=excl)


def _launch(issuer, actor: Actor, send, *, allowed, code) -> MailSend:
    """A new run (job) for the send's pending rows, if its state is one of `allowed`."""
    with transaction.atomic():
        send = MailSend.objects.select_for_update().get(pk=_send(issuer, send).pk)  # one launch at a time
        if send.status not in allowed:
            raise Conflict(code, f"El envío está «{send.get_status_display()}»; no se puede iniciar ahora.",
                           field="status", details={"status": send.status})
        if send.job_id and send.job.is_active:
            raise Conflict("mailing.send.stopping", "El envío todavía se está deteniendo; espere unos segundos.",
                           field="status")
        _recheck_exclusions(send)
        c = services.counts(send)
        send.job = core_jobs.create_job(issuer, SEND, title=f"Envío masivo #{send.pk}: {send.name or send.subject}"[:300],
                                        params={"send_id": send.pk}, user=actor.user, total=c["to_send"])
        send.started_at = send.started_at or timezone.now()
        send.save(update_fields=["job", "started_at"])
    return send


def start(issuer, actor: Actor, *, send) -> MailSend:
    """Start sending a registered send (a job sends it in the background)."""
    send = _launch(issuer, actor, send, allowed=(MailSend.Status.REGISTERED,), code="mailing.send.already_started")
    audit.record("mailsend.start", actor=actor, issuer=issuer, obj=send)
    return send


def resume(issuer, actor: Actor, *, send) -> MailSend:
    """Continue a stopped send with the rows still pending: nobody receives a message twice."""
    send = _launch(issuer, actor, send, allowed=(MailSend.Status.STOPPED,), code="mailing.send.not_stopped")
    audit.record("mailsend.resume", actor=actor, issuer=issuer, obj=send)
    return send


def stop(issuer, actor: Actor, *, send) -> MailSend:
    """Stop a send in progress (its job is cancelled; the rows not sent stay pending for a resume)."""
    send = _send(issuer, send)
    if send.status != MailSend.Status.SENDING:
        raise Conflict("mailing.send.not_running", "Solo se puede detener un envío en curso.", field="status",
                       details={"status": send.status})
    core_jobs.request_cancel(send.job)  # refreshes send.job: the send shows as stopped from now on
    audit.record("mailsend.stop", actor=actor, issuer=issuer, obj=send)
    return send


def resend_failed(issuer, actor: Actor, *, send) -> int:
    """Put the failed rows back to pending (fresh attempts) and start a run for them. Returns how many."""
    send = _send(issuer, send)
    allowed = (MailSend.Status.FINISHED_WITH_ERRORS, MailSend.Status.STOPPED)
    if send.status not in allowed:
        raise Conflict("mailing.send.not_finished", "Solo se reenvían los fallidos de un envío terminado o detenido.",
                       field="status", details={"status": send.status})
    with transaction.atomic():
        n = Delivery.objects.filter(send=send, status=Delivery.Status.FAILED).update(
            status=Delivery.Status.PENDING, attempts=0, next_attempt_at=None, smtp_code=None)
        if not n:
            raise Conflict("mailing.send.no_failed", "No hay entregas fallidas para reenviar.", field="status")
        send = _launch(issuer, actor, send, allowed=allowed, code="mailing.send.not_finished")
        audit.record("mailsend.resend_failed", actor=actor, issuer=issuer, obj=send, summary=f"{n} entregas")
    return n


UNKNOWN_DECISIONS = ("confirm", "resend")


def resolve_unknown(issuer, actor: Actor, *, send, deliveries, decision) -> int:
    """The operator's decision on rows of unknown outcome (`deliveries`, ids): "confirm" (it arrived) or
    "resend" (a new run, same Message-ID, so clients that de-duplicate show it once). Returns how many."""
    send = _send(issuer, send)
    if decision not in UNKNOWN_DECISIONS:
        raise Invalid("mailing.unknown.decision", "Acción no válida.", field="action",
                      details={"choices": list(UNKNOWN_DECISIONS)})
    try:
        ids = [int(pk) for pk in deliveries]
    except (TypeError, ValueError):
        raise Invalid("mailing.unknown.deliveries", "Entregas no válidas.", field="delivery") from None
    rows = Delivery.objects.filter(send=send, status=Delivery.Status.UNKNOWN, pk__in=ids)
    if decision == "confirm":
        n = rows.update(status=Delivery.Status.SENT, sent_at=timezone.now(),
                        smtp_response="Confirmado manualmente como recibido.")
        c = services.counts(send)
        if send.status == MailSend.Status.FINISHED_WITH_ERRORS and not (c["failed"] or c["unknown"] or c["pending"]):
            # nothing left unsettled: the run counts as finished
            Job.objects.filter(pk=send.job_id, status=Job.Status.FINISHED_WITH_ERRORS).update(
                status=Job.Status.FINISHED, errors=0)
    else:
        if send.status == MailSend.Status.SENDING:
            raise Conflict("mailing.send.running", "Espere a que termine el envío en curso.", field="status")
        with transaction.atomic():
            n = rows.update(status=Delivery.Status.PENDING, next_attempt_at=None, claim_token="", attempts=0)
            if n:
                _launch(issuer, actor, send, code="mailing.send.running", allowed=(
                    MailSend.Status.FINISHED_WITH_ERRORS, MailSend.Status.STOPPED, MailSend.Status.FINISHED))
    audit.record(f"mailsend.unknown_{decision}", actor=actor, issuer=issuer, obj=send, summary=f"{n} entregas")
    return n


# --- the ledger, bounces, opt-outs --------------------------------------------------------------------

EXPORT_FORMATS = exports.FORMATS


def export_ledger(issuer, actor: Actor, *, send, fmt="csv") -> tuple[bytes, str, str]:
    """The ledger as a file: (content, content type, file name)."""
    send = _send(issuer, send)
    if fmt not in EXPORT_FORMATS:
        raise Invalid("mailing.export.format", f"Formato no disponible: «{fmt}». Use csv o xlsx.", field="format")
    content = exports.ledger(send, fmt)
    audit.record("mailsend.export", actor=actor, issuer=issuer, obj=send, summary=fmt)
    return content, exports.CONTENT_TYPES[fmt], f"envio-{send.pk}-entregas.{fmt}"


def import_bounces(issuer, actor: Actor, *, maildir) -> dict:
    """Read the new delivery status notifications of a maildir (see bounces.py). `issuer` may be None:
    a notification is matched by its Message-ID, whoever's send it belongs to."""
    try:
        result = bounces.process_maildir(maildir)
    except (mailbox.NoSuchMailboxError, FileNotFoundError, NotADirectoryError):
        raise Invalid("mailing.bounces.no_maildir", f"No existe el maildir «{maildir}».", field="maildir") from None
    audit.record("mailing.bounces_import", actor=actor, issuer=issuer,
                 summary=f"{maildir}: {result['messages']} avisos, {result['matched']} aplicados")
    return result


def opt_out(issuer, actor: Actor, *, email) -> bool:
    """The recipient asks for no more informative messages of the issuer (invoices are still delivered).
    Returns whether the address was added to the suppression list now."""
    _, created = Suppression.objects.get_or_create(issuer=issuer, email=services.normalize_email(email),
                                                   reason=Suppression.Reason.OPTED_OUT,
                                                   defaults={"detail": "Enlace de baja"})
    if created:
        audit.record("mailing.opt_out", actor=actor, issuer=issuer, summary=services.normalize_email(email))
    return created
