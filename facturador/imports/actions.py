"""The user actions of imports: one function each, shared by the web UI, the API and the CLI.

Each takes ``(issuer, actor, *, ...)``, checks the rules, does the work (creating the job where there is
one) and writes the audit entry once. A refused action raises a `core.errors.Refusal` (codes
``imports.<subject>.<reason>``, and ``core.period.invalid``); the channels translate it.
Read-only queries and pure helpers are in `imports.services`; the import itself runs in `imports.jobs`.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.files.base import File
from django.db import transaction
from django.utils import timezone

from facturador.billing.models import Account
from facturador.core import audit, jobs
from facturador.core.actors import Actor
from facturador.core.errors import Conflict, Invalid, NotFound
from facturador.core.periods import clean_period
from facturador.imports import pipeline, services, staging
from facturador.imports.models import FileType, ImportJob, ImportTemplate, Operator
from facturador.tabular.errors import ImportFileError


def _own(issuer, obj, code, message, field):
    if obj is None or obj.issuer_id != issuer.pk:
        raise NotFound(code, message, field=field)
    return obj


def _own_pair(issuer, operator: Operator, template: ImportTemplate) -> None:
    """The operator and the template are the issuer's, and the template is the operator's."""
    _own(issuer, operator, "imports.operator.not_found", "Operador no encontrado.", "operator")
    _own(issuer, template, "imports.template.not_found", "Plantilla no encontrada.", "template")
    if template.operator_id != operator.pk:
        raise Invalid("imports.template.wrong_operator",
                      f"La plantilla «{template}» no es del operador {operator.code}.", field="template")


# --- the import queue --------------------------------------------------------------------------------

def schedule_import(issuer, actor: Actor, *, operator: Operator, template: ImportTemplate, period: str, upload,
                    file_type: str = "", run_at=None, dry_run: bool = False, force: bool = False,
                    enqueue: bool = True) -> ImportJob:
    """Queue an uploaded file (a Django UploadedFile or any file object with .name) for import.

    `run_at` (aware datetime) delays it; a past or empty one means now. `dry_run` validates without
    storing. The same content for the same operator and period that loaded (or is queued) is refused
    unless `force`. `enqueue=False` leaves the job for the caller to run (the CLI's --in-process).
    """
    period = clean_period(period)
    _own_pair(issuer, operator, template)
    if file_type and file_type not in FileType.values:
        raise Invalid("imports.file.unknown_file_type", f"Tipo de archivo desconocido: «{file_type}».",
                      field="file_type")
    name = services.clean_filename(getattr(upload, "name", ""))
    declared = getattr(upload, "size", None)
    if declared is not None and declared > settings.FACTURADOR_UPLOAD_MAX_BYTES:
        raise Invalid("imports.file.too_large", f"El archivo «{name}» pesa {declared / 2**20:.0f} MB; el máximo es "
                      f"{settings.FACTURADOR_UPLOAD_MAX_BYTES / 2**20:.0f} MB.", field="file")
    digest, size = services.sha256_of(upload)
    if size == 0:
        raise Invalid("imports.file.empty", f"El archivo «{name}» está vacío.", field="file")
    if not force and not dry_run:
        dup = services.duplicate_of(issuer, operator, period, digest)
        if dup:
            raise Conflict("imports.import.duplicate", services.duplicate_message(dup), field="file",
                           details={"import_id": dup.pk})
    run_at = run_at if run_at and run_at > timezone.now() else None
    with transaction.atomic():
        job = jobs.create_job(
            issuer, services.KIND, user=actor.user, run_after=run_at, enqueue=enqueue,
            title=f"Importación {operator.code} {period} — {name}" + (" (simulación)" if dry_run else ""),
        )
        imp = ImportJob(issuer=issuer, job=job, operator=operator, template=template, period=period,
                        file_type=file_type or template.file_type, original_name=name, size=size, sha256=digest,
                        dry_run=dry_run, force=force, scheduled_for=run_at, created_by=actor.user)
        imp.file.save(name, File(upload, name=name), save=False)
        imp.save()
        job.params = {"import_id": imp.pk}
        job.save(update_fields=["params"])
        audit.record("import.schedule", actor=actor, issuer=issuer, obj=imp, summary=job.title)
    return imp


def cancel_import(issuer, actor: Actor, *, imp: ImportJob) -> ImportJob:
    """Cancel a pending import at once, or ask a running one to stop at its next check."""
    _own(issuer, imp, "imports.import.not_found", "Importación no encontrada.", "id")
    if not jobs.request_cancel(imp.job):
        raise Conflict("imports.import.not_cancellable", "La importación ya terminó; no se puede cancelar.")
    audit.record("import.cancel", actor=actor, issuer=issuer, obj=imp)
    return imp


def delete_import(issuer, actor: Actor, *, imp: ImportJob) -> ImportJob:
    """Delete an import that has not started (it stays listed under "Eliminados")."""
    _own(issuer, imp, "imports.import.not_found", "Importación no encontrada.", "id")
    if not jobs.delete_pending(imp.job):
        raise Conflict("imports.import.not_pending", "Solo se pueden eliminar importaciones pendientes.")
    audit.record("import.delete", actor=actor, issuer=issuer, obj=imp)
    return imp


# --- operators -------------------------------------------------------------------------------------

def save_operator(issuer, actor: Actor, *, operator: Operator | None = None, code: str, name: str,
                  active: bool = True, notes: str = "") -> Operator:
    """Create an operator, or change `operator`. Codes are stored upper-case and are unique per issuer."""
    if operator is not None:
        _own(issuer, operator, "imports.operator.not_found", "Operador no encontrado.", "operator")
    code = (code or "").strip().upper()
    if not code:
        raise Invalid("imports.operator.code_missing", "Indique el código del operador.", field="code")
    taken = Operator.objects.filter(issuer=issuer, code=code)
    if operator is not None:
        taken = taken.exclude(pk=operator.pk)
    if taken.exists():
        raise Invalid("imports.operator.code_taken", f"Ya existe un operador con el código {code}.", field="code")
    operator = operator or Operator(issuer=issuer)
    operator.code, operator.name, operator.active, operator.notes = code, (name or "").strip(), active, notes or ""
    with transaction.atomic():
        operator.save()
        audit.record("import_operator.save", actor=actor, issuer=issuer, obj=operator, summary=str(operator))
    return operator


def delete_operator(issuer, actor: Actor, *, operator: Operator) -> None:
    """Delete an operator that has no templates nor imports (otherwise deactivate it)."""
    _own(issuer, operator, "imports.operator.not_found", "Operador no encontrado.", "operator")
    if operator.templates.exists() or operator.imports.exists():
        raise Conflict("imports.operator.in_use",
                       "El operador tiene plantillas o importaciones; desactívelo en su lugar.")
    with transaction.atomic():
        audit.record("import_operator.delete", actor=actor, issuer=issuer, obj=operator, summary=str(operator))
        operator.delete()


# --- templates -------------------------------------------------------------------------------------

def save_template(issuer, actor: Actor, *, operator: Operator, name: str, mapping: dict,
                  file_type: str = FileType.CONSUMPTION, all_or_nothing: bool = False,
                  change_threshold=Decimal("30"), base: ImportTemplate | None = None,
                  duplicate_key: list | None = None) -> ImportTemplate:
    """Store a template as a new version: version 1 of a new name, or the next version of `base`'s
    (or of an existing template of the same operator and name). Templates are never edited in place."""
    _own(issuer, operator, "imports.operator.not_found", "Operador no encontrado.", "operator")
    if base is not None:
        _own(issuer, base, "imports.template.not_found", "Plantilla no encontrada.", "template")
        if operator.pk != base.operator_id:
            raise Invalid("imports.template.operator_changed", "Una nueva versión debe ser del mismo operador.",
                          field="operator")
    name = (name or "").strip()
    if not name:
        raise Invalid("imports.template.name_missing", "Indique el nombre de la plantilla.", field="name")
    mapping = pipeline.normalize_mapping(mapping)
    key = list(duplicate_key or [])
    unknown = [k for k in key if k not in staging.KEY_FIELDS]
    if unknown:
        raise Invalid("imports.template.duplicate_key_invalid",
                      f"La clave de duplicados usa campos desconocidos: {', '.join(map(str, unknown))}. "
                      f"Use: {', '.join(staging.KEY_FIELDS)}.", field="duplicate_key")
    with transaction.atomic():
        template = ImportTemplate.save_version(
            issuer=issuer, operator=operator, name=name, file_type=file_type, mapping=mapping,
            all_or_nothing=all_or_nothing, change_threshold=change_threshold, duplicate_key=key,
            created_by=actor.user)
        audit.record("import_template.save", actor=actor, issuer=issuer, obj=template, summary=str(template))
    return template


def preview_template(issuer, actor: Actor, *, mapping: dict, sample) -> dict:
    """Preview the first 50 rows of a sample file mapped with `mapping` (a saved version's or a draft).

    Nothing is stored, so nothing is audited. A sample that cannot be read, or whose header lacks
    mapped columns, is refused (`imports.sample.*`, field "sample").
    """
    if sample is None:
        raise Invalid("imports.sample.missing", "Adjunte un archivo de muestra para probar la plantilla.",
                      field="sample")
    mapping = pipeline.normalize_mapping(mapping)
    try:
        preview = pipeline.preview_upload(mapping, sample)
    except ImportFileError as exc:
        raise Invalid("imports.sample.unreadable", exc.message_es, field="sample", details=exc.to_dict()) from exc
    if preview["missing_columns"]:
        raise Invalid(
            "imports.sample.missing_columns",
            "Faltan columnas en el encabezado: " + ", ".join(f"«{m}»" for m in preview["missing_columns"])
            + ". Columnas disponibles: " + ", ".join(f"«{a}»" for a in preview["available_columns"]) + ".",
            field="sample", details={"missing_columns": preview["missing_columns"],
                                     "available_columns": preview["available_columns"]})
    return preview


# --- proposals and dry runs (the visual mapper, the CLI) ----------------------------------------------

def save_mapped_template(issuer, actor: Actor, *, operator_code: str, operator_name: str = "", name: str,
                         mapping: dict, change_threshold=Decimal("30"), duplicate_key: list | None = None,
                         all_or_nothing: bool = False) -> ImportTemplate:
    """"Guardar versión" of the visual mapper: the next version of template `name` of the operator with this
    code (the operator is created when it does not exist yet)."""
    code = (operator_code or "").strip().upper()
    with transaction.atomic():
        operator = Operator.objects.filter(issuer=issuer, code=code).first()
        if operator is None:
            operator = save_operator(issuer, actor, code=code, name=operator_name or code)
        return save_template(issuer, actor, operator=operator, name=name, mapping=mapping,
                             change_threshold=change_threshold, duplicate_key=duplicate_key,
                             all_or_nothing=all_or_nothing)


def suggest_template(issuer, actor: Actor, *, operator_code: str, name: str, path: str, filename: str,
                     save: bool = False, operator_name: str = "", sheet=None) -> dict:
    """Propose a template for an operator's file (sheet, header and totals rows, each column's field,
    parser and rules), read in the isolated child process. With `save`, store it as a new version of
    template `name` (creating the operator when it does not exist yet); without, nothing is written.
    Returns {"proposal": Suggestion.to_dict(), "mapping": template dict, "template": saved or None}; a proposal
    that is no template yet (no column looked like the account...) is refused with `save`, else returned with
    "mapping" None and the refusal as "problem" (the columns found are what the user corrects from)."""
    name = (name or "").strip()
    if not name:
        raise Invalid("imports.template.name_missing", "Indique el nombre de la plantilla.", field="name")
    try:
        proposal = pipeline.propose(pipeline.sample_path(path, filename, sheet=sheet), issuer=issuer)
    except ImportFileError as exc:
        raise Invalid("imports.sample.unreadable", exc.message_es, field="sample", details=exc.to_dict()) from exc
    try:
        mapping = pipeline.normalize_mapping(proposal.template(name=name))
    except Invalid as problem:
        if save:
            raise
        return {"proposal": proposal.to_dict(), "mapping": None, "template": None, "problem": problem.as_dict()}
    template = None
    if save:
        template = save_mapped_template(issuer, actor, operator_code=operator_code, operator_name=operator_name,
                                        name=name, mapping=mapping)
    return {"proposal": proposal.to_dict(), "mapping": mapping, "template": template}


def dry_run_import(issuer, actor: Actor, *, operator: Operator, template: ImportTemplate, period: str, path: str,
                   filename: str) -> dict:
    """Validate a whole file with a template version and report rows, errors and totals; nothing is written
    (no queue entry, no audit entry). A file that cannot be read is refused (`imports.file.unreadable`)."""
    period = clean_period(period)
    _own_pair(issuer, operator, template)
    tpl = pipeline.Template.from_dict(template.mapping)
    try:
        result = pipeline.dry_run_file(path, filename, tpl, period)
    except ImportFileError as exc:
        raise Invalid("imports.file.unreadable", exc.message_es, field="file", details=exc.to_dict()) from exc
    expected = bool(tpl.declared_totals and tpl.declared_totals.expected)
    errors = [e for e in result["errors"] if e["code"] != "total_missing" or expected]  # no footer: not an error
    unknown = result["references"] - set(Account.objects.filter(issuer=issuer).values_list("reference", flat=True))
    return {"rows_read": result["rows_read"], "rows_valid": result["rows_valid"], "errors": errors,
            "errors_total": result["errors_total"], "totals": result["totals"], "warnings": result["warnings"],
            "unknown_references": {"count": len(unknown), "items": sorted(unknown)[:staging.LIST_LIMIT]}}
