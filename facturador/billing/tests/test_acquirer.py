"""The account form's "Consultar en la DIAN": the holder's name and e-mail from the local DIAN service."""

import re

import pytest
from django.core.cache import cache

from facturador.core.models import AuditEntry
from facturador.einvoice.tests.conftest import dian_issuer, sandbox  # noqa: F401


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def test_account_form_offers_the_lookup_button(client_co, issuer_co):
    page = client_co.get("/facturacion/cuentas/nueva/").content.decode()
    assert "Consultar en la DIAN" in page and 'hx-get="/facturacion/cuentas/adquiriente/"' in page
    assert 'hx-include="[name=id_type],[name=id_number]"' in page


def test_lookup_fills_holder_name_and_email(client, make_user, dian_issuer, sandbox):  # noqa: F811
    sandbox.register_acquirer("13", "52111222", "Ana Ruiz", "ana@correo.example")
    client.force_login(make_user("lectora", dian_issuer, role="readonly"))
    resp = client.get("/facturacion/cuentas/adquiriente/", {"id_type": "CC", "id_number": "52.111.222"})
    html = resp.content.decode()
    assert resp.status_code == 200 and "La DIAN tiene registrado a Ana Ruiz" in html
    assert re.search(r'<input[^>]*name="holder_name"[^>]*value="Ana Ruiz"', html)
    assert re.search(r'<input[^>]*name="email"[^>]*value="ana@correo.example"', html)
    assert html.count('hx-swap-oob="true"') == 2
    assert not AuditEntry.objects.exists()


def test_lookup_without_email_fills_only_the_name(client_co, dian_issuer, sandbox):  # noqa: F811
    sandbox.register_acquirer("31", "800197268", "Ferretería El Tornillo S.A.S.")
    html = client_co.get("/facturacion/cuentas/adquiriente/", {"id_type": "NIT", "id_number": "800197268"}).content.decode()
    assert "sin correo de recepción" in html
    assert html.count('hx-swap-oob="true"') == 1 and 'name="holder_name"' in html


def test_lookup_without_software_says_so(client_co, issuer_co):
    html = client_co.get("/facturacion/cuentas/adquiriente/", {"id_type": "CC", "id_number": "1"}).content.decode()
    assert "Registre primero el software" in html and "hx-swap-oob" not in html
