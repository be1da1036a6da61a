"""Read DIAN UBL documents (ours or third parties'): namespace-aware helpers shared by verify and validate."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import lru_cache

from lxml import etree

from .errors import DianError
from .ns import DIAN_EXTENSIONS, NS

KINDS = {"Invoice": "invoice", "CreditNote": "credit_note", "DebitNote": "debit_note"}
RULE_PREFIX = {"invoice": "FA", "credit_note": "CA", "debit_note": "DA"}
DIAN_EXT = DIAN_EXTENSIONS

#: Largest XML document read or parsed (bytes). A real invoice is well under 1 MB; an
#: AttachedDocument with its embedded invoice a few MB.
MAX_XML_BYTES = 20 * 2**20

# No entity expansion, no network, no DTD loading, libxml2's default size limits (no huge_tree).
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False,
                          remove_blank_text=False)


class XmlInputError(DianError):
    """An XML input refused before (or right after) parsing: too large (``xml.too_large``) or
    carrying a DTD / entity declarations (``xml.dtd``)."""


def _too_large(size_text: str, max_bytes: int) -> XmlInputError:
    return XmlInputError(
        "xml.too_large", "documento",
        f"El documento XML ocupa {size_text}; el máximo admitido es {max_bytes:,} bytes "
        f"({max_bytes / 2**20:.0f} MB).", english=f"xml.too_large: document larger than {max_bytes} bytes")


def check_size(xml_bytes: bytes, max_bytes: int | None = MAX_XML_BYTES) -> None:
    if max_bytes is not None and len(xml_bytes) > max_bytes:
        raise _too_large(f"{len(xml_bytes):,} bytes", max_bytes)


def read_xml(path_or_file, max_bytes: int | None = MAX_XML_BYTES) -> bytes:
    """Read an XML document from a path or binary file, at most ``max_bytes`` (reads N+1 bytes and
    refuses with ``XmlInputError("xml.too_large")`` when there are more; safe on ``/dev/zero``).
    ``OSError`` propagates."""
    if isinstance(path_or_file, (str, bytes)) or hasattr(path_or_file, "__fspath__"):
        with open(path_or_file, "rb") as fh:
            return read_xml(fh, max_bytes)
    data = path_or_file.read(-1 if max_bytes is None else max_bytes + 1)
    if max_bytes is not None and len(data) > max_bytes:
        raise _too_large("más de esa cantidad", max_bytes)
    return data


def parse(xml_bytes: bytes, *, max_bytes: int | None = MAX_XML_BYTES):
    """Parse untrusted XML safely. Raises ``etree.XMLSyntaxError`` (malformed) or ``XmlInputError``
    (larger than ``max_bytes``; DOCTYPE/entity declarations, which no DIAN document has)."""
    check_size(xml_bytes, max_bytes)
    root = etree.fromstring(xml_bytes, _PARSER)
    refuse_doctype(root)
    return root


def doctype_problem(root) -> str | None:
    """Spanish reason why ``root``'s document may not be accepted for its DOCTYPE, or None without one.

    An external DTD (``SYSTEM``/``PUBLIC``) is named: it is never loaded, so whatever it declares
    (entities, default attributes) would silently be missing from what is checked."""
    docinfo = root.getroottree().docinfo
    if not (docinfo.doctype or docinfo.internalDTD is not None):
        return None
    external = docinfo.system_url or docinfo.public_id
    if external:
        return (f"El documento XML declara un DOCTYPE con una DTD externa ({external!s}); no se carga ni se "
                "admite en documentos electrónicos (sus entidades y valores por defecto no se aplicarían).")
    return "El documento XML declara un DOCTYPE o entidades; no se admiten en documentos electrónicos."


def refuse_doctype(root) -> None:
    problem = doctype_problem(root)
    if problem:
        raise XmlInputError("xml.dtd", "documento", problem,
                            english="xml.dtd: DOCTYPE/entity declarations refused")


def kind_of(root) -> str | None:
    return KINDS.get(etree.QName(root).localname)


def rule(kind: str | None, code: str) -> str:
    """Adapt an invoice rule code (FAxxx) to the document kind (CAxxx credit note, DAxxx debit note)."""
    if code.startswith("FA") and kind in RULE_PREFIX:
        return RULE_PREFIX[kind] + code[2:]
    return code


@lru_cache(maxsize=1024)
def _xpath(path: str) -> etree.XPath:
    """A compiled XPath: ``el.xpath(path)`` compiles the expression on every call, which was most of the time
    spent reading a document (verify calls these helpers about 250 times per AttachedDocument)."""
    return etree.XPath(path, namespaces=NS)


def xp(el, path: str) -> list:
    return _xpath(path)(el)


def text(el, path: str) -> str | None:
    found = _xpath(path)(el)
    if not found:
        return None
    v = found[0]
    if isinstance(v, str):
        return v.strip()
    return (v.text or "").strip()


def dec(value: str | None) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def monetary_total(root):
    found = xp(root, "cac:LegalMonetaryTotal|cac:RequestedMonetaryTotal")
    return found[0] if found else None


def header_tax(root, code: str) -> str | None:
    """TaxAmount of the first header TaxTotal for tax ``code`` (what DIAN's validator uses)."""
    for tt in xp(root, "cac:TaxTotal"):
        if code in [s.strip() for s in xp(tt, "cac:TaxSubtotal/cac:TaxCategory/cac:TaxScheme/cbc:ID/text()")]:
            return text(tt, "cbc:TaxAmount")
    return None


def type_code(root, kind: str | None) -> str | None:
    if kind == "invoice":
        return text(root, "cbc:InvoiceTypeCode") or "01"
    if kind == "credit_note":
        return text(root, "cbc:CreditNoteTypeCode") or "91"
    if kind == "debit_note":
        return "92"
    return None


def party_id(root, role: str) -> dict:
    base = f"cac:{role}/cac:Party/cac:PartyTaxScheme/cbc:CompanyID"
    el = xp(root, base)
    if not el:
        return {"id": None, "dv": None, "scheme": None}
    el = el[0]
    return {"id": (el.text or "").strip(), "dv": el.get("schemeID"), "scheme": el.get("schemeName")}


def document_info(root) -> dict:
    kind = kind_of(root)
    lmt = monetary_total(root)
    sup, cus = party_id(root, "AccountingSupplierParty"), party_id(root, "AccountingCustomerParty")
    return {
        "root": etree.QName(root).localname,
        "kind": kind,
        "type": type_code(root, kind),
        "number": text(root, "cbc:ID"),
        "uuid": text(root, "cbc:UUID"),
        "uuid_scheme": text(root, "cbc:UUID/@schemeName"),
        "environment": text(root, "cbc:ProfileExecutionID"),
        "customization_id": text(root, "cbc:CustomizationID"),
        "issue_date": text(root, "cbc:IssueDate"),
        "issue_time": text(root, "cbc:IssueTime"),
        "currency": text(root, "cbc:DocumentCurrencyCode"),
        "supplier_nit": sup["id"],
        "supplier_dv": sup["dv"],
        "supplier_name": text(root, "cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/cbc:RegistrationName"),
        "customer_id": cus["id"],
        "customer_dv": cus["dv"],
        "customer_name": text(root, "cac:AccountingCustomerParty/cac:Party/cac:PartyTaxScheme/cbc:RegistrationName"),
        "line_extension": text(lmt, "cbc:LineExtensionAmount") if lmt is not None else None,
        "tax_iva": header_tax(root, "01"),
        "tax_inc": header_tax(root, "04"),
        "tax_ica": header_tax(root, "03"),
        "payable": text(lmt, "cbc:PayableAmount") if lmt is not None else None,
        "software_id": text(root, DIAN_EXT + "/sts:SoftwareProvider/sts:SoftwareID"),
        "provider_nit": text(root, DIAN_EXT + "/sts:SoftwareProvider/sts:ProviderID"),
        "software_security_code": text(root, DIAN_EXT + "/sts:SoftwareSecurityCode"),
        "billing_reference": text(root, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID"),
    }


def lines(root) -> list:
    return xp(root, "cac:InvoiceLine|cac:CreditNoteLine|cac:DebitNoteLine")
