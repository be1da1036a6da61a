"""The issuer's data in the supplier party of the documents it issues."""

from lxml import etree

from facturador.dian.ns import CAC, CBC
from facturador.einvoice import services

SUPPLIER = f"{{{CAC}}}AccountingSupplierParty/{{{CAC}}}Party"


def supplier_of(doc):
    return etree.fromstring(bytes(doc.signed_xml)).find(SUPPLIER)


def test_invoice_carries_postal_zone_and_ciiu_of_the_issuer(dian_issuer, invoice_payload):
    dian_issuer.postal_code = "110111"
    dian_issuer.ciiu = "3511,3514"
    dian_issuer.save()
    party = supplier_of(services.issue(dian_issuer, invoice_payload, send=False))
    assert party.findtext(f"{{{CBC}}}IndustryClassificationCode") == "3511;3514"
    zones = [e.text for e in party.iter(f"{{{CBC}}}PostalZone")]
    assert zones and set(zones) == {"110111"}


def test_without_them_the_elements_are_left_out(dian_issuer, invoice_payload):
    party = supplier_of(services.issue(dian_issuer, invoice_payload, send=False))
    assert party.find(f"{{{CBC}}}IndustryClassificationCode") is None
    assert next(party.iter(f"{{{CBC}}}PostalZone"), None) is None
