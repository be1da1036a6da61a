"""What the public portal tells a stranger (issue 13): the RFC step answers the same whether or not the RFC has
an account, the detailed ticket messages sit behind a throttle, an account's data is not shown nor changed by
someone who has not signed in."""

import re

from django.test import Client

from facturador.portal.models import Customer
from facturador.portal.tests.conftest import RECEPTOR, walk_to_rfc

OTHER_RFC = "EKU9003173C9"  # valid, without account


def neutral(html: str, rfc: str) -> str:
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)
    return re.sub(r'nonce="[^"]+"', "", html).replace(rfc, "RFC")


def test_rfc_step_answers_the_same_with_or_without_an_account(portal, account):
    with_account, without = Client(), Client()
    _, a = walk_to_rfc(with_account, portal, RECEPTOR["rfc"])
    _, b = walk_to_rfc(without, portal, OTHER_RFC)
    assert a.status_code == b.status_code == 302 and a["Location"] == b["Location"]
    page_a, page_b = with_account.get(a["Location"]), without.get(b["Location"])
    assert neutral(page_a.content.decode(), RECEPTOR["rfc"]) == neutral(page_b.content.decode(), OTHER_RFC)
    assert "Continuar sin cuenta" in page_a.content.decode() and "Ingresar" in page_a.content.decode()


def test_login_for_an_rfc_without_account_is_the_wrong_password_answer(client, portal, account):
    base, _ = walk_to_rfc(client, portal, OTHER_RFC)
    resp = client.post(base + "ingresar/", {"password": "Cualquier-123"})
    assert resp.status_code == 200 and "El RFC o la contraseña no son correctos." in resp.content.decode()


def test_ticket_lookups_are_throttled_per_client_address(portal, make_ticket, settings):
    settings.FACTURADOR_PORTAL_THROTTLES = {**settings.FACTURADOR_PORTAL_THROTTLES, "lookup_ip": (3, 600)}
    t = make_ticket()
    client = Client(REMOTE_ADDR="10.0.4.1")
    base, _ = walk_to_rfc(client, portal)
    wrong = {"order_number": t.order_number, "ticket_number": t.ticket_number, "total": "1.00"}
    for _ in range(3):
        assert "El total no coincide" in client.post(base + "tickets/", wrong).content.decode()
    refused = client.post(base + "tickets/", wrong)
    assert refused.status_code == 429 and "Demasiados intentos, espere unos minutos" in refused.content.decode()
    other = Client(REMOTE_ADDR="10.0.4.2")
    walk_to_rfc(other, portal)
    assert "El total no coincide" in other.post(base + "tickets/", wrong).content.decode()


def test_fiscal_step_does_not_show_an_account_s_data_to_a_stranger(client, portal, account, make_ticket):
    Customer.objects.filter(pk=account.pk).update(email="privado@example.com")
    t = make_ticket()
    base, _ = walk_to_rfc(client, portal)
    client.post(base + "tickets/", {"order_number": t.order_number, "ticket_number": t.ticket_number, "total": str(t.total)})
    client.post(base + "tickets/", {"continue": "1", "forma_pago": "01"})
    html = client.get(base + "datos-fiscales/").content.decode()
    assert "privado@example.com" not in html and RECEPTOR["name"] not in html
    assert 'name="password"' in html  # the same form as for an RFC without account


def test_invoice_by_a_stranger_does_not_change_the_account_s_email(client, portal, account, make_ticket):
    t = make_ticket()
    base, _ = walk_to_rfc(client, portal)
    client.post(base + "tickets/", {"order_number": t.order_number, "ticket_number": t.ticket_number, "total": str(t.total)})
    client.post(base + "tickets/", {"continue": "1", "forma_pago": "01"})
    client.post(base + "datos-fiscales/", {"name": RECEPTOR["name"], "postal_code": "01160", "regimen": "612",
                                           "uso_cfdi": "G03", "email": "atacante@example.com"})
    assert client.post(base + "vista-previa/").status_code == 302
    assert Customer.objects.get(pk=account.pk).email == "karla@example.com"
