"""What a batch offers for download: its print PDF parts, a manifest and "descargar todo" (a zip).

The parts are built by the workers while the batch renders (`billing.batch.build_part`); the manifest
and the zip are never stored: they are streamed from the database and the PDF files when asked for,
so finishing a batch has no serial phase that grows with its size, and a download needs constant memory.

Files (names in `download()`): `impresion` (the print PDF of a single-part batch), `parte-<n>` (part n),
`manifiesto` (CSV: one line per invoice with its part and position in it) and `zip` (manifest, every
part under `impresion/` and every invoice PDF under `facturas/`, stored — PDFs do not compress).
"""

from __future__ import annotations

import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from django.conf import settings

from facturador.billing.models import Batch, BatchPart, BillingInvoice
from facturador.tabular.sheets import DATE, INTEGER, MONEY, Column, stream_csv

BLOCK = 1 << 20  # bytes read and sent at a time


@dataclass
class Download:
    filename: str
    content_type: str
    path: Path | None = None  # a stored file ...
    stream: Iterator[bytes] | None = None  # ... or a generated one


def parts(batch: Batch) -> list[BatchPart]:
    return list(BatchPart.objects.filter(batch=batch).order_by("index"))


def download(batch: Batch, what: str) -> Download | None:
    """The file `what` of the batch, or None if it does not exist (yet)."""
    media = Path(settings.MEDIA_ROOT)
    if what == "impresion":
        if not batch.merged_pdf or not (media / batch.merged_pdf).is_file():
            return None
        return Download(f"lote-{batch.pk}-impresion.pdf", "application/pdf", path=media / batch.merged_pdf)
    if what.startswith("parte-") and what[6:].isdigit():
        part = BatchPart.objects.filter(batch=batch, index=int(what[6:])).exclude(pdf="").first()
        if part is None or not (media / part.pdf).is_file():
            return None
        return Download(part.filename, "application/pdf", path=media / part.pdf)
    if not batch.invoice_count:  # the manifest and the zip are offered once the batch has finished
        return None
    if what == "manifiesto":
        return Download(f"lote-{batch.pk}-manifiesto.csv", "text/csv; charset=utf-8", stream=stream_manifest(batch))
    if what == "zip":
        return Download(f"lote-{batch.pk}-todo.zip", "application/zip", stream=stream_zip(batch))
    return None


MANIFEST_COLUMNS = [Column("parte", INTEGER), Column("orden_en_parte", INTEGER), Column("numero"),
                    Column("referencia"), Column("titular", width=30), Column("total", MONEY, decimals=0),
                    Column("fecha_limite", DATE), Column("archivo", width=30)]


def stream_manifest(batch: Batch) -> Iterator[bytes]:
    """The manifest as csv (the platform's one spreadsheet writer: references and names are never formulas)."""
    part_list = parts(batch)

    def rows():
        k = 0
        found = (BillingInvoice.objects.filter(batch=batch).order_by("seq")
                 .values_list("seq", "prefix", "number", "account__reference", "account__holder_name", "total",
                              "due_date", "pdf"))
        for seq, prefix, number, reference, holder, total, due, pdf in found.iterator(chunk_size=2000):
            while k < len(part_list) - 1 and seq is not None and seq > part_list[k].seq_to:
                k += 1
            part = part_list[k] if part_list else None
            yield [part.index if part else None, (seq - part.seq_from + 1) if part and seq else None,
                   f"{prefix}{number}", reference, holder, total, due, Path(pdf).name if pdf else ""]

    yield from stream_csv(MANIFEST_COLUMNS, rows())


class _Sink:
    """A write-only, unseekable file for zipfile: it collects bytes that the generator hands out."""

    def __init__(self):
        self.buf = bytearray()
        self.pos = 0

    def write(self, b) -> int:
        self.buf += b
        self.pos += len(b)
        return len(b)

    def tell(self) -> int:
        return self.pos

    def flush(self):
        pass

    def take(self) -> bytes:
        out = bytes(self.buf)
        self.buf.clear()
        return out


def stream_zip(batch: Batch) -> Iterator[bytes]:
    """The zip of the whole batch, written as it is sent (data descriptors: no seeking back)."""
    media = Path(settings.MEDIA_ROOT)
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        with zf.open(_info(f"lote-{batch.pk}-manifiesto.csv"), "w") as dst:
            for block in stream_manifest(batch):
                dst.write(block)
                if len(sink.buf) >= BLOCK:
                    yield sink.take()
        yield sink.take()
        files = [("impresion/" + p.filename, media / p.pdf) for p in parts(batch) if p.pdf]
        pdfs = BillingInvoice.objects.filter(batch=batch).exclude(pdf="").order_by("seq").values_list("pdf", flat=True)
        files_iter = _chain(files, ((f"facturas/{Path(r).name}", media / r) for r in pdfs.iterator(chunk_size=2000)))
        for arcname, path in files_iter:
            info = _info(arcname)
            info.file_size = path.stat().st_size  # lets zipfile choose ZIP64 headers for big parts
            with open(path, "rb") as src, zf.open(info, "w") as dst:
                while block := src.read(BLOCK):
                    dst.write(block)
                    if len(sink.buf) >= BLOCK:
                        yield sink.take()
            if len(sink.buf) >= BLOCK // 4:
                yield sink.take()
    yield sink.take()


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.compress_type = zipfile.ZIP_STORED
    return info


def _chain(*iterables):
    for it in iterables:
        yield from it


def http_response(dl: Download):
    """The HTTP response of a download (the web page and the API offer the same files)."""
    from django.http import FileResponse, StreamingHttpResponse

    if dl.path is not None:
        return FileResponse(open(dl.path, "rb"), as_attachment=True, filename=dl.filename, content_type=dl.content_type)
    resp = StreamingHttpResponse(dl.stream, content_type=dl.content_type)
    resp["Content-Disposition"] = f'attachment; filename="{dl.filename}"'
    return resp
