"""A browser walks the wizard: registration → software → test numbering → test set (real worker, DIAN sandbox
over HTTP) → leave and come back → production → resolution → sync → done. Screenshots go to artifacts_dir."""

import pytest

from facturador.habilitacion.models import Enablement

from .conftest import SOFTWARE_PIN, new_software

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shot(page, artifacts_dir, name):
    page.screenshot(path=str(artifacts_dir / f"habilitacion-{name}.png"), full_page=True)


def test_wizard_walkthrough(page, new_issuer, make_user, dian_sandbox, start_worker, artifacts_dir):
    issuer = new_issuer(legal_name="Acueducto de Prueba S.A. E.S.P.")
    make_user("habilitador", issuer, "admin", password="Clave-de-prueba-1")
    software_id, test_set_id = new_software(dian_sandbox, invoices=2, credit_notes=1, debit_notes=1)
    dian_sandbox.register_range(issuer.tax_id, "FE", 1, 10000, "e" * 40, software_id=software_id,
                                resolution_number="18764000000777")
    start_worker("hab-browser")

    page.goto("/")
    page.fill("input[name=username]", "habilitador")
    page.fill("input[name=password]", "Clave-de-prueba-1")
    page.click("button[type=submit]")
    page.click("nav >> text=Habilitación DIAN")
    page.wait_for_selector("section[data-step=registro]")
    page.fill("input[name=reception_email]", "facturas@acueducto.example")
    shot(page, artifacts_dir, "1-registro")
    page.click("text=Ya me registré: guardar")
    page.wait_for_selector("section[data-step=certificado]")
    assert "Certificado vigente" in page.inner_text("section")
    assert "Registrado como facturador electrónico" in page.inner_text("#enablement-state")
    shot(page, artifacts_dir, "2-certificado")

    page.click("#next-step")
    page.wait_for_selector("section[data-step=software]")
    page.fill("input[name=software_name]", "Facturador")
    page.fill("input[name=software_id]", software_id)
    page.fill("input[name=pin]", SOFTWARE_PIN)
    page.fill("input[name=test_set_id]", "no-es-un-guid")
    page.fill("input[name=endpoint]", dian_sandbox.url)
    page.click("text=Guardar software")
    assert page.locator(".field-error").count() == 1  # the TestSetId must be a GUID
    page.fill("input[name=pin]", SOFTWARE_PIN)
    page.fill("input[name=test_set_id]", test_set_id)
    page.click("button:has-text('Guardar')")
    page.wait_for_selector("section[data-step=numeracion]")
    assert page.input_value("input[name=prefix]") == "SETP"
    assert page.input_value("input[name=range_from]") == "990000000"
    shot(page, artifacts_dir, "3-numeracion")
    page.click("text=Guardar numeración de pruebas")

    page.wait_for_selector("section[data-step=set]")
    for name, value in (("invoices", "2"), ("credit_notes", "1"), ("debit_notes", "1")):
        page.fill(f"input[name={name}]", value)
    page.click("#generate")
    page.wait_for_selector("#documents")
    page.wait_for_selector("#run-outcome[data-outcome=accepted]", timeout=60000)
    assert page.locator("#documents tr[data-status=accepted]").count() == 4
    assert "se encuentra Aceptado" in page.inner_text(".card")
    shot(page, artifacts_dir, "4-set-aceptado")

    # Leave and come back: the wizard reopens where the user was.
    page.goto("/")
    page.click("nav >> text=Habilitación DIAN")
    page.wait_for_selector("section[data-step=set]")
    page.click("#next-step")
    page.wait_for_selector("section[data-step=produccion]")
    page.fill("input[name=start_date]", "2026-12-01")
    page.check("input[name=confirm]")
    shot(page, artifacts_dir, "5-produccion")
    page.click("text=Confirmar paso a producción")

    page.wait_for_selector("section[data-step=resolucion]")
    form = page.locator("#resolution-form")
    form.locator("input[name=resolution_number]").fill("18764000000777")
    form.locator("input[name=prefix]").fill("FE")
    form.locator("input[name=range_from]").fill("1")
    form.locator("input[name=range_to]").fill("10000")
    form.locator("input[name=valid_from]").fill("2019-01-19")
    form.locator("input[name=valid_to]").fill("2030-01-19")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#production-ranges >> text=Pendiente")
    page.click("#sync")
    page.wait_for_selector(".msg.success >> text=Numeración sincronizada")
    assert "Sincronizada" in page.inner_text("#production-ranges")
    shot(page, artifacts_dir, "6-numeracion-sincronizada")
    page.locator("#prefix-form input[name=associated_on]").fill("2026-12-01")
    page.click("text=Registrar asociación")

    page.wait_for_selector("section[data-step=listo]")
    assert "responsabilidad" in page.inner_text("#s2-reminder")
    assert "numeración sincronizada" in page.inner_text("#ready")
    shot(page, artifacts_dir, "7-listo")
    en = Enablement.objects.get(issuer=issuer)
    assert en.state == "production" and str(en.production_start) == "2026-12-01" and en.wizard_step == "listo"
