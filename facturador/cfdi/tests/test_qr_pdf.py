import datetime as dt

import pypdfium2 as pdfium
import pytest
import zxingcpp
from lxml import etree

from facturador.cfdi import xml as cx
from facturador.cfdi.build import GlobalInvoice, PaidDocument, Payment, Ticket, build_global_invoice, build_invoice, build_payment
from facturador.cfdi.pdf import cfdi_pdf
from facturador.cfdi.qr import format_total, verification_url, verification_url_from_xml

from .conftest import make_pac


def test_verification_url_reference_vector():
    # phpcfdi/cfdi-expresiones Comprobante40Test (reference implementation, MIT).
    url = verification_url("66933DFF-5507-5460-9EF0-9D0BB068A54A", "EKU9003173C9", "AABF800614HI0", "2320.00",
                           "...lo que sea...yl2MKg==")
    assert url == ("https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx?"
                   "id=66933DFF-5507-5460-9EF0-9D0BB068A54A&re=EKU9003173C9&rr=AABF800614HI0&tt=2320.0&fe=yl2MKg==")


@pytest.mark.parametrize("total, expected", [("0", "0.0"), ("116.00", "116.0"), ("116.50", "116.5"),
                                             ("1234567.123456", "1234567.123456"), ("0.10", "0.1")])
def test_format_total(total, expected):
    assert format_total(total) == expected


def test_ampersand_rfc_escaped():
    assert "&re=H&amp;E951128469&" in verification_url("A" * 36, "H&E951128469", "XAXX010101000", "1", "12345678")


def _pdf_text_and_qr(pdf: bytes) -> tuple[str, list[str]]:
    doc = pdfium.PdfDocument(pdf)
    try:
        text = "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
        image = doc[0].render(scale=3).to_pil()
        codes = [b.text for b in zxingcpp.read_barcodes(image) if b.format == zxingcpp.BarcodeFormat.QRCode]
    finally:
        doc.close()
    return text.replace("\u200b", "").replace("\ufffe", ""), codes


def _expected_url(xml: bytes) -> str:
    doc = etree.fromstring(xml)
    tfd = doc.find("cfdi:Complemento/tfd:TimbreFiscalDigital", cx.NS)
    # built here from the XML fields, independently of qr.py
    total = doc.get("Total")
    tt = total.rstrip("0") + ("0" if total.rstrip("0").endswith(".") else "") if "." in total else total + ".0"
    return (f"https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx?id={tfd.get('UUID')}"
            f"&re={doc.find('cfdi:Emisor', cx.NS).get('Rfc')}&rr={doc.find('cfdi:Receptor', cx.NS).get('Rfc')}"
            f"&tt={tt}&fe={doc.get('Sello')[-8:]}")


def test_invoice_pdf(invoice, csd, sandbox):
    stamped = make_pac("sw", sandbox.url).stamp(build_invoice(invoice, csd))
    assert verification_url_from_xml(stamped.xml_bytes) == _expected_url(stamped.xml_bytes)
    pdf = cfdi_pdf(stamped.xml_bytes)
    assert pdf.startswith(b"%PDF-")
    text, codes = _pdf_text_and_qr(pdf)
    assert stamped.uuid in text
    for needle in ("ESCUELA KEMPER URGATE", "URE180429TM6", "30001000000500003416", stamped.no_certificado_sat,
                   "$1,798.31", "representación impresa de un CFDI", "Colegiatura"):
        assert needle in text, needle
    assert codes == [_expected_url(stamped.xml_bytes)]


def test_global_and_payment_pdfs(invoice, emisor, csd, sandbox):
    pac = make_pac("finkok", sandbox.url)
    now = dt.datetime.now()
    g = build_global_invoice(GlobalInvoice(emisor=emisor, lugar_expedicion="42501", periodicidad="01",
                                           meses=f"{now.month:02d}", anio=now.year,
                                           tickets=[Ticket(f"TK-{now:%H%M%S}-{i}", "10.00") for i in range(3)]), csd)
    sg = pac.stamp(g)
    text, codes = _pdf_text_and_qr(cfdi_pdf(sg.xml_bytes))
    assert "FACTURA GLOBAL" in text and "PUBLICO EN GENERAL" in text and f"TK-{now:%H%M%S}-2" in text
    assert codes == [_expected_url(sg.xml_bytes)]

    invoice.metodo_pago = "PPD"
    inv = pac.stamp(build_invoice(invoice, csd))
    p = pac.stamp(build_payment(Payment(emisor=emisor, lugar_expedicion="42501", forma_pago="03",
                                        fecha_pago=now.replace(microsecond=0),
                                        documentos=[PaidDocument(inv.xml_bytes, imp_pagado="100.00")]), csd))
    text, codes = _pdf_text_and_qr(cfdi_pdf(p.xml_bytes))
    assert "RECIBO ELECTRÓNICO DE PAGO" in text and inv.uuid in text and p.uuid in text
    assert codes == [_expected_url(p.xml_bytes)] and "tt=0.0&" in codes[0]


def test_pdf_refuses_unstamped(invoice, csd):
    with pytest.raises(ValueError):
        cfdi_pdf(build_invoice(invoice, csd))
