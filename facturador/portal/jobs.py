"""Job handlers of the portal: the global invoice, its reissue (motive 04), reservation recovery."""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from facturador.core.errors import Refusal
from facturador.core.jobs import JobContext, JobFailed, job_handler, periodic
from facturador.portal import services
from facturador.portal.models import Cfdi, PortalSettings, StampRequest, Ticket


@job_handler("portal.global_invoice")
def global_invoice(ctx: JobContext):
    """One global CFDI with every ticket of the period that nobody invoiced (idempotent per period)."""
    issuer, period = ctx.issuer, ctx.params["period"]
    existing = Cfdi.objects.filter(issuer=issuer, kind=Cfdi.Kind.GLOBAL, period=period).exclude(
        status=Cfdi.Status.CANCELLED).first()
    if existing:
        ctx.set_result(cfdi=existing.pk, uuid=existing.uuid, tickets=existing.global_tickets.count())
        return
    start, end = services.month_bounds(period)
    token = f"global-{period}-{issuer.pk}"
    try:
        if not StampRequest.objects.filter(reservation=token).exists():
            with transaction.atomic():
                Ticket.objects.filter(issuer=issuer, status=Ticket.Status.AVAILABLE, sold_at__gte=start,
                                      sold_at__lt=end).update(status=Ticket.Status.RESERVED, reservation=token,
                                                              reserved_at=timezone.now())
            tickets = list(Ticket.objects.filter(reservation=token).order_by("sold_at"))
            if not tickets:
                ctx.set_result(tickets=0)
                ctx.progress(0, total=0, message="No hay tickets sin facturar en el periodo", force=True)
                return
            ctx.progress(0, total=len(tickets), message=f"{len(tickets)} tickets sin facturar", force=True)
            services.prepare_global(issuer, token, tickets, period, period.replace("-", ""))
        cfdi = services.complete(issuer, token, user=ctx.job.created_by)
    except Refusal as exc:
        raise JobFailed(exc.message, str(exc)) from exc
    with transaction.atomic():
        Cfdi.objects.filter(pk=cfdi.pk).update(kind=Cfdi.Kind.GLOBAL, period=period)
        Ticket.objects.filter(cfdi=cfdi).update(status=Ticket.Status.GLOBAL, cfdi=None, global_cfdi=cfdi)
    n = Ticket.objects.filter(global_cfdi=cfdi).count()
    ctx.set_result(cfdi=cfdi.pk, uuid=cfdi.uuid, tickets=n)
    ctx.progress(n, total=n, message=f"Factura global {cfdi.full_number} con {n} tickets", force=True)


@job_handler("portal.reissue_global")
def reissue_global(ctx: JobContext):
    """Motive 04: a ticket of a stamped global invoice got its own (nominative) CFDI. The global is
    cancelled with motive 04 and issued again without that ticket (idempotent)."""
    old = Cfdi.objects.get(issuer=ctx.issuer, pk=ctx.params["global"], kind=Cfdi.Kind.GLOBAL)
    token = f"reglobal-{old.pk}"
    new = None
    try:
        if not StampRequest.objects.filter(reservation=token).exists():
            with transaction.atomic():
                Ticket.objects.filter(global_cfdi=old, status=Ticket.Status.GLOBAL).update(
                    status=Ticket.Status.RESERVED, reservation=token, reserved_at=timezone.now())
            remaining = list(Ticket.objects.filter(reservation=token).order_by("sold_at"))
            if remaining:
                services.prepare_global(ctx.issuer, token, remaining, old.period,
                                        f"{old.period.replace('-', '')}{old.pk:04d}")
        if StampRequest.objects.filter(reservation=token).exists():
            new = services.complete(ctx.issuer, token)
            with transaction.atomic():
                Cfdi.objects.filter(pk=new.pk).update(kind=Cfdi.Kind.GLOBAL, period=old.period)
                Ticket.objects.filter(cfdi=new).update(status=Ticket.Status.GLOBAL, cfdi=None, global_cfdi=new)
        if old.status != Cfdi.Status.CANCELLED:
            services.cancel(old, "04")
    except Refusal as exc:
        raise JobFailed(exc.message, str(exc)) from exc
    ctx.set_result(cancelled=old.uuid, replacement=new.uuid if new else None)


@periodic("portal.globals")
def schedule_globals(now=None):
    """After a month closes (plus the grace days), issue its global invoice once."""
    now = (now or timezone.now()).astimezone(services.MX)
    period = services.previous_period(now)
    first = now.date().replace(day=1)
    for ps in PortalSettings.objects.select_related("issuer"):
        if now.date() < first + dt.timedelta(days=ps.grace_days):
            continue
        if services.global_job_pending(ps.issuer, period):
            continue
        start, end = services.month_bounds(period)
        if Ticket.objects.filter(issuer=ps.issuer, status=Ticket.Status.AVAILABLE, sold_at__gte=start, sold_at__lt=end).exists():
            services.create_global_job(ps.issuer, period)


@periodic("portal.recover")
def recover():
    services.recover_reservations()
