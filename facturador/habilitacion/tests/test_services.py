"""Rules of the enablement services that the end-to-end tests do not reach."""

import datetime as dt

import pytest

from facturador.core.errors import Refusal
from facturador.core.models import Certificate, NumberingRange
from facturador.core.tests.helpers import make_range
from facturador.habilitacion import actions, services
from facturador.habilitacion.models import TestSetRun

from .conftest import ACTOR

pytestmark = pytest.mark.django_db

GUID = "3f1c9a9e-1b2c-4d5e-8f90-123456789abc"


def test_test_set_id_must_be_a_guid():
    assert services.validate_test_set_id(" " + GUID.upper() + " ") == GUID
    for bad in ("", "123", GUID[:-1], "zzzzzzzz-1b2c-4d5e-8f90-123456789abc"):
        with pytest.raises(Refusal) as exc:
            services.validate_test_set_id(bad)
        assert exc.value.field == "test_set_id" and "GUID" in exc.value.message


def test_completing_test_ranges_keeps_what_the_user_configured(new_issuer):
    issuer = new_issuer()
    make_range(issuer, prefix="SETT", range_from=1, range_to=5000000, technical_key="f" * 40)
    ranges = services.ensure_test_ranges(issuer)
    inv = ranges["invoice"]
    assert (inv.prefix, inv.range_from, inv.range_to, inv.technical_key.reveal()) == ("SETT", 1, 5000000, "f" * 40)
    assert ranges["credit_note"].prefix == "NCP" and ranges["debit_note"].prefix == "NDP"
    assert NumberingRange.objects.filter(issuer=issuer).count() == 3


def test_changing_a_used_test_prefix_retires_the_range(new_issuer):
    issuer = new_issuer()
    ranges = services.ensure_test_ranges(issuer)
    NumberingRange.objects.filter(pk=ranges["invoice"].pk).update(next_number=990000005)  # five numbers used
    data = services.default_test_range(None)
    data.update(prefix="SETT", range_from=1, range_to=5000000)
    new = services.write_test_ranges(issuer, **data)
    old = NumberingRange.objects.get(pk=ranges["invoice"].pk)
    assert not old.active and old.next_number == 990000005 and old.prefix == "SETP"
    assert new["invoice"].pk != old.pk and new["invoice"].prefix == "SETT" and new["invoice"].next_number == 1
    # the same prefix with numbers used only moves the end of the range, never back below what was used
    data.update(range_to=3)
    NumberingRange.objects.filter(pk=new["invoice"].pk).update(next_number=6)
    again = services.write_test_ranges(issuer, **data)["invoice"]
    assert again.pk == new["invoice"].pk and again.range_to == 5 and again.next_number == 6


def test_run_preconditions(new_issuer, make_issuer):
    issuer = new_issuer()
    with pytest.raises(Refusal) as exc:
        actions.start_run(issuer, ACTOR, test_set_id=GUID)
    assert exc.value.code == "habilitacion.run.no_software"
    actions.save_operation_mode(issuer, ACTOR, software_id="sw", pin="12345", test_set_id=GUID)
    with pytest.raises(Refusal) as exc:
        actions.start_run(issuer, ACTOR, invoices=0)
    assert exc.value.code == "habilitacion.run.no_invoices" and exc.value.field == "invoices"
    with pytest.raises(Refusal) as exc:
        actions.start_run(issuer, ACTOR, invoices=1, credit_notes=services.MAX_COUNT + 1)
    assert exc.value.code == "habilitacion.run.count_invalid" and exc.value.field == "credit_notes"
    run = actions.start_run(issuer, ACTOR)
    assert (run.invoices, run.credit_notes, run.debit_notes) == (30, 10, 10)
    assert services.current_mode(issuer).state == "testing"
    with pytest.raises(Refusal) as exc:  # the first run's job is still pending
        actions.start_run(issuer, ACTOR, invoices=1)
    assert exc.value.code == "habilitacion.run.busy" and exc.value.status == 409
    assert TestSetRun.objects.filter(issuer=issuer).count() == 1
    Certificate.objects.filter(issuer=issuer).update(active=False)
    run.job.status = "finished"
    run.job.save()
    with pytest.raises(Refusal) as exc:
        actions.start_run(issuer, ACTOR, invoices=1)
    assert exc.value.code == "habilitacion.run.no_certificate"


def test_resolution_rules(new_issuer):
    issuer = new_issuer()
    today = dt.date.today()
    ok = dict(prefix="fe", range_from=1, range_to=100, valid_from=today, valid_to=today + dt.timedelta(days=10),
              resolution_number="18764000000001")
    for change, field in ((dict(prefix="ABCDE"), "prefix"), (dict(prefix="F-1"), "prefix"),
                          (dict(range_to=0), "range_to"), (dict(valid_to=today - dt.timedelta(days=1)), "valid_to"),
                          (dict(resolution_number="abc"), "resolution_number")):
        with pytest.raises(Refusal) as exc:
            actions.register_resolution(issuer, ACTOR, **{**ok, **change})
        assert exc.value.field == field
    rng = actions.register_resolution(issuer, ACTOR, **ok)
    assert rng.prefix == "FE" and rng.environment == "production" and not rng.technical_key
    with pytest.raises(Refusal) as exc:
        actions.register_resolution(issuer, ACTOR, **{**ok, "range_from": 50, "range_to": 150})
    assert exc.value.code == "habilitacion.resolution.overlap"
    with pytest.raises(Refusal) as exc:  # still in habilitación: no production service to ask
        actions.sync_numbering(issuer, ACTOR)
    assert exc.value.code == "habilitacion.sync.no_software"


def test_cancelled_run_is_marked_and_can_be_resumed(new_issuer, dian_sandbox):
    from .conftest import SOFTWARE_PIN, new_software, run_job_inline

    issuer = new_issuer()
    software_id, test_set_id = new_software(dian_sandbox, invoices=1, credit_notes=0, debit_notes=0)
    actions.save_operation_mode(issuer, ACTOR, software_id=software_id, pin=SOFTWARE_PIN, test_set_id=test_set_id,
                       endpoint=dian_sandbox.url)
    run = actions.start_run(issuer, ACTOR, invoices=1, credit_notes=0, debit_notes=0)
    run.job.cancel_requested = True  # asked while running: the handler stops at its first check
    run.job.save()
    job = run_job_inline(run.job)
    run.refresh_from_db()
    assert job.status == "cancelled" and run.outcome == TestSetRun.Outcome.WAITING
    assert not run.documents.exists()
    new_job = actions.resume_run(issuer, ACTOR, run=run)
    run_job_inline(new_job)
    run.refresh_from_db()
    assert run.outcome == TestSetRun.Outcome.ACCEPTED and run.documents.count() == 1
    with pytest.raises(Refusal) as exc:  # only rejected documents are corrected
        actions.correct_document(issuer, ACTOR, entry=run.documents.get())
    assert exc.value.code == "habilitacion.correction.not_rejected" and exc.value.status == 409
