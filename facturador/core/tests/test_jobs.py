"""Background jobs with real worker processes (`facturador worker`) on the test database."""

from datetime import timedelta

import pytest
from django.db import transaction

from conftest import wait_for
from facturador.core import jobs
from facturador.core.models import Job


def make_ping(issuer, steps=1, seconds=0.0):
    with transaction.atomic():
        return jobs.create_job(issuer, "core.ping", title="Prueba", params={"steps": steps, "seconds": seconds})


def status(job):
    job.refresh_from_db()
    return job.status


@pytest.mark.django_db(transaction=True)
def test_worker_runs_job_with_progress(issuer_co, start_worker):
    start_worker()
    job = make_ping(issuer_co, steps=4, seconds=0.05)
    wait_for(lambda: status(job) == Job.Status.FINISHED, message="job finished")
    assert (job.done, job.total, job.percent) == (4, 4, 100)
    assert len(job.result["runs"]) == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_share_the_queue_without_double_processing(issuer_co, start_worker):
    start_worker("w1"), start_worker("w2")
    created = [make_ping(issuer_co, steps=2, seconds=0.05) for _ in range(16)]
    wait_for(lambda: all(status(j) == Job.Status.FINISHED for j in created), timeout=120, message="all jobs finished")
    runs = [j.result["runs"] for j in created]
    assert all(len(r) == 1 for r in runs), runs  # each job executed exactly once
    workers = {r[0] for r in runs}
    assert len(workers) >= 1


@pytest.mark.django_db(transaction=True)
def test_killed_worker_leaves_job_resumable(issuer_co, start_worker, settings):
    first = start_worker("victim")
    job = make_ping(issuer_co, steps=200, seconds=0.05)
    wait_for(lambda: status(job) == Job.Status.RUNNING and job.done >= 2, message="job running")
    first.kill()
    # Not silently stuck: once the heartbeat is stale, the job is taken back and finished elsewhere.
    start_worker("rescuer", FACTURADOR_JOB_STALE_SECONDS=2)
    wait_for(lambda: status(job) == Job.Status.FINISHED, timeout=90, message="job resumed and finished")
    assert job.attempts == 1
    assert len(job.result["runs"]) == 2  # ran once, was interrupted, ran again


@pytest.mark.django_db(transaction=True)
def test_cancel_running_job(issuer_co, start_worker):
    start_worker()
    job = make_ping(issuer_co, steps=400, seconds=0.05)
    wait_for(lambda: status(job) == Job.Status.RUNNING, message="job running")
    assert jobs.request_cancel(job)
    wait_for(lambda: status(job) == Job.Status.CANCELLED, message="job cancelled")
    assert job.done < 400


def test_pending_job_can_be_deleted_but_not_a_finished_one(issuer_co):
    pending = Job.objects.create(issuer=issuer_co, kind="core.ping")
    finished = Job.objects.create(issuer=issuer_co, kind="core.ping", status=Job.Status.FINISHED)
    assert jobs.delete_pending(pending) and pending.status == Job.Status.DELETED
    assert not jobs.delete_pending(finished) and finished.status == Job.Status.FINISHED


def test_requeue_gives_up_after_max_attempts(issuer_co):
    from django.utils import timezone

    old = timezone.now() - timezone.timedelta(hours=1)
    job = Job.objects.create(issuer=issuer_co, kind="core.ping", status=Job.Status.RUNNING, heartbeat_at=old,
                             attempts=jobs.MAX_ATTEMPTS - 1)
    assert jobs.requeue_stale_jobs(stale_seconds=60) == []
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and "interrumpió" in job.error


def test_progress_fragment(client_co, issuer_co):
    job = Job.objects.create(issuer=issuer_co, kind="core.ping", status=Job.Status.RUNNING, done=3, total=4)
    html = client_co.get(f"/tareas/{job.pk}/progreso/").content.decode()
    assert 'aria-valuenow="75"' in html and "hx-trigger" in html and "En proceso" in html
    job.status = Job.Status.FINISHED
    job.save()
    html = client_co.get(f"/tareas/{job.pk}/progreso/").content.decode()
    assert "hx-trigger" not in html and "Finalizado" in html


@pytest.mark.django_db(transaction=True)
def test_side_connection_shows_progress_and_cancel_during_a_long_transaction(issuer_co):
    """A handler holding one open transaction still shows progress live and sees a cancel request.

    PostgreSQL only: on SQLite a write transaction locks the whole file, so long loads there commit
    in batches instead (imports' staging loader) and never use the side connection."""
    import threading

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("side connections are for PostgreSQL's long transactions")

    job = Job.objects.create(issuer=issuer_co, kind="core.ping", status=Job.Status.RUNNING)
    ctx = jobs.JobContext(job)
    seen = {}

    def outside(fn):
        def run():
            try:
                seen[fn.__name__] = fn()
            finally:
                connection.close()
        t = threading.Thread(target=run)
        t.start()
        t.join(10)

    def progress_seen():
        return wait_for(lambda: Job.objects.get(pk=job.pk).done == 7, timeout=10, message="progress outside")

    def cancel():
        return jobs.request_cancel(Job.objects.get(pk=job.pk))

    with ctx.side_connection(), transaction.atomic():
        Job.objects.create(issuer=issuer_co, kind="core.ping", title="dentro")  # the long transaction's work
        ctx.progress(7, total=10, message="a medias", force=True)
        ctx.set_result(step="uno")
        outside(progress_seen)
        assert seen["progress_seen"]
        assert not ctx.cancel_requested()
        outside(cancel)
        wait_for(ctx.cancel_requested, timeout=10, message="cancel seen through the side connection")
        with pytest.raises(jobs.JobCancelled):
            ctx.check_cancel()
        transaction.set_rollback(True)
    row = Job.objects.get(pk=job.pk)
    assert (row.done, row.total, row.message, row.result) == (7, 10, "a medias", {"step": "uno"})
    assert not Job.objects.filter(title="dentro").exists()  # the handler's own work rolled back


def test_one_vocabulary_of_job_states():
    assert {str(label) for label in Job.Status.labels} == {
        "Pendiente", "En proceso", "Finalizado", "Con errores", "Cancelado", "Eliminado"}


def test_batches_and_sends_use_the_job_vocabulary():
    from facturador.billing.models import Batch
    from facturador.mailing.models import MailSend

    words = {str(label) for label in Job.Status.labels}
    assert {str(label) for label in Batch.Status.labels} <= words
    assert {str(label) for label in MailSend.Status.labels} <= words


def test_test_set_runs_use_the_job_vocabulary_for_their_job_states():
    from facturador.habilitacion.models import TestSetRun

    assert TestSetRun.Outcome.FAILED.label == Job.Status.FAILED.label
    assert TestSetRun.Outcome.RUNNING.label == Job.Status.RUNNING.label


@jobs.job_handler("tests.rounds")
def _rounds(ctx):
    """A job done in rounds: runs `rounds` times as the same job, then finishes."""
    done = ctx.params.get("done", 0) + 1
    ctx.progress(done, total=ctx.params["rounds"])
    if ctx.params.get("cancel_at") == done:
        Job.objects.filter(pk=ctx.job.pk).update(cancel_requested=True)  # the user cancels during the round
    if done < ctx.params["rounds"]:
        return jobs.Again(30, params={"done": done})
    return Job.Status.FINISHED


def test_a_job_in_rounds_runs_again_as_the_same_row_with_a_new_task(issuer_co):
    from django_tasks_db.models import DBTaskResult

    job = jobs.create_job(issuer_co, "tests.rounds", params={"rounds": 3}, enqueue=False)
    jobs.enqueue_job(job.pk)
    tasks = set()
    for expected in ("again", "again", Job.Status.FINISHED):
        job.refresh_from_db()
        assert job.status == Job.Status.PENDING
        tasks.add(job.task_id)
        assert jobs.execute_job.call(job.pk) == expected
    job.refresh_from_db()
    assert job.status == Job.Status.FINISHED and job.done == 3 and job.params["done"] == 2
    assert len(tasks) == 3 and DBTaskResult.objects.filter(id__in=tasks).count() == 3
    assert Job.objects.filter(kind="tests.rounds").count() == 1
    # an ended job can be queued again as the same row, once
    assert jobs.restart(job, params={"done": 0}) and not jobs.restart(job)
    job.refresh_from_db()
    assert job.status == Job.Status.PENDING and job.finished_at is None


def test_a_job_in_rounds_cancelled_during_a_round_stops(issuer_co):
    job = jobs.create_job(issuer_co, "tests.rounds", params={"rounds": 3, "cancel_at": 1}, enqueue=False)
    assert jobs.execute_job.call(job.pk) == Job.Status.CANCELLED
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED and job.finished_at


@jobs.job_handler("tests.taken_back")
def _taken_back(ctx):
    """A worker that stalls: meanwhile the stale monitor takes its job back and another worker claims it."""
    Job.objects.filter(pk=ctx.job.pk).update(status=Job.Status.RUNNING, worker="otra-maquina:1",
                                             started_at=ctx.job.started_at + timedelta(seconds=90))
    return Job.Status.FINISHED


def test_a_stalled_execution_does_not_overwrite_the_job_another_worker_took_back(issuer_co):
    job = jobs.create_job(issuer_co, "tests.taken_back", enqueue=False)
    assert jobs.execute_job.call(job.pk) == "skipped"
    job.refresh_from_db()
    assert (job.status, job.worker, job.finished_at) == (Job.Status.RUNNING, "otra-maquina:1", None)
