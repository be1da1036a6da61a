"""Excel export of a test-set run's documents (xlsxwriter, streamed to memory)."""

import io

import xlsxwriter

from facturador.habilitacion import services

HEADERS = ["Documento", "Prefijo", "Número", "Fecha", "Cliente", "Identificación", "Total", "Estado",
           "Aceptación", "Reglas", "CUFE / CUDE", "Vigente", "Reemplaza a"]


def run_xlsx(run, entries) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "constant_memory": True})
    ws = wb.add_worksheet("Set de pruebas")
    bold = wb.add_format({"bold": True})
    money = wb.add_format({"num_format": "#,##0.00"})
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_row(0, 0, HEADERS, bold)
    widths = [22, 8, 12, 11, 32, 15, 14, 12, 12, 50, 40, 8, 16]
    for i, w in enumerate(widths):
        ws.set_column(i, i, w)
    row = 1
    for e in entries.select_related("document", "replaces__document"):
        d = e.document
        acceptance = {"accepted": "Aceptado", "rejected": "Rechazado"}.get(d.status, "Sin respuesta")
        rules = "; ".join(f"{r.get('code') or ''} {r.get('message') or ''}".strip() for r in d.rules or [])
        ws.write_string(row, 0, d.get_kind_display())
        ws.write_string(row, 1, d.prefix)
        ws.write_number(row, 2, d.number)
        ws.write_datetime(row, 3, d.issue_date, date)
        ws.write_string(row, 4, d.customer_name)
        ws.write_string(row, 5, d.customer_id)
        ws.write_number(row, 6, float(d.total), money)
        ws.write_string(row, 7, services.STATE_LABELS.get(d.status, d.status))
        ws.write_string(row, 8, acceptance)
        ws.write_string(row, 9, rules)
        ws.write_string(row, 10, d.cufe or "")
        ws.write_string(row, 11, "Sí" if e.active else "No")
        ws.write_string(row, 12, e.replaces.document.full_number if e.replaces_id else "")
        row += 1
    s = services.summary(run)
    row += 1
    for label, key in (("Total requerido", "total"), ("Firmados", "signed"), ("Faltantes", "remaining"),
                       ("Aceptados", "accepted"), ("Rechazados", "rejected")):
        ws.write_string(row, 0, label, bold)
        ws.write_number(row, 1, s[key])
        row += 1
    wb.close()
    return buf.getvalue()
