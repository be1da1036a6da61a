"""Manual 003 (shared/seeds/003: ¿cómo enviar facturas por correo?) walked in a browser, by its visible Spanish
labels, from a freshly seeded demo whose month's batch was generated (manual 000's end): a send registered by a
range of invoices with its live preview (item 1), the invoices of the send and one of them (item 3), a test e-mail
to the clerk's own address through a real SMTP server (aiosmtpd, item 4), the recipients (item 5), start with its
confirmation (item 6), stop while sending (item 7), resume, "Finalizado" and the ledger. axe-core checks the main
pages; screenshots go to artifacts_dir."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from conftest import assert_accessible, sign_in, wait_for
from facturador.billing import actions as billing_actions
from facturador.billing import samples
from facturador.core.actors import Actor
from facturador.mailing.models import Delivery
from facturador.mailing.tests.conftest import FAST_ENV
from facturador.mailing.tests.test_workers import slow_down

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

INVOICES = 8  # AP100000-AP100007: the demo accounts 0000000001-0000000008


def shot(page, artifacts_dir, name):
    page.screenshot(path=str(artifacts_dir / f"manual-003-{name}.png"), full_page=True)


def test_manual_003_send_by_range_test_start_stop_finished(page, seeded_demo, smtp_server, start_worker,
                                                           artifacts_dir):
    issuer = seeded_demo.co
    today = dt.datetime.now(ZoneInfo(issuer.tz)).date()
    start_worker("manual-003", **{**FAST_ENV, "FACTURADOR_MAIL_CONCURRENCY": "1"})
    batch = billing_actions.create_batch(issuer, Actor.cli(), periods=[samples.last_period(today)],
                                         references=[f"{i:010d}" for i in range(1, INVOICES + 1)])
    wait_for(lambda: batch.job.refresh_from_db() is None and batch.job.status == "finished", timeout=90,
             message="the demo's batch generated")
    slow_down(smtp_server, 0.8)  # a slow relay, so that the send can be stopped half-way

    # Paso 1: Facturas → Enviar por Email
    page.goto("/")
    sign_in(page, "facturacion")
    page.get_by_role("navigation").get_by_role("link", name="Envíos masivos").click()
    page.wait_for_selector("h1:has-text('Envíos de facturas')")
    assert_accessible(page, "manual-003-envios", artifacts_dir)

    # Pasos 2-3.1: rangos de facturas, destinatarios, mensaje (default text), Registrar Envío; the preview is live
    page.get_by_role("link", name="Registrar envío").click()
    page.get_by_label("Nombre del envío").fill("Alumbrado público del mes")
    page.get_by_label("Rangos de facturas").fill(f"AP100000-AP{100000 + INVOICES - 1}")
    page.wait_for_selector("#preview-subject:has-text('AP100000')")
    preview = page.inner_text("#preview-body")
    assert "Luis Pérez" in preview and "$ 6.200" in preview
    shot(page, artifacts_dir, "01-registrar")
    assert_accessible(page, "manual-003-registrar", artifacts_dir)
    page.get_by_role("button", name="Registrar envío").click()
    page.wait_for_selector("#send-state:has-text('Pendiente')")

    # 3.4: Enviar email de prueba (to the clerk's own address, prefilled)
    test_form = page.locator("#test-form")
    assert test_form.get_by_label("Enviar una prueba a").input_value() == "facturacion@demo.local"
    test_form.get_by_role("button", name="Enviar prueba").click()
    page.wait_for_selector(".msg.success:has-text('Prueba enviada')")
    [test_mail] = smtp_server.messages
    assert test_mail["To"] == "facturacion@demo.local" and "AP100000" in test_mail["Subject"]
    assert any((part.get_filename() or "").endswith(".pdf") for part in test_mail.iter_attachments())
    shot(page, artifacts_dir, "02-prueba-enviada")
    assert_accessible(page, "manual-003-envio", artifacts_dir)

    # 3.3: la relación de facturas, one of them; 3.5: el listado de terceros
    page.get_by_role("link", name="Facturas", exact=True).click()
    page.locator("#invoices tr", has_text="AP100001").get_by_role("link", name="Ver").click()
    page.wait_for_selector("#doc-subject:has-text('AP100001')")
    shot(page, artifacts_dir, "03-factura")
    page.go_back()
    page.go_back()
    page.get_by_role("link", name="Destinatarios", exact=True).click()
    assert page.locator("#ledger tbody tr").count() == INVOICES
    assert "cliente1@example.com" in page.inner_text("#ledger")

    # 3.6: Iniciar el envío (with its confirmation); 3.7: Detener mientras envía; reanudar hasta "Finalizado"
    page.get_by_role("link", name="Resumen").click()
    page.get_by_role("link", name="Iniciar envío").click()
    page.get_by_role("button", name="Sí, iniciar el envío").click()
    page.wait_for_selector("#send-state:has-text('En proceso')")
    wait_for(lambda: len(smtp_server.envelopes) >= 2, timeout=30, message="the first message of the send")
    page.get_by_role("button", name="Detener").click()
    page.wait_for_selector("#send-state:has-text('Cancelado')")
    shot(page, artifacts_dir, "04-detenido")
    send_deliveries = Delivery.objects.filter(send__issuer=issuer)
    wait_for(lambda: not send_deliveries.filter(status="sending").exists(), timeout=20, message="the send stopped")
    assert send_deliveries.filter(status="sent").count() < INVOICES
    page.reload()
    page.get_by_role("button", name="Reanudar").click()
    page.wait_for_selector("#send-state:has-text('Finalizado')", timeout=60000)
    shot(page, artifacts_dir, "05-finalizado")

    page.get_by_role("link", name="Destinatarios", exact=True).click()
    assert page.locator("#ledger tbody tr[data-status=sent]").count() == INVOICES
    shot(page, artifacts_dir, "06-destinatarios")
    assert_accessible(page, "manual-003-destinatarios", artifacts_dir)
    assert sorted(m["To"] for m in smtp_server.messages[1:]) == sorted(
        f"cliente{i}@example.com" for i in range(1, INVOICES + 1))
