"""Optional elements accepted third-party invoices carry: the supplier's CIIU (IndustryClassificationCode), party
contacts (Telephone, ElectronicMail), PostalZone, PaymentMeans/PaymentID and, for free-of-charge lines, the
PricingReference/AlternativeConditionPrice with its PriceTypeCode. Written only when the data exists, in the XSD's
order, without changing the CUFE/CUDE or the canonical-text property of the builder."""
import copy
import json
from decimal import Decimal as D

import pytest
from lxml import etree

from facturador.dian import jsonio, ubl, validate, verify, xades, xsd
from facturador.dian.errors import DianInputError
from facturador.dian.model import Address, Line, Payment, Tax

from .conftest import PIN, REPO, SOFTWARE_ID, TECH_KEY, customer, make_invoice, make_note, supplier

NS = ubl.NS


def _x(root, path):
    return root.xpath(path, namespaces=NS)


def rich_parties():
    s, c = supplier(), customer()
    s.industry_code, s.phone = "4711;6201", "+57 601 5550100"
    s.address = Address("11001", "Bogotá, D.C.", "Bogotá", "Calle 100 # 10-20", postal_zone="110111")
    c.phone = "3001234567"
    c.address = Address("05001", "Medellín", "Antioquia", "Carrera 43A # 1-50", postal_zone="050021")
    return s, c


def free_line():
    return Line("Muestra gratis", D("2"), D("0"), taxes=[Tax("01", D("19"))], reference_price=D("15000"),
                reference_price_type="01")


def rich(kind="invoice"):
    s, c = rich_parties()
    lines = [Line("Producto", D("1"), D("1000"), taxes=[Tax("01", D("19"))]), free_line()]
    if kind == "invoice":
        return make_invoice(supplier=s, customer=c, lines=lines,
                            payment=Payment("2", "42", make_invoice().payment.due_date, reference="PAGO-2026-0001"))
    return make_note(kind, supplier=s, customer=c, lines=lines, payment=Payment("1", "10", reference="REF-77"))


@pytest.mark.parametrize("kind", ["invoice", "credit_note", "debit_note"])
def test_elements_are_written_and_validate_against_the_xsd(kind, schema_dir):
    root = ubl.build_xml(rich(kind))
    assert xsd.validate_xsd(ubl.to_bytes(root), schema_dir, allow_unsigned=True) == []
    sup = "cac:AccountingSupplierParty/cac:Party/"
    cus = "cac:AccountingCustomerParty/cac:Party/"
    assert _x(root, sup + "cbc:IndustryClassificationCode/text()") == ["4711;6201"]
    assert _x(root, cus + "cbc:IndustryClassificationCode") == []  # the buyer has none
    assert _x(root, sup + "cac:Contact/cbc:Telephone/text()") == ["+57 601 5550100"]
    assert _x(root, sup + "cac:Contact/cbc:ElectronicMail/text()") == ["facturas@pruebas.example"]
    assert _x(root, cus + "cac:Contact/cbc:Telephone/text()") == ["3001234567"]
    assert _x(root, sup + "cac:PhysicalLocation/cac:Address/cbc:PostalZone/text()") == ["110111"]
    assert _x(root, sup + "cac:PartyTaxScheme/cac:RegistrationAddress/cbc:PostalZone/text()") == ["110111"]
    assert _x(root, cus + "cac:PhysicalLocation/cac:Address/cbc:PostalZone/text()") == ["050021"]
    assert _x(root, "cac:PaymentMeans/cbc:PaymentID/text()") == (["PAGO-2026-0001"] if kind == "invoice"
                                                                 else ["REF-77"])
    line = _x(root, "*[cbc:ID='2' and cbc:LineExtensionAmount]")[0]
    assert _x(line, "cbc:LineExtensionAmount/text()") == ["0.00"]
    acp = "cac:PricingReference/cac:AlternativeConditionPrice/"
    assert _x(line, acp + "cbc:PriceAmount/text()") == ["15000.00"]
    assert _x(line, acp + "cbc:PriceAmount/@currencyID") == ["COP"]
    assert _x(line, acp + "cbc:PriceTypeCode/text()") == ["01"]
    # the paid line carries no PricingReference
    assert _x(root, "*[cbc:ID='1' and cbc:LineExtensionAmount]/cac:PricingReference") == []


def test_positions_follow_the_ubl_sequence():
    root = ubl.build_xml(rich())
    party = _x(root, "cac:AccountingSupplierParty/cac:Party")[0]
    assert etree.QName(party[0]).localname == "IndustryClassificationCode"
    line = _x(root, "cac:InvoiceLine[cbc:ID='2']")[0]
    names = [etree.QName(c).localname for c in line]
    assert names[:4] == ["ID", "InvoicedQuantity", "LineExtensionAmount", "PricingReference"]
    contact = _x(party, "cac:Contact")[0]
    assert [etree.QName(c).localname for c in contact] == ["Telephone", "ElectronicMail"]


def test_nothing_written_without_the_data():
    root = ubl.build_xml(make_invoice())
    for path in ("//cbc:IndustryClassificationCode", "//cac:PricingReference", "//cbc:PostalZone",
                 "//cbc:Telephone", "cac:PaymentMeans/cbc:PaymentID"):
        assert _x(root, path) == [], path


@pytest.mark.parametrize("kind", ["invoice", "credit_note"])
def test_cufe_unchanged_and_builder_text_still_canonical(kind):
    plain = make_invoice(lines=[Line("Producto", D("1"), D("1000"), taxes=[Tax("01", D("19"))]),
                                Line("Muestra gratis", D("2"), D("0"), taxes=[Tax("01", D("19"))])]) \
        if kind == "invoice" else make_note(lines=[Line("Producto", D("1"), D("1000"), taxes=[Tax("01", D("19"))]),
                                                   Line("Muestra gratis", D("2"), D("0"),
                                                        taxes=[Tax("01", D("19"))])])
    assert _x(ubl.build_xml(rich(kind)), "cbc:UUID/text()") == _x(ubl.build_xml(plain), "cbc:UUID/text()")
    tricky = rich(kind)
    tricky.supplier.phone = 'ext. <12> & "34"\t'
    tricky.customer.address.postal_zone = "05&0"
    tricky.lines[1].reference_price_type = "03"
    markup = ubl.build_markup(tricky)
    assert markup.encode() == etree.tostring(ubl.parse_markup(markup), method="c14n")


def test_signed_rich_invoice_verifies_cufe_and_signature(signer, schema_dir, tmp_path):
    from .conftest import xmlsec_verify
    signed = xades.sign_document(rich(), signer)
    assert xsd.validate_xsd(signed, schema_dir) == []
    rc, err = xmlsec_verify(signed, tmp_path)
    assert rc == 0, err
    report = verify.verify_document(signed, technical_key=TECH_KEY, pin=PIN, schema_dir=schema_dir)
    assert report.ok, report.dumps()
    assert validate.rejections(validate.prevalidate(signed, technical_key=TECH_KEY, pin=PIN,
                                                    software_id=SOFTWARE_ID, schema_dir=schema_dir)) == []


def test_local_dian_service_accepts_the_rich_invoice(signer):
    from facturador.dian.sandbox import DianSandbox
    box = DianSandbox(software={SOFTWARE_ID: PIN})
    r = box.process_document(xades.sign_document(rich(), signer), "fv.xml")
    assert r.accepted, r.messages


# ------------------------------------------------------------------------------------------------ JSON input
def example():
    return json.loads((REPO / "examples" / "dian" / "invoice-iva19-withholdings.json").read_text(encoding="utf-8"))


def test_json_fields_reach_the_xml():
    data = example()
    data["supplier"]["industry_code"] = ["4711", "6201"]
    data["supplier"]["phone"] = "6015550100"
    data["supplier"]["address"]["postal_zone"] = "110111"
    data["customer"]["phone"] = "3001234567"
    data["payment"]["reference"] = "PAGO-1"
    data["lines"].append({"description": "Muestra", "quantity": "1", "unit_price": "0", "reference_price": "5000",
                          "reference_price_type": "02", "tax": {"scheme": "01", "rate": "19"}})
    doc = jsonio.document_from_json(data)
    assert doc.supplier.industry_code == "4711;6201" and doc.lines[-1].reference_price == D("5000")
    root = ubl.build_xml(doc)
    assert _x(root, "cac:AccountingSupplierParty/cac:Party/cbc:IndustryClassificationCode/text()") == ["4711;6201"]
    assert _x(root, "cac:PaymentMeans/cbc:PaymentID/text()") == ["PAGO-1"]
    assert _x(root, "cac:InvoiceLine[last()]/cac:PricingReference/cac:AlternativeConditionPrice/"
                    "cbc:PriceTypeCode/text()") == ["02"]
    data["supplier"]["industry_code"] = "4711"
    assert jsonio.document_from_json(data).supplier.industry_code == "4711"


def _fields(data):
    with pytest.raises(DianInputError) as e:
        jsonio.document_from_json(data)
    return [(x.field, x.code) for x in e.value.errors]


def test_json_refusals():
    data = example()
    data["supplier"]["industry_code"] = "47A1"
    data["lines"].append({"description": "Muestra", "quantity": "1", "unit_price": "0"})
    n = len(data["lines"]) - 1
    assert _fields(copy.deepcopy(data)) == [("supplier.industry_code", "format"),
                                            (f"lines[{n}].reference_price", "required")]
    data["supplier"]["industry_code"] = "4711"
    data["lines"][n].update(reference_price="100", reference_price_type="09")
    assert _fields(data) == [(f"lines[{n}].reference_price_type", "choice")]
