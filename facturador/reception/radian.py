"""RADIAN events the issuer registers with DIAN: as buyer, about the invoices it received (030 acuse de recibo,
031 reclamo, 032 recibo del bien o servicio, 033 aceptación expresa), and as supplier, the tacit acceptance (034)
of its own invoices once the term has passed.

The standards work is `facturador.dian.events` (the ApplicationResponse, its CUDE, the signature); this module
ties it to the issuer's data (certificate, software and PIN, event numbering, the person who receives) and
to the documents, and sends the events:

* order rules are checked before an event is created (`check_order`), with stable refusal codes
  (``reception.event.order``, ``.claimed``, ``.accepted``, ``.duplicate``, ...);
* an event is created once per (document, code) — the database refuses a second — with its signed XML;
* the sending job claims each event with a conditional UPDATE (pending -> sending) before sending it, so two
  workers never send the same event; a job resumed after a crash finds the event in ``sending`` and asks DIAN
  (GetStatusEvent by the event's CUDE) before sending it again: an event DIAN has is never sent twice;
* after SendEventUpdateStatus, GetStatusEvent confirms and DIAN's answer (status, rule codes, its
  ApplicationResponse) is stored; an accepted event is e-mailed to the supplier (the event and DIAN's answer).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import zipfile
from zoneinfo import ZoneInfo

from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from facturador.core import jobs, outbound
from facturador.core.errors import Conflict, Invalid, Refusal
from facturador.dian import events as dian_events
from facturador.dian.errors import DianError
from facturador.dian.model import Party, Software
from facturador.dian.ws import packaging
from facturador.einvoice.models import DianDocument
from facturador.einvoice.services import active_mode, dian_client, signer_for
from facturador.reception.models import EventSettings, ReceivedDocument, ReceptionEvent, TacitTerm

logger = logging.getLogger(__name__)
COT = ZoneInfo("America/Bogota")
BUYER_CODES = dian_events.BUYER_EVENTS
#: the buyer events a bulk action may register, by its name in the UI/API/CLI
BULK = {"acknowledge": "030", "receive": "032", "accept": "033"}
#: ReceivedDocument.dian_state after each accepted event (a claim or an acceptance decides over the others)
STATE_OF = {"030": ReceivedDocument.DianState.ACKNOWLEDGED, "032": ReceivedDocument.DianState.GOODS_RECEIVED,
            "033": ReceivedDocument.DianState.ACCEPTED, "034": ReceivedDocument.DianState.TACITLY_ACCEPTED,
            "031": ReceivedDocument.DianState.CLAIMED}
_RANK = ("030", "032", "034", "033", "031")
LIVE = (ReceptionEvent.State.PENDING, ReceptionEvent.State.SENDING, ReceptionEvent.State.ACCEPTED)


def settings_for(issuer) -> EventSettings:
    obj, _ = EventSettings.objects.get_or_create(issuer=issuer)
    return obj


def registered_codes(document: ReceivedDocument) -> dict[str, ReceptionEvent]:
    """The document's events that count for the order rules: pending, being sent or accepted (not refused)."""
    return {e.code: e for e in ReceptionEvent.objects.filter(document=document, state__in=LIVE)}


def check_order(document: ReceivedDocument, code: str, reason: str | None = None,
                settings: EventSettings | None = None) -> None:
    """Refuse an event DIAN would refuse for this document, before anything is signed or stored."""
    if code not in BUYER_CODES:
        raise Invalid("reception.event.code_invalid", "Evento no admitido: use 030 (acuse de recibo), 031 (reclamo), "
                      "032 (recibo del bien o servicio) o 033 (aceptación expresa).", field="code")
    if code == "031" and reason not in dian_events.CLAIM_REASONS:
        raise Invalid("reception.event.reason_required", "Indique el concepto del reclamo: 01 documento con "
                      "inconsistencias, 02 mercancía no entregada totalmente, 03 mercancía no entregada "
                      "parcialmente o 04 servicio no prestado.", field="reason")
    if code != "031" and reason:
        raise Invalid("reception.event.reason_not_applicable", "Solo el reclamo (031) lleva concepto.", field="reason")
    if document.country != "CO" or document.kind != ReceivedDocument.Kind.INVOICE:
        raise Invalid("reception.event.not_an_invoice", "Los eventos DIAN se registran sobre facturas electrónicas de "
                      "venta de Colombia.", field="document")
    if document.status == ReceivedDocument.Status.SET_ASIDE:
        raise Conflict("reception.event.set_aside", f"La factura {document.number} está apartada "
                       f"({document.set_aside_reason or 'no es para este emisor'}).", field="document")
    if document.dian_validation == ReceivedDocument.DianValidation.REJECTED:
        raise Conflict("reception.event.not_validated", f"La DIAN rechazó la factura {document.number}: no admite "
                       "eventos.", field="document")
    have = registered_codes(document)
    if code in have:
        raise Conflict("reception.event.duplicate", f"El evento {code} ya está registrado para la factura "
                       f"{document.number}.", field="code", details={"state": have[code].state})
    if "031" in have:
        raise Conflict("reception.event.claimed", f"La factura {document.number} tiene un reclamo (031): no admite "
                       "más eventos.", field="code")
    if code == "031" and ("033" in have or "034" in have):
        raise Conflict("reception.event.accepted", f"La factura {document.number} ya fue aceptada: no admite "
                       "reclamo.", field="code")
    missing = [c for c in dian_events.PREREQUISITES[code] if c not in have]
    if missing:
        names = ", ".join(f"{c} ({dian_events.EVENTS[c].lower()})" for c in missing)
        raise Conflict("reception.event.order", f"El evento {code} requiere registrar antes {names} para la factura "
                       f"{document.number}.", field="code", details={"missing": missing})
    if code in dian_events.PERSON_REQUIRED and not (settings or settings_for(document.issuer)).has_person:
        raise Invalid("reception.event.person_required", "Configure quién recibe los bienes o servicios (nombre, "
                      "documento y cargo) en la configuración de eventos DIAN: el evento 032 debe identificarla.",
                      field="person")


def _issuer_party(issuer) -> Party:
    return Party(issuer.tax_id, issuer.legal_name, dv=issuer.check_digit or None,
                 legal_person=issuer.person_type == "1", responsibilities=issuer.responsibilities or ["R-99-PN"],
                 tax_scheme="01")


def _next_number(issuer) -> str:
    EventSettings.objects.get_or_create(issuer=issuer)
    EventSettings.objects.filter(issuer=issuer).update(next_event_number=F("next_event_number") + 1)
    s = EventSettings.objects.get(issuer=issuer)
    return f"{s.event_prefix}{s.next_event_number - 1}"


def _sign(issuer, *, code: str, receiver: Party, invoice_number: str, cufe: str, type_code: str, environment: str,
          reason: str | None, person: dian_events.Person | None) -> tuple[str, str, bytes]:
    """(number, CUDE, signed XML) of a new event signed with the issuer's certificate and software."""
    mode = active_mode(issuer)
    env = "1" if mode.environment == "production" else "2"
    if environment and environment != env:
        raise Conflict("reception.event.environment", "La factura es del ambiente de "
                       f"{'producción' if environment == '1' else 'pruebas'} y el software de la DIAN del emisor está "
                       f"en {'producción' if env == '1' else 'pruebas'}: el evento no puede registrarse.",
                       field="operation_mode")
    signer = signer_for(issuer)
    number = _next_number(issuer)
    now = timezone.now().astimezone(COT).replace(microsecond=0)
    ev = dian_events.Event(code, number, now.date(), now.time(), env,
                           Software(mode.software_id, mode.software_pin.reveal(), mode.provider_nit),
                           _issuer_party(issuer), receiver, invoice_number, cufe, type_code or "01",
                           claim_reason=reason or None, person=person)
    try:
        xml = dian_events.sign_event(ev, signer, signing_time=now)
    except (DianError, ValueError) as exc:
        raise Invalid("reception.event.invalid", getattr(exc, "message", str(exc)), field="code") from exc
    return number, dian_events.event_cude_of(ev), xml


def _person(s: EventSettings) -> dian_events.Person | None:
    if not s.has_person:
        return None
    return dian_events.Person(s.person_id_number, s.person_first_name, s.person_family_name, s.person_job_title,
                              s.person_department, s.person_id_type or "13")


def create_event(document: ReceivedDocument, code: str, reason: str | None = None, *, user=None) -> ReceptionEvent:
    """Check the order rules, build and sign the event and store it (pending). An event of the same code the DIAN
    refused (or that could not be sent) is rebuilt in place, with a new number and CUDE."""
    issuer = document.issuer
    s = settings_for(issuer)
    check_order(document, code, reason, s)
    supplier = Party(document.supplier_tax_id, document.supplier_name or document.supplier_tax_id,
                     dv=document.supplier_check_digit or None)
    with transaction.atomic():
        number, cude, xml = _sign(issuer, code=code, receiver=supplier, invoice_number=document.number,
                                  cufe=document.uuid, type_code=document.type_code, environment=document.environment,
                                  reason=reason, person=_person(s) if code != "031" else None)
        old = ReceptionEvent.objects.select_for_update().filter(document=document, code=code).first()
        values = dict(claim_reason=reason or "", number=number, cude=cude, signed_xml=xml,
                      state=ReceptionEvent.State.PENDING, dian_status_code="", dian_message="", rules=[],
                      application_response=None, created_by=user)
        if old is not None:
            if old.state in LIVE:  # a concurrent request created it
                raise Conflict("reception.event.duplicate", f"El evento {code} ya está registrado para la factura "
                               f"{document.number}.", field="code")
            for k, v in values.items():
                setattr(old, k, v)
            old.save()
            return old
        try:
            with transaction.atomic():
                return ReceptionEvent.objects.create(issuer=issuer, document=document, code=code, **values)
        except IntegrityError as exc:
            raise Conflict("reception.event.duplicate", f"El evento {code} ya está registrado para la factura "
                           f"{document.number}.", field="code") from exc


def schedule_send(issuer, events: list[ReceptionEvent], user=None):
    """One job that sends the events in order (the order rules hold within a document)."""
    if not events:
        return None
    job = jobs.create_job(issuer, "reception.events", title=f"Envío a la DIAN de {len(events)} evento(s)",
                          params={"events": [e.pk for e in events]}, user=user, total=len(events))
    ReceptionEvent.objects.filter(pk__in=[e.pk for e in events]).update(job=job)
    return job


# --- sending ---------------------------------------------------------------------------------------------

def _apply(event: ReceptionEvent, response) -> None:
    accepted = bool(response.accepted)
    event.state = ReceptionEvent.State.ACCEPTED if accepted else ReceptionEvent.State.REJECTED
    event.dian_status_code = response.status_code or ""
    event.dian_message = response.summary[:2000]
    event.rules = response.rule_dicts()
    if response.application_response:
        event.application_response = response.application_response
    event.answered_at = timezone.now()


def _save(event: ReceptionEvent, *fields):
    event.save(update_fields=["state", "dian_status_code", "dian_message", "rules", "application_response",
                              "answered_at", "sent_at", "send_attempts", *fields])


def _refresh_document_state(event: ReceptionEvent) -> None:
    if event.document_id is None:
        return
    codes = set(ReceptionEvent.objects.filter(document_id=event.document_id, state=ReceptionEvent.State.ACCEPTED)
                .values_list("code", flat=True))
    best = max(codes, key=_RANK.index, default=None)
    if best:
        ReceivedDocument.objects.filter(pk=event.document_id).update(dian_state=STATE_OF[best],
                                                                     dian_state_at=timezone.now())


def _claim(event: ReceptionEvent) -> bool:
    """Take the event for sending: only one worker wins the pending -> sending UPDATE."""
    now = timezone.now()
    won = ReceptionEvent.objects.filter(pk=event.pk, state=ReceptionEvent.State.PENDING).update(
        state=ReceptionEvent.State.SENDING, sent_at=now, send_attempts=F("send_attempts") + 1)
    event.refresh_from_db()
    return bool(won)


def _known_to_dian(client, event: ReceptionEvent):
    """DIAN's answer about this very event (GetStatusEvent by its CUDE) when DIAN has registered it, else None."""
    answer = client.get_status_event(event.cude)
    if answer.accepted and (answer.xml_document_key or "").lower() == event.cude.lower():
        return answer
    return None


def send_event(event: ReceptionEvent, *, client=None) -> ReceptionEvent:
    """Send one event (exactly once, see the module) and store DIAN's answer; e-mail it to the supplier when
    accepted. Leaves it accepted, rejected, or in error (a transport failure: it can be sent again)."""
    from facturador.dian.ws.client import DianSoapFault, DianTransportError

    if event.state in (ReceptionEvent.State.ACCEPTED, ReceptionEvent.State.REJECTED):
        return event
    try:
        client = client or dian_client(event.issuer, active_mode(event.issuer))
    except Refusal as refusal:
        event.state, event.dian_message = ReceptionEvent.State.ERROR, refusal.message[:2000]
        _save(event)
        return event
    try:
        if event.state in (ReceptionEvent.State.SENDING, ReceptionEvent.State.ERROR):
            # a job that died after claiming it, or a send that failed on the way (DIAN may have received it):
            # ask DIAN first, and send again only if DIAN does not have it
            if event.sent_at is not None:
                known = _known_to_dian(client, event)
                if known is not None:
                    _apply(event, known)
                    _save(event)
                    _after_answer(event)
                    return event
            ReceptionEvent.objects.filter(pk=event.pk, state=event.state).update(state=ReceptionEvent.State.PENDING)
            event.refresh_from_db()
        if not _claim(event):
            return event  # another worker has it
        name = packaging.document_filename("application_response", event.issuer.tax_id,
                                           int("".join(ch for ch in event.number if ch.isdigit()) or 0),
                                           event.created_at.year)
        response = client.send_event(name, bytes(event.signed_xml))
        if response.accepted:
            status = client.get_status_event(event.cude)
            if status.accepted and status.application_response and not response.application_response:
                response.application_response = status.application_response
    except DianTransportError as exc:
        logger.warning("Sending event %s failed: %s", event.pk, exc)
        event.state, event.dian_message = ReceptionEvent.State.ERROR, outbound.CONNECTION_FAILED
        _save(event)
        return event
    except DianSoapFault as exc:
        logger.warning("DIAN answered event %s with a fault: %s", event.pk, exc)
        event.state, event.dian_message = ReceptionEvent.State.ERROR, exc.message[:2000]
        _save(event)
        return event
    _apply(event, response)
    _save(event)
    _after_answer(event)
    return event


def _after_answer(event: ReceptionEvent) -> None:
    if event.state != ReceptionEvent.State.ACCEPTED:
        return
    _refresh_document_state(event)
    if event.code == "034":
        TacitTerm.objects.filter(document_id=event.own_document_id).update(status=TacitTerm.Status.REGISTERED)
    if settings_for(event.issuer).email_supplier and event.document_id:
        email_event(event)


def event_zip(event: ReceptionEvent) -> tuple[str, bytes]:
    """The event and DIAN's answer to it, zipped (what the supplier receives)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"evento-{event.code}-{event.number}.xml", bytes(event.signed_xml))
        if event.application_response:
            zf.writestr(f"respuesta-dian-{event.number}.xml", bytes(event.application_response))
    return f"evento-{event.code}-{event.number}.zip", buf.getvalue()


def email_event(event: ReceptionEvent) -> bool:
    """E-mail an accepted event to the supplier (its invoice's e-mail), as DIAN asks; records the outcome."""
    doc = event.document
    if not doc.supplier_email:
        ReceptionEvent.objects.filter(pk=event.pk).update(email_error="El proveedor no tiene correo en la factura.")
        return False
    issuer = event.issuer
    subject = (f"Evento;{event.number};{issuer.tax_id};{issuer.legal_name};{event.code};"
               f"{dian_events.EVENTS[event.code]}")[:250]
    body = (f"{issuer.legal_name} (NIT {issuer.tax_id}) registró en la DIAN el evento {event.code} "
            f"«{dian_events.EVENTS[event.code]}» sobre su factura {doc.number} (CUFE {doc.uuid}).\n"
            f"CUDE del evento: {event.cude}\n")
    name, data = event_zip(event)
    msg = EmailMessage(subject=subject, body=body, to=[doc.supplier_email])
    msg.attach(name, data, "application/zip")
    try:
        msg.send()
    except Exception as exc:  # noqa: BLE001 - SMTP errors of any kind: recorded, the event stays registered
        logger.warning("E-mailing event %s failed: %s", event.pk, exc)
        ReceptionEvent.objects.filter(pk=event.pk).update(email_error=str(exc)[:300])
        return False
    ReceptionEvent.objects.filter(pk=event.pk).update(emailed_at=timezone.now(), email_error="")
    return True


# --- tacit acceptance (034) of the issuer's own invoices -------------------------------------------------

#: how far back own invoices are followed for tacit acceptance
TACIT_WINDOW_DAYS = 60


def follow_own_invoices(issuer, *, client=None, today: dt.date | None = None) -> list[ReceptionEvent]:
    """Track the tacit-acceptance term of the issuer's own accepted invoices (GetDocumentInfo shows the buyer's
    events) and, when the issuer enabled it, register 034 on those whose term has passed. Returns the 034 events
    created (already sent)."""
    today = today or timezone.now().astimezone(COT).date()
    s = settings_for(issuer)
    invoices = DianDocument.objects.filter(
        issuer=issuer, kind=DianDocument.Kind.INVOICE, status=DianDocument.Status.ACCEPTED, test_set=False,
        issue_date__gte=today - dt.timedelta(days=TACIT_WINDOW_DAYS)).exclude(cufe="")
    final = (TacitTerm.Status.REGISTERED, TacitTerm.Status.ACCEPTED, TacitTerm.Status.CLAIMED)
    done = set(TacitTerm.objects.filter(issuer=issuer, status__in=final).values_list("document_id", flat=True))
    client = client or dian_client(issuer, active_mode(issuer))
    created = []
    for inv in invoices.exclude(pk__in=done).order_by("issue_date", "pk"):
        info = client.get_document_info(inv.cufe)
        if not info.ok or info.document is None:
            continue
        codes = {e.code: e for e in info.document.events if e.code}
        term, _ = TacitTerm.objects.get_or_create(issuer=issuer, document=inv)
        term.events = ",".join(sorted(codes))[:60]
        term.checked_at = timezone.now()
        receipt = codes.get("032")
        if receipt is not None and receipt.number and receipt.number.issue_date:
            term.receipt_date = dt.date.fromisoformat(receipt.number.issue_date[:10])
            term.term_ends = dian_events.add_business_days(term.receipt_date, dian_events.TACIT_TERM_BUSINESS_DAYS)
        if "031" in codes:
            term.status = TacitTerm.Status.CLAIMED
        elif "033" in codes:
            term.status = TacitTerm.Status.ACCEPTED
        elif "034" in codes:
            term.status = TacitTerm.Status.REGISTERED
        elif term.receipt_date is None or "030" not in codes:
            term.status = TacitTerm.Status.WAITING
        elif today < dian_events.tacit_acceptance_date(term.receipt_date):
            term.status = TacitTerm.Status.RUNNING
        else:
            term.status = TacitTerm.Status.DUE
        term.save()
        if term.status == TacitTerm.Status.DUE and s.auto_tacit_acceptance:
            event = _tacit_event(issuer, inv)
            if event is not None:
                created.append(send_event(event, client=client))
    EventSettings.objects.filter(issuer=issuer).update(tacit_checked_at=timezone.now())
    return created


def _tacit_event(issuer, inv: DianDocument) -> ReceptionEvent | None:
    if ReceptionEvent.objects.filter(own_document=inv, code="034", state__in=LIVE).exists():
        return ReceptionEvent.objects.filter(own_document=inv, code="034").first()
    buyer = Party(inv.customer_id, inv.customer_name, dv=None,
                  id_type=(inv.payload.get("customer") or {}).get("id_type", "31")
                  if isinstance(inv.payload.get("customer"), dict) else "31")
    with transaction.atomic():
        number, cude, xml = _sign(issuer, code="034", receiver=buyer, invoice_number=inv.full_number, cufe=inv.cufe,
                                  type_code=inv.type_code, environment="1" if inv.environment == "production" else "2",
                                  reason=None, person=None)
        old = ReceptionEvent.objects.select_for_update().filter(own_document=inv, code="034").first()
        if old is not None:
            old.number, old.cude, old.signed_xml, old.state, old.rules = number, cude, xml, "pending", []
            old.save()
            return old
        return ReceptionEvent.objects.create(issuer=issuer, own_document=inv, code="034", number=number, cude=cude,
                                             signed_xml=xml)
