"""Batch generation with real worker processes: PDFs, print parts, streamed zip, barcode, crash recovery."""

import datetime as dt
import io
import os
import zipfile
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.conf import settings

from conftest import wait_for
from facturador.billing import actions, outputs
from facturador.billing.models import Batch, BillingInvoice
from facturador.billing.tests.helpers import make_accounts, make_range
from facturador.core.actors import Actor
from facturador.core.models import IssuedDocument, Job

ISSUE, DUE = dt.date(2026, 11, 3), dt.date(2026, 11, 20)


def worker_env(**extra):
    env = {}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    env["DJANGO_SETTINGS_MODULE"] = os.environ.get("DJANGO_SETTINGS_MODULE", "facturador.settings")
    env["FACTURADOR_DATA_DIR"] = str(Path(settings.MEDIA_ROOT).parent)
    env.update(extra)
    return env


def final_job(job_id, timeout=75):
    def done():
        job = Job.objects.get(pk=job_id)
        return job if job.status in Job.FINAL else None
    return wait_for(done, timeout=timeout, message=f"job {job_id} to finish")


def page_count(path):
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        return len(pdf)
    finally:
        pdf.close()


def decode_barcodes(pdf_path, page_index=0):
    import pypdfium2 as pdfium
    import zxingcpp

    pdf = pdfium.PdfDocument(str(pdf_path))
    try:
        image = pdf[page_index].render(scale=300 / 72).to_pil()
    finally:
        pdf.close()
    return [r for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.Code128]


def new_batch(issuer, n, periods=("2026-09", "2026-10")):
    make_range(issuer, prefix="LA")
    accounts = make_accounts(issuer, n, periods=periods)
    b = actions.create_batch(issuer, Actor.cli(), periods=list(periods), issue_date=ISSUE, due_date=DUE,
                             references=[a.reference for a in accounts])
    return b, accounts


@pytest.mark.django_db(transaction=True)
def test_batch_end_to_end_two_workers(issuer_co, start_worker):
    n = 30
    b, accounts = new_batch(issuer_co, n)
    # Two workers; the helper threshold is lowered so the second one renders leased chunks beside the main job,
    # starting while the main job is still numbering (small numbering chunks); print parts of 8 invoices.
    env = worker_env(FACTURADOR_BILLING_HELPER_MIN="10", FACTURADOR_BILLING_RENDER_CHUNK="4",
                     FACTURADOR_BILLING_NUMBER_CHUNK="5", FACTURADOR_BILLING_PDF_PART_SIZE="8")
    start_worker("w1", **env)
    start_worker("w2", **env)
    job = final_job(b.job_id)
    assert job.status == Job.Status.FINISHED, (job.status, job.error)
    b.refresh_from_db()
    assert b.status == Batch.Status.FINISHED and b.invoice_count == n
    # each account: 2 periods x (15000 + 5001) = 40002
    assert b.total_amount == D(40002) * n
    media = Path(settings.MEDIA_ROOT)
    invoices = list(BillingInvoice.objects.filter(batch=b).select_related("account").order_by("number"))
    assert [i.number for i in invoices] == list(range(1000, 1000 + n))
    assert [i.seq for i in invoices] == list(range(1, n + 1))
    assert all(i.pdf and (media / i.pdf).is_file() for i in invoices)
    # four print parts in number order (no single merged file), each built as soon as its invoices were ready
    parts = list(b.parts.order_by("index"))
    assert [(p.seq_from, p.seq_to, p.first_number, p.last_number) for p in parts] == [
        (1, 8, "LA1000", "LA1007"), (9, 16, "LA1008", "LA1015"), (17, 24, "LA1016", "LA1023"), (25, 30, "LA1024", "LA1029")]
    assert [page_count(media / p.pdf) for p in parts] == [8, 8, 8, 6] and [p.pages for p in parts] == [8, 8, 8, 6]
    assert not b.merged_pdf and all(p.built_at >= p.rendered_at for p in parts)
    assert job.result["parts"] == 4 and job.result["pages"] == n
    # "descargar todo": manifest, parts and invoices, streamed
    data = b"".join(outputs.stream_zip(b))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        assert names[0] == f"lote-{b.pk}-manifiesto.csv"
        assert [x for x in names if x.startswith("impresion/")] == [f"impresion/{p.filename}" for p in parts]
        assert sorted(x for x in names if x.startswith("facturas/")) == sorted(f"facturas/LA{i.number}.pdf" for i in invoices)
        manifest = zf.read(names[0]).decode("utf-8-sig").splitlines()
        assert zf.read(f"impresion/{parts[3].filename}") == (media / parts[3].pdf).read_bytes()
    assert manifest[0] == "parte;orden_en_parte;numero;referencia;titular;total;fecha_limite;archivo"
    assert manifest[9] == f"2;1;LA1008;{invoices[8].account.reference};Suscriptor 9;40002;20/11/2026;LA1008.pdf"
    assert len(manifest) == n + 1
    assert IssuedDocument.objects.filter(issuer=issuer_co, source="billing.invoice").count() == n
    doc = IssuedDocument.objects.get(source="billing.invoice", source_id=str(invoices[0].pk))
    assert (doc.prefix, doc.number, doc.total) == ("LA", 1000, D(40002)) and doc.pdf.name == invoices[0].pdf

    # The barcode read back from the rendered page of the 7th invoice equals the expected GS1 data.
    inv = invoices[6]
    expected_hri = f"(415)7709998000001(8020){inv.account.reference.zfill(10)}(3900){40002:010d}(96)20261120"
    found = decode_barcodes(media / inv.pdf)
    assert len(found) == 1
    code = found[0]
    assert code.content_type == __import__("zxingcpp").ContentType.GS1
    assert code.text == expected_hri
    # ... and the same page inside the first print part (page 7)
    assert decode_barcodes(media / parts[0].pdf, 6)[0].text == expected_hri
    # the helper job ran beside the main one; how many chunks it leased depends on timing (it may find none left)
    helper = Job.objects.filter(kind="billing.batch_render").get()
    assert helper.status == Job.Status.FINISHED and 0 <= helper.result["rendered"] <= n


@pytest.mark.django_db(transaction=True)
def test_killed_worker_batch_finishes_once_per_account(issuer_co, start_worker):
    n = 50
    b, accounts = new_batch(issuer_co, n)
    env = worker_env(FACTURADOR_BILLING_RENDER_CHUNK="2", FACTURADOR_JOB_STALE_SECONDS="2")
    w1 = start_worker("victim", **env)
    rendered = lambda: BillingInvoice.objects.filter(batch=b).exclude(pdf="").count()  # noqa: E731
    wait_for(lambda: rendered() >= 6, timeout=60, every=0.02, message="some PDFs rendered")
    w1.kill()
    at_kill = rendered()
    assert at_kill < n, "the batch finished before the worker could be killed"
    assert Job.objects.get(pk=b.job_id).status == Job.Status.RUNNING

    start_worker("rescuer", **env)
    job = final_job(b.job_id, timeout=75)
    assert job.status == Job.Status.FINISHED, (job.status, job.error)
    assert job.attempts >= 1  # it was re-queued after the kill
    invoices = BillingInvoice.objects.filter(issuer=issuer_co)
    assert invoices.count() == n
    assert len(set(invoices.values_list("account_id", flat=True))) == n
    assert sorted(invoices.values_list("number", flat=True)) == list(range(1000, 1000 + n))  # no gaps, no repeats
    assert IssuedDocument.objects.filter(source="billing.invoice").count() == n
    b.refresh_from_db()
    assert b.invoice_count == n and page_count(Path(settings.MEDIA_ROOT) / b.merged_pdf) == n
