import pytest

from conftest import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_navigate_and_screenshot(page, make_issuer, make_user, artifacts_dir):
    co = make_issuer("CO", legal_name="Alcaldía de Prueba")
    mx = make_issuer("MX", legal_name="COMERCIO DE PRUEBA")
    user = make_user("navegante", co, "admin", password="Clave-de-prueba-1")
    from facturador.core.models import Membership

    Membership.objects.create(user=user, issuer=mx, role="billing")
    page.goto("/")
    page.fill("input[name=username]", "navegante")
    page.fill("input[name=password]", "Clave-de-prueba-1")
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Alcaldía de Prueba')")
    page.screenshot(path=str(artifacts_dir / "core-dashboard.png"), full_page=True)
    assert_accessible(page, "core-panel", artifacts_dir)
    page.click("nav >> text=Numeraciones")
    page.wait_for_selector("h1:has-text('Numeraciones')")
    page.click("text=Nueva numeración")
    page.fill("input[name=prefix]", "ABCDE")
    page.fill("input[name=range_from]", "10")
    page.fill("input[name=range_to]", "1")
    page.click("button:has-text('Guardar')")
    assert page.locator(".field-error").count() >= 2
    page.screenshot(path=str(artifacts_dir / "core-numbering-errors.png"), full_page=True)
    assert_accessible(page, "core-numeracion-con-errores", artifacts_dir)
    page.goto("/")
    page.select_option("#issuer-select", label="COMERCIO DE PRUEBA — " + mx.display_tax_id)
    page.wait_for_selector("h1:has-text('COMERCIO DE PRUEBA')")
    assert "Facturación" in page.inner_text("header")
    page.screenshot(path=str(artifacts_dir / "core-switched-issuer.png"), full_page=True)
