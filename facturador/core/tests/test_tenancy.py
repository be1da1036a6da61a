"""A user of issuer A never sees issuer B's objects: 404 in the UI and in the API."""

import pytest
from rest_framework.authtoken.models import Token

from facturador.core.models import Job
from facturador.core.tests.helpers import make_range


@pytest.fixture
def two_tenants(make_issuer, make_user):
    a = make_issuer("CO")
    b = make_issuer("CO")
    user_a = make_user("usuario_a", a, "admin")
    make_user("usuario_b", b, "admin")
    from facturador.core.models import Branch

    objs = {
        "branch": Branch.objects.create(issuer=b, code="B1", name="Sucursal B"),
        "range": make_range(b, prefix="BB"),
        "job": Job.objects.create(issuer=b, kind="core.ping"),
    }
    return a, b, user_a, objs


def test_ui_returns_404_for_other_issuer_objects(client, two_tenants):
    a, b, user_a, objs = two_tenants
    client.force_login(user_a)
    for url in [f"/sucursales/{objs['branch'].pk}/", f"/numeraciones/{objs['range'].pk}/", f"/tareas/{objs['job'].pk}/",
                f"/tareas/{objs['job'].pk}/progreso/"]:
        assert client.get(url).status_code == 404, url
    assert client.post(f"/tareas/{objs['job'].pk}/cancelar/").status_code == 404
    # switching to an issuer one does not belong to is refused
    assert client.post("/emisor/cambiar/", {"issuer": b.pk}).status_code == 400
    # lists only show own data
    assert "Sucursal B" not in client.get("/sucursales/").content.decode()


def test_api_returns_404_for_other_issuer(api_client, two_tenants):
    a, b, user_a, objs = two_tenants
    token = Token.objects.create(user=user_a)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api_client.get(f"/api/v1/issuers/{a.pk}/branches/").status_code == 200
    for url in [f"/api/v1/issuers/{b.pk}/", f"/api/v1/issuers/{b.pk}/branches/", f"/api/v1/issuers/{b.pk}/branches/{objs['branch'].pk}/",
                f"/api/v1/issuers/{b.pk}/numbering-ranges/{objs['range'].pk}/", f"/api/v1/issuers/{b.pk}/jobs/{objs['job'].pk}/",
                f"/api/v1/issuers/{b.pk}/certificates/",
                # B's object through A's URL
                f"/api/v1/issuers/{a.pk}/branches/{objs['branch'].pk}/",
                f"/api/v1/issuers/{a.pk}/numbering-ranges/{objs['range'].pk}/",
                f"/api/v1/issuers/{a.pk}/jobs/{objs['job'].pk}/"]:
        assert api_client.get(url).status_code == 404, url
    assert api_client.delete(f"/api/v1/issuers/{a.pk}/branches/{objs['branch'].pk}/").status_code == 404
    ids = [i["id"] for i in api_client.get("/api/v1/issuers/").json()["results"]]
    assert ids == [a.pk]


def test_read_only_role_cannot_write(api_client, make_user, issuer_co):
    reader = make_user("lector", issuer_co, "readonly")
    api_client.force_authenticate(reader)
    resp = api_client.post(f"/api/v1/issuers/{issuer_co.pk}/branches/", {"code": "X", "name": "X"})
    assert resp.status_code == 403
