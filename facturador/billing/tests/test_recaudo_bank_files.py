"""Recaudo files as banks deliver them: line endings, trimmed records, re-downloads, sizes, odd characters."""

import datetime as dt
from decimal import Decimal as D

import pytest
from facturador.billing import actions
from facturador.billing.models import BillingInvoice, Payment, PaymentFile
from facturador.billing.tests.helpers import issue_batch_inline, make_accounts, make_range
from facturador.core.actors import Actor
from facturador.core.errors import Conflict
from facturador.payments import asobancaria as ab

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 10, 18)


def recaudo_file(payments, file_time="1530"):
    header = ab.FileHeader(nit="900373076", collection_date=DAY, bank_code="007", account="12345678901", file_date=DAY,
                           file_time=file_time)
    lot = ab.Lot(service_code="7709998000001", number=1, details=[
        ab.Detail(reference=ref, amount=D(amount), payment_date=DAY, bank_code="007", operation_id=str(i))
        for i, (ref, amount) in enumerate(payments, start=1)])
    return ab.write(ab.AsobancariaFile(header=header, lots=[lot]))


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
