"""Browser: schedule an import through the form, watch it in the task viewer with a live progress bar."""

import pytest

from facturador.billing.models import Charge
from facturador.imports.tests import files

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_schedule_and_follow_in_viewer(page, make_user, issuer_co, operator, template, start_worker, media_dir,
                                       artifacts_dir, tmp_path):
    make_user("importador", issuer_co, "billing", password="Clave-de-prueba-1")
    sample = tmp_path / "consumos-octubre.csv"
    sample.write_bytes(files.csv_bytes(files.sample_rows(3000)))
    page.goto("/importaciones/")
    page.fill("input[name=username]", "importador")
    page.fill("input[name=password]", "Clave-de-prueba-1")
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Importaciones de datos de facturación')")
    page.click("a.button:has-text('Programar importación')")
    page.wait_for_selector("h1:has-text('Programación de importación')")
    page.select_option("select[name=operator]", str(operator.pk))
    page.select_option("select[name=template]", str(template.pk))
    page.fill("input[name=period]", "2026-10")
    page.set_input_files("input[name=file]", str(sample))
    page.screenshot(path=str(artifacts_dir / "imports-schedule-form.png"), full_page=True)
    page.click("button:has-text('Programar')")
    page.wait_for_selector("text=programada")
    row = page.locator("#import-queue tbody tr").first
    assert "consumos-octubre.csv" in row.inner_text() and "Pendiente" in row.inner_text()
    page.screenshot(path=str(artifacts_dir / "imports-queue-pending.png"), full_page=True)
    # A worker takes it; the progress bar updates without reloading the page (HTMX polling).
    start_worker("browser-worker", FACTURADOR_DATA_DIR=media_dir, FACTURADOR_IMPORT_BATCH_SIZE=200,
                 FACTURADOR_IMPORT_THROTTLE=0.15)
    page.wait_for_selector(".job-progress[data-status=running]:not([data-percent=\"0\"])", timeout=30000)
    page.screenshot(path=str(artifacts_dir / "imports-queue-running.png"), full_page=True)
    page.wait_for_selector(".job-progress[data-status=finished]", timeout=60000)
    assert "100 %" in row.inner_text()
    # the finished row's actions went with its state, without a reload
    assert not row.locator("button:has-text('Eliminar')").is_visible()
    assert not row.locator("button:has-text('Cancelar')").is_visible()
    page.screenshot(path=str(artifacts_dir / "imports-queue-finished.png"), full_page=True)
    assert Charge.objects.count() == 3000
    page.click("a:has-text('Finalizados')")
    page.click("#import-queue >> text=consumos-octubre.csv")
    page.wait_for_selector("h1:has-text('Importación #')")
    page.click("text=Conciliación")
    page.wait_for_selector("#control")
    page.screenshot(path=str(artifacts_dir / "imports-reconciliation.png"), full_page=True)
