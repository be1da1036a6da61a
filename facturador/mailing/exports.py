"""Ledger export (csv, xlsx), written by facturador.tabular.sheets."""

from django.utils import timezone

from facturador.mailing.models import Delivery
from facturador.tabular.sheets import CONTENT_TYPES, DATETIME, FORMATS, INTEGER, Column, table_bytes

__all__ = ["COLUMNS", "CONTENT_TYPES", "FORMATS", "ledger"]

COLUMNS = [
    Column("Factura", width=12), Column("Cliente", width=28), Column("Identificación", width=16),
    Column("Correo", width=28), Column("Estado", width=12), Column("Motivo de exclusión", width=24),
    Column("Message-ID", width=40), Column("Intentos", INTEGER, width=9), Column("Enviado", DATETIME, width=19),
    Column("Respuesta del servidor", width=50), Column("Rebote", width=40),
]


def rows(send):
    qs = Delivery.objects.filter(send=send).select_related("document").order_by("document__prefix", "document__number")
    for d in qs.iterator(chunk_size=1000):
        yield [d.document.full_number, d.customer_name, d.document.customer_tax_id, d.email, d.get_status_display(),
               d.get_exclusion_display() if d.exclusion else "", d.message_id, d.attempts,
               timezone.localtime(d.sent_at) if d.sent_at else None, d.smtp_response, d.bounce_detail]


def ledger(send, fmt: str) -> bytes:
    """The deliveries of ``send`` as a ``fmt`` file (one of FORMATS)."""
    return table_bytes(fmt, COLUMNS, rows(send), sheet_name="Entregas")
