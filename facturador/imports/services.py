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


# --- Líneas: the typed lines of loaded imports -----------------------------------------------------------

LINE_FILTERS = ("import_id", "operator", "period", "account", "service_line", "cost_center", "concept", "plan")
LINE_SUMS = ("amount", "net_amount", "iva_amount", "other_tax_amount", "minutes", "data_mb", "sms", "kwh")


def lines_for(issuer, filters: dict | None = None):
    """The lines of the issuer's loaded imports (a dry run or a replaced import has none), filtered by
    import id, operator code, period, account reference, service line, cost center, concept, plan
    (exact, account and line also by prefix with a trailing *) and extra attributes (`attr.<name>=value`)."""
    from facturador.imports.models import ImportJob, Line

    f = {k: (v or "").strip() for k, v in (filters or {}).items() if v not in (None, "")}
    qs = Line.objects.filter(issuer=issuer)  # only a loaded import has charges (see models.Line)
    if f.get("import_id", "").isdigit():  # within its period (charges have no source_import_id index)
        qs = qs.filter(source_import_id=int(f["import_id"]))
        if not f.get("period"):
            f["period"] = ImportJob.objects.filter(issuer=issuer, pk=int(f["import_id"])).values_list(
                "period", flat=True).first() or ""
    if f.get("operator"):
        qs = qs.filter(source_operator=f["operator"].upper())
    if f.get("period"):
        qs = qs.filter(period=f["period"])
    elif f.get("account"):  # an account's lines of every period: one descent of the (issuer, period, reference)
        # index per period the issuer has imported, instead of reading all its charges
        qs = qs.filter(period__in=list(ImportJob.objects.filter(issuer=issuer, loaded_at__isnull=False)
                                       .order_by().values_list("period", flat=True).distinct()))
    for key, column in (("account", "reference"), ("service_line", "service_line"), ("cost_center", "cost_center"),
                        ("concept", "concept"), ("plan", "plan")):
        value = f.get(key)
        if value:
            qs = qs.filter(**({f"{column}__startswith": value[:-1]} if value.endswith("*") else {column: value}))
    for key, value in f.items():
        if key.startswith("attr.") and len(key) > 5 and key[5:].replace("_", "").isalnum():
            qs = qs.filter(**{f"extra__{key[5:]}": value})
    return qs.order_by("period", "reference", "service_line", "source_import_id", "row_number")


def line_totals(qs) -> dict:
    """Count, amounts and usage sums of a lines queryset (Decimals; None when no line has the value)."""
    from django.db.models import Count, Sum

    # The line's IVA is its charge's tax_amount (models.Line.iva_amount).
    return qs.order_by().aggregate(lines=Count("id"), **{k: Sum("tax_amount" if k == "iva_amount" else k)
                                                         for k in LINE_SUMS})


def line_columns():
    """The export's columns, in the screen's order: the typed fields then the extra attributes."""
    from facturador.tabular.sheets import DATE, DECIMAL, INTEGER, MONEY, Column

    return [Column("Importación", INTEGER, width=11), Column("Periodo", width=9), Column("Fila", INTEGER, width=7),
            Column("Cuenta", width=16), Column("Línea", width=14), Column("Concepto", width=24), Column("Plan", width=16),
            Column("Centro de costo", width=18), Column("Cantidad", DECIMAL, decimals=None), Column("Unidad", width=8),
            Column("Minutos", DECIMAL, decimals=None), Column("Datos (MB)", DECIMAL, decimals=None),
            Column("SMS", DECIMAL, decimals=None), Column("kWh", DECIMAL, decimals=None),
            Column("Valor sin impuestos", MONEY), Column("Tarifa IVA %", DECIMAL, decimals=None), Column("IVA", MONEY),
            Column("Tarifa otros %", DECIMAL, decimals=None), Column("Otros impuestos", MONEY),
            Column("Valor total", MONEY), Column("Fecha de corte", DATE), Column("Consumo desde", DATE),
            Column("Consumo hasta", DATE)]


def lines_export(qs, fmt: str, path: str) -> int:
    """Write the lines (and their extra attributes, one column each) to `path` as xlsx or csv; rows written."""
    from facturador.tabular.sheets import Column, TableWriter

    keys: list[str] = []
    for extra in qs.exclude(extra={}).values_list("extra", flat=True)[:2000]:
        for k in extra or {}:
            if k not in keys:
                keys.append(k)
    columns = line_columns() + [Column(k.replace("_", " ").capitalize(), width=16) for k in keys]
    with TableWriter(path, fmt, columns, sheet_name="Líneas") as w:
        for ln in qs.iterator(chunk_size=2000):
            extra = ln.extra or {}
            w.row([ln.import_job_id, ln.period, ln.row_number, ln.reference, ln.service_line, ln.concept, ln.plan,
                   ln.cost_center, ln.quantity, ln.unit, ln.minutes, ln.data_mb, ln.sms, ln.kwh, ln.net_amount,
                   ln.iva_rate, ln.iva_amount, ln.other_tax_rate, ln.other_tax_amount, ln.amount, ln.cut_date,
                   ln.usage_from, ln.usage_to, *[extra.get(k) for k in keys]])
        return w.rows_written


def row_errors(imp, limit: int = 100) -> list[dict]:
    """The import's first stored row errors in the public shape {row, column, header, value, code, message}."""
    from facturador.tabular.errors import column_index

    header = imp.header or []

    def header_of(col: str) -> str:
        try:
            i = column_index(col)
        except (ValueError, TypeError):
            return ""
        return header[i] if i < len(header) else ""

    return [{"row": e.row_number or None, "column": e.column, "header": header_of(e.column), "value": e.value,
             "code": e.code, "message": e.message} for e in imp.row_errors.all()[:limit]]
