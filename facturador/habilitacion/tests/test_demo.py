"""The demo's local DIAN service learns the numbering registered in step 7 (as DIAN learns it from form 1876),
so "Sincronizar numeración" finds it: the demo wiring (`habilitacion.demo`), never the product itself."""

import datetime as dt

import pytest

from facturador.einvoice.models import OperationMode
from facturador.habilitacion import actions, demo, services

from facturador.core.tests.helpers import seeded_demo_services

from .conftest import ACTOR

MANUAL_RANGE = dict(prefix="FE", range_from=1, range_to=100, resolution_number="18764031407250",
                    valid_from=dt.date(2026, 11, 3), valid_to=dt.date(2028, 11, 3))


@pytest.fixture
def demo_setup(db, settings):
    """`serve --seed-demo`: demo data, the local DIAN service on the demo's port, the demo wiring."""
    with seeded_demo_services(settings) as demo:
        yield demo.co, demo.dian


def _in_production(issuer):
    """Steps 1-6 done (the test set's acceptance is another test's subject)."""
    actions.register(issuer, ACTOR, reception_email="facturas@alumbrado-demo.co")
    OperationMode.objects.filter(issuer=issuer, active=True).update(state=OperationMode.State.ACCEPTED)
    actions.switch_to_production(issuer, ACTOR, start_date=dt.date(2026, 11, 2))


def test_demo_resolution_is_registered_in_the_local_service_and_sync_finds_it(demo_setup,
                                                                               django_capture_on_commit_callbacks):
    issuer, server = demo_setup
    _in_production(issuer)
    with django_capture_on_commit_callbacks(execute=True):
        rng = actions.register_resolution(issuer, ACTOR, **MANUAL_RANGE)
    mode = services.current_mode(issuer)
    [known] = server.sandbox.ranges_of(issuer.tax_id)
    assert (known.prefix, known.from_number, known.to_number, known.resolution_number, known.software_id,
            known.valid_date_from, known.valid_date_to) == \
        ("FE", 1, 100, "18764031407250", mode.software_id, "2026-11-03", "2028-11-03")

    updated, message = actions.sync_numbering(issuer, ACTOR)  # signed with the demo's certificate: may ask
    assert [r.pk for r in updated] == [rng.pk] and "sincronizada" in message
    rng.refresh_from_db()
    assert rng.technical_key.reveal() == known.technical_key


def test_ranges_registered_before_the_demo_started_are_told_at_start(demo_setup, settings):
    issuer, server = demo_setup
    demo.disconnect_local_dian()  # as if the range had been registered while the demo was not running
    _in_production(issuer)
    actions.register_resolution(issuer, ACTOR, **MANUAL_RANGE)
    assert server.sandbox.ranges_of(issuer.tax_id) == []
    demo.connect_local_dian(server.sandbox, server.url)
    assert [(r.prefix, r.to_number) for r in server.sandbox.ranges_of(issuer.tax_id)] == [("FE", 100)]
    assert actions.sync_numbering(issuer, ACTOR)[0]


def test_issuers_of_another_dian_service_are_not_told(demo_setup, django_capture_on_commit_callbacks):
    issuer, server = demo_setup
    _in_production(issuer)
    OperationMode.objects.filter(issuer=issuer, active=True).update(endpoint="http://127.0.0.1:1/WcfDianCustomerServices.svc")
    with django_capture_on_commit_callbacks(execute=True):
        actions.register_resolution(issuer, ACTOR, **MANUAL_RANGE)
    assert server.sandbox.ranges_of(issuer.tax_id) == []


def test_without_the_demo_wiring_the_product_tells_no_one():
    """The product sends a signal and nothing listens (no call to a non-DIAN endpoint)."""
    from facturador.habilitacion import signals

    assert not signals.resolution_registered.has_listeners()
