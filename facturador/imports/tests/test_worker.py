"""Imports run by real `facturador worker` processes; a worker killed mid-import never leaves half-loaded data."""

import pytest

from conftest import wait_for
from facturador.billing.models import Charge
from facturador.core.models import Job
from facturador.imports.models import ImportedLine, ImportJob
from facturador.imports.tests import files
from facturador.imports.tests.conftest import schedule

N = 12_000


def status(imp):
    imp.job.refresh_from_db()
    return imp.job.status


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_import_is_resumed_without_duplicates(issuer_co, operator, template, start_worker, media_dir):
    old = files.sample_rows(3, start=900_000)
    rows = files.sample_rows(N)
    victim = start_worker("victim", FACTURADOR_DATA_DIR=media_dir, FACTURADOR_IMPORT_BATCH_SIZE=300, FACTURADOR_IMPORT_THROTTLE=0.1)
    first = schedule(issuer_co, operator, template, "old.csv", files.csv_bytes(old), enqueue=True)
    wait_for(lambda: status(first) == Job.Status.FINISHED, timeout=40, message="first import")
    imp = schedule(issuer_co, operator, template, "big.csv", files.csv_bytes(rows), enqueue=True)
    wait_for(lambda: Job.objects.get(pk=imp.job_id).done >= 900, timeout=40, message="import under way")
    victim.kill()
    assert status(imp) == Job.Status.RUNNING
    # Killed half-way: billing still sees exactly the previous data.
    assert set(Charge.objects.values_list("source_import_id", flat=True)) == {first.pk}
    start_worker("rescuer", FACTURADOR_DATA_DIR=media_dir, FACTURADOR_JOB_STALE_SECONDS=2)
    wait_for(lambda: status(imp) in Job.FINAL, timeout=60, message="import resumed and finished")
    imp.refresh_from_db()
    assert imp.job.status == Job.Status.FINISHED, imp.job.error
    assert imp.job.attempts == 1
    assert Charge.objects.filter(source_import_id=imp.pk).count() == N  # no duplicates from the first attempt
    assert Charge.objects.count() == N
    assert not ImportedLine.objects.exists()
    assert ImportJob.objects.get(pk=imp.pk).rows_valid == N
