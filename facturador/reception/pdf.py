"""A PDF for a received document whose supplier sent none: a CFDI through `cfdi.pdf` (its standard layout), a DIAN
document as a short summary read back from its XML (`summary.typ`); never presented as the supplier's own."""

from __future__ import annotations

from pathlib import Path

from facturador.cfdi.pdf import cfdi_pdf
from facturador.dian._read import parse
from facturador.dian.ns import NS
from facturador.printing.money import format_date, format_money
from facturador.printing.render import render_pdf

TEMPLATE = Path(__file__).with_name("summary.typ").read_text(encoding="utf-8")
MAX_LINES = 200


def _t(el, path) -> str:
    found = el.find(path, NS) if el is not None else None
    return (found.text or "").strip() if found is not None else ""


def render(doc) -> bytes:
    from facturador.reception.files import document_xml

    xml = document_xml(doc)
    if doc.country == "MX":
        return cfdi_pdf(xml)
    root = parse(xml)
    def money(value):
        return format_money(value or "0", doc.currency or "CO")

    rows = root.findall("cac:InvoiceLine", NS) + root.findall("cac:CreditNoteLine", NS) + \
        root.findall("cac:DebitNoteLine", NS)
    lines = [{"description": _t(r, "cac:Item/cbc:Description"),
              "quantity": _t(r, "cbc:InvoicedQuantity") or _t(r, "cbc:CreditedQuantity") or _t(r, "cbc:DebitedQuantity"),
              "unit_price": money(_t(r, "cac:Price/cbc:PriceAmount")), "total": money(_t(r, "cbc:LineExtensionAmount"))}
             for r in rows[:MAX_LINES]]
    data = {
        "title": doc.get_kind_display(), "number": doc.number,
        "issue_date": format_date(doc.issue_date) if doc.issue_date else "", "issue_time": doc.issue_time[:8],
        "due_date": format_date(doc.due_date) if doc.due_date else None,
        "supplier": {"name": doc.supplier_name, "id": doc.supplier_tax_id + (f"-{doc.supplier_check_digit}"
                                                                            if doc.supplier_check_digit else "")},
        "buyer": {"name": doc.buyer_name, "id": doc.buyer_tax_id},
        "lines": lines, "more_lines": max(0, len(rows) - MAX_LINES),
        "totals": [{"label": "Subtotal", "value": money(doc.subtotal)},
                   {"label": "Impuestos", "value": money(doc.tax_total)}] +
                  ([{"label": "Retenciones (informativas)", "value": money(doc.withholding_total)}]
                   if doc.withholding_total else []),
        "total": f"{money(doc.total)} {doc.currency}", "uuid_label": (doc.uuid_scheme or "CUFE").split("-")[0],
        "uuid": doc.uuid, "verification": doc.get_verification_display(),
        "dian": doc.get_dian_validation_display() if doc.dian_validation else "—",
    }
    return render_pdf(TEMPLATE, data)

