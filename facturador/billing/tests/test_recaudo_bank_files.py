"""Recaudo files as banks deliver them: line endings, trimmed records, re-downloads, sizes, odd characters."""

from decimal import Decimal as D

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from facturador.billing import actions
from facturador.billing.models import BillingInvoice, Payment, PaymentFile
from facturador.billing.tests.helpers import issue_batch_inline, make_accounts, make_range, recaudo_file
from facturador.core.actors import Actor
from facturador.core.cli import RefusedCommand
from facturador.core.errors import Conflict, Invalid

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoiced(issuer_co, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    make_range(issuer_co)
    accounts = make_accounts(issuer_co, 2)  # 20,001 per account for 2026-09
    issue_batch_inline(issuer_co, accounts)
    return accounts


def import_(issuer, data):
    return actions.import_payments(issuer, Actor.cli(), data=data, name="recaudo.txt")


def test_the_same_file_with_unix_line_endings_is_refused_as_already_loaded(issuer_co, invoiced):
    data = recaudo_file([("000001", "10000")])
    import_(issuer_co, data)
    with pytest.raises(Conflict) as info:
        import_(issuer_co, data.replace(b"\r\n", b"\n"))
    assert info.value.code == "billing.payment_file.duplicate"
    assert Payment.objects.count() == 1 and PaymentFile.objects.count() == 1


def test_the_same_file_with_its_trailing_blanks_trimmed_is_refused_as_already_loaded(issuer_co, invoiced):
    data = recaudo_file([("000001", "10000")])
    import_(issuer_co, data)
    trimmed = b"\n".join(line.rstrip() for line in data.split(b"\r\n")).rstrip(b"\n")  # no final newline either
    with pytest.raises(Conflict):
        import_(issuer_co, trimmed)
    assert Payment.objects.count() == 1


def test_the_same_collection_downloaded_again_later_is_refused_as_already_loaded(issuer_co, invoiced):
    """A bank portal writes the moment of the download into the header: the payments are the same."""
    import_(issuer_co, recaudo_file([("000001", "10000")], file_time="1530"))
    with pytest.raises(Conflict) as info:
        import_(issuer_co, recaudo_file([("000001", "10000")], file_time="1712"))
    assert "recaudo.txt" in info.value.message and info.value.details["payment_file"] == PaymentFile.objects.get().pk
    assert BillingInvoice.objects.get(account__reference="000001").paid_amount == D("10000")


def test_another_file_of_the_same_day_with_other_payments_is_applied(issuer_co, invoiced):
    import_(issuer_co, recaudo_file([("000001", "10000")], file_time="1530"))
    import_(issuer_co, recaudo_file([("000002", "10000")], file_time="1712"))
    assert Payment.objects.count() == 2


def test_a_file_stored_before_fingerprints_is_still_known_by_its_bytes(issuer_co, invoiced):
    import hashlib

    data = recaudo_file([("000001", "10000")])
    import_(issuer_co, data)
    PaymentFile.objects.update(sha256=hashlib.sha256(data).hexdigest())  # as stored by earlier versions
    with pytest.raises(Conflict):
        import_(issuer_co, data)
    assert Payment.objects.count() == 1


class _Unreadable:
    """An upload that says how big it is and must not be read whole."""

    def __init__(self, size):
        self.size, self.name = size, "enorme.txt"

    def read(self, n=-1):
        raise AssertionError("the upload was read")


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(issuer_co, invoiced, settings):
    settings.FACTURADOR_PAYMENT_FILE_MAX_BYTES = 10_000
    with pytest.raises(Invalid) as info:
        actions.import_payments(issuer_co, Actor.cli(), upload=_Unreadable(10_001))
    r = info.value
    assert (r.code, r.field) == ("billing.payment_file.too_large", "file") and "enorme.txt" in r.message
    assert PaymentFile.objects.count() == 0


def test_a_file_over_the_size_limit_is_refused_by_the_api_the_page_and_the_command(issuer_co, invoiced, settings,
                                                                                 admin_co, api_client, client_co,
                                                                                 tmp_path):
    data = recaudo_file([("000001", "1")] * 40)  # 40 payments: 7,216 bytes
    settings.FACTURADOR_PAYMENT_FILE_MAX_BYTES = len(data) - 1
    api_client.force_authenticate(admin_co)
    r = api_client.post(f"/api/v1/issuers/{issuer_co.pk}/billing/payment-files/",
                        {"file": SimpleUploadedFile("r.txt", data)}, format="multipart")
    assert r.status_code == 400 and r.json()["code"] == "billing.payment_file.too_large"
    page = client_co.post("/facturacion/recaudo/", {"file": SimpleUploadedFile("r.txt", data)})
    assert page.context["form"].errors.as_data()["file"][0].code == "billing.payment_file.too_large"
    path = tmp_path / "r.txt"
    path.write_bytes(data)
    with pytest.raises(RefusedCommand) as cli:
        call_command("payments", "import", str(path), "--issuer", issuer_co.tax_id)
    assert cli.value.refusal.code == "billing.payment_file.too_large"
    assert Payment.objects.count() == 0 and PaymentFile.objects.count() == 0


def test_a_file_at_the_size_limit_is_applied(issuer_co, invoiced, settings):
    data = recaudo_file([("000001", "1")])
    settings.FACTURADOR_PAYMENT_FILE_MAX_BYTES = len(data)
    assert import_(issuer_co, data).matched == 1


def test_a_file_with_a_reference_in_another_encoding_is_refused_and_nothing_is_registered(issuer_co, invoiced):
    data = recaudo_file([("000001", "10000"), ("000002", "10000")])
    bad = data.replace(b"000000000000000000000000000000000000000000000002", "00000000000000000000000000000000000000000000000ñ".encode("latin-1"))
    with pytest.raises(Invalid) as info:
        import_(issuer_co, bad)
    r = info.value
    assert (r.code, r.details["line"], r.details["record_field"]) == ("billing.payment_file.invalid", 4, "referencia")
    assert "«ñ»" in r.message and Payment.objects.count() == 0 and PaymentFile.objects.count() == 0


@pytest.fixture
def zero_twins(issuer_co):
    """Two accounts whose references differ only in leading zeros (a register typed by hand, or half of it
    through a spreadsheet that dropped them)."""
    from facturador.billing.models import Account

    return {ref: Account.objects.create(issuer=issuer_co, reference=ref, holder_name=f"Titular {ref}", id_type="CC",
                                        id_number="1" + ref.zfill(7), address="Calle 1") for ref in ("0123", "123")}


def with_reference_field(data: bytes, field: str) -> bytes:
    """The file with the 48-character reference of its (only) payment written as `field`."""
    lines = data.split(b"\r\n")
    lines[2] = lines[2][:2] + field.encode("ascii").ljust(48) + lines[2][50:]
    return b"\r\n".join(lines)


def test_a_reference_written_left_aligned_is_the_account_with_exactly_that_reference(issuer_co, zero_twins):
    import_(issuer_co, with_reference_field(recaudo_file([("1", "5000")]), "0123"))
    assert Payment.objects.get().account == zero_twins["0123"]


def test_a_zero_padded_reference_two_accounts_could_be_is_left_without_account(issuer_co, zero_twins):
    result = import_(issuer_co, recaudo_file([("0123", "5000")]))  # written 000…0123: the zeros say nothing
    assert result.matched == 0 and not Payment.objects.exists()
    assert result.unmatched[0]["line"] == 3 and "0123" in result.unmatched[0]["reason"]
    assert "123" in result.unmatched[0]["reason"] and "ambigua" in result.unmatched[0]["reason"]


def test_an_empty_file_gets_the_refusal_shape_from_the_api(issuer_co, admin_co, api_client):
    api_client.force_authenticate(admin_co)
    r = api_client.post(f"/api/v1/issuers/{issuer_co.pk}/billing/payment-files/",
                        {"file": SimpleUploadedFile("vacio.txt", b"")}, format="multipart")
    assert r.status_code == 400 and r.json()["code"] == "billing.payment_file.invalid"
    assert r.json()["details"]["rule"] == "empty_file" and "vacío" in r.json()["detail"]
