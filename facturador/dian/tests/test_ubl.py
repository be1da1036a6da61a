import datetime as dt
import hashlib
from decimal import Decimal as D

from lxml import etree

from facturador.dian import totals, ubl, xsd
from facturador.dian.model import AllowanceCharge, Line, Party, Prepayment, Tax, Withholding

from .conftest import PIN, SOFTWARE_ID, TECH_KEY, make_invoice, make_note

NS = ubl.NS


def _x(root, path):
    return root.xpath(path, namespaces=NS)


def test_all_kinds_validate_against_dian_xsd(schema_dir):
    for doc in (make_invoice(10), make_note(), make_note("debit_note"), make_note(with_reference=False),
                make_note("debit_note", with_reference=False),
                make_invoice(customer=Party.consumidor_final(), payment=ubl.Document.__dataclass_fields__[
                    "payment"].default_factory())):
        data = ubl.to_bytes(ubl.build_xml(doc))
        assert xsd.validate_xsd(data, schema_dir, allow_unsigned=True) == [], doc.kind
        # without allow_unsigned the empty signature placeholder is (rightly) rejected
        assert xsd.validate_xsd(data, schema_dir) != []


def test_xsd_checks_dian_extension_content(schema_dir):
    data = ubl.to_bytes(ubl.build_xml(make_invoice()))
    broken = data.replace(b"<sts:QRCode>", b"<sts:Unknown/><sts:QRCode>")
    assert any("Unknown" in e for e in xsd.validate_xsd(broken, schema_dir, allow_unsigned=True))
    bad_date = data.replace(b"<cbc:IssueDate>2026-11-20", b"<cbc:IssueDate>2026-13-20")
    assert any("IssueDate" in e for e in xsd.validate_xsd(bad_date, schema_dir, allow_unsigned=True))


def test_cufe_in_xml_matches_formula_over_written_strings():
    root = ubl.build_xml(make_invoice(5))

    def tax(code):
        v = _x(root, f"cac:TaxTotal[cac:TaxSubtotal/cac:TaxCategory/cac:TaxScheme/cbc:ID='{code}']/cbc:TaxAmount/text()")
        return v[0] if v else "0.00"
    s = "".join([_x(root, "cbc:ID/text()")[0], _x(root, "cbc:IssueDate/text()")[0],
                 _x(root, "cbc:IssueTime/text()")[0],
                 _x(root, "cac:LegalMonetaryTotal/cbc:LineExtensionAmount/text()")[0],
                 "01", tax("01"), "04", tax("04"), "03", tax("03"),
                 _x(root, "cac:LegalMonetaryTotal/cbc:PayableAmount/text()")[0],
                 "900373076", "800199436", TECH_KEY, "2"])
    assert _x(root, "cbc:UUID/text()")[0] == hashlib.sha384(s.encode()).hexdigest()
    assert _x(root, "cbc:UUID/@schemeName")[0] == "CUFE-SHA384"
    ssc = _x(root, "ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/sts:DianExtensions/"
                   "sts:SoftwareSecurityCode/text()")[0]
    assert ssc == hashlib.sha384(f"{SOFTWARE_ID}{PIN}SETP990000101".encode()).hexdigest()
    assert _x(root, "cbc:IssueTime/text()")[0] == "09:15:23-05:00"


def test_note_uses_cude_with_pin():
    root = ubl.build_xml(make_note())
    assert root.tag.endswith("}CreditNote")
    assert _x(root, "cbc:UUID/@schemeName")[0] == "CUDE-SHA384"
    assert _x(root, "cbc:CustomizationID/text()")[0] == "20"
    assert _x(make_note_root := ubl.build_xml(make_note(with_reference=False)), "cbc:CustomizationID/text()") == ["22"]
    assert _x(make_note_root, "cac:InvoicePeriod/cbc:StartDate/text()") == ["2026-11-01"]
    assert _x(ubl.build_xml(make_note("debit_note")), "cac:RequestedMonetaryTotal/cbc:PayableAmount/text()") == [
        "5950.00"]


def test_totals_hand_computed():
    # 2 x 100.00 with IVA 19 % minus a 10.00 line discount; 3 x 33.335 with IVA 5 %; 1 x 50 excluded.
    doc = make_invoice(lines=[
        Line("A", D("2"), D("100"), taxes=[Tax("01", D("19"))], allowance_charges=[AllowanceCharge(D("10"))]),
        Line("B", D("3"), D("33.335"), taxes=[Tax("01", D("5")), Tax("04", D("8"))]),
        Line("C", D("1"), D("50")),
    ], allowance_charges=[AllowanceCharge(D("5"))], prepayments=[Prepayment(D("20"), dt.date(2026, 1, 1))],
        withholdings=[Withholding("06", D("2.5")), Withholding("05", D("15"))])
    t = totals.compute(doc)
    # A: 190.00, IVA 36.10. B: round(100.005)=100.01, IVA 5.00 (5.0005), INC 8.00 (8.0008). C: 50.00
    assert [lt.extension for lt in t.lines] == [D("190.00"), D("100.01"), D("50.00")]
    assert t.line_extension == D("340.01")
    assert t.tax_exclusive == D("390.02")  # FAU04: sum of line TaxableAmounts (B counted for IVA and INC)
    assert [(x.scheme, x.amount) for x in t.taxes] == [("01", D("41.10")), ("04", D("8.00"))]
    assert [(s.rate, s.taxable, s.amount) for s in t.taxes[0].subtotals] == [
        (D("5"), D("100.01"), D("5.00")), (D("19"), D("190.00"), D("36.10"))]
    assert t.tax_inclusive == D("389.11")
    assert t.payable == D("389.11") - D("5") - D("20")
    # withholdings: ReteFuente 2.5 % of 340.01 = 8.50; ReteIVA 15 % of 41.10 = 6.17 (6.165 half-up)
    assert [(w.scheme, w.amount) for w in t.withholdings] == [("05", D("6.17")), ("06", D("8.50"))]
    root = ubl.build_xml(doc)
    assert len(_x(root, "cac:TaxTotal")) == 2  # one per tax type (FAS01b)
    assert _x(root, "cac:WithholdingTaxTotal/cbc:TaxAmount/text()") == ["6.17", "8.50"]
    assert etree.QName(root[-1]).localname == "InvoiceLine"


def test_builder_text_is_already_canonical():
    """build_markup must equal lxml's inclusive C14N of the parsed document (xades.sign_document relies on it),
    including characters that need escaping."""
    tricky = Party(id_number="800199436", name='Ñandú & "Cía" <S.A.S.>\tcon\r\nsalto', tax_scheme="01",
                   email="a&b@example.com", responsibilities=["O-23"])
    docs = [make_invoice(10), make_note(), make_note("debit_note"), make_note(with_reference=False),
            make_invoice(customer=tricky, notes=["Nota con > y < y & y \r retorno", "ümlaut — ünïcode 😀"],
                         lines=[Line("desc 'x' \"y\" <z> & \r\n\t", D("1.5"), D("3.333"), taxes=[Tax("01", D("19"))],
                                     allowance_charges=[AllowanceCharge(D("1"), reason='r"&<>')])])]
    for doc in docs:
        markup = ubl.build_markup(doc)
        assert markup.encode() == etree.tostring(ubl.parse_markup(markup), method="c14n")


def test_sign_document_equals_generic_sign(signer, tmp_path):
    from facturador.dian import xades, verify

    from .conftest import xmlsec_verify
    tricky = Party(id_number="800199436", name='Ñandú & "Cía" <S.A.S.>', tax_scheme="01", email="x@y.co")
    for doc in (make_invoice(10, customer=tricky), make_note()):
        fast = xades.sign_document(doc, signer)
        rc, err = xmlsec_verify(fast, tmp_path)
        assert rc == 0, err
        assert verify.verify_signature(fast).ok
        slow = xades.sign(ubl.build_xml(doc), signer)
        # same document digest (first reference) either way
        dv = lambda b: etree.fromstring(b).xpath("//ds:Reference[@URI='']/ds:DigestValue/text()", namespaces=NS)  # noqa
        assert dv(fast) == dv(slow)


def test_contingency_and_export_types(schema_dir):
    from facturador.dian import validate
    c3 = ubl.build_xml(make_invoice(type_code="03"))
    assert _x(c3, "cbc:UUID/@schemeName") == ["CUDE-SHA384"]  # type 03 uses the software PIN
    assert validate.prevalidate(ubl.to_bytes(c3), pin=PIN) == []
    assert "FAD06" in {f.code for f in validate.prevalidate(ubl.to_bytes(c3), pin="99999")}
    for code in ("02", "04"):
        root = ubl.build_xml(make_invoice(type_code=code))
        assert _x(root, "cbc:InvoiceTypeCode/text()") == [code]
        assert _x(root, "cbc:UUID/@schemeName") == ["CUFE-SHA384"]
        assert validate.prevalidate(ubl.to_bytes(root), technical_key=TECH_KEY, schema_dir=schema_dir) == []


def test_natural_person_buyer_with_cedula(schema_dir):
    from facturador.dian import validate
    buyer = Party(id_number="1001186599", name="Ana Pérez", id_type="13", legal_person=False,
                  email="ana@example.com")
    root = ubl.build_xml(make_invoice(customer=buyer))
    cus = "cac:AccountingCustomerParty"
    assert _x(root, cus + "/cbc:AdditionalAccountID/text()") == ["2"]
    assert _x(root, cus + "/cac:Party/cac:PartyIdentification/cbc:ID/@schemeName") == ["13"]
    assert _x(root, cus + "/cac:Party/cac:PartyTaxScheme/cbc:CompanyID/@schemeID") == []  # DV only for NITs
    assert validate.prevalidate(ubl.to_bytes(root), technical_key=TECH_KEY, schema_dir=schema_dir) == []
