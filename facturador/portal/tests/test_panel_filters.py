"""The filters of "mis facturas": a value that is not valid is ignored with a Spanish message, never a 500 (issue 13)."""

import pytest

from facturador.portal.tests.conftest import PASSWORD, walk_to_rfc


@pytest.fixture
def panel(client, portal, account):
    base, _ = walk_to_rfc(client, portal)
    assert client.post(base + "ingresar/", {"password": PASSWORD}).status_code == 302
    return base + "mis-facturas/"


@pytest.mark.parametrize("query,message", [
    ("from=notadate", "Desde"),
    ("to=2026-02-31", "Hasta"),
    ("min=abc", "Monto mínimo"),
    ("max=1e400", "Monto máximo"),
    ("branch=abc", "Sucursal"),
    ("branch=99999999999999999999", "Sucursal"),
])
def test_invalid_filter_is_ignored_with_a_spanish_message(client, panel, query, message):
    resp = client.get(f"{panel}?{query}")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "Se ignoró el filtro" in html and message in html
