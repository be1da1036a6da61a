"""Manual 002 (shared/seeds/002: habilitación como facturador electrónico) walked in a browser, by its visible
Spanish labels, from a freshly seeded demo (`serve --seed-demo`: demo data, the local DIAN service on the demo's
port, the demo wiring) to "production ready": registration, operation mode, test set accepted (real worker),
production date, authorised range (form 1876), prefix association, numbering synced, RUT. Screenshots go to
artifacts_dir."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from conftest import assert_accessible
from facturador.core import demo as core_demo
from facturador.core.models import NumberingRange
from facturador.einvoice.demo import DEMO_SOFTWARE_ID
from facturador.habilitacion import services
from facturador.habilitacion.models import Enablement

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shot(page, artifacts_dir, name):
    page.screenshot(path=str(artifacts_dir / f"manual-002-{name}.png"), full_page=True)


def test_manual_002_from_fresh_demo_to_production_ready(page, seeded_demo, start_worker, artifacts_dir):
    issuer, server = seeded_demo.co, seeded_demo.dian
    start_worker("manual-002")
    today = dt.datetime.now(ZoneInfo(issuer.tz)).date()  # the issuer's date (Bogotá), not the machine's (UTC)

    page.goto("/")
    page.get_by_label("Usuario").fill("demo")
    page.get_by_label("Contraseña").fill(core_demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Ingresar").click()
    page.get_by_role("navigation").get_by_role("link", name="Habilitación DIAN").click()

    # Registro y habilitación → Documentos electrónicos → Factura electrónica: the reception e-mail (steps 05-08)
    page.wait_for_selector("section[data-step=registro]")
    page.get_by_label("Correo de recepción de facturas").fill("recepcion@alumbrado-demo.co")
    shot(page, artifacts_dir, "01-registro")
    assert_accessible(page, "manual-002-registro", artifacts_dir)
    page.get_by_role("button", name="Ya me registré: guardar").click()
    page.wait_for_selector("section[data-step=certificado]")
    assert "Registrado como facturador electrónico" in page.inner_text("#enablement-state")
    page.get_by_role("link", name="Siguiente →").click()

    # Configurar modos de operación (steps 09-11): the demo's software
    page.wait_for_selector("section[data-step=software]")
    assert DEMO_SOFTWARE_ID in page.inner_text("#modes-table")
    shot(page, artifacts_dir, "02-modo-de-operacion")
    page.get_by_role("button", name="Guardar software").click()
    page.wait_for_selector("section[data-step=numeracion]")
    page.get_by_role("button", name="Guardar numeración de pruebas").click()

    # Set de pruebas (TestSetId, Generar comprobantes) until DIAN says "Aceptado" (steps 12, pruebas 03-07)
    page.wait_for_selector("section[data-step=set]")
    page.get_by_label("Facturas").fill("8")
    page.get_by_label("Notas crédito").fill("1")
    page.get_by_label("Notas débito").fill("1")
    page.get_by_role("button", name="Generar comprobantes").click()
    page.wait_for_selector("#run-outcome[data-outcome=accepted]", timeout=120000)
    assert "se encuentra Aceptado" in page.inner_text("main")
    shot(page, artifacts_dir, "03-set-aceptado")

    # Registrar fecha de inicio salida a producción (step 08): the date stays when the box is not ticked
    page.goto("/habilitacion/?paso=produccion")
    start = today.isoformat()
    page.get_by_label("Fecha de inicio de facturación electrónica").fill(start)
    page.get_by_role("button", name="Confirmar paso a producción").click()
    page.wait_for_selector(".field-error")
    assert page.get_by_label("Fecha de inicio de facturación electrónica").input_value() == start
    page.get_by_label("Confirmo la fecha de inicio").check()
    shot(page, artifacts_dir, "04-produccion")
    page.get_by_role("button", name="Confirmar paso a producción").click()

    # Numeración autorizada: MUISCA form 1876 (Autorizar rangos: FE 1-100)
    page.wait_for_selector("section[data-step=resolucion]")
    form = page.locator("#resolution-form")
    form.get_by_label("Número de resolución (formulario 1876)").fill("18764031407250")
    form.get_by_label("Tipo de facturación").select_option(label="Factura electrónica de venta")
    form.get_by_label("Prefijo", exact=True).fill("FE")
    form.get_by_label("Desde", exact=True).fill("1")
    form.get_by_label("Hasta", exact=True).fill("100")
    form.get_by_label("Vigente desde").fill(today.isoformat())
    form.get_by_label("Vigente hasta").fill((today + dt.timedelta(days=730)).isoformat())
    form.get_by_role("button", name="Registrar resolución").click()
    page.wait_for_selector("#production-ranges tr[data-prefix=FE] >> text=Pendiente")
    assert "Sin asociar" in page.inner_text("#production-ranges")
    shot(page, artifacts_dir, "05-resolucion-1876")
    assert_accessible(page, "manual-002-numeracion", artifacts_dir)

    # Asociación de prefijos (Proveedor - Software, Prefijo: FE - 18764031407250 (1 - 100), Agregar)
    prefix_form = page.locator("#prefix-form")
    prefix_form.get_by_label("Prefijo", exact=True).select_option(label="FE - 18764031407250 (1 - 100)")
    prefix_form.get_by_label("Fecha en que asoció el prefijo al software en el portal").fill(today.isoformat())
    prefix_form.get_by_role("button", name="Registrar asociación").click()
    page.wait_for_selector(".msg.success >> text=Prefijo FE asociado")
    assert "Asociado" in page.inner_text("#production-ranges tr[data-prefix=FE]")
    shot(page, artifacts_dir, "06-prefijo-asociado")

    # Sincronizar numeración: the local DIAN service knows the authorised range, with its technical key
    page.get_by_role("button", name="Sincronizar numeración").click()
    page.wait_for_selector(".msg.success >> text=Numeración sincronizada")

    # Listo: production ready, RUT reminder (responsabilidad 52)
    page.wait_for_selector("section[data-step=listo]")
    assert "numeración sincronizada, con el prefijo asociado a su software" in page.inner_text("#ready")
    assert page.locator("#not-ready").count() == 0
    page.get_by_role("button", name="Ya actualicé el RUT").click()
    page.wait_for_selector("#s2-reminder >> text=Actualizado el")
    shot(page, artifacts_dir, "07-listo")
    assert_accessible(page, "manual-002-listo", artifacts_dir)

    en = Enablement.objects.get(issuer=issuer)
    with timezone.override(ZoneInfo(issuer.tz)):  # "today" as the issuer's requests see it
        assert en.state == "production" and en.s2_acknowledged_on and services.production_ready(issuer)
    fe = NumberingRange.objects.get(issuer=issuer, prefix="FE", environment="production")
    [known] = [r for r in server.sandbox.ranges_of(issuer.tax_id) if r.prefix == "FE"]
    assert fe.technical_key.reveal() == known.technical_key and fe.associated_software_id == DEMO_SOFTWARE_ID
