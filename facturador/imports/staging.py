"""The staging table and its atomic swap into `billing.Charge` (the `StagingLoader`'s path), and the
reconciliation queries shared by both loaders (see `loading`).

SQLite (and any other backend): `executemany` of one INSERT statement per batch; on PostgreSQL
(`bench/import_rows.py --loader staging` only: imports there use the direct loader) COPY. Each batch commits on its own: staging
rows are invisible to billing, and a killed or cancelled import only leaves staging rows of its own,
which the next run (or the cleanup) removes. The swap into charges is a single transaction.
"""

from __future__ import annotations

import heapq
import logging
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import NOT_PROVIDED
from django.utils import timezone

from facturador.imports.models import ImportedLine, ImportJob

logger = logging.getLogger(__name__)

# The typed part of a line, as `pipeline.make_typed` returns it (its charge's columns besides reference, concept,
# quantity, unit price and amount), in this order.
TYPED_COLUMNS = ("service_line", "plan", "cost_center", "quantity", "unit", "minutes", "data_mb", "sms", "kwh",
                 "net_amount", "iva_rate", "iva_amount", "other_tax_rate", "other_tax_amount", "cut_date", "usage_from",
                 "usage_to", "extra")
# The typed tuple of a line that maps none of them (text columns "", the others None, `extra` "{}").
TYPED_BLANK = ("", "", "", None, "", None, None, None, None, None, None, None, None, None, None, None, None, "{}")
# Where the typed tuple goes on the line's charge (billing.Charge): every column but the typed quantity (the
# charge's own quantity is the line's), the IVA rate and value into the charge's tax_rate and tax_amount.
TYPED_ON_CHARGE = tuple(i for i, c in enumerate(TYPED_COLUMNS) if c != "quantity")
CHARGE_TYPED_COLUMNS = tuple({"iva_rate": "tax_rate", "iva_amount": "tax_amount"}.get(TYPED_COLUMNS[i], TYPED_COLUMNS[i])
                             for i in TYPED_ON_CHARGE)
# The staged line: the charge's own columns, then its typed ones (the StagingLoader writes them in that order).
STAGING_COLUMNS = ("import_job_id", "row_number", "reference", "concept", "quantity", "unit_price", "amount",
                   *CHARGE_TYPED_COLUMNS)
LIST_LIMIT = 200  # rows kept in the reconciliation summary per finding (the counts are complete)


def use_copy() -> bool:
    if connection.vendor != "postgresql":
        return False
    connection.ensure_connection()
    return hasattr(connection.connection.cursor(), "copy")  # psycopg 3


class StagingWriter:
    """Writes staged lines for one import; `method` is "copy" or "insert"."""

    def __init__(self):
        self.method = "copy" if use_copy() else "insert"
        self.table = connection.ops.quote_name(ImportedLine._meta.db_table)
        cols = ", ".join(connection.ops.quote_name(c) for c in STAGING_COLUMNS)
        self._copy_sql = f"COPY {self.table} ({cols}) FROM STDIN"
        self._insert_sql = f"INSERT INTO {self.table} ({cols}) VALUES ({', '.join(['%s'] * len(STAGING_COLUMNS))})"
        self.written = 0

    def write(self, rows: list[tuple]):
        if not rows:
            return
        with connection.cursor() as cursor:
            if self.method == "copy":
                raw = cursor.cursor
                with raw.copy(self._copy_sql) as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.executemany(self._insert_sql, rows)
        self.written += len(rows)


def clear_staging(import_id: int) -> int:
    return ImportedLine.objects.filter(import_job_id=import_id)._raw_delete(using="default")


def clear_orphan_staging():
    """Remove staging rows of imports that will never run again (failed, cancelled, deleted)."""
    from facturador.core.models import Job

    ids = list(ImportedLine.objects.values_list("import_job_id", flat=True).distinct()[:1000])
    if not ids:
        return 0
    dead = ImportJob.objects.filter(pk__in=ids).filter(job__status__in=Job.FINAL).values_list("pk", flat=True)
    gone = set(ids) - set(ImportJob.objects.filter(pk__in=ids).values_list("pk", flat=True))
    n = 0
    for pk in set(dead) | gone:
        n += clear_staging(pk)
    return n


def _charge_model():
    from facturador.billing.models import Charge

    return Charge


def _account_model():
    from facturador.billing.models import Account

    return Account


def charges_for(imp: ImportJob):
    """The charges that currently hold this operator's data for the import's period."""
    Charge = _charge_model()
    return Charge.objects.filter(issuer_id=imp.issuer_id, source=Charge.Source.IMPORT,
                                 source_operator=imp.operator.code, period=imp.period)


def swap_into_charges(imp: ImportJob) -> tuple[int, int]:
    """Atomically replace the operator's charges of the period with the staged lines.

    Returns (inserted, replaced). Runs in one transaction with the ImportJob row locked; sets
    `loaded_at` in the same transaction so a re-run after a crash knows the swap happened.
    """
    Charge = _charge_model()
    Account = _account_model()
    qn = connection.ops.quote_name
    now = timezone.now()
    exprs = {
        "issuer": ("%s", [imp.issuer_id]),
        "account": ("a.id", []),
        "reference": ("l.reference", []),
        "period": ("%s", [imp.period]),
        "concept": ("l.concept", []),
        "quantity": ("l.quantity", []),
        "unit_price": ("l.unit_price", []),
        "amount": ("l.amount", []),
        "row_number": ("l.row_number", []),
        **{c: (f"l.{c}", []) for c in STAGING_COLUMNS[7:]},  # the typed line
        "source": ("%s", [Charge.Source.IMPORT]),
        "source_import_id": ("%s", [imp.pk]),
        "source_operator": ("%s", [imp.operator.code]),
    }
    columns, selects, params = [], [], []
    for field in Charge._meta.concrete_fields:
        if field.primary_key:
            continue
        if field.name in exprs:
            sql, p = exprs[field.name]
        elif getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False):
            sql, p = "%s", [field.get_db_prep_value(now, connection)]
        elif field.default is not NOT_PROVIDED:
            value = field.get_default()
            sql, p = "%s", [field.get_db_prep_save(value, connection)]
        elif field.null:
            sql, p = "NULL", []
        else:
            raise RuntimeError(f"billing.Charge.{field.name} has no value for imported charges")
        columns.append(qn(field.column))
        selects.append(sql)
        params.extend(p)
    insert_sql = (
        f"INSERT INTO {qn(Charge._meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {', '.join(selects)} FROM {qn(ImportedLine._meta.db_table)} l "
        f"LEFT JOIN {qn(Account._meta.db_table)} a ON a.issuer_id = %s AND a.reference = l.reference "
        f"WHERE l.import_job_id = %s ORDER BY l.row_number"
    )
    params.extend([imp.issuer_id, imp.pk])
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # Safe: if the commit were lost in a crash, loaded_at is lost with it and the job re-runs.
                cursor.execute("SET LOCAL synchronous_commit = off")
                # One big INSERT ... SELECT: JIT compilation costs more than it saves here, and the
                # ORDER BY row_number sort of a million staged lines should stay in memory (not on disk).
                cursor.execute("SET LOCAL jit = off")
                cursor.execute("SET LOCAL work_mem = '128MB'")
        # One swap at a time per operator (two concurrent re-imports of a period must not both survive).
        from facturador.imports.models import Operator

        Operator.objects.select_for_update().filter(pk=imp.operator_id).first()
        locked = ImportJob.objects.select_for_update().get(pk=imp.pk)
        if locked.loaded_at:  # a previous run already swapped (crash between commit and job end)
            return locked.rows_valid, locked.replaced_charges
        old = charges_for(imp)
        previous_import = old.exclude(source_import_id=None).order_by().values_list("source_import_id", flat=True).first()
        replaced = old._raw_delete(using="default")
        with connection.cursor() as cursor:
            cursor.execute(insert_sql, params)
            inserted = cursor.rowcount
        ImportJob.objects.filter(pk=imp.pk).update(
            loaded_at=now, phase=ImportJob.Phase.LOADED, replaced_charges=replaced,
            replaced_import_id=previous_import if previous_import and previous_import != imp.pk else None,
        )
    return inserted, replaced


# --- reconciliation --------------------------------------------------------------------------------

def previous_period(period: str) -> str:
    year, month = int(period[:4]), int(period[5:7])
    year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return f"{year:04d}-{month:02d}"


def _dec(value, places="0.01") -> str | None:
    if value is None:
        return None
    return str(Decimal(str(value)).quantize(Decimal(places)))


def _fetch(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def reconcile(imp: ImportJob, threshold: Decimal, lines: "Lines | None" = None, *,
              duplicates_possible: bool = True, unique_lines: bool = False) -> dict:
    """Control totals, unknown references, duplicates and period-over-period changes of the import's lines.

    `lines` says where the lines are: the staging table (default) or, for the direct loader, the
    charges this import has inserted in the still-open transaction. `duplicates_possible=False`: the
    caller saw every line's key (`duplicate_hasher`) and no two were equal, so the duplicates query is skipped.
    `unique_lines=True`: the caller saw that no service line is on two of the import's lines (see `_service_lines`).
    """
    lines = lines or staged_lines(imp)
    if connection.vendor != "postgresql":
        return _reconcile(imp, threshold, lines, duplicates_possible, unique_lines)
    if lines.analyze:
        with connection.cursor() as cursor:
            # Freshly bulk-loaded rows have no statistics: without them the planner picks nested loops
            # (hours on a million rows). Sample the staging table and forbid nested loops here.
            cursor.execute(f"ANALYZE {lines.analyze}")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_nestloop = off")
            cursor.execute("SET LOCAL jit = off")  # compiling each of these one-off aggregates costs more than it saves
            cursor.execute("SET LOCAL work_mem = '64MB'")
        return _reconcile(imp, threshold, lines, duplicates_possible, unique_lines)


class Lines:
    """Where an import's lines are, for the reconciliation queries.

    `source`: SQL (a FROM item named l) whose rows have reference, concept, amount;
    `unknown`: a condition on l (with the same params) true for lines whose reference matches no account;
    `unknown_from`: (SQL, params) of another FROM item named l to apply `unknown` to (default: `source`);
    `unknown_references`: those references themselves when the caller knows them all (then no query).
    """

    def __init__(self, source: str, params: list, unknown: str, unknown_params: list, analyze: str | None,
                 known: tuple | None = None, unknown_from: tuple | None = None,
                 unknown_references: set | None = None):
        self.source, self.params, self.unknown, self.unknown_params, self.analyze = (
            source, params, unknown, unknown_params, analyze)
        self.known = known  # (rows, amount) when the caller already knows them for certain
        self.unknown_from = unknown_from or (source, params)
        self.unknown_references = unknown_references


# What the reconciliation reads of a line: its amount and the fields a duplicate key or a service line uses.
LINE_READ = "reference, concept, amount, service_line, cut_date, plan, cost_center, usage_from, usage_to"


def staged_lines(imp: ImportJob) -> Lines:
    qn = connection.ops.quote_name
    table = qn(ImportedLine._meta.db_table)
    accounts = qn(_account_model()._meta.db_table)
    return Lines(f"(SELECT {LINE_READ} FROM {table} WHERE import_job_id = %s) l", [imp.pk],
                 f"NOT EXISTS (SELECT 1 FROM {accounts} a WHERE a.issuer_id = %s AND a.reference = l.reference)",
                 [imp.issuer_id], analyze=table)


def charged_lines(imp: ImportJob, rows: int, amount: Decimal, unknown: set | None = None) -> Lines:
    """The lines (charges) inserted by this import (visible inside the loading transaction): `rows` as
    counted by COPY, `amount` the sum of what was sent. Charges have no source_import_id index: the import's
    are found among its period's (the issuer + period index); the unknown references are those without an
    account: `unknown` when the loader kept them all, else found through the (account, period) index."""
    qn = connection.ops.quote_name
    charges = qn(_charge_model()._meta.db_table)
    return Lines(f"(SELECT {LINE_READ} FROM {charges} WHERE issuer_id = %s AND period = %s AND source_import_id = %s) l",
                 [imp.issuer_id, imp.period, imp.pk],
                 "TRUE", [], analyze=None, known=(rows, amount),
                 unknown_from=(f"(SELECT reference FROM {charges} WHERE account_id IS NULL AND period = %s "
                               f"AND issuer_id = %s AND source_import_id = %s) l", [imp.period, imp.issuer_id, imp.pk]),
                 unknown_references=unknown)


def _reconcile(imp: ImportJob, threshold: Decimal, lines: Lines, duplicates_possible: bool = True,
               unique_lines: bool = False) -> dict:
    Charge = _charge_model()
    qn = connection.ops.quote_name
    charges = qn(Charge._meta.db_table)
    src, sp = lines.source, lines.params

    rows, amount = lines.known or _fetch(f"SELECT COUNT(*), SUM(l.amount) FROM {src}", sp)[0]
    amount = Decimal(str(amount or 0)).quantize(Decimal("0.01"))
    control = {
        "rows": rows, "amount": _dec(amount),
        "declared_rows": imp.declared_rows, "declared_amount": _dec(imp.declared_amount),
        "rows_read": imp.rows_read, "rows_invalid": imp.rows_invalid,
    }
    control["rows_match"] = None if imp.declared_rows is None else imp.declared_rows == imp.rows_valid + imp.rows_invalid
    control["amount_match"] = None if imp.declared_amount is None else Decimal(imp.declared_amount) == amount
    control["amount_difference"] = None if imp.declared_amount is None else _dec(amount - Decimal(imp.declared_amount))

    if lines.unknown_references is not None:  # the first LIST_LIMIT in code-point order (the C collation's)
        unknown_count, unknown = len(lines.unknown_references), heapq.nsmallest(LIST_LIMIT, lines.unknown_references)
    else:
        usrc, usp = lines.unknown_from
        unknown_sql = f"FROM (SELECT DISTINCT l.reference FROM {usrc} WHERE {lines.unknown}) u"
        # One pass: the window aggregate gives the full count next to the first LIST_LIMIT rows.
        found = _fetch(f"SELECT u.reference, COUNT(*) OVER () {unknown_sql} ORDER BY u.reference LIMIT {LIST_LIMIT}",
                       [*usp, *lines.unknown_params])
        unknown_count = int(found[0][1]) if found else 0
        unknown = [r[0] for r in found]

    if duplicates_possible:
        duplicates, dup_count, dup_lines, key = _duplicates(imp, lines)
    else:
        duplicates, dup_count, dup_lines, key = [], 0, 0, duplicate_key(imp.template)
    service_lines = _service_lines(imp, threshold, lines, unique_lines)

    prev = previous_period(imp.period)
    prev_params = [imp.issuer_id, Charge.Source.IMPORT, imp.operator.code, prev]
    # One pass over both sides (a million staged lines, a million previous charges): per-reference sums
    # FULL JOINed, the figures as window aggregates next to the top LIST_LIMIT rows (changed ones first).
    has_prev = _fetch(f"SELECT 1 FROM {charges} WHERE issuer_id = %s AND source = %s AND source_operator = %s "
                      f"AND period = %s LIMIT 1", prev_params)
    found = has_prev and _fetch(
        f"WITH cur AS (SELECT l.reference, SUM(l.amount) AS s FROM {src} GROUP BY l.reference), "
        f"prev AS (SELECT reference, SUM(amount) AS s, COUNT(*) AS n FROM {charges} WHERE issuer_id = %s AND source = %s "
        f"AND source_operator = %s AND period = %s GROUP BY reference), "
        f"j AS (SELECT COALESCE(cur.reference, prev.reference) AS reference, cur.reference AS cref, "
        f"prev.reference AS pref, prev.s AS ps, prev.n AS pn, cur.s AS cs, "
        f"CASE WHEN cur.reference IS NOT NULL AND prev.reference IS NOT NULL AND prev.s <> 0 "
        f"AND ABS(cur.s - prev.s) * 100 > %s * ABS(prev.s) THEN 1 ELSE 0 END AS ch "
        f"FROM cur FULL JOIN prev ON prev.reference = cur.reference) "
        f"SELECT reference, ps, cs, ch, SUM(ch) OVER (), "
        f"SUM(CASE WHEN cref IS NOT NULL AND pref IS NULL THEN 1 ELSE 0 END) OVER (), "
        f"SUM(CASE WHEN cref IS NULL THEN 1 ELSE 0 END) OVER (), SUM(ps) OVER (), SUM(pn) OVER (), COUNT(pref) OVER () "
        f"FROM j ORDER BY ch DESC, ABS(cs - ps) DESC, reference LIMIT {LIST_LIMIT}",
        [*sp, *prev_params, threshold])
    prev_total, prev_rows = (found[0][7], int(found[0][8] or 0)) if found else (None, 0)
    changes_count, new_refs, missing_refs, changes = 0, None, None, []
    if prev_rows:
        changes_count, new_refs, missing_refs = int(found[0][4] or 0), int(found[0][5] or 0), int(found[0][6] or 0)
        for ref, before, after, ch, *_totals in found:
            if not ch:
                break
            before, after = Decimal(str(before)), Decimal(str(after))
            changes.append({"reference": ref, "previous": _dec(before), "current": _dec(after),
                            "change_pct": _dec((after - before) * 100 / abs(before))})
    prev_total = Decimal(str(prev_total)) if prev_total is not None else None
    return {
        "control": control,
        "unknown_references": {"count": unknown_count, "items": unknown},
        "duplicates": {"count": int(dup_count or 0), "lines": int(dup_lines or 0), "items": duplicates, "key": key},
        "service_lines": service_lines,
        "previous_period": {
            "period": prev, "rows": prev_rows, "amount": _dec(prev_total), "threshold_pct": _dec(threshold),
            "total_change_pct": _dec((amount - prev_total) * 100 / abs(prev_total)) if prev_total else None,
            "changed_count": changes_count, "changed": changes, "new_references": new_refs, "missing_references": missing_refs,
        },
    }


# --- service-line level (the typed lines: models.Line, the imported charges) -------------------------

KEY_FIELDS = ("reference", "service_line", "concept", "cut_date", "plan", "cost_center", "usage_from", "usage_to")


def duplicate_key(template) -> list[str]:
    """The fields that identify a line for the duplicate check (the template's, default account + line +
    concept + cut date)."""
    from facturador.imports.models import DEFAULT_DUPLICATE_KEY

    key = [k for k in (template.duplicate_key or []) if k in KEY_FIELDS]
    return key or list(DEFAULT_DUPLICATE_KEY)


def duplicate_hasher(template):
    """``h(reference, concept, typed) -> int``: the hash of a line's duplicate key (the template's).

    The loader hashes every line it sends; when no two hashes are equal no two keys are, and the
    reconciliation skips its GROUP BY over the import's lines (a hash collision only costs that query).
    Values are compared as stored: the line's reference and concept, the typed tuple's text and dates.

    >>> from types import SimpleNamespace
    >>> h = duplicate_hasher(SimpleNamespace(duplicate_key=["reference", "service_line"]))
    >>> t = ("3001234567",) + ("",) * 17
    >>> h("7", "Consumo", t) == h("7", "Cargo fijo", t), h("7", "Consumo", t) == h("8", "Consumo", t)
    (True, False)
    """
    parts = [k if k in ("reference", "concept") else f"t[{TYPED_COLUMNS.index(k)}]" for k in duplicate_key(template)]
    env: dict = {}
    # Generated from the key's field names and indexes only (KEY_FIELDS: no user text in the source).
    exec(compile(f"def h(reference, concept, t):\n    return hash(({', '.join(parts)},))", "<duplicate-key>", "exec"),
         env)  # noqa: S102
    return env["h"]


def _duplicates(imp: ImportJob, lines: Lines):
    """Groups of the import's lines sharing the template's key: (items, groups, lines, key)."""
    key = duplicate_key(imp.template)
    qn = connection.ops.quote_name
    cols = ", ".join(qn(k) for k in key)
    extra = "" if "reference" in key else ", MIN(reference)"
    found = _fetch(f"SELECT {cols}, COUNT(*), SUM(amount), COUNT(*) OVER (), SUM(COUNT(*)) OVER (){extra} "
                   f"FROM {lines.source} GROUP BY {cols} HAVING COUNT(*) > 1 "
                   f"ORDER BY COUNT(*) DESC, {cols} LIMIT {LIST_LIMIT}", lines.params)
    items = []
    for r in found:
        item = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in zip(key, r)}
        n = len(key)
        item.update(count=int(r[n]), amount=_dec(r[n + 1]))
        if extra:
            item["reference"] = r[n + 4]
        item.setdefault("concept", "")
        items.append(item)
    groups, grouped = (found[0][len(key) + 2], found[0][len(key) + 3]) if found else (0, 0)
    return items, groups, grouped, key


def _service_lines(imp: ImportJob, threshold: Decimal, lines: Lines, unique_lines: bool = False) -> dict:
    """Lines new or gone since the operator's previous period, and per-line changes beyond the threshold.

    A service line is the file's line/identifier (or the account reference when the template maps none).
    `unique_lines`: no service line is on two of this import's lines (the pipeline compared their hashes);
    kept in the result (``unique_lines``) for next period's comparison. A side known to have one line per
    service line is read as it is, without its GROUP BY (a hash aggregate with as many groups as lines).
    """
    Charge = _charge_model()
    prev = previous_period(imp.period)
    before = list(ImportJob.objects.filter(issuer_id=imp.issuer_id, operator_id=imp.operator_id, period=prev,
                                           loaded_at__isnull=False).order_by("-loaded_at").values_list("pk", flat=True))
    out = {"period": prev, "previous_lines": 0, "threshold_pct": _dec(threshold), "new": 0, "gone": 0, "changed": 0,
           "new_items": [], "gone_items": [], "changed_items": [], "unique_lines": unique_lines}
    if not before:
        return out
    if not Charge.objects.filter(issuer_id=imp.issuer_id, period=prev, source_import_id__in=before[1:]).exists():
        before = before[:1]  # the latest load holds the period's lines (a load deletes those it replaces)
    prev_unique = len(before) == 1 and ImportJob.objects.filter(
        pk=before[0], reconciliation__service_lines__unique_lines=True).exists()
    k = "CASE WHEN service_line <> '' THEN service_line ELSE reference END"
    marks = ", ".join(["%s"] * len(before))
    previous = (f"(SELECT service_line, reference, amount FROM {connection.ops.quote_name(Charge._meta.db_table)} "
                f"WHERE issuer_id = %s AND period = %s AND source_import_id IN ({marks})) l")

    def side(source: str, unique: bool) -> str:
        if unique:
            return f"SELECT {k} AS k, amount AS s FROM {source}"
        return f"SELECT {k} AS k, SUM(amount) AS s FROM {source} GROUP BY {k}"
    # One pass: both sides aggregated and FULL JOINed once (materialized), then each kind's count, the
    # previous lines' count and the first LIST_LIMIT of each kind (a top-N sort each, not a sort of every
    # finding: with random figures nearly every line "changed").
    j = (f"WITH cur AS ({side(lines.source, unique_lines)}), "
         f"prev AS ({side(previous, prev_unique)}), "
         f"j AS {'MATERIALIZED ' if connection.vendor == 'postgresql' else ''}(SELECT COALESCE(cur.k, prev.k) AS k, prev.s AS ps, cur.s AS cs, "
         f"CASE WHEN prev.k IS NULL THEN 'new' WHEN cur.k IS NULL THEN 'gone' "
         f"WHEN prev.s <> 0 AND ABS(cur.s - prev.s) * 100 > %s * ABS(prev.s) THEN 'changed' ELSE '' END AS what "
         f"FROM cur FULL JOIN prev ON prev.k = cur.k) ")
    params = [*lines.params, imp.issuer_id, prev, *before, threshold]
    top = "".join(f" UNION ALL SELECT * FROM (SELECT 1, what, k, ps, cs, 0, 0 FROM j WHERE what = '{kind}' ORDER BY k "
                  f"LIMIT {LIST_LIMIT}) {kind}" for kind in ("changed", "gone", "new"))
    found = _fetch(j + f"SELECT 0, what, NULL, NULL, NULL, COUNT(*), COUNT(ps) FROM j GROUP BY what{top} ORDER BY 1, 2, 3",
                   params)
    rows = []
    for part, what, line, p, c, n, with_previous in found:
        if part == 0:
            out["previous_lines"] += int(with_previous)
            if what:
                out[what] = int(n)
        else:
            rows.append((line, p, c, what))
    for line, p, c, what in rows:
        p = Decimal(str(p)) if p is not None else None
        c = Decimal(str(c)) if c is not None else None
        item = {"line": line, "previous": _dec(p), "current": _dec(c)}
        if what == "changed":
            item["change_pct"] = _dec((c - p) * 100 / abs(p))
        out[what + "_items"].append(item)
    return out
