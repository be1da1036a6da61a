"""The password a customer chooses at "datos fiscales" is never kept in plaintext (issue 13)."""

from django.contrib.sessions.backends.db import SessionStore

from facturador.portal.models import Customer
from facturador.portal.tests.conftest import RECEPTOR, walk_to_rfc

FISCAL = {"name": RECEPTOR["name"], "postal_code": "01160", "regimen": "612", "uso_cfdi": "G03",
          "email": "karla@example.com"}


def to_fiscal(client, portal, make_ticket):
    t = make_ticket()
    base, _ = walk_to_rfc(client, portal)
    client.post(base + "tickets/", {"order_number": t.order_number, "ticket_number": t.ticket_number, "total": str(t.total)})
    assert client.post(base + "tickets/", {"continue": "1", "forma_pago": "04"}).status_code == 302
    return base


def test_chosen_password_is_not_in_the_session(client, portal, make_ticket):
    base = to_fiscal(client, portal, make_ticket)
    resp = client.post(base + "datos-fiscales/", {**FISCAL, "password": "Secreta-98765"})
    assert resp.status_code == 302
    stored = SessionStore(client.session.session_key).load()
    assert "Secreta-98765" not in repr(stored)
    client.post(base + "vista-previa/")  # the account is still created with that password
    assert Customer.objects.get(rfc=RECEPTOR["rfc"]).has_account
    from facturador.portal import accounts

    assert accounts.authenticate(Customer.objects.get(rfc=RECEPTOR["rfc"]), "Secreta-98765")


def test_weak_password_is_refused_at_the_fiscal_step(client, portal, make_ticket):
    base = to_fiscal(client, portal, make_ticket)
    resp = client.post(base + "datos-fiscales/", {**FISCAL, "password": "corta"})
    assert resp.status_code == 200 and "al menos 8 caracteres" in resp.content.decode()
