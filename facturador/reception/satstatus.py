"""SAT's status of received CFDIs (Mexico): Vigente / Cancelado / No Encontrado, EsCancelable and
EstatusCancelacion, asked to SAT's ConsultaCFDIService (``settings.FACTURADOR_SAT_STATUS_URL``, SAT's official
address by default; the demo points it at the local PAC, which imitates it) and stored on the document."""

from __future__ import annotations

import logging
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from facturador.cfdi import sat_status
from facturador.cfdi.pac import PacError, SatStatusClient
from facturador.core import outbound
from facturador.core.errors import Invalid, Refusal
from facturador.reception.models import ReceivedDocument

logger = logging.getLogger(__name__)
STATES = {"Vigente": ReceivedDocument.SatState.VALID, "Cancelado": ReceivedDocument.SatState.CANCELLED}


class SatUnavailable(Refusal):
    """SAT's status service could not be reached or gave no usable answer (HTTP 503)."""

    status = 503


def client() -> SatStatusClient:
    """A client for the configured status service, checked by the outbound guard now."""
    url = outbound.check_endpoint(settings.FACTURADOR_SAT_STATUS_URL or sat_status.OFFICIAL_URL, service="sat",
                                  field="FACTURADOR_SAT_STATUS_URL")
    return SatStatusClient(url, timeout=20.0, retries=1, backoff=0.5)


def check(document: ReceivedDocument, *, using: SatStatusClient | None = None) -> ReceivedDocument:
    """Ask SAT for one received CFDI and store its answer on the document."""
    if document.country != "MX":
        raise Invalid("reception.sat.not_a_cfdi", "La consulta de estado del SAT es para CFDI de México.",
                      field="document")
    if not document.buyer_tax_id or not document.uuid:
        raise Invalid("reception.sat.incomplete", f"El documento {document.number} no tiene RFC del receptor o "
                      "UUID: no se puede consultar en el SAT.", field="document")
    try:
        answer = (using or client()).status(document.supplier_tax_id, document.buyer_tax_id, f"{Decimal(str(document.total)):.2f}",
                                            document.uuid)
    except PacError as exc:
        logger.warning("SAT status of %s failed: %s", document.pk, exc)
        raise SatUnavailable("reception.sat.unavailable", outbound.CONNECTION_FAILED,
                             details={"reason": exc.code}) from exc
    if not answer.codigo_estatus:
        raise SatUnavailable("reception.sat.unavailable", "El SAT no respondió la consulta; intente más tarde.")
    document.sat_state = STATES.get(answer.estado, ReceivedDocument.SatState.NOT_FOUND)
    document.sat_cancellable = answer.es_cancelable[:60]
    document.sat_cancellation_status = answer.estatus_cancelacion[:60]
    document.sat_checked_at = timezone.now()
    document.save(update_fields=["sat_state", "sat_cancellable", "sat_cancellation_status", "sat_checked_at"])
    return document
