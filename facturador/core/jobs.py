"""Background jobs: the user-visible record (`Job`) on top of Django's tasks API.

Every long piece of work is a `Job` row (status, progress, error) plus one django-tasks task,
`execute_job(job_id)`, that dispatches to the handler registered for the job's kind:

    @job_handler("imports.run")
    def run_import(ctx: JobContext):
        ctx.progress(0, total=n)
        for ...:
            ctx.check_cancel()
            ...
            ctx.progress(i)

Handlers must be idempotent: a job interrupted by a dead worker is re-queued (see
`requeue_stale_jobs`) and runs again from the start of the handler, which skips what is done.
Only one execution of a job runs at a time: claiming is a conditional UPDATE.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_tasks import task

from facturador.core.models import Job

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
_HANDLERS: dict[str, callable] = {}
_PERIODIC: dict[str, callable] = {}


class JobCancelled(Exception):
    """Raised inside a handler when the user asked to cancel the job."""


class Again:
    """What a handler returns to run again later as the same job (the same row, a new task): for work done in
    rounds (e.g. a batch's DIAN sending), so that people see one job, not one per round.

    The job goes back to pending with `run_after` (and `params` merged into its params) in the transaction that
    enqueues its next task, so a crash leaves it either running (the stale monitor re-queues it) or pending with
    its task. A cancel requested meanwhile ends it as cancelled instead.
    """

    def __init__(self, seconds: float = 0.0, params: dict | None = None):
        self.seconds = seconds
        self.params = params or {}


class JobFailed(Exception):
    """A handler's clean failure: `message` (Spanish) is shown to the user."""

    def __init__(self, message, english=None):
        super().__init__(english or message)
        self.message = message


def job_handler(kind: str):
    def register(fn):
        _HANDLERS[kind] = fn
        return fn

    return register


def periodic(name: str):
    """Register a function every worker's monitor calls about once a minute (e.g. to create due jobs).

    It must be cheap and idempotent: several workers call it concurrently.
    """

    def register(fn):
        _PERIODIC[name] = fn
        return fn

    return register


def run_periodic():
    for name, fn in list(_PERIODIC.items()):
        try:
            fn()
        except Exception:
            logger.warning("Periodic task %s failed", name, exc_info=True)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class JobContext:
    """What a handler gets: the job, its params, progress and cancellation."""

    PROGRESS_EVERY = 0.5  # seconds between progress writes

    def __init__(self, job: Job):
        self.job = job
        self.params = job.params
        self._last_write = 0.0
        self._last_cancel_check = 0.0
        self._side: _SideChannel | None = None

    @property
    def issuer(self):
        return self.job.issuer

    def progress(self, done: int | None = None, total: int | None = None, message: str | None = None,
                 errors: int | None = None, force: bool = False):
        job = self.job
        if done is not None:
            job.done = done
        if total is not None:
            job.total = total
        if message is not None:
            job.message = message[:500]
        if errors is not None:
            job.errors = errors
        if self._side is not None:
            self._side.changed(force)
            return
        now = time.monotonic()
        if force or now - self._last_write >= self.PROGRESS_EVERY:
            self._last_write = now
            Job.objects.filter(pk=job.pk).update(
                done=job.done, total=job.total, message=job.message, errors=job.errors, heartbeat_at=timezone.now()
            )

    def cancel_requested(self) -> bool:
        if self._side is not None:
            self.job.cancel_requested = self._side.cancelled
            return self.job.cancel_requested
        now = time.monotonic()
        if now - self._last_cancel_check < self.PROGRESS_EVERY:
            return self.job.cancel_requested
        self._last_cancel_check = now
        self.job.cancel_requested = Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists()
        return self.job.cancel_requested

    def check_cancel(self):
        if self.cancel_requested():
            raise JobCancelled()

    def set_result(self, **values):
        self.job.result.update(values)
        if self._side is not None:
            self._side.changed(True)
            return
        Job.objects.filter(pk=self.job.pk).update(result=self.job.result)

    @contextmanager
    def side_connection(self):
        """Progress, result and cancel checks through a thread with a database connection of its own.

        For a handler that holds one long transaction on its connection (a bulk load that must
        commit or roll back whole): writes made inside that transaction would stay invisible to
        the user until it ends, and would lock the job row against the heartbeat. Inside this
        block the handler's connection never touches the job row.
        """
        if self._side is not None:
            yield self
            return
        side = _SideChannel(self, self.PROGRESS_EVERY)
        side.start()
        self._side = side
        try:
            yield self
        finally:
            self._side = None
            side.stop()


class _SideChannel(threading.Thread):
    def __init__(self, ctx: JobContext, every: float):
        super().__init__(daemon=True, name=f"job-side-{ctx.job.pk}")
        self.ctx = ctx
        self.every = every
        self.cancelled = ctx.job.cancel_requested
        self._dirty = False
        self._wake = threading.Event()
        self._stopped = False

    def changed(self, urgent: bool):
        self._dirty = True
        if urgent:
            self._wake.set()

    def stop(self):
        self._stopped = True
        self._wake.set()
        self.join()

    def run(self):
        try:
            while True:
                self._wake.wait(self.every)
                self._wake.clear()
                self._flush()
                if self._stopped:
                    break
        finally:
            connection.close()

    def _flush(self):
        job = self.ctx.job
        try:
            if self._dirty:
                self._dirty = False
                Job.objects.filter(pk=job.pk).update(
                    done=job.done, total=job.total, message=job.message, errors=job.errors, result=dict(job.result),
                    heartbeat_at=timezone.now())
            if not self.cancelled:
                self.cancelled = Job.objects.filter(pk=job.pk, cancel_requested=True).exists()
        except Exception:  # progress is best effort; the handler's own work must go on
            logger.warning("Progress update for job %s failed", job.pk, exc_info=True)


def create_job(issuer, kind: str, *, title: str = "", params: dict | None = None, user=None, total: int = 0,
               run_after=None, enqueue: bool = True) -> Job:
    """Create a job and enqueue it once the surrounding transaction commits."""
    if kind not in _HANDLERS:
        raise ValueError(f"No handler registered for job kind {kind!r}")
    job = Job.objects.create(
        issuer=issuer, kind=kind, title=title, params=params or {}, created_by=user, total=total, run_after=run_after
    )
    if enqueue:
        transaction.on_commit(lambda: enqueue_job(job.pk))
    return job


def enqueue_job(job_id: int):
    job = Job.objects.get(pk=job_id)
    t = execute_job
    if job.run_after and job.run_after > timezone.now():
        t = t.using(run_after=job.run_after)
    result = t.enqueue(job_id)
    Job.objects.filter(pk=job_id).update(task_id=str(result.id))
    return result


def restart(job: Job, *, params: dict | None = None, run_after=None) -> bool:
    """Queue an ended job again as the same row (see `Again`); False if it is not ended (pending, running,
    deleted). Safe with concurrent callers: one conditional UPDATE takes it, in the transaction of its task."""
    ended = [s for s in Job.FINAL if s != Job.Status.DELETED]
    with transaction.atomic():
        taken = Job.objects.filter(pk=job.pk, status__in=ended).update(
            status=Job.Status.PENDING, run_after=run_after, params={**job.params, **(params or {})}, attempts=0,
            cancel_requested=False, error="", worker="", heartbeat_at=None, finished_at=None)
        if taken:
            enqueue_job(job.pk)
    return bool(taken)


def request_cancel(job: Job) -> bool:
    """Ask a job to stop. A pending job is cancelled at once; a running one at its next check."""
    updated = Job.objects.filter(pk=job.pk, status=Job.Status.PENDING).update(
        status=Job.Status.CANCELLED, cancel_requested=True, finished_at=timezone.now(), message="A pedido del usuario"
    )
    if not updated:
        updated = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(cancel_requested=True)
    job.refresh_from_db()
    return bool(updated)


def delete_pending(job: Job) -> bool:
    """Deleting is only possible while the job has not started."""
    updated = Job.objects.filter(pk=job.pk, status=Job.Status.PENDING).update(
        status=Job.Status.DELETED, finished_at=timezone.now()
    )
    job.refresh_from_db()
    return bool(updated)


class _Heartbeat(threading.Thread):
    def __init__(self, job_id: int, every: float):
        super().__init__(daemon=True, name=f"heartbeat-{job_id}")
        self.job_id = job_id
        self.every = every
        self.stopped = threading.Event()

    def run(self):
        try:
            while not self.stopped.wait(self.every):
                try:
                    Job.objects.filter(pk=self.job_id, status=Job.Status.RUNNING).update(heartbeat_at=timezone.now())
                except Exception:  # a locked SQLite file must not kill the job
                    logger.warning("Heartbeat for job %s failed", self.job_id, exc_info=True)
        finally:
            connection.close()


@task()
def execute_job(job_id: int):
    """The one task every job runs through."""
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, status=Job.Status.PENDING).update(
        status=Job.Status.RUNNING, started_at=now, heartbeat_at=now, worker=worker_name()
    )
    if not claimed:
        logger.info("Job %s is not pending any more; nothing to do", job_id)
        return "skipped"
    job = Job.objects.select_related("issuer").get(pk=job_id)
    handler = _HANDLERS.get(job.kind)
    ctx = JobContext(job)
    heartbeat = _Heartbeat(job_id, max(1.0, settings.FACTURADOR_JOB_STALE_SECONDS / 4))
    heartbeat.start()
    final, again = {}, None
    try:
        if handler is None:
            raise JobFailed("Tipo de tarea desconocido.", f"No handler for job kind {job.kind!r}")
        outcome = again = handler(ctx)
        if isinstance(outcome, Again):
            outcome = None
        status = Job.Status.FINISHED_WITH_ERRORS if ctx.job.errors else Job.Status.FINISHED
        if outcome in (Job.Status.FINISHED, Job.Status.FINISHED_WITH_ERRORS, Job.Status.FAILED):
            status = outcome
        final = {"status": status}
    except JobCancelled:
        final = {"status": Job.Status.CANCELLED, "message": "A pedido del usuario"}
    except JobFailed as exc:
        logger.warning("Job %s (%s) failed: %s", job_id, job.kind, exc)
        final = {"status": Job.Status.FAILED, "error": exc.message}
    except Exception:
        logger.exception("Job %s (%s) crashed", job_id, job.kind)
        final = {"status": Job.Status.FAILED,  # the exception itself is in the log, not on the page
                 "error": f"La tarea se detuvo por un error inesperado, que quedó registrado para el equipo técnico "
                          f"(tarea #{job_id}). Intente de nuevo; si se repite, informe al administrador."}
    finally:
        heartbeat.stopped.set()
        heartbeat.join()
    if isinstance(again, Again) and final["status"] not in (Job.Status.FAILED, Job.Status.CANCELLED):
        if _run_again(ctx, again):
            return "again"
        if not Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).exists():
            return "skipped"  # the stale monitor took it back meanwhile: its new execution owns the row
        final = {"status": Job.Status.CANCELLED, "message": "A pedido del usuario"}
    # Only this execution's claim is written (its started_at): a stalled worker whose job the stale monitor took
    # back and another worker claimed must not overwrite that execution's row.
    written = Job.objects.filter(
        pk=job_id, started_at=now, status__in=(Job.Status.RUNNING, Job.Status.PENDING)
    ).update(
        done=ctx.job.done, total=ctx.job.total, errors=ctx.job.errors, result=ctx.job.result,
        message=final.get("message", ctx.job.message)[:500], finished_at=timezone.now(), **{
            k: v for k, v in final.items() if k != "message"
        }
    )
    if not written:
        logger.warning("Job %s was taken back while this execution ran; its outcome (%s) was not written",
                       job_id, final["status"])
        return "skipped"
    return final["status"]


def _run_again(ctx: JobContext, again: Again) -> bool:
    """Put a job that finished a round back in the queue (see `Again`); False when it was cancelled meanwhile."""
    job = ctx.job
    run_after = timezone.now() + timedelta(seconds=again.seconds) if again.seconds > 0 else None
    with transaction.atomic():
        taken = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, cancel_requested=False).update(
            status=Job.Status.PENDING, run_after=run_after, params={**job.params, **again.params}, attempts=0,
            done=job.done, total=job.total, errors=job.errors, result=job.result, message=job.message[:500],
            worker="", heartbeat_at=None)
        if taken:
            enqueue_job(job.pk)  # the task row commits with the job's state (the database backend)
    return bool(taken)


def requeue_stale_jobs(stale_seconds: int | None = None) -> list[int]:
    """Re-queue running jobs whose worker stopped sending heartbeats (killed, machine lost).

    Safe with many workers: each job is taken back by exactly one conditional UPDATE.
    """
    stale_seconds = stale_seconds or settings.FACTURADOR_JOB_STALE_SECONDS
    cutoff = timezone.now() - timedelta(seconds=stale_seconds)
    requeued = []
    stale = Job.objects.filter(status=Job.Status.RUNNING).filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True))
    for job in stale.only("id", "attempts", "heartbeat_at"):
        if job.attempts + 1 >= MAX_ATTEMPTS:
            Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, heartbeat_at=job.heartbeat_at).update(
                status=Job.Status.FAILED, finished_at=timezone.now(),
                error="La tarea se interrumpió demasiadas veces; revise los trabajadores y vuelva a intentarlo.",
            )
            continue
        taken = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, heartbeat_at=job.heartbeat_at).update(
            status=Job.Status.PENDING, attempts=job.attempts + 1,
            message="Reanudada tras la interrupción de un trabajador",
        )
        if taken:
            logger.warning("Job %s was stale (no heartbeat since %s); re-queued", job.pk, job.heartbeat_at)
            enqueue_job(job.pk)
            requeued.append(job.pk)
    return requeued


class StaleJobMonitor(threading.Thread):
    """Runs inside every worker: periodically takes back jobs of dead workers and runs periodic hooks."""

    def __init__(self, every: float = 30.0):
        super().__init__(daemon=True, name="stale-job-monitor")
        self.every = every
        self.stopped = threading.Event()

    def run(self):
        while True:
            try:
                close_old_connections()
                requeue_stale_jobs()
            except Exception:
                logger.warning("Stale job check failed", exc_info=True)
            run_periodic()
            if self.stopped.wait(self.every):
                break
        connection.close()


# --- listing (the task viewer's filters, shared by every channel) ---------------------------------

JOB_FILTERS = {
    "active": (_("Pendientes y en proceso"), Job.ACTIVE),
    "pending": (_("Pendientes"), (Job.Status.PENDING,)),
    "running": (_("En proceso"), (Job.Status.RUNNING,)),
    "finished": (_("Finalizados"), (Job.Status.FINISHED, Job.Status.FINISHED_WITH_ERRORS, Job.Status.FAILED, Job.Status.CANCELLED)),
    "deleted": (_("Eliminados"), (Job.Status.DELETED,)),
}


def filter_jobs(issuer, state=None, kind_prefix=None):
    qs = Job.objects.filter(issuer=issuer)
    if kind_prefix:
        qs = qs.filter(kind__startswith=kind_prefix)
    if state in JOB_FILTERS:
        qs = qs.filter(status__in=JOB_FILTERS[state][1])
    else:
        qs = qs.exclude(status=Job.Status.DELETED)
    return qs


# --- core's own job kinds -----------------------------------------------------------------------

@job_handler("core.ping")
def ping(ctx: JobContext):
    """Checks the workers: counts `steps` steps of `seconds` each, and records who ran it.

    Each execution appends to result["runs"], so a job run twice is visible.
    """
    steps = int(ctx.params.get("steps", 1))
    seconds = float(ctx.params.get("seconds", 0))
    runs = ctx.job.result.get("runs", []) + [worker_name()]
    ctx.set_result(runs=runs)
    ctx.progress(0, total=steps, message="Comprobando trabajadores", force=True)
    for i in range(steps):
        ctx.check_cancel()
        time.sleep(seconds)
        ctx.progress(i + 1)
    ctx.progress(steps, message="Trabajador en funcionamiento", force=True)
