"""The reception mailbox over TLS — implicit TLS (IMAPS) and STARTTLS — against Dovecot with a certificate of a
private CA that the test makes: the certificate is always verified; the deployment names the CA to trust."""

import pytest

from facturador.core.actors import Actor
from facturador.reception import actions, mailbox
from facturador.reception.models import Mailbox, ReceivedDocument

from .conftest import Dovecot, email_with


def save_box(issuer, port, security):
    return actions.save_mailbox(issuer, Actor.cli(), password=Dovecot.password, values={
        "host": "127.0.0.1", "port": port, "security": security, "username": Dovecot.user})


@pytest.fixture
def trusted_ca(dovecot_tls, settings, tmp_path):
    path = tmp_path / "ca-correo.pem"
    path.write_bytes(dovecot_tls.ca_pem)
    settings.FACTURADOR_RECEPTION_IMAP_CA_FILE = str(path)
    return path


def test_implicit_tls_poll_imports_documents(receiver_co, dovecot_tls, trusted_ca, co_zip):
    dovecot_tls.append(email_with([("z.zip", co_zip)]))
    box = save_box(receiver_co, dovecot_tls.tls_port, Mailbox.Security.SSL)
    counts = mailbox.poll(box)
    assert (counts["imported"], counts["documents"]) == (1, 1)
    assert ReceivedDocument.objects.filter(issuer=receiver_co, source="imap").count() == 1


def test_starttls_poll_imports_documents(receiver_co, dovecot_tls, trusted_ca, co_zip):
    dovecot_tls.append(email_with([("z.zip", co_zip)]))
    box = save_box(receiver_co, dovecot_tls.port, Mailbox.Security.STARTTLS)
    conn = mailbox.connect(box)
    try:
        assert conn.sock.version() in ("TLSv1.2", "TLSv1.3")  # the session really switched to TLS
    finally:
        conn.logout()
    assert mailbox.poll(box)["documents"] == 1


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_certificate_of_an_unknown_authority_is_refused(receiver_co, dovecot_tls, security, caplog):
    """Verification is on by default: without the deployment's CA file the private certificate is not trusted."""
    port = dovecot_tls.tls_port if security == "ssl" else dovecot_tls.port
    box = save_box(receiver_co, port, security)
    with pytest.raises(mailbox.MailboxError) as exc:
        mailbox.poll(box)
    assert exc.value.message == mailbox.CERTIFICATE_UNTRUSTED
    assert "certificate not trusted" in caplog.text


def test_certificate_for_another_host_name_is_refused(receiver_co, dovecot_tls, trusted_ca, settings):
    """The certificate names 127.0.0.1; the same server reached as "localhost" is another name."""
    settings.FACTURADOR_ALLOWED_ENDPOINTS = list(settings.FACTURADOR_ALLOWED_ENDPOINTS) + ["imap://localhost"]
    box = actions.save_mailbox(receiver_co, Actor.cli(), password=Dovecot.password, values={
        "host": "localhost", "port": dovecot_tls.tls_port, "security": "ssl", "username": Dovecot.user})
    with pytest.raises(mailbox.MailboxError) as exc:
        mailbox.connect(box)
    assert exc.value.message == mailbox.CERTIFICATE_UNTRUSTED


def test_starttls_to_a_server_without_tls_is_refused_before_the_password(receiver_co, dovecot):
    """A server (or a man in the middle) that does not offer STARTTLS never receives the password in clear."""
    box = save_box(receiver_co, dovecot.port, Mailbox.Security.STARTTLS)
    with pytest.raises(mailbox.MailboxError):
        mailbox.connect(box)
    dovecot.client().logout()  # a login of our own, which Dovecot logs with its user as it does every attempt
    assert dovecot.logins(at_least=1) == 1  # ... and the only one it saw
