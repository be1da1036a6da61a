"""Browser: map a new operator's "Detalle de consumo" with the visual mapper from a sample, import it, open
Líneas and the import's error report (each of the file's four defects is reported)."""

import pytest

from facturador.imports.models import Line
from facturador.tabular.tests.builders import write_telecom_xlsx

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_map_import_and_see_lines_and_errors(page, make_user, issuer_co, start_worker, media_dir, artifacts_dir,
                                             tmp_path):
    make_user("clerk", issuer_co, "billing", password="Clave-de-prueba-1")
    sample = write_telecom_xlsx(tmp_path / "detalle-consumo-octubre.xlsx", n=10)
    page.goto("/importaciones/plantillas/")
    page.fill("input[name=username]", "clerk")
    page.fill("input[name=password]", "Clave-de-prueba-1")
    page.click("button[type=submit]")
    page.click("a:has-text('Mapear un archivo nuevo')")
    page.fill("input[name=operator_code]", "movilco")
    page.fill("input[name=operator_name]", "Móvil Colombia S.A.")
    page.fill("input[name=name]", "Detalle de consumo")
    page.fill("input[name=period]", "2026-10")
    page.set_input_files("input[name=sample]", str(sample))
    page.click("#mapper-preview")
    page.wait_for_selector("#mapper-columns")
    # the title rows and the merged title are skipped; the TOTAL row is found
    assert page.input_value("#header-row") == "4" and page.inner_text("#totals-row") == "15"
    assert page.locator("#mapper-columns tbody tr").count() == 12
    assert page.locator("select[name=c0_field]").input_value() == "service_line"
    assert page.locator("#mapper-errors tbody tr").count() == 4
    assert page.locator("td.cell-error").first.inner_text() == "N/A"
    # the clerk keeps "Plan" as an extra attribute instead of the plan field
    page.select_option("select[name=c3_field]", "extra")
    with page.expect_navigation():
        page.click("#mapper-preview")
    assert '"extra.plan"' in page.text_content("#mapper-json pre")  # the advanced view (JSON), folded
    page.screenshot(path=str(artifacts_dir / "imports-mapper.png"), full_page=True)
    page.click("#mapper-save")
    page.wait_for_selector("text=v1 guardada para MOVILCO")
    # import the file with the new template
    page.click("nav.subnav a:has-text('Programar importación')")
    page.select_option("select[name=operator]", label="MOVILCO — Móvil Colombia S.A.")
    page.select_option("select[name=template]", index=1)
    page.fill("input[name=period]", "2026-10")
    page.set_input_files("input[name=file]", str(sample))
    page.click("button:has-text('Programar')")
    page.wait_for_selector("text=programada")
    start_worker("mapper-worker", FACTURADOR_DATA_DIR=media_dir)
    page.wait_for_selector(".job-progress[data-status=finished_errors]", timeout=60000)
    assert Line.objects.count() == 6
    page.click("nav.subnav a:has-text('Líneas')")
    page.wait_for_selector("#lines")
    assert page.locator("#lines tbody tr").count() == 6
    assert "3100000009" in page.inner_text("#lines") and "plan: Plan 20GB" in page.inner_text("#lines")
    page.screenshot(path=str(artifacts_dir / "imports-lines.png"), full_page=True)
    page.click("#lines tbody tr >> nth=0 >> a")
    page.wait_for_selector("h1:has-text('Importación #')")
    report = page.inner_text("main")
    for row, text in ((5, "«N/A» no es un número"), (6, "«31/02/2026» no es una fecha válida"),
                      (7, "«31000002» no es una línea telefónica"), (8, "el valor -5 es negativo")):
        assert f"Fila {row}," in report and text in report
    page.screenshot(path=str(artifacts_dir / "imports-line-errors.png"), full_page=True)
