"""The user actions of DIAN enablement: one function per action, `(issuer, actor, *, ...)`.

Each action validates its input and the state of the data, does the work, queues the job when there is one
and writes one audit entry with the actor. It refuses with `core.errors` refusals whose codes are
``habilitacion.<subject>.<reason>``. The web views, the API and the ``facturador habilitacion`` command only
parse their input, call these and present the result. Helpers shared with the test-set runner live in
`habilitacion.services`.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from facturador.core import audit, certificates, numbering, outbound
from facturador.core.actors import Actor
from facturador.core.errors import Conflict, Invalid, NotFound
from facturador.core.models import Certificate, Environment, Job, NumberingRange
from facturador.dian.errors import DianError
from facturador.dian.ws.client import DianTransportError
from facturador.einvoice.models import ENDPOINTS, DianDocument, OperationMode
from facturador.habilitacion import services, signals
from facturador.habilitacion.models import Enablement, TestSetDocument, TestSetRun
from facturador.taxid import TaxIdError, nit_check_digit

logger = logging.getLogger(__name__)


def _own(issuer, obj, code: str, message: str):
    """`obj` (a run, a run's document) must belong to `issuer`: channels look it up scoped, this is the guard."""
    if obj is None or obj.issuer_id != issuer.pk:
        raise NotFound(code, message)
    return obj


# --- registration ----------------------------------------------------------------------------------

def register(issuer, actor: Actor, *, reception_email: str, registered_on: dt.date | None = None) -> Enablement:
    """The issuer says it completed the registration in DIAN's portal with this reception email."""
    services.require_colombia(issuer)
    reception_email = (reception_email or "").strip()
    if not reception_email:
        raise Invalid("habilitacion.registration.email_required",
                      "Escriba el correo de recepción de facturas registrado en la DIAN.", field="reception_email")
    en = services.enablement_for(issuer)
    en.reception_email = reception_email
    en.registered_on = registered_on or en.registered_on or timezone.localdate()
    if en.state == Enablement.State.PENDING:
        en.state = Enablement.State.REGISTERED
    en.save()
    audit.record("habilitacion.register", actor=actor, issuer=issuer, obj=en, summary=reception_email)
    return en


def acknowledge_s2(issuer, actor: Actor) -> Enablement:
    """The issuer updated its RUT with responsibility 52 («Facturador electrónico»)."""
    en = services.enablement_for(issuer)
    if en.state != Enablement.State.PRODUCTION:
        raise Conflict("habilitacion.s2.not_in_production",
                       "El recordatorio del RUT aplica cuando ya factura en producción.")
    en.s2_acknowledged_on = en.s2_acknowledged_on or timezone.localdate()
    en.save(update_fields=["s2_acknowledged_on", "updated_at"])
    audit.record("habilitacion.s2", actor=actor, issuer=issuer, obj=en, summary=en.s2_acknowledged_on.isoformat())
    return en


# --- operation mode ----------------------------------------------------------------------------------

def save_operation_mode(issuer, actor: Actor, *, software_id: str | None = None, pin: str | None = None,
                        test_set_id: str | None = None, mode: str | None = None, software_name: str | None = None,
                        provider_name: str | None = None, provider_nit: str | None = None,
                        endpoint: str | None = None) -> OperationMode:
    """Create or update the issuer's operation mode for `software_id` (the current one when not given) and
    make it the one in use. A value left as None keeps what is stored; a new software needs its PIN."""
    services.require_colombia(issuer)
    software_id = (software_id or "").strip()
    if software_id:
        obj = OperationMode.objects.filter(issuer=issuer, software_id=software_id).first()
    else:
        obj = services.current_mode(issuer)
        if obj is None:
            raise Invalid("habilitacion.operation_mode.software_id_required",
                          "Escriba el identificador del software registrado en la DIAN.", field="software_id")
    pin = (pin or "").strip()
    if obj is None:
        if not pin:
            raise Invalid("habilitacion.operation_mode.pin_required",
                          "Escriba el PIN del software registrado en la DIAN.", field="pin")
        obj = OperationMode(issuer=issuer, software_id=software_id)
    if mode is not None and mode not in OperationMode.Mode.values:
        raise Invalid("habilitacion.operation_mode.mode_unknown",
                      "El modo de operación es «own» (software propio) o «provider» (proveedor tecnológico).",
                      field="mode")
    nit = (provider_nit or "").strip().replace(".", "").split("-")[0]
    if nit:
        try:
            nit_check_digit(nit)
        except TaxIdError as exc:
            raise Invalid("habilitacion.operation_mode.provider_nit_invalid", exc.message, field="provider_nit") from exc
    obj.mode = mode or obj.mode
    obj.software_name = (software_name or "").strip() or obj.software_name or "Facturador"
    if provider_name is not None:
        obj.provider_name = provider_name.strip()
    obj.provider_nit = nit or obj.provider_nit or issuer.tax_id
    if pin:
        obj.software_pin = pin
    if test_set_id:
        obj.test_set_id = services.validate_test_set_id(test_set_id)
    if endpoint is not None:
        obj.endpoint = endpoint.strip() and outbound.check_endpoint(endpoint, service="dian", field="endpoint")
    obj.active = True
    with transaction.atomic():
        obj.save()
        OperationMode.objects.filter(issuer=issuer, active=True).exclude(pk=obj.pk).update(active=False)
    audit.record("habilitacion.mode", actor=actor, issuer=issuer, obj=obj, summary=str(obj))
    return obj


# --- test numbering ------------------------------------------------------------------------------------

def save_test_numbering(issuer, actor: Actor, *, prefix: str, range_from: int, range_to: int, resolution_number: str,
                        valid_from: dt.date, valid_to: dt.date, technical_key: str | None = None,
                        credit_prefix: str = services.NOTE_PREFIXES["credit_note"],
                        debit_prefix: str = services.NOTE_PREFIXES["debit_note"]) -> dict[str, NumberingRange]:
    """The habilitación numbering the user typed (invoices plus credit and debit notes)."""
    services.require_colombia(issuer)
    ranges = services.write_test_ranges(issuer, prefix=prefix, range_from=range_from, range_to=range_to,
                                        resolution_number=resolution_number, valid_from=valid_from, valid_to=valid_to,
                                        technical_key=technical_key, credit_prefix=credit_prefix,
                                        debit_prefix=debit_prefix)
    inv = ranges["invoice"]
    audit.record("habilitacion.test_numbering", actor=actor, issuer=issuer, obj=inv,
                 summary=f"{inv.prefix}{inv.range_from}-{inv.range_to}")
    return ranges


# --- test-set runs ---------------------------------------------------------------------------------------

def start_run(issuer, actor: Actor, *, test_set_id: str | None = None, invoices: int | None = None,
              credit_notes: int | None = None, debit_notes: int | None = None) -> TestSetRun:
    """'Generar comprobantes': a run of the test set and its background job (enqueued on commit)."""
    services.require_colombia(issuer)
    mode = services.current_mode(issuer)
    if mode is None:
        raise Invalid("habilitacion.run.no_software", "Registre primero el software (modo de operación).",
                      field="operation_mode")
    if mode.environment != Environment.TEST:
        raise Conflict("habilitacion.run.in_production", "El modo de operación ya está en producción; "
                       "el set de pruebas solo se envía en el ambiente de habilitación.", field="operation_mode")
    if certificates.active_certificate(issuer, Certificate.Kind.PKCS12) is None:
        raise Invalid("habilitacion.run.no_certificate", "Cargue el certificado de firma digital (.p12) del emisor.",
                      field="certificate")
    test_set_id = services.validate_test_set_id(test_set_id or mode.test_set_id)
    counts = {"invoices": services.DEFAULT_COUNTS["invoices"] if invoices is None else int(invoices),
              "credit_notes": services.DEFAULT_COUNTS["credit_notes"] if credit_notes is None else int(credit_notes),
              "debit_notes": services.DEFAULT_COUNTS["debit_notes"] if debit_notes is None else int(debit_notes)}
    services.check_counts(**counts)
    services.ensure_test_ranges(issuer, mode)
    with transaction.atomic():
        if TestSetRun.objects.filter(issuer=issuer, job__status__in=Job.ACTIVE).exists():
            raise Conflict("habilitacion.run.busy", "Ya hay un set de pruebas en proceso; espere a que termine.")
        if mode.test_set_id != test_set_id or mode.state == OperationMode.State.REGISTERED:
            mode.test_set_id = test_set_id
            if mode.state == OperationMode.State.REGISTERED:
                mode.state = OperationMode.State.TESTING
            mode.save(update_fields=["test_set_id", "state"])
        run = TestSetRun.objects.create(issuer=issuer, operation_mode=mode, test_set_id=test_set_id,
                                        created_by=actor.user, **counts)
        services.queue_run(run, actor.user)
    audit.record("habilitacion.run", actor=actor, issuer=issuer, obj=run, summary=f"{test_set_id}: {counts}")
    return run


def resume_run(issuer, actor: Actor, *, run: TestSetRun) -> Job:
    """Process the run again (idempotent): sends what was not sent, creates what is missing."""
    _own(issuer, run, "habilitacion.run.not_found", "El set de pruebas no existe.")
    with transaction.atomic():
        run = TestSetRun.objects.select_for_update().get(pk=run.pk)
        if run.job_id and run.job.status in Job.ACTIVE:
            raise Conflict("habilitacion.run.busy", "Este set de pruebas ya se está procesando.")
        job = services.queue_run(run, actor.user)
    audit.record("habilitacion.resume", actor=actor, issuer=issuer, obj=run, summary=f"{run.test_set_id}: job {job.pk}")
    return job


def correct_document(issuer, actor: Actor, *, entry: TestSetDocument, customer_name: str | None = None,
                     customer_id: str | None = None, description: str | None = None, quantity=None, unit_price=None,
                     iva: str | None = None) -> TestSetDocument:
    """Issue a corrected replacement of a rejected test document (next number, same slot) and send it.
    The changes are those of `services.corrected_payload` (None keeps the rejected document's value)."""
    _own(issuer, entry, "habilitacion.correction.not_found", "El documento del set de pruebas no existe.")
    run = entry.run
    if not entry.active or entry.document.status != DianDocument.Status.REJECTED:
        raise Conflict("habilitacion.correction.not_rejected", "Solo se corrigen documentos rechazados por la DIAN.",
                       field="document")
    if run.job_id and run.job.status == Job.Status.RUNNING:
        raise Conflict("habilitacion.correction.run_busy",
                       "Espere a que termine el procesamiento del set antes de corregir.")
    payload = services.corrected_payload(entry.document, customer_name=customer_name, customer_id=customer_id,
                                         description=description, quantity=quantity, unit_price=unit_price, iva=iva)
    payload["kind"] = entry.kind
    if entry.kind != "invoice":
        payload.setdefault("reference", entry.document.payload.get("reference"))
    with transaction.atomic():
        new = services.create_document(run, entry.kind, entry.slot, payload, user=actor.user, replaces=entry)
        if new is None:
            raise Conflict("habilitacion.correction.already_corrected", "Este documento ya fue corregido.",
                           field="document")
        if not (run.job_id and run.job.status == Job.Status.PENDING):  # a pending job will send it anyway
            services.queue_run(run, actor.user)
    audit.record("habilitacion.correct", actor=actor, issuer=issuer, obj=new.document,
                 summary=f"{entry.document.full_number} -> {new.document.full_number}")
    return new


# --- production ------------------------------------------------------------------------------------------

def switch_to_production(issuer, actor: Actor, *, start_date: dt.date | None, endpoint: str | None = None) -> Enablement:
    """Record the production start date (once; immutable afterwards) and flip the mode to production."""
    if endpoint:
        endpoint = outbound.check_endpoint(endpoint, service="dian", field="endpoint")
    services.require_colombia(issuer)
    en = services.enablement_for(issuer)
    if en.production_start is not None:
        raise Conflict("habilitacion.production.already_confirmed",
                       f"La fecha de inicio en producción ya fue confirmada ({en.production_start:%d/%m/%Y}) y no se "
                       "puede cambiar.", field="start_date")
    mode = services.accepted_mode(issuer)
    if mode is None:
        raise Conflict("habilitacion.production.not_enabled",
                       "El set de pruebas aún no ha sido aceptado por la DIAN; no puede pasar a producción.",
                       field="operation_mode")
    if start_date is None:
        raise Invalid("habilitacion.production.start_date_required",
                      "Escriba la fecha de inicio de facturación electrónica.", field="start_date")
    with transaction.atomic():
        updated = Enablement.objects.filter(pk=en.pk, production_start__isnull=True).update(
            production_start=start_date, production_confirmed_at=timezone.now(), production_confirmed_by=actor.user,
            state=Enablement.State.PRODUCTION, enabled_on=en.enabled_on or timezone.localdate())
        if not updated:
            raise Conflict("habilitacion.production.already_confirmed",
                           "La fecha de inicio en producción ya fue confirmada.", field="start_date")
        if endpoint is None:
            endpoint = "" if (not mode.endpoint or mode.endpoint in ENDPOINTS.values()) else mode.endpoint
        mode.environment = Environment.PRODUCTION
        mode.state = OperationMode.State.PRODUCTION
        mode.endpoint = endpoint
        mode.save(update_fields=["environment", "state", "endpoint"])
    en.refresh_from_db()
    audit.record("habilitacion.production", actor=actor, issuer=issuer, obj=en, summary=f"Inicio {start_date.isoformat()}")
    return en


def register_resolution(issuer, actor: Actor, *, prefix: str, range_from: int, range_to: int, valid_from: dt.date,
                        valid_to: dt.date, resolution_number: str, billing_type: str = "electronica") -> NumberingRange:
    """The authorised numbering (form 1876) as a production range, without technical key until synced."""
    services.require_colombia(issuer)
    prefix = (prefix or "").strip().upper()
    if not (prefix.isalnum() and 1 <= len(prefix) <= 4):
        raise Invalid("habilitacion.resolution.prefix_invalid",
                      "El prefijo autorizado tiene de 1 a 4 caracteres alfanuméricos.", field="prefix")
    resolution_number = str(resolution_number or "").strip()
    if not resolution_number.isdigit():
        raise Invalid("habilitacion.resolution.number_invalid", "Escriba el número de la resolución (solo dígitos).",
                      field="resolution_number")
    if range_to < range_from or range_from < 1:
        raise Invalid("habilitacion.resolution.range_invalid", "El rango autorizado no es válido (desde ≤ hasta).",
                      field="range_to")
    if valid_to < valid_from:
        raise Invalid("habilitacion.resolution.dates_invalid", "La fecha final de vigencia es anterior a la inicial.",
                      field="valid_to")
    if billing_type not in dict(services.BILLING_TYPES):
        raise Invalid("habilitacion.resolution.billing_type_unknown", "Tipo de facturación desconocido.",
                      field="billing_type")
    doc_type = {"electronica": "invoice", "contingencia": "contingency", "pos": "pos"}[billing_type]
    other = numbering.overlapping(issuer, doc_type, Environment.PRODUCTION, prefix, range_from, range_to)
    if other is not None:
        raise Invalid("habilitacion.resolution.overlap", f"El rango se cruza con la numeración existente {other}.",
                      field="range_from", details={"range": str(other)})
    with transaction.atomic():
        rng = NumberingRange.objects.create(
            issuer=issuer, document_type=doc_type, environment=Environment.PRODUCTION, prefix=prefix,
            range_from=range_from, range_to=range_to, next_number=range_from, valid_from=valid_from, valid_to=valid_to,
            resolution_number=resolution_number, active=True)
        en = services.enablement_for(issuer)
        en.production_range = rng
        en.billing_type = billing_type
        en.numbering_synced_at = None
        en.save()
    audit.record("habilitacion.resolution", actor=actor, issuer=issuer, obj=rng,
                 summary=f"{prefix} {range_from}-{range_to} res. {resolution_number}")
    mode = services.current_mode(issuer)
    transaction.on_commit(lambda: signals.resolution_registered.send(
        sender=Enablement, issuer=issuer, numbering_range=rng, mode=mode))
    return rng


def sync_numbering(issuer, actor: Actor) -> tuple[list[NumberingRange], str]:
    """'Sincronizar numeración': GetNumberingRange and store each matching range's technical key (and DIAN's
    validity dates). Returns the synced ranges and a message for the user."""
    services.require_colombia(issuer)
    mode = services.current_mode(issuer)
    if mode is None:
        raise Invalid("habilitacion.sync.no_software", "Registre primero el software (modo de operación).",
                      field="operation_mode")
    if mode.environment != Environment.PRODUCTION:
        raise Conflict("habilitacion.sync.not_in_production", "La sincronización de numeración se hace con el "
                       "servicio de producción: pase primero a producción.", field="operation_mode")
    client = services.client_for(issuer, mode)
    try:
        answer = client.get_numbering_range(issuer.tax_id, mode.provider_nit or issuer.tax_id, mode.software_id)
    except DianTransportError as exc:  # generic for people (no port probing); the log keeps the detail
        logger.warning("GetNumberingRange for %s failed: %s", issuer, exc)
        raise Invalid("habilitacion.sync.dian_unavailable", outbound.CONNECTION_FAILED, field="endpoint",
                      details={"dian_code": exc.code}) from exc
    except DianError as exc:
        raise Invalid("habilitacion.sync.dian_unavailable",
                      exc.message or "No fue posible consultar la numeración en la DIAN.", field="endpoint",
                      details={"dian_code": exc.code}) from exc
    if not answer.ok:
        raise Invalid("habilitacion.sync.dian_refused",
                      f"La DIAN respondió: {answer.operation_description or answer.operation_code}", field="numbering",
                      details={"operation_code": str(answer.operation_code)})
    updated, corrected = services.store_numbering_keys(issuer, answer.ranges)
    if not updated:
        listed = ", ".join(f"{r.prefix} {r.from_number}-{r.to_number}" for r in answer.ranges) or "ninguna"
        raise Invalid("habilitacion.sync.no_matching_range",
                      "La DIAN no tiene asociada al software una numeración igual a la registrada "
                      f"(la DIAN devolvió: {listed}). Revise el prefijo, el rango y la asociación de prefijos.",
                      field="numbering")
    en = services.enablement_for(issuer)
    en.numbering_synced_at = timezone.now()
    en.save(update_fields=["numbering_synced_at", "updated_at"])
    names = ", ".join(f"{r.prefix} {r.range_from}–{r.range_to}" for r in updated)
    message = f"Numeración sincronizada con la DIAN: se obtuvo la clave técnica de {names}."
    if corrected:
        message += " Las fechas de vigencia se actualizaron con las autorizadas por la DIAN."
    audit.record("habilitacion.sync", actor=actor, issuer=issuer, obj=en, summary=names)
    return updated, message


def associate_prefix(issuer, actor: Actor, *, on: dt.date | None = None,
                     numbering_range: NumberingRange | None = None) -> Enablement:
    """DIAN's "asociación de prefijos", done by the user in DIAN's portal: the authorised range's prefix
    (``numbering_range``, by default the last one registered) is associated with the active software. Production
    invoices are numbered only from ranges associated with the software that issues them
    (`einvoice.services.issue` refuses the others)."""
    services.require_colombia(issuer)
    en = services.enablement_for(issuer)
    rng = numbering_range if numbering_range is not None else en.production_range
    if rng is None:
        raise Invalid("habilitacion.prefix.no_resolution", "Registre primero la resolución de numeración autorizada.",
                      field="prefix")
    if rng.issuer_id != issuer.pk or rng.environment != Environment.PRODUCTION or not rng.active:
        raise NotFound("habilitacion.prefix.range_not_found", "La numeración autorizada no existe.",
                       field="numbering_range")
    mode = services.current_mode(issuer)
    if mode is None:
        raise Invalid("habilitacion.prefix.no_software", "Registre primero el software (modo de operación).",
                      field="operation_mode")
    rng.associated_software_id = mode.software_id
    rng.associated_on = on or timezone.localdate()
    rng.save(update_fields=["associated_software_id", "associated_on"])
    audit.record("habilitacion.prefix", actor=actor, issuer=issuer, obj=rng,
                 summary=f"{rng.prefix} {rng.range_from}-{rng.range_to} -> {mode.software_name} ({mode.software_id})")
    en.refresh_from_db()
    return en
