"""Excel export of a test-set run's documents, written by facturador.tabular.sheets."""

import io

from facturador.habilitacion import services
from facturador.tabular.sheets import DATE, INTEGER, MONEY, Column, TableWriter

COLUMNS = [
    Column("Documento", width=22), Column("Prefijo", width=8), Column("Número", INTEGER, width=12),
    Column("Fecha", DATE, width=11), Column("Cliente", width=32), Column("Identificación", width=15),
    Column("Total", MONEY, width=14), Column("Estado", width=12), Column("Aceptación", width=12),
    Column("Reglas", width=50), Column("CUFE / CUDE", width=40), Column("Vigente", width=8),
    Column("Reemplaza a", width=16),
]
ACCEPTANCE = {"accepted": "Aceptado", "rejected": "Rechazado"}
SUMMARY = (("Total requerido", "total"), ("Firmados", "signed"), ("Faltantes", "remaining"),
           ("Aceptados", "accepted"), ("Rechazados", "rejected"))


def run_xlsx(run, entries) -> bytes:
    """The run's ``entries`` (one row per document, replaced ones included) and its summary as an xlsx file."""
    out = io.BytesIO()
    with TableWriter(out, "xlsx", COLUMNS, sheet_name="Set de pruebas") as w:
        for e in entries.select_related("document", "replaces__document").iterator(chunk_size=500):
            d = e.document
            rules = "; ".join(f"{r.get('code') or ''} {r.get('message') or ''}".strip() for r in d.rules or [])
            w.row([d.get_kind_display(), d.prefix, d.number, d.issue_date, d.customer_name, d.customer_id, d.total,
                   services.STATE_LABELS.get(d.status, d.status), ACCEPTANCE.get(d.status, "Sin respuesta"), rules,
                   d.cufe, "Sí" if e.active else "No", e.replaces.document.full_number if e.replaces_id else ""])
        w.blank()
        s = services.summary(run)
        for label, key in SUMMARY:
            w.row([label, s[key]], bold=True)
    return out.getvalue()
