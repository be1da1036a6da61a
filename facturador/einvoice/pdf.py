"""Graphic representation (PDF) of a signed DIAN document, read back from its signed XML."""

from decimal import Decimal
from pathlib import Path

from lxml import etree

from facturador.dian.ns import NS
from facturador.printing.barcodes import qr_png
from facturador.printing.invoice import format_money
from facturador.printing.render import render_pdf

TEMPLATE = (Path(__file__).with_name("invoice.typ")).read_text(encoding="utf-8")
TITLES = {"invoice": "Factura electrónica de venta", "credit_note": "Nota crédito electrónica",
          "debit_note": "Nota débito electrónica"}


def _t(el, path):
    found = el.find(path, NS)
    return found.text if found is not None and found.text else ""


def render(doc) -> bytes:
    root = etree.fromstring(bytes(doc.signed_xml))
    lines = []
    for line in root.findall("cac:InvoiceLine", NS) + root.findall("cac:CreditNoteLine", NS) + root.findall("cac:DebitNoteLine", NS):
        qty = _t(line, "cbc:InvoicedQuantity") or _t(line, "cbc:CreditedQuantity") or _t(line, "cbc:DebitedQuantity")
        rate = _t(line, "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:Percent")
        lines.append({
            "description": _t(line, "cac:Item/cbc:Description"), "quantity": qty,
            "unit_price": format_money(_t(line, "cac:Price/cbc:PriceAmount") or "0"),
            "tax": f"{Decimal(rate):g} %" if rate else "—", "total": format_money(_t(line, "cbc:LineExtensionAmount") or "0"),
        })
    monetary = root.find("cac:LegalMonetaryTotal", NS)
    if monetary is None:
        monetary = root.find("cac:RequestedMonetaryTotal", NS)
    totals = [{"label": "Subtotal", "value": format_money(_t(monetary, "cbc:LineExtensionAmount") or "0")}]
    for tt in root.findall("cac:TaxTotal", NS):
        name = _t(tt, "cac:TaxSubtotal/cac:TaxCategory/cac:TaxScheme/cbc:Name") or "Impuesto"
        totals.append({"label": name, "value": format_money(_t(tt, "cbc:TaxAmount") or "0")})
    for wt in root.findall("cac:WithholdingTaxTotal", NS):
        name = _t(wt, "cac:TaxSubtotal/cac:TaxCategory/cac:TaxScheme/cbc:Name") or "Retención"
        totals.append({"label": f"{name} (informativa)", "value": format_money(_t(wt, "cbc:TaxAmount") or "0")})
    customer = root.find("cac:AccountingCustomerParty/cac:Party", NS)
    cust_name = _t(customer, "cac:PartyTaxScheme/cbc:RegistrationName") or doc.customer_name
    cust_id = _t(customer, "cac:PartyTaxScheme/cbc:CompanyID") or doc.customer_id
    qr_el = next(root.iter(f"{{{NS['sts']}}}QRCode"), None)
    qr = (qr_el.text if qr_el is not None else "") or doc.cufe
    issuer = doc.issuer
    ref = doc.referenced.full_number if doc.referenced_id else None
    data = {
        "title": TITLES[doc.kind], "title_lower": TITLES[doc.kind].lower(), "number": doc.full_number,
        "issue_date": doc.issue_date.strftime("%d/%m/%Y"), "issue_time": _t(root, "cbc:IssueTime")[:8],
        "due_date": _t(root, "cbc:DueDate") or None,
        "payment": "Crédito" if _t(root, "cac:PaymentMeans/cbc:ID") == "2" else "Contado",
        "issuer": {"name": issuer.legal_name, "nit": issuer.display_tax_id, "address": issuer.address or "",
                   "city": issuer.city or "", "email": issuer.email or ""},
        "customer": {"name": cust_name, "id": cust_id, "address": _customer_address(doc.payload),
                     "email": doc.customer_email or ""},
        "reference": ref, "lines": lines, "totals": totals,
        "payable": format_money(_t(monetary, "cbc:PayableAmount") or "0"),
        "qr_png": qr_png(qr), "uuid_label": "CUFE" if doc.kind == "invoice" else "CUDE", "uuid": doc.cufe,
        "resolution": doc.numbering_range.resolution_number or "—", "software": doc.operation_mode.software_name,
        "status": f"estado DIAN: {doc.get_status_display()}.",
    }
    return render_pdf(TEMPLATE, data)


def _customer_address(payload: dict) -> str:
    """The buyer's address line; none for "consumidor_final" (the payload's customer is then that string)."""
    customer = payload.get("customer")
    address = customer.get("address") if isinstance(customer, dict) else None
    return (address.get("line") if isinstance(address, dict) else "") or ""
