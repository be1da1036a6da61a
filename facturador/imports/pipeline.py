"""The import pipeline on top of facturador.tabular: read → map/validate → stage → reconcile → swap.

Target fields of an import template (tabular mapping targets; the catalog is `fields.LINE_FIELDS`):
    reference (required, text: leading zeros kept), concept, quantity, unit_price, amount (the total), and
    the typed line's service_line, plan, cost_center, unit, usage (minutes, data_mb, sms, kwh), net_amount,
    taxes (iva_rate, iva_amount, other_tax_rate, other_tax_amount), cut_date, usage_from, usage_to, plus any
    `extra.<name>` attribute. Each valid row becomes one `billing.Charge` (what a batch invoices), which
    holds everything the file said about it (listed as `models.Line`).
`amount` may be omitted when quantity and unit_price are mapped (amount = quantity × unit_price,
rounded half-up to cents) or when net_amount is (amount = net + taxes); `unit_price` defaults to
amount / quantity; `quantity` defaults to 1.
Declared control totals come from the file's footer row ("TOTAL", detected by tabular) through the
template's `declared_totals` (fields, e.g. ["amount"]), or from `declared_totals.expected_rows`.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import logging
import os
import tempfile
import time
from array import array
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings
from django.db import IntegrityError

from facturador.core.errors import Invalid
from facturador.core.jobs import JobContext, JobFailed
from facturador.core.models import Job
from facturador.imports import fields as line_fields
from facturador.imports import fastlines, loading, services, staging
from facturador.imports.models import ImportJob, ImportRowError
from facturador.tabular.errors import ImportFileError, column_letter, error_dict
from facturador.tabular.isolated import preview_isolated, sample_isolated
from facturador.tabular.limits import Limits
from facturador.tabular.mapping import Template, map_rows, open_for_template
from facturador.tabular.reports import write_error_report
from facturador.tabular.sheets import CONTENT_TYPES, TableWriter
from facturador.tabular.suggest import suggest

logger = logging.getLogger(__name__)

MAX_STORED_ERRORS = 50_000  # rows with errors kept for the report (all are counted)
FIELDS = line_fields.LINE_FIELD_NAMES
FIELD_LABELS = {"reference": "referencia", "concept": "concepto", "quantity": "cantidad", "unit_price": "valor unitario",
                "amount": "valor", **{k: v.lower() for k, v in line_fields.LABELS.items()
                                      if k not in ("reference", "concept", "quantity", "unit_price", "amount")}}
CENT = Decimal("0.01")
Q4 = Decimal("0.0001")
MAX_AMOUNT, MAX_PRICE, MAX_QTY = line_fields.MAX_AMOUNT, line_fields.MAX_PRICE, line_fields.MAX_QTY
DEFAULT_CONCEPT = "Consumo"

DEFAULT_MAPPING = {
    "header_row": 1,
    "sheet": None,
    "decimal_separator": ",",
    "thousands_separator": ".",
    "fields": [
        {"field": "reference", "header": "Referencia", "parser": "text", "required": True, "max_length": 48},
        {"field": "concept", "header": "Concepto", "parser": "text", "default": DEFAULT_CONCEPT, "max_length": 200},
        {"field": "quantity", "header": "Cantidad", "parser": "decimal", "default": "1"},
        {"field": "unit_price", "header": "Valor unitario", "parser": "decimal"},
        {"field": "amount", "header": "Valor", "parser": "decimal", "required": True, "decimal_places": 2},
    ],
    "declared_totals": {"fields": ["amount"], "from_footer": True},
}


class LineError(Exception):
    def __init__(self, field, message, code="invalid_value"):
        super().__init__(field, message)
        self.field = field
        self.message = message
        self.code = code


class MappingInvalid(Invalid):
    """A template mapping that cannot be used (codes `imports.mapping.<reason>`, field "mapping")."""


def normalize_mapping(data: dict) -> dict:
    """Validate a mapping dict (tabular Template + our target fields); return its canonical to_dict()."""
    def invalid(what, message, **details):
        return MappingInvalid(f"imports.mapping.{what}", message, field="mapping", details=details)

    try:
        tpl = Template.from_dict(data)
    except ImportFileError as exc:
        raise invalid("invalid", exc.message_es, reason=exc.code) from exc
    except (TypeError, AttributeError, ValueError) as exc:
        raise invalid("invalid", f"Plantilla no válida: {exc}.") from exc
    names = [f.field for f in tpl.fields]
    unknown = [n for n in names if n not in FIELDS and not (n.startswith(line_fields.EXTRA_PREFIX)
                                                            and len(n) > len(line_fields.EXTRA_PREFIX))]
    if unknown:
        raise invalid("unknown_fields", f"Campos desconocidos: {', '.join(unknown)}. Use: {', '.join(FIELDS)} o «extra.<nombre>».",
                      fields=unknown)
    if "reference" not in names:
        raise invalid("no_reference", "La plantilla debe mapear la referencia (campo «reference»).")
    if "amount" not in names and not {"quantity", "unit_price"} <= set(names) and "net_amount" not in names:
        raise invalid("no_amount", "La plantilla debe mapear el valor («amount»), la cantidad y el valor unitario, "
                                   "o el valor sin impuestos.")
    for f in tpl.fields:
        if f.field in line_fields.NUMERIC and f.parser not in ("decimal", "integer", "percent"):
            raise invalid("not_numeric", f"El campo «{f.field}» debe ser numérico (decimal, integer o percent).",
                          fields=[f.field])
        if f.field in line_fields.DATES and f.parser != "date":
            raise invalid("not_date", f"El campo «{f.field}» debe ser una fecha (date).", fields=[f.field])
        if (f.field == line_fields.USAGE_PERIOD) != (f.parser == "date_range"):
            raise invalid("not_date_range", f"El campo «{line_fields.USAGE_PERIOD}» se lee como periodo de fechas "
                                            "(date_range), y solo él.", fields=[f.field])
    both = [n for n in ("usage_from", "usage_to") if n in names]
    if line_fields.USAGE_PERIOD in names and both:
        raise invalid("usage_period_twice", "El periodo de consumo ya da las fechas desde y hasta: no mapee también "
                                            f"{' ni '.join('«' + n + '»' for n in both)}.", fields=both)
    return tpl.to_dict()


def _jsonable(v):
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    if isinstance(v, (_dt.date, _dt.time, _dt.datetime)):
        return v.isoformat()
    return str(v)


def make_line(template: Template | None = None, *, db_rounds: bool = False):
    """The function values -> (reference, concept, quantity, unit_price, amount), or LineError. Hot path.

    With `template`, a number its parser already rounded to the column's places (or fewer) is not
    rounded again. With `db_rounds`, quantity and unit price are left for the database to round
    (PostgreSQL rounds numeric input half away from zero, exactly as ROUND_HALF_UP); the amount is
    always rounded here, because the control total must be the sum of the stored amounts.
    """
    places = {f.field: f.decimal_places for f in template.fields} if template else {}

    def exact(field, scale):
        p = places.get(field)
        return p is not None and p <= scale

    amount_exact = exact("amount", 2)
    net_mapped = bool(template) and any(f.field == "net_amount" for f in template.fields)
    qty_exact = db_rounds or exact("quantity", 4)
    price_exact = db_rounds or exact("unit_price", 4)
    # Unrounded values left to the database get one unit of margin below the column's limit.
    price_max = MAX_PRICE - 1 if price_exact else MAX_PRICE
    qty_max = MAX_QTY - 1 if qty_exact else MAX_QTY

    def line(values: dict, _D=Decimal, _one=Decimal(1), _cls=Decimal):
        ref = values.get("reference")
        if ref is None:
            raise LineError("reference", "la referencia es obligatoria")
        if ref.__class__ is not str:
            ref = str(ref)
        if len(ref) > line_fields.REFERENCE_MAX:
            raise LineError("reference", f"la referencia tiene más de {line_fields.REFERENCE_MAX} caracteres")
        if "\x00" in ref:
            raise LineError("reference", "la referencia tiene un carácter nulo (código 0)")
        concept = values.get("concept") or DEFAULT_CONCEPT
        if concept.__class__ is not str:
            concept = str(concept)
        if len(concept) > line_fields.CONCEPT_MAX:
            concept = concept[:line_fields.CONCEPT_MAX]
        if "\x00" in concept:
            raise LineError("concept", "el concepto tiene un carácter nulo (código 0)")
        qty = values.get("quantity")
        if qty is None:
            qty = _one
        elif qty.__class__ is not _cls:
            qty = _D(qty)
        price = values.get("unit_price")
        if price is not None and price.__class__ is not _cls:
            price = _D(price)
        amount = values.get("amount")
        try:
            if amount is None and net_mapped and values.get("net_amount") is not None:
                amount = _D(values["net_amount"] + (values.get("iva_amount") or 0)
                            + (values.get("other_tax_amount") or 0)).quantize(CENT, ROUND_HALF_UP)
            if amount is None:
                if price is None:
                    raise LineError("amount", "falta el valor (ni valor ni valor unitario)")
                amount = (qty.quantize(Q4, ROUND_HALF_UP) * price).quantize(CENT, ROUND_HALF_UP)
            elif amount.__class__ is not _cls:
                amount = _D(amount).quantize(CENT, ROUND_HALF_UP)
            elif not amount_exact:
                amount = amount.quantize(CENT, ROUND_HALF_UP)
            if not qty_exact:
                qty = qty.quantize(Q4, ROUND_HALF_UP)
            if price is None and qty is _one:  # the usual line without a unit price: one unit of its amount
                price = amount
            elif price is None:
                q4 = qty.quantize(Q4, ROUND_HALF_UP) if qty_exact else qty
                price = (amount / q4).quantize(Q4, ROUND_HALF_UP) if q4 else amount
            elif not price_exact:
                price = price.quantize(Q4, ROUND_HALF_UP)
        except InvalidOperation:
            raise LineError("amount", "el valor es demasiado grande") from None
        if not -MAX_AMOUNT < amount < MAX_AMOUNT:
            raise LineError("amount", f"el valor {amount} es demasiado grande")
        if not -price_max < price < price_max:
            raise LineError("unit_price", f"el valor unitario {price} es demasiado grande")
        if not -qty_max < qty < qty_max:
            raise LineError("quantity", f"la cantidad {qty} es demasiado grande")
        return ref, concept, qty, price, amount

    return line


_line = make_line()

TYPED_COLUMNS = staging.TYPED_COLUMNS  # the typed part of a line, in make_typed's order


def make_typed(template: Template):
    """The function values -> the typed columns of the line (`TYPED_COLUMNS`; `extra` as JSON text), or
    LineError. Only the fields the template maps are looked at (hot path: straight-line code generated from
    the mapped columns). The function's ``varying`` (indexes a row can change) and ``blank`` (the tuple of a
    row that maps nothing) let the loader format the other columns once.

    >>> t = make_typed(Template.from_dict({"fields": [{"field": "reference", "header": "Cuenta"},
    ...     {"field": "service_line", "header": "Línea"}, {"field": "minutes", "header": "Minutos",
    ...     "parser": "integer"}]}))
    >>> t({"reference": "7", "service_line": "3001234567", "minutes": 12})[:8], t.varying
    (('3001234567', '', '', None, '', 12, None, None), (0, 5))
    >>> t({"reference": "7", "service_line": "3" * 49, "minutes": None})
    Traceback (most recent call last):
    ...
    facturador.imports.pipeline.LineError: ('service_line', 'el texto tiene más de 48 caracteres')
    """
    mapped = {f.field for f in template.fields}
    period = line_fields.USAGE_PERIOD in mapped  # its (first, last) dates are usage_from and usage_to
    if period:
        mapped |= {"usage_from", "usage_to"}
    blank = staging.TYPED_BLANK
    extras = [(f.field, f.field[len(line_fields.EXTRA_PREFIX):]) for f in template.fields
              if f.field.startswith(line_fields.EXTRA_PREFIX)]
    # Generated from field names, indexes and limits only (no user text in the source).
    env = {"_text": _typed_text, "_number": _typed_number, "_extra": _typed_extra(extras)}
    body, items, varying = [], [], []
    for i, name in enumerate(TYPED_COLUMNS[:-1]):
        if name not in mapped:
            items.append(f"B{i}")
            env[f"B{i}"] = blank[i]
            continue
        varying.append(i)
        if period and name in ("usage_from", "usage_to"):
            if name == "usage_from":
                body.append(f"    v{i}, v{i + 1} = get({line_fields.USAGE_PERIOD!r}) or (None, None)")
            items.append(f"v{i}")
            continue
        env[f"K{i}"] = name
        max_len, max_num = line_fields.TEXT_MAX.get(name), line_fields.NUM_MAX.get(name)
        body.append(f"    v{i} = get(K{i})")
        if max_len is not None:
            body.append(f"    if v{i} is None: v{i} = ''")
            body.append(f"    elif v{i}.__class__ is not str or len(v{i}) > {max_len} or '\\x00' in v{i}: "
                        f"v{i} = _text(K{i}, v{i}, {max_len})")
        elif max_num is not None:
            env[f"M{i}"] = max_num
            body.append(f"    if v{i} is not None and not -M{i} < v{i} < M{i}: _number(K{i}, v{i})")
        items.append(f"v{i}")
    if extras:
        varying.append(len(TYPED_COLUMNS) - 1)
        items.append("_extra(values)")
    else:
        items.append(repr(blank[-1]))
    if not varying:  # only the charge's fields are mapped: one shared tuple (the loader reuses its text)
        def typed(values: dict) -> tuple:
            return blank
    else:
        src = "\n".join(["def typed(values):", "    get = values.get", *body, f"    return ({', '.join(items)},)"])
        exec(compile(src, "<typed-line>", "exec"), env)  # noqa: S102
        typed = env["typed"]
    fix = _rate_fixer(mapped)
    if fix is not None:
        inner = typed

        def typed(values: dict) -> tuple:
            return fix(inner(values))
    typed.varying, typed.blank = tuple(varying), blank
    return typed


# (rate, its amount): a rate is proven to be a fraction when the line's net times it gives the amount.
_RATE_AMOUNTS = tuple((TYPED_COLUMNS.index(r), TYPED_COLUMNS.index(a))
                      for r, a in (("iva_rate", "iva_amount"), ("other_tax_rate", "other_tax_amount")))
_NET = TYPED_COLUMNS.index("net_amount")


def _rate_fixer(mapped: set):
    """``fix(typed) -> typed`` for a template mapping the net, a rate and its amount, else None.

    A spreadsheet cell formatted as a percentage shows «19 %» and holds 0.19 (and a CSV saved from it may say
    «0,19»): a rate below 1 whose fraction of the net gives the line's tax (within one peso) while the same
    number in percent does not is that fraction, read as 19. A real rate below one percent (0.5 % of 1,000 is
    5) stays as it is.
    """
    pairs = [(r, a) for r, a in _RATE_AMOUNTS if {TYPED_COLUMNS[r], TYPED_COLUMNS[a], "net_amount"} <= mapped]
    if not pairs:
        return None
    hundred = Decimal(100)

    def fix(t: tuple) -> tuple:
        net = t[_NET]
        if net is None:
            return t
        for r, a in pairs:
            rate, amount = t[r], t[a]
            if (rate is not None and amount is not None and 0 < rate < 1 and abs(net * rate - amount) <= 1
                    and abs(net * rate / hundred - amount) > 1):
                t = t[:r] + (rate * hundred,) + t[r + 1:]
        return t
    return fix


def _typed_text(name: str, v, max_len: int) -> str:
    if v.__class__ is not str:
        v = str(v)
    if len(v) > max_len:
        raise LineError(name, f"el texto tiene más de {max_len} caracteres", "too_long")
    if "\x00" in v:
        raise LineError(name, "el texto tiene un carácter nulo (código 0)")
    return v


def _typed_number(name: str, v):
    raise LineError(name, f"el valor {v} es demasiado grande", "too_large")


def _typed_extra(extras: list):
    dumps = json.dumps

    def extra(values: dict) -> str:
        ex = {}
        name = None
        for name, key in extras:
            v = values.get(name)
            if v is not None:
                ex[key] = v if v.__class__ in (str, int, bool) else _jsonable(v)
        if not ex:
            return "{}"
        text = dumps(ex, ensure_ascii=False)
        if "\x00" in text or "\\u0000" in text:
            raise LineError(name, "un atributo tiene un carácter nulo (código 0)")
        return text
    return extra


def process(imp: ImportJob, ctx: JobContext):
    """Run one import (called by the job handler). Returns the final Job status or raises JobFailed."""
    staging.clear_staging(imp.pk)
    ImportRowError.objects.filter(import_job=imp)._raw_delete(using="default")
    staging.clear_orphan_staging()
    if not imp.force and not imp.dry_run:
        dup = services.duplicate_of(imp.issuer, imp.operator, imp.period, imp.sha256, exclude_pk=imp.pk)
        if dup is not None and dup.loaded_at:
            raise JobFailed(services.duplicate_message(dup))
    ImportJob.objects.filter(pk=imp.pk).update(phase=ImportJob.Phase.STAGING)
    t_start = time.perf_counter()
    template = Template.from_dict(imp.template.mapping)
    if imp.template.all_or_nothing:
        template.all_or_nothing = True
    try:
        source = open_for_template(imp.file.path, imp.original_name, template, limits=import_limits(),
                                   background_metadata=True)
    except ImportFileError as exc:
        raise JobFailed(exc.message_es, str(exc)) from exc
    errors = loading.ErrorSpool(imp.pk)
    try:
        with source:
            try:
                mapper = map_rows(source, template, period=imp.period)
            except ImportFileError as exc:
                raise JobFailed(exc.message_es, str(exc)) from exc
            imp.header = list(mapper.header)
            imp.file_info = {"sheet": source.sheet_name, "encoding": source.encoding, "delimiter": source.delimiter,
                             "member": source.member, "file_type": source.file_type}
            ImportJob.objects.filter(pk=imp.pk).update(header=imp.header, file_info=imp.file_info)
            ctx.progress(0, total=source.total_rows_estimate or 0, message="Leyendo y validando", errors=0, force=True)
            try:
                loader = loading.loader_for(imp, ctx)
                with loader:
                    return _load(imp, ctx, template, source, mapper, loader, errors, t_start)
            except loading.AlreadyLoaded:
                imp.refresh_from_db()
                return Job.Status.FINISHED_WITH_ERRORS if imp.rows_invalid else Job.Status.FINISHED
    finally:
        errors.close()


def _load(imp, ctx, template, source, mapper, loader, errors, t_start):
    """Read, validate and hand the lines to the loader; reconcile; commit or discard."""
    batch_size = settings.FACTURADOR_IMPORT_BATCH_SIZE  # lines per COPY / executemany
    # Optional pause between batches (seconds) to keep a big import from saturating a shared database.
    throttle = settings.FACTURADOR_IMPORT_THROTTLE
    buf: list = []  # lines: tuples (the loader formats them) or COPY text (fastlines)
    stored_errors = 0
    valid = invalid = 0
    amount_total = Decimal(0)
    n = 0
    line = make_line(template, db_rounds=loader.db_rounds)
    typed = make_typed(template)
    key_hash = staging.duplicate_hasher(imp.template)
    key_hashes = array("q")  # 8 bytes a line: are there two equal duplicate keys? (see staging.duplicate_hasher)
    add_hash = key_hashes.append
    # and is every service line (or reference, without one) on one line only? (see staging._service_lines)
    line_hashes = array("q")
    add_line_hash = line_hashes.append
    loader.typed_varying, loader.typed_blank = typed.varying, typed.blank  # its COPY text of the unmapped, once
    columns = {p.name: p.col for p in mapper._plan}  # field -> column letter, for the line checks' errors
    add_error = errors.add

    def progress():
        ctx.progress(source.row_number, total=max(source.total_rows_estimate or 0, source.row_number), errors=invalid)

    def flush():
        ctx.check_cancel()
        loader.write(buf)
        buf.clear()
        if throttle:
            time.sleep(throttle)
        progress()

    # Clean rows straight to their COPY text (the direct loader, fastlines): their lines join `buf` in file order.
    taker = None if loader.method != "copy-direct" else fastlines.line_taker(
        template, mapper, loader, staging.duplicate_key(imp.template), out=buf, batch=batch_size, flush=flush,
        add_hash=add_hash, add_line_hash=add_line_hash)
    mapper.take = taker
    try:
        for mr in mapper:
            n += 1
            if mr.errors:
                invalid += 1
                if stored_errors < MAX_STORED_ERRORS:
                    stored_errors += 1
                    raw = [_jsonable(v) for v in mr.raw]
                    for e in mr.errors:
                        add_error(mr.row_number, e.column or "", str(e.value if e.value is not None else "")[:500],
                                  e.message_es[:500], raw, e.code)
            else:
                try:
                    ref, concept, qty, price, amount = line(mr.values)
                    extra = typed(mr.values)
                except LineError as exc:
                    invalid += 1
                    if stored_errors < MAX_STORED_ERRORS:
                        stored_errors += 1
                        field = exc.field
                        add_error(mr.row_number, columns.get(field) or FIELD_LABELS[field],
                                  str(mr.values.get(field) or "")[:500],
                                  f"Fila {mr.row_number}, «{line_fields.label(field)}»: {exc.message}.",
                                  [_jsonable(v) for v in mr.raw], exc.code)
                else:
                    valid += 1
                    amount_total += amount
                    buf.append((mr.row_number, ref, concept, qty, price, amount, extra))
                    add_hash(key_hash(ref, concept, extra))
                    add_line_hash(hash(extra[0] or ref))
            if len(buf) >= batch_size:
                flush()
            elif not n & 1023:
                ctx.check_cancel()
                progress()
    except ImportFileError as exc:
        raise JobFailed(exc.message_es, str(exc)) from exc
    ctx.check_cancel()
    loader.write(buf)
    loader.end_rows()
    if taker is not None:
        taken, cents = taker.counts
        valid += taken
        amount_total += Decimal(cents).scaleb(-2)
    stats = mapper.stats
    file_errors = [e for e in stats.file_errors
                   if not (e.code == "total_missing" and not (template.declared_totals and template.declared_totals.expected))]
    for e in file_errors:
        add_error(e.row or 0, e.column or "", str(e.value if e.value is not None else "")[:500], e.message_es[:500], [],
                  e.code)
    rows_read = valid + invalid  # the data rows, as "Filas leídas" says (not the file's line number)
    imp.file_info["encoding"] = source.encoding  # a CSV may switch from UTF-8 to Windows-1252 mid-file

    declared_amount = stats.declared_totals.get("amount")
    declared_rows = template.declared_totals.expected_rows if template.declared_totals else None
    imp.rows_read, imp.rows_valid, imp.rows_invalid = valid + invalid, valid, invalid
    imp.amount_total = amount_total.quantize(CENT)
    imp.declared_amount = declared_amount.quantize(CENT) if declared_amount is not None else None
    imp.declared_rows = declared_rows
    ctx.progress(rows_read, total=rows_read, errors=invalid, message="Conciliando", force=True)
    ctx.check_cancel()
    t_read = time.perf_counter()
    duplicates_possible = len(set(key_hashes)) < len(key_hashes)
    imp.reconciliation = loader.reconcile(imp.template.change_threshold, valid, imp.amount_total,
                                          duplicates_possible=duplicates_possible,
                                          unique_lines=len(set(line_hashes)) == len(line_hashes))
    t_reconcile = time.perf_counter()
    imp.reconciliation["file_errors"] = [e.message_es for e in file_errors]
    imp.reconciliation["warnings"] = file_warnings(stats.warnings, stats.subtotal_rows)
    imp.reconciliation["empty_rows"] = stats.empty_rows
    imp.reconciliation["footer_rows"] = list(stats.footer_rows)
    figures = dict(rows_read=imp.rows_read, rows_valid=valid, rows_invalid=invalid, amount_total=imp.amount_total,
                   declared_amount=imp.declared_amount, declared_rows=declared_rows, reconciliation=imp.reconciliation,
                   file_info=imp.file_info)
    ctx.set_result(import_id=imp.pk, rows_valid=valid, rows_invalid=invalid, amount=str(imp.amount_total),
                   loader=loader.method, foreign_keys=loader.foreign_keys, fast_lines=taker.counts[0] if taker else 0,
                   seconds={"read_validate_load": round(t_read - t_start, 2), "reconcile": round(t_reconcile - t_read, 2)})
    has_errors = bool(invalid or file_errors)
    refusal = None
    if stats.aborted:
        refusal = (f"Se detuvo la lectura: {invalid} filas con errores alcanzaron el máximo de la plantilla. "
                   "No se cargó nada; descargue el reporte de errores.")
    elif imp.dry_run:
        loader.discard(errors, phase=ImportJob.Phase.VALIDATED, **figures)
        ctx.progress(rows_read, message=f"Simulación: {valid} filas válidas, {invalid} con error; no se guardó nada",
                     force=True)
        return Job.Status.FINISHED_WITH_ERRORS if has_errors else Job.Status.FINISHED
    elif template.all_or_nothing and has_errors:
        refusal = (f"La plantilla es «todo o nada» y el archivo tiene {invalid + len(file_errors)} errores: "
                   "no se cargó ninguna fila. Descargue el reporte de errores, corrija y vuelva a importar.")
    elif valid == 0:
        refusal = ("El archivo no tiene filas válidas: no se cargó nada. Revise el reporte de errores."
                   if invalid else "El archivo no tiene filas de datos.")
    if refusal:
        loader.discard(errors, **figures)
        raise JobFailed(refusal)
    ctx.progress(rows_read, message="Cargando cargos", force=True)
    ctx.check_cancel()
    t_swap = time.perf_counter()
    try:
        inserted, replaced = loader.commit(errors, **figures)
    except IntegrityError as exc:
        logger.warning("Loading import %s was refused by the database: %s", imp.pk, exc)
        raise JobFailed("No se pudieron reemplazar los cargos del periodo: algunos ya están en uso (por ejemplo, "
                        "en facturas emitidas). No se cargó nada.", str(exc)) from exc
    ctx.job.result["seconds"].update(commit=round(time.perf_counter() - t_swap, 2))
    msg = f"{inserted} cargos cargados" + (f"; reemplazó {replaced} cargos anteriores del periodo" if replaced else "")
    ctx.set_result(charges=inserted, replaced=replaced)
    ctx.progress(rows_read, message=msg, errors=invalid, force=True)
    return Job.Status.FINISHED_WITH_ERRORS if has_errors else Job.Status.FINISHED


def import_limits() -> Limits:
    """What one import may read (settings): rows, cells and uncompressed bytes, checked before loading."""
    return Limits(max_rows=settings.FACTURADOR_IMPORT_MAX_ROWS, max_cells=settings.FACTURADOR_IMPORT_MAX_CELLS,
                  max_bytes=settings.FACTURADOR_IMPORT_MAX_BYTES)


# --- preview (template test) ---------------------------------------------------------------------

def preview_upload(mapping: dict, upload, limit: int = 50) -> dict:
    """Map the first `limit` rows of an uploaded sample file (with a valid, normalized mapping); a dict
    ready for a template or JSON. A file that cannot be read raises tabular's ImportFileError."""
    name = os.path.basename(getattr(upload, "name", "") or "muestra")
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    with tempfile.NamedTemporaryFile(prefix="facturador-preview-", suffix=suffix) as tmp:
        chunks = upload.chunks() if hasattr(upload, "chunks") else iter(lambda: upload.read(1 << 20), b"")
        for chunk in chunks:
            tmp.write(chunk)
        tmp.flush()
        return preview_path(mapping, tmp.name, name, limit=limit)


def preview_path(mapping: dict, path: str, name: str, limit: int = 50, period: str | None = None) -> dict:
    """`preview_upload` of a file already on disk (the mapper's stored sample)."""
    tpl = Template.from_dict(mapping)
    # the sample is untrusted: parse it in a child process with time and memory limits, never in this one
    result = preview_isolated(path, name, tpl.to_dict(), limit=limit, limits=import_limits(),
                              timeout=settings.FACTURADOR_PREVIEW_TIMEOUT,
                              memory_limit=settings.FACTURADOR_PREVIEW_MEMORY, period=period)
    fields = [f.field for f in tpl.fields]
    by_field = {f.field: f for f in tpl.fields}
    header_of = {column_letter(i): h for i, h in enumerate(result.header or [])}
    rows, valid, invalid = [], 0, 0
    detailed = []
    for mr in result.rows:
        errors = [e.message_es for e in mr.errors]
        bad_fields = {e.field for e in mr.errors}
        shown = {e.field: e.value for e in mr.errors if e.value not in (None, "")}  # what the cell said
        for e in mr.errors:
            detailed.append(error_dict(e, header_of.get(e.column or "", "")))
        if not errors:
            try:
                _line(mr.values)
            except LineError as exc:
                errors.append(f"Fila {mr.row_number}, «{line_fields.label(exc.field)}»: {exc.message}.")
                bad_fields.add(exc.field)
        valid += not errors
        invalid += bool(errors)
        rows.append({"row_number": mr.row_number, "values": {k: _jsonable(v) for k, v in mr.values.items()},
                     "cells": [_jsonable(mr.values.get(f)) for f in fields], "errors": errors,
                     "pairs": [(_jsonable(shown.get(f, mr.values.get(f))), f in bad_fields) for f in fields]})
    out = {"fields": fields, "labels": [by_field[f].label or line_fields.label(f) for f in fields], "rows": rows,
           "errors_detail": detailed, "valid": valid, "invalid": invalid, "header": result.header,
           "missing_columns": result.missing_columns, "available_columns": result.available_columns,
           "sheet": result.sheet_name, "sheets": result.sheet_names, "encoding": result.encoding,
           "delimiter": result.delimiter, "total_rows_estimate": result.total_rows_estimate,
           "warnings": result.warnings, "file_errors": [e.message_es for e in result.errors if e.row is None]}
    return out


# --- dry run in this process (the CLI's `run --dry-run --json`) -------------------------------------------

def dry_run_file(path: str, filename: str, template: Template, period: str) -> dict:
    """The whole file validated with the template and the line checks, nothing written: rows_read,
    rows_valid, errors ({row, column, header, value, code, message}), totals per numeric field, warnings
    (`file_warnings`) and `references`, the set of the valid lines' account references."""
    from facturador.tabular.errors import RowError
    from facturador.tabular.validate import validate_file

    line, typed = make_line(template), make_typed(template)
    references: set = set()

    def check(values, rn):
        try:
            ref = line(values)[0]
            typed(values)
        except LineError as exc:
            return [RowError(rn, None, exc.field, values.get(exc.field),
                             f"Fila {rn}, «{line_fields.label(exc.field)}»: {exc.message}.", exc.code)]
        references.add(ref)
        return []
    result = validate_file(path, filename, template, period=period, limits=import_limits(), extra_check=check)
    result["warnings"] = file_warnings(result["warnings"], result["subtotal_rows"])
    result["references"] = references
    return result


def file_warnings(warnings, subtotal_rows: list[int]) -> list[str]:
    """What the import and its dry run tell about the file's shape: the mapper's warnings (a renamed sheet, a
    moved header) and the subtotal rows skipped."""
    s = subtotal_rows
    return list(warnings) + ([f"Se omitió 1 fila de subtotal (fila {s[0]})." if len(s) == 1 else
                              f"Se omitieron {len(s)} filas de subtotal (filas {_rows_list(s)})."] if s else [])


def _rows_list(rows: list[int], shown: int = 10) -> str:
    """«4, 7, 9» or «4, 7, 9… y 12 más»."""
    text = ", ".join(str(r) for r in rows[:shown])
    return text + (f"… y {len(rows) - shown} más" if len(rows) > shown else "")


# --- proposals (the visual mapper, `import template suggest`) -----------------------------------------

def sample_path(path: str, name: str, *, sheet=None):
    """The first rows of a user's file, read in the isolated child process (time and memory limits)."""
    return sample_isolated(path, name, sheet=sheet, limits=import_limits(), timeout=settings.FACTURADOR_PREVIEW_TIMEOUT,
                           memory_limit=settings.FACTURADOR_PREVIEW_MEMORY)


def propose(sample, header_row=None, *, issuer=None):
    """tabular.suggest with the line catalog (fields.LINE_FIELDS) and the tax cross-check; with the `issuer`, the
    account column is zero-padded when the file lost the leading zeros of its accounts (`pad_references`)."""
    proposal = suggest(sample, line_fields.LINE_FIELDS, extra_prefix=line_fields.EXTRA_PREFIX,
                       checks=line_fields.TAX_CHECKS, header_row=header_row)
    if issuer is not None:
        pad_references(proposal, issuer)
    return proposal


def pad_references(proposal, issuer) -> None:
    """Propose ``zfill`` for the account column when its sample values are digits that match none of the
    issuer's accounts as they are but do once left-padded with zeros to one width (a spreadsheet that stored
    «0000000001» as the number 1). One query over the sample's few values."""
    from facturador.billing.models import Account

    column = next((c for c in proposal.columns if c.field == "reference"), None)
    values = [v.strip() for v in (column.samples if column else []) if v and v.strip()]
    if not values or not all(v.isdigit() and len(v) < 20 for v in values) or column.options.get("zfill"):
        return
    wanted = {v.zfill(w) for v in values for w in range(len(v), 21)}
    found = set(Account.objects.filter(issuer=issuer, reference__in=wanted).values_list("reference", flat=True))
    if any(v in found for v in values):
        return
    widths = {len(ref) for ref in found}
    if len(widths) == 1 and all(v.zfill(next(iter(widths))) in found for v in values):
        column.options = {**column.options, "zfill": widths.pop()}


# --- error report ----------------------------------------------------------------------------------

def _error_items(imp: ImportJob):
    """(row_number, raw, [messages]) per row, in row order, streamed from the database."""
    current, raw, msgs = None, (), []
    for rn, original, message in ImportRowError.objects.filter(import_job=imp).order_by("row_number", "id").values_list(
            "row_number", "original", "message").iterator(chunk_size=2000):
        if rn != current and current is not None:
            yield (current or None, raw, msgs)
            msgs = []
        current, raw = rn, tuple(original or ())
        msgs.append(message)
    if current is not None:
        yield (current or None, raw, msgs)


def error_report(imp: ImportJob, fmt: str):
    """Write the error report to a file under the data dir; returns (path, download name, content type)."""
    fmt = "xlsx" if fmt == "xlsx" else "csv"
    folder = os.path.join(settings.MEDIA_ROOT, f"issuers/{imp.issuer_id}/imports/reports")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"errores-{imp.pk}.{fmt}")
    write_error_report(_error_items(imp), imp.header or [], path, fmt)
    return path, f"errores-importacion-{imp.pk}.{fmt}", CONTENT_TYPES[fmt]


# --- reconciliation export -------------------------------------------------------------------------

def _amount(value) -> Decimal | str:
    """A stored amount (a decimal string in the reconciliation JSON) as a number for the spreadsheet."""
    return "" if value is None or value == "" else Decimal(value)


def reconciliation_csv(imp: ImportJob) -> bytes:
    """The reconciliation summary as a csv of sections (section; item; values...) for Excel (see tabular.sheets:
    the uploaded file's name and the references it brought are text, never formulas)."""
    out = io.BytesIO()
    with TableWriter(out, "csv", [], header=False) as w:
        _reconciliation_rows(imp, w.row)
    return out.getvalue()


def _reconciliation_rows(imp: ImportJob, row):
    r = imp.reconciliation or {}
    row(["Conciliación de la importación", imp.pk, imp.operator.code, imp.period, imp.original_name])
    if not r:
        row(["Sin datos: la importación no ha terminado de leerse."])
        return
    c = r["control"]
    row([])
    row(["Totales de control", "Calculado", "Declarado", "Cuadra"])
    yes = {True: "sí", False: "no", None: "sin dato"}
    row(["Filas (válidas + con error)", c["rows"] + c["rows_invalid"], c.get("declared_rows"), yes[c["rows_match"]]])
    row(["Filas válidas", c["rows"], "", ""])
    row(["Filas con error", c["rows_invalid"], "", ""])
    row(["Suma de valores", _amount(c["amount"]), _amount(c.get("declared_amount")), yes[c["amount_match"]]])
    u = r["unknown_references"]
    row([])
    row(["Referencias desconocidas", u["count"]])
    for ref in u["items"]:
        row(["", ref])
    d = r["duplicates"]
    row([])
    row(["Líneas duplicadas (" + " + ".join(line_fields.label(k).lower() for k in d.get("key") or ["reference", "concept"])
         + ")", d["count"], "Cuenta", "Línea", "Concepto", "Fecha de corte", "Veces", "Valor"])
    for item in d["items"]:
        row(["", "", item.get("reference", ""), item.get("service_line") or "", item.get("concept", ""),
             item.get("cut_date") or "", item["count"], _amount(item["amount"])])
    s = r.get("service_lines")
    if s and s["previous_lines"]:
        row([])
        row(["Líneas de servicio frente a " + s["period"], "Nuevas", s["new"], "Ya no están", s["gone"],
             "Con variación", s["changed"], "Umbral %", _amount(s["threshold_pct"])])
        row(["", "Línea", "Hallazgo", "Anterior", "Actual", "Variación %"])
        for what, shown in (("new", "Nueva"), ("gone", "Ya no está"), ("changed", "Variación")):
            for item in s[what + "_items"]:
                row(["", item["line"], shown, _amount(item["previous"]), _amount(item["current"]),
                     _amount(item.get("change_pct"))])
    p = r["previous_period"]
    row([])
    row(["Periodo anterior", p["period"], "Filas", p["rows"], "Valor", _amount(p["amount"]),
         "Variación total %", _amount(p["total_change_pct"])])
    row(["Referencias con variación mayor al umbral", p["changed_count"], "Umbral %", _amount(p["threshold_pct"]),
         "Nuevas", p["new_references"], "Ausentes", p["missing_references"]])
    row(["", "Referencia", "Anterior", "Actual", "Variación %"])
    for item in p["changed"]:
        row(["", item["reference"], _amount(item["previous"]), _amount(item["current"]), _amount(item["change_pct"])])
