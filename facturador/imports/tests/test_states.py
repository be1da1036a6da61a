"""State transitions of an import (core Job states), cancel and delete-while-pending."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from conftest import wait_for
from facturador.billing.models import Charge
from facturador.core import jobs
from facturador.core.actors import Actor
from facturador.core.errors import Conflict
from facturador.core.jobs import execute_job
from facturador.core.models import Job
from facturador.imports import actions, services
from facturador.imports.models import ImportedLine, ImportJob
from facturador.imports.tests import files
from facturador.imports.tests.conftest import run_now, schedule

ROWS = files.sample_rows(4)


def status(imp):
    imp.job.refresh_from_db()
    return imp.job.status


@pytest.mark.django_db
def test_pending_to_finished(issuer_co, operator, template):
    imp = schedule(issuer_co, operator, template, "a.csv", files.csv_bytes(ROWS))
    assert imp.job.status == Job.Status.PENDING and imp.job.get_status_display() == "Pendiente"
    assert imp.job.kind == "imports.run" and imp.job.params == {"import_id": imp.pk}
    imp = run_now(imp)
    assert imp.job.status == Job.Status.FINISHED and imp.job.get_status_display() == "Finalizado"
    assert imp.job.percent == 100 and imp.job.done == imp.job.total == 4  # the data rows (Filas leídas), not the header


@pytest.mark.django_db
def test_pending_to_finished_with_errors(issuer_co, operator, template):
    rows = [list(r) for r in ROWS]
    rows[0][2] = "muchos"
    imp = run_now(schedule(issuer_co, operator, template, "a.csv", files.csv_bytes(rows)))
    assert imp.job.status == Job.Status.FINISHED_WITH_ERRORS and imp.job.get_status_display() == "Con errores"
    assert imp.job.errors == 1 and Charge.objects.count() == 3


@pytest.mark.django_db
def test_pending_to_error(issuer_co, operator, template):
    imp = run_now(schedule(issuer_co, operator, template, "a.xlsx", b"no es un libro"))
    assert imp.job.status == Job.Status.FAILED and imp.job.get_status_display() == "Con errores"
    assert "a.xlsx" in imp.job.error


@pytest.mark.django_db
def test_delete_only_while_pending(issuer_co, operator, template):
    imp = schedule(issuer_co, operator, template, "a.csv", files.csv_bytes(ROWS))
    actions.delete_import(issuer_co, Actor.cli(), imp=imp)
    assert status(imp) == Job.Status.DELETED and imp.job.get_status_display() == "Eliminado"
    assert run_now(imp).job.status == Job.Status.DELETED  # a deleted job never runs
    assert not Charge.objects.exists()
    done = run_now(schedule(issuer_co, operator, template, "b.csv", files.csv_bytes(ROWS)))
    with pytest.raises(Conflict) as refused:
        actions.delete_import(issuer_co, Actor.cli(), imp=done)
    assert refused.value.code == "imports.import.not_pending" and status(done) == Job.Status.FINISHED
    assert list(services.imports_for(issuer_co, "deleted")) == [imp]
    assert done not in services.imports_for(issuer_co, "deleted")


@pytest.mark.django_db
def test_cancel_pending(issuer_co, operator, template):
    imp = schedule(issuer_co, operator, template, "a.csv", files.csv_bytes(ROWS))
    actions.cancel_import(issuer_co, Actor.cli(), imp=imp)
    assert status(imp) == Job.Status.CANCELLED
    assert run_now(imp).job.status == Job.Status.CANCELLED and not Charge.objects.exists()
    with pytest.raises(Conflict) as refused:
        actions.cancel_import(issuer_co, Actor.cli(), imp=imp)
    assert refused.value.code == "imports.import.not_cancellable"


@pytest.mark.django_db
def test_scheduled_for_later(issuer_co, operator, template):
    at = timezone.now() + timedelta(hours=2)
    imp = schedule(issuer_co, operator, template, "a.csv", files.csv_bytes(ROWS), run_at=at, enqueue=True)
    assert imp.scheduled_for == at and imp.job.run_after == at


@pytest.mark.django_db(transaction=True)
def test_cancel_running_leaves_no_partial_data(issuer_co, operator, template, settings):
    settings.FACTURADOR_IMPORT_BATCH_SIZE = 200
    settings.FACTURADOR_IMPORT_THROTTLE = 0.05
    first = run_now(schedule(issuer_co, operator, template, "old.csv", files.csv_bytes(ROWS)))
    imp = schedule(issuer_co, operator, template, "big.csv", files.csv_bytes(files.sample_rows(20_000)))

    def work():
        try:
            execute_job.call(imp.job_id)
        finally:
            connection.close()

    t = threading.Thread(target=work)
    t.start()
    wait_for(lambda: Job.objects.get(pk=imp.job_id).done >= 600, timeout=30, message="import under way")
    assert status(imp) == Job.Status.RUNNING
    assert Charge.objects.filter(source_import_id=imp.pk).count() == 0  # nothing is visible before the end
    assert jobs.request_cancel(imp.job)
    t.join(30)
    assert status(imp) == Job.Status.CANCELLED
    assert not ImportedLine.objects.filter(import_job_id=imp.pk).exists()
    assert set(Charge.objects.values_list("source_import_id", flat=True)) == {first.pk}  # old data intact
    assert ImportJob.objects.get(pk=imp.pk).loaded_at is None


@pytest.mark.django_db
def test_finished_progress_counts_the_data_rows_like_filas_leidas(issuer_co, operator, template):
    rows = [list(r) for r in ROWS]
    rows[0][2] = "muchos"
    imp = run_now(schedule(issuer_co, operator, template, "a.csv", files.csv_bytes(rows)))
    assert (imp.job.done, imp.job.total, imp.job.errors) == (imp.rows_read, imp.rows_read, imp.rows_invalid)
