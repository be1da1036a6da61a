"""Browser: a received invoice's DIAN event buttons, 030 then 032 then 033, each sent by its job to the local DIAN
service, the page showing the states in Spanish."""

import pytest

from facturador.core.jobs import execute_job
from facturador.reception.models import ReceptionEvent

from .test_events import buyer, dian, invoice, supplier_signer  # noqa: F401 — the events' fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_event_buttons_register_030_032_033(page, make_user, buyer, invoice, artifacts_dir):  # noqa: F811
    make_user("recepcion", buyer, "billing", password="Clave-de-prueba-1")
    page.goto(f"/recepcion/{invoice.pk}/")
    page.fill("input[name=username]", "recepcion")
    page.fill("input[name=password]", "Clave-de-prueba-1")
    page.click("button[type=submit]")
    expected = {"030": "Acuse de recibo (030)", "032": "Recibo del bien o servicio (032)",
                "033": "Aceptación expresa (033)"}
    for code, state in expected.items():
        page.click(f"#event-buttons button[value='{code}']")
        page.wait_for_selector(f"#events tr[data-code='{code}']")
        assert "se está enviando a la DIAN" in page.content()
        event = ReceptionEvent.objects.get(document=invoice, code=code)
        execute_job.call(event.job_id)  # the worker's part, in this process
        page.reload()
        row = page.locator(f"#events tr[data-code='{code}']")
        assert "Registrado en la DIAN" in row.inner_text(), row.inner_text()
        assert state in page.locator("dl").first.inner_text()
    page.screenshot(path=str(artifacts_dir / "reception-events.png"), full_page=True)
