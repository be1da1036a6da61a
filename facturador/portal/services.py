"""Self-invoicing rules: finding and checking tickets, reserving them, stamping, cancelling.

A ticket is invoiced at most once: tickets are reserved with a conditional UPDATE
(available -> reserved, all or none) before anything is built, so two simultaneous requests for
the same ticket cannot both proceed. The sealed XML is saved (StampRequest) before the PAC is
called; after a crash, recovery re-sends that same XML, and the PAC answers with its existing stamp.
"""

from __future__ import annotations

import calendar
import datetime as dt
import io
import logging
import threading
import uuid as uuidlib
import zipfile
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.core.files.base import ContentFile
from django.core.mail import EmailMessage
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone
from lxml import etree

from facturador.cfdi import build as cfdi_build
from facturador.cfdi.catalogs import regimenes_for_rfc, uso_compatible, usos_cfdi_for_regimen
from facturador.cfdi.csd import load_csd
from facturador.cfdi.errors import CfdiError
from facturador.cfdi.pac import FinkokPac, PacError, PacTimeout, SwSapienPac
from facturador.cfdi.pdf import cfdi_pdf
from facturador.core import certificates, jobs, outbound
from facturador.core.errors import Conflict, Invalid, NotFound, Refusal
from facturador.core.models import Certificate, IssuedDocument, Job
from facturador.portal.models import (
    Cfdi,
    Customer,
    PortalSettings,
    StampRequest,
    Ticket,
)
from facturador.printing.money import format_money
from facturador.taxid import TaxIdError, validate_rfc

logger = logging.getLogger(__name__)
MX = ZoneInfo("America/Mexico_City")
CENT = Decimal("0.01")
STALE_RESERVATION = dt.timedelta(minutes=10)


PAC_UNAVAILABLE = {"conexion", "http", "respuesta_invalida"}  # the PAC did not answer usefully: try again later


def pac_refusal(exc: PacError) -> Refusal:
    """The refusal for a PAC's error; the PAC's own code goes in ``details``."""
    details = {"pac_code": exc.code}
    if isinstance(exc, PacTimeout) or exc.code == "timeout":
        return Conflict("portal.pac.timeout", exc.message_es, details=details)
    if exc.code in PAC_UNAVAILABLE:  # generic for people (no port probing through error texts); the log has it
        logger.warning("PAC unavailable: %s", exc)
        return Conflict("portal.pac.unavailable", outbound.CONNECTION_FAILED, details=details)
    return Invalid("portal.pac.rejected", exc.message_es, details=details)


def cfdi_refusal(exc: CfdiError) -> Refusal:
    """The refusal for the CFDI library's error (a rule of CFDI 4.0, the XSD, the CSD)."""
    return Invalid("portal.cfdi.invalid", exc.message, field=exc.field or None, details={"reason": exc.code})


# the settings people may change (web form, API, CLI); the PAC password is given apart
SETTINGS_FIELDS = ["slug", "window", "window_days", "grace_days", "allow_reissue_from_global", "serie", "global_serie",
                   "pac_kind", "pac_url", "pac_user", "pac_timeout", "clave_prod_serv", "clave_unidad"]


def portal_settings(issuer) -> PortalSettings:
    """The issuer's portal settings (created on first use), cached on the issuer object for this request."""
    ps = getattr(issuer, "_portal_settings", None)
    if ps is None:
        ps = PortalSettings.objects.filter(issuer=issuer).first()
        if ps is None:
            ps, _ = PortalSettings.objects.get_or_create(issuer=issuer, defaults={"slug": issuer.tax_id.lower().replace("&", "y")})
        issuer._portal_settings = ps
    return ps


_CSD_CACHE: dict[int, object] = {}


def csd_for(issuer):
    """The issuer's active CSD, decrypted once per process (opening the .key is the slow part)."""
    cert = certificates.active_certificate(issuer, Certificate.Kind.CSD)
    if cert is None:
        raise Conflict("portal.csd.missing", "El emisor no tiene cargado su certificado de sello digital (CSD).")
    cached = _CSD_CACHE.get(cert.pk)
    if cached is not None:
        return cached
    der = x509.load_pem_x509_certificate(cert.certificate_pem.encode()).public_bytes(serialization.Encoding.DER)
    try:
        csd = load_csd(der, cert.key_material.reveal(), cert.password.reveal())
    except CfdiError as exc:
        raise Invalid("portal.csd.invalid", exc.message, details={"reason": exc.code}) from exc
    _CSD_CACHE[cert.pk] = csd
    return csd


_PAC_CLIENTS = threading.local()


def pac_for(ps: PortalSettings, csd=None):
    """The issuer's PAC client; one per thread and configuration, so HTTP connections are reused."""
    password = ps.pac_password.reveal() if ps.pac_password else ""
    key = (ps.pk, ps.pac_kind, ps.pac_url, ps.pac_user, password, ps.pac_timeout, id(csd) if csd else None)
    cache = getattr(_PAC_CLIENTS, "clients", None)
    if cache is None:
        cache = _PAC_CLIENTS.clients = {}
    client = cache.get(key)
    if client is None:
        sw = ps.pac_kind == PortalSettings.PacKind.SW
        # checked when the client is made (core.outbound): a stored address the deployment no longer allows,
        # or whose host now resolves to a private network, is refused
        url = outbound.check_endpoint(ps.pac_url or (SwSapienPac.TEST_URL if sw else FinkokPac.TEST_URL),
                                      service="pac", field="pac_url")
        if sw:
            client = SwSapienPac(url, user=ps.pac_user, password=password, timeout=ps.pac_timeout)
        else:
            client = FinkokPac(ps.pac_user or "demo", password or "demo", url, csd=csd, timeout=ps.pac_timeout,
                               retries=1)
        cache[key] = client
    return client


def parse_amount(value, field="total") -> Decimal:
    try:
        amount = Decimal(str(value).replace("$", "").replace(",", "").strip()).quantize(CENT, ROUND_HALF_UP)
    except (InvalidOperation, ValueError) as exc:
        raise Invalid("portal.ticket.total_invalid", "Escriba el total como aparece en el ticket, por ejemplo 1234.50.",
                      field=field) from exc
    if amount <= 0:
        raise Invalid("portal.ticket.total_not_positive", "El total debe ser mayor que cero.", field=field)
    return amount


def check_rfc(value: str) -> str:
    try:
        rfc = validate_rfc(value)
    except TaxIdError as exc:
        raise Invalid("portal.rfc.invalid", exc.message, field="rfc", details={"reason": exc.code}) from exc
    if rfc == cfdi_build.RFC_PUBLICO_GENERAL:
        raise Invalid("portal.rfc.generic", "Con el RFC genérico XAXX010101000 no necesita factura: su compra se incluye "
                      "en la factura global del periodo.", field="rfc")
    return rfc


def deadline(ps: PortalSettings, sold_at: dt.datetime) -> dt.date:
    """Last day the ticket can be invoiced, in Mexico City time."""
    day = sold_at.astimezone(MX).date()
    if ps.window == PortalSettings.Window.DAYS:
        return day + dt.timedelta(days=ps.window_days)
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=last) + dt.timedelta(days=ps.grace_days)


def find_ticket(issuer, branch, ticket_number: str, order_number: str, total, *, now=None) -> Ticket:
    """The checks a customer's ticket must pass, each with its own message."""
    ps = portal_settings(issuer)
    ticket_number = (ticket_number or "").strip()
    amount = parse_amount(total)
    ticket = Ticket.objects.filter(issuer=issuer, branch=branch, ticket_number=ticket_number).first()
    if ticket is None:
        elsewhere = Ticket.objects.filter(issuer=issuer, ticket_number=ticket_number).exclude(branch=branch).exists()
        if elsewhere:
            raise Invalid("portal.ticket.other_branch", "Ese ticket es de otra sucursal: elija la sucursal donde hizo la compra.",
                          field="ticket_number")
        raise NotFound("portal.ticket.not_found", "No encontramos ese ticket. Revise el número impreso en su ticket "
                       "(puede tardar unos minutos en estar disponible).", field="ticket_number")
    if ticket.order_number.strip() != (order_number or "").strip():
        raise Invalid("portal.ticket.order_mismatch", "El número de orden no corresponde a ese ticket.", field="order_number")
    if ticket.total != amount:
        raise Invalid("portal.ticket.total_mismatch",
                      "El total no coincide con el del ticket. Escríbalo con centavos, tal como aparece impreso.", field="total")
    if ticket.status == Ticket.Status.INVOICED:
        raise Conflict("portal.ticket.invoiced",
                       "Este ticket ya fue facturado. Si usted lo facturó, descargue la factura en su panel.", field="ticket_number")
    if ticket.status == Ticket.Status.GLOBAL and not ps.allow_reissue_from_global:
        raise Conflict("portal.ticket.in_global",
                       "Este ticket ya se incluyó en la factura global del periodo y no puede facturarse.", field="ticket_number")
    if ticket.status in (Ticket.Status.BLOCKED, Ticket.Status.CANCELLED):
        raise Conflict("portal.ticket.blocked", "Este ticket no se puede facturar. Comuníquese con la sucursal.", field="ticket_number")
    if ticket.status == Ticket.Status.RESERVED:
        raise Conflict("portal.ticket.reserved",
                       "Este ticket se está facturando en este momento. Intente de nuevo en unos minutos.", field="ticket_number")
    now = now or timezone.now()
    last = deadline(ps, ticket.sold_at)
    if now.astimezone(MX).date() > last:
        raise Conflict("portal.ticket.window_expired", f"El plazo para facturar este ticket venció el {last:%d/%m/%Y}.",
                       field="ticket_number", details={"deadline": last.isoformat()})
    return ticket


@dataclass
class ReceptorData:
    rfc: str
    name: str
    postal_code: str
    regimen: str
    uso_cfdi: str
    email: str = ""


def check_receptor(data: ReceptorData, *, persona_moral: bool | None = None) -> ReceptorData:
    data.rfc = check_rfc(data.rfc)
    data.name = " ".join((data.name or "").upper().split())
    if not data.name:
        raise Invalid("portal.receptor.name_missing",
                      "Escriba su nombre o razón social exactamente como en su Constancia de Situación Fiscal.", field="name")
    for suffix in (" SA DE CV", " S.A. DE C.V.", " S DE RL DE CV", " SAPI DE CV", " SC", " AC"):
        if data.name.endswith(suffix) and len(data.rfc) == 12:
            raise Invalid("portal.receptor.name_with_regime", "Escriba la razón social sin el régimen capital (por ejemplo, "
                          "sin “SA DE CV”), como aparece en la Constancia de Situación Fiscal.", field="name")
    if not (data.postal_code.isdigit() and len(data.postal_code) == 5):
        raise Invalid("portal.receptor.postal_code_invalid", "El código postal tiene 5 dígitos.", field="postal_code")
    moral = len(data.rfc) == 12 if persona_moral is None else persona_moral
    if data.regimen not in {r for r in REGIMENES}:
        raise Invalid("portal.receptor.regimen_invalid", "Elija su régimen fiscal.", field="regimen")
    if data.regimen not in regimenes_for_rfc(data.rfc):
        kind = "persona moral (RFC de 12 caracteres)" if len(data.rfc) == 12 else "persona física (RFC de 13 caracteres)"
        raise Invalid("portal.receptor.regimen_not_for_rfc",
                      f"El régimen {data.regimen} no corresponde a una {kind}: elija uno de la lista.", field="regimen")
    if not uso_compatible(data.uso_cfdi, data.regimen, persona_moral=moral):
        raise Invalid("portal.receptor.uso_incompatible", "Ese uso del CFDI no corresponde a su régimen fiscal.", field="uso_cfdi")
    return data


REGIMENES = {
    "601": "General de Ley Personas Morales", "603": "Personas Morales con Fines no Lucrativos",
    "605": "Sueldos y Salarios e Ingresos Asimilados a Salarios", "606": "Arrendamiento",
    "612": "Personas Físicas con Actividades Empresariales y Profesionales", "616": "Sin obligaciones fiscales",
    "621": "Incorporación Fiscal", "625": "Actividades Empresariales con ingresos a través de Plataformas Tecnológicas",
    "626": "Régimen Simplificado de Confianza",
}
USOS = {
    "G01": "Adquisición de mercancías", "G03": "Gastos en general", "I01": "Construcciones",
    "I04": "Equipo de computo y accesorios", "D01": "Honorarios médicos, dentales y gastos hospitalarios",
    "S01": "Sin efectos fiscales", "CP01": "Pagos",
}


FORMAS_PAGO = [("01", "Efectivo"), ("02", "Cheque nominativo"), ("03", "Transferencia electrónica"),
               ("04", "Tarjeta de crédito"), ("28", "Tarjeta de débito"), ("05", "Monedero electrónico")]


def regimenes_for(rfc: str) -> list[tuple[str, str]]:
    """The regimes the portal offers to this RFC (personas morales or físicas: cfdi.catalogs.regimenes_for_rfc)."""
    allowed = regimenes_for_rfc(rfc)
    return sorted((k, v) for k, v in REGIMENES.items() if k in allowed)


def usos_for(regimen: str, persona_moral: bool | None = None) -> list[tuple[str, str]]:
    return [(u, USOS.get(u, u)) for u in usos_cfdi_for_regimen(regimen, persona_moral=persona_moral) if u in USOS]


def _next_folio(ps: PortalSettings, field="next_folio") -> int:
    with transaction.atomic():
        PortalSettings.objects.filter(pk=ps.pk).update(**{field: F(field) + 1})
        return PortalSettings.objects.values_list(field, flat=True).get(pk=ps.pk) - 1


def reserve(tickets: list[Ticket], token: str, allow_global=False) -> None:
    statuses = [Ticket.Status.AVAILABLE] + ([Ticket.Status.GLOBAL] if allow_global else [])
    ids = [t.pk for t in tickets]
    with transaction.atomic():
        taken = Ticket.objects.filter(pk__in=ids, status__in=statuses).update(
            status=Ticket.Status.RESERVED, reservation=token, reserved_at=timezone.now())
        if taken != len(set(ids)):
            raise Conflict("portal.ticket.reserved", "Uno de los tickets ya se está facturando o ya fue facturado.",
                           field="ticket_number")


def release(token: str) -> None:
    Ticket.objects.filter(reservation=token, status=Ticket.Status.RESERVED).update(
        status=Ticket.Status.AVAILABLE, reservation="", reserved_at=None)


def _conceptos(ps, tickets):
    out = []
    for t in tickets:
        rate = t.iva_rate if t.iva_rate in cfdi_build.IVA_RATES else "16"
        out.append(cfdi_build.Concepto(clave_prod_serv=ps.clave_prod_serv, cantidad=1, clave_unidad=ps.clave_unidad,
                                       descripcion=f"Venta ticket {t.ticket_number}", valor_unitario=t.subtotal,
                                       iva=rate, no_identificacion=t.ticket_number))
    return out


def invoice_tickets(issuer, tickets: list[Ticket], receptor: ReceptorData, forma_pago: str, *,
                    customer: Customer | None = None) -> Cfdi:
    """Reserve, build, seal, stamp and store one CFDI for the tickets (all of one branch)."""
    if not tickets:
        raise Invalid("portal.invoice.no_tickets", "Agregue al menos un ticket.", field="tickets")
    if len({t.branch_id for t in tickets}) != 1:
        raise Invalid("portal.invoice.mixed_branches", "Todos los tickets de una factura deben ser de la misma sucursal.",
                      field="tickets")
    ps = portal_settings(issuer)
    csd = csd_for(issuer)
    token = uuidlib.uuid4().hex
    reserve(tickets, token, allow_global=ps.allow_reissue_from_global)
    try:
        folio = _next_folio(ps)
        branch = tickets[0].branch
        invoice = cfdi_build.Invoice(
            emisor=cfdi_build.Emisor(rfc=csd.rfc, nombre=csd.legal_name, regimen_fiscal=issuer.fiscal_regime or "601"),
            receptor=cfdi_build.Receptor(rfc=receptor.rfc, nombre=receptor.name, codigo_postal=receptor.postal_code,
                                         regimen_fiscal=receptor.regimen, uso_cfdi=receptor.uso_cfdi),
            lugar_expedicion=branch.postal_code or issuer.postal_code, serie=ps.serie, folio=str(folio),
            conceptos=_conceptos(ps, tickets), metodo_pago="PUE", forma_pago=forma_pago,
        )
        xml = cfdi_build.build_invoice(invoice, csd)
        StampRequest.objects.create(issuer=issuer, reservation=token, xml=xml, customer=customer, branch=branch,
                                    email=receptor.email)
    except CfdiError as exc:
        release(token)
        raise cfdi_refusal(exc) from exc
    except Exception:
        release(token)
        raise
    return complete(issuer, token)


def complete(issuer, token: str, user=None) -> Cfdi:
    """Stamp the saved request and store the CFDI (`user`: the staff user who asked for it, if any);
    safe to call again for the same reservation.

    If the PAC fails or times out, the tickets become available again at once. A request whose
    outcome was unknown (timeout) stays open: recovery sends the same XML again, and if the PAC had
    stamped it after all while the tickets went elsewhere, that orphan CFDI is cancelled (motive 02).
    """
    req = StampRequest.objects.get(issuer=issuer, reservation=token)
    existing = Cfdi.objects.filter(issuer=issuer, reservation=token).first()
    if existing is not None:
        return existing
    ps = portal_settings(issuer)
    try:
        stamp = pac_for(ps).stamp(bytes(req.xml))
    except PacError as exc:
        release(token)
        if exc.code != "timeout":
            StampRequest.objects.filter(pk=req.pk).update(done=True)
        raise pac_refusal(exc) from exc
    root = etree.fromstring(stamp.xml_bytes)
    receptor = root.find("{http://www.sat.gob.mx/cfd/4}Receptor")
    with transaction.atomic():
        cfdi = Cfdi.objects.create(
            issuer=issuer, kind=Cfdi.Kind.INVOICE, customer=req.customer, branch=req.branch, reservation=token,
            serie=root.get("Serie", ""), folio=root.get("Folio", ""), uuid=stamp.uuid.upper(),
            issued_at=dt.datetime.fromisoformat(root.get("Fecha")).replace(tzinfo=MX),
            receptor_rfc=receptor.get("Rfc"), receptor_name=receptor.get("Nombre"),
            total=Decimal(root.get("Total")), xml=stamp.xml_bytes, created_by=user,
        )
        # tickets taken out of a stamped global invoice (when the issuer allows it): that global is replaced
        globals_touched = set(Ticket.objects.filter(reservation=token, status=Ticket.Status.RESERVED,
                                                    global_cfdi__isnull=False).values_list("global_cfdi_id", flat=True))
        ours = Ticket.objects.filter(reservation=token, status=Ticket.Status.RESERVED).update(
            status=Ticket.Status.INVOICED, cfdi=cfdi, reserved_at=None)
        for global_id in globals_touched if ours else ():
            create_reissue_job(issuer, global_id)
        StampRequest.objects.filter(pk=req.pk).update(done=True)
        if ours:
            IssuedDocument.objects.create(
                issuer=issuer, source="portal.cfdi", source_id=str(cfdi.pk), country="MX", document_type="cfdi",
                prefix=cfdi.serie, number=int(cfdi.folio or 0), issue_date=cfdi.issued_at.date(),
                customer_name=cfdi.receptor_name, customer_tax_id=cfdi.receptor_rfc, customer_email=req.email,
                total=cfdi.total, currency="MXN", status="stamped", uuid=cfdi.uuid,
            )
    if not ours:
        logger.warning("Reservation %s was stamped late (%s) after its tickets were released; cancelling it", token, cfdi.uuid)
        cancel(cfdi, "02")
    return cfdi


def recover_reservations(older_than: dt.timedelta = STALE_RESERVATION) -> int:
    """Finish or release reservations left by a crash (run periodically by the workers)."""
    cutoff = timezone.now() - older_than
    count = 0
    for req in StampRequest.objects.filter(done=False, created_at__lt=cutoff).select_related("issuer"):
        try:
            complete(req.issuer, req.reservation)
        except Refusal as exc:
            logger.warning("Reservation %s could not be completed: %s", req.reservation, exc)
        count += 1
    # reservations without a stamp request (crash before building): give the tickets back
    stale = Ticket.objects.filter(status=Ticket.Status.RESERVED, reserved_at__lt=cutoff)
    for token in set(stale.values_list("reservation", flat=True)):
        if not StampRequest.objects.filter(reservation=token).exists():
            release(token)
            count += 1
    return count


def cancel(cfdi: Cfdi, motive: str, substitute_uuid: str = "") -> Cfdi:
    if motive not in ("01", "02", "03", "04"):
        raise Invalid("portal.cancel.motive_invalid", "Elija un motivo de cancelación (01 a 04).", field="motive")
    if motive == "01" and not substitute_uuid:
        raise Invalid("portal.cancel.substitute_missing", "El motivo 01 requiere el UUID de la factura que sustituye a esta.",
                      field="substitute_uuid")
    if cfdi.status == Cfdi.Status.CANCELLED:
        raise Conflict("portal.cfdi.already_cancelled", "La factura ya está cancelada.")
    ps = portal_settings(cfdi.issuer)
    try:
        result = pac_for(ps, csd=csd_for(cfdi.issuer)).cancel(cfdi.issuer.tax_id, cfdi.uuid, motive, substitute_uuid or None)
    except PacError as exc:
        raise pac_refusal(exc) from exc
    with transaction.atomic():
        cfdi.status = Cfdi.Status.CANCELLED if result.accepted else Cfdi.Status.CANCELLING
        cfdi.cancel_motive, cfdi.substitute_uuid, cfdi.cancel_ack = motive, substitute_uuid, result.acuse or None
        cfdi.save(update_fields=["status", "cancel_motive", "substitute_uuid", "cancel_ack"])
        if cfdi.status == Cfdi.Status.CANCELLED and motive in ("02", "03"):
            # the sale did not happen / was wrongly invoiced: the tickets become invoiceable again
            Ticket.objects.filter(cfdi=cfdi).update(status=Ticket.Status.AVAILABLE, cfdi=None, reservation="")
        IssuedDocument.objects.filter(source="portal.cfdi", source_id=str(cfdi.pk)).update(status=cfdi.status)
    return cfdi


# --- global invoice (factura global a público en general) ------------------------------------


def month_bounds(period: str):
    year, month = (int(x) for x in period.split("-"))
    start = dt.datetime(year, month, 1, tzinfo=MX)
    end = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=MX)
    return start, end


def previous_period(now=None) -> str:
    """The month before `now` (Mexico City time), as AAAA-MM."""
    first = (now or timezone.now()).astimezone(MX).date().replace(day=1)
    prev = first - dt.timedelta(days=1)
    return f"{prev.year}-{prev.month:02d}"


def create_global_job(issuer, period: str, user=None) -> Job:
    with transaction.atomic():
        return jobs.create_job(issuer, "portal.global_invoice", title=f"Factura global {period}",
                               params={"period": period}, user=user)


def create_reissue_job(issuer, global_id: int) -> Job:
    with transaction.atomic():
        return jobs.create_job(issuer, "portal.reissue_global", title="Sustitución de la factura global (motivo 04)",
                               params={"global": global_id})


def global_job_pending(issuer, period: str) -> bool:
    """A global invoice of `period` exists or a job is making it."""
    if Cfdi.objects.filter(issuer=issuer, kind=Cfdi.Kind.GLOBAL, period=period).exists():
        return True
    return Job.objects.filter(issuer=issuer, kind="portal.global_invoice", params__period=period).exclude(
        status__in=[Job.Status.FAILED, Job.Status.CANCELLED, Job.Status.DELETED]).exists()


def prepare_global(issuer, token: str, tickets, period: str, serie_folio: str) -> None:
    """Build and seal a global CFDI for `tickets` (already reserved under `token`) and save it to be stamped."""
    start, _end = month_bounds(period)
    ps = portal_settings(issuer)
    csd = csd_for(issuer)
    try:
        xml = cfdi_build.build_global_invoice(cfdi_build.GlobalInvoice(
            emisor=cfdi_build.Emisor(rfc=csd.rfc, nombre=csd.legal_name, regimen_fiscal=issuer.fiscal_regime or "601"),
            lugar_expedicion=issuer.postal_code, periodicidad="04", meses=f"{start.month:02d}", anio=start.year,
            tickets=[cfdi_build.Ticket(number=t.ticket_number, subtotal=t.subtotal,
                                       iva=t.iva_rate if t.iva_rate in cfdi_build.IVA_RATES else "16") for t in tickets],
            serie=ps.global_serie, folio=serie_folio,
        ), csd)
    except CfdiError as exc:
        release(token)
        raise cfdi_refusal(exc) from exc
    StampRequest.objects.get_or_create(issuer=issuer, reservation=token, defaults={"xml": xml})


# --- selectors (read-only, shared by the channels) -------------------------------------------


def tickets_for(issuer, *, q: str = "", status: str = ""):
    """The back office's ticket list: `q` in the ticket or order number, `status` exact."""
    qs = Ticket.objects.filter(issuer=issuer).select_related("branch", "cfdi")
    if q:
        qs = qs.filter(models.Q(ticket_number__icontains=q) | models.Q(order_number__icontains=q))
    if status:
        qs = qs.filter(status=status)
    return qs


def global_invoice_periods(issuer) -> list[str]:
    """The periods (AAAA-MM, Mexico City time) that have tickets still available for a global invoice."""
    months = (Ticket.objects.filter(issuer=issuer, status=Ticket.Status.AVAILABLE).order_by()
              .datetimes("sold_at", "month", tzinfo=MX))
    return [f"{m:%Y-%m}" for m in months]


def cfdis_for(issuer, *, kind: str = ""):
    qs = Cfdi.objects.filter(issuer=issuer).select_related("customer", "branch")
    return qs.filter(kind=kind) if kind else qs


def customer_cfdis(issuer, customer, *, date_from=None, date_to=None, branch=None, status="", min_total=None,
                   max_total=None):
    """A portal customer's invoices with the panel's filters (empty values do not filter)."""
    qs = Cfdi.objects.filter(issuer=issuer, customer=customer).select_related("branch")
    filters = {"issued_at__date__gte": date_from, "issued_at__date__lte": date_to, "branch_id": branch,
               "status": status, "total__gte": min_total, "total__lte": max_total}
    return qs.filter(**{k: v for k, v in filters.items() if v not in (None, "")})


def get_ticket(issuer, *, pk=None, branch: str = "", number: str = "") -> Ticket:
    """One of the issuer's tickets, by id or by branch code and ticket number (branch optional when unique)."""
    qs = Ticket.objects.filter(issuer=issuer).select_related("branch")
    if pk is not None:
        qs = qs.filter(pk=pk)
    else:
        qs = qs.filter(ticket_number=(number or "").strip())
        if branch:
            qs = qs.filter(branch__code=branch.strip())
    found = list(qs[:2])
    if len(found) != 1:
        if len(found) > 1:
            raise Invalid("portal.ticket.ambiguous", "Hay varios tickets con ese número: indique la sucursal.",
                          field="branch")
        raise NotFound("portal.ticket.not_found", "No existe ese ticket.", field="ticket")
    return found[0]


def get_cfdi(issuer, *, pk=None, uuid: str = "") -> Cfdi:
    qs = Cfdi.objects.filter(issuer=issuer)
    cfdi = (qs.filter(pk=pk) if pk is not None else qs.filter(uuid=(uuid or "").strip().upper())).first()
    if cfdi is None:
        raise NotFound("portal.cfdi.not_found", "No existe esa factura.", field="cfdi")
    return cfdi


# --- files ---------------------------------------------------------------------------------


def cfdi_file(cfdi: Cfdi, what: str) -> tuple[bytes, str]:
    """(content, content type) of the CFDI's XML (byte for byte as stamped) or its PDF."""
    if what == "xml":
        return bytes(cfdi.xml), "application/xml"
    return cfdi_pdf(bytes(cfdi.xml)), "application/pdf"


def cfdis_zip(cfdis) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for c in cfdis:
            zf.writestr(f"{c.uuid}.xml", bytes(c.xml))
            zf.writestr(f"{c.uuid}.pdf", cfdi_pdf(bytes(c.xml)))
    return buf.getvalue()


def send_cfdi_email(cfdi: Cfdi, email: str) -> None:
    msg = EmailMessage(subject=f"Factura {cfdi.full_number} de {cfdi.issuer.legal_name}",
                       body=f"Adjuntamos su factura {cfdi.full_number} (UUID {cfdi.uuid}) "
                            f"por {format_money(cfdi.total, 'MX')}.", to=[email])
    msg.attach(f"{cfdi.uuid}.xml", bytes(cfdi.xml), "application/xml")
    msg.attach(f"{cfdi.uuid}.pdf", cfdi_pdf(bytes(cfdi.xml)), "application/pdf")
    msg.send()


def write_files(issued):
    """The stamped XML and its PDF, for mass email and downloads."""
    cfdi = Cfdi.objects.filter(pk=issued.source_id, issuer_id=issued.issuer_id).first()
    if cfdi is None:
        return
    issued.xml.save(f"{cfdi.uuid}.xml", ContentFile(bytes(cfdi.xml)), save=False)
    issued.pdf.save(f"{cfdi.uuid}.pdf", ContentFile(cfdi_pdf(bytes(cfdi.xml))), save=False)
    issued.save(update_fields=["xml", "pdf"])
