"""Ledger export (csv, xlsx)."""

import csv
import io

from django.utils import timezone

from facturador.mailing.models import Delivery

HEADERS = ["Factura", "Cliente", "Identificación", "Correo", "Estado", "Motivo de exclusión", "Message-ID",
           "Intentos", "Enviado", "Respuesta del servidor", "Rebote"]


def rows(send):
    qs = Delivery.objects.filter(send=send).select_related("document").order_by("document__prefix", "document__number")
    for d in qs.iterator(chunk_size=1000):
        sent = timezone.localtime(d.sent_at).strftime("%Y-%m-%d %H:%M:%S") if d.sent_at else ""
        yield [d.document.full_number, d.customer_name, d.document.customer_tax_id, d.email, d.get_status_display(),
               d.get_exclusion_display() if d.exclusion else "", d.message_id, d.attempts, sent, d.smtp_response,
               d.bounce_detail]


def to_csv(send) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(HEADERS)
    for row in rows(send):  # no formula injection when the file is opened in a spreadsheet
        w.writerow(["'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel opens it as UTF-8


def to_xlsx(send) -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False})
    sheet = book.add_worksheet("Entregas")
    bold = book.add_format({"bold": True})
    sheet.write_row(0, 0, HEADERS, bold)
    for i, row in enumerate(rows(send), start=1):
        sheet.write_row(i, 0, row)
    sheet.freeze_panes(1, 0)
    sheet.set_column(0, 0, 12)
    sheet.set_column(1, 3, 28)
    sheet.set_column(6, 6, 40)
    sheet.set_column(9, 9, 50)
    book.close()
    return buf.getvalue()
