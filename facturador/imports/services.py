"""Scheduling, idempotency rules, cancel/delete and the error report of imports (used by UI, API and CLI)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from django.core.files.base import File
from django.db import transaction
from django.utils import timezone

from facturador.core import jobs
from facturador.core.models import Job
from facturador.imports.models import ImportJob, ImportTemplate, Operator

KIND = "imports.run"
PERIOD_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
ALLOWED_EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods", ".csv", ".txt", ".zip")


class ImportRefused(Exception):
    """A request the rules refuse (duplicate file, bad period...). `message` is Spanish; `code` is stable."""

    def __init__(self, code: str, message: str, field: str = ""):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.field = field


def sha256_of(fileobj) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    if hasattr(fileobj, "seek"):
        fileobj.seek(0)
    chunks = fileobj.chunks() if hasattr(fileobj, "chunks") else iter(lambda: fileobj.read(1 << 20), b"")
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    if hasattr(fileobj, "seek"):
        fileobj.seek(0)
    return digest.hexdigest(), size


def validate_period(period: str) -> str:
    period = (period or "").strip()
    if not PERIOD_RE.match(period):
        raise ImportRefused("period", f"El periodo «{period}» no es válido: use AAAA-MM (por ejemplo 2026-10).", "period")
    return period


def validate_filename(name: str) -> str:
    if not name.lower().endswith(ALLOWED_EXTENSIONS):
        raise ImportRefused("file_type", f"El archivo «{name}» no es de un tipo admitido "
                            f"(xlsx, xls, xlsb, ods, csv, txt o zip).", "file")
    return name


def duplicate_of(issuer, operator, period, sha256, exclude_pk=None) -> ImportJob | None:
    """An earlier import of the same content for the same operator and period that loaded (or is about to)."""
    qs = ImportJob.objects.filter(issuer=issuer, operator=operator, period=period, sha256=sha256, dry_run=False).exclude(
        pk=exclude_pk)
    loaded = qs.filter(loaded_at__isnull=False).first()
    if loaded:
        return loaded
    return qs.filter(job__status__in=Job.ACTIVE).first()


def duplicate_message(dup: ImportJob) -> str:
    when = timezone.localtime(dup.created_at).strftime("%d/%m/%Y %H:%M")
    state = "ya se importó" if dup.loaded_at else "ya está en la cola"
    return (f"Este archivo {state} para el operador {dup.operator.code} y el periodo {dup.period} "
            f"(importación #{dup.pk} del {when}). Marque «forzar» para volver a importarlo.")


@dataclass
class ScheduleRequest:
    operator: Operator
    template: ImportTemplate
    period: str
    upload: object  # a Django UploadedFile or any file object with .name
    file_type: str = ""
    run_at: object = None  # aware datetime or None (now)
    dry_run: bool = False
    force: bool = False
    user: object = None


def schedule(issuer, req: ScheduleRequest, *, enqueue: bool = True) -> ImportJob:
    """Create the queue entry (ImportJob + core Job). Raises ImportRefused when the rules say no."""
    period = validate_period(req.period)
    if req.operator.issuer_id != issuer.pk or req.template.issuer_id != issuer.pk:
        raise ImportRefused("not_found", "Operador o plantilla no encontrados.")
    if req.template.operator_id != req.operator.pk:
        raise ImportRefused("template_operator", f"La plantilla «{req.template}» no es del operador {req.operator.code}.",
                            "template")
    name = validate_filename(getattr(req.upload, "name", "archivo").replace("\\", "/").rsplit("/", 1)[-1])
    digest, size = sha256_of(req.upload)
    if size == 0:
        raise ImportRefused("empty_file", f"El archivo «{name}» está vacío.", "file")
    if not req.force and not req.dry_run:
        dup = duplicate_of(issuer, req.operator, period, digest)
        if dup:
            raise ImportRefused("duplicate", duplicate_message(dup), "file")
    run_at = req.run_at if req.run_at and req.run_at > timezone.now() else None
    file_type = req.file_type or req.template.file_type
    with transaction.atomic():
        job = jobs.create_job(
            issuer, KIND, user=req.user, run_after=run_at, enqueue=enqueue,
            title=f"Importación {req.operator.code} {period} — {name}" + (" (simulación)" if req.dry_run else ""),
        )
        imp = ImportJob(issuer=issuer, job=job, operator=req.operator, template=req.template, period=period,
                        file_type=file_type, original_name=name, size=size, sha256=digest, dry_run=req.dry_run,
                        force=req.force, scheduled_for=run_at, created_by=req.user)
        imp.file.save(name, File(req.upload, name=name), save=False)
        imp.save()
        job.params = {"import_id": imp.pk}
        job.save(update_fields=["params"])
    return imp


def cancel(imp: ImportJob) -> bool:
    return jobs.request_cancel(imp.job)


def delete_pending(imp: ImportJob) -> bool:
    return jobs.delete_pending(imp.job)


def imports_for(issuer, state: str | None = None):
    from facturador.core.jobs import JOB_FILTERS

    qs = ImportJob.objects.filter(issuer=issuer).select_related("job", "operator", "template")
    if state in JOB_FILTERS:
        qs = qs.filter(job__status__in=JOB_FILTERS[state][1])
    elif state != "all":
        qs = qs.exclude(job__status=Job.Status.DELETED)
    return qs
