"""The user actions on DIAN documents and the software that signs them.

Each function validates, does the work (in one transaction where it stores something) and writes one audit
entry with the actor; the web views, the API and the `einvoice` command only parse their input, call it and
present the result. Refusals are `core.errors.Refusal`s: `services.EinvoiceError` (an `Invalid`) for a
document that cannot be issued, with the DIAN rule in ``details["rule"]`` when there is one.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import ProtectedError

from facturador.core import audit, outbound
from facturador.core.actors import Actor
from facturador.core.errors import Conflict, Invalid, NotFound
from facturador.einvoice import delivery, services
from facturador.einvoice.models import DianDocument, OperationMode

FINAL = (DianDocument.Status.ACCEPTED, DianDocument.Status.REJECTED)

MODE_FIELDS = ("mode", "software_name", "software_id", "provider_name", "provider_nit", "test_set_id", "environment",
               "endpoint", "active")


def issue_document(issuer, actor: Actor, *, payload: dict, send: bool = True, wait: bool = False) -> DianDocument:
    """Issue an invoice, or a note correcting an invoice (``payload["reference"]``), from the JSON of
    docs/dian-json.md: number, validate, sign and store it, then send it to DIAN.

    ``send``: queue the sending job (the default); ``wait``: send it now, in this process, and wait for
    DIAN's answer (the CLI's ``--wait``); neither: only sign it."""
    with transaction.atomic():
        doc = services.issue(issuer, payload, user=actor.user, send=send and not wait)
        audit.record("einvoice.issue", actor=actor, issuer=issuer, obj=doc, summary=str(doc))
    if wait:
        delivery.send_and_follow(doc)
    return doc


def retry_document(issuer, actor: Actor, *, document: DianDocument, wait: bool = False) -> DianDocument:
    """Send a document again (after a transport error, or to ask DIAN about one still in process).

    ``wait``: send now, in this process, and wait for the answer; otherwise queue the sending job."""
    if document.issuer_id != issuer.pk:
        raise NotFound("einvoice.document.not_found", "El documento no existe para este emisor.", field="document")
    if document.status in FINAL:
        raise Conflict("einvoice.document.final", "Este documento ya tiene respuesta definitiva de la DIAN.",
                       field="document", details={"status": document.status})
    with transaction.atomic():
        if not wait:
            services.schedule_send(document, user=actor.user)
        audit.record("einvoice.retry", actor=actor, issuer=issuer, obj=document, summary=str(document))
    if wait:
        delivery.send_and_follow(document)
    return document


def save_operation_mode(issuer, actor: Actor, *, mode: OperationMode | None = None, values: dict,
                        pin: str | None = None) -> OperationMode:
    """Register the software that signs the issuer's documents (``mode`` None) or change it. An active mode
    replaces the active one of its environment. ``pin`` empty keeps the stored one (required for a new mode)."""
    unknown = set(values) - set(MODE_FIELDS)
    if unknown:
        raise Invalid("einvoice.operation_mode.unknown_field", f"Campo desconocido: {', '.join(sorted(unknown))}.",
                      field=sorted(unknown)[0])
    values = dict(values)
    if "test_set_id" in values:
        values["test_set_id"] = services.clean_test_set_id(values["test_set_id"])
    if "provider_nit" in values:
        values["provider_nit"] = services.clean_provider_nit(values["provider_nit"])
    if values.get("endpoint"):
        values["endpoint"] = outbound.check_endpoint(values["endpoint"], service="dian", field="endpoint")
    pin = (pin or "").strip()
    if mode is None and not pin:
        raise Invalid("einvoice.operation_mode.pin_required", "Escriba el PIN del software.", field="pin")
    obj = mode or OperationMode(issuer=issuer)
    for name, value in values.items():
        setattr(obj, name, value)
    if not obj.provider_nit:
        obj.provider_nit = issuer.tax_id
    if pin:
        obj.software_pin = pin
    with transaction.atomic():
        obj.save()
        if obj.active:
            OperationMode.objects.filter(issuer=issuer, environment=obj.environment, active=True).exclude(
                pk=obj.pk).update(active=False)
        audit.record("einvoice.mode", actor=actor, issuer=issuer, obj=obj, summary=str(obj))
    return obj


def delete_operation_mode(issuer, actor: Actor, *, mode: OperationMode) -> None:
    """Delete a software registration that signed no document."""
    summary = str(mode)
    try:
        with transaction.atomic():
            audit.record("einvoice.mode_delete", actor=actor, issuer=issuer, obj=mode, summary=summary)
            mode.delete()
    except ProtectedError as exc:
        raise Conflict("einvoice.operation_mode.in_use", "Este software ya firmó documentos; desactívelo en lugar de "
                       "eliminarlo.", field="operation_mode") from exc
