"""When the batch's work starts: helpers are queued before numbering, and the first numbering chunk is short, so a
second worker renders while the main job still plans and numbers."""

import datetime as dt

import pytest

from facturador.billing import actions
from facturador.billing import batch as engine
from facturador.billing.models import BillingInvoice
from facturador.billing.tests.helpers import issue_batch_inline, make_accounts, make_range
from facturador.core.actors import Actor
from facturador.core.jobs import execute_job
from facturador.core.models import Job


def test_the_first_numbering_chunk_is_ten_render_chunks(settings):
    settings.FACTURADOR_BILLING_RENDER_CHUNK, settings.FACTURADOR_BILLING_NUMBER_CHUNK = 20, 2000
    assert engine.number_chunks(3000) == [(0, 200), (200, 2200), (2200, 3000)]


def test_a_small_batch_is_numbered_in_one_chunk(settings):
    settings.FACTURADOR_BILLING_RENDER_CHUNK, settings.FACTURADOR_BILLING_NUMBER_CHUNK = 20, 2000
    assert engine.number_chunks(150) == [(0, 150)]


@pytest.mark.django_db
def test_helpers_are_queued_before_the_first_invoice_is_numbered(issuer_co, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.FACTURADOR_BILLING_HELPER_MIN, settings.FACTURADOR_BILLING_RENDER_HELPERS = 2, 1
    make_range(issuer_co, prefix="LH")
    b = issue_batch_inline(issuer_co, make_accounts(issuer_co, 4))
    helper = Job.objects.get(kind="billing.batch_render", params__batch_id=b.pk)
    first = BillingInvoice.objects.filter(batch=b).order_by("created_at").values_list("created_at", flat=True)[0]
    assert helper.created_at <= first


@pytest.mark.django_db
def test_creating_a_batch_queues_its_helpers_with_its_job(issuer_co, settings):
    # queued in the same transaction, a second worker picks its helper up while the main job still plans
    settings.FACTURADOR_BILLING_HELPER_MIN, settings.FACTURADOR_BILLING_RENDER_HELPERS = 2, 1
    make_range(issuer_co, prefix="LQ")
    accounts = make_accounts(issuer_co, 4)
    b = actions.create_batch(issuer_co, Actor.cli(), periods=["2026-09"], issue_date=dt.date(2026, 10, 1),
                             due_date=dt.date(2026, 10, 20), references=[a.reference for a in accounts])
    helper = Job.objects.get(kind="billing.batch_render", params__batch_id=b.pk)
    assert (helper.status, helper.params["main_job"]) == (Job.Status.PENDING, b.job_id)
    assert Job.objects.get(pk=b.job_id).status == Job.Status.PENDING


@pytest.mark.django_db
def test_a_helper_run_after_its_batch_ended_prepares_no_renderer(issuer_co, settings, tmp_path, monkeypatch):
    # one worker runs the helper after the main job: it finds the batch done and must not load Typst for nothing
    settings.MEDIA_ROOT = tmp_path
    settings.FACTURADOR_BILLING_HELPER_MIN, settings.FACTURADOR_BILLING_RENDER_HELPERS = 2, 1
    make_range(issuer_co, prefix="LR")
    b = issue_batch_inline(issuer_co, make_accounts(issuer_co, 4))
    helper = Job.objects.get(kind="billing.batch_render", params__batch_id=b.pk)
    made = []
    monkeypatch.setattr(engine, "_Renderer", lambda *a, **k: made.append(a))
    execute_job.call(helper.pk)
    helper.refresh_from_db()
    assert (helper.status, helper.result.get("rendered"), made) == (Job.Status.FINISHED, 0, [])
