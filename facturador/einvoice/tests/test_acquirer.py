"""GetAcquirer: a buyer's name and e-mail from DIAN (the local DIAN service over HTTP)."""

import pytest
from django.core.cache import cache

from facturador.core import outbound
from facturador.core.models import Certificate
from facturador.core.errors import Refusal
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
