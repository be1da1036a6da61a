"""Bounces (DSN from a maildir, webhook) and opt-out (List-Unsubscribe target)."""

import mailbox

from django.urls import reverse

from facturador.mailing import actions, bounces, engine
from facturador.mailing.models import Delivery, MailSend, Suppression
from facturador.mailing.tests.conftest import ACTOR


def dsn(original_message_id, recipient, status="5.1.1", action="failed", headers_only=False) -> bytes:
    """A delivery status notification as an MTA (Postfix style) writes it, RFC 3464."""
    quoted = (f"Message-ID: {original_message_id}\r\nFrom: no-responder@facturador.local\r\nTo: {recipient}\r\n"
              "Subject: Factura\r\n")
    original = (f"Content-Type: text/rfc822-headers\r\n\r\n{quoted}" if headers_only
                else f"Content-Type: message/rfc822\r\n\r\n{quoted}\r\nHola\r\n")
    return (
        "From: MAILER-DAEMON@mx.example.com\r\nTo: no-responder@facturador.local\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"\r\n\r\n'
        "--B1\r\nContent-Type: text/plain\r\n\r\nThis is the mail system at host mx.example.com.\r\n\r\n"
        "--B1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nOriginal-Recipient: rfc822;{recipient}\r\n"
        f"Action: {action}\r\nStatus: {status}\r\nDiagnostic-Code: smtp; 550 {status} <{recipient}>: User unknown\r\n\r\n"
        f"--B1\r\n{original}\r\n--B1--\r\n"
    ).encode()


def sent_send(issuer, make_docs, **kw):
    make_docs(issuer, 3)
    send = actions.register_send(issuer, ACTOR, ranges="FE1-FE3", subject="Factura {{numero}}", body="Hola", **kw)
    return engine.run_send_inline(actions.start(send.issuer, ACTOR, send=send))


def test_parse_dsn(issuer_co):
    parsed = bounces.parse_dsn(__import__("email").message_from_bytes(
        dsn("<abc@facturador.local>", "Nadie@Example.com"), policy=__import__("email").policy.default))
    assert parsed["message_id"] == "<abc@facturador.local>"
    assert parsed["recipients"] == [{"email": "nadie@example.com", "original": "nadie@example.com", "action": "failed",
                                     "status": "5.1.1", "diagnostic": "smtp; 550 5.1.1 <Nadie@Example.com>: User unknown"}]


def test_maildir_marks_bounced_and_suppresses(issuer_co, make_docs, smtp_server, mail_settings, tmp_path):
    send = sent_send(issuer_co, make_docs)
    rows = list(Delivery.objects.filter(send=send).order_by("id"))
    box = mailbox.Maildir(tmp_path / "rebotes", create=True)
    box.add(dsn(rows[0].message_id, rows[0].email))
    box.add(dsn(rows[1].message_id, rows[1].email, status="4.2.2", action="delayed", headers_only=True))
    box.add(b"From: alguien@example.com\nSubject: hola\n\nNo es un rebote\n")
    result = bounces.process_maildir(str(tmp_path / "rebotes"))
    assert result == {"matched": 2, "unmatched": 0, "ignored": 1, "messages": 3}
    assert bounces.process_maildir(str(tmp_path / "rebotes"))["messages"] == 0  # processed ones are not read again
    rows = list(Delivery.objects.filter(send=send).order_by("id"))
    assert rows[0].status == Delivery.Status.BOUNCED and "5.1.1" in rows[0].bounce_detail
    assert rows[1].status == Delivery.Status.SENT and "temporal" in rows[1].bounce_detail
    assert Suppression.objects.filter(issuer=issuer_co, email=rows[0].email, reason="bounced").exists()
    # the next send excludes the bounced address, with the reason
    again = actions.register_send(issuer_co, ACTOR, ranges="FE1-FE3", subject="x", body="y")
    assert Delivery.objects.get(send=again, email=rows[0].email).exclusion == Delivery.Exclusion.BOUNCED


def test_webhook(client, issuer_co, make_docs, smtp_server, mail_settings, settings):
    send = sent_send(issuer_co, make_docs)
    rows = list(Delivery.objects.filter(send=send).order_by("id"))
    url = reverse("mailing:bounce_webhook")
    assert client.post(url, {}, content_type="application/json").status_code == 503
    settings.MAILING_WEBHOOK_TOKEN = "secreto-de-prueba"
    assert client.post(url, {"message_id": rows[0].message_id}, content_type="application/json",
                       HTTP_AUTHORIZATION="Bearer otro").status_code == 401
    resp = client.post(url, [{"message_id": rows[0].message_id, "type": "hard", "detail": "550 no existe"},
                             {"message_id": "<nada@x>", "type": "hard"}],
                       content_type="application/json", HTTP_AUTHORIZATION="Bearer secreto-de-prueba")
    assert resp.json() == {"matched": 1, "unmatched": 1}
    resp = client.post(url + "?token=secreto-de-prueba", dsn(rows[2].message_id, rows[2].email),
                       content_type="message/rfc822")
    assert resp.json()["matched"] == 1
    statuses = list(Delivery.objects.filter(send=send).order_by("id").values_list("status", flat=True))
    assert statuses == ["bounced", "sent", "bounced"]


def test_unsubscribe_link_opts_out_of_informative_sends_only(client, issuer_co, make_docs, smtp_server, mail_settings):
    send = sent_send(issuer_co, make_docs, legally_required=False)
    msg = next(m for m in smtp_server.messages if m["To"] == "cliente1@example.com")
    url = msg["List-Unsubscribe"].strip().strip("<>")
    path = url.split("8000", 1)[1]
    assert "Confirmar la baja" in client.get(path).content.decode()
    assert "ya no recibirá" in client.post(path, "List-Unsubscribe=One-Click",
                                           content_type="application/x-www-form-urlencoded").content.decode()
    assert Suppression.objects.filter(issuer=issuer_co, email="cliente1@example.com", reason="opted_out").exists()
    assert client.get(path[:-5] + "xx/").status_code == 404  # tampered token
    info = actions.register_send(issuer_co, ACTOR, ranges="FE1-FE3", subject="x", body="y", legally_required=False)
    invoice = actions.register_send(issuer_co, ACTOR, ranges="FE1-FE3", subject="x", body="y")
    assert Delivery.objects.get(send=info, email="cliente1@example.com").exclusion == "opted_out"
    assert Delivery.objects.get(send=invoice, email="cliente1@example.com").status == "pending"
    assert send.status == MailSend.Status.FINISHED
