"""Every error status answers with a Spanish page in the look of the site (DEBUG off, as in production)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.urls("facturador.core.tests.error_urls")


@pytest.fixture(autouse=True)
def _production(settings):
    settings.DEBUG = False


def test_404_is_a_spanish_page(client, db):
    resp = client.get("/no-existe/")
    assert resp.status_code == 404
    html = resp.content.decode()
    assert "Página no encontrada" in html
    assert "/no-existe/" in html
    assert "Not Found" not in html and "requested resource" not in html
    assert 'href="/static/core/app.css"' in html  # the site's look


def test_404_inside_the_app_keeps_the_menu(client_co):
    html = client_co.get("/tareas/999999/").content.decode()
    assert "Página no encontrada" in html
    assert "Navegación principal" in html


def test_500_is_a_spanish_page_without_details(client, db):
    client.raise_request_exception = False
    resp = client.get("/pruebas/boom/")
    assert resp.status_code == 500
    html = resp.content.decode()
    assert "Ocurrió un error inesperado" in html
    assert "kaboom" not in html and "Server Error" not in html and "Traceback" not in html


def test_500_page_renders_without_request_or_database(db):
    from django.views.defaults import server_error
    from django.test import RequestFactory

    with CaptureQueriesContext(connection) as queries:
        resp = server_error(RequestFactory().get("/"))
    assert resp.status_code == 500
    assert "Ocurrió un error inesperado" in resp.content.decode()
    assert len(queries) == 0


def test_403_is_a_spanish_page(client_co):
    resp = client_co.get("/pruebas/denegado/")
    assert resp.status_code == 403
    html = resp.content.decode()
    assert "Acceso no permitido" in html and "No tiene permiso" in html
    assert "403 Forbidden" not in html


def test_403_shows_the_reason_given(client, make_user, issuer_co):
    client.force_login(make_user("solo_lectura", issuer_co, "viewer"))
    resp = client.get("/emisor/nuevo/")
    assert resp.status_code == 403
    assert "Solo un administrador de la plataforma puede registrar emisores." in resp.content.decode()


def test_400_is_a_spanish_page(client, db):
    resp = client.get("/pruebas/mala/")
    assert resp.status_code == 400
    html = resp.content.decode()
    assert "Solicitud no válida" in html and "Bad Request" not in html


def test_expired_form_is_a_spanish_page(db, make_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    resp = client.post("/cuenta/ingresar/", {"username": "x", "password": "y"})
    assert resp.status_code == 403
    html = resp.content.decode()
    assert "El formulario ya no es válido" in html
    assert "CSRF verification failed" not in html
