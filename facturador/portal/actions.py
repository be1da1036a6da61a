"""What people do with the self-invoicing portal: one function per action, for every channel.

Back office (the issuer's staff, through the web UI, the API or the CLI) — ``(issuer, actor, *, ...)``:
import tickets, block and unblock a ticket, cancel a CFDI, issue the global invoice, save the portal's
settings and PAC credentials, recover interrupted stampings.

Public portal (customers, web only). A customer is not a platform user: the channel gives an actor
without user, named after the RFC being invoiced (``rfc:XAXX...``), with the client's IP, which also
keys the rate limits. Look up a ticket, log in, change or recover the password, save the fiscal data,
generate the invoice, email it, download a selection.

Each action validates, does the work (creating the job when there is one) and writes one audit entry
when it changed something; it refuses with a `core.errors.Refusal` whose code is ``portal.<subject>.<reason>``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from facturador.core import audit, outbound
from facturador.core.actors import Actor
from facturador.core.errors import Conflict, Forbidden, Invalid, NotFound
from facturador.core.models import Branch, Job
from facturador.core.periods import clean_period
from facturador.portal import accounts, services
from facturador.portal import tickets as ticket_rules
from facturador.portal.models import Cfdi, Customer, PortalSettings, Ticket

# --- back office ---------------------------------------------------------------------------


def _require_mx(issuer):
    if issuer.country != "MX":
        raise Forbidden("portal.issuer.not_mx", "El portal de autofacturación CFDI es para emisores de México.")


def _own(issuer, obj):
    if obj.issuer_id != issuer.pk:
        raise NotFound(f"portal.{obj._meta.model_name}.not_found", "No existe ese registro para este emisor.")


def import_tickets(issuer, actor: Actor, *, rows, source: str = "") -> tuple[int, int]:
    """Load tickets from the point of sale, all or nothing. Returns (created, already known)."""
    _require_mx(issuer)
    if isinstance(rows, dict):
        rows = [rows]
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise Invalid("portal.ticket_import.not_objects", "Envíe un ticket (objeto JSON) o una lista de tickets.")
    created, known = ticket_rules.save_tickets(issuer, rows)
    audit.record("portal.tickets_import", actor=actor, issuer=issuer,
                 summary=f"{source + ': ' if source else ''}{created} tickets nuevos, {known} ya existían")
    return created, known


def import_tickets_csv(issuer, actor: Actor, *, content: bytes, filename: str = "") -> tuple[int, int]:
    """The same load from a CSV file (columns in `tickets.CSV_COLUMNS`)."""
    _require_mx(issuer)
    return import_tickets(issuer, actor, rows=ticket_rules.read_csv(content), source=filename or "CSV")


def block_ticket(issuer, actor: Actor, *, ticket: Ticket) -> Ticket:
    """The ticket cannot be invoiced by customers (nor goes into the global invoice) until unblocked."""
    _own(issuer, ticket)
    if not Ticket.objects.filter(pk=ticket.pk, status=Ticket.Status.AVAILABLE).update(status=Ticket.Status.BLOCKED):
        raise Conflict("portal.ticket.not_available", "Solo se pueden bloquear tickets disponibles.")
    ticket.status = Ticket.Status.BLOCKED
    audit.record("portal.ticket_block", actor=actor, issuer=issuer, obj=ticket, summary=str(ticket))
    return ticket


def unblock_ticket(issuer, actor: Actor, *, ticket: Ticket) -> Ticket:
    _own(issuer, ticket)
    if not Ticket.objects.filter(pk=ticket.pk, status=Ticket.Status.BLOCKED).update(status=Ticket.Status.AVAILABLE):
        raise Conflict("portal.ticket.not_blocked", "Solo se pueden desbloquear tickets bloqueados.")
    ticket.status = Ticket.Status.AVAILABLE
    audit.record("portal.ticket_unblock", actor=actor, issuer=issuer, obj=ticket, summary=str(ticket))
    return ticket


def cancel_cfdi(issuer, actor: Actor, *, cfdi: Cfdi, motive: str, substitute_uuid: str = "") -> Cfdi:
    """Cancel a stamped CFDI with the SAT motive (01 needs the substituting UUID)."""
    _own(issuer, cfdi)
    services.cancel(cfdi, (motive or "").strip(), (substitute_uuid or "").strip().upper())
    audit.record("portal.cancel", actor=actor, issuer=issuer, obj=cfdi,
                 summary=f"{cfdi.full_number} motivo {cfdi.cancel_motive}: {cfdi.get_status_display()}")
    return cfdi


def request_global_invoice(issuer, actor: Actor, *, period: str) -> Job:
    """Issue now (in a job) the global invoice of `period` (AAAA-MM) with its tickets nobody invoiced."""
    _require_mx(issuer)
    period = clean_period(period, field="period")
    job = services.create_global_job(issuer, period, user=actor.user)
    audit.record("portal.global_invoice", actor=actor, issuer=issuer, obj=job, summary=f"periodo {period}")
    return job


def save_settings(issuer, actor: Actor, *, pac_password: str | None = None, **values) -> PortalSettings:
    """Change the portal's settings (only the given ones) and, when given, the PAC password (stored encrypted)."""
    _require_mx(issuer)
    unknown = sorted(set(values) - set(services.SETTINGS_FIELDS))
    if unknown:
        raise Invalid("portal.settings.unknown", f"No se reconoce la opción {', '.join(unknown)}.", field=unknown[0])
    if values.get("pac_url"):
        values["pac_url"] = outbound.check_endpoint(values["pac_url"], service="pac", field="pac_url")
    ps = PortalSettings.objects.get(pk=services.portal_settings(issuer).pk)  # a copy: a refusal changes nothing
    before = {name: getattr(ps, name) for name in values}
    for name, value in values.items():
        setattr(ps, name, value)
    try:
        ps.full_clean(exclude=["issuer", "pac_password", "next_folio"])  # also converts text (CLI) to the field's type
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise Invalid("portal.settings.invalid", messages[0], field=None if field == "__all__" else field,
                      details={"errors": exc.message_dict}) from exc
    changed = [name for name in values if getattr(ps, name) != before[name]]
    if pac_password:
        ps.pac_password = pac_password
        changed.append("pac_password")
    ps.save()
    issuer._portal_settings = ps
    # the summary names what changed, never a value (the PAC password is a secret)
    audit.record("portal.settings", actor=actor, issuer=issuer, obj=ps, summary=", ".join(changed))
    return ps


def recover_reservations(actor: Actor) -> int:
    """Finish or release the reservations a crash left behind (the workers also do it periodically)."""
    count = services.recover_reservations()
    audit.record("portal.recover", actor=actor, summary=f"{count} reservas revisadas")
    return count


# --- public portal (customers) -------------------------------------------------------------


def customer_actor(request, rfc: str | None) -> Actor:
    """The actor of the public portal: no platform user, the RFC being invoiced, the client's IP."""
    actor = Actor.from_request(request)
    return Actor(user=actor.user, channel=actor.channel, ip=actor.ip, name=f"rfc:{rfc}" if rfc else actor.name)


def _limit(actor: Actor, what: str) -> None:
    """Count one attempt of `what` from the actor's client address (settings.FACTURADOR_PORTAL_THROTTLES)."""
    accounts.throttle(what, actor.ip or "-")


def lookup_ticket(issuer, actor: Actor, *, branch_id, ticket_number: str, order_number: str, total) -> Ticket:
    """The ticket the customer typed, when it can be invoiced now (each failed check has its own message)."""
    _limit(actor, "lookup_ip")
    branch = Branch.objects.filter(issuer=issuer, pk=branch_id, active=True).first() if branch_id else None
    if branch is None:
        raise NotFound("portal.branch.not_found", "Elija la sucursal donde hizo la compra.", field="branch")
    return services.find_ticket(issuer, branch, ticket_number, order_number, total)


def customer_login(issuer, actor: Actor, *, rfc: str, password: str, device: str | None = None) -> Customer:
    """Sign a customer in. `device`: the browser's device cookie (`accounts.DEVICE_COOKIE`); from the customer's
    own device the account's lock and per-account throttle do not apply, its attempts are limited per device."""
    rfc = (rfc or "").strip().upper()
    _limit(actor, "login_ip")
    customer = Customer.objects.filter(issuer=issuer, rfc=rfc).first()
    own_device = accounts.trusted_device(device, customer) if customer is not None else None
    if own_device:
        accounts.throttle("login_device", f"{customer.pk}:{own_device}")
    else:
        accounts.throttle("login_account", f"{issuer.pk}:{rfc}")  # counted before the check: parallel guesses too
    if customer is None or not customer.has_account:
        accounts.hash_time(password)  # as long as checking a real password: the answer's time tells nothing
        raise Invalid("portal.account.wrong_password", "El RFC o la contraseña no son correctos.", field="password")
    accounts.authenticate(customer, password, trusted=bool(own_device))
    audit.record("portal.customer_login", actor=actor, issuer=issuer, obj=customer, summary=customer.rfc)
    return customer


def change_password(issuer, actor: Actor, *, customer: Customer, current: str, new: str) -> Customer:
    _own(issuer, customer)
    accounts.authenticate(customer, current, field="current")
    accounts.set_password(customer, new, field="new1")
    audit.record("portal.customer_password", actor=actor, issuer=issuer, obj=customer, summary=customer.rfc)
    return customer


def recover_password(issuer, actor: Actor, *, rfc: str, email: str, captcha_challenge: dict | None,
                     captcha_answer: str) -> None:
    """Email a temporary password when RFC and email match an account. The answer is the same when they do not.
    `captcha_challenge` is the challenge taken out of the session (`accounts.take_captcha`): answered once."""
    _limit(actor, "recover_ip")
    accounts.check_captcha(captcha_challenge, captcha_answer)
    customer = Customer.objects.filter(issuer=issuer, rfc=(rfc or "").strip().upper()).first()
    if accounts.recover(customer, email, issuer.trade_name or issuer.legal_name):
        audit.record("portal.customer_recover", actor=actor, issuer=issuer, obj=customer, summary=customer.rfc)


def save_fiscal_data(issuer, actor: Actor, *, customer: Customer, receptor: services.ReceptorData) -> Customer:
    """A customer with an account updates the fiscal data used in the next invoices."""
    _own(issuer, customer)
    receptor.rfc = customer.rfc
    services.check_receptor(receptor)
    customer.legal_name, customer.postal_code, customer.regimen, customer.uso_cfdi = (
        receptor.name, receptor.postal_code, receptor.regimen, receptor.uso_cfdi)
    customer.email = receptor.email or customer.email
    customer.save()
    audit.record("portal.customer_update", actor=actor, issuer=issuer, obj=customer, summary=customer.rfc)
    return customer


def _save_customer(issuer, receptor: services.ReceptorData, password_hash: str | None,
                   signed_in: Customer | None) -> tuple[Customer, bool]:
    customer, _ = Customer.objects.get_or_create(issuer=issuer, rfc=receptor.rfc, defaults={
        "legal_name": receptor.name, "postal_code": receptor.postal_code, "regimen": receptor.regimen,
        "uso_cfdi": receptor.uso_cfdi, "email": receptor.email})
    if not customer.has_account or (signed_in is not None and signed_in.pk == customer.pk):
        # an account's data (its email receives the password recovery) changes only when its owner signed in
        customer.legal_name, customer.postal_code, customer.regimen, customer.uso_cfdi = (
            receptor.name, receptor.postal_code, receptor.regimen, receptor.uso_cfdi)
        customer.email = receptor.email or customer.email
        customer.save()
    if password_hash and not customer.has_account:
        accounts.set_password_hash(customer, password_hash)
        return customer, True
    return customer, False


def generate_invoice(issuer, actor: Actor, *, ticket_ids, receptor: services.ReceptorData, forma_pago: str,
                     password_hash: str | None = None, signed_in: Customer | None = None) -> tuple[Cfdi, bool]:
    """Stamp one CFDI for the customer's tickets; saves the customer (and creates the account when the hash of
    the password chosen at the fiscal-data step is given, see `accounts.hash_new_password`). An existing
    account's saved data changes only when `signed_in` is that customer. Returns (cfdi, account created)."""
    _limit(actor, "stamp_ip")
    if forma_pago not in dict(services.FORMAS_PAGO):
        raise Invalid("portal.invoice.forma_pago_invalid", "Elija la forma de pago.", field="forma_pago")
    services.check_receptor(receptor)
    items = list(Ticket.objects.filter(issuer=issuer, pk__in=list(ticket_ids or [])).select_related("branch"))
    with transaction.atomic():
        customer, created = _save_customer(issuer, receptor, password_hash, signed_in)
    cfdi = services.invoice_tickets(issuer, items, receptor, forma_pago, customer=customer)
    audit.record("portal.invoice", actor=actor, issuer=issuer, obj=cfdi,
                 summary=f"{cfdi.full_number} {cfdi.uuid} {cfdi.receptor_rfc}, {len(items)} tickets")
    return cfdi, created


def email_invoice(issuer, actor: Actor, *, cfdi: Cfdi, email: str) -> str:
    _own(issuer, cfdi)
    _limit(actor, "mail_ip")
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise Invalid("portal.email.invalid", "Escriba un correo válido.", field="email") from exc
    services.send_cfdi_email(cfdi, email)
    audit.record("portal.invoice_email", actor=actor, issuer=issuer, obj=cfdi, summary=f"{cfdi.full_number} a {email}")
    return email


def download_selection(issuer, actor: Actor, *, customer: Customer, uuids) -> bytes:
    """A ZIP with the XML and PDF of the customer's chosen invoices."""
    _own(issuer, customer)
    chosen = list(Cfdi.objects.filter(issuer=issuer, customer=customer, uuid__in=[u.upper() for u in uuids or []]))
    if not chosen:
        raise Invalid("portal.download.nothing_selected", "Seleccione al menos una factura.", field="uuid")
    return services.cfdis_zip(chosen)
