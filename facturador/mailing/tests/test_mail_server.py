"""An unreachable or misconfigured mail server is explained in Spanish (what to configure), the detail logged."""

import logging
import smtplib

import pytest
from django.core.cache import cache
from django.urls import reverse

from conftest import free_port
from facturador.mailing import actions, engine, services
from facturador.mailing.tests.conftest import ACTOR


@pytest.fixture
def send(issuer_co, make_docs):
    make_docs(issuer_co, 1)
    return actions.register_send(issuer_co, ACTOR, ranges="FE1-FE1", subject="Factura {{numero}}", body="Hola")


@pytest.fixture
def no_server(settings, mail_settings):
    """The fresh install's case: SMTP on this machine, and nothing listening on the port."""
    cache.clear()
    settings.EMAIL_BACKEND = services.SMTP_BACKEND
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()
    settings.EMAIL_TIMEOUT = 5
    yield settings
    cache.clear()


def test_web_test_email_to_an_unreachable_server_says_what_to_configure(client_co, send, no_server, caplog):
    detail = reverse("mailing:detail", args=[send.pk])
    with caplog.at_level(logging.WARNING, logger="facturador.mailing.actions"):
        resp = client_co.post(reverse("mailing:test", args=[send.pk]), {"email": "admin_co@example.com"},
                              HTTP_REFERER="http://testserver" + detail, follow=True)
    html = resp.content.decode()
    assert "No se pudo conectar con el servidor de correo" in html
    assert "EMAIL_HOST" in html and "EMAIL_PORT" in html
    assert "Errno" not in html and "Connection refused" not in html
    assert "Connection refused" in caplog.text  # the technical detail is in the log


def test_api_test_email_to_an_unreachable_server(api_client, admin_co, issuer_co, send, no_server):
    api_client.force_authenticate(admin_co)
    resp = api_client.post(f"/api/v1/issuers/{issuer_co.pk}/mail-sends/{send.pk}/test/",
                           {"email": "admin_co@example.com"}, format="json")
    assert resp.status_code == 502
    body = resp.json()
    assert body["code"] == "mailing.test.failed"
    assert "No se pudo conectar con el servidor de correo" in body["detail"] and "Errno" not in body["detail"]


def test_mailing_pages_warn_when_nothing_listens_on_the_local_mail_server(client_co, send, no_server):
    for url in (reverse("mailing:list"), reverse("mailing:detail", args=[send.pk])):
        html = client_co.get(url).content.decode()
        assert 'id="mail-server-notice"' in html, url
        assert f"127.0.0.1:{no_server.EMAIL_PORT}" in html and "EMAIL_HOST" in html


def test_no_warning_when_the_mail_server_answers(client_co, send, smtp_server):
    cache.clear()
    assert 'id="mail-server-notice"' not in client_co.get(reverse("mailing:list")).content.decode()


def test_remote_mail_servers_are_not_probed_by_the_pages(settings):
    settings.EMAIL_BACKEND = services.SMTP_BACKEND
    settings.EMAIL_HOST = "smtp.example.com"  # no network access from a page load
    assert services.mail_server_notice() is None


def test_the_check_is_cached(no_server):
    assert services.mail_server_notice() is not None
    assert cache.get(f"mailing:smtp-listening:127.0.0.1:{no_server.EMAIL_PORT}") is False


@pytest.mark.parametrize("exc, expected", [
    (ConnectionRefusedError(111, "Connection refused"), "No se pudo conectar con el servidor de correo"),
    (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), "No se pudo conectar"),
    (smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials"), "EMAIL_HOST_PASSWORD"),
    (smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server."), "EMAIL_USE_TLS"),
    (FileNotFoundError(2, "No such file or directory", "/datos/fv1.pdf"), "No se pudo leer un archivo"),
])
def test_failures_are_described_for_people(exc, expected):
    text = engine.describe_failure(exc)
    assert expected in text
    assert "Errno" not in text and str(exc) not in text
