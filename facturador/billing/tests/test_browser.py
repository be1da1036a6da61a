"""Browser: from existing charges to a downloaded batch, entirely in the UI (screenshots saved)."""

import pytest

from facturador.billing.models import Batch
from facturador.billing.tests.helpers import make_accounts, make_range
from facturador.billing.tests.test_batch_worker import page_count, worker_env

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_charges_to_downloaded_batch(page, make_issuer, make_user, start_worker, artifacts_dir, tmp_path):
    issuer = make_issuer("CO", legal_name="Municipio de Villa Esperanza")
    make_user("tesorera", issuer, "billing", password="Clave-de-prueba-1")
    make_range(issuer, prefix="AP")
    make_accounts(issuer, 20, periods=("2026-09", "2026-10"))
    start_worker(**worker_env())
    refs = tmp_path / "referencias.txt"
    refs.write_text("\n".join(f"{i:06d}" for i in range(1, 21)) + "\n")

    page.goto("/facturacion/lotes/")
    page.fill("input[name=username]", "tesorera")
    page.fill("input[name=password]", "Clave-de-prueba-1")
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Lotes de facturación')")
    page.click("nav.sidebar >> text=Cuentas y cartera")
    page.wait_for_selector("text=20 cuentas.")
    page.click(".tabs >> text=Cartera")
    page.fill("input[name=as_of]", "2026-11-15")
    page.click("button:has-text('Consultar')")
    page.wait_for_selector("#cartera-table")
    assert page.locator("#cartera-table tbody tr").count() == 20
    page.screenshot(path=str(artifacts_dir / "billing-cartera.png"), full_page=True)

    page.click(".tabs >> text=Lotes")
    page.click("a.button:has-text('Facturación masiva')")
    page.check("input[name=periods][value='2026-09']")
    page.check("input[name=periods][value='2026-10']")
    page.select_option("select[name=billing_type]", "normal")
    page.fill("input[name=issue_date]", "2026-11-03")
    page.fill("input[name=due_date]", "2026-11-20")
    page.set_input_files("input[name=references_file]", str(refs))
    page.screenshot(path=str(artifacts_dir / "billing-batch-form.png"), full_page=True)
    page.click("button:has-text('Revisar')")
    page.wait_for_selector("h1:has-text('Confirmar facturación masiva')")
    assert page.inner_text("#confirm-count") == "20"
    page.screenshot(path=str(artifacts_dir / "billing-batch-confirm.png"), full_page=True)
    page.click("#confirm-batch")
    page.wait_for_selector("h1:has-text('Lote de facturación')")
    page.screenshot(path=str(artifacts_dir / "billing-batch-progress.png"), full_page=True)
    page.wait_for_selector("#download-print", timeout=90000)  # the page reloads itself when the job ends
    assert page.inner_text("#batch-count") == "20"
    page.screenshot(path=str(artifacts_dir / "billing-batch-done.png"), full_page=True)
    with page.expect_download() as info:
        page.click("#download-print")
    target = artifacts_dir / "billing-batch-print.pdf"
    info.value.save_as(str(target))
    assert page_count(target) == 20
    assert Batch.objects.get().invoice_count == 20
