import datetime as dt
import re
from decimal import Decimal as D

import pytest
from lxml import etree

from facturador.dian import ubl, validate, xades
from facturador.dian.model import Line, Numbering, Party, Tax

from .conftest import PIN, SOFTWARE_ID, TECH_KEY, make_invoice, make_note, numbering

NS = ubl.NS
EXT = "ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/sts:DianExtensions"
SUP = "cac:AccountingSupplierParty/cac:Party"
CUS = "cac:AccountingCustomerParty/cac:Party"


def _set(path, value=None, attr=None):
    def f(root):
        el = root.xpath(path, namespaces=NS)[0]
        if attr:
            el.set(attr, value)
        else:
            el.text = value
    return f


def _remove(path):
    def f(root):
        for el in root.xpath(path, namespaces=NS):
            el.getparent().remove(el)
    return f


def _duplicate(path):
    def f(root):
        el = root.xpath(path, namespaces=NS)[0]
        el.addnext(etree.fromstring(etree.tostring(el)))
    return f


def _add_delivery(root):
    etree.SubElement(root, "{%s}Delivery" % NS["cac"])


def _natural_without_identification(root):
    _set("cac:AccountingCustomerParty/cbc:AdditionalAccountID", "2")(root)
    _remove(CUS + "/cac:PartyIdentification")(root)


def _natural_bad_id_type(root):
    _set("cac:AccountingCustomerParty/cbc:AdditionalAccountID", "2")(root)
    _set(CUS + "/cac:PartyIdentification/cbc:ID", "99", attr="schemeName")(root)


INV, CN, DN = (lambda: make_invoice(4)), make_note, (lambda: make_note("debit_note"))
CN_NOREF = lambda: make_note(with_reference=False)  # noqa: E731
DN_NOREF = lambda: make_note("debit_note", with_reference=False)  # noqa: E731
OTHER = {"supplier_nit": "860034313", "issue_date": "2026-11-20"}

GOOD = dict(technical_key=TECH_KEY, pin=PIN, software_id=SOFTWARE_ID, numbering=numbering(),
            lookup_invoice=lambda uuid, number: {"supplier_nit": "900373076", "issue_date": "2026-11-20"})

CASES = [
    # code, document maker, mutation of the XML tree, prevalidate kwargs
    ("ZB01", INV, _set("cbc:IssueDate", "2026-13-20"), {"schema": True}),
    ("FAD06", INV, _set("cbc:UUID", "0" * 96), {"technical_key": TECH_KEY}),
    ("FAD06", INV, _set("cac:LegalMonetaryTotal/cbc:PayableAmount", "1.00"), {"technical_key": TECH_KEY}),
    ("CAD06", CN, _set("cbc:UUID", "0" * 96), {"pin": PIN}),
    ("DAD06", DN, _set("cbc:IssueTime", "07:00:01-05:00"), {"pin": PIN}),
    ("FAB27b", INV, _set(EXT + "/sts:SoftwareSecurityCode", "ab" * 48), {"pin": PIN}),
    ("FAB24b", INV, None, {"software_id": "00000000-0000-0000-0000-000000000000"}),
    ("FAB22", INV, _set(EXT + "/sts:SoftwareProvider/sts:ProviderID", "7", attr="schemeID"), {}),
    ("FAB05a", INV, _set(EXT + "/sts:InvoiceControl/sts:InvoiceAuthorization", ""), {}),
    ("FAB05b", INV, None, {"numbering": Numbering("SETP", 1, "18760000002", 990000000, 995000000,
                                                  dt.date(2019, 1, 19), dt.date(2030, 1, 19))}),
    ("FAB07a", INV, _set(EXT + "/sts:InvoiceControl/sts:AuthorizationPeriod/cbc:StartDate", "2027-01-01"), {}),
    ("FAB07b", INV, None, {"numbering": Numbering("SETP", 1, "18760000001", 990000000, 995000000,
                                                  dt.date(2019, 1, 20), dt.date(2030, 1, 19))}),
    ("FAB08a", INV, _set(EXT + "/sts:InvoiceControl/sts:AuthorizationPeriod/cbc:EndDate", "2020-01-01"), {}),
    ("FAB08b", INV, None, {"numbering": Numbering("SETP", 1, "18760000001", 990000000, 995000000,
                                                  dt.date(2019, 1, 19), dt.date(2031, 1, 19))}),
    ("FAB10b", INV, None, {"numbering": Numbering("SETT", 1, "18760000001", 990000000, 995000000,
                                                  dt.date(2019, 1, 19), dt.date(2030, 1, 19))}),
    ("FAB11b", INV, None, {"numbering": Numbering("SETP", 1, "18760000001", 990000001, 995000000,
                                                  dt.date(2019, 1, 19), dt.date(2030, 1, 19))}),
    ("FAB12b", INV, None, {"numbering": Numbering("SETP", 1, "18760000001", 990000000, 995000001,
                                                  dt.date(2019, 1, 19), dt.date(2030, 1, 19))}),
    ("FAD05e", INV, _set("cbc:ID", "SETP995000001"), {}),
    ("FAD05e", INV, _set("cbc:ID", "XX990000101"), {}),
    ("FAJ24", INV, _set(SUP + "/cac:PartyTaxScheme/cbc:CompanyID", "5", attr="schemeID"), {}),
    ("FAK24", INV, _set(CUS + "/cac:PartyTaxScheme/cbc:CompanyID", "9", attr="schemeID"), {}),
    ("CAK24", CN, _set(CUS + "/cac:PartyTaxScheme/cbc:CompanyID", "9", attr="schemeID"), {}),
    ("FAJ26", INV, _set(SUP + "/cac:PartyTaxScheme/cbc:TaxLevelCode", "O-13;O-99"), {}),
    ("FAK26", INV, _set(CUS + "/cac:PartyTaxScheme/cbc:TaxLevelCode", ""), {}),
    ("FAK55", INV, _remove(CUS + "/cac:Contact"), {}),
    ("FAK61", INV, _natural_without_identification, {}),
    ("FAK62", INV, _natural_bad_id_type, {}),
    ("FAU04", INV, _set("cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount", "1.00"), {}),
    ("FAU06", INV, _set("cac:LegalMonetaryTotal/cbc:LineExtensionAmount", "1.00"), {}),
    ("FAU14", INV, _set("cac:LegalMonetaryTotal/cbc:PayableAmount", "1.00"), {}),
    ("CAU14", CN, _set("cac:LegalMonetaryTotal/cbc:PayableAmount", "1.00"), {}),
    ("DAU14", DN, _set("cac:RequestedMonetaryTotal/cbc:PayableAmount", "1.00"), {}),
    ("FAS01b", INV, _duplicate("cac:TaxTotal"), {}),
    ("FAS01b", INV, _remove("cac:TaxTotal"), {}),
    ("FAS07", INV, _set("cac:InvoiceLine[1]/cac:TaxTotal/cac:TaxSubtotal/cbc:TaxAmount", "999.99"), {}),
    ("FAM02", INV, _add_delivery, {}),
    ("VLR01", INV, _set("cac:InvoiceLine[1]/cac:Price/cbc:PriceAmount", "-5.00"), {}),
    ("CBG02", CN, _remove("cac:BillingReference"), {}),
    ("DBG02", DN, _remove("cac:BillingReference"), {}),
    ("CBG04a", CN, None, {"lookup_invoice": lambda uuid, number: None}),
    ("CBG04b", CN, None, {"lookup_invoice": lambda uuid, number: OTHER}),
    ("DBG04b", DN, None, {"lookup_invoice": lambda uuid, number: OTHER}),
    ("CBG06", CN, _set("cac:BillingReference/cac:InvoiceDocumentReference/cbc:IssueDate", "2026-11-22"), {}),
    ("DBG06", DN, _set("cbc:IssueDate", "2026-11-19"), {}),
    ("CAE02", CN_NOREF, _remove("cac:InvoicePeriod/cbc:StartDate"), {}),
    ("CAE04", CN_NOREF, _remove("cac:InvoicePeriod/cbc:EndDate"), {}),
    ("DAE02", DN_NOREF, _remove("cac:InvoicePeriod"), {}),
]


def _codes(findings):
    return {f.code for f in findings}


@pytest.mark.parametrize("code,maker,mutate,kwargs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_rule_catches_its_breakage(code, maker, mutate, kwargs, schema_dir):
    kwargs = dict(kwargs)
    if kwargs.pop("schema", False):
        kwargs["schema_dir"] = schema_dir
    root = ubl.build_xml(maker())
    clean = ubl.to_bytes(root)
    assert code not in _codes(validate.prevalidate(clean, schema_dir=schema_dir, **GOOD)), "rule fires on a clean doc"
    if mutate:
        mutate(root)
    findings = validate.prevalidate(ubl.to_bytes(root), **kwargs)
    assert code in _codes(findings), findings
    f = next(f for f in findings if f.code == code)
    assert f.field and f.message_es
    assert f.severity == ("notification" if code[2:] in ("B10b", "K55") else "rejection")


def test_at_least_30_distinct_rules_are_tested():
    assert len({c[0] for c in CASES} | {"ZE02", "ZD06", "FAD09e", "FAX14"}) >= 30


def test_clean_documents_have_no_findings(schema_dir):
    for doc in (make_invoice(10), make_note(), make_note("debit_note"), make_note(with_reference=False),
                make_invoice(customer=Party.consumidor_final(email="cf@example.com"))):
        kw = {"numbering": numbering()} if doc.kind == "invoice" else {}
        assert validate.prevalidate(doc, schema_dir=schema_dir, **kw) == [], doc.kind


def test_signed_document_rules(signer, schema_dir):
    today = dt.datetime.now(xades.COT).date()
    data = xades.sign(ubl.build_xml(make_invoice(issue_date=today)), signer)
    kw = dict(schema_dir=schema_dir, technical_key=TECH_KEY, pin=PIN, software_id=SOFTWARE_ID)
    assert validate.prevalidate(data, **kw) == []
    assert "ZE02" in _codes(validate.prevalidate(data.replace(b"Cliente Comercial", b"Cliente Comerciel"), **kw))
    no_cert = re.sub(rb"<ds:X509Certificate>[^<]*</ds:X509Certificate>", b"", data)
    assert "ZD06" in _codes(validate.prevalidate(no_cert, pin=PIN))
    old = xades.sign(ubl.build_xml(make_invoice(issue_date=today - dt.timedelta(days=2))), signer)
    f = [f for f in validate.prevalidate(old, **kw) if f.code == "FAD09e"]
    assert f and f[0].severity == "notification"


def test_document_input_rules():
    doc = make_invoice(lines=[Line("x", D("1"), D("100"), taxes=[Tax("01", D("16"))])])
    f = [f for f in validate.prevalidate(doc) if f.code == "FAX14"]
    assert f and f[0].severity == "notification"
    neg = make_invoice(lines=[Line("x", D("-1"), D("100"), taxes=[Tax("01", D("19"))])])
    assert "VLR01" in _codes(validate.prevalidate(neg))


def test_malformed_xml_is_zb01():
    assert _codes(validate.prevalidate(b"<Invoice")) == {"ZB01"}
    assert _codes(validate.prevalidate(b"<Foo/>")) == {"ZB01"}
