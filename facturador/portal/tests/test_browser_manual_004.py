"""Manual 004 (shared/seeds/004: cómo facturar, portal de autofacturación) walked in a browser, by its visible
Spanish labels, from a freshly seeded demo (portal "demo" of the Mexican issuer, its tickets, the local PAC on the
demo's port): I. branch, RFC, a ticket (with the "?" help), payment method, fiscal data, the CFDI stamped by the PAC,
XML and PDF downloaded and e-mailed; II. the customer's data edited; III. password recovered (RFC, e-mail, captcha,
temporary password by e-mail through a real SMTP server); IV. the panel entered from the start page; V. the temporary
password changed. axe-core checks the main pages; screenshots go to artifacts_dir."""

import re

import pytest

from conftest import assert_accessible
from facturador.portal.models import Cfdi, Customer, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RFC = "XIQB891116QE4"  # SAT's test RFC of a person (13 characters)
EMAIL = "karla@example.com"


def shot(page, artifacts_dir, name):
    page.screenshot(path=str(artifacts_dir / f"manual-004-{name}.png"), full_page=True)


def test_manual_004_ticket_to_stamped_cfdi_data_password_and_panel(page, seeded_demo, smtp_server, artifacts_dir):
    ticket = Ticket.objects.get(issuer=seeded_demo.mx, ticket_number="1001")  # total $116.00
    page.set_viewport_size({"width": 420, "height": 860})  # a customer's phone

    # I.1 Selecciona la sucursal; I.2 captura su RFC
    page.goto("/autofacturacion/p/demo/")
    assert_accessible(page, "manual-004-inicio", artifacts_dir)
    page.get_by_label("Sucursal donde compró").select_option(label=f"{ticket.branch.code} — {ticket.branch.name}")
    page.get_by_role("button", name="Continuar").click()
    page.get_by_label("RFC").fill(RFC.lower())
    page.get_by_role("button", name="Continuar").click()
    page.get_by_role("link", name="Continuar sin cuenta").click()

    # I.3 número de orden, de ticket y total (each with its "?"), forma de pago, generar factura
    page.get_by_label("¿Dónde encuentro el dato «Número de orden» en mi ticket?").click()
    assert page.locator("#help-order_number svg").is_visible()
    shot(page, artifacts_dir, "01-ticket-ayuda")
    page.get_by_role("textbox", name="Número de orden").fill(ticket.order_number)
    page.get_by_role("textbox", name="Número de ticket").fill(ticket.ticket_number)
    page.get_by_role("textbox", name="Total del ticket").fill("116.00")
    page.get_by_role("button", name="Agregar ticket").click()
    assert "$116.00" in page.inner_text("main")
    page.get_by_label("Forma de pago").select_option("01")
    shot(page, artifacts_dir, "02-tickets")
    assert_accessible(page, "manual-004-tickets", artifacts_dir)
    page.get_by_role("button", name="Continuar").click()

    page.get_by_label("Nombre o razón social").fill("KARLA FUENTE NOLASCO")
    page.get_by_label("Código postal del domicilio fiscal").fill("01160")
    page.get_by_label("Régimen fiscal").select_option("612")
    page.wait_for_function("document.querySelectorAll('#id_uso_cfdi option').length > 2")
    page.get_by_label("Uso del CFDI").select_option("G03")
    page.get_by_label("Correo para recibir la factura").fill(EMAIL)
    page.get_by_label("Cree una contraseña para su cuenta (opcional)").fill("Clave-12345")
    shot(page, artifacts_dir, "03-datos-fiscales")
    assert_accessible(page, "manual-004-datos-fiscales", artifacts_dir)
    page.get_by_role("button", name="Revisar factura").click()
    assert "$116.00" in page.inner_text("main")
    page.get_by_role("button", name="Generar factura").click()

    # timbrada: descargar el XML y el PDF, enviarla por correo
    page.wait_for_selector("#uuid")
    cfdi = Cfdi.objects.get(issuer=seeded_demo.mx)
    assert page.inner_text("#uuid") == cfdi.uuid and seeded_demo.pac.stamped(cfdi.uuid) is not None
    shot(page, artifacts_dir, "04-factura-timbrada")
    assert_accessible(page, "manual-004-factura", artifacts_dir)
    with page.expect_download() as dl:
        page.get_by_role("link", name="Descargar XML").click()
    assert dl.value.path().read_bytes() == bytes(cfdi.xml)
    with page.expect_download() as dl:
        page.get_by_role("link", name="Descargar PDF").click()
    assert dl.value.path().read_bytes()[:5] == b"%PDF-"
    page.get_by_label("Enviar por correo a").fill("contabilidad@example.com")
    page.get_by_role("button", name="Enviar", exact=True).click()
    page.wait_for_selector(".msg.success")
    assert any(m["To"] == "contabilidad@example.com" for m in smtp_server.messages)

    # II Editar información del cliente
    page.get_by_role("link", name="Mis datos").click()
    page.get_by_label("Código postal del domicilio fiscal").fill("01170")
    page.get_by_role("button", name="Guardar").click()
    page.wait_for_selector(".msg.success")
    assert Customer.objects.get(rfc=RFC).postal_code == "01170"
    shot(page, artifacts_dir, "05-mis-datos")

    # IV Panel de control de facturas
    page.get_by_role("link", name="Mis facturas").first.click()
    assert cfdi.uuid in page.inner_text("main")
    shot(page, artifacts_dir, "06-panel")
    assert_accessible(page, "manual-004-panel", artifacts_dir)
    page.get_by_role("button", name="Salir").click()

    # III Recuperación de contraseña: RFC, correo registrado, captcha → contraseña temporal por correo
    page.goto("/autofacturacion/p/demo/")
    page.get_by_role("link", name="¿Olvidó su contraseña?").click()
    from django.contrib.sessions.backends.db import SessionStore

    from facturador.portal.accounts import CAPTCHA_KEY

    session_key = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    page.get_by_label("RFC").fill(RFC)
    page.get_by_label("Correo registrado").fill(EMAIL)
    page.get_by_label("Caracteres de la imagen").fill(SessionStore(session_key)[CAPTCHA_KEY]["answer"])
    shot(page, artifacts_dir, "07-recuperar")
    assert_accessible(page, "manual-004-recuperar", artifacts_dir)
    page.get_by_role("button", name="Enviar").click()
    assert "contraseña temporal" in page.inner_text("main")
    temporary = re.search(r"es: (\S+)", smtp_server.messages[-1].get_body().get_content()).group(1)

    # IV entrar al panel desde el inicio; V cambiar la contraseña temporal
    page.goto("/autofacturacion/p/demo/")
    page.get_by_role("link", name="Mis facturas / Ingresar").click()
    page.get_by_label("RFC").fill(RFC)
    page.get_by_label("Contraseña").fill(temporary)
    page.get_by_role("button", name="Ingresar").click()
    page.get_by_label("Contraseña actual o temporal").fill(temporary)
    page.get_by_label("Nueva contraseña", exact=True).fill("Nueva-clave-99")
    page.get_by_label("Repita la nueva contraseña").fill("Nueva-clave-99")
    page.get_by_role("button", name="Guardar contraseña").click()
    page.wait_for_selector("h1:has-text('Mis facturas')")
    assert "Su contraseña se cambió" in page.inner_text("main") and cfdi.uuid in page.inner_text("main")
    shot(page, artifacts_dir, "08-contrasena-cambiada")
    assert not Customer.objects.get(rfc=RFC).must_change_password
