import re

import pytest


from facturador.core.models import AuditEntry, Branch, Issuer, NumberingRange
from facturador.core.tests.helpers import make_range


def test_login_page_in_spanish(client):
    resp = client.get("/", follow=True)
    assert resp.redirect_chain[-1][0].startswith("/cuenta/ingresar/")
    assert "Ingresar" in resp.content.decode()


def test_dashboard_shows_issuer_and_warnings(client_co, issuer_co):
    make_range(issuer_co, prefix="W", range_from=1, range_to=10, next_number=10)
    html = client_co.get("/").content.decode()
    assert issuer_co.legal_name in html
    assert "90%" in html


@pytest.fixture
def platform_admin(admin_co):
    from django.contrib.auth.models import Permission

    admin_co.user_permissions.add(Permission.objects.get(codename="add_issuer"))
    return admin_co


def test_issuer_form_rejects_wrong_nit_and_stores_nothing(client_co, platform_admin):
    before = Issuer.objects.count()
    resp = client_co.post("/emisor/nuevo/", {"country": "CO", "tax_id": "800197268-5", "legal_name": "X", "person_type": "1"})
    assert resp.status_code == 200
    assert "El dígito de verificación del NIT 800197268 es 4" in resp.content.decode()
    assert Issuer.objects.count() == before


def test_tenant_admin_cannot_create_issuers(client_co):
    resp = client_co.post("/emisor/nuevo/", {"country": "MX", "tax_id": "XIQB891116QE4", "legal_name": "NUEVA",
                                             "person_type": "2", "postal_code": "01000", "fiscal_regime": "612"})
    assert resp.status_code == 403
    assert not Issuer.objects.filter(tax_id="XIQB891116QE4").exists()


def test_create_issuer_makes_user_admin(client_co, admin_co, platform_admin):
    resp = client_co.post("/emisor/nuevo/", {"country": "MX", "tax_id": "XIQB891116QE4", "legal_name": "NUEVA", "person_type": "2",
                                             "postal_code": "01000", "fiscal_regime": "612"})
    assert resp.status_code == 302
    issuer = Issuer.objects.get(tax_id="XIQB891116QE4")
    assert admin_co.memberships.get(issuer=issuer).role == "admin"
    assert AuditEntry.objects.filter(issuer=issuer, action="issuer.create", user=admin_co).exists()


def test_branch_crud(client_co, issuer_co):
    assert client_co.post("/sucursales/nueva/", {"code": "MED", "name": "Medellín", "active": "on"}).status_code == 302
    dup = client_co.post("/sucursales/nueva/", {"code": "MED", "name": "Otra"})
    assert "Ya existe una sucursal" in dup.content.decode()
    assert Branch.objects.filter(issuer=issuer_co).count() == 1


def test_numbering_form_overlap_is_refused(client_co, issuer_co):
    make_range(issuer_co, prefix="FE", range_from=1, range_to=1000)
    data = {"document_type": "invoice", "environment": "test", "prefix": "FE", "range_from": 500, "range_to": 2000,
            "valid_from": "2026-01-01", "valid_to": "2027-01-01", "resolution_number": "1876", "technical_key_input": "abc"}
    resp = client_co.post("/numeraciones/nueva/", data)
    assert "se cruza" in resp.content.decode()
    assert NumberingRange.objects.filter(issuer=issuer_co).count() == 1
    data.update(range_from=1001, prefix="fe")
    assert client_co.post("/numeraciones/nueva/", data).status_code == 302
    new = NumberingRange.objects.get(issuer=issuer_co, range_from=1001)
    assert new.prefix == "FE" and new.next_number == 1001 and new.technical_key.reveal() == "abc"
    assert "abc" not in client_co.get("/numeraciones/").content.decode()


def test_numbering_prefix_longer_than_4_is_refused(client_co):
    resp = client_co.post("/numeraciones/nueva/", {"document_type": "invoice", "environment": "test", "prefix": "ABCDE",
                                                    "range_from": 1, "range_to": 10, "valid_from": "2026-01-01",
                                                    "valid_to": "2027-01-01"})
    assert "4 caracteres" in resp.content.decode()


def test_password_reset_by_email_through_real_smtp(client, make_user, smtp_server):
    make_user("olvido", password="vieja-clave-123")
    resp = client.post("/cuenta/recuperar/", {"email": "olvido@example.com"})
    assert resp.status_code == 302
    assert len(smtp_server.messages) == 1
    msg = smtp_server.messages[0]
    assert msg["To"] == "olvido@example.com"
    assert "recuperación de contraseña" in msg["Subject"]
    body = msg.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"https?://[^/]+(/cuenta/recuperar/\S+/\S+/)", body).group(1)
    form = client.get(link, follow=True)
    set_url = form.redirect_chain[-1][0] if form.redirect_chain else link
    done = client.post(set_url, {"new_password1": "Nueva-clave-segura-9", "new_password2": "Nueva-clave-segura-9"})
    assert done.status_code == 302
    from django.http import HttpRequest

    assert client.login(request=HttpRequest(), username="olvido", password="Nueva-clave-segura-9")


def test_read_only_user_cannot_open_admin_pages(client, make_user, issuer_co):
    client.force_login(make_user("lectura", issuer_co, "readonly"))
    assert client.get("/numeraciones/nueva/").status_code == 403
    assert client.get("/numeraciones/").status_code == 200


def test_staff_login_is_throttled_after_repeated_wrong_passwords(client, make_user, settings):
    make_user("cajera", password="Clave-correcta-1")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/cuenta/ingresar/", {"username": "cajera", "password": "mala"})
    locked = client.post("/cuenta/ingresar/", {"username": "cajera", "password": "Clave-correcta-1"})
    assert locked.status_code == 429
    assert "bloqueado" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_staff_login_from_another_address_is_not_locked(client, make_user, settings):
    make_user("cajera", password="Clave-correcta-1")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/cuenta/ingresar/", {"username": "cajera", "password": "mala"}, REMOTE_ADDR="10.0.0.9")
    ok = client.post("/cuenta/ingresar/", {"username": "cajera", "password": "Clave-correcta-1"})
    assert ok.status_code == 302


def test_pages_send_a_content_security_policy_without_inline_scripts(client_co):
    resp = client_co.get("/")
    policy = resp.headers["Content-Security-Policy"]
    script_src = next(d for d in policy.split("; ") if d.startswith("script-src"))
    assert "unsafe-inline" not in script_src and "frame-ancestors 'none'" in policy
    assert " onclick=" not in resp.content.decode() and " onchange=" not in resp.content.decode()


def test_api_docs_need_a_login(client):
    assert client.get("/api/schema/").status_code in (401, 403)
    assert client.get("/api/docs/").status_code in (401, 403)


def test_deploy_check_has_no_warnings_over_https(tmp_path):
    import os
    import subprocess
    import sys

    env = dict(os.environ, FACTURADOR_DEBUG="0", FACTURADOR_HTTPS="1", FACTURADOR_DATA_DIR=str(tmp_path))
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by the test suite for Playwright, never in a deployment
    out = subprocess.run([sys.executable, "-m", "facturador", "check", "--deploy", "--fail-level", "WARNING"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no issues" in out.stdout


def test_staff_password_reset_is_throttled(client, make_user, settings):
    from django.core.cache import cache

    cache.clear()
    make_user("olvidadiza")
    limit, _ = settings.FACTURADOR_STAFF_RESET_THROTTLE
    for _ in range(limit):
        assert client.post("/cuenta/recuperar/", {"email": "olvidadiza@example.com"}).status_code == 302
    resp = client.post("/cuenta/recuperar/", {"email": "olvidadiza@example.com"})
    assert resp.status_code == 429 and "Demasiados intentos" in resp.content.decode()
    cache.clear()


def test_request_larger_than_the_upload_limit_is_refused_before_it_is_read(client_co, settings):
    settings.FACTURADOR_UPLOAD_MAX_BYTES = 1000
    resp = client_co.post("/certificados/cargar/", data=b"x" * 2000, content_type="application/octet-stream")
    assert resp.status_code == 413


def test_api_request_larger_than_the_upload_limit_gets_the_refusal_shape(api_client, admin_co, issuer_co, settings):
    settings.FACTURADOR_UPLOAD_MAX_BYTES = 1000
    api_client.force_authenticate(admin_co)
    resp = api_client.post(f"/api/v1/issuers/{issuer_co.pk}/branches/", data=b"x" * 2000,
                           content_type="application/json")
    assert resp.status_code == 413 and resp.json()["code"] == "core.request.too_large"


@pytest.mark.django_db
def test_a_live_job_row_offers_the_actions_of_each_state_bound_to_its_progress(client_co, issuer_co):
    from facturador.core.models import Job

    job = Job.objects.create(issuer=issuer_co, kind="core.ping", status=Job.Status.RUNNING)
    html = client_co.get("/tareas/").content.decode()
    assert f'data-job-actions="{job.pk}" data-when="running">' in html  # shown while running
    assert f'data-job-actions="{job.pk}" data-when="pending" hidden>' in html  # app.js shows it if the state says so
