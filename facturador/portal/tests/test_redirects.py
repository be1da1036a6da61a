"""Where the portal's login sends the customer afterwards: only to a page of this site (issue 13)."""

from facturador.portal.tests.conftest import PASSWORD, walk_to_rfc


def test_login_next_to_another_host_is_ignored(client, portal, account):
    base, _ = walk_to_rfc(client, portal)
    resp = client.post(base + "ingresar/?next=//evil.example/phish", {"password": PASSWORD})
    assert resp.status_code == 302 and resp["Location"] == base + "tickets/"


def test_login_next_on_this_site_is_followed(client, portal, account):
    base, _ = walk_to_rfc(client, portal)
    resp = client.post(base + f"ingresar/?next={base}mis-facturas/", {"password": PASSWORD})
    assert resp["Location"] == base + "mis-facturas/"


def test_safe_next_refuses_other_hosts_schemes_and_http_from_https(rf):
    from facturador.core.redirects import safe_next

    request = rf.get("/", secure=True)
    assert safe_next(request, "/autofacturacion/p/x/", "/d") == "/autofacturacion/p/x/"
    assert safe_next(request, "https://testserver/a", "/d") == "https://testserver/a"
    for bad in ("//evil.example/phish", "https://evil.example/", "http://testserver/a", "javascript:alert(1)",
                "/\\evil.example", "", None):
        assert safe_next(request, bad, "/d") == "/d", bad
