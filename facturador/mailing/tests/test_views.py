"""UI views: registration with live preview, detail tabs, document view, test email, actions, export."""

import csv
import io
from datetime import datetime
from datetime import timezone as dt_timezone
from html import escape as html_escape

import pytest
from django.urls import reverse

from facturador.core.models import AuditEntry
from facturador.mailing import actions, engine, exports, services
from facturador.mailing.models import Delivery, MailSend
from facturador.mailing.tests.conftest import ACTOR

FORM = {"name": "Octubre", "ranges": "FE1-FE3", "recipients": "all", "subject": "Factura {{numero}}",
        "body": "Hola {{cliente}}, su factura {{numero}} por {{total}} vence el {{vencimiento}}.",
        "legally_required": "on", "max_consecutive_failures": "10", "date_from": "", "date_to": "", "reply_to": ""}


def test_list_url_name_and_empty_list(client_co):
    html = client_co.get(reverse("mailing:list")).content.decode()
    assert reverse("mailing:list") == "/envios/" and "No hay envíos registrados" in html


def test_preview_renders_escaped_and_reports_errors(client_co, issuer_co, make_docs):
    make_docs(issuer_co, 3, emails=["a@example.com", "", "b@example.com"])
    html = client_co.post(reverse("mailing:preview"), FORM, HTTP_HX_REQUEST="true").content.decode()
    assert "<strong>3</strong> facturas" in html and "<strong>2</strong> por enviar" in html
    assert "Sin correo electrónico (1)" in html
    assert "Hola Cliente 1 &amp; Hijos &lt;Ltda&gt;, su factura FE1" in html and "<Ltda>" not in html
    assert 'id="preview-subject">Factura FE1<' in html
    html = client_co.post(reverse("mailing:preview"), dict(FORM, body="Hola {{nombre}}")).content.decode()
    assert "La variable {{nombre}} no existe" in html
    html = client_co.post(reverse("mailing:preview"), dict(FORM, ranges="FE5-FE1")).content.decode()
    assert "número final es menor" in html


def test_register_selection_and_detail_tabs(client_co, issuer_co, make_docs):
    docs = make_docs(issuer_co, 3)
    resp = client_co.post(reverse("mailing:create"), dict(FORM, body="{{clientes}}"))
    assert resp.status_code == 200 and "no existe" in resp.content.decode()
    data = dict(FORM, recipients="selected", customers=[services.customer_key(docs[0]), services.customer_key(docs[2])])
    resp = client_co.post(reverse("mailing:create"), data)
    send = MailSend.objects.get()
    assert resp.status_code == 302 and resp["Location"] == reverse("mailing:detail", args=[send.pk])
    assert sorted(Delivery.objects.filter(send=send).values_list("document__number", flat=True)) == [1, 3]
    html = client_co.get(resp["Location"]).content.decode()
    assert "Pendiente" in html and "Iniciar envío" in html and "FE1–FE3" in html
    html = client_co.get(resp["Location"] + "?tab=facturas").content.decode()
    assert "FE1" in html and "FE3" in html and "FE2" not in html
    html = client_co.get(reverse("mailing:document", args=[send.pk, docs[0].pk])).content.decode()
    assert "Factura FE1" in html and "application/pdf" in html and "Hola Cliente 1 &amp; Hijos" in html
    pdf = client_co.get(reverse("mailing:attachment", args=[send.pk, docs[0].pk, "pdf"]))
    assert b"".join(pdf.streaming_content) == docs[0].pdf.open("rb").read()
    html = client_co.get(resp["Location"] + "?tab=destinatarios").content.decode()
    assert "cliente1@example.com" in html and "Pendiente" in html and html_escape(send.deliveries.first().message_id) in html


def test_other_issuers_send_is_not_found(client_co, make_issuer, make_docs):
    other = make_issuer("CO")
    make_docs(other, 1)
    send = actions.register_send(other, ACTOR, ranges="FE1-FE1", subject="x", body="y")
    assert client_co.get(reverse("mailing:detail", args=[send.pk])).status_code == 404
    assert client_co.post(reverse("mailing:stop", args=[send.pk])).status_code == 404


def test_test_email_start_confirmation_and_export(client_co, issuer_co, make_docs, smtp_server, mail_settings):
    make_docs(issuer_co, 3, emails=["a@example.com", "", "b@example.com"])
    send = actions.register_send(issuer_co, ACTOR, ranges="FE1-FE3", subject="Factura {{numero}}", body="Hola {{cliente}}")
    url = reverse("mailing:detail", args=[send.pk])
    client_co.post(reverse("mailing:test", args=[send.pk]), {"email": "admin_co@example.com"})
    assert [m["To"] for m in smtp_server.messages] == ["admin_co@example.com"]
    html = client_co.get(reverse("mailing:start", args=[send.pk])).content.decode()
    assert "¿Iniciar el envío" in html and "<strong>2</strong> correos" in html
    assert client_co.post(reverse("mailing:start", args=[send.pk])).status_code == 302
    send.refresh_from_db()
    assert send.status == MailSend.Status.SENDING and send.job_id
    engine.run_send_inline(send)
    html = client_co.get(url).content.decode()
    assert "Finalizado" in html and "Enviados <strong>2</strong>" in html
    body = client_co.get(reverse("mailing:export", args=[send.pk, "csv"])).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body), delimiter=";"))
    assert rows[0][:5] == ["Factura", "Cliente", "Identificación", "Correo", "Estado"]
    assert sorted((r[0], r[4], r[5]) for r in rows[1:]) == [
        ("FE1", "Enviado", ""), ("FE2", "Excluido", "Sin correo electrónico"), ("FE3", "Enviado", "")]
    from python_calamine import CalamineWorkbook

    xlsx = client_co.get(reverse("mailing:export", args=[send.pk, "xlsx"])).content
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(xlsx)).get_sheet_by_name("Entregas").to_python()
    assert sheet[0][0] == "Factura" and len(sheet) == 4
    sent_ids = {r[6] for r in sheet[1:] if r[4] == "Enviado"}
    assert sent_ids == {m["Message-ID"] for m in smtp_server.messages[1:]}
    assert all(isinstance(r[8], datetime) for r in sheet[1:] if r[4] == "Enviado")  # a real date, not text


def test_ledger_export_writes_a_malicious_name_as_text(issuer_co, make_docs):
    from python_calamine import CalamineWorkbook

    malicious = "=cmd|' /C calc'!A0"
    make_docs(issuer_co, 1)
    send = actions.register_send(issuer_co, ACTOR, ranges="FE1-FE1", subject="x", body="y")
    Delivery.objects.filter(send=send).update(customer_name=malicious, smtp_response="@SUM(1+1)", attempts=2,
                                              sent_at=datetime(2026, 11, 2, 13, 5, tzinfo=dt_timezone.utc))
    rows = list(csv.reader(io.StringIO(exports.ledger(send, "csv").decode("utf-8-sig")), delimiter=";"))
    assert rows[1][1] == "'" + malicious and rows[1][7:10] == ["2", "02/11/2026 08:05:00", "'@SUM(1+1)"]
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(exports.ledger(send, "xlsx"))).get_sheet_by_index(0).to_python()
    assert sheet[1][1] == malicious and sheet[1][7:10] == [2, datetime(2026, 11, 2, 8, 5), "@SUM(1+1)"]


def test_stop_and_resume_actions(client_co, issuer_co, make_docs):
    make_docs(issuer_co, 2)
    send = actions.register_send(issuer_co, ACTOR, ranges="FE1-FE2", subject="x", body="y")
    detail = reverse("mailing:detail", args=[send.pk])
    resp = client_co.post(reverse("mailing:resume", args=[send.pk]), HTTP_REFERER=f"http://testserver{detail}")
    assert resp.status_code == 302 and resp["Location"].endswith(detail)
    send.refresh_from_db()
    assert send.status == MailSend.Status.REGISTERED  # cannot resume what never started
    assert "no se puede iniciar ahora" in client_co.get(detail).content.decode()
    resp = client_co.post(reverse("mailing:stop", args=[send.pk]))  # no page to go back to: the refusal's own
    assert resp.status_code == 409 and "Solo se puede detener un envío en curso" in resp.content.decode()
    client_co.post(reverse("mailing:start", args=[send.pk]))
    client_co.post(reverse("mailing:stop", args=[send.pk]))
    send.refresh_from_db()
    assert send.status == MailSend.Status.STOPPED and send.job.status == "cancelled"
    client_co.post(reverse("mailing:resume", args=[send.pk]))
    send.refresh_from_db()
    assert send.status == MailSend.Status.SENDING and send.job.status == "pending"
    html = client_co.get(reverse("mailing:status", args=[send.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in html and "Detener" in html


@pytest.mark.parametrize("fmt", ["pdf.exe", "json"])
def test_export_only_known_formats(client_co, issuer_co, make_docs, fmt):
    make_docs(issuer_co, 1)
    send = actions.register_send(issuer_co, ACTOR, ranges="FE1-FE1", subject="x", body="y")
    assert client_co.get(f"/envios/{send.pk}/exportar.{fmt}").status_code == 404


def test_selection_without_customers_is_refused_on_the_form(client_co, issuer_co, make_docs):
    make_docs(issuer_co, 2)
    resp = client_co.post(reverse("mailing:create"), dict(FORM, recipients="selected"))
    assert resp.status_code == 200 and "Seleccione al menos un cliente" in resp.content.decode()
    assert not MailSend.objects.exists()


def test_web_actions_are_audited_once_with_the_user(client_co, admin_co, issuer_co, make_docs):
    make_docs(issuer_co, 2)
    client_co.post(reverse("mailing:create"), FORM)
    send = MailSend.objects.get()
    client_co.post(reverse("mailing:start", args=[send.pk]))
    client_co.post(reverse("mailing:stop", args=[send.pk]))
    entries = list(AuditEntry.objects.filter(issuer=issuer_co).order_by("id").values_list("action", "channel", "user"))
    assert entries == [("mailsend.create", "web", admin_co.pk), ("mailsend.start", "web", admin_co.pk),
                       ("mailsend.stop", "web", admin_co.pk)]


def test_invoices_tab_and_document_write_totals_the_colombian_way(client_co, issuer_co, make_docs):
    docs = make_docs(issuer_co, 1)
    client_co.post(reverse("mailing:create"), FORM)
    send = MailSend.objects.get()
    html = client_co.get(reverse("mailing:detail", args=[send.pk]) + "?tab=facturas").content.decode()
    assert "$ 100.001" in html and "100001,00 COP" not in html
    html = client_co.get(reverse("mailing:document", args=[send.pk, docs[0].pk])).content.decode()
    assert "$ 100.001" in html


def test_a_stopped_send_shows_one_state(client_co, issuer_co, make_docs):
    from facturador.core.models import Job

    make_docs(issuer_co, 1)
    client_co.post(reverse("mailing:create"), FORM)
    send = MailSend.objects.get()
    send.job = Job.objects.create(issuer=issuer_co, kind="mailing.send", status=Job.Status.CANCELLED,
                                  cancel_requested=True, message="A pedido del usuario")
    send.save(update_fields=["job"])
    html = client_co.get(reverse("mailing:detail", args=[send.pk])).content.decode()
    status = html[html.index('id="send-status"'):html.index('id="counters"')]
    assert 'id="send-state">Cancelado<' in status and "Detenido" not in html
    assert html.count(">Cancelado<") == 1
