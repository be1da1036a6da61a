"""The files of a received document for download: the supplier's XML, DIAN's ApplicationResponse, the
AttachedDocument it came in, and the supplier's PDF — or, without one, a summary rendered from the XML.

Nothing already stored is stored again: the container (AttachedDocument) and the supplier's PDF are read from the
intake's file (the arrival as it came), where `ReceivedDocument.members` says they are, and the invoice and DIAN's
ApplicationResponse inside the container byte for byte are extracted from it (`document_xml`,
`application_response_xml`). Documents filed before that, and the ones that came without a container, have their
own stored files, read as they are.
"""

from __future__ import annotations

from pathlib import PurePosixPath

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


def _kept(doc, attr: str) -> tuple[bytes, str] | None:
    """(content, file name) of the document's ``attr`` file — its own stored file, or its member of the intake's
    file — or None when it has none."""
    f = getattr(doc, attr)
    if f:
        return _read(f), f.name.rsplit("/", 1)[-1]
    where = doc.members.get(attr)
    if not where:
        return None
    from facturador.reception.services import clean_filename, intake_member

    content = intake_member(doc.intake, where)
    if content is None:
        raise NotFound("reception.file.missing", "El archivo ya no está en la llegada guardada.", field="what")
    return content, clean_filename(PurePosixPath(where[1]).name)


def document_xml(doc) -> bytes:
    """The supplier's invoice / note / CFDI, byte for byte as it signed it."""
    if doc.xml:
        return _read(doc.xml)
    container = _kept(doc, "container")
    if container is not None:
        return extract(container[0])[0]
    raise NotFound("reception.file.missing", "El documento no tiene ese archivo.", field="what")


def application_response_xml(doc) -> bytes | None:
    """DIAN's ApplicationResponse that came with the document (None without one)."""
    if doc.application_response:
        return _read(doc.application_response)
    container = _kept(doc, "container")
    return extract(container[0])[1] if container is not None else None


def download(doc, what: str) -> tuple[bytes, str, str]:
    """(content, file name, MIME type); stored files are at most the reception's XML cap (20 MB)."""
    if what not in FILES:
        raise NotFound("reception.file.unknown", "Archivo desconocido.", field="what")
    attr, mime = FILES[what]
    kept = _kept(doc, attr)
    if kept is not None:
        return *kept, mime
    if what == "xml":
        return document_xml(doc), f"{_stem(doc)}.xml", mime
    if what == "respuesta":
        content = application_response_xml(doc)
        if content is not None:
            return content, f"ApplicationResponse-{_stem(doc)}.xml", mime
    if what == "pdf":
        return pdf.render(doc), f"resumen-{doc.number}.pdf", mime
    raise NotFound("reception.file.missing", "El documento no tiene ese archivo.", field="what")
