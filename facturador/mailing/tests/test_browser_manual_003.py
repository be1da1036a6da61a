"""Manual 003 (shared/seeds/003: enviar facturas por correo) walked in a browser as the demo's billing clerk, by its
visible Spanish labels, from a freshly seeded demo with issued invoices: Envíos de correo → Envíos masivos,
Registrar envío by ranges with a message, the send's invoices (each viewable), a test email, the list of recipients,
Iniciar el envío (with its confirmation), Detener while it is sending, Reanudar, and "Finalizado". axe-core checks
the main pages; screenshots go to artifacts_dir."""

from collections import Counter

import pytest

from conftest import assert_accessible, sign_in, wait_for
from facturador.mailing.models import Delivery, MailSend
from facturador.mailing.tests.conftest import FAST_ENV
from facturador.mailing.tests.test_workers import slow_down

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

INVOICES = 12


def shot(page, artifacts_dir, name):
    page.screenshot(path=str(artifacts_dir / f"manual-003-{name}.png"), full_page=True)


def test_manual_003_send_by_ranges_test_start_stop_finished(page, seeded_demo, make_docs, smtp_server, start_worker,
                                                           artifacts_dir):
    make_docs(seeded_demo.co, INVOICES)  # the demo issuer's issued invoices FE1..FE12, each with a customer email
    slow_down(smtp_server, 0.2)
    start_worker("manual-003", **FAST_ENV)

    # Paso 1: Tareas comunes → Facturas (here: Envíos de correo → Envíos masivos)
    page.goto("/")
    sign_in(page, "facturacion")
    page.get_by_role("navigation").get_by_role("link", name="Envíos masivos").click()
    page.wait_for_selector("h1:has-text('Envíos de facturas por correo')")
    assert_accessible(page, "manual-003-envios", artifacts_dir)

    # Pasos 2-3.1: Enviar por email → los rangos, a quiénes, el mensaje → Registrar envío
    page.get_by_role("link", name="Registrar envío").click()
    page.get_by_label("Nombre del envío").fill("Facturas del mes")
    page.get_by_label("Rangos de facturas").fill(f"FE1-FE{INVOICES}")
    page.wait_for_selector("#preview-subject:has-text('FE1')")  # the live preview of the first invoice
    assert "Le enviamos la factura electrónica FE1" in page.inner_text("#preview-body")
    shot(page, artifacts_dir, "01-registrar")
    assert_accessible(page, "manual-003-registrar", artifacts_dir)
    page.get_by_role("button", name="Registrar envío").click()
    page.wait_for_selector("#send-state:has-text('Pendiente')")
    send = MailSend.objects.get()
    assert send.deliveries.count() == INVOICES

    # 3.3: la relación de facturas a enviar, each viewable
    page.locator("nav.tabs").get_by_role("link", name="Facturas").click()
    assert page.locator("#invoices tbody tr").count() == INVOICES
    page.locator("#invoices tr:has(td:text-is('FE2'))").get_by_role("link", name="Ver").click()
    page.wait_for_selector("#doc-subject:has-text('FE2')")
    shot(page, artifacts_dir, "02-factura")
    page.goto(f"/envios/{send.pk}/")

    # 3.4: enviar email de prueba (to the clerk's own address)
    page.locator("#test-form").get_by_role("button", name="Enviar prueba").click()
    page.wait_for_selector(".msg.success:has-text('Prueba enviada')")
    assert [m["To"] for m in smtp_server.messages] == ["facturacion@demo.local"]
    shot(page, artifacts_dir, "03-prueba")
    assert_accessible(page, "manual-003-envio", artifacts_dir)

    # 3.5: ver listado de terceros
    page.locator("nav.tabs").get_by_role("link", name="Destinatarios").click()
    assert page.locator("#ledger tbody tr").count() == INVOICES
    page.goto(f"/envios/{send.pk}/")

    # 3.6: Iniciar el envío, aceptar la confirmación
    page.get_by_role("link", name="Iniciar envío").click()
    page.get_by_role("button", name="Sí, iniciar el envío").click()
    page.wait_for_selector("#send-state:has-text('En proceso')")
    wait_for(lambda: len(smtp_server.envelopes) >= 3, timeout=30, message="some messages sent")

    # 3.7: Detener el envío mientras está enviando: one state, "Cancelado"
    page.get_by_role("button", name="Detener").click()
    page.wait_for_selector("#send-state:has-text('Cancelado')")
    assert "Detenido" not in page.inner_text("#send-status")
    shot(page, artifacts_dir, "04-detenido")
    send.refresh_from_db()
    wait_for(lambda: send.job.refresh_from_db() is None and not send.job.is_active, timeout=20, message="job stopped")

    # ... and when it goes on, after a while the state is "Finalizado"
    page.reload()
    page.get_by_role("button", name="Reanudar").click()
    page.wait_for_selector("#send-state:has-text('Finalizado')", timeout=60000)
    shot(page, artifacts_dir, "05-finalizado")
    assert Counter(Delivery.objects.filter(send=send).values_list("status", flat=True)) == {"sent": INVOICES}
    received = Counter(m["Message-ID"] for m in smtp_server.messages[1:])  # after the test email
    assert sorted(received.values()) == [1] * INVOICES  # nobody got it twice
