"""Browser: upload a supplier's zip, find it in the inbox with a filter, open it and see its findings."""

import pytest

from conftest import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_upload_filter_and_open_a_received_document(page, make_user, receiver_co, co_zip, tmp_path, artifacts_dir):
    make_user("contador", receiver_co, "billing", password="Clave-de-prueba-1")
    path = tmp_path / "z0900373076.zip"
    path.write_bytes(co_zip)
    problems = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.goto("/recepcion/cargar/")
    page.fill("input[name=username]", "contador")
    page.fill("input[name=password]", "Clave-de-prueba-1")
    page.click("button[type=submit]")
    page.set_input_files("input[name=file]", str(path))
    page.click("button:has-text('Guardar')")
    page.wait_for_selector("#intake-results .outcome-filed")
    page.goto("/recepcion/")
    page.fill("input[name=supplier]", "900373076")
    page.select_option("select[name=state]", "ok")
    page.click("button:has-text('Filtrar')")
    row = page.locator("#received-documents tr[data-document]")
    assert row.count() == 1 and "Verificado" in row.inner_text()
    assert_accessible(page, "reception-inbox", artifacts_dir)
    row.locator("a").first.click()
    page.wait_for_selector("#findings")
    assert page.locator("a:has-text('PDF del proveedor')").count() == 1
    page.screenshot(path=str(artifacts_dir / "reception-detail.png"), full_page=True)
    assert_accessible(page, "reception-detail", artifacts_dir)
    assert not [p for p in problems if "Content Security Policy" in p], problems
