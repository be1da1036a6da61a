"""Killing the worker in the middle of a test-set run neither duplicates nor loses a number.

The run is started from the terminal (`facturador habilitacion run ... --wait`, a real process drawing the
progress bar) and processed by real `facturador worker` processes; the first one is killed mid-run."""

import os
import subprocess
import sys

import pytest

from conftest import database_url_for_subprocess, wait_for
from facturador.core.models import Job, NumberingRange
from facturador.einvoice.models import DianDocument
from facturador.habilitacion import actions
from facturador.habilitacion.models import TestSetDocument, TestSetRun

from .conftest import ACTOR, SOFTWARE_PIN, new_software

COUNTS = {"invoices": 8, "credit_notes": 3, "debit_notes": 3}


@pytest.mark.django_db(transaction=True)
def test_killed_worker_resumes_without_gaps_or_duplicates(new_issuer, dian_sandbox, start_worker, settings):
    issuer = new_issuer()
    software_id, test_set_id = new_software(dian_sandbox, **COUNTS)
    actions.register(issuer, ACTOR, reception_email="fe@empresa.example")
    actions.save_operation_mode(issuer, ACTOR, software_id=software_id, pin=SOFTWARE_PIN, test_set_id=test_set_id,
                       endpoint=dian_sandbox.url)
    dian_sandbox.delay_next(count=10_000, seconds=0.08)  # a slow DIAN, so the kill lands mid-run
    env = dict(os.environ, DATABASE_URL=database_url_for_subprocess(), SECRET_KEY=settings.SECRET_KEY,
               FACTURADOR_ENCRYPTION_KEY=",".join(settings.FACTURADOR_ENCRYPTION_KEYS))
    first = start_worker("hab-w1")  # boots while the CLI boots
    cli = subprocess.Popen(
        [sys.executable, "-m", "facturador", "habilitacion", "run", "--issuer", issuer.tax_id, "--test-set-id",
         test_set_id, "--invoices", str(COUNTS["invoices"]), "--credit-notes", str(COUNTS["credit_notes"]),
         "--debit-notes", str(COUNTS["debit_notes"]), "--wait", "--timeout", "120"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    run = wait_for(lambda: TestSetRun.objects.filter(issuer=issuer).first(), timeout=30, message="the CLI to start a run")

    wait_for(lambda: TestSetDocument.objects.filter(run=run).count() >= 3, timeout=60, message="documents being created")
    first.kill()
    job = Job.objects.get(pk=run.job_id)
    assert job.status == Job.Status.RUNNING  # the dead worker left it running
    created_before = TestSetDocument.objects.filter(run=run).count()
    assert created_before < sum(COUNTS.values())

    second = start_worker("hab-w2", FACTURADOR_JOB_STALE_SECONDS=2)
    job = wait_for(lambda: Job.objects.filter(pk=run.job_id, status__in=Job.FINAL).first(), timeout=90,
                   message="the re-queued run to finish")
    output = cli.communicate(timeout=30)[0].decode()
    assert cli.returncode == 0, output
    assert "\r[" in output and "100%" in output and "Set de pruebas aceptado" in output
    second.kill()  # its work is done; no need to wait for a graceful shutdown
    run.refresh_from_db()
    assert job.status == Job.Status.FINISHED, (job.status, job.error, job.message)
    assert job.attempts >= 1
    assert run.outcome == TestSetRun.Outcome.ACCEPTED, run.dian_message
    assert dian_sandbox.test_set_status(test_set_id).is_accepted

    for kind, count in (("invoice", COUNTS["invoices"]), ("credit_note", COUNTS["credit_notes"]),
                        ("debit_note", COUNTS["debit_notes"])):
        rng = NumberingRange.objects.get(issuer=issuer, document_type=kind, environment="test", active=True)
        used = list(range(rng.range_from, rng.next_number))
        docs = DianDocument.objects.filter(issuer=issuer, numbering_range=rng)
        # every number taken from the range is one stored document, linked to the run, and nothing more
        assert sorted(docs.values_list("number", flat=True)) == used
        assert len(used) == count
        entries = TestSetDocument.objects.filter(run=run, kind=kind)
        assert sorted(entries.values_list("document__number", flat=True)) == used
        assert sorted(entries.values_list("slot", flat=True)) == list(range(count))
        assert set(docs.values_list("status", flat=True)) == {"accepted"}
