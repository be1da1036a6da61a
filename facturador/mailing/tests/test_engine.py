"""The delivery engine run in-process against a real SMTP server (aiosmtpd): what arrives, retries."""

import email.utils
import io
import os
import zipfile

import pytest

from facturador.core.errors import Conflict, Invalid
from facturador.mailing import actions, engine, services
from facturador.mailing.models import Delivery, MailSend, Suppression
from facturador.mailing.tests.conftest import ACTOR, inbox_by_message_id

BODY = "Estimado {{cliente}}:\n\nAdjuntamos la factura {{numero}} por {{total}}, vence el {{vencimiento}}.\n\n{{emisor}}"


def register(issuer, ranges="FE1-FE3", **kw):
    kw.setdefault("subject", "Factura {{numero}} de {{emisor}}")
    kw.setdefault("body", BODY)
    return actions.register_send(issuer, ACTOR, ranges=ranges, **kw)


def run(send):
    send = actions.start(send.issuer, ACTOR, send=send)
    return engine.run_send_inline(send)


def test_messages_arrive_with_attachments_headers_and_body(issuer_co, issuer_mx, make_docs, smtp_server, mail_settings):
    co_docs = make_docs(issuer_co, 2, prefix="FE", with_zip=True)
    mx_docs = make_docs(issuer_mx, 1, prefix="A")
    co = register(issuer_co, "FE1-FE2", reply_to="cartera@empresa.co")
    mx = register(issuer_mx, "A1-A1")
    assert run(co).status == MailSend.Status.FINISHED
    assert run(mx).status == MailSend.Status.FINISHED
    by_id = inbox_by_message_id(smtp_server)
    assert len(smtp_server.messages) == 3
    for doc in co_docs + mx_docs:
        d = Delivery.objects.get(document=doc)
        assert d.status == Delivery.Status.SENT and d.sent_at and d.smtp_response.startswith("250")
        [msg] = by_id[d.message_id]
        assert msg["To"] == doc.customer_email
        assert email.utils.parsedate_to_datetime(msg["Date"]) is not None
        assert "<no-responder@facturador.local>" in msg["From"] and doc.issuer.legal_name in msg["From"]
        assert msg["Subject"] == f"Factura {doc.full_number} de {doc.issuer.legal_name}"
        text = msg.get_body(("plain",)).get_content()
        assert doc.customer_name in text  # plain text: not escaped
        assert doc.due_date.strftime("%d/%m/%Y") in text
        html = msg.get_body(("html",)).get_content()
        assert "Cliente" in html and "&amp; Hijos &lt;Ltda&gt;" in html and "<Ltda>" not in html  # escaped
        parts = [(p.get_filename(), p.get_content_type(), p.get_content()) for p in msg.iter_attachments()]
        if doc.country == "CO":
            assert msg["Reply-To"] == "cartera@empresa.co"
            assert msg["List-Unsubscribe"] is None  # an invoice is legally required
            [(name, ctype, content)] = parts
            assert (name, ctype) == (os.path.basename(doc.attachment.name), "application/zip")
            assert content == doc.attachment.open("rb").read() and len(content) == doc.attachment.size
            assert sorted(zipfile.ZipFile(io.BytesIO(content)).namelist()) == [
                f"ad{doc.full_number}.xml", f"fv{doc.full_number}.pdf"]
        else:
            assert msg["Reply-To"] == doc.issuer.email
            assert [(n, c) for n, c, _ in parts] == [(os.path.basename(doc.pdf.name), "application/pdf"),
                                                      (os.path.basename(doc.xml.name), "application/xml")]
            assert parts[0][0].startswith(doc.full_number)
            assert parts[0][2] == doc.pdf.open("rb").read() and parts[0][2].startswith(b"%PDF-")
            assert len(parts[0][2]) == doc.pdf.size
            xml = parts[1][2] if isinstance(parts[1][2], bytes) else parts[1][2].encode()
            assert xml == doc.xml.open("rb").read()
    # envelope: exactly the customer
    assert sorted(e.rcpt_tos[0] for e in smtp_server.envelopes) == sorted(d.customer_email for d in co_docs + mx_docs)


def test_test_email_is_what_the_customer_gets(issuer_co, make_docs, smtp_server, mail_settings):
    make_docs(issuer_co, 2, with_zip=True)
    send = register(issuer_co, "FE1-FE2")
    actions.set_test_recipients(send.issuer, ACTOR, emails=["revisor@example.com"])
    actions.send_test(send.issuer, ACTOR, send=send, email="revisor@example.com")
    [test] = smtp_server.messages
    run(send)
    real = next(m for m in smtp_server.messages[1:] if m["To"] == "cliente1@example.com")
    assert test["To"] == "revisor@example.com"
    for header in ("Subject", "From", "Reply-To"):
        assert test[header] == real[header]
    assert test.get_body(("plain",)).get_content() == real.get_body(("plain",)).get_content()
    assert [p.get_content() for p in test.iter_attachments()] == [p.get_content() for p in real.iter_attachments()]
    assert Delivery.objects.filter(send=send, email="revisor@example.com").count() == 0


def test_4xx_is_retried_with_backoff_5xx_is_not(issuer_co, make_docs, smtp_server, mail_settings):
    make_docs(issuer_co, 4)
    seen = []
    answers = {"cliente2@example.com": ["451 4.7.1 Intente mas tarde", "451 4.7.1 Intente mas tarde"],
               "cliente3@example.com": ["550 5.1.1 Buzon inexistente"] * 5}

    async def handle_RCPT(server, session, envelope, address, rcpt_options):
        seen.append(address)
        queue = answers.get(address)
        if queue:
            return queue.pop(0) if len(queue) > 1 or address == "cliente2@example.com" else queue[0]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    smtp_server.handle_RCPT = handle_RCPT
    send = run(register(issuer_co, "FE1-FE4"))
    assert send.status == MailSend.Status.FINISHED_WITH_ERRORS
    rows = {d.email: d for d in Delivery.objects.filter(send=send)}
    assert rows["cliente2@example.com"].status == Delivery.Status.SENT
    assert rows["cliente2@example.com"].attempts == 3 and seen.count("cliente2@example.com") == 3
    assert rows["cliente3@example.com"].status == Delivery.Status.FAILED
    assert rows["cliente3@example.com"].attempts == 1 and seen.count("cliente3@example.com") == 1
    assert "550 5.1.1 Buzon inexistente" in rows["cliente3@example.com"].smtp_response
    received = [e.rcpt_tos[0] for e in smtp_server.envelopes]
    assert sorted(received) == ["cliente1@example.com", "cliente2@example.com", "cliente4@example.com"]


def test_exclusions_and_why(issuer_co, make_docs, smtp_server, mail_settings):
    make_docs(issuer_co, 5, emails=["ok@example.com", "", "no-es-correo", "baja@example.com", "rebote@example.com"])
    Suppression.objects.create(issuer=issuer_co, email="baja@example.com", reason=Suppression.Reason.OPTED_OUT)
    Suppression.objects.create(issuer=issuer_co, email="rebote@example.com", reason=Suppression.Reason.HARD_BOUNCE)
    invoice = register(issuer_co, "FE1-FE5")
    newsletter = register(issuer_co, "FE1-FE5", legally_required=False)
    reasons = lambda s: {d.email: d.exclusion for d in Delivery.objects.filter(send=s)}
    assert reasons(invoice) == {"ok@example.com": "", "": "no_email", "no-es-correo": "invalid",
                                "baja@example.com": "", "rebote@example.com": "bounced"}
    assert reasons(newsletter)["baja@example.com"] == "opted_out"
    run(newsletter)
    [msg] = smtp_server.messages
    assert msg["To"] == "ok@example.com"
    assert msg["List-Unsubscribe"].strip().startswith("<http") and msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_undefined_variable_is_a_clear_error_at_registration(issuer_co, make_docs):
    make_docs(issuer_co, 1)
    with pytest.raises(services.TemplateVariableError) as exc:
        register(issuer_co, "FE1-FE1", body="Hola {{ clientes }}")
    assert "{{clientes}}" in exc.value.message and "{{cliente}}" in exc.value.message and exc.value.field == "body"
    assert exc.value.code == "mailing.template.variable" and isinstance(exc.value, Invalid)
    with pytest.raises(services.TemplateVariableError) as exc:
        register(issuer_co, "FE1-FE1", subject="{% load x %}")
    assert exc.value.code == "mailing.template.syntax" and exc.value.field == "subject"
    with pytest.raises(services.TemplateVariableError):
        register(issuer_co, "FE1-FE1", subject="{{cliente.__class__}}")
    with pytest.raises(Invalid) as exc:
        register(issuer_co, "FE9-FE1")
    assert exc.value.code == "mailing.range.order"
    with pytest.raises(Invalid) as exc:
        register(issuer_co, "XX1-XX9")
    assert exc.value.code == "mailing.documents.none"
    assert not MailSend.objects.exists()


def test_ranges_period_and_selection(issuer_co, make_docs):
    from datetime import date

    make_docs(issuer_co, 5, prefix="FE")
    make_docs(issuer_co, 3, prefix="FC", issue_date=date(2026, 9, 30))
    assert services.clean_ranges("FE1-FE500, 7-9\nfc2-3") == [
        {"prefix": "FE", "from": 1, "to": 500}, {"prefix": "", "from": 7, "to": 9}, {"prefix": "FC", "from": 2, "to": 3}]
    send = register(issuer_co, "FE2-FE3, FC1-FC3", date_from=date(2026, 10, 1))
    assert sorted(d.document.full_number for d in Delivery.objects.filter(send=send)) == ["FE2", "FE3"]
    send = register(issuer_co, "FE1-FE5, FC1-FC3", recipients=MailSend.Recipients.SELECTED,
                    selected_customers=["800000004", "800000002"])
    assert sorted(d.document.full_number for d in Delivery.objects.filter(send=send)) == ["FC2", "FE2", "FE4"]


def test_recovery_after_a_crash_never_resends_a_message_of_unknown_outcome(issuer_co, make_docs, smtp_server,
                                                                          mail_settings):
    """The database as a killed execution leaves it: two rows reserved but not started (claimed) and one
    row whose SMTP transaction had begun (sending). The next execution sends the reserved rows, marks the
    begun one unknown without sending it, and a deliberate resend later reuses its Message-ID."""
    make_docs(issuer_co, 4)
    send = register(issuer_co, "FE1-FE4")
    rows = list(Delivery.objects.filter(send=send).order_by("id"))
    Delivery.objects.filter(pk__in=[rows[0].pk, rows[1].pk]).update(status="claimed", claim_token="9.0.dead.t0")
    Delivery.objects.filter(pk=rows[2].pk).update(status="sending", claim_token="9.0.dead.t1", attempts=1)
    send = run(send)
    assert send.status == MailSend.Status.FINISHED_WITH_ERRORS
    got = {r.pk: r.status for r in Delivery.objects.filter(send=send)}
    assert got == {rows[0].pk: "sent", rows[1].pk: "sent", rows[2].pk: "unknown", rows[3].pk: "sent"}
    assert rows[2].email not in [e.rcpt_tos[0] for e in smtp_server.envelopes]
    assert len(smtp_server.envelopes) == 3
    assert actions.resolve_unknown(send.issuer, ACTOR, send=send, deliveries=[rows[2].pk], decision="resend") == 1
    send = engine.run_send_inline(MailSend.objects.get(pk=send.pk))
    assert send.status == MailSend.Status.FINISHED
    again = [m for m in smtp_server.messages if m["To"] == rows[2].email]
    assert len(again) == 1 and again[0]["Message-ID"] == rows[2].message_id


def test_zombie_execution_cannot_send_a_row_taken_back(issuer_co, make_docs, smtp_server, mail_settings):
    """An execution presumed dead (its rows released by the next one) cannot move them to sending any more."""
    from django.core.mail import get_connection

    make_docs(issuer_co, 1)
    send = register(issuer_co, "FE1-FE1")
    zombie = engine.Engine(send)
    [row] = zombie.claim_chunk()
    engine.Engine(send).recover()  # the next execution takes the claimed row back
    backend = get_connection()
    backend.open()
    try:
        zombie.deliver(backend, row, "s0")
    finally:
        backend.close()
    assert smtp_server.envelopes == []
    assert Delivery.objects.get(pk=row.pk).status == Delivery.Status.PENDING


def test_resend_failed_only(issuer_co, make_docs, smtp_server, mail_settings):
    make_docs(issuer_co, 3)
    refuse = {"cliente2@example.com"}

    async def handle_RCPT(server, session, envelope, address, rcpt_options):
        if address in refuse:
            return "550 5.2.1 Buzon deshabilitado"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    smtp_server.handle_RCPT = handle_RCPT
    send = run(register(issuer_co, "FE1-FE3"))
    assert send.status == MailSend.Status.FINISHED_WITH_ERRORS
    assert [e.rcpt_tos[0] for e in smtp_server.envelopes] == ["cliente1@example.com", "cliente3@example.com"]
    refuse.clear()  # the customer fixed the mailbox
    assert actions.resend_failed(send.issuer, ACTOR, send=send) == 1
    send = engine.run_send_inline(MailSend.objects.get(pk=send.pk))
    assert send.status == MailSend.Status.FINISHED
    assert [e.rcpt_tos[0] for e in smtp_server.envelopes] == ["cliente1@example.com", "cliente3@example.com",
                                                              "cliente2@example.com"]
    with pytest.raises(Conflict) as exc:
        actions.resend_failed(send.issuer, ACTOR, send=send)
    assert exc.value.code == "mailing.send.not_finished"


def test_lines_starting_with_a_dot_and_non_ascii_survive(issuer_co, make_docs, smtp_server, mail_settings):
    make_docs(issuer_co, 1)
    body = "Línea 1\n.\n..dos puntos\n.Fin de la factura {{numero}} — señor {{cliente}}"
    send = run(register(issuer_co, "FE1-FE1", subject="Facturación electrónica {{numero}} — ñandú", body=body))
    assert send.status == MailSend.Status.FINISHED
    [msg] = smtp_server.messages
    assert msg["Subject"] == "Facturación electrónica FE1 — ñandú"
    text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text.rstrip("\n") == services.render(body, services.context_for(Delivery.objects.get(send=send).document,
                                                                            issuer_co))


def test_the_send_shows_the_state_of_its_latest_job(issuer_co, make_docs):
    from facturador.core.models import Job

    make_docs(issuer_co, 1)
    send = register(issuer_co, "FE1-FE1")
    assert (send.status, send.stop_reason, send.can_start) == ("registered", "", True)
    send.job = Job.objects.create(issuer=issuer_co, kind="mailing.send")
    shown = lambda **job: (setattr(send, "job", Job(pk=send.job_id, **job)), send.state)[1]
    assert shown(status="running") == ("sending", "")
    assert shown(status="running", cancel_requested=True) == ("stopped", "A pedido del usuario; puede reanudarlo.")
    assert shown(status="cancelled", message="Cancelado por el usuario") == ("stopped", "A pedido del usuario; puede reanudarlo.")
    assert shown(status="failed", error="La tarea se interrumpió demasiadas veces") == (
        "stopped", "La tarea se interrumpió demasiadas veces")
    assert shown(status="finished_errors", result={"stop_reason": "Detenido automáticamente"}) == (
        "stopped", "Detenido automáticamente")
    assert shown(status="finished_errors") == ("finished_errors", "")
    assert shown(status="finished") == ("finished", "")
    assert send.get_status_display() == "Finalizado" and not (send.can_stop or send.can_resume)
