"""The customer's journey in a real browser (Playwright + Debian chromium), with screenshots."""

import re

import pytest

from facturador.portal.models import Cfdi, Customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_customer_invoices_a_ticket_and_recovers_password(page, portal, make_ticket, smtp_server, artifacts_dir):
    t1, t2 = make_ticket(), make_ticket(subtotal="250.00")
    shot = lambda name: page.screenshot(path=str(artifacts_dir / f"portal-{name}.png"), full_page=True)
    page.set_viewport_size({"width": 420, "height": 860})  # a phone
    page.goto(f"/autofacturacion/p/{portal.ps.slug}/")
    page.select_option("select[name=branch]", label="CDMX01 — Sucursal Reforma")
    page.click("button:has-text('Continuar')")
    page.fill("input[name=rfc]", "xiqb891116qe4")
    page.click("button:has-text('Continuar')")
    page.click("text=Continuar sin cuenta")
    page.click("#help-order_number summary")  # the "?" next to each field shows where that datum is printed
    assert page.locator("#help-order_number svg").is_visible()
    shot("1-ticket-help")
    for t in (t1, t2):
        page.fill("input[name=order_number]", t.order_number)
        page.fill("input[name=ticket_number]", t.ticket_number)
        page.fill("input[name=total]", str(t.total))
        page.click("button[name=add]")
    page.fill("input[name=order_number]", "X")
    page.fill("input[name=ticket_number]", "999999")
    page.fill("input[name=total]", "1.00")
    page.click("button[name=add]")
    assert "No encontramos ese ticket" in page.inner_text("main")
    shot("2-tickets")
    page.select_option("select[name=forma_pago]", "04")
    page.click("button[name=continue]")
    page.fill("input[name=name]", "KARLA FUENTE NOLASCO")
    page.fill("input[name=postal_code]", "01160")
    page.select_option("select[name=regimen]", "612")
    page.wait_for_function("document.querySelectorAll('#id_uso_cfdi option').length > 2")
    page.select_option("select[name=uso_cfdi]", "G03")
    page.fill("input[name=email]", "karla@example.com")
    page.fill("input[name=password]", "Clave-12345")
    shot("3-fiscal-data")
    page.click("button:has-text('Revisar factura')")
    assert "406.00" in page.inner_text("main")
    shot("4-preview")
    page.click("#generate")
    page.wait_for_selector("#uuid")
    cfdi = Cfdi.objects.get()
    assert page.inner_text("#uuid") == cfdi.uuid
    shot("5-stamped")
    with page.expect_download() as dl:
        page.click("text=Descargar XML")
    assert open(dl.value.path(), "rb").read() == bytes(cfdi.xml)
    page.click("text=Mis facturas")
    assert cfdi.uuid in page.inner_text("main")
    shot("6-panel")
    page.click("text=Salir")

    # password recovery: RFC + email + captcha -> temporary password by email -> forced change
    page.goto(f"/autofacturacion/p/{portal.ps.slug}/recuperar/")
    from django.contrib.sessions.backends.db import SessionStore

    from facturador.portal.accounts import CAPTCHA_KEY

    session_key = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    page.fill("input[name=rfc]", "XIQB891116QE4")
    page.fill("input[name=email]", "karla@example.com")
    page.fill("input[name=captcha]", SessionStore(session_key)[CAPTCHA_KEY]["answer"])
    shot("7-recover")
    page.click("button:has-text('Enviar')")
    assert "contraseña temporal" in page.inner_text("main")
    temp = re.search(r"es: (\S+)", smtp_server.messages[-1].get_body().get_content()).group(1)
    page.goto(f"/autofacturacion/p/{portal.ps.slug}/")
    page.click("text=Mis facturas / Ingresar")  # the direct entry: no branch, no ticket
    page.fill("input[name=rfc]", "XIQB891116QE4")
    page.fill("input[name=password]", temp)
    page.click("button:has-text('Ingresar')")
    page.wait_for_selector("text=contraseña temporal")
    page.fill("input[name=current]", temp)
    page.fill("input[name=new1]", "Nueva-clave-99")
    page.fill("input[name=new2]", "Nueva-clave-99")
    page.click("button:has-text('Guardar contraseña')")
    page.wait_for_selector("h1:has-text('Mis facturas')")
    assert "Su contraseña se cambió" in page.inner_text("main")
    shot("8-after-recovery")
    assert not Customer.objects.get(rfc="XIQB891116QE4").must_change_password


def test_staff_issues_the_global_invoice(page, portal, make_ticket, make_user, start_worker, artifacts_dir):
    import datetime as dt

    from django.utils import timezone

    from facturador.portal import services

    first = timezone.now().astimezone(services.MX).date().replace(day=1)
    prev = first - dt.timedelta(days=1)
    period = f"{prev.year}-{prev.month:02d}"
    sold = dt.datetime(prev.year, prev.month, 5, 12, tzinfo=services.MX)
    tickets = [make_ticket(sold_at=sold), make_ticket(sold_at=sold, subtotal="40.00")]
    make_user("contador", portal, "admin", password="Clave-de-prueba-1")
    start_worker()
    page.goto("/cuenta/ingresar/")
    page.fill("input[name=username]", "contador")
    page.fill("input[name=password]", "Clave-de-prueba-1")
    page.click("button[type=submit]")
    page.goto("/autofacturacion/facturas/")
    page.fill("input[name=period]", period)
    page.click("button:has-text('Generar factura global')")
    page.wait_for_selector("[data-status=finished]", timeout=60000)
    page.screenshot(path=str(artifacts_dir / "portal-9-global-job.png"), full_page=True)
    page.goto("/autofacturacion/facturas/")
    assert "PUBLICO EN GENERAL" in page.inner_text("main") and period in page.inner_text("main")
    page.screenshot(path=str(artifacts_dir / "portal-10-global-listed.png"), full_page=True)
    glob = Cfdi.objects.get(kind="G")
    assert {t.pk for t in tickets} == set(glob.global_tickets.values_list("pk", flat=True))
