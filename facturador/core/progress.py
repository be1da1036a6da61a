"""A terminal progress bar for the CLI: polls a core.Job row and redraws one line until it ends."""

import sys
import time

from django.core.management.base import CommandError

from facturador.core.models import Job


def progress_line(job: Job, width: int = 40) -> str:
    filled = int(width * job.percent / 100)
    line = f"[{'#' * filled}{'.' * (width - filled)}] {job.percent:3d}% {job.done}/{job.total} {job.get_status_display()}"
    return f"{line} · {job.message[:70]}" if job.message else line


def follow_job(job: Job, out=None, *, width: int = 40, every: float = 0.5, timeout: float | None = None,
               timeout_message: str = "Se agotó el tiempo de espera; la tarea sigue en segundo plano.") -> Job:
    """Redraw the bar until the job reaches a final state (or `timeout` seconds pass)."""
    out = out or sys.stdout
    start = time.monotonic()
    while True:
        job.refresh_from_db()
        out.write("\r" + progress_line(job, width).ljust(130)[:160])
        out.flush()
        if job.status in Job.FINAL:
            out.write("\n")
            return job
        if timeout and time.monotonic() - start > timeout:
            out.write("\n")
            raise CommandError(timeout_message)
        time.sleep(every)
