"""How validated lines become `billing.Charge` rows: two loaders behind one small interface.

`DirectLoader` (PostgreSQL): the whole import is one transaction on the job's connection. It takes an
advisory lock per operator and period (one load at a time), locks the issuer and its accounts FOR
KEY SHARE (the same query maps every reference to its account, and those accounts cannot be deleted
before the commit), then sends each batch as one COPY straight into the charges table from a thread
of its own while the next batch is being read: parsing in Python and inserting in PostgreSQL run on
both cores. The keys of the copied lines are valid by construction, so when the role may, the
transaction turns off its own foreign-key triggers for the COPY (`_skip_fk_triggers`). Reconciliation
reads the new charges inside the transaction; the charges of the operator's earlier imports of the
period are deleted and the import is marked loaded just before the commit. Cancelled, failed, dry
run or killed worker: the transaction rolls back and nothing was ever visible. Progress and cancel
checks go through the job's side connection meanwhile (`JobContext.side_connection`).

`StagingLoader` (SQLite and any other backend): lines go to the staging table in batches, each
committed on its own (a long write transaction would lock the whole SQLite file against the
progress updates), then one short transaction swaps them into the charges.

Interface: ``with loader: write(batch)...; end_rows(); reconcile(...); commit(...) or discard()``.
A batch is a list of (row_number, reference, concept, quantity, unit_price, amount, typed) where `typed` is
`pipeline.make_typed`'s tuple (`pipeline.TYPED_COLUMNS`): each line becomes one charge, typed (`models.Line`).
The direct loader's batches may also hold a line's COPY text already written (`fastlines`).
"""

from __future__ import annotations

import logging
import pickle
import queue
import tempfile
import threading

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from facturador.imports import staging
from facturador.imports.models import ImportJob, ImportRowError
from facturador.imports.staging import CHARGE_TYPED_COLUMNS, TYPED_COLUMNS, TYPED_ON_CHARGE


def _copy_value(v) -> str:
    if v is None:
        return "\\N"
    if v.__class__ is str:
        return _copy_text(v)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


# The unknown references a direct load keeps in memory for its reconciliation (past this, about 20 MB, a query
# finds them instead: a file whose accounts are not registered yet).
UNKNOWN_KEPT = 200_000
_TEXT_TYPED = frozenset(i for i, c in enumerate(TYPED_COLUMNS) if c in ("service_line", "plan", "cost_center", "unit",
                                                                         "extra"))


def typed_formatter(varying=None, blank=None):
    r"""``fmt(typed) -> text``: the COPY text of a typed tuple (`TYPED_COLUMNS`) as its charge's columns
    (`CHARGE_TYPED_COLUMNS`, tab-separated), each column formatted once.

    `varying`: the indexes a template can change (`pipeline.make_typed`'s ``typed.varying``); the other
    columns are `blank`'s and their text is computed once. None: every column is formatted on every row.
    Text columns are str (`make_typed` made them so), the others None, numbers or dates (``str`` of a
    Decimal, int or date is its COPY text).

    >>> from decimal import Decimal
    >>> blank = ("", "", "", None, "", None, None, None, None, None, None, None, None, None, None, None, None, "{}")
    >>> text = typed_formatter((0, 3, 9), blank)(("a\\b", "", "", 7, *blank[4:9], Decimal("1.50"), *blank[10:]))
    >>> text.split(chr(9))[:5], text.split(chr(9))[8:11], len(text.split(chr(9))) == len(CHARGE_TYPED_COLUMNS)
    (['a\\\\b', '', '', '', '\\N'], ['1.50', '\\N', '\\N'], True)
    """
    if varying is None or blank is None:
        def fmt(t):
            return "\t".join([_copy_value(t[i]) for i in TYPED_ON_CHARGE])
        return fmt
    varying = set(varying)
    # Generated straight-line code from indexes and constant text only (no user text in the source): each
    # varying column's text once, the constant columns' text merged into literals between them.
    env = {"_t": _copy_text, "NULL": "\\N"}
    body = []
    for i in sorted(varying & set(TYPED_ON_CHARGE)):
        if i in _TEXT_TYPED:  # _copy_text inlined: most text needs no escaping (tab, CR, LF are not printable)
            body.append(f"    x{i} = x if ('\\\\' not in (x := t[{i}]) and x.isprintable()) else _t(x)")
        else:
            body.append(f"    x{i} = NULL if t[{i}] is None else str(t[{i}])")
    exprs, const = [], ""
    for k, i in enumerate(TYPED_ON_CHARGE):
        if k:
            const += "\t"
        if i not in varying:
            const += _copy_value(blank[i])
            continue
        if const:
            env[f"C{len(env)}"] = const
            exprs.append(f"C{len(env) - 1}")
            const = ""
        exprs.append(f"x{i}")
    if const or not exprs:
        env[f"C{len(env)}"] = const
        exprs.append(f"C{len(env) - 1}")
    src = "\n".join(["def fmt(t):", *body, f"    return {' + '.join(exprs)}"])
    exec(compile(src, "<typed-copy-text>", "exec"), env)  # noqa: S102
    return env["fmt"]


logger = logging.getLogger(__name__)


def loader_for(imp: ImportJob, ctx) -> "DirectLoader | StagingLoader":
    return DirectLoader(imp, ctx) if staging.use_copy() else StagingLoader(imp)


class AlreadyLoaded(Exception):
    """A previous run of this import committed its charges (found under the lock)."""


def _copy_text(s: str) -> str:
    """A value in PostgreSQL's COPY text format (the caller has refused NUL characters)."""
    if "\\" in s or "\t" in s or "\n" in s or "\r" in s:
        s = s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return s


class ErrorSpool:
    """Row errors kept aside (spilled to a temporary file past a few thousand) and saved at the end.

    The direct loader's transaction cannot hold them (a rolled-back import must still report its
    errors), so they are written once the outcome is known: inside the commit, or after a discard.
    """

    SPILL_EVERY = 2000

    def __init__(self, import_id: int):
        self.import_id = import_id
        self.pending: list[tuple] = []
        self._file = None

    def add(self, row_number: int, column: str, value: str, message: str, original: list, code: str = ""):
        if "\x00" in value or "\x00" in message or any(c.__class__ is str and "\x00" in c for c in original):
            # PostgreSQL text and JSON cannot hold NUL: show it as U+FFFD in the report.
            value, message = value.replace("\x00", "\ufffd"), message.replace("\x00", "\ufffd")
            original = [c.replace("\x00", "\ufffd") if c.__class__ is str else c for c in original]
        self.pending.append((row_number, column, value, message, original, code))
        if len(self.pending) >= self.SPILL_EVERY:
            if self._file is None:
                self._file = tempfile.TemporaryFile(prefix="facturador-import-errors-")
            pickle.dump(self.pending, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self.pending = []

    def _chunks(self):
        if self._file is not None:
            self._file.seek(0)
            while True:
                try:
                    yield pickle.load(self._file)
                except EOFError:
                    break
        if self.pending:
            yield self.pending

    def save(self):
        iid = self.import_id
        for chunk in self._chunks():
            ImportRowError.objects.bulk_create(
                [ImportRowError(import_job_id=iid, row_number=rn, column=col, value=val, message=msg, original=orig,
                                code=code[:40]) for rn, col, val, msg, orig, code in chunk], batch_size=1000)

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None
        self.pending = []


class _CopyThread(threading.Thread):
    """Sends each batch as one COPY statement on the loader's connection while the file is read on.

    The job's thread formats the next batch meanwhile (psycopg releases the GIL while it waits for
    PostgreSQL), and leaves the connection alone until `finish()`. At most two batches wait.
    """

    def __init__(self, raw_connection, sql: str):
        super().__init__(daemon=True, name="import-copy")
        self.raw = raw_connection
        self.sql = sql
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.copied = 0

    def run(self):
        try:
            with self.raw.cursor() as cursor:
                while (data := self.queue.get()) is not None:
                    with cursor.copy(self.sql) as copy:
                        copy.write(data)
                    self.copied += cursor.rowcount
        except BaseException as exc:  # handed to the job's thread at its next put() or finish()
            self.error = exc
            while self.queue.get() is not None:
                pass

    def put(self, data: str):
        if self.error is not None:
            raise self.error
        self.queue.put(data)

    def finish(self, raise_error: bool = True):
        self.queue.put(None)
        self.join()
        if self.error is not None and raise_error:
            raise self.error


class StagingLoader:
    db_rounds = False  # staged values are inserted as they are: round them in Python
    foreign_keys = "checked"

    def __init__(self, imp: ImportJob):
        self.imp = imp
        self.writer = staging.StagingWriter()
        self.method = self.writer.method

    def __enter__(self):
        if ImportJob.objects.filter(pk=self.imp.pk, loaded_at__isnull=False).exists():
            raise AlreadyLoaded()
        return self

    def __exit__(self, exc_type, exc, tb):
        return False

    def write(self, batch: list[tuple]):
        if not batch:
            return
        iid, charged = self.imp.pk, TYPED_ON_CHARGE
        self.writer.write([(iid, *line[:6], *[line[6][i] for i in charged]) for line in batch])

    def end_rows(self):
        pass

    def reconcile(self, threshold, rows: int, amount, duplicates_possible: bool = True, unique_lines: bool = False):
        return staging.reconcile(self.imp, threshold, duplicates_possible=duplicates_possible,
                                 unique_lines=unique_lines)

    def discard(self, errors: ErrorSpool, **fields):
        staging.clear_staging(self.imp.pk)
        ImportJob.objects.filter(pk=self.imp.pk).update(**fields)
        errors.save()

    def commit(self, errors: ErrorSpool, **fields) -> tuple[int, int]:
        ImportJob.objects.filter(pk=self.imp.pk).update(**fields)
        errors.save()
        inserted, replaced = staging.swap_into_charges(self.imp)
        staging.clear_staging(self.imp.pk)
        return inserted, replaced


class DirectLoader:
    method = "copy-direct"
    db_rounds = True  # numeric(p, s) input rounds half away from zero, as ROUND_HALF_UP

    def __init__(self, imp: ImportJob, ctx):
        self.imp = imp
        self.ctx = ctx
        self._atomic = None
        self._side = None
        self._copy: _CopyThread | None = None
        self._done = False
        self._concepts: dict[str, str] = {}
        self.accounts: dict[str, int] = {}
        # The references of the lines written without an account (the reconciliation's unknown references, known
        # here without a query), or None once there are more than UNKNOWN_KEPT (then the query finds them).
        self.unknown: set[str] | None = set()
        self.written = 0
        self.foreign_keys = "checked"
        self.copied = 0  # rows PostgreSQL reports as copied
        # The typed tuple's columns a template can change, and its blank tuple (pipeline.make_typed's
        # ``varying``/``blank``): the others' COPY text is computed once. None: all formatted per line.
        self.typed_varying: tuple | None = None
        self.typed_blank: tuple | None = None
        self._typed_text = None
        self._replaced = None  # (earlier imports, charges deleted, import they came from): `_replace_early`

    # -- transaction ------------------------------------------------------------------------
    def __enter__(self):
        from facturador.billing.models import Account, Charge

        imp = self.imp
        side = self.ctx.side_connection()
        side.__enter__()
        try:
            atomic = transaction.atomic()
            atomic.__enter__()
        except BaseException:
            side.__exit__(None, None, None)
            raise
        self._side, self._atomic = side, atomic
        try:
            qn = connection.ops.quote_name
            with connection.cursor() as cursor:
                # Safe: if this commit were lost in a crash, loaded_at is lost with it and the job re-runs.
                cursor.execute("SET LOCAL synchronous_commit = off")
                cursor.execute("SET LOCAL jit = off")
                cursor.execute("SET LOCAL work_mem = '64MB'")
                # Foreign keys checked at the end of each COPY (while the next batch is being read), not
                # all at the commit.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            with connection.cursor() as cursor:
                # One load at a time per operator and period (two concurrent re-imports of a period must
                # not both survive). An advisory lock, not the operator's row: saving a template or an
                # import of another period goes on meanwhile.
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)",
                               [imp.operator_id % 2**31, int(imp.period.replace("-", ""))])
            locked = ImportJob.objects.select_for_update().get(pk=imp.pk)
            if locked.loaded_at:
                raise AlreadyLoaded()
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT 1 FROM {qn('core_issuer')} WHERE id = %s FOR KEY SHARE", [imp.issuer_id])
                cursor.execute(f"SELECT reference, id FROM {qn(Account._meta.db_table)} WHERE issuer_id = %s "
                               f"FOR KEY SHARE", [imp.issuer_id])
                self.accounts = dict(cursor.fetchall())
            self._columns, self._suffix = self._layout(Charge)
            self._replace_early()  # before the foreign-key triggers are turned off: deletes are checked
            self.foreign_keys = "proven" if self._skip_fk_triggers() else "checked"
        except BaseException as exc:
            self.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def _earlier_charges(self):
        """The charges this import replaces: those of the operator's earlier loaded imports of the period
        (by issuer + period, then import id: charges have no source_import_id index of their own), and
        which import they came from."""
        from facturador.billing.models import Charge

        imp = self.imp
        earlier = list(ImportJob.objects.filter(issuer_id=imp.issuer_id, operator_id=imp.operator_id, period=imp.period,
                                                loaded_at__isnull=False).exclude(pk=imp.pk)
                       .order_by("-loaded_at").values_list("pk", flat=True))
        return earlier, Charge.objects.filter(issuer_id=imp.issuer_id, period=imp.period, source=Charge.Source.IMPORT,
                                              source_import_id__in=earlier)

    def _replace_early(self):
        """Delete the replaced charges now, inside the load's transaction (under the advisory lock, rolled back
        with it), so that the period's scan at this delete walks only them, not the lines about to be copied.
        A refusal (charges in use by invoices) is left for `commit`, which reports it (savepoint)."""
        self._replaced = None
        if self.imp.dry_run:
            return
        earlier, old = self._earlier_charges()
        if not earlier:
            return
        previous_import = old.order_by().values_list("source_import_id", flat=True).first()
        try:
            with transaction.atomic():
                replaced = old._raw_delete(using="default")
        except IntegrityError:
            return
        self._replaced = (earlier, replaced, previous_import)

    def _skip_fk_triggers(self) -> bool:
        """Turn off this transaction's foreign-key triggers for the COPY, when the role may.

        Every key of a copied line is valid by construction: the import's issuer and the accounts,
        both locked FOR KEY SHARE above (they cannot be deleted before this transaction ends, and
        an account deleted before the lock is not in the map), and no tariff. The per-row trigger
        that would check each again costs about as much as inserting the row. Other sessions keep
        every check: deleting an account that a committed line refers to still fails. The role
        needs superuser or, from PostgreSQL 15, `GRANT SET ON PARAMETER session_replication_role`;
        without it the lines are checked as usual (slower, same result). `end_rows` turns the
        triggers back on before anything else is written.
        """
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = replica")
        except DatabaseError as exc:
            logger.info("Import %s: foreign keys checked row by row (%s)", self.imp.pk, exc)
            return False
        return True

    def _layout(self, Charge):
        """The COPY column list and the text of the columns that are the same on every line."""
        from django.db.models import NOT_PROVIDED

        imp = self.imp
        now = timezone.now()
        qn = connection.ops.quote_name
        varying = ["reference", "concept", "quantity", "unit_price", "amount", "account", "row_number",
                   *CHARGE_TYPED_COLUMNS]
        constant = {"issuer": imp.issuer_id, "period": imp.period, "source": Charge.Source.IMPORT,
                    "source_import_id": imp.pk, "source_operator": imp.operator.code}
        names, values = [], []
        for field in Charge._meta.concrete_fields:
            if field.primary_key or field.name in varying:
                continue
            if field.name in constant:
                value = constant[field.name]
            elif getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False):
                value = field.get_db_prep_value(now, connection)
            elif field.default is not NOT_PROVIDED:
                value = field.get_db_prep_save(field.get_default(), connection)
            elif field.null:
                value = None
            else:
                raise RuntimeError(f"billing.Charge.{field.name} has no value for imported charges")
            names.append(field.column)
            values.append("\\N" if value is None else _copy_text(value.isoformat() if hasattr(value, "isoformat")
                                                                 else str(value)))
        columns = [Charge._meta.get_field(n).column for n in varying] + names
        return ", ".join(qn(c) for c in columns), "\t".join(values)

    def __exit__(self, exc_type, exc, tb):
        if self._atomic is None:
            return False
        try:
            if self._copy is not None:
                self._close_copy(exc if exc is not None else RuntimeError("load interrupted"))
        finally:
            atomic, self._atomic = self._atomic, None
            if exc_type is None and not self._done:
                transaction.set_rollback(True)
            try:
                atomic.__exit__(exc_type, exc, tb)
            finally:
                self._side.__exit__(None, None, None)
        return False

    # -- lines ------------------------------------------------------------------------------
    def unknown_reference(self, reference: str) -> None:
        """A line without an account was written for this reference."""
        unknown = self.unknown
        if unknown is not None:
            unknown.add(reference)
            if len(unknown) > UNKNOWN_KEPT:
                self.unknown = None

    def write(self, batch: list[tuple]):
        if not batch:
            return
        if self._copy is None:
            from facturador.billing.models import Charge

            qn = connection.ops.quote_name
            self._copy = _CopyThread(connection.connection, f"COPY {qn(Charge._meta.db_table)} "
                                                            f"({self._columns}) FROM STDIN")
            self._copy.start()
        account = self.accounts.get
        tail = "\t" + self._suffix + "\n"
        null = "\\N"
        concepts = self._concepts
        out = []
        fmt = self._typed_text
        if fmt is None:
            fmt = self._typed_text = typed_formatter(self.typed_varying, self.typed_blank)
        last_typed, last_text = None, ""
        last_qty, qty_text = None, ""
        for item in batch:
            if item.__class__ is str:  # a line the fast path wrote (fastlines)
                out.append(item)
                continue
            rn, ref, concept, qty, price, amount, typed = item
            c = concepts.get(concept)
            if c is None:
                c = _copy_text(concept)
                if len(concepts) < 4096:  # billing files repeat a few concepts; don't grow on distinct ones
                    concepts[concept] = c
            a = account(ref)
            if a is None:
                self.unknown_reference(ref)
            r = ref if ("\\" not in ref and ref.isprintable()) else _copy_text(ref)
            # str(), not the f-string's format(): Decimal.__format__ is about three times slower.
            am = str(amount)
            if typed is not last_typed:
                last_typed = typed
                last_text = fmt(typed)
            if qty is not last_qty:  # most lines share one quantity object (1) and have price = amount
                last_qty, qty_text = qty, str(qty)
            out.append(f"{r}\t{c}\t{qty_text}\t{am if price is amount else str(price)}\t{am}\t"
                       f"{null if a is None else a}\t{rn}\t{last_text}{tail}")
        self._copy.put("".join(out))
        self.written += len(batch)

    def _close_copy(self, exc=None):
        copy, self._copy = self._copy, None
        copy.finish(raise_error=exc is None)
        self.copied += copy.copied

    def end_rows(self):
        if self._copy is not None:
            self._close_copy()
        if self.foreign_keys == "proven":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = origin")

    # -- outcome ----------------------------------------------------------------------------
    def reconcile(self, threshold, rows: int, amount, duplicates_possible: bool = True, unique_lines: bool = False):
        """`rows` and `amount` are what was sent; PostgreSQL's count of the copied rows must agree."""
        if self.copied != rows:
            raise RuntimeError(f"COPY stored {self.copied} lines of import {self.imp.pk}, {rows} were sent")
        return staging.reconcile(self.imp, threshold, staging.charged_lines(self.imp, rows, amount, self.unknown),
                                 duplicates_possible=duplicates_possible, unique_lines=unique_lines)

    def discard(self, errors: ErrorSpool, **fields):
        """Roll the load back, then record the figures and the errors."""
        self._done = True
        transaction.set_rollback(True)
        self.__exit__(None, None, None)
        ImportJob.objects.filter(pk=self.imp.pk).update(**fields)
        errors.save()

    def commit(self, errors: ErrorSpool, **fields) -> tuple[int, int]:
        """Replace the operator's previous charges of the period with this import's and commit."""
        imp = self.imp
        if self._replaced is not None:  # deleted when the load began (`_replace_early`)
            earlier, replaced, previous_import = self._replaced
        else:  # nothing to replace, or the early delete was refused: this one raises the refusal again
            earlier, old = self._earlier_charges()
            previous_import = old.order_by().values_list("source_import_id", flat=True).first() if earlier else None
            replaced = old._raw_delete(using="default") if earlier else 0
        errors.save()
        ImportJob.objects.filter(pk=imp.pk).update(
            loaded_at=timezone.now(), phase=ImportJob.Phase.LOADED, replaced_charges=replaced,
            replaced_import_id=previous_import, **fields)
        self._done = True
        try:
            self.__exit__(None, None, None)  # commits (deferred foreign-key checks run here)
        except IntegrityError:
            ImportJob.objects.filter(pk=imp.pk).update(**fields)  # the figures and errors, without the charges
            errors.save()
            raise
        return self.written, replaced
