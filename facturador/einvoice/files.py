"""The files of a DIAN document: signed XML, DIAN's ApplicationResponse, PDF, the zip of both XMLs, the
signed AttachedDocument of an accepted document, and the zip delivered to the buyer."""

import io
import zipfile

from django.core.files.base import ContentFile

from facturador.core.errors import NotFound
from facturador.dian import xades
from facturador.dian.attached import build_attached_document
from facturador.einvoice.models import DianDocument
from facturador.einvoice.pdf import render
from facturador.einvoice.services import signer_for


def attached_document(doc: DianDocument) -> bytes:
    root = build_attached_document(bytes(doc.signed_xml), bytes(doc.application_response) if doc.application_response else None,
                                   when=doc.answered_at)
    return xades.sign(root, signer_for(doc.issuer), role="supplier")


def delivery_zip(doc: DianDocument, pdf: bytes) -> bytes:
    """What the buyer gets by email: the AttachedDocument and the PDF, in one zip (Anexo: at most 2 MB)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"ad{doc.full_number}.xml", attached_document(doc))
        zf.writestr(f"{doc.full_number}.pdf", pdf)
    return buf.getvalue()


def write_files(issued):
    """Files of an accepted DIAN document for the buyer: signed XML, PDF and the AttachedDocument zip."""
    doc = DianDocument.objects.filter(pk=issued.source_id, issuer_id=issued.issuer_id).first()
    if doc is None or doc.status != DianDocument.Status.ACCEPTED:
        return  # only validated documents go to the buyer
    pdf = render(doc)
    issued.xml.save(f"{doc.full_number}.xml", ContentFile(bytes(doc.signed_xml)), save=False)
    issued.pdf.save(f"{doc.full_number}.pdf", ContentFile(pdf), save=False)
    issued.attachment.save(f"z{doc.full_number}.zip", ContentFile(delivery_zip(doc, pdf)), save=False)
    issued.save(update_fields=["xml", "pdf", "attachment"])


def xml_zip(doc: DianDocument) -> bytes:
    """The signed XML and, once DIAN answered, its ApplicationResponse."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{doc.full_number}.xml", bytes(doc.signed_xml))
        if doc.application_response:
            zf.writestr(f"ApplicationResponse-{doc.full_number}.xml", bytes(doc.application_response))
    return buf.getvalue()


def download(doc: DianDocument, what: str) -> tuple[bytes, str, str]:
    """(content, file name, MIME type) of one file of the document: xml, response, zip, pdf or attached."""
    if what == "xml":
        if not doc.signed_xml:
            raise NotFound("einvoice.file.missing", "El documento no tiene XML firmado.", field="what")
        return bytes(doc.signed_xml), f"{doc.full_number}.xml", "application/xml"
    if what == "response":
        if not doc.application_response:
            raise NotFound("einvoice.file.missing", "La DIAN aún no ha respondido.", field="what")
        return bytes(doc.application_response), f"ApplicationResponse-{doc.full_number}.xml", "application/xml"
    if what == "zip":
        return xml_zip(doc), f"{doc.full_number}.zip", "application/zip"
    if what == "pdf":
        return render(doc), f"{doc.full_number}.pdf", "application/pdf"
    if what == "attached":
        if doc.status != DianDocument.Status.ACCEPTED:
            raise NotFound("einvoice.file.missing", "El contenedor se genera cuando la DIAN acepta el documento.",
                           field="what")
        return attached_document(doc), f"ad{doc.full_number}.xml", "application/xml"
    raise NotFound("einvoice.file.unknown", "Archivo desconocido.", field="what")
