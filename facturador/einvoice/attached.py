"""The signed AttachedDocument of an accepted DIAN document, and the zip delivered to the buyer."""

import io
import zipfile

from facturador.dian import xades
from facturador.dian.attached import build_attached_document


def attached_document(doc) -> bytes:
    from facturador.einvoice.services import signer_for

    root = build_attached_document(bytes(doc.signed_xml), bytes(doc.application_response) if doc.application_response else None,
                                   when=doc.answered_at)
    return xades.sign(root, signer_for(doc.issuer), role="supplier")


def delivery_zip(doc, pdf: bytes) -> bytes:
    """What the buyer gets by email: the AttachedDocument and the PDF, in one zip (Anexo: at most 2 MB)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"ad{doc.full_number}.xml", attached_document(doc))
        zf.writestr(f"{doc.full_number}.pdf", pdf)
    return buf.getvalue()


def write_files(issued):
    """Files of an accepted DIAN document for the buyer: signed XML, PDF and the AttachedDocument zip."""
    from django.core.files.base import ContentFile

    from facturador.einvoice.models import DianDocument
    from facturador.einvoice.pdf import render

    doc = DianDocument.objects.filter(pk=issued.source_id, issuer_id=issued.issuer_id).first()
    if doc is None or doc.status != DianDocument.Status.ACCEPTED:
        return  # only validated documents go to the buyer
    pdf = render(doc)
    issued.xml.save(f"{doc.full_number}.xml", ContentFile(bytes(doc.signed_xml)), save=False)
    issued.pdf.save(f"{doc.full_number}.pdf", ContentFile(pdf), save=False)
    issued.attachment.save(f"z{doc.full_number}.zip", ContentFile(delivery_zip(doc, pdf)), save=False)
    issued.save(update_fields=["xml", "pdf", "attachment"])
