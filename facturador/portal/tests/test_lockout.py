"""Customer lockout and login throttles (issue 13): the failure counter is atomic, attempts are limited per
account and per client address."""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from facturador.core.actors import Actor
from facturador.core.errors import Refusal
from facturador.portal import accounts, actions
from facturador.portal.models import Customer
from facturador.portal.tests.conftest import PASSWORD, walk_to_rfc

# SQLite serialises writers on the whole database: the race needs PostgreSQL's row-level concurrency
on_postgres = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row-level concurrency: PostgreSQL only")


def web(ip):
    return Actor(channel="web", ip=ip, name="rfc:test")


@pytest.mark.postgres_only
@on_postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_passwords_lock_the_account(portal, account):
    barrier, outcomes = threading.Barrier(10), []

    def attempt(i):
        try:
            barrier.wait()
            actions.customer_login(portal, web(f"10.0.0.{i}"), rfc=account.rfc, password="mala-clave-1")
        except Refusal as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(10)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(outcomes) == 10
    locked = Customer.objects.get(pk=account.pk).locked_until
    assert locked is not None and locked > timezone.now()


def test_failures_are_counted_in_the_database_not_on_a_stale_copy(portal, account):
    stale = [Customer.objects.get(pk=account.pk) for _ in range(5)]  # five requests that read the row at once
    from facturador.portal import accounts

    for copy in stale:
        with pytest.raises(Refusal):
            accounts.authenticate(copy, "mala-clave-1")
    locked = Customer.objects.get(pk=account.pk).locked_until
    assert locked is not None and locked > timezone.now()


def test_attempts_per_account_are_throttled_whatever_the_address(portal, account, settings):
    settings.FACTURADOR_PORTAL_THROTTLES = {**settings.FACTURADOR_PORTAL_THROTTLES, "login_account": (3, 900)}
    for i in range(3):
        with pytest.raises(Refusal):
            actions.customer_login(portal, web(f"10.0.1.{i}"), rfc=account.rfc, password="mala")
    with pytest.raises(Refusal) as err:
        actions.customer_login(portal, web("10.0.1.99"), rfc=account.rfc, password=PASSWORD)
    assert err.value.code == "portal.requests.too_many" and err.value.status == 429


def test_logins_per_client_address_are_throttled(client, portal, account, settings):
    settings.FACTURADOR_PORTAL_THROTTLES = {**settings.FACTURADOR_PORTAL_THROTTLES, "login_ip": (3, 300)}
    base, _ = walk_to_rfc(client, portal, REMOTE_ADDR="10.0.2.1")
    for _ in range(3):
        client.post(base + "ingresar/", {"password": "mala"}, REMOTE_ADDR="10.0.2.1")
    resp = client.post(base + "ingresar/", {"password": PASSWORD}, REMOTE_ADDR="10.0.2.1")
    assert resp.status_code == 429 and "Demasiados intentos, espere unos minutos" in resp.content.decode()
    other = client.post(base + "ingresar/", {"password": PASSWORD}, REMOTE_ADDR="10.0.2.2")
    assert other.status_code == 302


def _signed_in_device(client, portal, account):
    """The device cookie a browser keeps after signing in as the customer."""
    base, _ = walk_to_rfc(client, portal, REMOTE_ADDR="10.0.3.1")
    resp = client.post(base + "ingresar/", {"password": PASSWORD}, REMOTE_ADDR="10.0.3.1")
    assert resp.status_code == 302
    return resp.cookies[accounts.DEVICE_COOKIE].value


def test_the_customers_own_device_signs_in_while_strangers_have_locked_the_account(client, portal, account):
    device = _signed_in_device(client, portal, account)
    for i in range(5):  # somebody else guesses
        with pytest.raises(Refusal):
            actions.customer_login(portal, web(f"10.0.4.{i}"), rfc=account.rfc, password="mala-clave-1")
    assert Customer.objects.get(pk=account.pk).locked_until > timezone.now()
    with pytest.raises(Refusal) as err:
        actions.customer_login(portal, web("10.0.4.99"), rfc=account.rfc, password=PASSWORD)
    assert err.value.code == "portal.account.locked"
    assert actions.customer_login(portal, web("10.0.3.1"), rfc=account.rfc, password=PASSWORD,
                                  device=device).pk == account.pk


def test_attempts_from_the_customers_device_are_limited_per_device(client, portal, account, settings):
    settings.FACTURADOR_PORTAL_THROTTLES = {**settings.FACTURADOR_PORTAL_THROTTLES, "login_device": (3, 900)}
    device = _signed_in_device(client, portal, account)
    for _ in range(3):
        with pytest.raises(Refusal) as err:
            actions.customer_login(portal, web("10.0.5.1"), rfc=account.rfc, password="mala", device=device)
        assert err.value.code == "portal.account.wrong_password"
    with pytest.raises(Refusal) as err:
        actions.customer_login(portal, web("10.0.5.1"), rfc=account.rfc, password=PASSWORD, device=device)
    assert err.value.code == "portal.requests.too_many"


def test_a_made_up_or_another_customers_device_cookie_is_not_trusted(portal, account):
    other = Customer.objects.create(issuer=account.issuer, rfc="XAXX010101000", legal_name="Otro")
    assert accounts.trusted_device(accounts.device_token(other), account) is None
    assert accounts.trusted_device("eyJjIjoxfQ:forged:sig", account) is None
    assert accounts.trusted_device(accounts.device_token(account), account)
