"""DIAN enablement helpers: the enablement record, test numbering, the test-set runner, the wizard's steps.

The user actions (register, save the operation mode, start a run, correct a document, go to production, ...)
are in `habilitacion.actions`; this module holds what they and the job handler (`habilitacion.jobs`) share.
Everything that numbers a document does it inside the transaction that links the document to its run, so a
worker killed at any moment neither loses nor duplicates a consecutive.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from facturador.core import audit, certificates, jobs, numbering, outbound
from facturador.core.actors import Actor
from facturador.core.errors import Conflict, Invalid
from facturador.core.models import Certificate, Environment, Job, NumberingRange
from facturador.dian import enablement
from facturador.einvoice import services as einvoice
from facturador.einvoice.models import DianDocument, OperationMode
from facturador.habilitacion.models import Enablement, TestSetDocument, TestSetRun
from facturador.taxid import nit_check_digit

logger = logging.getLogger(__name__)

JOB_KIND = "habilitacion.test_set"

# DIAN's habilitación numbering (Anexo técnico; the same for every issuer).
TEST_RANGES = {
    # mode -> (prefix, from, to); some technology providers use SETT 1–5,000,000 instead (editable)
    OperationMode.Mode.OWN: (enablement.TEST_PREFIXES[0], *enablement.TEST_RANGE),  # SETP
    OperationMode.Mode.PROVIDER: (enablement.TEST_PREFIXES[1], *enablement.TEST_RANGE),  # SETT
}
NOTE_PREFIXES = {"credit_note": "NCP", "debit_note": "NDP"}
NOTE_RANGE = (1, 5000000)

# What DIAN's portal has usually asked of own software / technology providers in recent years (30 invoices,
# 10 credit notes, 10 debit notes; the 2019 guide said 60/20/20, some sets now ask 2/1/1). Sending more than
# required is harmless, fewer leaves the set open, so the default errs high; always editable per run.
DEFAULT_COUNTS = {"invoices": 30, "credit_notes": 10, "debit_notes": 10}
MAX_COUNT = 500

BILLING_TYPES = [
    ("electronica", "Factura electrónica de venta"),
    ("contingencia", "Factura de talonario o papel (contingencia)"),
    ("pos", "Documento equivalente POS"),
]

STATE_LABELS = {
    DianDocument.Status.DRAFT: "Pendiente",
    DianDocument.Status.SIGNED: "Firmado",
    DianDocument.Status.SENT: "Enviado",
    DianDocument.Status.PENDING: "Enviado",
    DianDocument.Status.ACCEPTED: "Aceptado",
    DianDocument.Status.REJECTED: "Rechazado",
    DianDocument.Status.ERROR: "Error de envío",
}
FINAL_STATUSES = (DianDocument.Status.ACCEPTED, DianDocument.Status.REJECTED)


# --- enablement record ---------------------------------------------------------------------------

def require_colombia(issuer) -> None:
    if issuer.country != "CO":
        raise Invalid("habilitacion.issuer.not_colombia", "La habilitación DIAN es para emisores de Colombia.",
                      field="issuer")


def enablement_for(issuer) -> Enablement:
    obj, _created = Enablement.objects.get_or_create(issuer=issuer, defaults={"reception_email": issuer.email or ""})
    return obj


# --- operation modes ---------------------------------------------------------------------------

def validate_test_set_id(value: str) -> str:
    try:
        return str(uuid.UUID(str(value).strip()))
    except (ValueError, AttributeError) as exc:
        raise Invalid("habilitacion.test_set_id.invalid", "El TestSetId es un identificador GUID de 36 caracteres, "
                      "por ejemplo 3f1c9a9e-1b2c-4d5e-8f90-123456789abc.", field="test_set_id") from exc


def current_mode(issuer) -> OperationMode | None:
    return OperationMode.objects.filter(issuer=issuer, active=True).first()


# --- test numbering ------------------------------------------------------------------------------

def test_ranges(issuer) -> dict[str, NumberingRange | None]:
    out = {}
    for kind in ("invoice", "credit_note", "debit_note"):
        out[kind] = (NumberingRange.objects.filter(issuer=issuer, document_type=kind, environment=Environment.TEST,
                                                   active=True).order_by("range_from").first())
    return out


def default_test_range(mode: OperationMode | None) -> dict:
    prefix, rfrom, rto = TEST_RANGES[(mode.mode if mode else OperationMode.Mode.OWN)]
    return {"prefix": prefix, "range_from": rfrom, "range_to": rto, "resolution_number": enablement.TEST_RESOLUTION,
            "valid_from": enablement.TEST_VALID_FROM, "valid_to": enablement.TEST_VALID_TO,
            "technical_key": enablement.TEST_TECHNICAL_KEY}


def write_test_ranges(issuer, *, prefix: str, range_from: int, range_to: int, resolution_number: str,
                      valid_from: dt.date, valid_to: dt.date, technical_key: str | None,
                      credit_prefix: str = NOTE_PREFIXES["credit_note"],
                      debit_prefix: str = NOTE_PREFIXES["debit_note"]) -> dict[str, NumberingRange]:
    """Create or update the habilitación ranges (invoices plus credit and debit notes); no audit (the action
    that calls it writes one).

    A range that already has numbers used keeps its start and its next number (those documents exist)."""
    if range_to < range_from:
        raise Invalid("habilitacion.test_numbering.range_invalid", "El número final debe ser mayor o igual al inicial.",
                      field="range_to")
    if valid_to < valid_from:
        raise Invalid("habilitacion.test_numbering.dates_invalid", "La fecha final de vigencia es anterior a la inicial.",
                      field="valid_to")
    for field, p in (("prefix", prefix), ("credit_prefix", credit_prefix), ("debit_prefix", debit_prefix)):
        if not (p and p.isalnum() and len(p) <= 4):
            raise Invalid("habilitacion.test_numbering.prefix_invalid",
                          "El prefijo tiene de 1 a 4 caracteres alfanuméricos.", field=field)
    current = test_ranges(issuer)
    specs = {
        "invoice": (prefix.upper(), range_from, range_to, technical_key),
        "credit_note": (credit_prefix.upper(), *NOTE_RANGE, None),
        "debit_note": (debit_prefix.upper(), *NOTE_RANGE, None),
    }
    out = {}
    with transaction.atomic():
        for kind, (pfx, rfrom, rto, key) in specs.items():
            rng = current[kind]
            used = rng is not None and rng.next_number != rng.range_from
            if used and (rng.prefix != pfx or rng.range_from != rfrom):
                # numbers were used (those documents exist): retire this range and open the new one
                NumberingRange.objects.filter(pk=rng.pk).update(active=False)
                rng = None
            if rng is not None and used:
                rng.range_to = max(rto, rng.next_number - 1)
            elif rng is not None:
                rng.prefix, rng.range_from, rng.range_to, rng.next_number = pfx, rfrom, rto, rfrom
            else:
                rng = NumberingRange(issuer=issuer, document_type=kind, environment=Environment.TEST, prefix=pfx,
                                     range_from=rfrom, range_to=rto, next_number=rfrom)
            other = numbering.overlapping(issuer, kind, Environment.TEST, rng.prefix, rng.range_from, rng.range_to,
                                          exclude_pk=rng.pk)
            if other is not None:
                raise Invalid("habilitacion.test_numbering.overlap",
                              f"El rango se cruza con la numeración existente {other}.", field="range_from",
                              details={"range": str(other)})
            rng.resolution_number = resolution_number
            rng.valid_from, rng.valid_to = valid_from, valid_to
            if kind == "invoice" and key:
                rng.technical_key = key
            elif kind == "invoice" and not rng.technical_key:  # empty keeps the stored key; new: DIAN's public one
                rng.technical_key = enablement.TEST_TECHNICAL_KEY
            rng.active = True
            rng.save()
            out[kind] = rng
    return out


def ensure_test_ranges(issuer, mode: OperationMode | None = None, **overrides) -> dict[str, NumberingRange]:
    ranges = test_ranges(issuer)
    if all(ranges.values()) and not overrides:
        return ranges
    data = default_test_range(mode or current_mode(issuer))
    inv = ranges["invoice"]
    if inv is not None:  # complete what is missing without touching what the user configured
        data.update(prefix=inv.prefix, range_from=inv.range_from, range_to=inv.range_to,
                    resolution_number=inv.resolution_number, valid_from=inv.valid_from, valid_to=inv.valid_to,
                    technical_key=inv.technical_key.reveal() if inv.technical_key else None)
    for kind, field in (("credit_note", "credit_prefix"), ("debit_note", "debit_prefix")):
        if ranges[kind] is not None:
            data[field] = ranges[kind].prefix
    data.update(overrides)
    return write_test_ranges(issuer, **data)


# --- test-set runs -----------------------------------------------------------------------------

def check_counts(invoices, credit_notes, debit_notes):
    for name, value in (("invoices", invoices), ("credit_notes", credit_notes), ("debit_notes", debit_notes)):
        if value is None or value < 0 or value > MAX_COUNT:
            raise Invalid("habilitacion.run.count_invalid", f"La cantidad debe estar entre 0 y {MAX_COUNT}.",
                          field=name)
    if invoices < 1:
        raise Invalid("habilitacion.run.no_invoices", "El set de pruebas necesita al menos una factura.",
                      field="invoices")


def queue_run(run: TestSetRun, user=None) -> Job:
    """A new job that processes the run (enqueued on commit); the run shows that job's state."""
    job = jobs.create_job(run.issuer, JOB_KIND, title=f"Set de pruebas DIAN {run.test_set_id}", params={"run": run.pk},
                          user=user, total=run.total_required)
    run.job = job
    run.save(update_fields=["job"])
    return job


# --- payloads of the test documents ------------------------------------------------------------

_CUSTOMERS = [
    {"id_type": "31", "id_number": "900108281", "name": "Cliente de Pruebas S.A.S.", "legal_person": True,
     "email": "compras@cliente-pruebas.example", "tax_scheme": "01", "responsibilities": ["O-13"],
     "address": {"line": "Carrera 7 # 71-21", "city_code": "11001", "city_name": "Bogotá, D.C.",
                 "department_name": "Bogotá"}},
    {"id_type": "13", "id_number": "1020304050", "name": "Juan Pérez", "legal_person": False,
     "email": "juan.perez@example.com", "address": {"line": "Calle 10 # 5-20", "city_code": "05001",
                                                     "city_name": "Medellín", "department_name": "Antioquia"}},
    {"id_type": "13", "id_number": "52123456", "name": "María Gómez", "legal_person": False,
     "email": "maria.gomez@example.com", "address": {"line": "Avenida 6N # 23-45", "city_code": "76001",
                                                     "city_name": "Cali", "department_name": "Valle del Cauca"}},
]
for _c in _CUSTOMERS:
    if _c.get("id_type") == "31":
        _c["dv"] = nit_check_digit(_c["id_number"])


def invoice_payload(slot: int) -> dict:
    customer = dict(_CUSTOMERS[slot % len(_CUSTOMERS)])
    lines = [{"description": f"Servicio de prueba {slot + 1}", "quantity": "1", "unit_price": str(100000 + slot * 1000),
              "taxes": [{"scheme": "01", "rate": "19"}]}]
    if slot % 2:
        lines.append({"description": "Producto exento de prueba", "quantity": "2", "unit_price": "15000",
                      "taxes": [{"scheme": "01", "rate": "0"}]})
    payment = {"method": "1"}
    if slot % 3 == 1 and not customer.get("consumidor_final"):
        payment = {"method": "2", "due_date": (timezone.localdate() + dt.timedelta(days=30)).isoformat()}
    return {"kind": "invoice", "customer": customer, "lines": lines, "payment": payment}


def note_payload(kind: str, slot: int, invoice: DianDocument) -> dict:
    customer = dict(invoice.payload.get("customer") or {"consumidor_final": True})
    if kind == "credit_note":
        lines = [{"description": f"Devolución parcial de prueba {slot + 1}", "quantity": "1", "unit_price": "10000",
                  "taxes": [{"scheme": "01", "rate": "19"}]}]
        concept = {"code": "1", "description": "Devolución parcial de los bienes"}
    else:
        lines = [{"description": f"Intereses de mora de prueba {slot + 1}", "quantity": "1", "unit_price": "5000",
                  "taxes": [{"scheme": "01", "rate": "19"}]}]
        concept = {"code": "1", "description": "Intereses"}
    return {"kind": kind, "customer": customer, "lines": lines, "payment": {"method": "1"},
            "reference": {"document": invoice.pk}, "discrepancy": concept}


# --- correction of a rejected test document -----------------------------------------------------

def correction_fields(doc: DianDocument) -> dict:
    """What the user may change when correcting a rejected test document, with the document's values."""
    p = doc.payload or {}
    c = p.get("customer") or {}
    line = (p.get("lines") or [{}])[0]
    taxes = line.get("taxes") or []
    return {"customer_name": c.get("name", ""), "customer_id": c.get("id_number", ""),
            "description": line.get("description", ""), "quantity": line.get("quantity", "1"),
            "unit_price": line.get("unit_price", "0"), "iva": taxes[0].get("rate", "") if taxes else ""}


def corrected_payload(doc: DianDocument, *, customer_name: str | None = None, customer_id: str | None = None,
                      description: str | None = None, quantity=None, unit_price=None, iva: str | None = None) -> dict:
    """The payload of the replacement of `doc`: its own, with the changes given (None keeps a value; an empty
    customer keeps it too; iva "" removes the tax of the first line)."""
    current = correction_fields(doc)
    p = dict(doc.payload or {})
    customer = dict(p.get("customer") or {})
    if not customer.get("consumidor_final"):
        if customer_name:
            customer["name"] = customer_name
        if customer_id:
            number, _, dv = customer_id.replace(".", "").strip().partition("-")
            customer["id_number"] = number
            if dv:
                customer["dv"] = dv
            elif customer.get("id_type") == "31":
                customer.pop("dv", None)
    iva = current["iva"] if iva is None else iva
    lines = [dict(line) for line in (p.get("lines") or [])] or [{}]
    lines[0].update(description=current["description"] if description is None else description,
                    quantity=str(current["quantity"] if quantity is None else quantity),
                    unit_price=str(current["unit_price"] if unit_price is None else unit_price),
                    taxes=[{"scheme": "01", "rate": iva}] if iva else [])
    p.update(customer=customer, lines=lines)
    return p


# --- runner steps (called by the job handler) --------------------------------------------------

def _active_entries(run, kind=None):
    qs = TestSetDocument.objects.filter(run=run, active=True).select_related("document")
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("slot")


def create_document(run: TestSetRun, kind: str, slot: int, payload: dict, *, user=None, replaces=None) -> TestSetDocument | None:
    """Issue one test document and link it to the run, all in one transaction.

    Returns None when the slot is already taken (another execution got there first); einvoice's refusal
    (`EinvoiceError`) when it will not issue the document."""
    try:
        with transaction.atomic():
            if replaces is None and TestSetDocument.objects.filter(run=run, kind=kind, slot=slot, active=True).exists():
                return None
            if replaces is not None:
                updated = TestSetDocument.objects.filter(pk=replaces.pk, active=True).update(active=False)
                if not updated:
                    return None
            doc = einvoice.issue(run.issuer, payload, user=user, test_set=True, send=False, mode=run.operation_mode)
            return TestSetDocument.objects.create(issuer=run.issuer, run=run, kind=kind, slot=slot, document=doc,
                                                  replaces=replaces)
    except IntegrityError:
        logger.warning("Slot %s/%s of run %s taken concurrently", kind, slot, run.pk)
        return None


def _note_references(run) -> list[DianDocument]:
    """Invoices of the run that DIAN accepted: the ones test notes may correct."""
    return [e.document for e in _active_entries(run, "invoice")
            if e.document.cufe and e.document.status == DianDocument.Status.ACCEPTED]


def deliver(doc: DianDocument):
    """Send one signed document and follow it until DIAN's final answer (einvoice's delivery)."""
    from facturador.einvoice import delivery

    delivery.send_and_follow(doc)
    doc.refresh_from_db()
    return doc


def summary(run: TestSetRun) -> dict:
    entries = list(_active_entries(run))
    docs = [e.document for e in entries]
    by_kind = {}
    for kind in ("invoice", "credit_note", "debit_note"):
        ds = [e.document for e in entries if e.kind == kind]
        by_kind[kind] = {
            "required": run.required(kind), "created": len(ds),
            "accepted": sum(d.status == DianDocument.Status.ACCEPTED for d in ds),
            "rejected": sum(d.status == DianDocument.Status.REJECTED for d in ds),
        }
    signed = sum(bool(d.signed_xml) for d in docs)
    accepted = sum(d.status == DianDocument.Status.ACCEPTED for d in docs)
    rejected = sum(d.status == DianDocument.Status.REJECTED for d in docs)
    return {
        "total": run.total_required, "created": len(docs), "signed": signed,
        "remaining": max(run.total_required - accepted - rejected, 0), "accepted": accepted, "rejected": rejected,
        "sent": sum(d.status not in (DianDocument.Status.DRAFT, DianDocument.Status.SIGNED) for d in docs),
        "by_kind": by_kind,
    }


def execute(run: TestSetRun, ctx: jobs.JobContext):
    """The test-set runner. Idempotent: every step skips what is done."""
    user = run.created_by
    total = run.total_required
    mode = run.operation_mode

    def progress(message):
        s = summary(run)
        ctx.progress(s["accepted"] + s["rejected"], total=total, message=message, errors=s["rejected"], force=True)

    if mode.environment != Environment.TEST:
        raise Conflict("habilitacion.run.in_production", "El modo de operación ya no está en habilitación.",
                       field="operation_mode")

    def create_kind(kind, count, payload_for):
        have = {e.slot for e in _active_entries(run, kind)}
        for slot in range(count):
            if slot in have:
                continue
            ctx.check_cancel()
            create_document(run, kind, slot, payload_for(slot), user=user)
            progress(f"Firmando {label(kind)} {slot + 1} de {count}")

    def send_kind(kind):
        for entry in _active_entries(run, kind):
            doc = entry.document
            if doc.status in FINAL_STATUSES:
                continue
            ctx.check_cancel()
            deliver(doc)
            progress(f"{doc.full_number}: {STATE_LABELS.get(doc.status, doc.status)}")

    def follow_pending():
        """DIAN still processing some uploads: ask again a few times, waiting longer each time."""
        interval = settings.FACTURADOR_DIAN_POLL_INTERVAL
        for n in range(settings.FACTURADOR_HABILITACION_FOLLOW_ROUNDS):
            pending = [e.document for e in _active_entries(run) if e.document.status == DianDocument.Status.PENDING]
            if not pending:
                return
            progress(f"La DIAN sigue procesando {len(pending)} documento(s); se consulta de nuevo.")
            time.sleep(min(60.0, interval * 2 ** n))
            for doc in pending:
                ctx.check_cancel()
                deliver(doc)

    create_kind("invoice", run.invoices, invoice_payload)
    send_kind("invoice")
    follow_pending()
    refs = _note_references(run)
    notes_wanted = run.credit_notes + run.debit_notes
    notes_waiting = False
    if notes_wanted and not refs:
        # Notes reference invoices DIAN accepted; with none yet they would only be rejected too.
        notes_waiting = True
    else:
        create_kind("credit_note", run.credit_notes, lambda s: note_payload("credit_note", s, refs[s % len(refs)]))
        create_kind("debit_note", run.debit_notes, lambda s: note_payload("debit_note", s, refs[s % len(refs)]))
        send_kind("credit_note")
        send_kind("debit_note")
        follow_pending()
    accepted = check_acceptance(run)
    s = summary(run)
    # The job ends "finished with errors" when documents were rejected (errors = rejected), which the run
    # shows as its outcome unless DIAN accepted the set (`accepted_at`).
    if accepted:
        message = f"Set de pruebas aceptado por la DIAN ({s['accepted']} aceptados)."
    else:
        message = f"{s['accepted']} aceptados, {s['rejected']} rechazados de {total}."
        if notes_waiting:
            message += " Las notas se generan cuando la DIAN acepte alguna factura: corrija las rechazadas."
    progress(message)
    ctx.set_result(**{k: v for k, v in s.items() if k != "by_kind"}, dian_accepted=accepted)
    return s


def label(kind):
    return {"invoice": "factura", "credit_note": "nota crédito", "debit_note": "nota débito"}.get(kind, kind)


ACCEPTED_TEXT = "se encuentra aceptado"


def check_acceptance(run: TestSetRun) -> bool:
    """Did DIAN say "Set de prueba con identificador … se encuentra Aceptado"? Looks at the answers stored
    on the run's documents, then asks GetStatusZip for the last upload of the set."""
    if run.accepted_at is not None:
        return True
    docs = [e.document for e in _active_entries(run)]
    for d in docs:
        if ACCEPTED_TEXT in (d.dian_message or "").lower():
            mark_accepted(run, d.dian_message)
            return True
    keys = [d.zip_key for d in sorted(docs, key=lambda d: (d.sent_at or timezone.now(), d.pk)) if d.zip_key]
    if not keys:
        return False
    try:
        client = client_for(run.issuer, run.operation_mode)
        answers = client.get_status_zip(keys[-1])
    except Exception as exc:  # the documents' own states stay; acceptance can be checked again later
        logger.warning("GetStatusZip for test set %s failed: %s", run.test_set_id, exc)
        return False
    for r in answers or []:
        if r.test_set_accepted:
            mark_accepted(run, r.status_description)
            return True
    return False


def mark_accepted(run: TestSetRun, message: str) -> None:
    """DIAN accepted the test set: a business fact of the run (not its job's state), the operation mode and the
    enablement move on."""
    today = timezone.localdate()
    run.accepted_at, run.dian_message = timezone.now(), (message or "")[:500]
    with transaction.atomic():
        TestSetRun.objects.filter(pk=run.pk).update(accepted_at=run.accepted_at, dian_message=run.dian_message)
        OperationMode.objects.filter(pk=run.operation_mode_id, state__in=[OperationMode.State.REGISTERED,
                                                                          OperationMode.State.TESTING]).update(
            state=OperationMode.State.ACCEPTED)
        en = enablement_for(run.issuer)
        if en.state in (Enablement.State.PENDING, Enablement.State.REGISTERED):
            en.state = Enablement.State.ENABLED
            en.enabled_on = en.enabled_on or today
            en.registered_on = en.registered_on or today
            en.save()
    audit.record("habilitacion.accepted", actor=Actor.worker(), issuer=run.issuer, obj=run,
                 summary=(message or "")[:300])


def client_for(issuer, mode: OperationMode):
    """DIAN's web service client for the mode, signing with the issuer's certificate; the endpoint is checked
    now (core.outbound) and a refusal raised if the platform may not send requests there."""
    from facturador.dian.ws.client import DianClient

    url = outbound.check_endpoint(mode.url, service="dian", field="endpoint")
    return DianClient(url, einvoice.signer_for(issuer), timeout=(5, 60), retries=2, backoff=0.5)


def store_numbering_keys(issuer, dian_ranges) -> tuple[list[NumberingRange], list[NumberingRange]]:
    """Store the technical key of each active production range DIAN returned (GetNumberingRange) with the same
    prefix, numbers and resolution, and DIAN's validity dates. Returns (updated, those whose dates changed)."""
    updated, corrected = [], []
    for rng in NumberingRange.objects.filter(issuer=issuer, environment=Environment.PRODUCTION, active=True):
        for r in dian_ranges:
            if (r.prefix or "").upper() != rng.prefix.upper() or int(r.from_number) != rng.range_from \
                    or int(r.to_number) != rng.range_to or not r.technical_key:
                continue
            if rng.resolution_number and r.resolution_number and str(r.resolution_number) != rng.resolution_number:
                continue
            rng.technical_key = r.technical_key
            # DIAN's dates are the authorised ones (FAB07b/FAB08b reject anything else): keep ours in step.
            for attr, value in (("valid_from", r.valid_date_from), ("valid_to", r.valid_date_to)):
                try:
                    day = dt.date.fromisoformat(str(value)[:10]) if value else None
                except ValueError:
                    day = None
                if day and getattr(rng, attr) != day:
                    setattr(rng, attr, day)
                    corrected.append(rng)
            rng.save(update_fields=["technical_key", "valid_from", "valid_to"])
            updated.append(rng)
            break
    return updated, corrected


# --- production --------------------------------------------------------------------------------

def accepted_mode(issuer) -> OperationMode | None:
    return OperationMode.objects.filter(issuer=issuer, active=True, state__in=[
        OperationMode.State.ACCEPTED, OperationMode.State.PRODUCTION]).first()


def production_ready(issuer) -> bool:
    """A synced (technical key), valid, non-exhausted production invoice range exists, its prefix associated with
    the active software (what `einvoice.services.issue` needs to number a production invoice)."""
    mode = current_mode(issuer)
    if mode is None:
        return False
    try:
        rng = numbering.find_range(issuer, "invoice", Environment.PRODUCTION, software_id=mode.software_id)
    except numbering.NumberingError:
        return False
    return bool(rng.technical_key)


# --- wizard ------------------------------------------------------------------------------------

STEPS = [
    ("registro", "Registro en la DIAN"),
    ("certificado", "Certificado de firma"),
    ("software", "Modo de operación"),
    ("numeracion", "Numeración de pruebas"),
    ("set", "Set de pruebas"),
    ("produccion", "Paso a producción"),
    ("resolucion", "Numeración autorizada"),
    ("listo", "Listo"),
]


def step_status(issuer) -> dict[str, bool]:
    en = enablement_for(issuer)
    mode = current_mode(issuer)
    ranges = test_ranges(issuer)
    prod = en.production_range
    return {
        "registro": en.state != Enablement.State.PENDING,
        "certificado": certificates.active_certificate(issuer, Certificate.Kind.PKCS12) is not None,
        "software": mode is not None and bool(mode.test_set_id or mode.environment == Environment.PRODUCTION),
        "numeracion": all(ranges.values()) or mode is not None and mode.environment == Environment.PRODUCTION,
        "set": mode is not None and mode.state in (OperationMode.State.ACCEPTED, OperationMode.State.PRODUCTION),
        "produccion": en.production_start is not None,
        "resolucion": bool(prod and prod.technical_key and mode is not None
                           and prod.associated_software_id == mode.software_id),
        "listo": bool(en.s2_acknowledged_on),
    }


def first_open_step(issuer) -> str:
    done = step_status(issuer)
    for key, _label in STEPS:
        if not done[key]:
            return key
    return STEPS[-1][0]
