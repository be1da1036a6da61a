"""Job handlers and periodic work of reception: polling the issuers' mailboxes."""

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
                 message=f"{counts['imported']} mensajes nuevos, {counts['documents']} documentos recibidos")


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
