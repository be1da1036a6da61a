"""Electronic billing type: each batch invoice is a signed DIAN invoice; CUFE and QR on the PDF."""

import time
from decimal import Decimal as D
from pathlib import Path

import pytest

from django.apps import apps  # noqa: E402
from django.db import transaction  # noqa: E402

if not apps.is_installed("facturador.einvoice"):
    pytest.skip("the einvoice app is not installed", allow_module_level=True)

from facturador.billing import actions  # noqa: E402
from facturador.billing.models import BillingInvoice, Charge  # noqa: E402
from facturador.billing.tests.helpers import issue_batch_inline, make_accounts  # noqa: E402
from facturador.billing.tests.test_batch_worker import decode_barcodes  # noqa: E402
from facturador.core.actors import Actor  # noqa: E402
from facturador.core.errors import Conflict  # noqa: E402
from facturador.core.models import IssuedDocument, Job  # noqa: E402
from facturador.einvoice.tests.conftest import TEST_KEY, dian_issuer, sandbox  # noqa: E402,F401


def decode_qr(pdf_path):
    import pypdfium2 as pdfium
    import zxingcpp

    pdf = pdfium.PdfDocument(str(pdf_path))
    try:
        image = pdf[0].render(scale=400 / 72).to_pil()
    finally:
        pdf.close()
    return [r.text for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode]


@pytest.mark.django_db
def test_electronic_batch_signs_each_invoice_and_prints_cufe_and_qr(dian_issuer, settings, tmp_path):  # noqa: F811
    from facturador.dian import verify
    from facturador.einvoice.models import DianDocument

    settings.MEDIA_ROOT = tmp_path
    a, b, c = make_accounts(dian_issuer, 3)
    Charge.objects.create(issuer=dian_issuer, account=b, reference=b.reference, period="2026-09", concept="Ajuste",
                          amount=D("-100"), unit_price=D("-100"))  # cannot be a DIAN line: b is refused
    batch = issue_batch_inline(dian_issuer, [a, b, c], electronic=True)
    assert batch.invoice_count == 2
    assert batch.error_list == [{"reference": b.reference, "reason": "Factura electrónica: El cargo «Ajuste» no es "
                                 "positivo; no se puede emitir como factura electrónica."}]
    invoices = list(BillingInvoice.objects.filter(batch=batch).select_related("account").order_by("number"))
    # numbers come from the DIAN range; the refused account gave its number back
    assert [(i.prefix, i.number) for i in invoices] == [("SETP", 990000000), ("SETP", 990000001)]
    for inv in invoices:
        doc = DianDocument.objects.get(pk=inv.dian_document_id)
        assert doc.status == "signed" and doc.cufe == inv.cufe and len(inv.cufe) == 96
        assert doc.total == D("20001.00")
        report = verify.verify_document(bytes(doc.signed_xml), technical_key=TEST_KEY, pin="70942",
                                        software_id=dian_issuer.mode.software_id)
        checks = {ch.name: ch.ok for ch in report.checks}
        assert checks["cufe"] and checks["signature"] and checks["totals"], report.to_json()
        idx = IssuedDocument.objects.get(source="einvoice.document", source_id=str(doc.pk))
        assert idx.pdf.name == inv.pdf and idx.period == "2026-09"
    assert not IssuedDocument.objects.filter(source="billing.invoice").exists()
    # one sending job for the batch (zips of up to 50, SendBillAsync), not one per document
    assert Job.objects.filter(kind="billing.batch_send").count() == 1
    assert not Job.objects.filter(kind="einvoice.send").exists()

    first = invoices[0]
    pdf = Path(settings.MEDIA_ROOT) / first.pdf
    qr = decode_qr(pdf)
    assert len(qr) == 1 and first.cufe in qr[0]
    doc = DianDocument.objects.get(pk=first.dian_document_id)
    assert qr[0] in bytes(doc.signed_xml).decode()  # exactly the QR text that was signed
    assert decode_barcodes(pdf)[0].text == f"(415)7709998000001(8020){first.account.reference.zfill(10)}(3900)0000020001(96)20261020"


@pytest.mark.django_db
def test_electronic_needs_dian_setup(issuer_co):
    import datetime as dt

    accounts = make_accounts(issuer_co, 1)
    with pytest.raises(Conflict) as info:
        actions.create_batch(issuer_co, Actor.cli(), periods=["2026-09"], issue_date=dt.date(2026, 10, 1),
                             due_date=dt.date(2026, 10, 20), electronic=True, references=[accounts[0].reference])
    assert info.value.code == "billing.electronic.not_ready"
    assert info.value.field == "electronic" and "software" in info.value.message
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_batch_page_shows_each_invoice_dian_state(dian_issuer, admin_co, client, settings, tmp_path):  # noqa: F811
    from facturador.einvoice.models import DianDocument

    settings.MEDIA_ROOT = tmp_path
    batch = issue_batch_inline(dian_issuer, make_accounts(dian_issuer, 2), electronic=True)
    first, second = BillingInvoice.objects.filter(batch=batch).order_by("number")
    DianDocument.objects.filter(pk=first.dian_document_id).update(status=DianDocument.Status.ACCEPTED)
    client.force_login(admin_co)
    session = client.session
    session["issuer_id"] = dian_issuer.pk
    session.save()
    html = client.get(f"/facturacion/lotes/{batch.pk}/").content.decode()
    assert "<th>DIAN</th>" in html
    assert '<td class="dian-state">Aceptado</td>' in html and '<td class="dian-state">Firmado</td>' in html


def run_sending() -> list[Job]:
    """Run the batch's sending rounds as a worker would (each round queues the next while work remains)."""
    from facturador.core.jobs import execute_job

    done = []
    while (job := Job.objects.filter(kind="billing.batch_send", status=Job.Status.PENDING).order_by("pk").first()):
        assert len(done) < 10, "the sending never ends"
        execute_job.call(job.pk)
        job.refresh_from_db()
        done.append(job)
    return done


@pytest.mark.django_db
def test_batch_sending_zips_the_invoices_and_a_rejected_one_does_not_block_the_rest(dian_issuer, sandbox, settings,  # noqa: F811
                                                                                    tmp_path):
    from facturador.billing import electronic
    from facturador.einvoice.models import DianDocument

    settings.MEDIA_ROOT = tmp_path
    settings.FACTURADOR_DIAN_POLL_INTERVAL = 0.05
    batch = issue_batch_inline(dian_issuer, make_accounts(dian_issuer, 3), electronic=True)
    first, second, third = BillingInvoice.objects.filter(batch=batch).order_by("number")
    tampered = DianDocument.objects.get(pk=second.dian_document_id)  # its signature no longer matches: DIAN rejects it
    tampered.signed_xml = bytes(tampered.signed_xml).replace(b"Suscriptor 2", b"Suscriptor X")
    tampered.save(update_fields=["signed_xml"])

    rounds = run_sending()
    job = rounds[-1]
    docs = {d.pk: d for d in DianDocument.objects.all()}
    states = [docs[i.dian_document_id].status for i in (first, second, third)]
    assert states == ["accepted", "rejected", "accepted"]
    assert docs[second.dian_document_id].rejections
    assert job.status == Job.Status.FINISHED_WITH_ERRORS and job.result["states"] == {"accepted": 2, "rejected": 1}
    assert not job.result["next_round"] and len(rounds) <= 3
    assert len(sandbox.batches) == 1  # one SendBillAsync zip with the three documents
    assert len({d.zip_key for d in docs.values()}) == 1 and all(d.file_name for d in docs.values())
    assert list(IssuedDocument.objects.filter(source="einvoice.document").order_by("number")
                .values_list("status", flat=True)) == ["accepted", "rejected", "accepted"]

    # a second sending job (a resumed batch) sends nothing again
    with transaction.atomic():
        electronic.start_sending(batch)
    run_sending()
    assert len(sandbox.batches) == 1
    assert all(d.send_attempts == 1 for d in DianDocument.objects.all())


@pytest.mark.django_db
def test_resumed_chunk_reuses_the_signed_document(dian_issuer, settings, tmp_path):  # noqa: F811
    """A chunk rendered again (its worker died after signing) neither signs nor indexes a document twice, also when
    the worker holds a stale copy of the invoice (another worker signed it meanwhile)."""
    from facturador.billing import batch as engine
    from facturador.einvoice.models import DianDocument

    settings.MEDIA_ROOT = tmp_path
    batch = issue_batch_inline(dian_issuer, make_accounts(dian_issuer, 2), electronic=True)
    inv = BillingInvoice.objects.select_related("account").filter(batch=batch).order_by("number").first()
    xml, cufe = bytes(DianDocument.objects.get(pk=inv.dian_document_id).signed_xml), inv.cufe
    stale = BillingInvoice.objects.select_related("account").get(pk=inv.pk)
    stale.dian_document_id = None  # as loaded before the other worker committed
    renderer = engine._Renderer(batch)
    renderer.render_chunk([stale])
    renderer.render_chunk([BillingInvoice.objects.select_related("account").get(pk=inv.pk)])
    assert DianDocument.objects.count() == 2 and IssuedDocument.objects.count() == 2
    assert bytes(DianDocument.objects.get(pk=inv.dian_document_id).signed_xml) == xml
    qr = decode_qr(Path(settings.MEDIA_ROOT) / inv.pdf)
    assert len(qr) == 1 and cufe in qr[0]


@pytest.mark.django_db
def test_concurrent_rounds_claim_each_document_once_and_an_interrupted_claim_is_sent_again(dian_issuer, sandbox,  # noqa: F811
                                                                                           settings, tmp_path):
    from facturador.billing import electronic
    from facturador.core import jobs as corejobs
    from facturador.einvoice.models import DianDocument

    settings.MEDIA_ROOT = tmp_path
    batch = issue_batch_inline(dian_issuer, make_accounts(dian_issuer, 3), electronic=True)
    ids = list(DianDocument.objects.values_list("pk", flat=True))

    def round_job():
        job = corejobs.create_job(dian_issuer, "billing.batch_send", params={"batch_id": batch.pk}, enqueue=False)
        Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)
        job.refresh_from_db()
        return electronic._Sender(corejobs.JobContext(job), batch)

    first, second = round_job(), round_job()
    # the first round claims the documents (SIGNED -> SENT) and dies before DIAN gives it a ZipKey
    DianDocument.objects.filter(pk__in=ids).update(status="sent", job_id=first.me)
    assert not second.sendable().exists()  # the first round's job is running: its claim holds
    assert second.upload(ids) and len(sandbox.batches) == 0  # nothing of it is sent twice
    Job.objects.filter(pk=first.me).update(status=Job.Status.FAILED)
    assert sorted(second.sendable().values_list("pk", flat=True)) == sorted(ids)  # free again once it is over
    assert second.upload(ids) and len(sandbox.batches) == 1
    assert set(DianDocument.objects.values_list("status", "job_id")) == {("pending", second.me)}
    names = dict(DianDocument.objects.values_list("pk", "file_name"))
    # a crash after the upload but before the ZipKey was saved: the same files go again, with the same names
    DianDocument.objects.filter(pk__in=ids).update(status="sent", zip_key="")
    Job.objects.filter(pk=second.me).update(status=Job.Status.FAILED)
    third = round_job()
    assert third.upload(ids) and len(sandbox.batches) == 2
    assert dict(DianDocument.objects.values_list("pk", "file_name")) == names


@pytest.mark.django_db(transaction=True)  # the courier is a thread: it reads what this test committed
def test_a_render_job_uploads_full_zips_while_it_renders_and_follows_their_answers(dian_issuer, sandbox,  # noqa: F811
                                                                                    settings, tmp_path, monkeypatch):
    """The courier of a render job claims every full zip of signed documents for that job, sends it and records
    DIAN's answers; a partial zip is left to the sending job (it goes once the generation is over)."""
    from facturador.billing import electronic
    from facturador.core import jobs as corejobs
    from facturador.einvoice.models import DianDocument

    settings.MEDIA_ROOT = tmp_path
    settings.FACTURADOR_DIAN_POLL_INTERVAL = 0.05
    monkeypatch.setattr(electronic._Sender, "ZIP_MAX", 2)
    batch = issue_batch_inline(dian_issuer, make_accounts(dian_issuer, 3), electronic=True)
    job = corejobs.create_job(dian_issuer, "billing.batch_render", params={"batch_id": batch.pk}, enqueue=False)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)
    courier = electronic._Courier(batch, job.pk)
    try:
        for _ in range(200):
            if DianDocument.objects.filter(status="accepted").count() == 2:
                break
            time.sleep(0.05)
    finally:
        courier.stop()
    docs = list(DianDocument.objects.order_by("number").values_list("status", "job_id"))
    assert docs == [("accepted", job.pk), ("accepted", job.pk), ("signed", None)]
    assert len(sandbox.batches) == 1


@pytest.mark.django_db
def test_buyer_data_dian_refuses_is_caught_before_numbering(dian_issuer, settings, tmp_path):  # noqa: F811
    settings.MEDIA_ROOT = tmp_path
    a, b = make_accounts(dian_issuer, 2)
    b.id_type, b.id_number, b.check_digit = "NIT", "800199436", "9"  # the right check digit is 4
    b.save()
    batch = issue_batch_inline(dian_issuer, [a, b], electronic=True)
    assert batch.invoice_count == 1
    assert batch.error_list == [{"reference": b.reference, "reason": "Factura electrónica: Datos del titular no "
                                 "válidos para la DIAN: El DV del NIT 800199436 es 4, no 9."}]
    assert list(BillingInvoice.objects.values_list("number", flat=True)) == [990000000]  # b took no number


@pytest.mark.django_db
def test_invoice_that_cannot_be_signed_is_reported_and_the_rest_goes_on(dian_issuer, settings, tmp_path):  # noqa: F811
    """Signing happens after numbering: a document refused then keeps its reason on the invoice, which is still
    printed (without CUFE), and the batch lists it among its errors."""
    from facturador.billing import batch as engine
    from facturador.billing import jobs
    from facturador.core.jobs import JobContext
    from facturador.core.models import NumberingRange
    from facturador.einvoice.models import DianDocument

    settings.MEDIA_ROOT = tmp_path
    batch = issue_batch_inline(dian_issuer, make_accounts(dian_issuer, 2), electronic=True)
    first, second = BillingInvoice.objects.select_related("account").filter(batch=batch).order_by("number")
    # as if the second had not been signed yet when the range lost its technical key
    IssuedDocument.objects.filter(source_id=str(second.dian_document_id)).delete()
    DianDocument.objects.filter(pk=second.dian_document_id).delete()
    BillingInvoice.objects.filter(pk=second.pk).update(dian_document_id=None, cufe="", pdf="")
    NumberingRange.objects.filter(prefix="SETP").update(technical_key="")
    second.refresh_from_db()
    engine._Renderer(batch).render_chunk([second])
    second.refresh_from_db()
    assert second.dian_document_id is None and second.pdf and "technical_key" in second.error
    assert not decode_qr(Path(settings.MEDIA_ROOT) / second.pdf)
    job = Job.objects.get(pk=batch.job_id)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)
    jobs.run_batch(JobContext(Job.objects.get(pk=job.pk)))  # the batch's outcome again (as after a resume)
    batch.refresh_from_db()
    assert [e["reference"] for e in batch.error_list] == [second.account.reference]
    assert DianDocument.objects.count() == 1 and first.dian_document_id


@pytest.mark.django_db
def test_sending_rounds_run_again_as_one_job_and_the_batch_page_shows_the_counts(dian_issuer, sandbox, settings,  # noqa: F811
                                                                                  tmp_path, admin_co, client):
    """While the batch signs, a round that finds less than a zip's worth queues its next round as the same job row
    (the job lists show one sending job per batch, not one per round); the batch page shows the sending counts."""
    from facturador.core.jobs import execute_job

    settings.MEDIA_ROOT = tmp_path
    settings.FACTURADOR_DIAN_POLL_INTERVAL = 0.05
    batch = issue_batch_inline(dian_issuer, make_accounts(dian_issuer, 3), electronic=True)
    Job.objects.filter(pk=batch.job_id).update(status=Job.Status.RUNNING)  # as if still signing
    send = Job.objects.get(kind="billing.batch_send")
    first_task = send.task_id
    assert execute_job.call(send.pk) == "again"
    send.refresh_from_db()
    assert send.status == Job.Status.PENDING and send.run_after and send.task_id != first_task
    assert not sandbox.batches  # 3 signed documents are not a zip of 50 while the batch still signs
    Job.objects.filter(pk=batch.job_id).update(status=Job.Status.FINISHED)
    rounds = run_sending()
    assert {j.pk for j in rounds} == {send.pk}
    assert Job.objects.filter(kind="billing.batch_send").count() == 1
    send.refresh_from_db()
    assert send.status == Job.Status.FINISHED and send.result["states"] == {"accepted": 3}
    assert send.result["rounds"] >= 2

    client.force_login(admin_co)
    session = client.session
    session["issuer_id"] = dian_issuer.pk
    session.save()
    html = client.get(f"/facturacion/lotes/{batch.pk}/").content.decode()
    assert '<dd id="sending-signed">3</dd>' in html and '<dd id="sending-accepted">3</dd>' in html
    assert '<dd id="sending-rejected">0</dd>' in html and "hx-get" not in html.split('id="batch-sending"')[1][:20]
    part = client.get(f"/facturacion/lotes/{batch.pk}/envio/").content.decode()
    assert '<dd id="sending-sent">3</dd>' in part


@pytest.mark.django_db
def test_imported_iva_is_on_the_dian_line_and_the_cufe_verifies(dian_issuer, settings, tmp_path):  # noqa: F811
    from lxml import etree

    from facturador.billing.tests.test_taxes import accounts_for, import_telecom
    from facturador.dian import verify
    from facturador.einvoice.models import DianDocument
    from facturador.imports.tests.conftest import media_dir  # noqa: F401

    settings.MEDIA_ROOT = tmp_path / "media"
    accs = accounts_for(dian_issuer)
    import_telecom(dian_issuer, tmp_path)
    batch = issue_batch_inline(dian_issuer, accs[:1], periods=("2026-10",), electronic=True)
    inv = BillingInvoice.objects.get(batch=batch)
    doc = DianDocument.objects.get(pk=inv.dian_document_id)
    assert doc.total == inv.total == D("24395.00")
    xml = etree.fromstring(bytes(doc.signed_xml))
    ns = {"cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
          "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"}
    line = xml.findall("cac:InvoiceLine", ns)[0]
    assert line.findtext("cbc:LineExtensionAmount", namespaces=ns) == "10000.00"
    assert line.findtext("cac:TaxTotal/cbc:TaxAmount", namespaces=ns) == "1900.00"
    assert line.findtext("cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:Percent", namespaces=ns) in ("19", "19.00")
    report = verify.verify_document(bytes(doc.signed_xml), technical_key=TEST_KEY, pin="70942",
                                    software_id=dian_issuer.mode.software_id)
    checks = {ch.name: ch.ok for ch in report.checks}
    assert checks["cufe"] and checks["signature"] and checks["totals"], report.to_json()


def test_charge_whose_iva_does_not_follow_a_rate_is_refused_for_the_dian_line():
    from facturador.billing.electronic import ElectronicError, _priced

    ok = Charge(concept="Plan", amount=D("11900"), net_amount=D("10000"), tax_amount=D("1900"))
    assert _priced(ok) == {"unit_price": "10000", "taxes": [{"scheme": "01", "rate": "19"}]}
    assert _priced(Charge(concept="Plan", amount=D("100"))) == {"unit_price": "100", "taxes": []}
    with pytest.raises(ElectronicError) as err:
        _priced(Charge(concept="Plan", amount=D("11600"), net_amount=D("10000"), tax_amount=D("1600")))
    assert err.value.code == "billing.electronic.tax_mismatch"


@pytest.mark.django_db
def test_sending_rounds_find_unsent_documents_through_the_unanswered_index(dian_issuer, settings, tmp_path):  # noqa: F811
    """A round looks for its documents among the issuer's unanswered ones (partial index), checked against the batch
    by document id, not among all the issuer's documents (millions of answered ones for a utility)."""
    from django.db import connection

    from facturador.billing import electronic
    from facturador.core import jobs as corejobs

    settings.MEDIA_ROOT = tmp_path
    batch = issue_batch_inline(dian_issuer, make_accounts(dian_issuer, 3), electronic=True)
    job = corejobs.create_job(dian_issuer, "billing.batch_send", params={"batch_id": batch.pk}, enqueue=False)
    sender = electronic._Sender(corejobs.JobContext(job), batch)
    if connection.vendor != "postgresql":  # SQLite (one machine) walks the batch's invoices instead: batch-sized
        pytest.skip("the plan that matters at scale is PostgreSQL's")
    with connection.cursor() as c:  # the tables are tiny here: ask for the plan a big table gets
        c.execute("SET LOCAL enable_seqscan = off")
    plan = sender.sendable().values_list("pk", flat=True)[:50].explain()
    assert "dian_document_unanswered" in plan, plan
    assert len(sender.sendable()) == 3


@pytest.mark.django_db
def test_sending_rounds_check_each_document_against_the_batch_by_its_invoice(dian_issuer, settings, tmp_path):  # noqa: F811
    """Each unanswered document is checked against the batch through its invoice (`billing_invoice_dian_document`),
    never by scanning the batch's invoices: a new batch has no statistics yet, and PostgreSQL took the batch's whole
    (batch, seq) range once per document."""
    from django.db import connection

    from facturador.billing import electronic
    from facturador.core import jobs as corejobs

    settings.MEDIA_ROOT = tmp_path
    batch = issue_batch_inline(dian_issuer, make_accounts(dian_issuer, 3), electronic=True)
    job = corejobs.create_job(dian_issuer, "billing.batch_send", params={"batch_id": batch.pk}, enqueue=False)
    sender = electronic._Sender(corejobs.JobContext(job), batch)
    if connection.vendor != "postgresql":
        pytest.skip("the plan that matters at scale is PostgreSQL's")
    with connection.cursor() as c:
        c.execute("SET LOCAL enable_seqscan = off")
    plan = sender.sendable().values_list("pk", flat=True)[:50].explain()
    assert "billing_invoice_dian_document" in plan and "Index Cond: (batch_id" not in plan, plan


@pytest.mark.django_db
def test_a_custom_template_drawing_qr_svg_still_gets_it_in_a_batch(dian_issuer, settings, tmp_path):  # noqa: F811
    from facturador.billing import invoice_templates
    from facturador.printing.invoice import default_template

    settings.MEDIA_ROOT = tmp_path
    png_line = 'image(bytes(dian.qr_png), format: "png", width: 24mm, scaling: "pixelated")'
    assert png_line in default_template()
    source = default_template().replace(png_line, 'image(bytes(dian.qr_svg), format: "svg", width: 24mm)')
    invoice_templates.create_version(dian_issuer, "Con QR SVG", source, make_default=True)
    (a,) = make_accounts(dian_issuer, 1)
    batch = issue_batch_inline(dian_issuer, [a], electronic=True)
    assert batch.invoice_count == 1, batch.error_list
    inv = BillingInvoice.objects.get(batch=batch)
    qr = decode_qr(Path(settings.MEDIA_ROOT) / inv.pdf)
    assert len(qr) == 1 and inv.cufe in qr[0]
