"""SAT verification URL (the content of the CFDI's QR code) and the QR image.

``https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx?id={UUID}&re={RfcEmisor}&rr={RfcReceptor}&tt={Total}&fe={last 8 of Sello}``

``tt`` follows Anexo 20 ("omitir ceros no significativos"): up to 6 decimals, trailing zeros
removed but at least one decimal kept (``2320.00`` → ``2320.0``), as phpcfdi's reference
implementation does; ``&`` inside an RFC is written ``&amp;``.
"""

from __future__ import annotations

from decimal import Decimal

from . import xml as cx

__all__ = ["VERIFICA_URL", "format_total", "verification_url", "verification_url_from_xml", "qr_svg"]

VERIFICA_URL = "https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx"


def format_total(total) -> str:
    d = Decimal(str(total)).quantize(Decimal("0.000001"))
    text = f"{d:f}"
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0") or "0"
    return f"{whole}.{frac}"


def _rfc(r: str) -> str:
    return r.replace("&", "&amp;")


def verification_url(uuid: str, rfc_emisor: str, rfc_receptor: str, total, sello: str) -> str:
    return (f"{VERIFICA_URL}?id={uuid.upper()}&re={_rfc(rfc_emisor)}&rr={_rfc(rfc_receptor)}"
            f"&tt={format_total(total)}&fe={sello[-8:]}")


def verification_url_from_xml(xml_bytes: bytes) -> str:
    doc = cx.parse(xml_bytes)
    tfd = doc.find("cfdi:Complemento/tfd:TimbreFiscalDigital", cx.NS)
    if tfd is None:
        raise ValueError("the CFDI is not stamped (no TimbreFiscalDigital)")
    return verification_url(tfd.get("UUID"), doc.find("cfdi:Emisor", cx.NS).get("Rfc"),
                            doc.find("cfdi:Receptor", cx.NS).get("Rfc"), doc.get("Total"), doc.get("Sello"))


def qr_svg(text: str, *, error: str = "M", border: int = 4) -> str:
    """QR (ISO/IEC 18004) of ``text`` as an SVG string (segno)."""
    import io

    import segno

    buf = io.BytesIO()
    segno.make_qr(text, error=error).save(buf, kind="svg", border=border, xmldecl=False, svgns=True,
                                          scale=1, dark="#000", light="#fff")
    return buf.getvalue().decode("utf-8")
