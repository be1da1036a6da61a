"""The files of a received document for download: the supplier's XML, DIAN's ApplicationResponse, the
AttachedDocument it came in, and the supplier's PDF — or, without one, a summary rendered from the XML."""

from __future__ import annotations

from facturador.core.errors import NotFound
from facturador.reception import pdf

FILES = {"xml": ("xml", "application/xml"), "respuesta": ("application_response", "application/xml"),
         "pdf": ("pdf", "application/pdf"), "contenedor": ("container", "application/xml")}


def download(doc, what: str) -> tuple[bytes, str, str]:
    """(content, file name, MIME type); stored files are at most the reception's XML cap (20 MB)."""
    if what not in FILES:
        raise NotFound("reception.file.unknown", "Archivo desconocido.", field="what")
    attr, mime = FILES[what]
    f = getattr(doc, attr)
    if f:
        with f.open("rb") as fh:
            return fh.read(), f.name.rsplit("/", 1)[-1], mime
    if what == "pdf":
        return pdf.render(doc), f"resumen-{doc.number}.pdf", mime
    raise NotFound("reception.file.missing", "El documento no tiene ese archivo.", field="what")
