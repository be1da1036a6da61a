"""Pure helpers and read-only queries of imports, shared by the actions, the job and every channel.

The user actions themselves (schedule, cancel, delete, save an operator or a template...) are in
`imports.actions`; nothing here writes the audit log.
"""

from __future__ import annotations

import hashlib

from django.utils import timezone

from facturador.core.errors import Invalid, NotFound
from facturador.core.jobs import JOB_FILTERS
from facturador.core.models import Job
from facturador.imports.models import ImportJob, ImportTemplate, Operator

KIND = "imports.run"
ALLOWED_EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods", ".csv", ".txt", ".zip")


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


def clean_filename(name: str) -> str:
    """The base name of an uploaded file, or a refusal when its type is not one we read."""
    name = (name or "archivo").replace("\\", "/").rsplit("/", 1)[-1]
    if not name.lower().endswith(ALLOWED_EXTENSIONS):
        raise Invalid("imports.file.unsupported_type",
                      f"El archivo «{name}» no es de un tipo admitido (xlsx, xls, xlsb, ods, csv, txt o zip).",
                      field="file")
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


# --- look-ups by what each channel names (id in the API, code and name on the CLI) ---------------

def find_operator(issuer, *, pk=None, code=None) -> Operator:
    qs = Operator.objects.filter(issuer=issuer)
    operator = qs.filter(pk=pk).first() if pk is not None else qs.filter(code=(code or "").strip().upper()).first()
    if operator is None:
        raise NotFound("imports.operator.not_found",
                       f"No existe el operador {pk if pk is not None else code} para {issuer.legal_name}.",
                       field="operator")
    return operator


def find_template(issuer, *, pk=None, operator=None, name=None, version=None) -> ImportTemplate:
    """A template version by id, or by operator and name (the latest version unless `version`)."""
    qs = ImportTemplate.objects.filter(issuer=issuer).select_related("operator")
    if operator is not None:
        qs = qs.filter(operator=operator)
    qs = qs.filter(pk=pk) if pk is not None else qs.filter(name=name)
    if version:
        qs = qs.filter(version=version)
    template = qs.order_by("-version").first()
    if template is None:
        whose = f" del operador {operator.code}" if operator is not None else ""
        raise NotFound("imports.template.not_found",
                       f"No existe la plantilla {pk if pk is not None else name}{whose}.", field="template")
    return template


def find_import(pk, issuer=None) -> ImportJob:
    qs = ImportJob.objects.select_related("job", "operator", "template", "issuer")
    if issuer is not None:
        qs = qs.filter(issuer=issuer)
    imp = qs.filter(pk=pk).first()
    if imp is None:
        raise NotFound("imports.import.not_found", f"No existe la importación #{pk}.", field="id")
    return imp


# --- listing (task viewer, API, CLI) ---------------------------------------------------------------

def imports_for(issuer, state: str | None = None, *, operator: str | None = None, period: str | None = None):
    """The issuer's imports by job state (`JOB_FILTERS` keys or "all"; default: all but deleted),
    operator code and period."""
    qs = ImportJob.objects.filter(issuer=issuer).select_related("job", "operator", "template")
    if state in JOB_FILTERS:
        qs = qs.filter(job__status__in=JOB_FILTERS[state][1])
    elif state != "all":
        qs = qs.exclude(job__status=Job.Status.DELETED)
    if operator:
        qs = qs.filter(operator__code=operator.strip().upper())
    if period:
        qs = qs.filter(period=period.strip())
    return qs
