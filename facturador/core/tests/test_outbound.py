"""No server-side requests to arbitrary or private addresses (core.outbound)."""

import pytest

from facturador.core.errors import Invalid
from facturador.core.outbound import check_endpoint


@pytest.mark.parametrize("url", [
    "http://vpfe-hab.dian.gov.co/WcfDianCustomerServices.svc",  # not https
    "https://example.com/WcfDianCustomerServices.svc",  # not DIAN
    "https://127.0.0.1:5432/",  # loopback
    "http://169.254.169.254/latest/meta-data/",  # link-local (cloud metadata)
    "https://user:pw@vpfe.dian.gov.co/",  # credentials in the URL
    "file:///etc/passwd",
])
def test_dian_endpoint_refused(url, settings):
    settings.FACTURADOR_ALLOWED_ENDPOINTS = []
    with pytest.raises(Invalid) as err:
        check_endpoint(url, service="dian", resolve=False)
    assert err.value.code == "core.endpoint.not_allowed"


def test_official_dian_endpoint_accepted(settings):
    settings.FACTURADOR_ALLOWED_ENDPOINTS = []
    url = "https://vpfe.dian.gov.co/WcfDianCustomerServices.svc"
    assert check_endpoint(url, service="dian", resolve=False) == url


def test_pac_host_is_not_a_dian_host(settings):
    settings.FACTURADOR_ALLOWED_ENDPOINTS = []
    with pytest.raises(Invalid):
        check_endpoint("https://facturacion.finkok.com/servicios/soap/stamp.wsdl", service="dian", resolve=False)


def test_deployment_may_allow_a_local_test_service(settings):
    settings.FACTURADOR_ALLOWED_ENDPOINTS = ["http://127.0.0.1:8089"]
    assert check_endpoint("http://127.0.0.1:8089/WcfDianCustomerServices.svc", service="dian")
    with pytest.raises(Invalid):
        check_endpoint("http://127.0.0.1:5432/", service="dian")


def test_allowed_entry_without_port_allows_any_port(settings):
    settings.FACTURADOR_ALLOWED_ENDPOINTS = ["http://127.0.0.1"]
    assert check_endpoint("http://127.0.0.1:40123/x", service="pac")


def test_known_host_resolving_to_a_private_address_is_refused(settings, monkeypatch):
    import socket

    settings.FACTURADOR_ALLOWED_ENDPOINTS = []
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("10.0.0.5", 443))])
    with pytest.raises(Invalid) as err:
        check_endpoint("https://vpfe.dian.gov.co/WcfDianCustomerServices.svc", service="dian")
    assert "red privada" in err.value.message
