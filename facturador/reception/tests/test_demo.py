"""The demo inbox (`reception.demo`, run by `serve --seed-demo`): received documents to try *Recepción* at once."""

import pytest

from facturador.core import demo
from facturador.core.models import Issuer
from facturador.reception.models import ReceivedDocument, ReceptionEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(settings, tmp_path):
    settings.DATA_DIR = tmp_path  # its own SAT-certificate cache
    demo.seed()
    return Issuer.objects.get(country="CO", tax_id="900373076"), Issuer.objects.get(country="MX")


def test_colombian_demo_issuer_has_verified_invoices_from_a_supplier(seeded):
    co, _ = seeded
    docs = ReceivedDocument.objects.filter(issuer=co)
    assert docs.count() == 4
    assert {(d.verification, d.dian_validation, d.status) for d in docs} == {("ok", "accepted", "received")}, \
        [d.findings for d in docs]


def test_some_demo_invoices_already_have_their_events(seeded):
    co, _ = seeded
    accepted = ReceptionEvent.objects.filter(issuer=co, state="accepted")
    assert sorted(accepted.values_list("code", flat=True)) == ["030", "030", "032", "033"]
    states = sorted(ReceivedDocument.objects.filter(issuer=co).values_list("dian_state", flat=True))
    assert states.count("accepted") == 1 and states.count("acknowledged") == 1


def test_mexican_demo_issuer_has_stamped_cfdi_with_verified_stamp(seeded):
    _, mx = seeded
    docs = ReceivedDocument.objects.filter(issuer=mx)
    assert [(d.verification, d.stamp_check) for d in docs] == [("ok", "verified")] * 2, [d.findings for d in docs]


def test_seeding_twice_adds_nothing(seeded):
    demo.seed()
    assert ReceivedDocument.objects.count() == 6

