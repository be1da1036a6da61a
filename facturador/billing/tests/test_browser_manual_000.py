"""Manual 000 (shared/seeds/000: facturación masiva en alumbrado público) walked in a browser, by its visible
Spanish labels, from a freshly seeded demo: listado de cartera of last month's period exported to Excel (step 6),
the references to bill copied to a notepad file, the municipality's invoice template uploaded (steps 10-11), the mass-billing form
with that file (steps 7-9), the batch generated with its live progress (real worker) until "Finalizado", and the PDF
for printing and the zip downloaded (the manual's end). axe-core checks the main pages; screenshots and the
downloads go to artifacts_dir."""

import datetime as dt
import io
import zipfile
from zoneinfo import ZoneInfo

import pytest
from python_calamine import CalamineWorkbook

from conftest import assert_accessible, sign_in
from facturador.billing.models import Batch
from facturador.billing.tests.test_batch_worker import page_count, worker_env

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PICKED = 5  # references the clerk copies to the notepad file


def shot(page, artifacts_dir, name):
    page.screenshot(path=str(artifacts_dir / f"manual-000-{name}.png"), full_page=True)


def test_manual_000_cartera_to_downloaded_batch(page, seeded_demo, start_worker, artifacts_dir, tmp_path):
    issuer = seeded_demo.co
    start_worker("manual-000", **worker_env())
    today = dt.datetime.now(ZoneInfo(issuer.tz)).date()
    period = f"{(today.replace(day=1) - dt.timedelta(days=1)):%Y-%m}"  # the demo's charges are last month's

    # Pasos 1-4: ingresar; Reportes → listados de cartera
    page.goto("/")
    sign_in(page, "facturacion")
    page.get_by_role("navigation").get_by_role("link", name="Cuentas y cartera").click()
    page.get_by_role("navigation", name="Facturación masiva").get_by_role("link", name="Cartera").click()

    # Paso 5: los periodos a facturar, consultar; the 24 demo accounts owe $ 330.000 (4 of each stratum's fee)
    page.get_by_label(period).check()
    page.get_by_role("button", name="Consultar").click()
    page.wait_for_selector("#cartera-table")
    assert page.locator("#cartera-table tbody tr").count() == 24
    assert page.inner_text("#total-balance") == "$ 330.000"
    shot(page, artifacts_dir, "01-cartera")
    assert_accessible(page, "manual-000-cartera", artifacts_dir)

    # Paso 6: the Excel file; its "Referencia" column, the ones to bill copied to a notepad file
    with page.expect_download() as info:
        page.get_by_role("link", name="Exportar a Excel").click()
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(info.value.path().read_bytes()))
    rows = workbook.get_sheet_by_index(0).to_python()
    header_at = next(i for i, r in enumerate(rows) if "Referencia" in r)
    col = rows[header_at].index("Referencia")
    references = [str(r[col]) for r in rows[header_at + 1:] if r[col] and str(r[col]).isdigit()]
    assert len(references) == 24
    notepad = tmp_path / "referencias.txt"
    notepad.write_text("\r\n".join(references[:PICKED]) + "\r\n", encoding="utf-8")

    # Pasos 10-11: Configurar plantilla: the municipality's design (the demo's sample .typ file) uploaded, confirmed
    page.get_by_role("navigation").get_by_role("link", name="Plantillas de factura").click()
    page.get_by_role("link", name="Cargar plantilla").click()
    with page.expect_download() as info:
        page.get_by_role("link", name="Descargar archivo de ejemplo").click()
    design = tmp_path / "plantilla-municipio.typ"
    info.value.save_as(str(design))
    page.get_by_label("Nombre").fill("Alumbrado municipal")
    page.get_by_label("Archivo de plantilla (.typ)").set_input_files(str(design))
    page.get_by_role("button", name="Validar y guardar").click()
    page.wait_for_selector(".msg.success >> text=Plantilla «Alumbrado municipal» versión 1 validada y guardada.")
    shot(page, artifacts_dir, "02-plantillas")
    assert_accessible(page, "manual-000-plantillas", artifacts_dir)

    # Pasos 7-9: Facturación masiva, diligenciar los campos, anexar el archivo de block de notas, confirmar
    page.get_by_role("navigation").get_by_role("link", name="Lotes de facturación").click()
    page.get_by_role("link", name="Facturación masiva").click()
    page.get_by_label(period).check()
    page.get_by_label("Tipo de facturación").select_option(index=0)
    page.get_by_label("Fecha de expedición").fill(today.isoformat())
    page.get_by_label("Fecha límite de pago").fill((today + dt.timedelta(days=15)).isoformat())
    page.get_by_label("Plantilla").select_option(label="Alumbrado municipal — versión 1")
    page.get_by_label("Archivo de referencias (opcional)").set_input_files(str(notepad))
    shot(page, artifacts_dir, "03-facturacion-masiva")
    assert_accessible(page, "manual-000-facturacion-masiva", artifacts_dir)
    page.get_by_role("button", name="Revisar").click()
    page.wait_for_selector("#confirm-count")
    assert page.inner_text("#confirm-count") == str(PICKED)
    shot(page, artifacts_dir, "04-confirmar")

    # Generar lote: live progress, then the downloads
    page.get_by_role("button", name=f"Generar {PICKED} facturas").click()
    page.wait_for_selector("h1:has-text('Lote de facturación')")
    shot(page, artifacts_dir, "05-en-proceso")
    page.wait_for_selector("#download-print", timeout=90000)  # the page reloads itself when the job ends
    details = page.inner_text(".dl")
    assert "Finalizado" in details and "Alumbrado municipal — versión 1" in details
    assert page.inner_text("#batch-count") == str(PICKED)
    assert page.inner_text("#batch-total") == "$ 78.000"  # strata 2 to 6: 6.200 + 9.800 + 14.500 + 21.000 + 26.500
    assert "$ 6.200" in page.inner_text("table.table tbody tr:first-child")
    shot(page, artifacts_dir, "06-finalizado")
    assert_accessible(page, "manual-000-lote", artifacts_dir)

    with page.expect_download() as info:
        page.get_by_role("link", name="Descargar PDF de impresión").click()
    pdf = artifacts_dir / "manual-000-impresion.pdf"
    info.value.save_as(str(pdf))
    assert page_count(pdf) == PICKED
    with page.expect_download() as info:
        page.get_by_role("link", name="Descargar todo (zip)").click()
    with zipfile.ZipFile(info.value.path()) as z:
        assert sum(name.startswith("facturas/") and name.endswith(".pdf") for name in z.namelist()) == PICKED
    assert Batch.objects.get(issuer=issuer).invoice_count == PICKED
