"""DIAN's prefix association: an authorised range's prefix is linked to the software that issues with it, and
production invoices are numbered only from ranges associated with the issuing software."""

import datetime as dt

import pytest

from facturador.core.errors import Refusal
from facturador.core.models import Environment, NumberingRange
from facturador.einvoice import services as einvoice
from facturador.einvoice.models import OperationMode
from facturador.habilitacion import actions, services
from facturador.habilitacion.models import Enablement

from .conftest import ACTOR, SOFTWARE_PIN

pytestmark = pytest.mark.django_db

GUID = "3f1c9a9e-1b2c-4d5e-8f90-123456789abc"
PAYLOAD = {"kind": "invoice", "customer": {"consumidor_final": True}, "payment": {"method": "1"},
           "lines": [{"description": "Servicio", "quantity": "1", "unit_price": "100000",
                      "taxes": [{"scheme": "01", "rate": "19"}]}]}


def _software(issuer, software_id, name):
    """A software in production (the enablement's earlier steps are other tests' subject)."""
    mode = actions.save_operation_mode(issuer, ACTOR, software_id=software_id, pin=SOFTWARE_PIN, test_set_id=GUID,
                                       software_name=name)
    OperationMode.objects.filter(pk=mode.pk).update(environment=Environment.PRODUCTION,
                                                    state=OperationMode.State.PRODUCTION)
    Enablement.objects.filter(issuer=issuer).update(state=Enablement.State.PRODUCTION,
                                                    production_start=dt.date(2026, 11, 2))
    return mode


def _synced_range(issuer, prefix="FE", range_from=1, range_to=100, resolution="18764031407250"):
    today = dt.date.today()
    rng = actions.register_resolution(issuer, ACTOR, prefix=prefix, range_from=range_from, range_to=range_to,
                                      valid_from=today - dt.timedelta(days=1), valid_to=today + dt.timedelta(days=700),
                                      resolution_number=resolution)
    rng.technical_key = "c" * 64  # what "Sincronizar numeración" stores (its own tests cover it)
    rng.save(update_fields=["technical_key"])
    return rng


@pytest.fixture
def issuer(new_issuer):
    issuer = new_issuer()
    services.enablement_for(issuer)
    return issuer


def test_association_links_the_prefix_to_the_active_software(issuer):
    _software(issuer, "sw-propio", "Facturador")
    rng = _synced_range(issuer)
    en = actions.associate_prefix(issuer, ACTOR, on=dt.date(2026, 11, 3))
    rng.refresh_from_db()
    assert (rng.associated_software_id, rng.associated_on) == ("sw-propio", dt.date(2026, 11, 3))
    assert en.prefix_associated_on == dt.date(2026, 11, 3)
    assert services.step_status(issuer)["resolucion"] and services.production_ready(issuer)


def test_production_invoice_refused_until_the_prefix_is_associated_with_the_issuing_software(issuer):
    _software(issuer, "sw-propio", "Facturador")
    _synced_range(issuer)
    with pytest.raises(einvoice.EinvoiceError) as exc:
        einvoice.issue(issuer, PAYLOAD, send=False)
    assert exc.value.code == "einvoice.numbering.prefix_not_associated" and exc.value.field == "numbering"
    assert "El prefijo FE" in exc.value.message and "«Facturador» (sw-propio)" in exc.value.message
    assert not services.production_ready(issuer)

    actions.associate_prefix(issuer, ACTOR)
    doc = einvoice.issue(issuer, PAYLOAD, send=False)
    assert doc.environment == "production" and doc.full_number == "FE1"

    # another software takes over: the prefix is still associated with the first one in DIAN
    _software(issuer, "sw-proveedor", "Software del proveedor")
    with pytest.raises(einvoice.EinvoiceError) as exc:
        einvoice.issue(issuer, PAYLOAD, send=False)
    assert exc.value.code == "einvoice.numbering.prefix_not_associated" and "sw-proveedor" in exc.value.message
    assert NumberingRange.objects.get(prefix="FE", issuer=issuer).next_number == 2  # no number used by the refusal
    actions.associate_prefix(issuer, ACTOR)
    assert einvoice.issue(issuer, PAYLOAD, send=False).full_number == "FE2"


def test_production_numbers_come_from_the_range_associated_with_the_software(issuer):
    _software(issuer, "sw-propio", "Facturador")
    _synced_range(issuer, prefix="AA", resolution="18764000000001")  # not associated (another software's)
    fe = _synced_range(issuer, prefix="FE", range_from=1000, range_to=2000)
    actions.associate_prefix(issuer, ACTOR, numbering_range=fe)
    assert einvoice.issue(issuer, PAYLOAD, send=False).full_number == "FE1000"


def test_association_refusals(issuer, make_issuer):
    with pytest.raises(Refusal) as exc:
        actions.associate_prefix(issuer, ACTOR)
    assert exc.value.code == "habilitacion.prefix.no_resolution"
    _software(issuer, "sw-propio", "Facturador")
    _synced_range(issuer)
    OperationMode.objects.filter(issuer=issuer).update(active=False)
    with pytest.raises(Refusal) as exc:
        actions.associate_prefix(issuer, ACTOR)
    assert exc.value.code == "habilitacion.prefix.no_software"
    other = make_issuer("CO")
    other_range = NumberingRange.objects.create(
        issuer=other, document_type="invoice", environment=Environment.PRODUCTION, prefix="ZZ", range_from=1,
        range_to=9, next_number=1, valid_from=dt.date(2026, 1, 1), valid_to=dt.date(2027, 1, 1))
    with pytest.raises(Refusal) as exc:
        actions.associate_prefix(issuer, ACTOR, numbering_range=other_range)
    assert exc.value.code == "habilitacion.prefix.range_not_found" and exc.value.status == 404


def test_wizard_form_lists_prefixes_as_dian_does_and_associates_the_chosen_one(client, make_user, issuer):
    client.force_login(make_user("asociador", issuer, "admin"))
    _software(issuer, "sw-propio", "Facturador")
    rng = _synced_range(issuer)
    html = client.get("/habilitacion/?paso=resolucion").content.decode()
    assert "FE - 18764031407250 (1 - 100)" in html and "Facturador (sw-propio)" in html and "Sin asociar" in html
    resp = client.post("/habilitacion/prefijo/", {"numbering_range": rng.pk, "associated_on": "2026-11-03"})
    assert resp.status_code == 302 and resp.url.endswith("?paso=listo")
    rng.refresh_from_db()
    assert rng.associated_software_id == "sw-propio"
    html = client.get("/habilitacion/?paso=resolucion").content.decode()
    assert "Asociado</span> al software Facturador (03/11/2026)" in html
