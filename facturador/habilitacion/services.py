"""DIAN enablement rules: registration, operation modes, test numbering, test-set runs, production.

Views, the API and the CLI are thin layers over these functions. Everything that numbers a
document does it inside the transaction that links the document to its run, so a worker killed
at any moment neither loses nor duplicates a consecutive.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from facturador.core import audit, certificates, jobs, numbering
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
    OperationMode.Mode.OWN: ("SETP", *enablement.TEST_RANGE),
    OperationMode.Mode.PROVIDER: ("SETT", *enablement.TEST_RANGE),
}
PROVIDER_ALTERNATIVE_RANGE = (1, 5000000)
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


class HabilitacionError(Exception):
    """A refusal with a stable `code`, the offending `field` and a Spanish `message`."""

    def __init__(self, code, field, message, english=None):
        super().__init__(english or f"{code} {field}: {message}")
        self.code, self.field, self.message = code, field, message


# --- enablement record ---------------------------------------------------------------------------

def enablement_for(issuer) -> Enablement:
    obj, _created = Enablement.objects.get_or_create(issuer=issuer, defaults={"reception_email": issuer.email or ""})
    return obj


def register(issuer, *, reception_email: str, registered_on: dt.date | None = None, user=None, channel=None) -> Enablement:
    """The issuer says it completed the registration in DIAN's portal with this reception email."""
    if issuer.country != "CO":
        raise HabilitacionError("country", "issuer", "La habilitación DIAN es para emisores de Colombia.")
    if not reception_email:
        raise HabilitacionError("required", "reception_email", "Escriba el correo de recepción de facturas registrado en la DIAN.")
    en = enablement_for(issuer)
    en.reception_email = reception_email
    en.registered_on = registered_on or en.registered_on or timezone.localdate()
    if en.state == Enablement.State.PENDING:
        en.state = Enablement.State.REGISTERED
    en.save()
    audit.record("habilitacion.register", issuer=issuer, user=user, obj=en, channel=channel, summary=reception_email)
    return en


def acknowledge_s2(issuer, user=None) -> Enablement:
    en = enablement_for(issuer)
    if en.state != Enablement.State.PRODUCTION:
        raise HabilitacionError("state", "s2", "El recordatorio del RUT aplica cuando ya factura en producción.")
    en.s2_acknowledged_on = en.s2_acknowledged_on or timezone.localdate()
    en.save(update_fields=["s2_acknowledged_on", "updated_at"])
    return en


# --- operation modes ---------------------------------------------------------------------------

def validate_test_set_id(value: str) -> str:
    try:
        return str(uuid.UUID(str(value).strip()))
    except (ValueError, AttributeError) as exc:
        raise HabilitacionError("test_set_id", "test_set_id", "El TestSetId es un identificador GUID de 36 caracteres, "
                                "por ejemplo 3f1c9a9e-1b2c-4d5e-8f90-123456789abc.") from exc


def current_mode(issuer) -> OperationMode | None:
    return OperationMode.objects.filter(issuer=issuer, active=True).first()


def save_mode(issuer, *, software_id: str, pin: str | None = None, test_set_id: str | None = None, mode: str = "own",
              software_name: str = "", provider_name: str = "", provider_nit: str = "", endpoint: str | None = None,
              user=None, channel=None) -> OperationMode:
    """Create or update the issuer's operation mode for `software_id` (used by the CLI and the API)."""
    obj = OperationMode.objects.filter(issuer=issuer, software_id=software_id).first()
    if obj is None:
        if not pin:
            raise HabilitacionError("required", "pin", "Escriba el PIN del software registrado en la DIAN.")
        obj = OperationMode(issuer=issuer, software_id=software_id)
    obj.mode = mode or obj.mode
    obj.software_name = software_name or obj.software_name or "Facturador"
    obj.provider_name = provider_name or obj.provider_name
    obj.provider_nit = (provider_nit or obj.provider_nit or issuer.tax_id).split("-")[0]
    if pin:
        obj.software_pin = pin
    if test_set_id:
        obj.test_set_id = validate_test_set_id(test_set_id)
    if endpoint is not None:
        obj.endpoint = endpoint
    obj.active = True
    with transaction.atomic():
        obj.save()
        OperationMode.objects.filter(issuer=issuer, active=True).exclude(pk=obj.pk).update(active=False)
    audit.record("habilitacion.mode", issuer=issuer, user=user, obj=obj, channel=channel, summary=str(obj))
    return obj


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


def save_test_ranges(issuer, *, prefix: str, range_from: int, range_to: int, resolution_number: str,
                     valid_from: dt.date, valid_to: dt.date, technical_key: str | None,
                     credit_prefix: str = NOTE_PREFIXES["credit_note"], debit_prefix: str = NOTE_PREFIXES["debit_note"],
                     user=None, channel=None) -> dict[str, NumberingRange]:
    """Create or update the habilitación ranges (invoices plus credit and debit notes).

    A range that already has numbers used keeps its start and its next number (those documents exist)."""
    if range_to < range_from:
        raise HabilitacionError("range", "range_to", "El número final debe ser mayor o igual al inicial.")
    if valid_to < valid_from:
        raise HabilitacionError("dates", "valid_to", "La fecha final de vigencia es anterior a la inicial.")
    for field, p in (("prefix", prefix), ("credit_prefix", credit_prefix), ("debit_prefix", debit_prefix)):
        if not (p and p.isalnum() and len(p) <= 4):
            raise HabilitacionError("prefix", field, "El prefijo tiene de 1 a 4 caracteres alfanuméricos.")
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
                raise HabilitacionError("overlap", "range_from", f"El rango se cruza con la numeración existente {other}.")
            rng.resolution_number = resolution_number
            rng.valid_from, rng.valid_to = valid_from, valid_to
            if kind == "invoice":
                rng.technical_key = key or None
            rng.active = True
            rng.save()
            out[kind] = rng
    audit.record("habilitacion.test_numbering", issuer=issuer, user=user, channel=channel,
                 summary=f"{prefix}{range_from}-{range_to}")
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
    return save_test_ranges(issuer, **data)


# --- test-set runs -----------------------------------------------------------------------------

def _check_counts(invoices, credit_notes, debit_notes):
    for name, value in (("invoices", invoices), ("credit_notes", credit_notes), ("debit_notes", debit_notes)):
        if value is None or value < 0 or value > MAX_COUNT:
            raise HabilitacionError("count", name, f"La cantidad debe estar entre 0 y {MAX_COUNT}.")
    if invoices < 1:
        raise HabilitacionError("count", "invoices", "El set de pruebas necesita al menos una factura.")


def start_run(issuer, *, test_set_id: str | None = None, invoices: int | None = None, credit_notes: int | None = None,
              debit_notes: int | None = None, user=None, channel=None) -> TestSetRun:
    """Create a run and its background job (enqueued on commit)."""
    mode = current_mode(issuer)
    if mode is None:
        raise HabilitacionError("no_software", "operation_mode", "Registre primero el software (modo de operación).")
    if mode.environment != Environment.TEST:
        raise HabilitacionError("environment", "operation_mode", "El modo de operación ya está en producción; "
                                "el set de pruebas solo se envía en el ambiente de habilitación.")
    if certificates.active_certificate(issuer, Certificate.Kind.PKCS12) is None:
        raise HabilitacionError("no_certificate", "certificate", "Cargue el certificado de firma digital (.p12) del emisor.")
    test_set_id = validate_test_set_id(test_set_id or mode.test_set_id)
    counts = {"invoices": DEFAULT_COUNTS["invoices"] if invoices is None else int(invoices),
              "credit_notes": DEFAULT_COUNTS["credit_notes"] if credit_notes is None else int(credit_notes),
              "debit_notes": DEFAULT_COUNTS["debit_notes"] if debit_notes is None else int(debit_notes)}
    _check_counts(**counts)
    ensure_test_ranges(issuer, mode)
    with transaction.atomic():
        if TestSetRun.objects.filter(issuer=issuer, job__status__in=Job.ACTIVE).exists():
            raise HabilitacionError("busy", "run", "Ya hay un set de pruebas en proceso; espere a que termine.")
        if mode.test_set_id != test_set_id or mode.state == OperationMode.State.REGISTERED:
            mode.test_set_id = test_set_id
            if mode.state == OperationMode.State.REGISTERED:
                mode.state = OperationMode.State.TESTING
            mode.save(update_fields=["test_set_id", "state"])
        run = TestSetRun.objects.create(issuer=issuer, operation_mode=mode, test_set_id=test_set_id, created_by=user,
                                        **counts)
        _queue(run, user)
    audit.record("habilitacion.run", issuer=issuer, user=user, obj=run, channel=channel,
                 summary=f"{test_set_id}: {counts}")
    return run


def _queue(run: TestSetRun, user=None) -> Job:
    job = jobs.create_job(run.issuer, JOB_KIND, title=f"Set de pruebas DIAN {run.test_set_id}", params={"run": run.pk},
                          user=user, total=run.total_required)
    run.job = job
    run.outcome = TestSetRun.Outcome.RUNNING
    run.save(update_fields=["job", "outcome"])
    return job


def resume_run(run: TestSetRun, user=None) -> Job:
    """Run again (idempotent): sends what was not sent, creates what is missing."""
    with transaction.atomic():
        run = TestSetRun.objects.select_for_update().get(pk=run.pk)
        if run.job_id and run.job.status in Job.ACTIVE:
            raise HabilitacionError("busy", "run", "Este set de pruebas ya se está procesando.")
        return _queue(run, user)


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


# --- runner steps (called by the job handler) --------------------------------------------------

def _active_entries(run, kind=None):
    qs = TestSetDocument.objects.filter(run=run, active=True).select_related("document")
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("slot")


def create_document(run: TestSetRun, kind: str, slot: int, payload: dict, *, user=None, replaces=None) -> TestSetDocument | None:
    """Issue one test document and link it to the run, all in one transaction.

    Returns None when the slot is already taken (another execution got there first)."""
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


def deliver(doc: DianDocument, cancelled=None):
    """Send one signed document and follow it until DIAN's final answer (einvoice's delivery)."""
    from facturador.einvoice import delivery

    delivery.send_and_follow(doc, cancelled=cancelled)
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


def execute(run: TestSetRun, ctx=None):
    """The test-set runner. Idempotent: every step skips what is done."""
    user = run.created_by
    total = run.total_required
    mode = run.operation_mode
    cancelled = ctx.cancel_requested if ctx else None

    def progress(message):
        if ctx is None:
            return
        s = summary(run)
        ctx.progress(s["accepted"] + s["rejected"], total=total, message=message, errors=s["rejected"], force=True)

    if mode.environment != Environment.TEST:
        raise HabilitacionError("environment", "operation_mode", "El modo de operación ya no está en habilitación.")

    def create_kind(kind, count, payload_for):
        have = {e.slot for e in _active_entries(run, kind)}
        for slot in range(count):
            if slot in have:
                continue
            if ctx:
                ctx.check_cancel()
            create_document(run, kind, slot, payload_for(slot), user=user)
            progress(f"Firmando {label(kind)} {slot + 1} de {count}")

    def send_kind(kind):
        for entry in _active_entries(run, kind):
            doc = entry.document
            if doc.status in FINAL_STATUSES:
                continue
            if ctx:
                ctx.check_cancel()
            deliver(doc, cancelled=cancelled)
            progress(f"{doc.full_number}: {STATE_LABELS.get(doc.status, doc.status)}")

    def follow_pending():
        """DIAN still processing some uploads: ask again a few times, waiting longer each time."""
        rounds = getattr(settings, "FACTURADOR_HABILITACION_FOLLOW_ROUNDS", 5)
        interval = getattr(settings, "FACTURADOR_DIAN_POLL_INTERVAL", 2.0)
        for n in range(rounds):
            pending = [e.document for e in _active_entries(run) if e.document.status == DianDocument.Status.PENDING]
            if not pending:
                return
            progress(f"La DIAN sigue procesando {len(pending)} documento(s); se consulta de nuevo.")
            time.sleep(min(60.0, interval * 2 ** n))
            for doc in pending:
                if ctx:
                    ctx.check_cancel()
                deliver(doc, cancelled=cancelled)

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
    check_acceptance(run)
    run.refresh_from_db()
    s = summary(run)
    if run.outcome != TestSetRun.Outcome.ACCEPTED:
        outcome = TestSetRun.Outcome.ERRORS if s["rejected"] else TestSetRun.Outcome.WAITING
        TestSetRun.objects.filter(pk=run.pk).exclude(outcome=TestSetRun.Outcome.ACCEPTED).update(outcome=outcome)
        run.outcome = outcome
    if run.outcome == TestSetRun.Outcome.ACCEPTED:
        message = f"Set de pruebas aceptado por la DIAN ({s['accepted']} aceptados)."
    else:
        message = f"{s['accepted']} aceptados, {s['rejected']} rechazados de {total}."
        if notes_waiting:
            message += " Las notas se generan cuando la DIAN acepte alguna factura: corrija las rechazadas."
    progress(message)
    if ctx:
        ctx.set_result(**{k: v for k, v in s.items() if k != "by_kind"}, outcome=run.outcome)
    return s


def label(kind):
    return {"invoice": "factura", "credit_note": "nota crédito", "debit_note": "nota débito"}.get(kind, kind)


ACCEPTED_TEXT = "se encuentra aceptado"


def check_acceptance(run: TestSetRun) -> bool:
    """Did DIAN say "Set de prueba con identificador … se encuentra Aceptado"? Looks at the answers stored
    on the run's documents, then asks GetStatusZip for the last upload of the set."""
    if run.outcome == TestSetRun.Outcome.ACCEPTED:
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
    today = timezone.localdate()
    with transaction.atomic():
        TestSetRun.objects.filter(pk=run.pk).update(outcome=TestSetRun.Outcome.ACCEPTED, accepted_at=timezone.now(),
                                                    dian_message=(message or "")[:500])
        OperationMode.objects.filter(pk=run.operation_mode_id, state__in=[OperationMode.State.REGISTERED,
                                                                          OperationMode.State.TESTING]).update(
            state=OperationMode.State.ACCEPTED)
        en = enablement_for(run.issuer)
        if en.state in (Enablement.State.PENDING, Enablement.State.REGISTERED):
            en.state = Enablement.State.ENABLED
            en.enabled_on = en.enabled_on or today
            en.registered_on = en.registered_on or today
            en.save()
    run.outcome = TestSetRun.Outcome.ACCEPTED
    audit.record("habilitacion.accepted", issuer=run.issuer, obj=run, channel="worker", summary=(message or "")[:300])


def client_for(issuer, mode: OperationMode):
    from facturador.dian.ws.client import DianClient

    return DianClient(mode.url, einvoice.signer_for(issuer), timeout=(5, 60), retries=2, backoff=0.5)


# --- correction of a rejected document ---------------------------------------------------------

def correct(entry: TestSetDocument, payload: dict, user=None, channel=None) -> TestSetDocument:
    """Issue a corrected replacement of a rejected test document (new number) and queue its sending."""
    run = entry.run
    if not entry.active or entry.document.status != DianDocument.Status.REJECTED:
        raise HabilitacionError("state", "document", "Solo se corrigen documentos rechazados por la DIAN.")
    if run.job_id and run.job.status == Job.Status.RUNNING:
        raise HabilitacionError("busy", "run", "Espere a que termine el procesamiento del set antes de corregir.")
    payload = dict(payload)
    payload["kind"] = entry.kind
    if entry.kind != "invoice":
        payload.setdefault("reference", entry.document.payload.get("reference"))
    with transaction.atomic():
        try:
            new = create_document(run, entry.kind, entry.slot, payload, user=user, replaces=entry)
        except einvoice.EinvoiceError as exc:
            raise HabilitacionError(exc.code, exc.field, exc.message) from exc
        if new is None:
            raise HabilitacionError("state", "document", "Este documento ya fue corregido.")
        if not (run.job_id and run.job.status == Job.Status.PENDING):  # a pending job will send it anyway
            _queue(run, user)
    audit.record("habilitacion.correct", issuer=run.issuer, user=user, obj=new.document, channel=channel,
                 summary=f"{entry.document.full_number} -> {new.document.full_number}")
    return new


# --- production --------------------------------------------------------------------------------

def accepted_mode(issuer) -> OperationMode | None:
    return OperationMode.objects.filter(issuer=issuer, active=True, state__in=[
        OperationMode.State.ACCEPTED, OperationMode.State.PRODUCTION]).first()


def switch_to_production(issuer, *, start_date: dt.date, endpoint: str | None = None, user=None, channel=None) -> Enablement:
    """Record the production start date (once; immutable afterwards) and flip the mode to production."""
    en = enablement_for(issuer)
    if en.production_start is not None:
        raise HabilitacionError("immutable", "production_start",
                                f"La fecha de inicio en producción ya fue confirmada ({en.production_start:%d/%m/%Y}) y no se puede cambiar.")
    mode = accepted_mode(issuer)
    if mode is None:
        raise HabilitacionError("not_enabled", "operation_mode",
                                "El set de pruebas aún no ha sido aceptado por la DIAN; no puede pasar a producción.")
    if start_date is None:
        raise HabilitacionError("required", "production_start", "Escriba la fecha de inicio de facturación electrónica.")
    from facturador.einvoice.models import ENDPOINTS

    with transaction.atomic():
        updated = Enablement.objects.filter(pk=en.pk, production_start__isnull=True).update(
            production_start=start_date, production_confirmed_at=timezone.now(), production_confirmed_by=user,
            state=Enablement.State.PRODUCTION, enabled_on=en.enabled_on or timezone.localdate())
        if not updated:
            raise HabilitacionError("immutable", "production_start", "La fecha de inicio en producción ya fue confirmada.")
        if endpoint is None:
            endpoint = "" if (not mode.endpoint or mode.endpoint in ENDPOINTS.values()) else mode.endpoint
        mode.environment = Environment.PRODUCTION
        mode.state = OperationMode.State.PRODUCTION
        mode.endpoint = endpoint
        mode.save(update_fields=["environment", "state", "endpoint"])
    en.refresh_from_db()
    audit.record("habilitacion.production", issuer=issuer, user=user, obj=en, channel=channel,
                 summary=f"Inicio {start_date.isoformat()}")
    return en


def register_resolution(issuer, *, prefix: str, range_from: int, range_to: int, valid_from: dt.date, valid_to: dt.date,
                        resolution_number: str, billing_type: str = "electronica", user=None, channel=None) -> NumberingRange:
    """The authorised numbering (form 1876) as a production range, without technical key until synced."""
    prefix = (prefix or "").strip().upper()
    if not (prefix.isalnum() and 1 <= len(prefix) <= 4):
        raise HabilitacionError("prefix", "prefix", "El prefijo autorizado tiene de 1 a 4 caracteres alfanuméricos.")
    if not resolution_number or not str(resolution_number).strip().isdigit():
        raise HabilitacionError("resolution", "resolution_number", "Escriba el número de la resolución (solo dígitos).")
    if range_to < range_from or range_from < 1:
        raise HabilitacionError("range", "range_to", "El rango autorizado no es válido (desde ≤ hasta).")
    if valid_to < valid_from:
        raise HabilitacionError("dates", "valid_to", "La fecha final de vigencia es anterior a la inicial.")
    if billing_type not in dict(BILLING_TYPES):
        raise HabilitacionError("billing_type", "billing_type", "Tipo de facturación desconocido.")
    doc_type = {"electronica": "invoice", "contingencia": "contingency", "pos": "pos"}[billing_type]
    other = numbering.overlapping(issuer, doc_type, Environment.PRODUCTION, prefix, range_from, range_to)
    if other is not None:
        raise HabilitacionError("overlap", "range_from", f"El rango se cruza con la numeración existente {other}.")
    with transaction.atomic():
        rng = NumberingRange.objects.create(
            issuer=issuer, document_type=doc_type, environment=Environment.PRODUCTION, prefix=prefix,
            range_from=range_from, range_to=range_to, next_number=range_from, valid_from=valid_from, valid_to=valid_to,
            resolution_number=str(resolution_number).strip(), active=True)
        en = enablement_for(issuer)
        en.production_range = rng
        en.billing_type = billing_type
        en.numbering_synced_at = None
        en.save()
    audit.record("habilitacion.resolution", issuer=issuer, user=user, obj=rng, channel=channel,
                 summary=f"{prefix} {range_from}-{range_to} res. {resolution_number}")
    return rng


def sync_numbering(issuer, user=None, channel=None) -> tuple[list[NumberingRange], str]:
    """"Sincronizar numeración": GetNumberingRange and store each matching range's technical key."""
    mode = current_mode(issuer)
    if mode is None:
        raise HabilitacionError("no_software", "operation_mode", "Registre primero el software (modo de operación).")
    if mode.environment != Environment.PRODUCTION:
        raise HabilitacionError("environment", "operation_mode",
                                "La sincronización de numeración se hace con el servicio de producción: pase primero a producción.")
    try:
        answer = client_for(issuer, mode).get_numbering_range(issuer.tax_id, mode.provider_nit or issuer.tax_id,
                                                              mode.software_id)
    except einvoice.EinvoiceError as exc:
        raise HabilitacionError(exc.code, exc.field, exc.message) from exc
    except Exception as exc:
        message = getattr(exc, "message", None) or "No fue posible consultar la numeración en la DIAN."
        raise HabilitacionError(getattr(exc, "code", "ws"), "endpoint", message, str(exc)) from exc
    if not answer.ok:
        raise HabilitacionError(f"dian_{answer.operation_code}", "numbering",
                                f"La DIAN respondió: {answer.operation_description or answer.operation_code}")
    ours = NumberingRange.objects.filter(issuer=issuer, environment=Environment.PRODUCTION, active=True)
    updated, corrected = [], []
    for rng in ours:
        for r in answer.ranges:
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
    if not updated:
        listed = ", ".join(f"{r.prefix} {r.from_number}-{r.to_number}" for r in answer.ranges) or "ninguna"
        raise HabilitacionError("not_found", "numbering",
                                "La DIAN no tiene asociada al software una numeración igual a la registrada "
                                f"(la DIAN devolvió: {listed}). Revise el prefijo, el rango y la asociación de prefijos.")
    en = enablement_for(issuer)
    en.numbering_synced_at = timezone.now()
    en.save(update_fields=["numbering_synced_at", "updated_at"])
    names = ", ".join(f"{r.prefix} {r.range_from}–{r.range_to}" for r in updated)
    message = f"Numeración sincronizada con la DIAN: se obtuvo la clave técnica de {names}."
    if corrected:
        message += " Las fechas de vigencia se actualizaron con las autorizadas por la DIAN."
    audit.record("habilitacion.sync", issuer=issuer, user=user, channel=channel, summary=names)
    return updated, message


def associate_prefix(issuer, on: dt.date | None = None, user=None, channel=None) -> Enablement:
    en = enablement_for(issuer)
    if en.production_range_id is None:
        raise HabilitacionError("no_range", "prefix", "Registre primero la resolución de numeración autorizada.")
    en.prefix_associated_on = on or timezone.localdate()
    en.save(update_fields=["prefix_associated_on", "updated_at"])
    audit.record("habilitacion.prefix", issuer=issuer, user=user, obj=en, channel=channel,
                 summary=en.production_range.prefix)
    return en


def production_ready(issuer) -> bool:
    """A synced (technical key), valid, non-exhausted production invoice range exists."""
    try:
        rng = numbering.find_range(issuer, "invoice", Environment.PRODUCTION)
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
        "resolucion": bool(prod and prod.technical_key and en.prefix_associated_on),
        "listo": bool(en.s2_acknowledged_on),
    }


def first_open_step(issuer) -> str:
    done = step_status(issuer)
    for key, _label in STEPS:
        if not done[key]:
            return key
    return STEPS[-1][0]
