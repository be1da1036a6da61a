"""Electronic billing type: each batch invoice is also issued as a DIAN electronic invoice.

Issuing goes through the einvoice app (`facturador.einvoice.services.issue`: numbering from the
issuer's DIAN range, UBL 2.1, pre-validation, XAdES signature, IssuedDocument row, sending job).
It runs inside the batch's numbering transaction, so an account is never issued twice: if the
worker dies, the whole chunk (DIAN documents, numbers, queued sends) rolls back with it.

The DIAN invoice carries the period's charges (and the arrears interest, if any) as lines without
taxes (public-lighting tax, fees... are not IVA), credit payment with the batch's due date. The
previous balance is not part of it (it was invoiced before) but is printed on the bill and included
in the payment barcode.
"""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from facturador.core.errors import Conflict
from facturador.dian.ns import STS

ID_TYPES = {"NIT": "31", "CC": "13", "CE": "22", "TI": "12", "PP": "41", "PEP": "47", "NUIP": "91", "EXT": "42"}


class ElectronicError(Conflict):
    """An invoice cannot be issued electronically (codes `billing.electronic.<reason>`, field "electronic")."""

    def __init__(self, code: str, message: str, *, field: str | None = "electronic", details: dict | None = None):
        super().__init__(code, message, field=field, details=details)


def _services():
    try:
        from facturador.einvoice import services
    except ImportError as exc:  # the einvoice app is not installed
        raise ElectronicError("billing.electronic.unavailable", "La facturación electrónica DIAN no está instalada.") from exc
    return services


def check_ready(issuer):
    """Refuse an electronic batch early when the issuer cannot sign and send DIAN invoices."""
    from facturador.core import numbering

    services = _services()
    if issuer.country != "CO":
        raise ElectronicError("billing.electronic.not_colombian", "La factura electrónica DIAN es para emisores de Colombia.")
    try:
        mode = services.active_mode(issuer)
        services.signer_for(issuer)
        numbering.find_range(issuer, "invoice", mode.environment)
    except (services.EinvoiceError, numbering.NumberingError) as exc:
        raise ElectronicError("billing.electronic.not_ready", exc.message, details={"reason": exc.code}) from exc


def payload(batch, account, charges, interest: Decimal) -> dict:
    lines = []
    for c in charges:
        if c.amount <= 0:
            raise ElectronicError("billing.electronic.negative_line",
                                  f"El cargo «{c.concept}» no es positivo; no se puede emitir como factura electrónica.")
        detail = f" — {c.quantity.normalize():f} x {c.unit_price.normalize():f}" if c.quantity != 1 else ""
        lines.append({"description": f"{c.concept} ({c.period}){detail}", "quantity": "1", "unit_price": str(c.amount),
                      "taxes": []})
    if interest > 0:
        lines.append({"description": "Intereses de mora", "quantity": "1", "unit_price": str(interest), "taxes": []})
    if not lines:
        raise ElectronicError("billing.electronic.no_lines", "No hay cargos del periodo para la factura electrónica.")
    customer = {"id_type": ID_TYPES.get(account.id_type, "13"), "id_number": account.id_number or "222222222222",
                "name": account.holder_name, "email": account.email or "",
                "legal_person": account.id_type == "NIT",
                "address": {"city_code": account.municipality_code or batch.issuer.municipality_code or "11001",
                            "city_name": batch.issuer.city or "Sin municipio",
                            "department_name": batch.issuer.department or batch.issuer.city or "Sin departamento",
                            "line": account.address or "Sin dirección"}}
    if account.id_type == "NIT" and account.check_digit:
        customer["dv"] = account.check_digit
    if not account.id_number:
        customer = "consumidor_final"
    return {
        "kind": "invoice", "customer": customer, "lines": lines,
        "payment": {"method": "2", "due_date": batch.due_date.isoformat()},
        "due_date": batch.due_date.isoformat(),
        "notes": [f"Referencia de pago {account.reference}; periodos {', '.join(batch.periods)}."],
    }


def issue(batch, account, charges, interest: Decimal):
    """Issue one DIAN invoice (call inside the batch's transaction). Returns the DianDocument."""
    services = _services()
    try:
        return services.issue(batch.issuer, payload(batch, account, charges, interest), send=True)
    except services.EinvoiceError as exc:
        raise ElectronicError("billing.electronic.refused", getattr(exc, "display", exc.message),
                              details={"rule": exc.code, "field": getattr(exc, "field", None)}) from exc


def dian_print_data(dian_document_id: int) -> dict | None:
    """CUFE and QR text (as signed) for the printed invoice."""
    from facturador.einvoice.models import DianDocument

    doc = DianDocument.objects.filter(pk=dian_document_id).select_related("numbering_range").first()
    if doc is None or not doc.signed_xml:
        return None
    root = etree.fromstring(bytes(doc.signed_xml))
    qr_el = next(root.iter(f"{{{STS}}}QRCode"), None)
    qr = (qr_el.text if qr_el is not None else "") or doc.cufe
    return {"cufe": doc.cufe, "qr_text": qr.strip(),
            "authorization": doc.numbering_range.resolution_number if doc.numbering_range_id else "",
            "validation_date": None}
