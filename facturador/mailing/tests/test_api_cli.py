"""REST API and the `facturador mail` command (run as a real process, with a real worker)."""

import getpass
import io
import json
import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from conftest import database_url_for_subprocess
from facturador.core.cli import RefusedCommand
from facturador.core.models import AuditEntry
from facturador.mailing import actions, engine
from facturador.mailing.models import Delivery, MailSend
from facturador.mailing.tests.conftest import ACTOR, FAST_ENV


def base(issuer):
    return f"/api/v1/issuers/{issuer.pk}/mail-sends/"


def test_api_flow(api_client, admin_co, issuer_co, make_docs, make_user, smtp_server, mail_settings):
    make_docs(issuer_co, 3, emails=["a@example.com", "b@example.com", ""])
    api_client.force_authenticate(admin_co)
    bad = api_client.post(base(issuer_co), {"ranges": ["FE1-FE3"], "subject": "x", "body": "{{nada}}"}, format="json")
    assert bad.status_code == 400 and "{{nada}}" in bad.json()["detail"]
    assert bad.json()["code"] == "mailing.template.variable" and bad.json()["field"] == "body"
    resp = api_client.post(base(issuer_co), {"ranges": ["FE1-FE2", {"prefix": "fe", "from": 3, "to": 3}],
                                             "subject": "Factura {{numero}}", "body": "Hola {{cliente}}"}, format="json")
    assert resp.status_code == 201, resp.json()
    send = resp.json()
    assert send["ranges"] == [{"prefix": "FE", "from": 1, "to": 2}, {"prefix": "FE", "from": 3, "to": 3}]
    assert send["status"] == "registered" and send["counts"]["pending"] == 2 and send["counts"]["excluded"] == 1
    url = f"{base(issuer_co)}{send['id']}/"
    assert api_client.get(base(issuer_co)).json()["results"][0]["id"] == send["id"]
    prev = api_client.post(url + "preview/", {"body": "Total {{total}}"}, format="json").json()
    assert prev["subject"] == "Factura FE1" and prev["text"] == "Total $ 100.001"
    assert [a["mimetype"] for a in prev["attachments"]] == ["application/pdf", "application/xml"]
    test = api_client.post(url + "test/", {"email": "admin_co@example.com"}, format="json").json()
    assert smtp_server.messages[0]["Message-ID"] == test["message_id"]
    assert api_client.post(url + "resume/").status_code == 409
    assert api_client.post(url + "start/").json()["status"] == "sending"
    assert api_client.post(url + "stop/").json()["status"] == "stopped"
    assert api_client.post(url + "resume/").json()["status"] == "sending"
    engine.run_send_inline(MailSend.objects.get(pk=send["id"]))
    done = api_client.get(url).json()
    assert done["status"] == "finished" and done["counts"]["sent"] == 2
    ledger = api_client.get(url + "ledger/?status=sent").json()
    assert ledger["count"] == 2 and {r["email"] for r in ledger["results"]} == {"a@example.com", "b@example.com"}
    assert api_client.get(url + "job/").json()["status"] == "finished"
    csv = api_client.get(url + "export/csv/")
    assert csv.status_code == 200 and "a@example.com" in csv.content.decode("utf-8-sig")
    assert api_client.get(url + "export/xlsx/").content[:2] == b"PK"
    # tenancy: a read-only member cannot start; a stranger does not see it
    reader = make_user("lector", issuer_co, "readonly")
    api_client.force_authenticate(reader)
    assert api_client.get(url).status_code == 200 and api_client.post(url + "stop/").status_code == 403
    stranger = make_user("extrano")
    api_client.force_authenticate(stranger)
    assert api_client.get(url).status_code == 404


def run_cli(*args, env):
    return subprocess.run([sys.executable, "-m", "facturador", "mail", *args], env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.django_db(transaction=True)
def test_cli_create_start_wait_and_stop(issuer_co, make_docs, smtp_server, start_worker, settings, tmp_path):
    make_docs(issuer_co, 6)
    body = tmp_path / "mensaje.txt"
    body.write_text("Señor(a) {{cliente}}:\nsu factura {{numero}} vence el {{vencimiento}}.\n", encoding="utf-8")
    env = dict(os.environ, DATABASE_URL=database_url_for_subprocess(), SECRET_KEY=settings.SECRET_KEY,
               FACTURADOR_ENCRYPTION_KEY=",".join(settings.FACTURADOR_ENCRYPTION_KEYS), EMAIL_HOST="127.0.0.1",
               EMAIL_PORT=str(smtp_server.port), **FAST_ENV)
    out = run_cli("create", "--issuer", issuer_co.tax_id, "--range", "FE1-FE4", "--range", "FE6-FE6",
                  "--subject", "Factura {{numero}}", "--body-file", str(body), env=env)
    assert out.returncode == 0, out.stderr
    send_id = int(out.stdout.strip().splitlines()[-1])
    assert "5 facturas" in out.stdout
    with pytest.raises(CommandError, match=r"\{\{x\}\} no existe"):
        call_command("mail", "create", "--issuer", issuer_co.tax_id, "--range", "FE1-FE4", "--subject", "{{x}}",
                     "--body", "y")
    start_worker("cli-worker", **FAST_ENV)
    out = run_cli("start", str(send_id), "--wait", env=env)
    assert out.returncode == 0, out.stderr
    assert "[##############################] 5/5" in out.stdout and "Resultado: Finalizado." in out.stdout
    assert sorted(m["Subject"] for m in smtp_server.messages) == ["Factura FE1", "Factura FE2", "Factura FE3",
                                                                    "Factura FE4", "Factura FE6"]
    assert "su factura FE6 vence" in next(m for m in smtp_server.messages if m["Subject"] == "Factura FE6").get_body(("plain",)).get_content()
    assert Delivery.objects.filter(send_id=send_id, status="sent").count() == 5
    with pytest.raises(CommandError, match="Solo se puede detener un envío en curso"):
        call_command("mail", "stop", str(send_id))
    refused = run_cli("stop", str(send_id), "--json", env=env)
    assert refused.returncode == 2 and json.loads(refused.stderr)["code"] == "mailing.send.not_running"
    buf = io.StringIO()
    call_command("mail", "status", str(send_id), stdout=buf)
    assert "Finalizado · enviados 5" in buf.getvalue()


def refusal(resp, status):
    assert resp.status_code == status, resp.content
    body = resp.json()
    assert body["detail"]
    return body["code"], body["field"]


def test_api_refusals_have_codes(api_client, admin_co, issuer_co, make_docs):
    make_docs(issuer_co, 2)
    api_client.force_authenticate(admin_co)
    assert refusal(api_client.post(base(issuer_co), {"ranges": ["FE9-FE1"], "subject": "x", "body": "y"},
                                   format="json"), 400) == ("mailing.range.order", "ranges")
    assert refusal(api_client.post(base(issuer_co), {"ranges": [{"prefix": "FE", "from": "uno", "to": 2}],
                                                     "subject": "x", "body": "y"}, format="json"), 400) == (
        "mailing.range.format", "ranges")
    assert refusal(api_client.post(base(issuer_co), {"ranges": ["XX1-XX2"], "subject": "x", "body": "y"},
                                   format="json"), 400) == ("mailing.documents.none", "ranges")
    assert refusal(api_client.post(base(issuer_co), {"ranges": ["FE1-FE2"], "subject": "x", "body": "y",
                                                     "recipients": "selected"}, format="json"), 400) == (
        "mailing.recipients.none_selected", "recipients")
    url = base(issuer_co) + str(api_client.post(base(issuer_co), {"ranges": ["FE1-FE2"], "subject": "x", "body": "y"},
                                                format="json").json()["id"]) + "/"
    assert refusal(api_client.post(url + "resume/"), 409) == ("mailing.send.not_stopped", "status")
    assert refusal(api_client.post(url + "stop/"), 409) == ("mailing.send.not_running", "status")
    assert refusal(api_client.post(url + "resend-failed/"), 409) == ("mailing.send.not_finished", "status")
    assert refusal(api_client.get(url + "job/"), 404) == ("mailing.send.not_started", None)
    assert refusal(api_client.post(url + "test/", {"email": "no-es-correo"}, format="json"), 400) == (
        "mailing.test.email", "email")
    assert refusal(api_client.post(url + "preview/", {"document": 999999}, format="json"), 404) == (
        "mailing.document.not_found", "document")
    assert refusal(api_client.post(url + "preview/", {"body": "{% x %}"}, format="json"), 400) == (
        "mailing.template.syntax", "body")
    assert api_client.post(url + "start/").json()["status"] == "sending"
    assert refusal(api_client.post(url + "start/"), 409) == ("mailing.send.already_started", "status")
    assert refusal(api_client.post(url + "resolve-unknown/", {"deliveries": [1], "decision": "resend"},
                                   format="json"), 409) == ("mailing.send.running", "status")
    entry = AuditEntry.objects.get(action="mailsend.start")
    assert (entry.channel, entry.actor, entry.user) == ("api", "admin_co", admin_co)


def test_cli_refusals_exit_2_with_the_code(issuer_co, make_docs):
    make_docs(issuer_co, 1)
    with pytest.raises(RefusedCommand) as exc:
        call_command("mail", "create", "--issuer", issuer_co.tax_id, "--range", "FE1-FE1", "--subject", "x",
                     "--body", "y", "--reply-to", "no-es-correo")
    assert exc.value.returncode == 2 and exc.value.refusal.code == "mailing.reply_to.invalid"
    with pytest.raises(RefusedCommand) as exc:
        call_command("mail", "create", "--issuer", "999999999", "--range", "FE1-FE1", "--subject", "x", "--body", "y")
    assert exc.value.refusal.code == "core.issuer.not_found"
    with pytest.raises(RefusedCommand) as exc:
        call_command("mail", "start", "424242")
    assert exc.value.refusal.code == "mailing.send.not_found"
    send = actions.register_send(issuer_co, ACTOR, ranges="FE1-FE1", subject="x", body="y")
    with pytest.raises(RefusedCommand) as exc:
        call_command("mail", "resume", str(send.pk))
    assert exc.value.refusal.code == "mailing.send.not_stopped"
    with pytest.raises(RefusedCommand) as exc:
        call_command("mail", "status", str(send.pk), "--issuer", "EKU9003173C9")
    assert exc.value.refusal.code == "core.issuer.not_found"
    with pytest.raises(RefusedCommand) as exc:
        call_command("mail", "bounces", "--maildir", "/nonexistent/maildir")
    assert exc.value.refusal.code == "mailing.bounces.no_maildir"


def test_cli_actions_are_audited_as_the_os_user_or_as_user(issuer_co, make_docs, make_user):
    make_docs(issuer_co, 2)
    out = io.StringIO()
    call_command("mail", "create", "--issuer", issuer_co.tax_id, "--range", "FE1-FE2", "--subject", "x", "--body", "y",
                 "--customer", "800000002", stdout=out)
    send = MailSend.objects.get(pk=int(out.getvalue().split()[-1]))
    assert send.recipients == "selected" and [d.document.number for d in send.deliveries.all()] == [2]
    call_command("mail", "start", str(send.pk), "--issuer", issuer_co.tax_id, stdout=io.StringIO())
    make_user("operadora", issuer_co)
    call_command("mail", "stop", str(send.pk), "--as", "operadora", stdout=io.StringIO())
    send.refresh_from_db()
    assert send.status == MailSend.Status.STOPPED and send.job.status == "cancelled"
    entries = {e.action: e for e in AuditEntry.objects.filter(issuer=issuer_co, object_id=str(send.pk))}
    assert set(entries) == {"mailsend.create", "mailsend.start", "mailsend.stop"}
    assert all(e.channel == "cli" for e in entries.values())
    assert entries["mailsend.start"].actor == f"os:{getpass.getuser()}" and entries["mailsend.start"].user is None
    assert entries["mailsend.stop"].actor == "operadora" and entries["mailsend.stop"].user.username == "operadora"


def test_cli_preview_test_status_and_export(issuer_co, make_docs, smtp_server, mail_settings, tmp_path):
    make_docs(issuer_co, 2)
    send = actions.register_send(issuer_co, ACTOR, ranges="FE1-FE2", subject="Factura {{numero}}", body="Hola {{cliente}}")
    out = io.StringIO()
    call_command("mail", "preview", str(send.pk), "--body", "Total {{total}}", stdout=out)
    assert "Asunto: Factura FE1" in out.getvalue() and "Total $ 100.001" in out.getvalue()
    actions.set_test_recipients(issuer_co, ACTOR, emails=["qa@example.com"])
    out = io.StringIO()
    call_command("mail", "test", str(send.pk), "--email", "qa@example.com", "--json", stdout=out)
    assert json.loads(out.getvalue())["message_id"] == smtp_server.messages[0]["Message-ID"]
    out = io.StringIO()
    call_command("mail", "status", str(send.pk), "--json", stdout=out)
    assert json.loads(out.getvalue())["status"] == "registered"
    call_command("mail", "export", str(send.pk), "--output", str(tmp_path / "e.csv"), stdout=io.StringIO())
    assert "cliente2@example.com" in (tmp_path / "e.csv").read_text(encoding="utf-8-sig")
    assert set(AuditEntry.objects.filter(object_id=str(send.pk)).values_list("action", flat=True)) >= {
        "mailsend.test", "mailsend.export"}


def test_cli_wait_exits_3_when_the_send_finished_with_errors(issuer_co, make_docs, smtp_server, mail_settings):
    """Exit 2 is every refused action's (core.cli); "finished with errors" has its own status, 3."""
    make_docs(issuer_co, 2)

    async def handle_RCPT(server, session, envelope, address, rcpt_options):
        if address == "cliente2@example.com":
            return "550 5.1.1 Buzon inexistente"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    smtp_server.handle_RCPT = handle_RCPT
    send = actions.register_send(issuer_co, ACTOR, ranges="FE1-FE2", subject="x", body="y")
    out = io.StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command("mail", "start", str(send.pk), "--here", stdout=out)
    assert exc.value.code == 3
    assert "Resultado: Con errores." in out.getvalue()
