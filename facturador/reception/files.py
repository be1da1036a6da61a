"""The files of a received document for download: the supplier's XML, DIAN's ApplicationResponse, the
AttachedDocument it came in, and the supplier's PDF — or, without one, a summary rendered from the XML.

A document that came in an AttachedDocument keeps that container (and the supplier's PDF) only: its invoice and
DIAN's ApplicationResponse are inside it byte for byte, so they are extracted when asked for
(`document_xml`, `application_response_xml`) instead of being written again on arrival. Documents filed before
that, and the ones that came without a container, have their own stored XML files, read as they are.
"""

from __future__ import annotations

from facturador.core.errors import NotFound
from facturador.dian.attached import extract
from facturador.reception import pdf

FILES = {"xml": ("xml", "application/xml"), "respuesta": ("application_response", "application/xml"),
         "pdf": ("pdf", "application/pdf"), "contenedor": ("container", "application/xml")}


def _read(f) -> bytes:
    with f.open("rb") as fh:
        return fh.read()


def _stem(doc) -> str:
    from facturador.reception.services import clean_filename

    return clean_filename(doc.number or doc.uuid[:16])


def document_xml(doc) -> bytes:
    """The supplier's invoice / note / CFDI, byte for byte as it signed it."""
    if doc.xml:
        return _read(doc.xml)
    if doc.container:
        return extract(_read(doc.container))[0]
    raise NotFound("reception.file.missing", "El documento no tiene ese archivo.", field="what")


def application_response_xml(doc) -> bytes | None:
    """DIAN's ApplicationResponse that came with the document (None without one)."""
    if doc.application_response:
        return _read(doc.application_response)
    if doc.container:
        return extract(_read(doc.container))[1]
    return None


def download(doc, what: str) -> tuple[bytes, str, str]:
    """(content, file name, MIME type); stored files are at most the reception's XML cap (20 MB)."""
    if what not in FILES:
        raise NotFound("reception.file.unknown", "Archivo desconocido.", field="what")
    attr, mime = FILES[what]
    f = getattr(doc, attr)
    if f:
        return _read(f), f.name.rsplit("/", 1)[-1], mime
    if what == "xml":
        return document_xml(doc), f"{_stem(doc)}.xml", mime
    if what == "respuesta":
        content = application_response_xml(doc)
        if content is not None:
            return content, f"ApplicationResponse-{_stem(doc)}.xml", mime
    if what == "pdf":
        return pdf.render(doc), f"resumen-{doc.number}.pdf", mime
    raise NotFound("reception.file.missing", "El documento no tiene ese archivo.", field="what")
