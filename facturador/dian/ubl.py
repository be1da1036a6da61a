"""Build the UBL 2.1 XML of a DIAN document (Anexo Técnico 1.9) with lxml.

``build_xml(doc)`` returns the root element with the CUFE/CUDE, SoftwareSecurityCode and QR computed from the
exact strings written into the tree. The second ``ext:UBLExtension`` holds an empty ``ext:ExtensionContent``
where ``xades.sign`` places the signature. Element order follows the UBL 2.1 XSD for each root.
"""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from . import cufe as cufe_mod
from .model import (CREDIT_NOTE, DEBIT_NOTE, DIAN_DV, DIAN_NIT, INVOICE, PARTY_TAX_SCHEMES, TAXES, WITHHOLDINGS,
                    AllowanceCharge, Document, Party)
from .totals import Totals, compute

NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "ext": "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2",
    "sts": "dian:gov:co:facturaelectronica:Structures-2-1",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xades": "http://uri.etsi.org/01903/v1.3.2#",
    "xades141": "http://uri.etsi.org/01903/v1.4.1#",
}
ROOT_NS = {
    INVOICE: "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    CREDIT_NOTE: "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
    DEBIT_NOTE: "urn:oasis:names:specification:ubl:schema:xsd:DebitNote-2",
}
ROOT_NAME = {INVOICE: "Invoice", CREDIT_NOTE: "CreditNote", DEBIT_NOTE: "DebitNote"}
PROFILE_ID = {
    INVOICE: "DIAN 2.1: Factura Electrónica de Venta",
    CREDIT_NOTE: "DIAN 2.1: Nota Crédito de Factura Electrónica de Venta",
    DEBIT_NOTE: "DIAN 2.1: Nota Débito de Factura Electrónica de Venta",
}
LINE_NAME = {INVOICE: ("InvoiceLine", "InvoicedQuantity"), CREDIT_NOTE: ("CreditNoteLine", "CreditedQuantity"),
             DEBIT_NOTE: ("DebitNoteLine", "DebitedQuantity")}
AGENCY = {"schemeAgencyID": "195", "schemeAgencyName": "CO, DIAN (Dirección de Impuestos y Aduanas Nacionales)"}
QR_BASE = {"1": "https://catalogo-vpfe.dian.gov.co/document/searchqr?documentkey=",
           "2": "https://catalogo-vpfe-hab.dian.gov.co/document/searchqr?documentkey="}
TIME_OFFSET = "-05:00"

CAC, CBC, EXT, STS = ("{%s}" % NS[p] for p in ("cac", "cbc", "ext", "sts"))
_SE = etree.SubElement


def money(x: Decimal) -> str:
    """Amount as written in the XML: exactly 2 decimals."""
    return str(Decimal(x).quantize(Decimal("0.01")))


def number(x: Decimal, min_places: int = 2) -> str:
    """Quantity/price/percent: plain notation with at least ``min_places`` decimals, no exponent."""
    d = Decimal(x)
    if d == d.to_integral_value() or -d.as_tuple().exponent < min_places:
        d = d.quantize(Decimal(1).scaleb(-min_places))
    return format(d, "f")


def _e(parent, tag: str, text: str | None = None, attrib: dict | None = None):
    el = _SE(parent, tag, attrib) if attrib else _SE(parent, tag)
    if text is not None:
        el.text = text
    return el


def _amount(parent, tag: str, value: Decimal, currency: str):
    el = _SE(parent, tag, {"currencyID": currency})
    el.text = money(value)
    return el


def _id_attrs(party: Party) -> dict:
    attrs = dict(AGENCY)
    if party.id_type == "31":
        attrs["schemeID"] = party.dv or ""
    attrs["schemeName"] = party.id_type
    return attrs


def _address(parent, tag: str, a):
    addr = _e(parent, tag)
    _e(addr, CBC + "ID", a.city_code)
    _e(addr, CBC + "CityName", a.city_name)
    if a.postal_zone:
        _e(addr, CBC + "PostalZone", a.postal_zone)
    _e(addr, CBC + "CountrySubentity", a.department_name)
    _e(addr, CBC + "CountrySubentityCode", a.department_code)
    _e(_e(addr, CAC + "AddressLine"), CBC + "Line", a.line)
    country = _e(addr, CAC + "Country")
    _e(country, CBC + "IdentificationCode", a.country_code)
    _e(country, CBC + "Name", a.country_name, {"languageID": "es"})


def _party(parent, tag: str, party: Party, prefix: str | None, customer: bool):
    wrapper = _e(parent, CAC + tag)
    _e(wrapper, CBC + "AdditionalAccountID", party.organization_code)
    p = _e(wrapper, CAC + "Party")
    attrs = _id_attrs(party)
    if customer:
        _e(_e(p, CAC + "PartyIdentification"), CBC + "ID", party.id_number, attrs)
    _e(_e(p, CAC + "PartyName"), CBC + "Name", party.commercial_name or party.name)
    if party.address:
        _address(_e(p, CAC + "PhysicalLocation"), CAC + "Address", party.address)
    pts = _e(p, CAC + "PartyTaxScheme")
    _e(pts, CBC + "RegistrationName", party.name)
    _e(pts, CBC + "CompanyID", party.id_number, attrs)
    _e(pts, CBC + "TaxLevelCode", ";".join(party.responsibilities), {"listName": "48"})
    if party.address:
        _address(pts, CAC + "RegistrationAddress", party.address)
    ts = _e(pts, CAC + "TaxScheme")
    _e(ts, CBC + "ID", party.tax_scheme)
    _e(ts, CBC + "Name", PARTY_TAX_SCHEMES.get(party.tax_scheme, party.tax_scheme))
    ple = _e(p, CAC + "PartyLegalEntity")
    _e(ple, CBC + "RegistrationName", party.name)
    _e(ple, CBC + "CompanyID", party.id_number, attrs)
    if prefix:
        _e(_e(ple, CAC + "CorporateRegistrationScheme"), CBC + "ID", prefix)
    if party.email or party.phone:
        c = _e(p, CAC + "Contact")
        if party.phone:
            _e(c, CBC + "Telephone", party.phone)
        if party.email:
            _e(c, CBC + "ElectronicMail", party.email)


def _allowance_charge(parent, i: int, ac: AllowanceCharge, cur: str):
    el = _e(parent, CAC + "AllowanceCharge")
    _e(el, CBC + "ID", str(i))
    _e(el, CBC + "ChargeIndicator", "true" if ac.charge else "false")
    if not ac.charge and ac.reason_code:
        _e(el, CBC + "AllowanceChargeReasonCode", ac.reason_code)
    if ac.reason:
        _e(el, CBC + "AllowanceChargeReason", ac.reason)
    if ac.percent is not None:
        _e(el, CBC + "MultiplierFactorNumeric", number(ac.percent))
    _amount(el, CBC + "Amount", ac.amount, cur)
    if ac.base_amount is not None:
        _amount(el, CBC + "BaseAmount", ac.base_amount, cur)


def _tax_total(parent, tag: str, tt, cur: str, names=None):
    el = _e(parent, CAC + tag)
    _amount(el, CBC + "TaxAmount", tt.amount, cur)
    for s in tt.subtotals:
        sub = _e(el, CAC + "TaxSubtotal")
        _amount(sub, CBC + "TaxableAmount", s.taxable, cur)
        _amount(sub, CBC + "TaxAmount", s.amount, cur)
        cat = _e(sub, CAC + "TaxCategory")
        _e(cat, CBC + "Percent", number(s.rate))
        ts = _e(cat, CAC + "TaxScheme")
        _e(ts, CBC + "ID", s.scheme)
        _e(ts, CBC + "Name", TAXES.get(s.scheme) or WITHHOLDINGS.get(s.scheme, s.scheme))
    return el


def _extensions(root, doc: Document, ssc: str, qr: str):
    exts = _e(root, EXT + "UBLExtensions")
    dian = _e(_e(_e(exts, EXT + "UBLExtension"), EXT + "ExtensionContent"), STS + "DianExtensions")
    n = doc.numbering
    if doc.kind == INVOICE:
        ic = _e(dian, STS + "InvoiceControl")
        _e(ic, STS + "InvoiceAuthorization", n.resolution)
        period = _e(ic, STS + "AuthorizationPeriod")
        _e(period, CBC + "StartDate", n.valid_from.isoformat() if n.valid_from else "")
        _e(period, CBC + "EndDate", n.valid_to.isoformat() if n.valid_to else "")
        ai = _e(ic, STS + "AuthorizedInvoices")
        if n.prefix:
            _e(ai, STS + "Prefix", n.prefix)
        _e(ai, STS + "From", str(n.range_from if n.range_from is not None else ""))
        _e(ai, STS + "To", str(n.range_to if n.range_to is not None else ""))
    src = _e(dian, STS + "InvoiceSource")
    _e(src, CBC + "IdentificationCode", "CO", {
        "listAgencyID": "6", "listAgencyName": "United Nations Economic Commission for Europe",
        "listSchemeURI": "urn:oasis:names:specification:ubl:codelist:gc:CountryIdentificationCode-2.1"})
    sp = _e(dian, STS + "SoftwareProvider")
    _e(sp, STS + "ProviderID", doc.software.provider_nit,
       {**AGENCY, "schemeID": doc.software.provider_dv, "schemeName": "31"})
    _e(sp, STS + "SoftwareID", doc.software.id, AGENCY)
    _e(dian, STS + "SoftwareSecurityCode", ssc, AGENCY)
    ap = _e(dian, STS + "AuthorizationProvider")
    _e(ap, STS + "AuthorizationProviderID", DIAN_NIT, {**AGENCY, "schemeID": DIAN_DV, "schemeName": "31"})
    _e(dian, STS + "QRCode", qr)
    _e(_e(exts, EXT + "UBLExtension"), EXT + "ExtensionContent")  # signature goes here


def build_xml(doc: Document, totals: Totals | None = None) -> etree._Element:
    """Build the unsigned UBL 2.1 tree of ``doc``."""
    t = totals or compute(doc)
    kind, cur = doc.kind, doc.currency
    rns = ROOT_NS[kind]
    root = etree.Element("{%s}%s" % (rns, ROOT_NAME[kind]), nsmap={None: rns, **NS})

    doc_id = doc.document_id
    issue_date = doc.issue_date.isoformat()
    issue_time = doc.issue_time.strftime("%H:%M:%S") + TIME_OFFSET
    s_line_ext, s_payable = money(t.line_extension), money(t.payable)
    s_taxes = {tt.scheme: money(tt.amount) for tt in t.taxes}
    key = doc.software.pin if doc.uses_cude else doc.numbering.technical_key
    uuid = cufe_mod.cufe(doc_id, issue_date, issue_time, s_line_ext, s_taxes.get("01", "0.00"),
                         s_taxes.get("04", "0.00"), s_taxes.get("03", "0.00"), s_payable,
                         doc.supplier.id_number, doc.customer.id_number, key, doc.environment)
    ssc = cufe_mod.software_security_code(doc.software.id, doc.software.pin, doc_id)
    _extensions(root, doc, ssc, QR_BASE.get(doc.environment, QR_BASE["2"]) + uuid)

    _e(root, CBC + "UBLVersionID", "UBL 2.1")
    _e(root, CBC + "CustomizationID", doc.operation_type)
    _e(root, CBC + "ProfileID", PROFILE_ID[kind])
    _e(root, CBC + "ProfileExecutionID", doc.environment)
    _e(root, CBC + "ID", doc_id)
    _e(root, CBC + "UUID", uuid, {"schemeID": doc.environment,
                                  "schemeName": "CUDE-SHA384" if doc.uses_cude else "CUFE-SHA384"})
    _e(root, CBC + "IssueDate", issue_date)
    _e(root, CBC + "IssueTime", issue_time)
    if kind == INVOICE:
        if doc.due_date:
            _e(root, CBC + "DueDate", doc.due_date.isoformat())
        _e(root, CBC + "InvoiceTypeCode", doc.type_code)
    elif kind == CREDIT_NOTE:
        _e(root, CBC + "CreditNoteTypeCode", doc.type_code)
    for note in doc.notes:
        _e(root, CBC + "Note", note)
    _e(root, CBC + "DocumentCurrencyCode", cur)
    _e(root, CBC + "LineCountNumeric", str(len(doc.lines)))
    if doc.invoice_period:
        ip = _e(root, CAC + "InvoicePeriod")
        _e(ip, CBC + "StartDate", doc.invoice_period[0].isoformat())
        _e(ip, CBC + "EndDate", doc.invoice_period[1].isoformat())
    if kind != INVOICE:
        dr = _e(root, CAC + "DiscrepancyResponse")
        if doc.billing_reference:
            _e(dr, CBC + "ReferenceID", doc.billing_reference.number)
        _e(dr, CBC + "ResponseCode", doc.discrepancy_code)
        _e(dr, CBC + "Description", doc.discrepancy_description)
    if doc.billing_reference:
        br = doc.billing_reference
        idr = _e(_e(root, CAC + "BillingReference"), CAC + "InvoiceDocumentReference")
        _e(idr, CBC + "ID", br.number)
        _e(idr, CBC + "UUID", br.uuid, {"schemeName": br.scheme_name})
        _e(idr, CBC + "IssueDate", br.issue_date.isoformat())

    _party(root, "AccountingSupplierParty", doc.supplier, doc.numbering.prefix or None, customer=False)
    _party(root, "AccountingCustomerParty", doc.customer, None, customer=True)

    def payment_means():
        pm = _e(root, CAC + "PaymentMeans")
        _e(pm, CBC + "ID", doc.payment.method)
        _e(pm, CBC + "PaymentMeansCode", doc.payment.means_code)
        if doc.payment.due_date:
            _e(pm, CBC + "PaymentDueDate", doc.payment.due_date.isoformat())
        if doc.payment.reference:
            _e(pm, CBC + "PaymentID", doc.payment.reference)

    def prepaid():
        for i, p in enumerate(doc.prepayments, 1):
            pp = _e(root, CAC + "PrepaidPayment")
            _e(pp, CBC + "ID", p.id or str(i))
            _amount(pp, CBC + "PaidAmount", p.amount, cur)
            _e(pp, CBC + "ReceivedDate", p.received_date.isoformat())

    def charges():
        for i, ac in enumerate(doc.allowance_charges, 1):
            _allowance_charge(root, i, ac, cur)

    if kind == INVOICE:
        payment_means(); prepaid(); charges()  # noqa: E702
    elif kind == CREDIT_NOTE:
        payment_means(); charges()  # noqa: E702
    else:
        prepaid(); charges(); payment_means()  # noqa: E702
    for tt in t.taxes:
        _tax_total(root, "TaxTotal", tt, cur)
    if kind == INVOICE:
        for wt in t.withholdings:
            _tax_total(root, "WithholdingTaxTotal", wt, cur)

    lmt = _e(root, CAC + ("RequestedMonetaryTotal" if kind == DEBIT_NOTE else "LegalMonetaryTotal"))
    _amount(lmt, CBC + "LineExtensionAmount", t.line_extension, cur).text = s_line_ext
    _amount(lmt, CBC + "TaxExclusiveAmount", t.tax_exclusive, cur)
    _amount(lmt, CBC + "TaxInclusiveAmount", t.tax_inclusive, cur)
    if t.allowance_total:
        _amount(lmt, CBC + "AllowanceTotalAmount", t.allowance_total, cur)
    if t.charge_total:
        _amount(lmt, CBC + "ChargeTotalAmount", t.charge_total, cur)
    if t.prepaid:
        _amount(lmt, CBC + "PrepaidAmount", t.prepaid, cur)
    _amount(lmt, CBC + "PayableAmount", t.payable, cur).text = s_payable

    line_tag, qty_tag = LINE_NAME[kind]
    for i, (line, lt) in enumerate(zip(doc.lines, t.lines), 1):
        le = _e(root, CAC + line_tag)
        _e(le, CBC + "ID", str(i))
        if line.note:
            _e(le, CBC + "Note", line.note)
        _e(le, CBC + qty_tag, number(line.quantity), {"unitCode": line.unit_code})
        _amount(le, CBC + "LineExtensionAmount", lt.extension, cur)
        if kind == INVOICE:
            for j, ac in enumerate(line.allowance_charges, 1):
                _allowance_charge(le, j, ac, cur)
        for tt in lt.taxes:
            _tax_total(le, "TaxTotal", tt, cur)
        if kind != INVOICE:
            for j, ac in enumerate(line.allowance_charges, 1):
                _allowance_charge(le, j, ac, cur)
        item = _e(le, CAC + "Item")
        _e(item, CBC + "Description", line.description)
        if line.code:
            _e(_e(item, CAC + "StandardItemIdentification"), CBC + "ID", line.code, {"schemeID": "999"})
        price = _e(le, CAC + "Price")
        _e(price, CBC + "PriceAmount", number(line.unit_price), {"currencyID": cur})
        _e(price, CBC + "BaseQuantity", number(line.quantity), {"unitCode": line.unit_code})
    return root


def to_bytes(root) -> bytes:
    """Serialise without any pretty-printing (signatures depend on the exact bytes)."""
    return b'<?xml version="1.0" encoding="UTF-8"?>' + etree.tostring(root, encoding="UTF-8", xml_declaration=False)
