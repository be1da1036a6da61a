"""Job handlers and periodic work of reception: polling the issuers' mailboxes; sending DIAN events; SAT status; tacit
acceptance of own invoices."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from facturador.core.jobs import JobContext, JobFailed, job_handler, periodic
from facturador.reception import actions, mailbox as imap
from facturador.reception.models import Mailbox


@job_handler(actions.POLL_KIND)
def poll_mailbox(ctx: JobContext):
    box = Mailbox.objects.select_related("issuer").filter(pk=ctx.params["mailbox"], issuer=ctx.issuer).first()
    if box is None:
        raise JobFailed("El buzón de recepción ya no existe.")
    ctx.progress(0, message=f"Leyendo el buzón {box.username}@{box.host}", force=True)
    try:
        counts = imap.poll(box, progress=lambda done, total: ctx.progress(done, total=total))
    except imap.MailboxError as exc:
        Mailbox.objects.filter(pk=box.pk).update(last_error=exc.message[:500])
        raise JobFailed(exc.message) from exc
    ctx.set_result(**counts)
    ctx.progress(counts["messages"], total=counts["messages"], errors=counts["errors"], force=True,
                 message=f"{counts['imported']} mensajes nuevos, {counts['documents']} documentos recibidos"
                 + (f", {counts['ignored']} mensajes sin facturas (ignorados)" if counts["ignored"] else ""))


@periodic("reception.poll")
def schedule_polls(now=None):
    """Create a poll job for each enabled mailbox whose interval has passed (claimed with a conditional UPDATE,
    so several workers calling this at once create one job)."""
    now = now or timezone.now()
    for box in Mailbox.objects.select_related("issuer", "last_job").filter(enabled=True):
        if box.last_job is not None and box.last_job.status in ("pending", "running"):
            continue
        if box.last_poll_at and box.last_poll_at > now - timedelta(minutes=box.poll_minutes):
            continue
        claimed = Mailbox.objects.filter(pk=box.pk).filter(
            Q(last_poll_at=box.last_poll_at) if box.last_poll_at else Q(last_poll_at__isnull=True)
        ).update(last_poll_at=now)
        if claimed:
            actions.create_poll_job(box)


# --- DIAN events, SAT status, tacit acceptance -------------------------------------------------------------

@job_handler(actions.EVENTS_KIND)
def send_events(ctx: JobContext):
    """Send the job's events in order; a resumed job skips what is answered and asks DIAN about what it had
    claimed (radian.send_event)."""
    from facturador.reception import radian
    from facturador.reception.models import ReceptionEvent

    ids = list(ctx.params.get("events") or [])
    failed = 0
    for done, pk in enumerate(ids):
        ctx.check_cancel()
        event = ReceptionEvent.objects.select_related("issuer", "document").filter(pk=pk, issuer=ctx.issuer).first()
        if event is None:
            continue
        event = radian.send_event(event)
        failed += event.state != ReceptionEvent.State.ACCEPTED
        ctx.progress(done + 1, total=len(ids), errors=failed, message=f"Evento {event.code} {event.number}: "
                                                                      f"{event.get_state_display()}")
    ctx.set_result(events=len(ids), failed=failed)
    ctx.progress(len(ids), total=len(ids), errors=failed, force=True)


@job_handler(actions.SAT_KIND)
def check_sat_status(ctx: JobContext):
    from facturador.core.errors import Refusal
    from facturador.reception import satstatus
    from facturador.reception.models import ReceivedDocument

    ids = list(ctx.params.get("documents") or [])
    errors, client = 0, None
    for done, pk in enumerate(ids):
        ctx.check_cancel()
        doc = ReceivedDocument.objects.filter(pk=pk, issuer=ctx.issuer).first()
        if doc is None:
            continue
        try:
            client = client or satstatus.client()
            satstatus.check(doc, using=client)
        except Refusal as exc:
            errors += 1
            ctx.progress(done + 1, total=len(ids), errors=errors, message=f"{doc.number}: {exc.message}")
            continue
        ctx.progress(done + 1, total=len(ids), errors=errors, message=f"{doc.number}: {doc.get_sat_state_display()}")
    ctx.set_result(documents=len(ids), errors=errors)
    ctx.progress(len(ids), total=len(ids), errors=errors, force=True)


@job_handler(actions.TACIT_KIND)
def follow_tacit_acceptance(ctx: JobContext):
    from facturador.core.errors import Refusal
    from facturador.reception import radian

    ctx.progress(0, message="Consultando en la DIAN los eventos de mis facturas", force=True)
    try:
        created = radian.follow_own_invoices(ctx.issuer)
    except Refusal as exc:
        raise JobFailed(exc.message) from exc
    ctx.set_result(registered=len(created))
    ctx.progress(1, total=1, message=f"{len(created)} aceptación(es) tácita(s) registrada(s)", force=True)


#: how often the periodic check of own invoices runs per issuer that enabled 034
TACIT_EVERY = timedelta(hours=6)


@periodic("reception.tacit")
def schedule_tacit(now=None):
    """A tacit-acceptance job for each issuer that enabled it, every TACIT_EVERY (claimed with a conditional
    UPDATE on the settings' last check, so concurrent workers create one job)."""
    from facturador.core import jobs as core_jobs
    from facturador.reception.models import EventSettings

    now = now or timezone.now()
    for s in EventSettings.objects.select_related("issuer").filter(auto_tacit_acceptance=True):
        if s.tacit_checked_at and s.tacit_checked_at > now - TACIT_EVERY:
            continue
        claimed = EventSettings.objects.filter(pk=s.pk).filter(
            Q(tacit_checked_at=s.tacit_checked_at) if s.tacit_checked_at else Q(tacit_checked_at__isnull=True)
        ).update(tacit_checked_at=now)
        if claimed:
            core_jobs.create_job(s.issuer, actions.TACIT_KIND, title="Aceptación tácita de mis facturas")
