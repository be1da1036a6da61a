"""GetAcquirer: a buyer's name and e-mail from DIAN (the local DIAN service over HTTP)."""

import io
import json
import re

import pytest
from django.core.cache import cache
from django.core.management import call_command

from facturador.core import outbound
from facturador.core.cli import RefusedCommand
from facturador.core.errors import Refusal
from facturador.core.models import AuditEntry, Certificate
from facturador.einvoice import services
from facturador.einvoice.models import OperationMode


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def known(sandbox):
    sandbox.register_acquirer("13", "1020304050", "Ana Pérez", "ana@correo.example")
    sandbox.register_acquirer("31", "800199436", "Cliente Comercial Ltda.", "recepcion@cliente.example")
    return sandbox


def refusal_of(call, *args):
    with pytest.raises(Refusal) as info:
        call(*args)
    return info.value


def test_lookup_returns_name_and_email(dian_issuer, known):
    found = services.acquirer_lookup(dian_issuer, "13", "1.020.304.050")
    assert (found.name, found.email) == ("Ana Pérez", "ana@correo.example")
    assert found.as_dict() == {"id_type": "13", "number": "1020304050", "name": "Ana Pérez",
                               "email": "ana@correo.example"}


def test_nit_with_check_digit_is_asked_without_it(dian_issuer, known):
    assert services.acquirer_lookup(dian_issuer, "31", "800199436-4").name == "Cliente Comercial Ltda."


def test_answers_are_cached_per_issuer_and_identification(dian_issuer, known):
    services.acquirer_lookup(dian_issuer, "13", "1020304050")
    asked = known.request_count
    assert services.acquirer_lookup(dian_issuer, "13", "1020304050").name == "Ana Pérez"
    assert known.request_count == asked
    services.acquirer_lookup(dian_issuer, "31", "800199436")
    assert known.request_count == asked + 1


def test_unknown_buyer_is_not_found(dian_issuer, known):
    r = refusal_of(services.acquirer_lookup, dian_issuer, "13", "999")
    assert (r.code, r.status, r.field) == ("einvoice.acquirer.not_found", 404, "number")


@pytest.mark.parametrize("id_type,number,code", [("99", "123", "einvoice.acquirer.id_type_invalid"),
                                                 ("13", "", "einvoice.acquirer.number_invalid"),
                                                 ("13", "12;drop", "einvoice.acquirer.number_invalid")])
def test_bad_identification_is_refused_before_asking(dian_issuer, known, id_type, number, code):
    asked = known.request_count
    assert refusal_of(services.acquirer_lookup, dian_issuer, id_type, number).code == code
    assert known.request_count == asked


def test_unreachable_dian_is_unavailable_with_a_generic_message(dian_issuer):
    dian_issuer.mode.endpoint = "http://127.0.0.1:9/WcfDianCustomerServices.svc"  # nothing listens there
    dian_issuer.mode.save()
    r = refusal_of(services.acquirer_lookup, dian_issuer, "13", "1020304050")
    assert (r.code, r.status, r.message) == ("einvoice.acquirer.unavailable", 503, outbound.CONNECTION_FAILED)
    assert "127.0.0.1" not in r.message


def test_endpoint_not_allowed_is_refused(dian_issuer, settings):
    settings.FACTURADOR_ALLOWED_ENDPOINTS = []
    dian_issuer.mode.endpoint = "http://127.0.0.1:9/WcfDianCustomerServices.svc"
    dian_issuer.mode.save()
    assert refusal_of(services.acquirer_lookup, dian_issuer, "13", "1").code == "core.endpoint.not_allowed"


def test_without_software_or_certificate_the_einvoice_refusals(dian_issuer, known):
    Certificate.objects.filter(issuer=dian_issuer).update(active=False)
    assert refusal_of(services.acquirer_lookup, dian_issuer, "13", "1020304050").code == "einvoice.certificate.missing"
    OperationMode.objects.filter(issuer=dian_issuer).update(active=False)
    assert refusal_of(services.acquirer_lookup, dian_issuer, "13", "1020304050").code == "einvoice.software.missing"


# --- the channels ------------------------------------------------------------------------------------

@pytest.fixture
def reader(make_user, dian_issuer):
    return make_user("lectora", dian_issuer, role="readonly")


def test_api_answers_name_and_email_to_a_read_only_member(api_client, reader, dian_issuer, known):
    api_client.force_authenticate(reader)
    resp = api_client.get(f"/api/v1/issuers/{dian_issuer.pk}/dian/acquirer/", {"id_type": "13", "number": "1020304050"})
    assert resp.status_code == 200, resp.content
    assert resp.json() == {"id_type": "13", "number": "1020304050", "name": "Ana Pérez", "email": "ana@correo.example"}
    assert not AuditEntry.objects.exists()


def test_api_refusals_carry_code_and_status(api_client, admin_co, dian_issuer, known):
    api_client.force_authenticate(admin_co)
    url = f"/api/v1/issuers/{dian_issuer.pk}/dian/acquirer/"
    missing = api_client.get(url, {"id_type": "13", "number": "999"})
    assert missing.status_code == 404 and missing.json()["code"] == "einvoice.acquirer.not_found"
    bad = api_client.get(url, {"id_type": "77", "number": "999"})
    assert bad.status_code == 400 and bad.json()["field"] == "id_type"
    known.stop()
    down = api_client.get(url, {"id_type": "31", "number": "800199436"})
    assert down.status_code == 503
    assert down.json() == {"code": "einvoice.acquirer.unavailable", "detail": outbound.CONNECTION_FAILED,
                           "field": None, "details": {"reason": "ws_transport"}}


def test_api_is_404_for_another_issuer(api_client, make_user, make_issuer, dian_issuer, known):
    api_client.force_authenticate(make_user("ajeno", make_issuer()))
    resp = api_client.get(f"/api/v1/issuers/{dian_issuer.pk}/dian/acquirer/", {"id_type": "13", "number": "1020304050"})
    assert resp.status_code == 404


def test_cli_prints_name_and_email(dian_issuer, known):
    out = io.StringIO()
    call_command("einvoice", "acquirer", "--issuer", dian_issuer.tax_id, "--id-type", "13", "--number", "1020304050",
                 "--json", stdout=out)
    assert json.loads(out.getvalue())["email"] == "ana@correo.example"
    out = io.StringIO()
    call_command("einvoice", "acquirer", "--issuer", dian_issuer.tax_id, "--id-type", "31", "--number", "800199436-4",
                 stdout=out)
    assert out.getvalue().splitlines() == ["Cliente Comercial Ltda.", "recepcion@cliente.example"]
    assert not AuditEntry.objects.exists()


def test_cli_unknown_buyer_is_a_refusal(dian_issuer, known):
    with pytest.raises(RefusedCommand) as info:
        call_command("einvoice", "acquirer", "--issuer", dian_issuer.tax_id, "--id-type", "13", "--number", "1")
    assert info.value.refusal.code == "einvoice.acquirer.not_found" and info.value.returncode == 2


def test_document_form_offers_the_lookup_button(client_co, dian_issuer):
    page = client_co.get("/documentos/nuevo/").content.decode()
    assert "Consultar en la DIAN" in page and 'hx-get="/documentos/adquiriente/"' in page
    assert 'hx-include="[name=customer_id_type],[name=customer_id]"' in page


def test_lookup_view_fills_name_and_email_out_of_band(client, make_user, dian_issuer, known):
    client.force_login(make_user("lectora", dian_issuer, role="readonly"))
    resp = client.get("/documentos/adquiriente/", {"customer_id_type": "31", "customer_id": "800199436-4"},
                      headers={"HX-Request": "true"})
    html = resp.content.decode()
    assert resp.status_code == 200
    assert "La DIAN tiene registrado a Cliente Comercial Ltda." in html
    assert re.search(r'<input[^>]*name="customer_name"[^>]*value="Cliente Comercial Ltda."', html)
    assert re.search(r'<input[^>]*id="id_customer_name"[^>]*hx-swap-oob="true"|<input[^>]*hx-swap-oob="true"[^>]*'
                     r'id="id_customer_name"', html)
    assert re.search(r'<input[^>]*type="email"[^>]*value="recepcion@cliente.example"', html)
    assert "<script" not in html
    assert not AuditEntry.objects.exists()


def test_lookup_view_says_why_and_fills_nothing(client_co, dian_issuer, known):
    html = client_co.get("/documentos/adquiriente/", {"customer_id_type": "13", "customer_id": "999"}).content.decode()
    assert "no tiene registrado" in html and "hx-swap-oob" not in html
