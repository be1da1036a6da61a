"""Helpers shared by the billing CLI commands."""

import sys
import time

from django.core.management.base import CommandError

from facturador.core.models import Issuer, Job


def issuer_from(value: str) -> Issuer:
    raw = (value or "").strip().replace(".", "")
    nit = raw.split("-")[0]
    qs = Issuer.objects.filter(tax_id__in={raw, nit})
    if raw.isdigit() and len(raw) < 9:
        qs = qs | Issuer.objects.filter(pk=int(raw))
    issuers = list(qs.distinct())
    if len(issuers) != 1:
        raise CommandError(f"No se encontró el emisor «{value}» (use el NIT sin dígito de verificación).")
    return issuers[0]


def progress_bar(job: Job, out=None, width=40, every=0.5, timeout=None) -> Job:
    """Poll the job row and draw an updating terminal line until it ends."""
    out = out or sys.stdout
    start = time.monotonic()
    while True:
        job.refresh_from_db()
        pct = job.percent
        filled = int(width * pct / 100)
        bar = "#" * filled + "." * (width - filled)
        line = f"\r[{bar}] {pct:3d}% {job.done}/{job.total} {job.get_status_display()}"
        if job.message:
            line += f" · {job.message[:60]}"
        out.write(line.ljust(120)[:140])
        out.flush()
        if job.status in Job.FINAL:
            out.write("\n")
            return job
        if timeout and time.monotonic() - start > timeout:
            out.write("\n")
            raise CommandError("Se agotó el tiempo de espera; el lote sigue en segundo plano.")
        time.sleep(every)
