"""Manual 001 (shared/seeds/001: guía de importación de facturación) walked in a browser, by its visible Spanish
labels, from a freshly seeded demo (its mobile operator, its "Detalle de consumo" template and sample file): the
import scheduled in "Programación de importación" (Operador, Plantilla, Periodo, Tipo de archivo, Archivo, now),
seen in the task viewer in each state of its "Estado" filter (Pendiente, En proceso with a live progress bar,
Finalizado, Eliminado for one deleted while pending), its lines in "Importación facturación / Líneas", and a file with
a bad cell reported row by row. axe-core checks the main pages; screenshots go to artifacts_dir."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from conftest import assert_accessible, sign_in
from facturador.billing import demo as billing_demo
from facturador.imports import demo as imports_demo
from facturador.billing import samples
from facturador.imports.models import Line
from facturador.tabular.sheets import TableWriter

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OPERATOR = f"{imports_demo.OPERATOR_CODE} — {imports_demo.OPERATOR_NAME}"


def shot(page, artifacts_dir, name):
    page.screenshot(path=str(artifacts_dir / f"manual-001-{name}.png"), full_page=True)


def previous(period):
    first = dt.date(int(period[:4]), int(period[5:]), 1) - dt.timedelta(days=1)
    return f"{first:%Y-%m}"


def consumption_with_a_bad_cell(path, period):
    """The demo's sample "Detalle de consumo" for `period`, with «N/A» in the 3rd line's "Valor sin IVA"."""
    rows = samples.consumption_rows(period, [f"{i:010d}" for i in range(1, 9)])
    rows[2][8] = "N/A"
    with TableWriter(str(path), "xlsx", samples.CONSUMPTION_COLUMNS, sheet_name="Detalle", title="Detalle de consumo",
                     notes=[f"Periodo {period}"]) as w:
        for r in rows:
            w.row(r)
    return path


def schedule(page, period, path):
    page.get_by_role("link", name="Programar importación").first.click()
    page.get_by_label("Operador").select_option(label=OPERATOR)
    page.get_by_label("Plantilla").select_option(index=1)
    page.get_by_label("Periodo (AAAA-MM)").fill(period)
    page.get_by_label("Tipo de archivo").select_option(label="Detalle de consumo")
    page.get_by_label("Archivo", exact=True).set_input_files(str(path))
    page.get_by_role("button", name="Programar").click()
    page.wait_for_selector("text=programada")
    return page.locator("#import-queue tbody tr", has_text=path.name).first


def test_manual_001_operator_file_through_the_task_viewer(page, seeded_demo, start_worker, media_dir, artifacts_dir,
                                                         tmp_path):
    issuer = seeded_demo.co
    today = dt.datetime.now(ZoneInfo(issuer.tz)).date()
    period = samples.last_period(today)  # the month of the demo's sample file
    sample = billing_demo.samples_dir() / samples.SAMPLES["consumo"].filename
    bad = consumption_with_a_bad_cell(tmp_path / "detalle-consumo-con-error.xlsx", previous(period))

    # Pasos 1-2: ingresar; Conciliación / Importar
    page.goto("/")
    sign_in(page, "facturacion")
    page.get_by_role("navigation").get_by_role("link", name="Importación de datos").click()
    page.wait_for_selector("h1:has-text('Importaciones de datos de facturación')")
    assert_accessible(page, "manual-001-cola", artifacts_dir)

    # Pasos 3-7: Programación de importación (ahora): Operador, Plantilla, Periodo, Tipo de archivo, Archivo
    page.get_by_role("link", name="Programar importación").first.click()
    page.get_by_label("Operador").select_option(label=OPERATOR)
    shot(page, artifacts_dir, "01-programacion")
    assert_accessible(page, "manual-001-programacion", artifacts_dir)
    page.get_by_role("link", name="Cola de importaciones").click()
    row = schedule(page, period, sample)
    assert "Pendiente" in row.inner_text()
    schedule(page, previous(period), bad)

    # Visor de tareas, Estado = Eliminado: one scheduled by mistake, deleted while pending
    schedule(page, previous(previous(period)), sample)
    page.get_by_role("navigation", name="Filtro por estado").get_by_role("link", name="Pendientes", exact=True).click()
    assert page.locator("#import-queue tbody tr").count() == 3
    shot(page, artifacts_dir, "02-pendientes")
    mistaken = page.locator("#import-queue tbody tr").first  # the newest first
    assert previous(previous(period)) in mistaken.inner_text()
    mistaken.get_by_role("button", name="Eliminar").click()
    page.get_by_role("navigation", name="Filtro por estado").get_by_role("link", name="Eliminados").click()
    assert page.locator("#import-queue tbody tr").count() == 1
    assert "Eliminado" in page.inner_text("#import-queue")

    # En proceso: a worker takes the queue; the bars move without reloading (a slowed-down worker, to see it)
    page.get_by_role("navigation", name="Filtro por estado").get_by_role("link", name="Pendientes y en proceso").click()
    start_worker("manual-001", FACTURADOR_DATA_DIR=media_dir, FACTURADOR_IMPORT_BATCH_SIZE=2,
                 FACTURADOR_IMPORT_THROTTLE=0.3)
    page.wait_for_selector(".job-progress[data-status=running]", timeout=30000)
    assert "En proceso" in page.inner_text("#import-queue")
    shot(page, artifacts_dir, "03-en-proceso")
    page.wait_for_selector(".job-progress[data-status=finished]", timeout=60000)
    page.wait_for_selector(".job-progress[data-status=finished_errors]", timeout=60000)

    # Finalizado
    page.get_by_role("navigation", name="Filtro por estado").get_by_role("link", name="Finalizados").click()
    finished = page.inner_text("#import-queue")
    assert "Finalizado" in finished and "Con errores" in finished and "15 de 15" in finished
    shot(page, artifacts_dir, "04-finalizados")

    # Mantenimiento / Importación / Importación facturación / Líneas: the 15 lines of the sample's period
    page.get_by_role("link", name="Líneas").first.click()
    page.get_by_label("Periodo").fill(period)
    page.get_by_role("button", name="Filtrar").click()
    page.wait_for_selector("#lines")
    assert page.locator("#lines tbody tr").count() == 15
    totals = page.inner_text("#line-totals")
    assert "Líneas: 15" in totals and "$ 755.714,29" in totals and "$ 143.585,71" in totals
    shot(page, artifacts_dir, "05-lineas")
    assert_accessible(page, "manual-001-lineas", artifacts_dir)

    # The file with a bad cell: its import names the row, the column and the value
    page.get_by_role("link", name="Cola de importaciones").click()
    page.get_by_role("navigation", name="Filtro por estado").get_by_role("link", name="Finalizados").click()
    page.get_by_role("link", name=bad.name).click()
    page.wait_for_selector("h1:has-text('Importación #')")
    errors = page.locator("table.table", has_text="Error").last.inner_text()
    assert "Valor sin IVA" in errors and "N/A" in errors
    shot(page, artifacts_dir, "06-errores")
    assert_accessible(page, "manual-001-errores", artifacts_dir)
    assert Line.objects.filter(issuer=issuer, period=period).count() == 15
    assert Line.objects.filter(issuer=issuer, period=previous(period)).count() == 14
