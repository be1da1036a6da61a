"""The user actions of mass billing, one function each: `(issuer, actor, *, ...)`.

Each action validates its input, does the work (starting a job where there is one) and writes the audit
entry, once, whatever the channel (web views, API views and the `batch`, `cartera` and `payments` commands
are thin adapters). A refusal is a `core.errors.Refusal` with a stable code `billing.<subject>.<reason>`
(or `core.<subject>.<reason>` for shared inputs such as periods and numbering); errors of the pure libraries
(printing's TemplateError and BarcodeError, payments' AsobancariaError) are translated here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from facturador.billing import accounts_import, invoice_templates, recaudo, services
from facturador.billing import batch as engine
from facturador.billing.models import Account, Batch, BillingSettings, InvoiceTemplate, Tariff
from facturador.billing.selection import FILTERS, Selection, require_clean, resolve_references, select_by_filters
from facturador.core import audit, jobs
from facturador.core.actors import Actor
from facturador.core.errors import Conflict, Invalid, NotFound, Refusal
from facturador.core.models import Job
from facturador.core.periods import clean_period
from facturador.core.uploads import TooLarge, read_within
from facturador.payments import asobancaria
from facturador.printing.render import TemplateError

PAYMENT_FILE_RULES = {  # rules of payments.asobancaria whose refusal has a code of its own
    "nit_mismatch": "billing.payment_file.wrong_issuer",
    "service_code_unknown": "billing.payment_file.unknown_service_code",
}


def _invalid(code: str, exc: ValidationError) -> Invalid:
    """A model's ValidationError as a refusal naming its first field (all messages in `details`)."""
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    name, messages = next(iter(errors.items()))
    return Invalid(code, " ".join(messages), field=None if name == "__all__" else name, details={"errors": errors})


# -------------------------------------------------------------------------------- accounts

def _save_account(issuer, account: Account):
    try:
        account.full_clean(exclude=["issuer"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise _invalid("billing.account.invalid", exc) from exc
    if Account.objects.filter(issuer=issuer, reference=account.reference).exclude(pk=account.pk).exists():
        raise Invalid("billing.account.duplicate_reference", f"Ya existe una cuenta con la referencia {account.reference}.",
                      field="reference", details={"reference": account.reference})
    account.save()


def create_account(issuer, actor: Actor, **fields) -> Account:
    account = Account(issuer=issuer, **fields)
    _save_account(issuer, account)
    audit.record("account.create", actor=actor, issuer=issuer, obj=account, summary=str(account))
    return account


def update_account(issuer, actor: Actor, account: Account, **fields) -> Account:
    for name, value in fields.items():
        setattr(account, name, value)
    _save_account(issuer, account)
    audit.record("account.update", actor=actor, issuer=issuer, obj=account, summary=str(account))
    return account


def delete_account(issuer, actor: Actor, account: Account):
    if account.charges.exists() or account.invoices.exists():
        raise Conflict("billing.account.in_use", "La cuenta tiene cargos o facturas; márquela como retirada.",
                       details={"reference": account.reference})
    audit.record("account.delete", actor=actor, issuer=issuer, obj=account, summary=str(account))
    account.delete()


def import_accounts(issuer, actor: Actor, *, path, filename: str, dry_run: bool = False, valid_only: bool = False,
                    opening_period: str | None = None) -> accounts_import.Report:
    """The accounts register from a spreadsheet or CSV, in the caller (CLI, API; the web UI runs the same work
    as a job: `check_accounts_file`, `confirm_accounts_file`): every row checked, then all valid accounts
    created/updated and their opening balances booked in one transaction (`accounts_import.run`, which lists
    the refusals). `dry_run`: the checks only, nothing written (the report is returned even with errors)."""
    period = _opening_period(opening_period)
    report = accounts_import.run(issuer, path, filename, dry_run=dry_run, valid_only=valid_only, period=period)
    if not dry_run:
        audit.record("account.import", actor=actor, issuer=issuer,
                     summary=accounts_import.audit_summary(filename, report, period))
    return report


def _opening_period(value: str | None) -> str:
    return clean_period(value, field="opening_period") if value else accounts_import.default_opening_period()


def check_accounts_file(issuer, actor: Actor, *, upload, filename: str, opening_period: str | None = None) -> Job:
    """The web UI's first step: keep the uploaded file and check it in the background (a dry run of
    `import_accounts`); the job's result is the report, shown with every error before anything is saved."""
    period = _opening_period(opening_period)
    accounts_import.check_extension(filename)
    token = accounts_import.store_upload(issuer, upload, filename)
    with transaction.atomic():
        return jobs.create_job(issuer, accounts_import.JOB_KIND, title=f"Revisión del archivo de cuentas {filename}"[:300],
                               user=actor.user, params={"token": token, "filename": filename,
                                                        "opening_period": period, "dry_run": True, "ip": actor.ip})


def accounts_file_import(issuer, check: Job) -> Job | None:
    """The import job started from the checked file `check` (None while it has not been confirmed)."""
    return Job.objects.filter(issuer=issuer, kind=accounts_import.JOB_KIND, params__check=check.pk).first()


def accounts_file_refusal(issuer, check: Job, *, valid_only: bool = False) -> Refusal | None:
    """Why the checked file `check` cannot be imported now, or None when it can (the confirmation's
    conditions, which the upload page also asks before it offers the button)."""
    if not check.is_done:
        return Conflict("billing.accounts_file.not_checked",
                        "La revisión del archivo no ha terminado bien; no se puede importar.")
    if accounts_file_import(issuer, check) is not None:
        return Conflict("billing.accounts_file.already_confirmed", "Este archivo ya se importó (o se está importando).")
    if accounts_import.stored_upload(issuer, check.params["token"]) is None:
        return Conflict("billing.accounts_file.gone", "El archivo ya no está disponible; cárguelo de nuevo.")
    report = check.result or {}
    if report.get("errors_total") and not valid_only:
        return Invalid("billing.accounts_file.invalid_rows",
                       f"El archivo tiene {report['errors_total']} errores; no se importó ninguna cuenta. Corrija el "
                       "archivo o importe solo las filas válidas.", field="file", details=report)
    if not report.get("rows_valid"):
        return Invalid("billing.accounts_file.empty", "El archivo no tiene cuentas válidas para importar.",
                       field="file", details=report)
    return None


def confirm_accounts_file(issuer, actor: Actor, *, check: Job, valid_only: bool = False) -> Job:
    """The second step: import the checked file in the background, once (a second confirmation of the same check
    is refused). A file with errors imports nothing unless `valid_only`."""
    with transaction.atomic():
        check = Job.objects.select_for_update().filter(
            pk=check.pk, issuer=issuer, kind=accounts_import.JOB_KIND, params__dry_run=True).first()
        if check is None:
            raise NotFound("billing.accounts_file.not_found", "No se encontró la revisión de ese archivo.")
        refusal = accounts_file_refusal(issuer, check, valid_only=valid_only)
        if refusal is not None:
            raise refusal
        params = check.params
        return jobs.create_job(issuer, accounts_import.JOB_KIND, title=f"Carga de cuentas {params['filename']}"[:300],
                               user=actor.user, params={**params, "dry_run": False, "valid_only": bool(valid_only),
                                                        "check": check.pk, "ip": actor.ip})


# -------------------------------------------------------------------------------- settings

def save_settings(issuer, actor: Actor, **fields) -> BillingSettings:
    """Change the issuer's billing configuration (only the fields given; see `services.SETTINGS_FIELDS`): bank
    agreement GLN and other collection GLNs, payment tolerance, days to pay, barcode widths, numbering, interest,
    printed texts. Values may be typed (UI, API) or text (CLI `key=value`). Every field is checked; a refusal
    names the first bad field and lists all of them in `details.errors` ([{field, code, message}])."""
    conf = BillingSettings.for_issuer(issuer)
    values, errors = services.clean_settings(conf, fields)
    if errors:
        first = errors[0]
        raise Invalid(first["code"], first["message"], field=first["field"], details={"errors": errors})
    before = services.settings_dict(conf)
    for name, value in values.items():
        setattr(conf, name, value)
    try:
        conf.full_clean(exclude=["issuer"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise _invalid("billing.settings.invalid", exc) from exc
    conf.save()
    after = services.settings_dict(conf)
    changed = [k for k in after if after[k] != before[k]]
    audit.record("billing.settings", actor=actor, issuer=issuer, obj=conf,
                 summary=", ".join(f"{k}: {before[k]} → {after[k]}" for k in changed)[:500] or "sin cambios")
    return conf


# --------------------------------------------------------------------------------- tariffs

def _save_tariff(tariff: Tariff):
    try:
        tariff.full_clean(exclude=["issuer"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise _invalid("billing.tariff.invalid", exc) from exc
    tariff.save()


def create_tariff(issuer, actor: Actor, **fields) -> Tariff:
    tariff = Tariff(issuer=issuer, **fields)
    _save_tariff(tariff)
    audit.record("tariff.create", actor=actor, issuer=issuer, obj=tariff, summary=str(tariff))
    return tariff


def update_tariff(issuer, actor: Actor, tariff: Tariff, **fields) -> Tariff:
    for name, value in fields.items():
        setattr(tariff, name, value)
    _save_tariff(tariff)
    audit.record("tariff.update", actor=actor, issuer=issuer, obj=tariff, summary=str(tariff))
    return tariff


def delete_tariff(issuer, actor: Actor, tariff: Tariff):
    audit.record("tariff.delete", actor=actor, issuer=issuer, obj=tariff, summary=str(tariff))
    tariff.delete()


def apply_tariffs(issuer, actor: Actor, *, period) -> int:
    """(Re)generate the tariff charges of `period`; returns how many charges were created."""
    from facturador.billing.tariffs import apply_tariffs as generate

    period = clean_period(period, field="period")
    count = generate(issuer, period)
    audit.record("tariffs.apply", actor=actor, issuer=issuer, summary=f"{period}: {count} cargos")
    return count


# ------------------------------------------------------------------------------- templates

def upload_template(issuer, actor: Actor, *, name: str, source: str, assets: dict[str, bytes] | None = None,
                    description: str = "", make_default: bool = False) -> InvoiceTemplate:
    """A new version of template `name`, validated by rendering the sample invoice (with and without DIAN
    data); the assets of the previous version are kept unless replaced. Refusal `billing.template.invalid`
    (details: line, column, diagnostic)."""
    name = (name or "").strip()
    if not name:
        raise Invalid("billing.template.no_name", "Indique el nombre de la plantilla.", field="name")
    try:
        tpl = invoice_templates.create_version(
            issuer, name, source, assets=assets, description=description or "", make_default=make_default,
            user=actor.user, keep_assets_from=invoice_templates.latest(issuer, name))
    except TemplateError as exc:
        raise services.template_refusal(exc) from exc
    audit.record("template.create", actor=actor, issuer=issuer, obj=tpl, summary=str(tpl))
    return tpl


def activate_template(issuer, actor: Actor, template: InvoiceTemplate) -> InvoiceTemplate:
    """Make `template` the issuer's default template."""
    template = services.resolve_template(issuer, template)
    invoice_templates.set_default(template)
    audit.record("template.default", actor=actor, issuer=issuer, obj=template, summary=str(template))
    return template


# --------------------------------------------------------------------------------- batches

@dataclass
class BatchPreview:
    """A batch checked and planned, not created: what the web UI shows before the user confirms."""

    periods: list[str]
    billing_type: str
    issue_date: dt.date
    due_date: dt.date
    template: InvoiceTemplate
    electronic: bool
    references: list[str]  # the references asked for (empty: the accounts are chosen by `filters`)
    filters: dict = field(default_factory=dict)
    selection: Selection = field(default_factory=Selection)
    plan: engine.Plan = field(default_factory=engine.Plan)


def _reference_lines(references) -> list[tuple[int, str]]:
    """References as (line number, reference): given so by a parsed file, or numbered from 1 in a list."""
    return [r if isinstance(r, (tuple, list)) else (no, str(r)) for no, r in enumerate(references, start=1)]


def preview_batch(issuer, *, periods, references=None, billing_type: str = Batch.BillingType.NORMAL,
                  issue_date: dt.date | None = None, due_date: dt.date | None = None, template=None,
                  electronic: bool = False, service_class: str = "", stratum: str = "", state: str = "",
                  reference: str = "", municipality_code: str = "") -> BatchPreview:
    """Every check of a batch, and its plan (who is billed how much), without creating anything.

    `references` (a list of references, or of (line, reference) from `selection.parse_references`) chooses the
    accounts; without it the filters do (never retired accounts). `template`: an InvoiceTemplate, its id or
    name, or empty for the default one. Dates default to today and 15 days later.
    """
    periods = services.parse_periods(periods)
    if billing_type not in Batch.BillingType.values:
        raise Invalid("billing.batch.invalid_billing_type", "Tipo de facturación no válido.", field="billing_type",
                      details={"billing_type": billing_type, "choices": list(Batch.BillingType.values)})
    issue_date = services.parse_date(issue_date, field="issue_date") or dt.date.today()
    due_date = services.parse_date(due_date, field="due_date") or issue_date + dt.timedelta(
        days=BillingSettings.for_issuer(issuer).due_days)
    if due_date < issue_date:
        raise Invalid("billing.batch.due_before_issue", "La fecha límite de pago es anterior a la fecha de expedición.",
                      field="due_date")
    template = services.resolve_template(issuer, template)
    values = {"service_class": service_class, "stratum": stratum, "state": state, "reference": reference,
              "municipality_code": municipality_code}
    filters = {k: str(values[k]).strip() for k in FILTERS if values[k] and str(values[k]).strip()}
    if references:  # the references choose the accounts; filters are then not used
        filters = {}
        selection = require_clean(resolve_references(issuer, _reference_lines(references)))
        asked = list(selection.references)
    else:
        selection = select_by_filters(issuer, filters)
        asked = []
    engine.check_periods_have_charges(issuer, periods, billing_type)
    if electronic:
        from facturador.billing import electronic as dian

        dian.check_ready(issuer)
    else:
        engine.numbering_range(issuer, issue_date)
    plan = engine.plan(issuer, periods, billing_type, selection.account_ids, issue_date=issue_date)
    if not plan.items:
        raise Invalid("billing.batch.nothing_to_bill",
                      "Ninguna de las cuentas seleccionadas tiene valores por facturar en esos periodos.",
                      field="periods", details={"problem_count": len(plan.skipped), "problems": plan.skipped[:1000]})
    return BatchPreview(periods=periods, billing_type=billing_type, issue_date=issue_date, due_date=due_date,
                        template=template, electronic=bool(electronic), references=asked, filters=filters,
                        selection=selection, plan=plan)


def create_batch(issuer, actor: Actor, *, periods, references=None, billing_type: str = Batch.BillingType.NORMAL,
                 issue_date: dt.date | None = None, due_date: dt.date | None = None, template=None,
                 electronic: bool = False, service_class: str = "", stratum: str = "", state: str = "",
                 reference: str = "", municipality_code: str = "") -> Batch:
    """Check and create a batch and start its generation job (enqueued when the transaction commits).
    The inputs are those of :func:`preview_batch`."""
    p = preview_batch(issuer, periods=periods, references=references, billing_type=billing_type,
                      issue_date=issue_date, due_date=due_date, template=template, electronic=electronic,
                      service_class=service_class, stratum=stratum, state=state, reference=reference,
                      municipality_code=municipality_code)
    with transaction.atomic():
        batch = Batch.objects.create(
            issuer=issuer, periods=p.periods, billing_type=p.billing_type, issue_date=p.issue_date,
            due_date=p.due_date, template=p.template, template_version=p.template.version, references=p.references,
            filters=p.filters, account_count=p.selection.count, electronic=p.electronic, created_by=actor.user,
            total_amount=p.plan.total,
        )
        batch.output_dir = f"issuers/{issuer.pk}/billing/lote-{batch.pk}"
        batch.save(update_fields=["output_dir"])
        job = engine.start_job(batch, user=actor.user, total=p.plan.count, account_ids=p.selection.account_ids)
        engine.start_helpers(batch, job, p.plan.count)
        audit.record("batch.create", actor=actor, issuer=issuer, obj=batch,
                     summary=f"{p.plan.count} facturas, periodos {', '.join(p.periods)}")
    return batch


def cancel_batch(issuer, actor: Actor, batch: Batch) -> Batch:
    """Stop a batch's generation: at once if it has not started, at its next check otherwise."""
    if batch.job is None or not jobs.request_cancel(batch.job):
        raise Conflict("billing.batch.not_running", "El lote ya terminó; no se puede cancelar.",
                       details={"batch": batch.pk})
    audit.record("batch.cancel", actor=actor, issuer=issuer, obj=batch)
    return batch


def resume_batch(issuer, actor: Actor, batch: Batch) -> Batch:
    """A new job for a cancelled or failed batch; it continues where the last one stopped (no invoice twice)."""
    if batch.job is not None and batch.job.is_active:
        raise Conflict("billing.batch.running", "El lote ya se está generando.", details={"batch": batch.pk})
    with transaction.atomic():
        engine.start_job(batch, user=actor.user, total=batch.job.total if batch.job else 0)
        audit.record("batch.resume", actor=actor, issuer=issuer, obj=batch)
    return batch


# -------------------------------------------------------------------------------- payments

def _payment_file_too_large(name: str, size: int | None, limit: int) -> Invalid:
    def mb(n):
        return f"{n / 2**20:.1f}".replace(".", ",") + " MB"
    what = f"pesa {mb(size)}; el máximo es {mb(limit)}" if size else f"supera el máximo de {mb(limit)}"
    return Invalid("billing.payment_file.too_large", f"El archivo de recaudo «{name}» {what}. No se registró ningún pago.",
                   field="file", details={"limit": limit})


def import_payments(issuer, actor: Actor, *, data: bytes | None = None, upload=None,
                    name: str = "") -> recaudo.ImportResult:
    """Apply an Asobancaria 2001 recaudo file (nothing is applied if any check fails), given as `data` or as an
    `upload` (an uploaded or opened binary file, read only when it is within the size limit).

    Refusals (details: line, rule, record_field): `billing.payment_file.too_large` (over
    `FACTURADOR_PAYMENT_FILE_MAX_BYTES`), `billing.payment_file.invalid` (structure, control totals),
    `billing.payment_file.wrong_issuer` (the header's NIT is not the issuer's),
    `billing.payment_file.unknown_service_code` (a lot's EAN-13 is not one of the issuer's GLNs);
    `billing.payment_file.duplicate`."""
    name = name or getattr(upload, "name", "") or "recaudo.txt"
    if upload is not None:
        try:
            data = read_within(upload, settings.FACTURADOR_PAYMENT_FILE_MAX_BYTES)
        except TooLarge as exc:
            raise _payment_file_too_large(name, exc.size, settings.FACTURADOR_PAYMENT_FILE_MAX_BYTES) from None
    elif len(data) > settings.FACTURADOR_PAYMENT_FILE_MAX_BYTES:
        raise _payment_file_too_large(name, len(data), settings.FACTURADOR_PAYMENT_FILE_MAX_BYTES)
    try:
        result = recaudo.import_file(issuer, data, name=name, user=actor.user)
    except asobancaria.AsobancariaError as exc:
        where = f"Línea {exc.line_no}: " if exc.line_no else ""
        raise Invalid(PAYMENT_FILE_RULES.get(exc.code, "billing.payment_file.invalid"),
                      f"{where}{exc.message_es} No se registró ningún pago.",
                      field="file", details={"line": exc.line_no, "rule": exc.code, "record_field": exc.field}) from exc
    audit.record("payments.import", actor=actor, issuer=issuer, obj=result.payment_file,
                 summary=f"{result.matched} pagos aplicados, {len(result.unmatched)} sin cuenta")
    return result
