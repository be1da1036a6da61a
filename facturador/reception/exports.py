"""Excel export of received documents for accounting, written by facturador.tabular.sheets."""

import io

from facturador.tabular.sheets import DATE, DATETIME, MONEY, Column, TableWriter

COLUMNS = [
    Column("País", width=5), Column("Tipo", width=18), Column("Número", width=18), Column("Fecha", DATE, width=11),
    Column("NIT / RFC proveedor", width=16), Column("Proveedor", width=34), Column("Moneda", width=7),
    Column("Subtotal", MONEY, width=15), Column("Impuestos", MONEY, width=14), Column("Retenciones", MONEY, width=14),
    Column("Total", MONEY, width=15), Column("Verificación", width=18), Column("Validación DIAN", width=18),
    Column("Estado RADIAN", width=22), Column("Estado SAT", width=12), Column("Estado", width=10),
    Column("CUFE / CUDE / UUID", width=40), Column("Recibido", DATETIME, width=18),
]


def documents_xlsx(docs, tz) -> bytes:
    out = io.BytesIO()
    with TableWriter(out, "xlsx", COLUMNS, sheet_name="Recibidos", title="Documentos recibidos") as w:
        for d in docs.iterator(chunk_size=500):
            w.row([d.country, d.get_kind_display(), d.number, d.issue_date, d.supplier_tax_id, d.supplier_name,
                   d.currency, d.subtotal, d.tax_total, d.withholding_total, d.total, d.get_verification_display(),
                   d.get_dian_validation_display() if d.dian_validation else "", d.get_dian_state_display()
                   if d.country == "CO" else "", d.get_sat_state_display() if d.country == "MX" else "",
                   d.get_status_display(), d.uuid, d.received_at.astimezone(tz)])
    return out.getvalue()
