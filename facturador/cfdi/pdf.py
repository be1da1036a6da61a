"""PDF representation ("representación impresa") of a stamped CFDI 4.0.

Rendered with Typst through :func:`facturador.printing.render_pdf` (the project's generic renderer:
sandboxed root, cached compiler); the template ``templates/cfdi.typ`` ships in this package and gets
its data as JSON via ``sys.inputs``. The QR (SAT verification URL) is an SVG made with segno.
"""

from __future__ import annotations

from decimal import Decimal
from importlib import resources

from facturador.printing.barcodes import qr_png
from facturador.printing.money import format_money

from . import xml as cx
from .catalogs import FORMAS_PAGO, REGIMENES, TIPOS_COMPROBANTE, USOS_CFDI
from .qr import verification_url

__all__ = ["cfdi_pdf", "cfdi_pdf_data"]

TIPO_RELACION = {
    "01": "Nota de crédito de los documentos relacionados", "02": "Nota de débito de los documentos relacionados",
    "03": "Devolución de mercancía sobre facturas o traslados previos", "04": "Sustitución de los CFDI previos",
    "05": "Traslados de mercancías facturados previamente", "06": "Factura generada por los traslados previos",
    "07": "CFDI por aplicación de anticipo",
}
PERIODICIDAD = {"01": "Diario", "02": "Semanal", "03": "Quincenal", "04": "Mensual", "05": "Bimestral"}
IMPUESTO = {"001": "ISR", "002": "IVA", "003": "IEPS"}
METODO = {"PUE": "Pago en una sola exhibición", "PPD": "Pago en parcialidades o diferido"}
_ZWSP = "\u200b"


def _template() -> str:
    return resources.files(__package__).joinpath("templates/cfdi.typ").read_text(encoding="utf-8")


def _money(v: str | None) -> str:
    """Mexico's rule ($6,200.50); a unit value with more than cents keeps its precision ($12.345678)."""
    if v in (None, ""):
        return ""
    d = Decimal(v)
    return format_money(d, "MX", decimals=None if d == d.quantize(Decimal("0.01")) else -d.as_tuple().exponent)


def _num(v: str | None) -> str:
    if v in (None, ""):
        return ""
    d = Decimal(v)
    return f"{d.normalize():f}" if d == d.to_integral() else f"{d:f}".rstrip("0")


def _wrap(s: str, n: int = 8) -> str:
    """Let Typst break long base64 strings (zero-width spaces every ``n`` characters)."""
    return _ZWSP.join(s[i:i + n] for i in range(0, len(s), n))


def _label(table: dict, key: str | None) -> str:
    if not key:
        return ""
    return f"{key} - {table[key]}" if key in table else key


def _rate(t) -> str:
    if t.get("TipoFactor") == "Exento":
        return "Exento"
    r = Decimal(t.get("TasaOCuota") or "0") * 100
    return f"{r.normalize():f}%"


def cfdi_pdf_data(xml_bytes: bytes) -> dict:
    """The template data (all strings) for a stamped CFDI."""
    doc = cx.parse(xml_bytes)
    q = lambda p: doc.find(p, cx.NS)
    emisor, receptor = q("cfdi:Emisor"), q("cfdi:Receptor")
    tfd = q("cfdi:Complemento/tfd:TimbreFiscalDigital")
    if tfd is None:
        raise ValueError("the CFDI is not stamped (no TimbreFiscalDigital): no PDF representation")
    tipo = doc.get("TipoDeComprobante")
    conceptos = []
    for c in doc.findall("cfdi:Conceptos/cfdi:Concepto", cx.NS):
        taxes = []
        for t in c.findall("cfdi:Impuestos/cfdi:Traslados/cfdi:Traslado", cx.NS):
            imp = IMPUESTO.get(t.get("Impuesto"), t.get("Impuesto"))
            taxes.append(f"{imp} {_rate(t)}" + (f" {_money(t.get('Importe'))}" if t.get("Importe") else ""))
        for t in c.findall("cfdi:Impuestos/cfdi:Retenciones/cfdi:Retencion", cx.NS):
            taxes.append(f"Ret. {IMPUESTO.get(t.get('Impuesto'), t.get('Impuesto'))} {_rate(t)} {_money(t.get('Importe'))}")
        conceptos.append({
            "clave": c.get("ClaveProdServ"), "cantidad": _num(c.get("Cantidad")),
            "unidad": c.get("ClaveUnidad") + (f" {c.get('Unidad')}" if c.get("Unidad") else ""),
            "no_identificacion": c.get("NoIdentificacion") or "", "descripcion": c.get("Descripcion"),
            "valor_unitario": _money(c.get("ValorUnitario")), "importe": _money(c.get("Importe")),
            "impuestos": "\n".join(taxes) or "—", "objeto_imp": c.get("ObjetoImp") or "",
        })
    impuestos = []
    for t in doc.findall("cfdi:Impuestos/cfdi:Traslados/cfdi:Traslado", cx.NS):
        if t.get("Importe") is not None:
            impuestos.append({"label": f"{IMPUESTO.get(t.get('Impuesto'), '')} {_rate(t)} (base {_money(t.get('Base'))})",
                              "importe": _money(t.get("Importe"))})
        else:
            impuestos.append({"label": f"{IMPUESTO.get(t.get('Impuesto'), '')} exento (base {_money(t.get('Base'))})",
                              "importe": "—"})
    for t in doc.findall("cfdi:Impuestos/cfdi:Retenciones/cfdi:Retencion", cx.NS):
        impuestos.append({"label": f"Retención {IMPUESTO.get(t.get('Impuesto'), '')}", "importe": "-" + _money(t.get("Importe"))})
    ig = q("cfdi:InformacionGlobal")
    relacionados = [{"tipo": _label(TIPO_RELACION, rel.get("TipoRelacion")), "uuid": r.get("UUID")}
                    for rel in doc.findall("cfdi:CfdiRelacionados", cx.NS)
                    for r in rel.findall("cfdi:CfdiRelacionado", cx.NS)]
    pagos, pago_forma, pago_monto = [], "", ""
    for p in doc.iterfind(".//pago20:Pago", cx.NS):
        pago_forma = _label(FORMAS_PAGO, p.get("FormaDePagoP"))
        pago_monto = _money(p.get("Monto"))
        for dr in p.findall("pago20:DoctoRelacionado", cx.NS):
            pagos.append({"fecha": p.get("FechaPago"), "uuid": dr.get("IdDocumento"), "parcialidad": dr.get("NumParcialidad"),
                          "saldo_anterior": _money(dr.get("ImpSaldoAnt")), "pagado": _money(dr.get("ImpPagado")),
                          "saldo_insoluto": _money(dr.get("ImpSaldoInsoluto"))})
    serie_folio = "-".join(x for x in (doc.get("Serie"), doc.get("Folio")) if x)
    titles = {"I": "Factura", "E": "Nota de crédito", "P": "Recibo electrónico de pago", "T": "Traslado", "N": "Recibo de nómina"}
    url = verification_url(tfd.get("UUID"), emisor.get("Rfc"), receptor.get("Rfc"), doc.get("Total"), doc.get("Sello"))
    return {
        "titulo": ("Factura global" if ig is not None else titles.get(tipo, "CFDI")),
        "tipo": _label(TIPOS_COMPROBANTE, tipo), "serie_folio": serie_folio, "fecha": doc.get("Fecha"),
        "lugar_expedicion": doc.get("LugarExpedicion"), "moneda": doc.get("Moneda"),
        "forma_pago": _label(FORMAS_PAGO, doc.get("FormaPago")) or "—",
        "metodo_pago": _label(METODO, doc.get("MetodoPago")) or "—",
        "emisor": {"rfc": emisor.get("Rfc"), "nombre": emisor.get("Nombre"), "regimen": _label(REGIMENES, emisor.get("RegimenFiscal"))},
        "receptor": {"rfc": receptor.get("Rfc"), "nombre": receptor.get("Nombre"), "cp": receptor.get("DomicilioFiscalReceptor"),
                     "regimen": _label(REGIMENES, receptor.get("RegimenFiscalReceptor")),
                     "uso": _label(USOS_CFDI, receptor.get("UsoCFDI"))},
        "global": None if ig is None else {"periodicidad": _label(PERIODICIDAD, ig.get("Periodicidad")),
                                           "meses": ig.get("Meses"), "anio": ig.get("Año")},
        "relacionados": relacionados, "conceptos": conceptos, "impuestos": impuestos,
        "pagos": pagos, "pago_forma": pago_forma, "pago_monto": pago_monto,
        "subtotal": _money(doc.get("SubTotal")), "descuento": _money(doc.get("Descuento")),
        "total": _money(doc.get("Total")),
        "uuid": tfd.get("UUID"), "fecha_timbrado": tfd.get("FechaTimbrado"),
        "no_certificado": doc.get("NoCertificado"), "no_certificado_sat": tfd.get("NoCertificadoSAT"),
        "rfc_prov_certif": tfd.get("RfcProvCertif"),
        "sello": _wrap(doc.get("Sello") or ""), "sello_sat": _wrap(tfd.get("SelloSAT") or ""),
        "cadena_tfd": _wrap(cx.cadena_original_tfd(tfd), 12),
        "qr_url": url, "qr_png": qr_png(url, data_mask=None),
    }


def cfdi_pdf(xml_bytes: bytes, *, template: str | None = None) -> bytes:
    """PDF bytes of a stamped CFDI (``template``: Typst source to use instead of the shipped one)."""
    from ..printing.render import render_pdf
    return render_pdf(template or _template(), cfdi_pdf_data(xml_bytes))
