"""The test email (issue 13): only to allowed addresses, within the global rate limit and a per-user limit."""

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from facturador.core.actors import Actor
from facturador.core.cli import RefusedCommand
from facturador.core.errors import Forbidden, Refusal
from facturador.core.models import AuditEntry
from facturador.mailing import actions, services
from facturador.mailing.models import MailSend, RateWindow, SentTest
from facturador.mailing.tests.conftest import ACTOR


def base(issuer):
    return f"/api/v1/issuers/{issuer.pk}/mail-sends/"


@pytest.fixture
def send(issuer_co, make_docs):
    make_docs(issuer_co, 2)
    return actions.register_send(issuer_co, ACTOR, ranges="FE1-FE2", subject="Factura {{numero}}", body="Hola")


# --- (c) only to the user's own address or the issuer's listed test recipients ---------------------------

def test_api_test_email_to_an_unlisted_address_is_refused(api_client, admin_co, issuer_co, send, smtp_server,
                                                          mail_settings):
    api_client.force_authenticate(admin_co)
    resp = api_client.post(f"{base(issuer_co)}{send.pk}/test/", {"email": "victima@example.net"}, format="json")
    assert resp.status_code == 403, resp.content
    assert (resp.json()["code"], resp.json()["field"]) == ("mailing.test.recipient_not_allowed", "email")
    assert smtp_server.messages == []


def test_test_email_to_the_users_own_address(api_client, admin_co, issuer_co, send, smtp_server, mail_settings):
    api_client.force_authenticate(admin_co)
    resp = api_client.post(f"{base(issuer_co)}{send.pk}/test/", {"email": "Admin_CO@example.com"}, format="json")
    assert resp.status_code == 200, resp.content
    assert [m["To"] for m in smtp_server.messages] == ["admin_co@example.com"]


def test_test_email_to_a_listed_test_recipient(issuer_co, send, smtp_server, mail_settings):
    actions.set_test_recipients(issuer_co, ACTOR, emails=["Revisora@Example.com", "qa@example.com"])
    actions.send_test(issuer_co, ACTOR, send=send, email="revisora@example.com")
    assert [m["To"] for m in smtp_server.messages] == ["revisora@example.com"]
    with pytest.raises(Forbidden) as exc:
        actions.send_test(issuer_co, ACTOR, send=send, email="otra@example.com")
    assert exc.value.code == "mailing.test.recipient_not_allowed"


def test_test_recipients_list_is_per_issuer(issuer_co, make_issuer, make_docs, send, smtp_server, mail_settings):
    other = make_issuer("CO")
    actions.set_test_recipients(other, ACTOR, emails=["qa@example.com"])
    with pytest.raises(Forbidden):
        actions.send_test(issuer_co, ACTOR, send=send, email="qa@example.com")


def test_setting_test_recipients_validates_and_audits(issuer_co):
    with pytest.raises(Exception) as exc:
        actions.set_test_recipients(issuer_co, ACTOR, emails=["qa@example.com", "no-es-correo"])
    assert (exc.value.code, exc.value.field) == ("mailing.test_recipients.invalid", "emails")
    assert actions.set_test_recipients(issuer_co, ACTOR, emails=["b@example.com", "A@example.com", "b@example.com"]) == [
        "a@example.com", "b@example.com"]
    assert actions.set_test_recipients(issuer_co, ACTOR, emails=["c@example.com"]) == ["c@example.com"]
    entry = AuditEntry.objects.filter(action="mailing.test_recipients").latest("pk")
    assert entry.issuer == issuer_co and entry.summary == "c@example.com"


def test_only_admins_set_test_recipients(issuer_co, make_user):
    billing = make_user("facturadora", issuer_co, "billing")
    with pytest.raises(Forbidden) as exc:
        actions.set_test_recipients(issuer_co, Actor.cli(billing), emails=["qa@example.com"])
    assert exc.value.code == "mailing.test_recipients.admin_only"


def test_api_reads_and_sets_test_recipients(api_client, admin_co, issuer_co, make_user):
    url = base(issuer_co) + "test-recipients/"
    api_client.force_authenticate(admin_co)
    assert api_client.get(url).json() == {"emails": []}
    resp = api_client.put(url, {"emails": ["qa@example.com"]}, format="json")
    assert resp.status_code == 200 and resp.json() == {"emails": ["qa@example.com"]}
    api_client.force_authenticate(make_user("facturadora", issuer_co, "billing"))
    assert api_client.get(url).json() == {"emails": ["qa@example.com"]}
    refused = api_client.put(url, {"emails": []}, format="json")
    assert refused.status_code == 403


def test_web_admin_edits_test_recipients(client_co, issuer_co, make_user, client):
    url = reverse("mailing:test_recipients")
    assert "Correos de prueba" in client_co.get(url).content.decode()
    resp = client_co.post(url, {"emails": "qa@example.com\nRevisora@example.com"})
    assert resp.status_code == 302
    assert services.allowed_test_recipients(issuer_co) == ["qa@example.com", "revisora@example.com"]
    html = client_co.post(url, {"emails": "qa@example.com, malo"}).content.decode()
    assert "malo" in html and services.allowed_test_recipients(issuer_co) == ["qa@example.com", "revisora@example.com"]
    client.force_login(make_user("facturadora", issuer_co, "billing"))
    assert client.post(url, {"emails": ""}).status_code == 403


def test_web_test_email_to_an_unlisted_address_shows_the_refusal(client_co, send, smtp_server, mail_settings):
    detail = reverse("mailing:detail", args=[send.pk])
    resp = client_co.post(reverse("mailing:test", args=[send.pk]), {"email": "victima@example.net"},
                          HTTP_REFERER="http://testserver" + detail, follow=True)
    assert "solo se envían" in resp.content.decode() and smtp_server.messages == []


def test_cli_sets_test_recipients_and_tests_to_them(issuer_co, send, smtp_server, mail_settings):
    out = io.StringIO()
    call_command("mail", "test-recipients", "--issuer", issuer_co.tax_id, "--email", "qa@example.com", "--json",
                 stdout=out)
    assert json.loads(out.getvalue()) == {"emails": ["qa@example.com"]}
    call_command("mail", "test", str(send.pk), "--email", "qa@example.com", stdout=io.StringIO())
    with pytest.raises(RefusedCommand) as exc:
        call_command("mail", "test", str(send.pk), "--email", "otra@example.com")
    assert exc.value.refusal.code == "mailing.test.recipient_not_allowed"
    out = io.StringIO()
    call_command("mail", "test-recipients", "--issuer", issuer_co.tax_id, stdout=out)
    assert "qa@example.com" in out.getvalue()
    call_command("mail", "test-recipients", "--issuer", issuer_co.tax_id, "--clear", stdout=io.StringIO())
    assert services.allowed_test_recipients(issuer_co) == []


def test_cli_test_email_to_the_as_users_address(issuer_co, send, make_user, smtp_server, mail_settings):
    make_user("operadora", issuer_co)
    call_command("mail", "test", str(send.pk), "--email", "operadora@example.com", "--as", "operadora",
                 stdout=io.StringIO())
    assert [m["To"] for m in smtp_server.messages] == ["operadora@example.com"]
    assert MailSend.objects.count() == 1


# --- (a) the global rate limit of the mass sends ----------------------------------------------------

@pytest.fixture
def listed(issuer_co):
    actions.set_test_recipients(issuer_co, ACTOR, emails=["qa@example.com"])
    return "qa@example.com"


def test_test_emails_count_against_the_global_hourly_limit(issuer_co, send, listed, smtp_server, mail_settings):
    mail_settings.REDIS_URL = ""  # the database limiter, shared by every process
    mail_settings.MAILING_RATE_PER_HOUR = 2
    actions.send_test(issuer_co, ACTOR, send=send, email=listed)
    actions.send_test(issuer_co, ACTOR, send=send, email=listed)
    with pytest.raises(Refusal) as exc:
        actions.send_test(issuer_co, ACTOR, send=send, email=listed)
    assert (exc.value.code, exc.value.status) == ("mailing.test.rate_limited", 429)
    assert len(smtp_server.messages) == 2
    assert RateWindow.objects.get(name="hour").count == 2  # the same windows the workers' sends use


def test_test_email_waits_for_the_per_second_window(issuer_co, send, listed, smtp_server, mail_settings):
    mail_settings.REDIS_URL = ""
    mail_settings.MAILING_RATE_PER_SECOND = 1
    for _ in range(2):
        actions.send_test(issuer_co, ACTOR, send=send, email=listed)
    second = RateWindow.objects.get(name="second")
    assert len(smtp_server.messages) == 2 and second.count == 1  # the second one was admitted in a later second


# --- (b) a per-user limit ---------------------------------------------------------------------------

def test_api_test_emails_past_the_per_user_limit_are_throttled(api_client, admin_co, issuer_co, send, smtp_server,
                                                               mail_settings):
    """Issue 13: ten test emails in a row all went out; now the user's limit (5 per 10 minutes) stops them."""
    assert (mail_settings.MAILING_TEST_PER_USER, mail_settings.MAILING_TEST_WINDOW_SECONDS) == (5, 600)
    api_client.force_authenticate(admin_co)
    answers = [api_client.post(f"{base(issuer_co)}{send.pk}/test/", {"email": "admin_co@example.com"}, format="json")
               for _ in range(10)]
    assert [a.status_code for a in answers] == [200] * 5 + [429] * 5
    body = answers[5].json()
    assert body["code"] == "mailing.test.throttled" and "minutos" in body["detail"]
    assert 0 < body["details"]["retry_after"] <= 600
    assert len(smtp_server.messages) == 5


def test_the_test_email_limit_is_per_user(issuer_co, send, make_user, smtp_server, mail_settings):
    mail_settings.MAILING_TEST_PER_USER = 1
    ana, luis = make_user("ana", issuer_co), make_user("luis", issuer_co)
    actions.send_test(issuer_co, Actor.cli(ana), send=send, email="ana@example.com")
    with pytest.raises(Refusal) as exc:
        actions.send_test(issuer_co, Actor.cli(ana), send=send, email="ana@example.com")
    assert (exc.value.code, exc.value.status) == ("mailing.test.throttled", 429)
    actions.send_test(issuer_co, Actor.cli(luis), send=send, email="luis@example.com")
    assert [m["To"] for m in smtp_server.messages] == ["ana@example.com", "luis@example.com"]


def test_the_test_email_limit_counts_the_window_only(issuer_co, send, listed, smtp_server, mail_settings):
    mail_settings.MAILING_TEST_PER_USER = 1
    actions.send_test(issuer_co, ACTOR, send=send, email=listed)
    SentTest.objects.update(created_at=timezone.now() - timedelta(seconds=601))  # the window has passed
    actions.send_test(issuer_co, ACTOR, send=send, email=listed)
    assert len(smtp_server.messages) == 2
