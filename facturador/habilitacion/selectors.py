"""Read-only views of the enablement data shared by the channels (web pages, API, CLI)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils import timezone

from facturador.core.errors import NotFound
from facturador.core.models import Environment, NumberingRange
from facturador.einvoice.models import DianDocument
from facturador.habilitacion import services
from facturador.habilitacion.models import TestSetDocument

def production_ranges(issuer):
    """The issuer's authorised (production) invoice ranges in use: the ones a prefix association can name."""
    return NumberingRange.objects.filter(issuer=issuer, environment=Environment.PRODUCTION, active=True)


def production_range(issuer, *, pk=None, prefix: str | None = None) -> NumberingRange | None:
    """An authorised range of the issuer by id or prefix (None when neither is given: the action's default);
    refuses a range that is not the issuer's."""
    if pk is None and not prefix:
        return None
    qs = production_ranges(issuer)
    found = qs.filter(pk=pk).first() if pk is not None else \
        qs.filter(prefix=prefix.strip().upper()).order_by("-created_at").first()
    if found is None:
        raise NotFound("habilitacion.prefix.range_not_found", "La numeración autorizada no existe.",
                       field="numbering_range")
    return found


S2_REMINDER = "Actualice el RUT con la responsabilidad 52 «Facturador electrónico»."


def _iso(value):
    """Dates and times as the API writes them (ISO 8601, times in the current time zone, UTC as Z)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        text = timezone.localtime(value).isoformat() if timezone.is_aware(value) else value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    return value.isoformat()


def enablement_data(issuer) -> dict:
    """Where the issuer stands: the enablement record, its operation mode (PIN masked) and the wizard's steps.
    JSON-ready (the API's answer and ``facturador habilitacion status``)."""
    en = services.enablement_for(issuer)
    data = {
        "state": en.state,
        "state_display": str(en.get_state_display()),
        "reception_email": en.reception_email,
        "registered_on": _iso(en.registered_on),
        "enabled_on": _iso(en.enabled_on),
        "production_start": _iso(en.production_start),
        "production_confirmed_at": _iso(en.production_confirmed_at),
        "billing_type": en.billing_type,
        "numbering_synced_at": _iso(en.numbering_synced_at),
        "prefix_associated_on": _iso(en.prefix_associated_on),
        "production_ranges": [{"id": r.pk, "prefix": r.prefix, "range_from": r.range_from, "range_to": r.range_to,
                               "resolution_number": r.resolution_number, "synced": bool(r.technical_key),
                               "associated_software_id": r.associated_software_id or None,
                               "associated_on": _iso(r.associated_on)} for r in production_ranges(issuer)],
        "s2_acknowledged_on": _iso(en.s2_acknowledged_on),
    }
    mode = services.current_mode(issuer)
    data["operation_mode"] = None if mode is None else {
        "id": mode.pk, "mode": mode.mode, "software_name": mode.software_name, "software_id": mode.software_id,
        "pin": mode.pin_masked, "test_set_id": mode.test_set_id, "environment": mode.environment, "state": mode.state,
        "url": mode.url,
    }
    data["steps"] = services.step_status(issuer)
    data["next_step"] = services.first_open_step(issuer)
    data["production_ready"] = services.production_ready(issuer)
    data["s2_reminder"] = S2_REMINDER if en.state == en.State.PRODUCTION and not en.s2_acknowledged_on else ""
    return data


# The run page's filters (query parameters, Spanish like the page's URLs), shared by the page, its Excel
# export and the API's documents listing.
ACCEPTANCE = {
    "aceptado": Q(document__status=DianDocument.Status.ACCEPTED),
    "rechazado": Q(document__status=DianDocument.Status.REJECTED),
    "sin_respuesta": ~Q(document__status__in=services.FINAL_STATUSES),
}


def _date(value):
    try:
        return dt.date.fromisoformat(value.strip()) if value else None
    except ValueError:  # a filter that is not a date filters nothing
        return None


def run_documents(run, params=None):
    """The run's documents (replaced ones included), filtered by `params`: documento (kind), cliente (name part
    or identification), numeracion (prefix and/or number), estado (document status), aceptacion
    (aceptado/rechazado/sin_respuesta), desde/hasta (issue dates), vigentes=1 (only the active ones)."""
    params = params or {}
    qs = TestSetDocument.objects.filter(run=run).select_related("document").order_by("document_id")
    if params.get("documento"):
        qs = qs.filter(kind=params["documento"])
    if params.get("cliente"):
        qs = qs.filter(Q(document__customer_name__icontains=params["cliente"]) | Q(document__customer_id=params["cliente"]))
    if params.get("numeracion"):
        value = params["numeracion"].strip().upper()
        digits = "".join(ch for ch in value if ch.isdigit())
        prefix = "".join(ch for ch in value if not ch.isdigit())
        if prefix:
            qs = qs.filter(document__prefix=prefix)
        if digits:
            qs = qs.filter(document__number=int(digits))
    if params.get("estado"):
        qs = qs.filter(document__status=params["estado"])
    if params.get("aceptacion") in ACCEPTANCE:
        qs = qs.filter(ACCEPTANCE[params["aceptacion"]])
    if _date(params.get("desde")):
        qs = qs.filter(document__issue_date__gte=_date(params["desde"]))
    if _date(params.get("hasta")):
        qs = qs.filter(document__issue_date__lte=_date(params["hasta"]))
    if params.get("vigentes") == "1":
        qs = qs.filter(active=True)
    return qs
