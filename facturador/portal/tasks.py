"""Global invoice (factura global a público en general) and reservation recovery."""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from facturador.cfdi import build as cfdi_build
from facturador.cfdi.errors import CfdiError
from facturador.core import jobs
from facturador.core.jobs import JobContext, JobFailed, job_handler, periodic
from facturador.core.models import Job
from facturador.portal import services
from facturador.portal.models import Cfdi, PortalSettings, StampRequest, Ticket


def month_bounds(period: str):
    year, month = (int(x) for x in period.split("-"))
    start = dt.datetime(year, month, 1, tzinfo=services.MX)
    end = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=services.MX)
    return start, end


@job_handler("portal.global_invoice")
def global_invoice(ctx: JobContext):
    """One global CFDI with every ticket of the period that nobody invoiced (idempotent per period)."""
    issuer, period = ctx.issuer, ctx.params["period"]
    existing = Cfdi.objects.filter(issuer=issuer, kind=Cfdi.Kind.GLOBAL, period=period).exclude(
        status=Cfdi.Status.CANCELLED).first()
    if existing:
        ctx.set_result(cfdi=existing.pk, uuid=existing.uuid, tickets=existing.global_tickets.count())
        return
    start, end = month_bounds(period)
    token = f"global-{period}-{issuer.pk}"
    req = StampRequest.objects.filter(reservation=token).first()
    if req is None:
        with transaction.atomic():
            Ticket.objects.filter(issuer=issuer, status=Ticket.Status.AVAILABLE, sold_at__gte=start, sold_at__lt=end).update(
                status=Ticket.Status.RESERVED, reservation=token, reserved_at=timezone.now())
        tickets = list(Ticket.objects.filter(reservation=token).order_by("sold_at"))
        if not tickets:
            ctx.set_result(tickets=0)
            ctx.progress(0, total=0, message="No hay tickets sin facturar en el periodo", force=True)
            return
        ctx.progress(0, total=len(tickets), message=f"{len(tickets)} tickets sin facturar", force=True)
        _stamp_global(issuer, token, tickets, period, period.replace("-", ""))
    try:
        cfdi = services.complete(issuer, token)
    except services.PortalError as exc:
        raise JobFailed(exc.message) from exc
    with transaction.atomic():
        Cfdi.objects.filter(pk=cfdi.pk).update(kind=Cfdi.Kind.GLOBAL, period=period)
        Ticket.objects.filter(cfdi=cfdi).update(status=Ticket.Status.GLOBAL, cfdi=None, global_cfdi=cfdi)
    n = Ticket.objects.filter(global_cfdi=cfdi).count()
    ctx.set_result(cfdi=cfdi.pk, uuid=cfdi.uuid, tickets=n)
    ctx.progress(n, total=n, message=f"Factura global {cfdi.full_number} con {n} tickets", force=True)


def _stamp_global(issuer, token: str, tickets, period: str, serie_folio: str):
    """Build, seal and stamp a global CFDI for `tickets` (already reserved under `token`)."""
    start, _end = month_bounds(period)
    ps = services.portal_settings(issuer)
    csd = services.csd_for(issuer)
    try:
        xml = cfdi_build.build_global_invoice(cfdi_build.GlobalInvoice(
            emisor=cfdi_build.Emisor(rfc=csd.rfc, nombre=csd.legal_name, regimen_fiscal=issuer.fiscal_regime or "601"),
            lugar_expedicion=issuer.postal_code, periodicidad="04", meses=f"{start.month:02d}", anio=start.year,
            tickets=[cfdi_build.Ticket(number=t.ticket_number, subtotal=t.subtotal,
                                       iva=t.iva_rate if t.iva_rate in cfdi_build.IVA_RATES else "16") for t in tickets],
            serie=ps.global_serie, folio=serie_folio,
        ), csd)
    except CfdiError as exc:
        services.release(token)
        raise JobFailed(exc.message) from exc
    StampRequest.objects.get_or_create(issuer=issuer, reservation=token, defaults={"xml": xml})


@job_handler("portal.reissue_global")
def reissue_global(ctx: JobContext):
    """Motive 04: a ticket of a stamped global invoice got its own (nominative) CFDI. The global is
    cancelled with motive 04 and issued again without that ticket (idempotent)."""
    old = Cfdi.objects.get(issuer=ctx.issuer, pk=ctx.params["global"], kind=Cfdi.Kind.GLOBAL)
    token = f"reglobal-{old.pk}"
    if not StampRequest.objects.filter(reservation=token).exists():
        with transaction.atomic():
            Ticket.objects.filter(global_cfdi=old, status=Ticket.Status.GLOBAL).update(
                status=Ticket.Status.RESERVED, reservation=token, reserved_at=timezone.now())
        remaining = list(Ticket.objects.filter(reservation=token).order_by("sold_at"))
        if remaining:
            _stamp_global(ctx.issuer, token, remaining, old.period, f"{old.period.replace('-', '')}{old.pk:04d}")
    new = None
    if StampRequest.objects.filter(reservation=token).exists():
        try:
            new = services.complete(ctx.issuer, token)
        except services.PortalError as exc:
            raise JobFailed(exc.message) from exc
        with transaction.atomic():
            Cfdi.objects.filter(pk=new.pk).update(kind=Cfdi.Kind.GLOBAL, period=old.period)
            Ticket.objects.filter(cfdi=new).update(status=Ticket.Status.GLOBAL, cfdi=None, global_cfdi=new)
    if old.status != Cfdi.Status.CANCELLED:
        try:
            services.cancel(old, "04")
        except services.PortalError as exc:
            raise JobFailed(exc.message) from exc
    ctx.set_result(cancelled=old.uuid, replacement=new.uuid if new else None)


def request_reissue(issuer, global_id: int) -> Job:
    with transaction.atomic():
        return jobs.create_job(issuer, "portal.reissue_global", title="Sustitución de la factura global (motivo 04)",
                               params={"global": global_id})


def request_global(issuer, period: str, user=None) -> Job:
    with transaction.atomic():
        return jobs.create_job(issuer, "portal.global_invoice", title=f"Factura global {period}",
                               params={"period": period}, user=user)


@periodic("portal.globals")
def schedule_globals(now=None):
    """After a month closes (plus the grace days), issue its global invoice once."""
    now = (now or timezone.now()).astimezone(services.MX)
    first = now.date().replace(day=1)
    prev = (first - dt.timedelta(days=1))
    period = f"{prev.year}-{prev.month:02d}"
    for ps in PortalSettings.objects.select_related("issuer"):
        if now.date() < first + dt.timedelta(days=ps.grace_days):
            continue
        if Cfdi.objects.filter(issuer=ps.issuer, kind=Cfdi.Kind.GLOBAL, period=period).exists():
            continue
        if Job.objects.filter(issuer=ps.issuer, kind="portal.global_invoice", params__period=period).exclude(
                status__in=[Job.Status.FAILED, Job.Status.CANCELLED, Job.Status.DELETED]).exists():
            continue
        start, end = month_bounds(period)
        if Ticket.objects.filter(issuer=ps.issuer, status=Ticket.Status.AVAILABLE, sold_at__gte=start, sold_at__lt=end).exists():
            request_global(ps.issuer, period)


@periodic("portal.recover")
def recover():
    services.recover_reservations()
