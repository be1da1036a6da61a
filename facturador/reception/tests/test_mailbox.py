"""The reception mailbox against a real IMAP server (Dovecot started by the tests): exactly-once intake."""

import pytest

from facturador.core.actors import Actor
from facturador.core.errors import Invalid
from facturador.core.models import AuditEntry
from facturador.core.outbound import check_mail_server
from facturador.reception import actions, mailbox
from facturador.reception.models import Intake, Mailbox, ReceivedDocument

from .conftest import BUYER_NIT, Dovecot, attached_xml, email_with


@pytest.fixture
def box(receiver_co, dovecot):
    return actions.save_mailbox(receiver_co, Actor.cli(), password=Dovecot.password, values={
        "host": "127.0.0.1", "port": dovecot.port, "security": "none", "username": Dovecot.user})


def test_poll_files_documents_and_flags_messages_seen(box, dovecot, co_zips):
    dovecot.append(email_with([("z1.zip", co_zips[0])]))
    dovecot.append(email_with([("z2.zip", co_zips[1])]))
    counts = mailbox.poll(box)
    assert (counts["imported"], counts["documents"]) == (2, 2)
    assert ReceivedDocument.objects.filter(issuer=box.issuer, source="imap").count() == 2
    assert all(rb"\Seen" in flags for flags in dovecot.flags().values())
    assert set(Intake.objects.values_list("uid", flat=True)) == set(dovecot.flags())


def test_message_stored_but_not_flagged_is_not_imported_twice(box, dovecot, co_zip):
    """A crash between storing a message's documents and flagging it: the next poll only flags it."""
    dovecot.append(email_with([("z.zip", co_zip)]))
    conn = mailbox.connect(box)
    conn.select('"INBOX"')
    uidvalidity = mailbox._uidvalidity(conn)
    (uid,) = [int(u) for u in conn.uid("SEARCH", None, "UNSEEN")[1][0].split()]
    mailbox._import(conn, box, uidvalidity, uid, 10**7)  # stored and committed; the process dies before flagging
    conn.logout()
    counts = mailbox.poll(box)
    assert (counts["imported"], counts["already_imported"]) == (0, 1)
    assert ReceivedDocument.objects.get(issuer=box.issuer).arrivals == 1
    assert rb"\Seen" in dovecot.flags()[uid]


def test_broken_and_foreign_attachments_are_recorded(box, dovecot, co_zip, make_issuer):
    dovecot.append(email_with([("roto.xml", b"<Invoice><sin cerrar")], subject="roto"))
    name, xml = attached_xml(co_zip)
    other = make_issuer("CO", tax_id="901234567")
    box.issuer = other  # the same mailbox read for another NIT: the document is set aside, not lost
    Mailbox.objects.filter(pk=box.pk).update(issuer=other)
    dovecot.append(email_with([(name, xml)], subject="otro NIT"))
    mailbox.poll(box)
    failed = Intake.objects.get(subject="roto")
    assert failed.status == "failed" and "roto.xml" in failed.error_message
    doc = ReceivedDocument.objects.get(issuer=other)
    assert doc.status == "set_aside" and BUYER_NIT in doc.set_aside_reason


def test_processed_messages_can_be_moved_to_a_folder(box, dovecot, co_zip):
    conn = dovecot.client()
    conn.create("Procesados")
    conn.logout()
    Mailbox.objects.filter(pk=box.pk).update(done_folder="Procesados")
    box.refresh_from_db()
    dovecot.append(email_with([("z.zip", co_zip)]))
    mailbox.poll(box)
    assert dovecot.flags("INBOX") == {} and len(dovecot.flags("Procesados")) == 1


def test_cli_poll_runs_the_job_and_audits(box, dovecot, co_zip, capsys):
    from django.core.management import call_command
    import json

    dovecot.append(email_with([("z.zip", co_zip)]))
    call_command("reception", "poll", "--issuer", BUYER_NIT, "--json")
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "finished" and out["documents"] == 1
    assert AuditEntry.objects.filter(action="reception.mailbox.poll").exists()


def test_wrong_password_fails_generically(box, dovecot):
    box.password = "otra"
    with pytest.raises(mailbox.MailboxError) as exc:
        mailbox.poll(box)
    assert "otra" not in exc.value.message and "revise" in exc.value.message


def test_private_mail_server_needs_the_deployment_allowance(settings):
    settings.FACTURADOR_ALLOWED_ENDPOINTS = []
    with pytest.raises(Invalid):
        check_mail_server("127.0.0.1", 143, tls=True)
    with pytest.raises(Invalid):
        check_mail_server("10.1.2.3", 993, tls=True)
    settings.FACTURADOR_ALLOWED_ENDPOINTS = ["imap://127.0.0.1:1143"]
    assert check_mail_server("127.0.0.1", 1143, tls=False) == "127.0.0.1"
    with pytest.raises(Invalid):
        check_mail_server("127.0.0.1", 1144, tls=False)


def test_password_is_stored_encrypted_and_kept_when_not_given(box):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT password FROM reception_mailbox WHERE id = %s", [box.pk])
        raw = bytes(cur.fetchone()[0])
    assert Dovecot.password.encode() not in raw
    actions.save_mailbox(box.issuer, Actor.cli(), values={"host": "127.0.0.1", "port": box.port, "security": "none",
                                                          "username": box.username, "folder": "INBOX"})
    assert Mailbox.objects.get(pk=box.pk).password.reveal() == Dovecot.password


def test_periodic_poller_creates_one_job_per_due_mailbox(box):
    from django.utils import timezone

    from facturador.core.models import Job
    from facturador.reception.jobs import schedule_polls

    schedule_polls()
    schedule_polls()  # a second worker's monitor at the same time: the mailbox is not due any more
    assert Job.objects.filter(kind="reception.poll", issuer=box.issuer).count() == 1
    Job.objects.filter(kind="reception.poll").update(status="finished")
    schedule_polls(now=timezone.now() + timezone.timedelta(minutes=box.poll_minutes + 1))
    assert Job.objects.filter(kind="reception.poll", issuer=box.issuer).count() == 2


def test_message_stored_but_not_read_is_processed_on_the_next_poll(box, dovecot, co_zip):
    """A crash after the raw message was recorded and before its documents were filed."""
    from facturador.reception import services

    dovecot.append(email_with([("z.zip", co_zip)]))
    conn = mailbox.connect(box)
    conn.select('"INBOX"')
    uidvalidity = mailbox._uidvalidity(conn)
    (uid,) = [int(u) for u in conn.uid("SEARCH", None, "UNSEEN")[1][0].split()]
    raw = next(i[1] for i in conn.uid("FETCH", str(uid), "(BODY.PEEK[])")[1] if isinstance(i, tuple))
    conn.logout()
    services.record_intake(box.issuer, source="imap", name="m.eml", data=raw, folder="INBOX",
                           uidvalidity=uidvalidity, uid=uid)
    mailbox.poll(box)
    assert Intake.objects.get().status == "processed" and ReceivedDocument.objects.count() == 1


def test_message_read_by_another_client_before_the_poll_is_imported(box, dovecot, co_zips):
    """Someone opened the message in their mail client first: it is \\Seen, and must still be imported."""
    dovecot.append(email_with([("z1.zip", co_zips[0])]), flags=r"(\Seen)")
    counts = mailbox.poll(box)
    assert (counts["imported"], counts["documents"]) == (1, 1)
    assert ReceivedDocument.objects.filter(issuer=box.issuer).count() == 1


def test_poll_reads_only_uids_above_the_cursor(box, dovecot, co_zips):
    """`UID n+1:*` answers the last message when n+1 is past the end: it is not read again."""
    dovecot.append(email_with([("z1.zip", co_zips[0])]))
    mailbox.poll(box)
    box.refresh_from_db()
    assert box.cursor_uid == max(dovecot.flags())
    assert mailbox.poll(box)["messages"] == 0
    dovecot.append(email_with([("z2.zip", co_zips[1])]), flags=r"(\Seen)")
    box.refresh_from_db()
    counts = mailbox.poll(box)
    assert (counts["messages"], counts["imported"]) == (1, 1)


def test_changed_uidvalidity_rescans_without_importing_twice(box, dovecot, co_zips):
    """The server renumbered the folder: all its messages are read again; those recorded under the former
    UIDVALIDITY (same content hash / Message-ID) are only flagged, a new one is imported."""
    dovecot.append(email_with([("z1.zip", co_zips[0])]))
    mailbox.poll(box)
    box.refresh_from_db()
    old = box.cursor_uidvalidity
    Intake.objects.update(uidvalidity=old - 1)  # as if recorded before the renumbering
    Mailbox.objects.filter(pk=box.pk).update(cursor_uidvalidity=old - 1)
    dovecot.append(email_with([("z2.zip", co_zips[1])]), flags=r"(\Seen)")
    box.refresh_from_db()
    counts = mailbox.poll(box)
    assert (counts["messages"], counts["already_imported"], counts["imported"]) == (2, 1, 1)
    assert Intake.objects.count() == 2 and ReceivedDocument.objects.count() == 2
    box.refresh_from_db()
    assert (box.cursor_uidvalidity, box.cursor_uid) == (old, max(dovecot.flags()))


def test_ordinary_mail_is_recorded_as_ignored_not_as_a_failure(box, dovecot, co_zip, client, make_user):
    """The first poll of a new mailbox reads every message: mail without an xml, zip or eml attached is ignored
    (counted apart, left unread in the mailbox), and never read again."""
    dovecot.append(email_with([], subject="Reunión del lunes"))
    dovecot.append(email_with([("foto.jpg", b"\xff\xd8\xff\xe0 not an invoice")], subject="Foto"))
    dovecot.append(email_with([("z.zip", co_zip)], subject="Factura"))
    counts = mailbox.poll(box)
    assert (counts["messages"], counts["imported"], counts["ignored"], counts["errors"]) == (3, 1, 2, 0)
    ignored = Intake.objects.filter(issuer=box.issuer, status="ignored")
    assert sorted(ignored.values_list("subject", flat=True)) == ["Foto", "Reunión del lunes"]
    assert not Intake.objects.filter(status="failed").exists()
    flags = dovecot.flags()
    assert [rb"\Seen" in flags[i.uid] for i in ignored] == [False, False]  # left for a person to read
    box.refresh_from_db()
    assert mailbox.poll(box)["messages"] == 0  # the cursor passed them
    client.force_login(make_user("lector", box.issuer, "readonly"))
    page = client.get("/recepcion/llegadas/").content.decode()
    assert page.count("Ignorado: sin facturas adjuntas") == 2 and "Sin documentos válidos" not in page


def test_ignored_message_body_is_not_kept(box, dovecot):
    dovecot.append(email_with([], subject="Publicidad"))
    mailbox.poll(box)
    intake = Intake.objects.get(issuer=box.issuer)
    assert intake.status == "ignored" and intake.size > 0 and intake.sha256
    with intake.file.open("rb") as fh:
        assert fh.read() == b""


def test_unnamed_xml_part_is_still_read(box, dovecot, co_zip):
    """A message whose only part is the XML itself (no file name) is a document, not ordinary mail."""
    from email.message import EmailMessage

    name, xml = attached_xml(co_zip)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "p@example.com", "f@example.com", "xml"
    msg.set_content(xml, maintype="application", subtype="xml")
    dovecot.append(msg.as_bytes())
    counts = mailbox.poll(box)
    assert (counts["imported"], counts["ignored"], counts["documents"]) == (1, 0, 1)
