"""AttachedDocument: the container DIAN's Anexo prescribes for delivering a validated document to the buyer.

It carries the signed invoice (or note) and DIAN's ApplicationResponse verbatim, each inside a CDATA
section, plus the parties and the validation result. Sign it with `xades.sign` (the signature goes into
the first UBLExtension) and deliver it zipped with the PDF.
"""

from __future__ import annotations

import datetime as dt

from lxml import etree

from ._read import document_info, parse, text
from .ns import CAC, CBC, DS, EXT, ROOT, XADES

NS_DOC = ROOT["AttachedDocument"]
NSMAP = {None: NS_DOC, "cbc": CBC, "cac": CAC, "ext": EXT, "ds": DS, "xades": XADES}
PROFILES = {"invoice": "Factura Electrónica de Venta", "credit_note": "Nota Crédito", "debit_note": "Nota Débito"}
COT = dt.timezone(dt.timedelta(hours=-5))
DIAN_VALIDATOR = "Unidad Especial Dirección de Impuestos y Aduanas Nacionales"


def _e(parent, ns, tag, value=None, **attrib):
    el = etree.SubElement(parent, f"{{{ns}}}{tag}", {k.replace("_", ""): v for k, v in attrib.items()})
    if value is not None:
        el.text = value
    return el


def _party(parent, tag, source_party):
    """Copy a party's PartyTaxScheme (name, company id, tax level, tax scheme) from the document."""
    wrapper = _e(parent, CAC, tag)
    scheme = source_party.find(f"{{{CAC}}}PartyTaxScheme") if source_party is not None else None
    if scheme is not None:
        wrapper.append(etree.fromstring(etree.tostring(scheme)))
    return wrapper


def build_attached_document(document_xml: bytes, application_response: bytes | None, *,
                            when: dt.datetime | None = None, validation_code: str = "02") -> etree._Element:
    root = parse(document_xml)
    info = document_info(root)
    kind = info.get("kind") or "invoice"
    when = (when or dt.datetime.now(COT)).astimezone(COT)
    out = etree.Element(f"{{{NS_DOC}}}AttachedDocument", nsmap=NSMAP)
    _e(out, EXT, "UBLExtensions")
    _e(out, CBC, "UBLVersionID", "UBL 2.1")
    _e(out, CBC, "CustomizationID", "Documentos adjuntos")
    _e(out, CBC, "ProfileID", "DIAN 2.1")
    _e(out, CBC, "ProfileExecutionID", text(root, "cbc:ProfileExecutionID") or "2")
    _e(out, CBC, "ID", info.get("number") or text(root, "cbc:ID"))
    _e(out, CBC, "IssueDate", when.date().isoformat())
    _e(out, CBC, "IssueTime", when.strftime("%H:%M:%S-05:00"))
    _e(out, CBC, "DocumentType", "Contenedor de " + PROFILES.get(kind, "Factura Electrónica de Venta"))
    _e(out, CBC, "ParentDocumentID", text(root, "cbc:ID"))
    _party(out, "SenderParty", root.find(f"{{{CAC}}}AccountingSupplierParty/{{{CAC}}}Party"))
    _party(out, "ReceiverParty", root.find(f"{{{CAC}}}AccountingCustomerParty/{{{CAC}}}Party"))
    attachment = _e(out, CAC, "Attachment")
    ref = _e(attachment, CAC, "ExternalReference")
    _e(ref, CBC, "MimeCode", "text/xml")
    _e(ref, CBC, "EncodingCode", "UTF-8")
    _e(ref, CBC, "Description").text = etree.CDATA(document_xml.decode("utf-8"))
    line = _e(out, CAC, "ParentDocumentLineReference")
    _e(line, CBC, "LineID", "1")
    docref = _e(line, CAC, "DocumentReference")
    _e(docref, CBC, "ID", text(root, "cbc:ID"))
    _e(docref, CBC, "UUID", text(root, "cbc:UUID"), schemeName=root.find(f"{{{CBC}}}UUID").get("schemeName", "CUFE-SHA384"))
    _e(docref, CBC, "IssueDate", text(root, "cbc:IssueDate"))
    _e(docref, CBC, "DocumentType", "ApplicationResponse")
    if application_response:
        att = _e(docref, CAC, "Attachment")
        ext_ref = _e(att, CAC, "ExternalReference")
        _e(ext_ref, CBC, "MimeCode", "text/xml")
        _e(ext_ref, CBC, "EncodingCode", "UTF-8")
        _e(ext_ref, CBC, "Description").text = etree.CDATA(application_response.decode("utf-8"))
    result = _e(docref, CAC, "ResultOfVerification")
    _e(result, CBC, "ValidatorID", DIAN_VALIDATOR)
    _e(result, CBC, "ValidationResultCode", validation_code)
    _e(result, CBC, "ValidationDate", when.date().isoformat())
    _e(result, CBC, "ValidationTime", when.strftime("%H:%M:%S-05:00"))
    return out


def extract(attached_xml: bytes) -> tuple[bytes, bytes | None]:
    """The embedded document and ApplicationResponse, byte for byte."""
    root = parse(attached_xml)
    doc = root.find(f"{{{CAC}}}Attachment/{{{CAC}}}ExternalReference/{{{CBC}}}Description")
    ar = root.find(f"{{{CAC}}}ParentDocumentLineReference/{{{CAC}}}DocumentReference/{{{CAC}}}Attachment/"
                   f"{{{CAC}}}ExternalReference/{{{CBC}}}Description")
    return doc.text.encode("utf-8"), (ar.text.encode("utf-8") if ar is not None and ar.text else None)
