"""The whole flow in Chromium: register with live preview, test email, start, stop, resume (screenshots)."""

from collections import Counter

import pytest

from conftest import wait_for
from facturador.mailing.models import Delivery, MailSend
from facturador.mailing.tests.conftest import FAST_ENV
from facturador.mailing.tests.test_workers import slow_down

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_register_preview_test_start_stop_resume(page, issuer_co, make_user, make_docs, smtp_server, start_worker,
                                                 artifacts_dir):
    make_docs(issuer_co, 24, emails=[f"cliente{i}@example.com" if i != 5 else "" for i in range(1, 25)])
    make_user("envios", issuer_co, "admin", password="Clave-de-prueba-1")
    slow_down(smtp_server, 0.15)
    start_worker("browser-worker", **FAST_ENV)

    page.goto("/envios/")
    page.fill("input[name=username]", "envios")
    page.fill("input[name=password]", "Clave-de-prueba-1")
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Envíos de facturas')")
    page.click("text=Registrar envío")
    page.fill("textarea[name=ranges]", "FE1-FE24")
    page.fill("input[name=name]", "Facturas de octubre")
    page.fill("input[name=subject]", "Su factura {{numero}}")
    page.fill("textarea[name=body]", "Hola {{cliente}}: total {{total}}, vence {{vencimiento}}.\n\n{{emisor}}")
    page.wait_for_selector("#preview-subject:has-text('Su factura FE1')")
    page.wait_for_selector("#preview-body:has-text('Hola Cliente 1')")
    assert "Hola Cliente 1 & Hijos <Ltda>: total $ 100.001" in page.inner_text("#preview-body")
    assert "Sin correo electrónico (1)" in page.inner_text("#preview-summary")
    page.screenshot(path=str(artifacts_dir / "mailing-01-register-preview.png"), full_page=True)
    page.fill("textarea[name=body]", "Hola {{nombre}}")
    page.wait_for_selector(".msg.error:has-text('{{nombre}} no existe')")
    page.fill("textarea[name=body]", "Hola {{cliente}}: total {{total}}, vence {{vencimiento}}.\n\n{{emisor}}")
    page.wait_for_selector("#preview-body:has-text('Hola Cliente 1')")
    page.click("button:has-text('Registrar envío')")
    page.wait_for_selector("#send-state:has-text('Pendiente')")
    send = MailSend.objects.get()
    assert send.deliveries.count() == 24

    assert page.input_value("#test-form input[name=email]") == "envios@example.com"  # the user's own address
    page.fill("#test-form input[name=email]", "revisora@example.com")
    page.click("#test-form button:has-text('Enviar prueba')")
    page.wait_for_selector(".msg.error:has-text('solo se envían a su propio correo')")
    assert smtp_server.messages == []
    page.click("#test-form a:has-text('correos de prueba'), .card a:has-text('correos de prueba')")
    page.fill("textarea[name=emails]", "revisora@example.com")
    page.click("#test-recipients-form button:has-text('Guardar')")
    page.wait_for_selector(".msg.success:has-text('Correos de prueba guardados (1)')")
    page.goto(f"/envios/{send.pk}/")
    page.fill("#test-form input[name=email]", "revisora@example.com")
    page.click("#test-form button:has-text('Enviar prueba')")
    page.wait_for_selector(".msg.success:has-text('Prueba enviada')")
    assert [m["To"] for m in smtp_server.messages] == ["revisora@example.com"]
    page.screenshot(path=str(artifacts_dir / "mailing-02-detail-test-sent.png"), full_page=True)

    page.click("nav.tabs a:text-is('Destinatarios')")
    page.wait_for_selector("#ledger tr[data-status=excluded]:has-text('Sin correo electrónico')")
    page.click("nav.tabs a:text-is('Facturas')")
    page.click("#invoices tr:has(td:text-is('FE2')) >> text=Ver")
    page.wait_for_selector("#doc-subject:has-text('Su factura FE2')")
    page.screenshot(path=str(artifacts_dir / "mailing-03-invoice-message.png"), full_page=True)
    page.goto(f"/envios/{send.pk}/")

    page.click("text=Iniciar envío")
    page.wait_for_selector("h1:has-text('¿Iniciar el envío')")
    page.click("button:has-text('Sí, iniciar el envío')")
    page.wait_for_selector("#send-state:has-text('En proceso')")
    wait_for(lambda: len(smtp_server.envelopes) >= 4, timeout=30, message="some messages sent")
    page.click("button:has-text('Detener')")
    page.wait_for_selector("#send-state:has-text('Cancelado')")
    page.screenshot(path=str(artifacts_dir / "mailing-04-stopped.png"), full_page=True)
    send.refresh_from_db()
    wait_for(lambda: send.job.refresh_from_db() is None and not send.job.is_active, timeout=20, message="job stopped")
    stopped_at = Delivery.objects.filter(send=send, status="sent").count()
    assert 0 < stopped_at < 23

    page.reload()
    page.click("button:has-text('Reanudar')")
    page.wait_for_selector("#send-state:has-text('Finalizado')", timeout=60000)
    page.screenshot(path=str(artifacts_dir / "mailing-05-finished.png"), full_page=True)
    received = Counter(m["Message-ID"] for m in smtp_server.messages[1:])
    statuses = Counter(Delivery.objects.filter(send=send).values_list("status", flat=True))
    assert statuses == {"sent": 23, "excluded": 1}
    assert sorted(received.values()) == [1] * 23
