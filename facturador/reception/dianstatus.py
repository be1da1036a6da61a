"""DIAN's status of a received Colombian document, asked on demand with GetStatus and its CUFE/CUDE
("Consultar estado en la DIAN"), through the issuer's own DIAN software (`einvoice.services.dian_client`: the
issuer's certificate signs the request, the endpoint passes `core.outbound`), and stored on the document beside the
validation that came attached to it (the ApplicationResponse, which stays as it arrived)."""

from __future__ import annotations

import logging

from django.utils import timezone

from facturador.core import outbound
from facturador.core.errors import Invalid, Refusal
from facturador.reception.models import ReceivedDocument

logger = logging.getLogger(__name__)


class DianUnavailable(Refusal):
    """DIAN's web service could not be reached or answered with a fault (HTTP 503)."""

    status = 503


def check(document: ReceivedDocument, *, client=None) -> ReceivedDocument:
    from facturador.dian.ws.client import DianSoapFault, DianTransportError
    from facturador.einvoice.services import active_mode, dian_client

    if document.country != "CO" or not document.uuid:
        raise Invalid("reception.dian.not_colombian", "La consulta de estado en la DIAN es para documentos "
                      "electrónicos de Colombia con CUFE o CUDE.", field="document")
    try:
        client = client or dian_client(document.issuer, active_mode(document.issuer))
        answer = client.get_status(document.uuid)
    except (DianTransportError, DianSoapFault) as exc:
        logger.warning("DIAN GetStatus of received document %s failed: %s", document.pk, exc)
        raise DianUnavailable("reception.dian.unavailable", outbound.CONNECTION_FAILED) from exc
    if answer.not_found:
        state = "not_found"
    else:
        state = "valid" if answer.is_valid else "rejected"
    document.dian_check = state
    document.dian_check_message = answer.summary[:2000]
    document.dian_checked_at = timezone.now()
    document.save(update_fields=["dian_check", "dian_check_message", "dian_checked_at"])
    return document
