"""Browser: the accounts register uploaded from an xlsx and checked by a worker, its errors seen before anything is
saved, the valid rows imported on confirmation (screenshots saved)."""

import pytest

from facturador.billing.models import Account, Charge
from facturador.billing.tests.test_batch_worker import worker_env
from facturador.billing.tests.test_accounts_import import HEADER, ROWS
from facturador.tabular.tests.builders import write_xlsx

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_upload_check_and_import_valid_rows(page, make_issuer, make_user, start_worker, artifacts_dir, tmp_path,
                                            settings):
    settings.MEDIA_ROOT = tmp_path / "files"
    start_worker(**worker_env())
    issuer = make_issuer("CO", legal_name="Municipio de Villa Esperanza")
    make_user("tesorera", issuer, "billing", password="Clave-de-prueba-1")
    bad = ["0004", "Marta Díaz", "NIT", "800197268-9", "Cl 4", 2, "Comercial", "", "N/A"]
    path = write_xlsx(tmp_path / "padron.xlsx", {"Padrón": [["Padrón de suscriptores"], [], HEADER, *ROWS, bad]})

    page.goto("/facturacion/cuentas/cargar/")
    page.fill("input[name=username]", "tesorera")
    page.fill("input[name=password]", "Clave-de-prueba-1")
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Cargar cuentas')")
    page.set_input_files("input[name=file]", str(path))
    page.click("button:has-text('Revisar archivo')")
    page.wait_for_selector("h2:has-text('Errores')", timeout=60000)  # the page follows the worker's check
    assert "Fila 7" in page.inner_text(".card.warn") and Account.objects.count() == 0
    page.screenshot(path=str(artifacts_dir / "billing-accounts-check.png"), full_page=True)
    page.check("input[name=valid_only]")
    page.click("button:has-text('Importar cuentas')")
    page.wait_for_selector("text=3 cuentas creadas", timeout=60000)
    page.screenshot(path=str(artifacts_dir / "billing-accounts-imported.png"), full_page=True)
    assert set(Account.objects.values_list("reference", flat=True)) == {"0001", "0002", "0003"}
    assert Charge.objects.filter(source="opening").count() == 2
