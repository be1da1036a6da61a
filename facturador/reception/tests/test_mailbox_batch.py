"""A mailbox poll files its messages' documents in batches (one transaction) and flags messages only after that
transaction is committed (real Dovecot, as test_mailbox)."""

import pytest

from facturador.reception import mailbox, services
from facturador.reception.models import Intake, ReceivedDocument

from .conftest import email_with
from .test_mailbox import box  # noqa: F401 — the fixture


def test_messages_are_flagged_only_after_their_documents_are_committed(box, dovecot, co_zips, monkeypatch):  # noqa: F811
    dovecot.append(email_with([("z1.zip", co_zips[0])]))
    dovecot.append(email_with([("z2.zip", co_zips[1])]))
    with monkeypatch.context() as m:  # the process dies while filing the batch
        m.setattr(services.ReceivedDocument.objects, "bulk_create", lambda *a, **k: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            mailbox.poll(box)
    assert not any(rb"\Seen" in flags for flags in dovecot.flags().values())
    assert list(Intake.objects.values_list("status", flat=True)) == ["received", "received"]
    box.refresh_from_db()
    assert box.cursor_uid == 0
    counts = mailbox.poll(box)  # the next poll files them from their stored copies, once
    assert (counts["already_imported"], ReceivedDocument.objects.count()) == (2, 2)
    assert all(rb"\Seen" in flags for flags in dovecot.flags().values())


def test_message_that_breaks_the_reader_fails_alone_and_stops_the_cursor(box, dovecot, co_zips,  # noqa: F811
                                                                           monkeypatch):
    dovecot.append(email_with([("z1.zip", co_zips[0])]))
    dovecot.append(email_with([("z2.zip", co_zips[1])]))
    first, second = sorted(dovecot.flags())
    real = services.reader.read_arrival

    def read(name, data, **kw):
        if name == f"mensaje-{first}.eml":
            raise RuntimeError("boom")
        return real(name, data, **kw)

    monkeypatch.setattr(services.reader, "read_arrival", read)
    counts = mailbox.poll(box)
    assert (counts["imported"], counts["documents"], counts["errors"]) == (1, 1, 1)
    assert Intake.objects.get(uid=first).error_code == "reception.intake.unexpected"
    flags = dovecot.flags()
    assert rb"\Seen" not in flags[first] and rb"\Seen" in flags[second]
    box.refresh_from_db()
    assert box.cursor_uid < first  # the next poll sees it again (and only flags it)


def test_same_document_in_two_messages_of_a_poll_is_filed_once(box, dovecot, co_zip):  # noqa: F811
    dovecot.append(email_with([("z.zip", co_zip)]))
    dovecot.append(email_with([("z.zip", co_zip)], subject="reenviado"))
    counts = mailbox.poll(box)
    assert (counts["imported"], counts["documents"]) == (2, 1)
    assert ReceivedDocument.objects.get(issuer=box.issuer).arrivals == 2


def test_a_poll_larger_than_a_batch(box, dovecot, co_zips, monkeypatch):  # noqa: F811
    monkeypatch.setattr(services, "BATCH_SIZE", 1)
    for data in co_zips:
        dovecot.append(email_with([("z.zip", data)]))
    counts = mailbox.poll(box)
    assert (counts["imported"], counts["documents"]) == (2, 2)
    box.refresh_from_db()
    assert box.cursor_uid == max(dovecot.flags())
