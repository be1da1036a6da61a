"""Pre-validation of DIAN documents against the most frequent DIAN rejection/notification rules.

``prevalidate`` works on XML bytes (what the DIAN sandbox receives) or on a ``model.Document`` (built to XML
first). Checks that need outside knowledge run only when it is given: ``technical_key``/``pin`` (CUFE/CUDE,
SoftwareSecurityCode), ``software_id`` (FAB24b), ``numbering`` (the authorised range: FAB05b..FAB12b),
``lookup_invoice`` (referenced invoices: CBG04a/CBG04b), ``schema_dir`` (ZB01 XSD).

Rule codes follow the Anexo Técnico (invoice codes FAxxx become CAxxx / DAxxx for credit / debit notes).
Codes marked "approx." in docs/dian-json.md are our best mapping where the Anexo wording was not at hand.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

from lxml import etree
from stdnum.co import nit as co_nit

from . import cufe as cufe_mod
from . import xsd as xsd_mod
from ._read import DIAN_EXT, dec, document_info, lines, parse, rule, text, xp
from .model import ID_TYPES, IVA_RATES, RESPONSIBILITIES, Document, Numbering
from .verify import totals_findings, verify_signature

REJECTION, NOTIFICATION = "rejection", "notification"
NOTIFICATION_SUFFIXES = {"B10b", "D09e", "K55", "X14"}  # FAB10b, FAD09e, FAK55, FAX14 (and CA/DA variants)


@dataclass
class Finding:
    code: str
    field: str
    message_es: str
    severity: str = REJECTION

    def to_dict(self) -> dict:
        return {"code": self.code, "field": self.field, "message_es": self.message_es, "severity": self.severity}


def _dv_ok(nit: str | None, dv: str | None) -> bool:
    if not nit or not nit.isdigit():
        return False
    return dv is not None and dv.strip() == co_nit.calc_check_digit(nit)


def _date(v: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(v) if v else None
    except ValueError:
        return None


def prevalidate(doc_or_xml, *, schema_dir: str | None = None, technical_key: str | None = None,
                pin: str | None = None, software_id: str | None = None, numbering: Numbering | None = None,
                lookup_invoice: Callable[[str, str], dict | None] | None = None, root=None,
                signature=None, totals: list[tuple[str, str]] | None = None) -> list[Finding]:
    """Return the findings (rejections and notifications) for a document; an empty list means no rule broke.

    ``lookup_invoice(uuid, number)`` returns ``{"supplier_nit": ..., "issue_date": "YYYY-MM-DD"}`` for a known
    invoice, or None. ``root``: XML bytes already parsed (safely, by ``_read.parse`` or the UBL builder) by the
    caller; it is only read, not parsed again. ``signature``: the ``verify.Check`` of ``verify_signature`` the
    caller already has for these bytes (``verify_document`` runs it too), so the signature is not verified twice;
    ``totals``: ``verify.totals_findings`` of ``root`` as the caller already has it, likewise.
    """
    if isinstance(doc_or_xml, Document):
        from . import ubl
        doc = doc_or_xml
        xml_bytes = ubl.to_bytes(ubl.build_xml(doc))
        technical_key = technical_key or doc.numbering.technical_key or None
        pin = pin or doc.software.pin or None
        software_id = software_id or doc.software.id
    else:
        xml_bytes = bytes(doc_or_xml)
    out: list[Finding] = []

    def add(code, field, msg, severity=None):
        out.append(Finding(code, field, msg, severity or (NOTIFICATION if code[2:] in NOTIFICATION_SUFFIXES
                                                          else REJECTION)))

    try:
        root = parse(xml_bytes) if root is None else root
    except etree.XMLSyntaxError as exc:
        add("ZB01", "/", f"Fallo en el esquema XML del archivo: XML mal formado ({exc}).")
        return out
    info = document_info(root)
    kind = info["kind"]
    if kind is None:
        add("ZB01", "/", "Fallo en el esquema XML del archivo: la raíz debe ser Invoice, CreditNote o DebitNote.")
        return out
    R = lambda c: rule(kind, c)  # noqa: E731
    root_name = info["root"]

    # ZB01: XSD
    if schema_dir:
        signed = bool(xp(root, "//ds:Signature"))
        for err in xsd_mod.validate_xsd(xml_bytes, schema_dir, allow_unsigned=not signed)[:10]:
            add("ZB01", "/" + root_name, f"Fallo en el esquema XML del archivo: {err}")

    # Signature (only for signed documents)
    sigs = xp(root, "//ds:Signature")
    if sigs:
        check = signature if signature is not None else verify_signature(xml_bytes, root)
        if check.ok is False:
            add(check.rule or "ZE02", "ds:Signature", check.message)
        signing_time = text(sigs[0], ".//xades:SigningTime")
        if signing_time and info["issue_date"] and signing_time[:10] != info["issue_date"]:
            add(R("FAD09e"), "cbc:IssueDate", "La fecha de emisión debe ser igual a la fecha de la firma "
                                              f"({signing_time[:10]}).")

    # CUFE / CUDE
    cude = info["type"] in ("03", "91", "92")
    key = pin if cude else technical_key
    if key:
        expected = cufe_mod.cufe(info["number"] or "", info["issue_date"] or "", info["issue_time"] or "",
                                 info["line_extension"], info["tax_iva"], info["tax_inc"], info["tax_ica"],
                                 info["payable"], info["supplier_nit"] or "", info["customer_id"] or "", key,
                                 info["environment"] or "")
        if (info["uuid"] or "").lower() != expected:
            add(R("FAD06"), "cbc:UUID", f"Valor del {'CUDE' if cude else 'CUFE'} no está calculado correctamente.")

    # Software
    sid = info["software_id"]
    if software_id and sid != software_id:
        add(R("FAB24b"), "sts:SoftwareID", "El identificador del software no corresponde a un software autorizado "
                                        "para este emisor.")
    if pin and sid and (info["software_security_code"] or "").lower() != cufe_mod.software_security_code(
            sid, pin, info["number"] or ""):
        add(R("FAB27b"), "sts:SoftwareSecurityCode", "La huella del software (SoftwareSecurityCode) no corresponde a "
                                                  "SHA-384(SoftwareID + PIN + número del documento).")
    provider = xp(root, DIAN_EXT + "/sts:SoftwareProvider/sts:ProviderID")
    if provider and not _dv_ok((provider[0].text or "").strip(), provider[0].get("schemeID")):
        add(R("FAB22"), "sts:ProviderID/@schemeID", "El DV del NIT del proveedor de software no es correcto.")

    # Numbering (invoices carry InvoiceControl)
    issue_date = _date(info["issue_date"])
    if kind == "invoice":
        ic = DIAN_EXT + "/sts:InvoiceControl"
        resolution = text(root, ic + "/sts:InvoiceAuthorization")
        start, end = _date(text(root, ic + "/sts:AuthorizationPeriod/cbc:StartDate")), _date(
            text(root, ic + "/sts:AuthorizationPeriod/cbc:EndDate"))
        prefix = text(root, ic + "/sts:AuthorizedInvoices/sts:Prefix") or ""
        r_from, r_to = (text(root, ic + f"/sts:AuthorizedInvoices/sts:{t}") for t in ("From", "To"))
        if not resolution:
            add("FAB05a", "sts:InvoiceAuthorization", "No se encuentra el número de autorización del rango de "
                                                      "numeración otorgado.")
        elif numbering and numbering.resolution and resolution != numbering.resolution:
            add("FAB05b", "sts:InvoiceAuthorization", "El número de la resolución no corresponde a una resolución "
                                                      "de este emisor.")
        if start and issue_date and issue_date < start:
            add("FAB07a", "cbc:IssueDate", "Fecha de emisión anterior a la fecha de inicio de la autorización de "
                                           "numeración.")
        if numbering and numbering.valid_from and start != numbering.valid_from:
            add("FAB07b", "sts:AuthorizationPeriod/cbc:StartDate", "La fecha inicial no corresponde a la de la "
                                                                  "resolución de numeración.")
        if end and issue_date and issue_date > end:
            add("FAB08a", "cbc:IssueDate", "Fecha de emisión posterior a la fecha final de la autorización de "
                                           "numeración.")
        if numbering and numbering.valid_to and end != numbering.valid_to:
            add("FAB08b", "sts:AuthorizationPeriod/cbc:EndDate", "La fecha final no corresponde a la de la "
                                                                "resolución de numeración.")
        number = info["number"] or ""
        if (numbering and numbering.prefix != prefix) or not number.startswith(prefix):
            add("FAB10b", "sts:Prefix", "El prefijo no corresponde al prefijo de la autorización de numeración.")
        if numbering and numbering.range_from is not None and r_from != str(numbering.range_from):
            add("FAB11b", "sts:From", "El valor inicial del rango no corresponde al autorizado.")
        if numbering and numbering.range_to is not None and r_to != str(numbering.range_to):
            add("FAB12b", "sts:To", "El valor final del rango no corresponde al autorizado.")
        consecutive = number[len(prefix):] if number.startswith(prefix) else ""
        if not (consecutive.isdigit() and r_from and r_to and r_from.isdigit() and r_to.isdigit()
                and int(r_from) <= int(consecutive) <= int(r_to)):
            add("FAD05e", "cbc:ID", "Número de factura no existe para el número de autorización (fuera del rango "
                                    f"{prefix}{r_from}-{r_to}).")

    # Parties
    for role, letter in (("AccountingSupplierParty", "J"), ("AccountingCustomerParty", "K")):
        base = f"cac:{role}/cac:Party/cac:PartyTaxScheme"
        cid = xp(root, base + "/cbc:CompanyID")
        if cid and cid[0].get("schemeName") == "31" and not _dv_ok((cid[0].text or "").strip(),
                                                                    cid[0].get("schemeID")):
            add(R(f"FA{letter}24"), base + "/cbc:CompanyID/@schemeID", "DV no corresponde al NIT informado.")
        levels = text(root, base + "/cbc:TaxLevelCode") or ""
        bad = [v for v in (x.strip() for x in levels.split(";")) if v not in RESPONSIBILITIES]
        if bad or not levels:
            add(R(f"FA{letter}26"), base + "/cbc:TaxLevelCode",
                f"Responsabilidad fiscal no válida: {', '.join(bad) or '(vacía)'}; use "
                f"{', '.join(RESPONSIBILITIES)}.")
    cus = "cac:AccountingCustomerParty"
    if not text(root, cus + "/cac:Party/cac:Contact/cbc:ElectronicMail"):
        add(R("FAK55"), cus + "/cac:Party/cac:Contact/cbc:ElectronicMail", "No se informó el correo electrónico del "
                                                                          "adquirente.")
    if text(root, cus + "/cbc:AdditionalAccountID") == "2":
        pid = xp(root, cus + "/cac:Party/cac:PartyIdentification/cbc:ID")
        if not pid or not (pid[0].text or "").strip():
            add(R("FAK61"), cus + "/cac:Party/cac:PartyIdentification/cbc:ID",
                "Adquirente persona natural: falta el número de identificación (PartyIdentification).")
        elif pid[0].get("schemeName") not in ID_TYPES:
            add(R("FAK62"), cus + "/cac:Party/cac:PartyIdentification/cbc:ID/@schemeName",
                "Adquirente persona natural: el tipo de documento de identificación no es válido.")

    # Totals
    for code, msg in totals if totals is not None else totals_findings(root, kind):
        add(code, "cac:LegalMonetaryTotal" if "U" in code[2:3] else "cac:TaxTotal", msg)
    for li_no, li in enumerate(lines(root), 1):
        for sub in xp(li, "cac:TaxTotal/cac:TaxSubtotal[cac:TaxCategory/cac:TaxScheme/cbc:ID='01']"):
            pct = dec(text(sub, "cac:TaxCategory/cbc:Percent"))
            if pct is not None and pct not in IVA_RATES:
                add(R("FAX14"), f"línea {li_no}/cac:TaxCategory/cbc:Percent",
                    f"Tarifa de IVA {pct} % diferente de las tarifas vigentes (0, 5, 19).")

    # VLR01: negative values
    negatives = [el for el in root.iter(*_NON_NEGATIVE) if (el.text or "").strip().startswith("-")]
    for el in negatives[:5]:
        add("VLR01", root.getroottree().getpath(el), f"No se permiten valores negativos ({el.text.strip()}).")

    # Delivery
    for d in xp(root, "cac:Delivery"):
        if not text(d, "cbc:ActualDeliveryDate"):
            add(R("FAM02"), "cac:Delivery/cbc:ActualDeliveryDate", "Falta la fecha de entrega (ActualDeliveryDate).")

    # Notes: references and periods
    if kind in ("credit_note", "debit_note"):
        p = "C" if kind == "credit_note" else "D"
        ref = xp(root, "cac:BillingReference/cac:InvoiceDocumentReference")
        cust = info["customization_id"]
        if cust in ("20", "30") and not ref:
            add(f"{p}BG02", "cac:BillingReference", "La nota debe referenciar la factura que corrige "
                                                    "(BillingReference).")
        if ref:
            ref_date = _date(text(ref[0], "cbc:IssueDate"))
            if ref_date and issue_date and issue_date < ref_date:
                add(f"{p}BG06", "cbc:IssueDate", "La fecha de la nota es anterior a la de la factura referenciada.")
            if lookup_invoice is not None:
                found = lookup_invoice(text(ref[0], "cbc:UUID") or "", text(ref[0], "cbc:ID") or "")
                if not found:
                    add(f"{p}BG04a", "cac:BillingReference/cac:InvoiceDocumentReference/cbc:UUID",
                        "El documento referenciado no existe en los registros.")
                elif str(found.get("supplier_nit") or "") != (info["supplier_nit"] or ""):
                    add(f"{p}BG04b", "cac:BillingReference/cac:InvoiceDocumentReference/cbc:UUID",
                        "El documento referenciado pertenece a otro emisor.")
        if cust in ("22", "32") or not ref:
            if not text(root, "cac:InvoicePeriod/cbc:StartDate"):
                add(f"{p}AE02", "cac:InvoicePeriod/cbc:StartDate", "Nota sin referencia a factura: falta la fecha "
                                                                   "de inicio del periodo facturado.")
            if not text(root, "cac:InvoicePeriod/cbc:EndDate"):
                add(f"{p}AE04", "cac:InvoicePeriod/cbc:EndDate", "Nota sin referencia a factura: falta la fecha "
                                                                 "final del periodo facturado.")
    return out


#: the elements that may not be negative (VLR01), in any namespace: lxml filters them in C while iterating
_NON_NEGATIVE = tuple("{*}" + name for name in (
    "Amount", "BaseAmount", "PriceAmount", "TaxAmount", "TaxableAmount", "LineExtensionAmount", "TaxExclusiveAmount",
    "TaxInclusiveAmount", "AllowanceTotalAmount", "ChargeTotalAmount", "PrepaidAmount", "PayableAmount", "PaidAmount",
    "Percent", "InvoicedQuantity", "CreditedQuantity", "DebitedQuantity", "BaseQuantity"))


def rejections(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == REJECTION]
