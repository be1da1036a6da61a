"""Manual 004 without dead ends: a direct "Mis facturas / Ingresar" entry, help next to each ticket field, a
confirmation after a password change, and the fiscal regimes of the RFC's type (12: persona moral, 13: física)."""

import pytest

from facturador.cfdi.catalogs import REGIMENES_FISICA, REGIMENES_MORAL, regimenes_for_rfc
from facturador.portal import services
from facturador.portal.forms import FiscalDataForm
from facturador.portal.tests.conftest import PASSWORD, RECEPTOR, walk_to_rfc

pytestmark = pytest.mark.django_db


def base(portal):
    return f"/autofacturacion/p/{portal.ps.slug}/"


def test_start_page_offers_mis_facturas_ingresar(client, portal):
    html = client.get(base(portal)).content.decode()
    assert f'href="{base(portal)}mis-facturas/ingresar/">Mis facturas / Ingresar</a>' in html


def test_direct_sign_in_with_rfc_and_password_opens_the_panel(client, portal, account):
    resp = client.post(base(portal) + "mis-facturas/ingresar/", {"rfc": RECEPTOR["rfc"], "password": PASSWORD})
    assert resp.status_code == 302 and resp["Location"] == base(portal) + "mis-facturas/"
    assert client.get(resp["Location"]).status_code == 200


def test_direct_sign_in_with_a_wrong_password_is_refused_on_the_form(client, portal, account):
    resp = client.post(base(portal) + "mis-facturas/ingresar/", {"rfc": RECEPTOR["rfc"], "password": "otra-clave"})
    assert resp.status_code == 200 and resp.context["form"].errors


def test_panel_without_session_sends_to_the_sign_in(client, portal):
    resp = client.get(base(portal) + "mis-facturas/")
    assert resp["Location"] == base(portal) + "mis-facturas/ingresar/"


def test_each_ticket_field_has_its_own_help(client, portal):
    walk_to_rfc(client, portal)
    html = client.get(base(portal) + "tickets/").content.decode()
    for name in ("order_number", "ticket_number", "total"):
        assert f'id="help-{name}"' in html
    assert "¿Dónde encuentro estos datos?" not in html


def test_password_change_is_confirmed(client, portal, account):
    client.post(base(portal) + "mis-facturas/ingresar/", {"rfc": RECEPTOR["rfc"], "password": PASSWORD})
    resp = client.post(base(portal) + "clave/", {"current": PASSWORD, "new1": "Nueva-Clave-678", "new2": "Nueva-Clave-678"},
                       follow=True)
    assert "Su contraseña se cambió" in resp.content.decode()


def test_regimes_by_rfc_length_are_one_fact():
    assert regimenes_for_rfc("EKU9003173C9") == REGIMENES_MORAL
    assert regimenes_for_rfc(RECEPTOR["rfc"]) == REGIMENES_FISICA


def test_fiscal_form_offers_only_the_regimes_of_a_persona_moral():
    offered = {k for k, _ in FiscalDataForm(rfc="EKU9003173C9").fields["regimen"].choices if k}
    assert offered and offered <= REGIMENES_MORAL and "612" not in offered


def test_fiscal_form_offers_only_the_regimes_of_a_persona_fisica():
    offered = {k for k, _ in FiscalDataForm(rfc=RECEPTOR["rfc"]).fields["regimen"].choices if k}
    assert offered and offered <= REGIMENES_FISICA and "601" not in offered


def test_a_regime_of_the_other_type_is_refused():
    data = services.ReceptorData(rfc="EKU9003173C9", name="ESCUELA KEMPER URGATE", postal_code="26015", regimen="612",
                                 uso_cfdi="G03")
    with pytest.raises(services.Invalid) as info:
        services.check_receptor(data)
    assert info.value.code == "portal.receptor.regimen_not_for_rfc" and info.value.field == "regimen"


def test_fiscal_page_has_no_inline_script(client, portal, make_ticket):
    t = make_ticket()
    walk_to_rfc(client, portal)
    client.post(base(portal) + "tickets/", {"order_number": t.order_number, "ticket_number": t.ticket_number,
                                            "total": str(t.total)})
    client.post(base(portal) + "tickets/", {"continue": "1", "forma_pago": "04"})
    html = client.get(base(portal) + "datos-fiscales/").content.decode()
    assert "<script nonce" not in html and 'data-usos-url="' in html
