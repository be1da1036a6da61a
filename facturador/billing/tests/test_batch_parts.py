"""Print parts are joined from the chunks' compiled PDFs (fonts shared within a chunk), never from a chunk file
that is older than its invoices' own PDFs (left by a worker killed before it recorded them)."""

import os
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from facturador.billing import batch as engine
from facturador.billing.models import BatchPart, BillingInvoice
from facturador.billing.tests.helpers import issue_batch_inline, make_accounts, make_range


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.FACTURADOR_BILLING_RENDER_CHUNK = 4
    settings.FACTURADOR_BILLING_PDF_PART_SIZE = 8
    return tmp_path


def page_texts(path):
    pdf = pdfium.PdfDocument(str(path))
    try:
        return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    finally:
        pdf.close()


@pytest.fixture
def batch10(issuer_co, media):
    make_range(issuer_co, prefix="LP")
    return issue_batch_inline(issuer_co, make_accounts(issuer_co, 10))


@pytest.mark.django_db
def test_part_is_joined_from_the_chunks_and_shares_their_fonts(batch10, media):
    part = BatchPart.objects.get(batch=batch10, index=1)
    own = sum((media / p).stat().st_size for p in BillingInvoice.objects.filter(
        batch=batch10, seq__lte=8).values_list("pdf", flat=True))
    assert part.pages == 8
    assert (media / part.pdf).stat().st_size < own / 2  # each invoice's own PDF carries its fonts


@pytest.mark.django_db
def test_chunk_files_are_removed_once_their_part_is_built(batch10, media):
    assert not list((media / batch10.output_dir / "chunks").glob("*.pdf"))


@pytest.mark.django_db
def test_parts_keep_number_order(batch10, media):
    numbers = list(BillingInvoice.objects.filter(batch=batch10).order_by("seq").values_list("number", flat=True))
    texts = [t for p in BatchPart.objects.filter(batch=batch10).order_by("index") for t in page_texts(media / p.pdf)]
    assert [f"LP{n}" in t for n, t in zip(numbers, texts)] == [True] * 10


@pytest.mark.django_db
def test_a_chunk_file_older_than_its_invoices_pdfs_is_not_used(batch10, media):
    part = BatchPart.objects.get(batch=batch10, index=1)
    invoices = list(BillingInvoice.objects.filter(batch=batch10).order_by("seq"))
    # a killed worker's chunk for seqs 1-4 whose pages are other invoices (5-8), written before the PDFs it covers
    stale = media / batch10.output_dir / "chunks" / "000000001-000000004.pdf"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes((media / part.pdf).read_bytes())  # 8 pages: seqs 1-8
    past = (media / invoices[0].pdf).stat().st_mtime - 60
    os.utime(stale, (past, past))
    engine.build_part(batch10, part)
    first = page_texts(media / part.pdf)[0]
    assert f"LP{invoices[0].number}" in first
    assert not stale.exists()


@pytest.mark.django_db
def test_a_chunk_file_written_after_its_invoices_pdfs_is_used(batch10, media):
    part = BatchPart.objects.get(batch=batch10, index=1)
    invoices = list(BillingInvoice.objects.filter(batch=batch10).order_by("seq"))
    # a chunk for seqs 1-8 whose pages say something else: taken, so its text shows in the part
    marker = media / batch10.output_dir / "chunks" / "000000001-000000008.pdf"
    marker.parent.mkdir(parents=True, exist_ok=True)
    doc = pdfium.PdfDocument(str(media / part.pdf))
    doc.del_page(0)
    doc.import_pages(pdfium.PdfDocument(str(media / invoices[9].pdf)), index=0)
    doc.save(str(marker))
    doc.close()
    engine.build_part(batch10, part)
    assert f"LP{invoices[9].number}" in page_texts(media / part.pdf)[0]
    assert Path(media / part.pdf).exists() and not marker.exists()


def test_an_invoice_pdf_is_written_in_place_the_first_time_and_replaced_whole_after(tmp_path):
    """One file-system operation for a new PDF; a re-render (or a file left half-written by a killed worker)
    is replaced through a temporary file, so a reader never sees part of it."""
    from facturador.billing.batch import _write_new

    path, tmp = tmp_path / "0001.pdf", tmp_path / ".0001.pdf.1.tmp"
    _write_new(path, tmp, b"%PDF-first")
    assert path.read_bytes() == b"%PDF-first" and not tmp.exists()
    path.write_bytes(b"%PDF-ha")  # what a killed worker left
    _write_new(path, tmp, b"%PDF-again")
    assert path.read_bytes() == b"%PDF-again" and not tmp.exists()
