"""Recaudo: Asobancaria 2001 files mark invoices paid; bad control totals change nothing."""

import datetime as dt
import io
from decimal import Decimal as D

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from facturador.billing import actions, cartera
from facturador.billing.models import BillingInvoice, Payment, PaymentFile
from facturador.billing.tests.helpers import issue_batch_inline, make_accounts, make_range
from facturador.core.actors import Actor
from facturador.core.cli import RefusedCommand
from facturador.core.errors import Invalid
from facturador.payments import asobancaria as ab


def recaudo_file(payments, day=dt.date(2026, 10, 18)):
    header = ab.FileHeader(nit="900373076", collection_date=day, bank_code="007", account="12345678901",
                           file_date=day, file_time="1530")
    lot = ab.Lot(service_code="7709998000001", number=1, details=[
        ab.Detail(reference=ref, amount=D(amount), payment_date=day, bank_code="007", operation_id=str(i))
        for i, (ref, amount) in enumerate(payments, start=1)])
    return ab.write(ab.AsobancariaFile(header=header, lots=[lot]))


def with_wrong_file_total(data: bytes) -> bytes:
    lines = data.decode("ascii").split("\r\n")
    i = next(n for n, line in enumerate(lines) if line.startswith("09"))
    amount = int(lines[i][11:29]) + 100  # one peso more than the details add up to
    lines[i] = lines[i][:11] + f"{amount:018d}" + lines[i][29:]
    return "\r\n".join(lines).encode("ascii")


@pytest.fixture
def invoiced(issuer_co, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    make_range(issuer_co)
    accounts = make_accounts(issuer_co, 3)  # 20001 per account for 2026-09
    issue_batch_inline(issuer_co, accounts)
    return accounts


@pytest.mark.django_db
def test_wrong_control_total_refused_nothing_paid(issuer_co, invoiced, client_co):
    good = recaudo_file([("000001", 20001), ("000002", 10000)])
    bad = with_wrong_file_total(good)
    with pytest.raises(Invalid) as info:
        actions.import_payments(issuer_co, Actor.cli(), data=bad)
    assert info.value.code == "billing.payment_file.invalid" and info.value.details["line"] == 6  # the 09 record
    assert "No se registró ningún pago" in info.value.message
    resp = client_co.post("/facturacion/recaudo/", {"file": SimpleUploadedFile("rec.txt", bad)})
    assert resp.status_code == 200 and "Línea 6" in resp.content.decode()
    assert resp.context["form"].errors.as_data()["file"][0].code == "billing.payment_file.invalid"
    path = __import__("pathlib").Path(__import__("tempfile").mkdtemp()) / "bad.txt"
    path.write_bytes(bad)
    with pytest.raises(RefusedCommand) as cli:
        call_command("payments", "import", str(path), "--issuer", issuer_co.tax_id)
    assert cli.value.returncode == 2 and cli.value.refusal.code == "billing.payment_file.invalid"
    assert Payment.objects.count() == 0 and PaymentFile.objects.count() == 0
    assert set(BillingInvoice.objects.values_list("status", flat=True)) == {"issued"}


@pytest.mark.django_db
def test_payments_mark_invoices_and_update_cartera(issuer_co, invoiced, client_co):
    data = recaudo_file([("000001", 20001), ("000002", 10000), ("777777", 5000)])
    resp = client_co.post("/facturacion/recaudo/", {"file": SimpleUploadedFile("rec.txt", data)})
    body = resp.content.decode()
    assert resp.status_code == 200 and "2 pagos aplicados" in body and "777777" in body
    inv = {i.account.reference: i for i in BillingInvoice.objects.select_related("account")}
    assert inv["000001"].status == "paid" and inv["000001"].paid_amount == D(20001)
    assert inv["000002"].status == "partial" and inv["000002"].balance == D(10001)
    assert inv["000003"].status == "issued"
    pf = PaymentFile.objects.get()
    assert pf.matched_count == 2 and pf.unmatched[0]["reference"] == "777777" and pf.total == D(35001)
    report = cartera.compute(issuer_co, as_of=dt.date(2026, 10, 25))
    balances = {r.reference: r.balance for r in report.rows}
    assert balances == {"000001": D(0), "000002": D(10001), "000003": D(20001)}
    # overdue since 20/10 -> 5 days
    assert report.totals["d1_30"] == D(30002)
    again = client_co.post("/facturacion/recaudo/", {"file": SimpleUploadedFile("rec.txt", data)})
    assert "ya se cargó" in again.content.decode() and Payment.objects.count() == 2


@pytest.mark.django_db
def test_payments_api_and_cli(issuer_co, invoiced, admin_co, api_client, tmp_path):
    api_client.force_authenticate(admin_co)
    url = f"/api/v1/issuers/{issuer_co.pk}/billing/payment-files/"
    bad = with_wrong_file_total(recaudo_file([("000003", 20001)]))
    r = api_client.post(url, {"file": SimpleUploadedFile("r.txt", bad)}, format="multipart")
    assert r.status_code == 400 and r.json()["code"] == "billing.payment_file.invalid"
    assert r.json()["details"]["line"] == 5 and r.json()["field"] == "file" and "Línea 5" in r.json()["detail"]
    path = tmp_path / "rec.txt"
    path.write_bytes(recaudo_file([("000003", 20001)]))
    out = io.StringIO()
    call_command("payments", "import", str(path), "--issuer", issuer_co.tax_id, stdout=out)
    assert "1 pagos aplicados" in out.getvalue()
    assert BillingInvoice.objects.get(account__reference="000003").status == "paid"
    assert api_client.get(url).json()["results"][0]["matched_count"] == 1


@pytest.mark.django_db
def test_cli_says_how_many_more_payments_have_no_account(issuer_co, invoiced, tmp_path):
    path = tmp_path / "rec.txt"
    path.write_bytes(recaudo_file([(f"9{i:05d}", 1000 + i) for i in range(23)]))
    out = io.StringIO()
    call_command("payments", "import", str(path), "--issuer", issuer_co.tax_id, stdout=out)
    text = out.getvalue()
    assert "23 sin cuenta" in text and text.count("  línea ") == 20 and "… 3 más; la lista completa" in text
