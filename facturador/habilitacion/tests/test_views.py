"""Wizard pages: persistence of the step, roles, validation messages, refusals in the wrong order."""

import pytest

from facturador.core.errors import Refusal
from facturador.core.models import Environment, NumberingRange
from facturador.habilitacion import actions, services
from facturador.habilitacion.models import Enablement

from .conftest import ACTOR

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, make_user, new_issuer):
    issuer = new_issuer()
    client.force_login(make_user("wiz_admin", issuer, "admin"))
    client.issuer = issuer
    return client


def step_of(resp):
    html = resp.content.decode()
    marker = 'data-step="'
    i = html.index('<section class="card" id="step-')
    return html[html.index(marker, i) + len(marker):].split('"', 1)[0]


def test_wizard_starts_at_first_open_step_and_remembers_the_last_one(admin_client):
    c = admin_client
    assert step_of(c.get("/habilitacion/")) == "registro"
    # the certificate is already loaded, but registration comes first
    resp = c.post("/habilitacion/registro/", {"reception_email": "no-es-correo"})
    assert resp.status_code == 302 and step_of(c.get("/habilitacion/")) == "registro"
    resp = c.post("/habilitacion/registro/", {"reception_email": "fe@empresa.example", "registered_on": "2026-11-02"})
    assert resp.url.endswith("?paso=certificado")
    en = Enablement.objects.get(issuer=c.issuer)
    assert en.state == "registered" and str(en.registered_on) == "2026-11-02"
    c.get("/habilitacion/?paso=numeracion")
    assert step_of(c.get("/habilitacion/")) == "numeracion"  # leave and come back: same step
    page = c.get("/habilitacion/?paso=numeracion").content.decode()
    assert 'value="SETP"' in page and 'value="990000000"' in page
    assert "del 990000000 al 995000000" in page and "resolución 18760000001 vigente del\n  19/01/2019 al 19/01/2030" in page
    for step, text in (("set", "Generar comprobantes"), ("produccion", "Primero la DIAN debe aceptar"),
                       ("resolucion", "Primero confirme el paso a producción"), ("listo", "Complete los pasos")):
        assert text in c.get(f"/habilitacion/?paso={step}").content.decode()


def test_test_numbering_form_validates_and_provider_defaults(admin_client):
    c = admin_client
    resp = c.post("/habilitacion/numeracion-pruebas/", {
        "prefix": "SE-T", "range_from": 10, "range_to": 5, "resolution_number": "1", "valid_from": "2030-01-01",
        "valid_to": "2019-01-01", "credit_prefix": "NCP", "debit_prefix": "NDP"})
    html = resp.content.decode()
    assert resp.status_code == 200 and "alfanuméricos" in html and "mayor o igual" in html and "anterior a la inicial" in html
    assert not NumberingRange.objects.filter(issuer=c.issuer).exists()
    # A technology provider's software defaults to SETT; the provider's own range (1–5.000.000) is editable.
    actions.save_operation_mode(c.issuer, ACTOR, software_id="prov-sw", pin="1234", mode="provider", provider_nit="900108281",
                       provider_name="Proveedor S.A.S.")
    assert "SETT" in c.get("/habilitacion/?paso=numeracion").content.decode()
    resp = c.post("/habilitacion/numeracion-pruebas/", {
        "prefix": "SETT", "range_from": 1, "range_to": 5000000, "resolution_number": "18760000001",
        "valid_from": "2019-01-19", "valid_to": "2030-01-19", "technical_key": "k" * 40, "credit_prefix": "NC",
        "debit_prefix": "ND"})
    assert resp.status_code == 302
    ranges = services.test_ranges(c.issuer)
    assert (ranges["invoice"].prefix, ranges["invoice"].range_from, ranges["invoice"].range_to) == ("SETT", 1, 5000000)
    assert ranges["credit_note"].prefix == "NC" and ranges["debit_note"].prefix == "ND"
    assert all(r.environment == Environment.TEST for r in ranges.values())


def test_modes_table_masks_pin_and_run_needs_software(admin_client):
    c = admin_client
    resp = c.post("/habilitacion/sets/nuevo/", {"test_set_id": "3f1c9a9e-1b2c-4d5e-8f90-123456789abc",
                                                "invoices": 2, "credit_notes": 1, "debit_notes": 1})
    assert "Registre primero el software" in resp.content.decode()
    c.post("/habilitacion/software/", {"mode": "own", "software_name": "Mi software", "software_id": "sw-1",
                                       "pin": "98765", "provider_nit": c.issuer.tax_id,
                                       "test_set_id": "3F1C9A9E-1B2C-4D5E-8F90-123456789ABC"})
    html = c.get("/habilitacion/?paso=software").content.decode()
    assert "Mi software" in html and "•••65" in html and "98765" not in html
    assert "https://vpfe-hab.dian.gov.co/WcfDianCustomerServices.svc" in html
    assert services.current_mode(c.issuer).test_set_id == "3f1c9a9e-1b2c-4d5e-8f90-123456789abc"
    resp = c.post("/habilitacion/sets/nuevo/", {"test_set_id": "xyz", "invoices": 0, "credit_notes": 1, "debit_notes": 1})
    html = resp.content.decode()
    assert "GUID" in html and resp.status_code == 200


def test_roles_and_other_countries(client, make_user, new_issuer, make_issuer):
    issuer = new_issuer()
    client.force_login(make_user("wiz_reader", issuer, "readonly"))
    assert client.get("/habilitacion/").status_code == 200
    assert client.post("/habilitacion/registro/", {"reception_email": "a@b.co"}).status_code == 403
    assert client.post("/habilitacion/produccion/", {"start_date": "2026-12-01", "confirm": "on"}).status_code == 403
    mx = make_issuer("MX")
    client.force_login(make_user("wiz_mx", mx, "admin"))
    assert "emisores de Colombia" in client.get("/habilitacion/").content.decode()


def test_production_is_refused_before_acceptance_and_date_is_immutable(admin_client):
    c = admin_client
    actions.save_operation_mode(c.issuer, ACTOR, software_id="sw-2", pin="1111", test_set_id="3f1c9a9e-1b2c-4d5e-8f90-123456789abc")
    resp = c.post("/habilitacion/produccion/", {"start_date": "2026-12-01", "confirm": "on"}, follow=True)
    assert "aún no ha sido aceptado" in resp.content.decode()
    mode = services.current_mode(c.issuer)
    mode.state = "accepted"
    mode.save()
    resp = c.post("/habilitacion/produccion/", {"start_date": "2026-12-01"}, follow=True)  # not confirmed
    assert Enablement.objects.get(issuer=c.issuer).production_start is None
    resp = c.post("/habilitacion/produccion/", {"start_date": "2026-12-01", "confirm": "on"}, follow=True)
    assert "quedó en producción" in resp.content.decode()
    resp = c.post("/habilitacion/produccion/", {"start_date": "2027-01-01", "confirm": "on"}, follow=True)
    assert "no se puede cambiar" in resp.content.decode()
    en = Enablement.objects.get(issuer=c.issuer)
    assert str(en.production_start) == "2026-12-01" and en.state == "production"
    mode.refresh_from_db()
    assert mode.environment == "production" and mode.url == "https://vpfe.dian.gov.co/WcfDianCustomerServices.svc"
    # a test set cannot be sent any more
    with pytest.raises(Refusal) as exc:
        actions.start_run(c.issuer, ACTOR, invoices=1, credit_notes=0, debit_notes=0)
    assert exc.value.code == "habilitacion.run.in_production"
    html = c.get("/habilitacion/?paso=listo").content.decode()
    assert "responsabilidad" in html and "Ya actualicé el RUT" in html
    c.post("/habilitacion/rut/")
    assert Enablement.objects.get(issuer=c.issuer).s2_acknowledged_on is not None


def test_production_form_keeps_the_typed_date_when_not_confirmed(admin_client):
    c = admin_client
    actions.save_operation_mode(c.issuer, ACTOR, software_id="sw-3", pin="1111", test_set_id="3f1c9a9e-1b2c-4d5e-8f90-123456789abc")
    services.current_mode(c.issuer).__class__.objects.filter(issuer=c.issuer).update(state="accepted")
    resp = c.post("/habilitacion/produccion/", {"start_date": "2026-12-01",
                                                "endpoint": "http://127.0.0.1:8089/WcfDianCustomerServices.svc"})
    html = resp.content.decode()
    assert resp.status_code == 200 and step_of(resp) == "produccion"
    assert 'value="2026-12-01"' in html and 'value="http://127.0.0.1:8089/WcfDianCustomerServices.svc"' in html
    assert "field-error" in html and "Este campo es requerido" in html  # next to the confirmation box
    assert Enablement.objects.get(issuer=c.issuer).production_start is None


def _saved_test_numbering(issuer):
    import datetime as dt

    services.write_test_ranges(issuer, prefix="SETP", range_from=990000000, range_to=995000000,
                               resolution_number="18760000001", valid_from=dt.date(2019, 1, 19),
                               valid_to=dt.date(2030, 1, 19), technical_key="clave-tecnica-secreta-1234")


def test_technical_key_is_never_shown_to_a_read_only_user(client, make_user, new_issuer):
    issuer = new_issuer()
    _saved_test_numbering(issuer)
    client.force_login(make_user("wiz_reader", issuer, "readonly"))
    page = client.get("/habilitacion/?paso=numeracion").content.decode()
    assert "clave-tecnica-secreta" not in page and "1234</code>" not in page


def test_administrator_sees_the_technical_key_masked(admin_client):
    _saved_test_numbering(admin_client.issuer)
    page = admin_client.get("/habilitacion/?paso=numeracion").content.decode()
    assert "clave-tecnica-secreta" not in page
    assert "••••••••1234" in page


def test_empty_technical_key_keeps_the_stored_one(admin_client):
    _saved_test_numbering(admin_client.issuer)
    resp = admin_client.post("/habilitacion/numeracion-pruebas/", {
        "prefix": "SETP", "range_from": 990000000, "range_to": 995000000, "resolution_number": "18760000001",
        "valid_from": "2019-01-19", "valid_to": "2030-01-19", "technical_key": "", "credit_prefix": "NCP",
        "debit_prefix": "NDP"})
    assert resp.status_code == 302
    assert services.test_ranges(admin_client.issuer)["invoice"].technical_key.reveal() == "clave-tecnica-secreta-1234"
