"""Invoice data for the default utility-bill template (pure Python, no Django).

:func:`prepare_invoice_data` turns *raw* invoice data (Decimals, dates) into the dict
the Typst template receives: amounts and dates formatted the Colombian way, totals
computed, the GS1-128 payment barcode and the DIAN QR code rendered as SVG strings.
The schema of both dicts is documented in ``docs/invoice-templates.md``.
"""

from __future__ import annotations

import datetime as _dt
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from typing import Any, Mapping

from .barcodes import payment_barcode_data, qr_png
from .barcodes import qr_svg as make_qr_svg
from .money import format_date as _short_date
from .money import format_money  # the one rule per country (re-exported: callers import it from here)

__all__ = [
    "default_template",
    "prepare_invoice_data",
    "sample_invoice_raw",
    "sample_invoice_data",
    "format_money",
    "format_date",
]

_MONTHS = ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
           "septiembre", "octubre", "noviembre", "diciembre"]


def default_template() -> str:
    """Source of ``templates/invoice_default.typ``."""
    return resources.files(__package__).joinpath("templates/invoice_default.typ").read_text(encoding="utf-8")


def _dec(v) -> Decimal:
    if v is None or v == "":
        return Decimal("0")
    return v if isinstance(v, Decimal) else Decimal(str(v))


def format_quantity(value) -> str:
    d = _dec(value).normalize()
    if d == d.to_integral_value():
        return format_money(d, symbol="", decimals=0)
    whole, _, frac = f"{abs(d):f}".partition(".")
    return ("-" if d < 0 else "") + format_money(Decimal(whole), symbol="", decimals=0) + "," + frac


def _date(v) -> _dt.date | None:
    if v is None or v == "":
        return None
    if isinstance(v, _dt.datetime):
        return v.date()
    if isinstance(v, _dt.date):
        return v
    return _dt.date.fromisoformat(str(v))


def format_date(v, long: bool = False) -> str:
    d = _date(v)
    if d is None:
        return ""
    if long:
        return f"{d.day} de {_MONTHS[d.month - 1]} de {d.year}"
    return _short_date(d)


def prepare_invoice_data(raw: Mapping[str, Any], *, barcode_module_mm: float = 0.3,
                         barcode_height_mm: float = 13.0, qr_svg: bool = True) -> dict:
    """Compute totals and format the raw invoice for ``invoice_default.typ`` (amounts the Colombian way).

    An electronic invoice's QR comes as ``dian.qr_png`` (a 1-bit PNG, as byte values: cheap to make and to draw)
    and, unless ``qr_svg=False`` (a batch whose template does not mention it), as ``dian.qr_svg`` too.

    Raises :class:`~facturador.printing.barcodes.BarcodeError` if the payment data
    cannot be encoded (bad GLN, reference or amount too long for the bank agreement).
    """
    issuer = dict(raw["issuer"])
    customer = dict(raw["customer"])
    document = dict(raw.get("document", {}))
    payment_cfg = dict(raw.get("payment", {}))

    lines = []
    current = Decimal("0")
    taxes: dict[Decimal, list[Decimal]] = {}  # IVA rate -> [base, tax]
    tax_total = Decimal("0")
    for item in raw.get("lines", []):
        amount = _dec(item.get("amount"))
        if item.get("amount") is None and item.get("quantity") is not None:
            amount = (_dec(item["quantity"]) * _dec(item.get("unit_price"))).quantize(Decimal("0.01"))
        current += amount
        if item.get("tax_amount") is not None:  # the line's total includes this IVA
            tax = _dec(item["tax_amount"])
            base = _dec(item["net_amount"]) if item.get("net_amount") is not None else amount - tax
            rate = _dec(item["tax_rate"]).normalize() if item.get("tax_rate") is not None else None
            entry = taxes.setdefault(rate, [Decimal("0"), Decimal("0")])
            entry[0] += base
            entry[1] += tax
            tax_total += tax
        lines.append({
            "concept": str(item.get("concept", "")),
            "group": str(item.get("group", "")),
            "quantity": format_quantity(item["quantity"]) if item.get("quantity") is not None else "",
            "unit": str(item.get("unit", "")),
            "unit_price": format_money(item["unit_price"]) if item.get("unit_price") is not None else "",
            "amount": format_money(amount),
        })

    previous = _dec(raw.get("previous_balance"))
    interest = _dec(raw.get("arrears_interest"))
    subtotal = current + previous + interest
    total = subtotal.quantize(Decimal("1"), rounding=ROUND_HALF_UP)  # "ajuste al peso"
    adjustment = total - subtotal

    due = _date(raw.get("due_date"))
    reference = str(customer.get("payment_reference") or customer.get("account"))
    code = payment_barcode_data(
        payment_cfg["gln"], reference, total, due,
        ref_width=payment_cfg.get("ref_width"), amount_width=payment_cfg.get("amount_width"),
    )

    dian_raw = raw.get("dian")
    dian = None
    if dian_raw:
        qr_text = str(dian_raw.get("qr_text") or dian_raw.get("cufe"))
        dian = {
            "cufe": str(dian_raw.get("cufe", "")),
            "qr_png": qr_png(qr_text),
            "authorization": str(dian_raw.get("authorization", "")),
            "validation_date": format_date(dian_raw.get("validation_date")),
            "legend": str(dian_raw.get("legend") or "Representación gráfica de la factura electrónica de venta"),
        }
        if qr_svg:
            dian["qr_svg"] = make_qr_svg(qr_text)

    arrears_months = int(raw.get("arrears_months") or 0)
    history = [
        {"label": str(h["label"]), "value": float(_dec(h["value"]))}
        for h in raw.get("consumption_history", [])
    ]
    return {
        "document": {
            "title": str(document.get("title") or "Factura de servicios públicos"),
            "number": str(document.get("number", "")),
            "issue_date": format_date(document.get("issue_date")),
            "period": str(document.get("period", "")),
            "periods": [str(p) for p in document.get("periods", [])],
            "billing_days": str(document.get("billing_days", "")),
            "electronic": bool(dian),
        },
        "issuer": {
            "name": str(issuer.get("name", "")),
            "nit": str(issuer.get("nit", "")),
            "address": str(issuer.get("address", "")),
            "city": str(issuer.get("city", "")),
            "phone": str(issuer.get("phone", "")),
            "email": str(issuer.get("email", "")),
            "website": str(issuer.get("website", "")),
            "logo": issuer.get("logo") or None,
            "tax_note": str(issuer.get("tax_note", "")),
        },
        "customer": {
            "holder": str(customer.get("holder", "")),
            "id_type": str(customer.get("id_type", "")),
            "id_number": str(customer.get("id_number", "")),
            "address": str(customer.get("address", "")),
            "city": str(customer.get("city", "")),
            "account": str(customer.get("account", "")),
            "payment_reference": code.reference,
            "use_class": str(customer.get("use_class", "")),
            "stratum": str(customer.get("stratum", "")),
            "meter": str(customer.get("meter", "")),
        },
        "lines": lines,
        "consumption_history": history,
        "totals": {
            "current": format_money(current),
            "previous_balance": format_money(previous),
            "arrears_months": arrears_months,
            "arrears_interest": format_money(interest),
            "adjustment": format_money(adjustment),
            "has_adjustment": adjustment != 0,
            "total": format_money(total),
            "total_plain": str(total),
            # when lines carry IVA: the period's value before it and the IVA per rate (current = subtotal + IVA)
            "has_taxes": bool(taxes),
            "subtotal": format_money(current - tax_total),
            "taxes": [{"label": "IVA" if rate is None else f"IVA {format_quantity(rate)} %",
                       "rate": "" if rate is None else format_quantity(rate),
                       "base": format_money(base), "amount": format_money(tax)}
                      for rate, (base, tax) in sorted(taxes.items(), key=lambda t: (t[0] is None, t[0] or 0))],
        },
        "due_date": format_date(due),
        "due_date_long": format_date(due, long=True),
        "suspension_date": format_date(raw.get("suspension_date")),
        "payment": {
            "reference": code.reference,
            "human_readable": code.human_readable,
            "barcode_svg": code.svg(height_mm=barcode_height_mm, module_mm=barcode_module_mm),
            "element_string": code.element_string,
            "note": str(payment_cfg.get("note") or "Pague en bancos y corresponsales autorizados con este cupón."),
        },
        "dian": dian,
        "notes": [str(n) for n in raw.get("notes", [])],
    }


def sample_invoice_raw(seq: int = 1) -> dict:
    """Raw data of a realistic water/sewer/garbage bill (for previews, tests, benches)."""
    m3 = Decimal(18 + seq % 9)
    lines = [
        {"group": "Acueducto", "concept": "Cargo fijo acueducto", "quantity": 1, "unit": "mes",
         "unit_price": Decimal("12850.00")},
        {"group": "Acueducto", "concept": "Consumo básico", "quantity": min(m3, Decimal(13)), "unit": "m³",
         "unit_price": Decimal("2890.35")},
        {"group": "Acueducto", "concept": "Consumo complementario", "quantity": max(m3 - 13, Decimal(0)),
         "unit": "m³", "unit_price": Decimal("3612.94")},
        {"group": "Acueducto", "concept": "Subsidio estrato 2 (-40 %)", "amount": Decimal("-20172.15")},
        {"group": "Alcantarillado", "concept": "Cargo fijo alcantarillado", "quantity": 1, "unit": "mes",
         "unit_price": Decimal("6210.00")},
        {"group": "Alcantarillado", "concept": "Vertimiento", "quantity": m3, "unit": "m³",
         "unit_price": Decimal("1987.40")},
        {"group": "Aseo", "concept": "Recolección y transporte", "quantity": 1, "unit": "mes",
         "unit_price": Decimal("15480.00")},
        {"group": "Aseo", "concept": "Barrido y limpieza de vías", "quantity": 1, "unit": "mes",
         "unit_price": Decimal("4312.00")},
        {"group": "Otros", "concept": "Cuota financiación medidor (3/12)", "amount": Decimal("8500")},
    ]
    return {
        "document": {
            "title": "Factura de servicios públicos",
            "number": f"SP-{202611000000 + seq}",
            "issue_date": _dt.date(2026, 11, 5),
            "period": "Octubre 2026",
            "periods": ["01/10/2026 – 31/10/2026"],
            "billing_days": "31",
        },
        "issuer": {
            "name": "Empresa de Servicios Públicos de Villa Esperanza S.A. E.S.P.",
            "nit": "900.123.456-7",
            "address": "Carrera 5 # 10-20",
            "city": "Villa Esperanza, Cundinamarca",
            "phone": "(601) 555 0123 – Línea de atención 116",
            "email": "atencion@espve.example.co",
            "website": "www.espve.example.co",
            "logo": None,
            "tax_note": "Responsable de IVA · Agente de retención",
        },
        "customer": {
            "holder": f"María Fernanda Gómez Peña {seq}",
            "id_type": "CC",
            "id_number": f"{52000000 + seq}",
            "address": "Calle 12 # 3-45 Barrio El Centro",
            "city": "Villa Esperanza",
            "account": f"{100000 + seq}",
            "payment_reference": f"{123456 + seq}",
            "use_class": "Residencial",
            "stratum": "2",
            "meter": f"MED-{880000 + seq}",
        },
        "lines": lines,
        "consumption_history": [
            {"label": "may", "value": 17}, {"label": "jun", "value": 19}, {"label": "jul", "value": 22},
            {"label": "ago", "value": 18}, {"label": "sep", "value": 20}, {"label": "oct", "value": int(m3)},
        ],
        "previous_balance": Decimal("45230.00") if seq % 3 == 0 else Decimal("0"),
        "arrears_months": 1 if seq % 3 == 0 else 0,
        "arrears_interest": Decimal("1215.37") if seq % 3 == 0 else Decimal("0"),
        "due_date": _dt.date(2026, 11, 30),
        "suspension_date": _dt.date(2026, 12, 10),
        "payment": {"gln": "7709998013711", "ref_width": 10, "amount_width": 10},
        "dian": {
            "cufe": ("8bb918b19ba22a694f1da11c643b5e9de39adf60311cf179179e9b33381030bcd4c3c3f156c506ed5908f9276f5bd9b"
                     + f"{seq:x}")[:96],
            "qr_text": None,
            "authorization": "18764000001234",
            "validation_date": _dt.date(2026, 11, 5),
        },
        "notes": [
            "Evite la suspensión del servicio: pague antes de la fecha límite.",
            "Reclamos: oficina principal o línea 116. Superintendencia de Servicios Públicos Domiciliarios.",
        ],
    }


def sample_invoice_data(seq: int = 1) -> dict:
    """Prepared data for ``invoice_default.typ`` (see :func:`sample_invoice_raw`)."""
    raw = sample_invoice_raw(seq)
    cufe = raw["dian"]["cufe"]
    raw["dian"]["qr_text"] = (
        f"NumFac: {raw['document']['number']}\nFecFac: 2026-11-05\nNitFac: 900123456\n"
        f"DocAdq: {raw['customer']['id_number']}\nCUFE: {cufe}\n"
        f"QRCode: https://catalogo-vpfe.dian.gov.co/document/searchqr?documentkey={cufe}"
    )
    return prepare_invoice_data(raw)
