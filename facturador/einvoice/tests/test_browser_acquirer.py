"""Browser: "Consultar en la DIAN" fills the customer's name and e-mail (htmx, under the Content-Security-Policy)."""

import pytest

from conftest import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_lookup_button_fills_name_and_email(page, make_user, dian_issuer, sandbox, artifacts_dir):
    sandbox.register_acquirer("31", "800199436", "Cliente Comercial Ltda.", "recepcion@cliente.example")
    make_user("facturadora", dian_issuer, "billing", password="Clave-de-prueba-1")
    problems = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.goto("/documentos/nuevo/")
    page.fill("input[name=username]", "facturadora")
    page.fill("input[name=password]", "Clave-de-prueba-1")
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Nuevo documento')")
    page.select_option("select[name=customer_id_type]", "31")
    page.fill("input[name=customer_id]", "800199436-4")
    page.fill("input[name=customer_email]", "escrito@antes.example")
    page.click("button:has-text('Consultar en la DIAN')")
    page.wait_for_selector("text=La DIAN tiene registrado a Cliente Comercial Ltda.")
    assert page.input_value("input[name=customer_name]") == "Cliente Comercial Ltda."
    assert page.input_value("input[name=customer_email]") == "recepcion@cliente.example"
    assert page.input_value("input[name=customer_id]") == "800199436-4"
    page.screenshot(path=str(artifacts_dir / "einvoice-acquirer.png"), full_page=True)
    assert_accessible(page, "einvoice-nuevo-documento", artifacts_dir)
    assert not [p for p in problems if "Content Security Policy" in p], problems
