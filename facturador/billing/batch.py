"""Mass invoicing batches: planning, the checks of a new batch and the engine of its background job.

A batch is created by `billing.actions.create_batch`; its job handlers are in `billing.jobs`.
Generation (job kind "billing.batch", plus helpers "billing.batch_render") runs in idempotent phases
(how they split across machines: docs/architecture.md, "Mass billing batches across N machines"):

1. **Plan** (main job): what each account is billed, and the account rows the numbering writes.
2. **Numbering** (main job, the only serial phase): a first chunk of ten render chunks, then chunks of
   FACTURADOR_BILLING_NUMBER_CHUNK accounts (`number_chunks`);
   one transaction takes a block of consecutive numbers (`numbering.allocate_block`) and writes the
   `BillingInvoice` rows (UNIQUE(issuer, account, period_key)), the arrears-interest charges and the
   `core.IssuedDocument` rows in bulk (COPY on PostgreSQL). A crash loses nothing and duplicates nothing.
   A new batch's helpers are queued before the plan (they get their renderer ready meanwhile) and start
   rendering once the first chunk is committed; a resumed batch's, once it knows what is left.
3. **Rendering** (every worker): leased chunks of FACTURADOR_BILLING_RENDER_CHUNK invoices in number order,
   one Typst compile per chunk, one PDF per invoice written atomically (temp + rename); electronic batches
   sign each chunk's DIAN invoices first (`billing.electronic`) and send them with a separate job.
4. **Print parts** (the worker that renders a part's last invoice): FACTURADOR_BILLING_PDF_PART_SIZE invoices
   per PDF, streamed with `concat_pdfs` from the chunks' compiled PDFs (fonts shared within a chunk: ten times
   cheaper to join and seven times smaller than the invoices' own PDFs), kept until the part is built. The zip
   and the manifest are streamed at download (`billing.outputs`).
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import logging
import os
import time
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Count, Exists, Max, OuterRef, Q, Sum
from django.utils import timezone

from facturador.billing import cartera, invoice_templates
from facturador.billing.models import (Account, Batch, BatchPart, BillingInvoice, BillingSettings, Charge,
                                      outcome_summary)
from facturador.core import jobs, numbering
from facturador.core.errors import Conflict, Invalid, Refusal
from facturador.core.models import DocumentType, IssuedDocument, Job

logger = logging.getLogger(__name__)

ZERO = Decimal("0.00")
IN_LIMIT = 5000  # ids per SQL IN (...) list
MONTHS = ["Enero", "Febrero", "Marzo", "Abril", "Mayo", "Junio", "Julio", "Agosto", "Septiembre", "Octubre",
          "Noviembre", "Diciembre"]


def period_label(periods: list[str]) -> str:
    names = [f"{MONTHS[int(p[5:7]) - 1]} {p[:4]}" for p in sorted(periods)]
    return names[0] if len(names) == 1 else f"{names[0]} – {names[-1]}"


def period_detail(period: str) -> str:
    y, m = int(period[:4]), int(period[5:7])
    return f"01/{m:02d}/{y} – {calendar.monthrange(y, m)[1]:02d}/{m:02d}/{y}"


# ----------------------------------------------------------------------------------- plan

@dataclass
class PlanItem:
    account_id: int
    current: Decimal
    previous: Decimal
    arrears_months: int
    interest: Decimal

    @property
    def total(self) -> Decimal:
        return (self.current + self.previous + self.interest).quantize(Decimal("1"), rounding=ROUND_HALF_UP)


ACCOUNT_ROW = ("id", "reference", "holder_name", "id_number", "email")


@dataclass
class Plan:
    items: list[PlanItem] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # {"reference", "reason"}
    accounts: dict = field(default_factory=dict)  # account id -> row of ACCOUNT_ROW (named tuple)

    @property
    def count(self):
        return len(self.items)

    @property
    def total(self):
        return sum((i.total for i in self.items), Decimal("0"))


def plan(issuer, periods: list[str], billing_type: str, account_ids: list[int], *, issue_date: dt.date | None = None,
         skip_invoiced=True, batch: Batch | None = None) -> Plan:
    """What each account would be billed. Accounts with nothing to bill are listed in `skipped`.

    * normal: the charges of the selected periods.
    * with_arrears: those charges + the outstanding balance of earlier periods (FIFO after payments)
      + arrears interest on the part of it that is past due at the issue date.
    * arrears_only: the outstanding balance of periods up to the last selected one that are past due
      at the issue date, + interest.
    Interest = monthly rate x outstanding x months overdue (started months, at least one), per period.
    """
    periods = sorted(periods)
    first, last = periods[0], periods[-1]
    issue_date = issue_date or timezone.localdate()
    conf = BillingSettings.for_issuer(issuer)
    rate = conf.monthly_interest_rate / Decimal(100)
    ids = list(account_ids)
    # Big selections are read issuer-wide and filtered here: SQL "IN (...)" has a parameter limit.
    small = len(ids) <= IN_LIMIT
    q_ids = ids if small else None
    wanted = set(ids)
    # a normal batch bills the selected periods' charges only: the FIFO balances of every period are not needed
    debts = cartera.debts(issuer, q_ids) if billing_type != Batch.BillingType.NORMAL else {}
    dues = cartera.due_dates(issuer, q_ids) if billing_type != Batch.BillingType.NORMAL else {}
    current_by_acc: dict[int, Decimal] = {}
    charges = Charge.objects.filter(issuer=issuer, period__in=periods, account__isnull=False)
    if small:
        charges = charges.filter(account_id__in=ids)
    for acc, amount in charges.exclude(source=Charge.Source.INTEREST).values_list("account_id", "amount"):
        current_by_acc[acc] = current_by_acc.get(acc, ZERO) + amount
    key = ",".join(periods) + ("|mora" if billing_type == Batch.BillingType.ARREARS_ONLY else "")
    invoiced = {}
    if skip_invoiced:
        inv_qs = BillingInvoice.objects.filter(issuer=issuer, period_key=key)
        if small:
            inv_qs = inv_qs.filter(account_id__in=ids)
        invoiced = {a: b for a, b in inv_qs.values_list("account_id", "batch_id") if a in wanted}
    acc_qs = Account.objects.filter(issuer=issuer)
    if small:
        acc_qs = acc_qs.filter(pk__in=ids)
    result = Plan()
    # what the numbering writes of each account (index rows), read here once instead of per numbering chunk
    result.accounts = {a.id: a for a in acc_qs.values_list(*ACCOUNT_ROW, named=True) if a.id in wanted}
    refs = {pk: a.reference for pk, a in result.accounts.items()}
    for acc in ids:
        if acc in invoiced:
            if batch is None or invoiced[acc] != batch.pk:
                result.skipped.append({"reference": refs.get(acc, ""),
                                       "reason": f"Ya facturada para {key} en el lote {invoiced[acc]}."})
            continue
        debt = debts.get(acc) or cartera.AccountDebt()
        current = previous = interest = ZERO
        months = 0
        if billing_type in (Batch.BillingType.NORMAL, Batch.BillingType.WITH_ARREARS):
            current = current_by_acc.get(acc, ZERO)
        older: dict[str, Decimal] = {}
        if billing_type == Batch.BillingType.WITH_ARREARS:
            older = {p: v for p, v in debt.outstanding.items() if p < first and v > 0}
        elif billing_type == Batch.BillingType.ARREARS_ONLY:
            older = {p: v for p, v in debt.outstanding.items()
                     if p <= last and v > 0 and (dues.get((acc, p)) or cartera.period_end(p)) < issue_date}
        if older:
            previous = sum(older.values(), ZERO)
            raw_interest = ZERO
            for p, v in older.items():
                late_days = (issue_date - (dues.get((acc, p)) or cartera.period_end(p))).days
                if late_days > 0:
                    m = -(-late_days // 30)
                    months = max(months, m)
                    raw_interest += v * rate * m
            interest = raw_interest.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        item = PlanItem(acc, current, previous, months, interest)
        if item.total <= 0:
            if billing_type != Batch.BillingType.NORMAL:
                reason = "Sin saldo a facturar."
            elif acc not in current_by_acc:
                reason = "Sin cargos en los periodos seleccionados."
            else:  # a zero-value charge is a charge: say what is there
                reason = ("Cargos en cero en los periodos seleccionados." if item.total == 0
                          else "Saldo a favor en los periodos seleccionados.")
            result.skipped.append({"reference": refs.get(acc, ""), "reason": reason})
            continue
        result.items.append(item)
    return result


def check_periods_have_charges(issuer, periods: list[str], billing_type: str):
    if billing_type == Batch.BillingType.ARREARS_ONLY:
        return
    # one index probe per period: a DISTINCT over the periods' charges sorted every charge (the model's ordering
    # joins the DISTINCT), seconds for an issuer with a million charges a period
    missing = [p for p in periods if not Charge.objects.filter(issuer=issuer, period=p).exists()]
    if missing:
        raise Invalid(
            "billing.batch.period_without_charges",
            f"{'El periodo' if len(missing) == 1 else 'Los periodos'} {', '.join(missing)} no "
            f"{'tiene' if len(missing) == 1 else 'tienen'} cargos: importe o registre los cargos antes de facturar.",
            field="periods", details={"periods": missing})


def numbering_range(issuer, issue_date):
    """The numbering range of the batch's invoices on `issue_date`, or a refusal (field "issue_date")."""
    conf = BillingSettings.for_issuer(issuer)
    try:
        return numbering.find_range(issuer, DocumentType.INVOICE, conf.numbering_environment,
                                    prefix=conf.numbering_prefix if conf.numbering_prefix else None, on=issue_date)
    except numbering.NumberingError as exc:
        raise Conflict(exc.code, exc.message, field="issue_date") from exc


def start_job(batch: Batch, *, user=None, total=0, account_ids=None) -> Job:
    """A new generation job for the batch (call inside a transaction; it is enqueued on commit).

    A resumed batch's job gets the parameters of the previous one (the same accounts)."""
    params = {"batch_id": batch.pk}
    if account_ids is not None and not batch.references:
        params["account_ids"] = list(account_ids)
    elif batch.job is not None:
        params = dict(batch.job.params)
    job = jobs.create_job(batch.issuer, "billing.batch", title=f"Lote de facturación {batch.pk} "
                          f"({', '.join(batch.periods)})", params=params, user=user, total=total)
    Batch.objects.filter(pk=batch.pk).update(job=job)
    batch.job = job
    return job


def selected_account_ids(batch: Batch, params: dict) -> list[int]:
    if batch.references:
        by_ref = {}
        for start in range(0, len(batch.references), IN_LIMIT):
            by_ref.update(Account.objects.filter(issuer=batch.issuer,
                                                 reference__in=batch.references[start:start + IN_LIMIT])
                          .values_list("reference", "pk"))
        return [by_ref[r] for r in batch.references if r in by_ref]
    if params.get("account_ids"):
        return list(params["account_ids"])
    from facturador.billing.selection import select_by_filters

    return select_by_filters(batch.issuer, batch.filters).account_ids


# ------------------------------------------------------------------------------ numbering

def _issue_chunk(batch: Batch, rng, items: list[PlanItem], accounts: dict, conf: BillingSettings,
                 errors: list[dict], next_seq: int) -> int:
    """Number and store the invoices of `items` in one transaction; returns how many were stored.

    Everything that does not depend on the number (row values) is prepared first; inside the
    transaction the whole block of numbers is taken with one conditional UPDATE of the range
    (`numbering.allocate_block`) and the rows are written in bulk (COPY on PostgreSQL), so the range row
    is locked only for the inserts. Electronic batches number from the DIAN range the same way; their documents
    are built, signed and indexed later, by the workers that render them (`billing.electronic`)."""
    key = batch.period_key
    # The payment barcode (GS1-128 data and its readable line) is stored when the invoice is rendered: the
    # renderer computes it anyway, in parallel, and numbering is the serial phase.
    prepared = [(item, accounts[item.account_id], None) for item in items]
    if batch.electronic:  # accounts that cannot be DIAN invoices take no number
        prepared = _check_electronic(batch, prepared, errors)
    try:
        # The plan left out the accounts invoiced for this period already, so the chunk is written without
        # asking again; an account invoiced meanwhile by another batch makes UNIQUE(issuer, account, period_key)
        # refuse the chunk (nothing stays: its numbers go back), which is then written again without it.
        return _write_chunk(batch, rng, prepared, errors, next_seq)
    except IntegrityError:
        existing = set(BillingInvoice.objects.filter(issuer=batch.issuer, period_key=key,
                                                     account_id__in=[i.account_id for i in items])
                       .values_list("account_id", flat=True))
        if not existing:
            raise
        return _write_chunk(batch, rng, [p for p in prepared if p[0].account_id not in existing], errors, next_seq)


def _write_chunk(batch: Batch, rng, todo: list, errors: list[dict], next_seq: int) -> int:
    """One transaction: the block of numbers, the invoices, their interest charges and index rows."""
    key = batch.period_key
    now = timezone.now()
    if not todo:
        return 0
    with transaction.atomic():
        proven = _bulk_session(batch, [acc.id for _item, acc, _code in todo])
        first = numbering.allocate_block(rng, len(todo), on=batch.issue_date)
        rows, interests = [], []
        for k, (item, acc, _code) in enumerate(todo):
            rows.append({"account_id": acc.id, "number": first + k, "current_amount": item.current,
                         "previous_balance": item.previous, "arrears_interest": item.interest, "total": item.total,
                         "seq": next_seq + k})
            if item.interest > 0:
                interests.append(Charge(issuer=batch.issuer, account_id=acc.id, reference=acc.reference,
                                        period=batch.periods[-1], concept="Intereses de mora", quantity=Decimal(1),
                                        unit_price=item.interest, amount=item.interest, source=Charge.Source.INTEREST))
        ids = insert_rows(BillingInvoice, rows, returning_ids=True, same={
            "issuer_id": batch.issuer_id, "batch_id": batch.pk, "period_key": key, "prefix": rng.prefix,
            "issue_date": batch.issue_date, "due_date": batch.due_date, "created_at": now})
        if not batch.electronic:  # electronic invoices are indexed when they are signed (billing.electronic)
            pdf = f"{batch.output_dir}/pdf/{rng.prefix}"
            insert_rows(IssuedDocument, [
                {"source_id": str(pk), "number": row["number"], "customer_name": acc.holder_name[:300],
                 "customer_tax_id": acc.id_number, "customer_email": acc.email, "total": row["total"],
                 "pdf": f"{pdf}{row['number']}.pdf"}
                for pk, row, (_item, acc, _code) in zip(ids, rows, todo)], same={
                "issuer_id": batch.issuer_id, "source": "billing.invoice", "country": batch.issuer.country,
                "document_type": DocumentType.INVOICE, "prefix": rng.prefix, "issue_date": batch.issue_date,
                "due_date": batch.due_date, "period": key[:20], "status": "issued", "created_at": now})
        if proven:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = origin")
        Charge.objects.bulk_create(interests)
    return len(rows)


def _bulk_session(batch: Batch, account_ids: list[int]) -> bool:
    """PostgreSQL: prepare the numbering transaction for its COPYs, as the imports do (`imports.loading`).

    * `synchronous_commit = off`: a commit lost in a crash loses this chunk and everything committed after it
      (the WAL is written in order, and any synchronous commit — a single invoice, a rendered chunk — flushes it
      first), so numbers stay gap-free and the resumed batch numbers the chunk again.
    * The keys of the rows are locked FOR KEY SHARE in three statements (the issuer, the batch, the accounts:
      none can be deleted before the commit) and, when the role may set `session_replication_role`, the
      transaction's own per-row foreign-key triggers are off for the COPYs — each would lock the same rows
      again one by one, costing about as much as the insert. Other sessions keep every check. Returns True
      when the triggers are off (the caller turns them on again before writing anything else)."""
    if connection.vendor != "postgresql":
        return False
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute(f"SELECT 1 FROM {qn('core_issuer')} WHERE id = %s FOR KEY SHARE", [batch.issuer_id])
        cursor.execute(f"SELECT 1 FROM {qn(Batch._meta.db_table)} WHERE id = %s FOR KEY SHARE", [batch.pk])
        cursor.execute(f"SELECT count(*) FROM (SELECT 1 FROM {qn(Account._meta.db_table)} WHERE id = ANY(%s) "
                       f"FOR KEY SHARE) locked", [account_ids])
        if cursor.fetchone()[0] != len(set(account_ids)):
            return False  # an account went away since the plan: let the triggers refuse the chunk
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
    except DatabaseError as exc:
        logger.debug("Batch %s: foreign keys checked row by row (%s)", batch.pk, exc)
        return False
    return True


def insert_rows(model, rows: list[dict], *, returning_ids=False, same: dict | None = None) -> list[int]:
    """Insert rows given as {attname: value} in bulk, with the values of `same` in every row (written once) and
    the other fields' defaults: COPY on PostgreSQL, in its text format built here (ids taken from the table's
    sequence first when they are needed), bulk_create elsewhere."""
    if not rows:
        return []
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    defaults = dict(same or {})
    defaults.update({f.attname: f.get_default() for f in fields
                     if f.attname not in rows[0] and f.attname not in defaults})
    if connection.vendor != "postgresql":
        objs = model.objects.bulk_create([model(**defaults, **r) for r in rows])
        return [o.pk for o in objs]
    table = model._meta.db_table
    columns = list(rows[0]) + list(defaults)
    suffix = "".join("\t" + _copy_value(v) for v in defaults.values()) + "\n"  # the same for every row
    ids = []
    with connection.cursor() as cur:
        if returning_ids:
            cur.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                        [table, len(rows)])
            ids = [r[0] for r in cur.fetchall()]
            columns = ["id"] + columns
            text = "".join(f"{pk}\t" + "\t".join(map(_copy_value, r.values())) + suffix for pk, r in zip(ids, rows))
        else:
            text = "".join("\t".join(map(_copy_value, r.values())) + suffix for r in rows)
        qn = connection.ops.quote_name
        with connection.wrap_database_errors, \
                cur.cursor.copy(f"COPY {qn(table)} ({', '.join(qn(c) for c in columns)}) FROM STDIN") as copy:
            copy.write(text)
    return ids


def _copy_value(v) -> str:
    """A value in PostgreSQL's COPY text format."""
    if v is None:
        return "\\N"
    if v.__class__ is str:
        if "\\" in v or "\t" in v or "\n" in v or "\r" in v:
            v = v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
        return v
    if v is True or v is False:
        return "t" if v else "f"
    if isinstance(v, (bytes, bytearray, memoryview)):  # bytea, hex format (its backslash escaped for COPY)
        return "\\\\x" + bytes(v).hex()
    if isinstance(v, (dict, list)):
        return _copy_value(json.dumps(v))
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def _charges_by_account(batch: Batch, account_ids) -> dict[int, list[Charge]]:
    """The charges of the batch's periods (the invoice lines) of these accounts, in order."""
    by_acc: dict[int, list[Charge]] = {}
    if batch.billing_type != Batch.BillingType.ARREARS_ONLY:
        # By account only, so that the (account, period) index is the one the query can use: with the issuer in
        # the WHERE clause and no statistics yet on freshly loaded charges, PostgreSQL scanned the issuer's whole
        # period for each chunk. The issuer is checked on each row instead.
        for c in (Charge.objects.filter(account_id__in=list(account_ids), period__in=batch.periods)
                  .exclude(source=Charge.Source.INTEREST).order_by("period", "id")):
            if c.issuer_id == batch.issuer_id:
                by_acc.setdefault(c.account_id, []).append(c)
    return by_acc


def _check_electronic(batch: Batch, todo: list, errors: list[dict]) -> list:
    """The accounts of `todo` whose DIAN invoice can be made (cheap checks of its lines and buyer; the UBL, the
    CUFE and the signature are made later by the workers that render them, see billing.electronic)."""
    from facturador.billing import electronic

    lines_by_acc = _charges_by_account(batch, [p[0].account_id for p in todo])
    kept = []
    for item, acc, code in todo:
        try:
            electronic.payload(batch, acc, lines_by_acc.get(acc.pk, []), item.interest)
        except electronic.ElectronicError as exc:
            errors.append({"reference": acc.reference, "reason": f"Factura electrónica: {exc.message}"})
            continue
        kept.append((item, acc, code))
    return kept


def pdf_relpath(batch: Batch, inv: BillingInvoice) -> str:
    return f"{batch.output_dir}/pdf/{inv.prefix}{inv.number}.pdf"


def _chunk_dir(batch: Batch) -> str:
    """Where the workers keep the compiled PDF of each rendered chunk until its print part is built."""
    return f"{batch.output_dir}/chunks"


def _write_new(path: Path, tmp: Path, data: bytes):
    """Write an invoice's PDF: straight to its path the first time (nothing reads it before its row names it, and a
    worker killed mid-write leaves a file the next render replaces), else through a temporary file and a rename so
    that a reader never sees half of it. One file-system operation instead of two per invoice: each waits on the
    file system's journal while PostgreSQL commits on the same disk (≈ 0.4 ms per file measured with commits under
    way, 0.06 ms without)."""
    try:
        with open(path, "xb") as fh:
            fh.write(data)
    except FileExistsError:
        tmp.write_bytes(data)
        os.replace(tmp, path)


def _write_chunk_pdf(media: Path, batch: Batch, seq_from: int, seq_to: int, pdf: bytes):
    """Keep the chunk's compiled PDF (its invoices' pages in sequence order, fonts shared) for the print part:
    joining these is about ten times cheaper than joining the invoices' own PDFs, and the part is smaller.
    Written (temp + rename) after the invoices' PDFs: `build_part` takes it only if it is not older than any
    of them, so a chunk left by a killed worker whose invoices were rendered again is never used."""
    path = media / _chunk_dir(batch) / f"{seq_from:09d}-{seq_to:09d}.pdf"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(pdf)
    os.replace(tmp, path)


# Prefix of the statements that record a lease or a rendered chunk on PostgreSQL (one round trip, its own implicit
# transaction): their commit does not wait for the WAL to reach the disk. What a crash of PostgreSQL could lose is
# the last fraction of a second of leases and PDF paths, which are rendered again (the files are rewritten whole);
# any later synchronous commit (numbering, a print part, the batch's outcome) makes them durable first.
ASYNC_COMMIT = "SET LOCAL synchronous_commit TO off; "


def _store_rendered(done: list[BillingInvoice]):
    """Record the rendered invoices' PDF and barcode in one statement (bulk_update's CASE expressions cost more
    CPU than the render of a chunk's barcodes)."""
    if not done:
        return
    table = connection.ops.quote_name(BillingInvoice._meta.db_table)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(ASYNC_COMMIT + f"UPDATE {table} AS b SET pdf = v.pdf, barcode_data = v.data, "
                        "barcode_text = v.text FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[]) "
                        "AS v(id, pdf, data, text) WHERE b.id = v.id",
                        [[i.pk for i in done], [i.pdf for i in done], [i.barcode_data for i in done],
                         [i.barcode_text for i in done]])
        else:
            cur.executemany(f"UPDATE {table} SET pdf = %s, barcode_data = %s, barcode_text = %s WHERE id = %s",
                            [(i.pdf, i.barcode_data, i.barcode_text, i.pk) for i in done])


# ------------------------------------------------------------------------------ rendering

class _Renderer:
    """Builds the template data of an invoice and renders it with the batch's template version."""

    def __init__(self, batch: Batch, job_id: int | None = None):
        from facturador.printing.render import get_renderer

        self.batch, self.job_id = batch, job_id  # job_id: the render job (its DIAN uploads, electronic batches)
        self.issuer = batch.issuer
        self.conf = BillingSettings.for_issuer(self.issuer)
        tpl = batch.template
        assets = tpl.asset_dict()
        self.logo = next((n for n in assets if n.lower().startswith("logo")), None)
        if self.logo is None and self.issuer.logo:
            try:
                with self.issuer.logo.open("rb") as fh:
                    ext = Path(self.issuer.logo.name).suffix.lower() or ".png"
                    self.logo = f"logo-emisor{ext}"
                    assets[self.logo] = fh.read()
            except OSError:
                self.logo = None
        source = invoice_templates.render_source(tpl)
        self.renderer = get_renderer(source, assets)
        self.qr_svg = "qr_svg" in source  # the SVG QR only for the (custom) templates that draw it
        iss = self.issuer
        self.issuer_data = {
            "name": iss.legal_name, "nit": iss.display_tax_id, "address": iss.address,
            "city": ", ".join(x for x in (iss.city, iss.department) if x), "phone": iss.phone, "email": iss.email,
            "website": "", "logo": self.logo, "tax_note": "",
        }
        self.periods = batch.periods
        self.notes = [n for n in self.conf.notes.splitlines() if n.strip()]
        # the labels of the service classes, translated once (get_FIELD_display resolves a lazy string per call)
        self.class_labels = {value: str(label) for value, label in Account._meta.get_field("service_class").flatchoices}
        self.signer = None  # billing.electronic.BatchSigner, for electronic batches

    @staticmethod
    def short_period(period: str) -> str:
        return f"{MONTHS[int(period[5:7]) - 1][:3].lower()} {period[:4]}"

    def raw(self, inv: BillingInvoice, charges: list[Charge], dian: dict | None = None) -> dict:
        acc = inv.account
        several = len(self.periods) > 1
        # the group is the period when the invoice has several; an operator's code is not for the customer
        lines = [{"concept": c.concept, "group": self.short_period(c.period) if several else "",
                  "quantity": c.quantity, "unit": "",
                  "unit_price": c.unit_price, "amount": c.amount,
                  "net_amount": c.net_amount, "tax_rate": c.iva_rate, "tax_amount": c.tax_amount} for c in charges]
        if self.batch.billing_type == Batch.BillingType.ARREARS_ONLY:
            lines = []
        return {
            "document": {"title": self.conf.document_title, "number": inv.full_number, "issue_date": inv.issue_date,
                         "period": period_label(self.periods), "periods": [period_detail(p) for p in self.periods]},
            "issuer": self.issuer_data,
            "customer": {"holder": acc.holder_name, "id_type": acc.id_type,
                         "id_number": acc.id_number + (f"-{acc.check_digit}" if acc.check_digit else ""),
                         "address": acc.address, "city": acc.municipality_code, "account": acc.reference,
                         "payment_reference": acc.reference,
                         "use_class": self.class_labels.get(acc.service_class, acc.service_class),
                         "stratum": acc.stratum, "meter": ""},
            "lines": lines,
            "previous_balance": inv.previous_balance,
            "arrears_months": 0,
            "arrears_interest": inv.arrears_interest,
            "due_date": inv.due_date,
            "payment": {"gln": self.conf.gln, "ref_width": self.conf.ref_width, "amount_width": self.conf.amount_width},
            "dian": dian,
            "notes": self.notes,
        }

    together = True  # compile several invoices at once while the template allows it

    def _render_together(self, prepared) -> tuple[bytes, list[bytes]] | None:
        """One Typst compile for the whole chunk (about twice as fast per invoice), split into one PDF per
        invoice; returns (the chunk's PDF, the invoices' PDFs). Only when the template accepts
        {"invoices": [...]} and gives exactly one page per invoice; otherwise None, and each invoice is
        compiled on its own."""
        if not self.together or len(prepared) < 2:
            return None
        import io

        import pypdfium2

        from facturador.printing.render import TemplateError

        try:
            whole = self.renderer.render({"invoices": [data for _, data in prepared]})
        except TemplateError:
            self.together = False
            return None
        pdf = pypdfium2.PdfDocument(whole)
        try:
            if len(pdf) != len(prepared):  # a multi-page invoice, or a template without the "invoices" form
                return None
            pages = []
            for i in range(len(pdf)):
                single = pypdfium2.PdfDocument.new()
                single.import_pages(pdf, [i])
                buf = io.BytesIO()
                single.save(buf)
                single.close()
                pages.append(buf.getvalue())
        finally:
            pdf.close()
        return whole, pages

    def close(self):
        if self.signer is not None:
            self.signer.close()

    def render_chunk(self, invoices: list[BillingInvoice], on_each=None) -> list[BillingInvoice]:
        from facturador.printing.invoice import prepare_invoice_data

        by_acc = _charges_by_account(self.batch, [i.account_id for i in invoices])
        dian: dict[int, dict] = {}
        if self.batch.electronic:  # sign (once) before rendering: the PDF carries the CUFE and the QR
            if self.signer is None:
                from facturador.billing.electronic import BatchSigner

                self.signer = BatchSigner(self.batch, job_id=self.job_id)
            dian = self.signer.sign(invoices, by_acc)
        media = Path(settings.MEDIA_ROOT)
        prepared = [(inv, prepare_invoice_data(self.raw(inv, by_acc.get(inv.account_id, []), dian.get(inv.pk)),
                                                  qr_svg=self.qr_svg))
                    for inv in invoices]
        together = self._render_together(prepared)
        pages = together[1] if together is not None else None
        done = []
        made = set()
        for k, (inv, data) in enumerate(prepared):
            rel = pdf_relpath(self.batch, inv)
            path = media / rel
            if path.parent not in made:
                path.parent.mkdir(parents=True, exist_ok=True)
                made.add(path.parent)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            if pages is not None:
                _write_new(path, tmp, pages[k])
            else:
                self.renderer.render(data, output=tmp)
                os.replace(tmp, path)
            inv.pdf = rel
            inv.barcode_data, inv.barcode_text = data["payment"]["element_string"], data["payment"]["human_readable"]
            done.append(inv)
            if on_each:
                on_each()
        if together is not None and done[0].seq is not None and done[-1].seq - done[0].seq == len(done) - 1:
            _write_chunk_pdf(media, self.batch, done[0].seq, done[-1].seq, together[0])
        _store_rendered(done)
        return done


def _rendered_count(batch: Batch) -> int:
    return BillingInvoice.objects.filter(batch=batch).exclude(pdf="").count()


# ------------------------------------------------------------------- shared work: leases

def _free(me: int) -> Q:
    """Rows nobody else is working on: not leased, leased by this job (an earlier attempt of it, killed), or
    leased by a job that is no longer running (finished, failed, or re-queued after its worker died)."""
    running = Job.objects.filter(status=Job.Status.RUNNING).exclude(pk=me).values("pk")
    return Q(claimed_by__isnull=True) | Q(claimed_by=me) | ~Q(claimed_by__in=running)


def _claim(batch: Batch, me: int, limit: int) -> list[BillingInvoice]:
    """Lease the next `limit` invoices without a PDF, in number order. On PostgreSQL one statement (an UPDATE of the
    rows SKIP LOCKED lets this worker take, ASYNC_COMMIT): with every core busy each round trip waits for PostgreSQL
    to be scheduled, and a transaction of three took three. On SQLite (in process) a short transaction, serialised
    by its write lock."""
    free = BillingInvoice.objects.filter(batch=batch, pdf="").filter(_free(me)).order_by("seq").values("pk")[:limit]
    if connection.vendor == "postgresql":
        sql, params = free.query.sql_with_params()
        table = connection.ops.quote_name(BillingInvoice._meta.db_table)
        with connection.cursor() as cur:
            cur.execute(f"{ASYNC_COMMIT}UPDATE {table} SET claimed_by = %s WHERE id IN ({sql} FOR UPDATE SKIP LOCKED) "
                        "RETURNING id", [me, *params])
            cur.nextset()  # past the SET
            ids = [row[0] for row in cur.fetchall()]
    else:
        with transaction.atomic():
            ids = [row["pk"] for row in free]
            if ids:
                BillingInvoice.objects.filter(pk__in=ids).update(claimed_by=me)
    if not ids:
        return []
    return list(BillingInvoice.objects.filter(pk__in=ids).select_related("account").order_by("seq"))


# ----------------------------------------------------------------------------- print parts

def ensure_parts(batch: Batch) -> list[BatchPart]:
    """The print parts covering every invoice of the batch (FACTURADOR_BILLING_PDF_PART_SIZE invoices each, in
    number order). Created by the main job once numbering is over; existing parts are kept as they are."""
    size = max(1, settings.FACTURADOR_BILLING_PDF_PART_SIZE)
    parts = list(BatchPart.objects.filter(batch=batch).order_by("index"))
    last = BillingInvoice.objects.filter(batch=batch).aggregate(m=Max("seq"))["m"] or 0
    covered = parts[-1].seq_to if parts else 0
    new = []
    while covered < last:
        to = min(covered + size, last)
        new.append(BatchPart(batch=batch, index=len(parts) + len(new) + 1, seq_from=covered + 1, seq_to=to))
        covered = to
    if new:
        edges = {seq: f"{prefix}{number}" for seq, prefix, number in BillingInvoice.objects.filter(
            batch=batch, seq__in=[p.seq_from for p in new] + [p.seq_to for p in new]).values_list("seq", "prefix", "number")}
        for p in new:
            p.first_number, p.last_number = edges.get(p.seq_from, ""), edges.get(p.seq_to, "")
        BatchPart.objects.bulk_create(new)
    return parts + new


def build_ready_parts(batch: Batch, me: int, seqs: tuple[int, int] | None = None) -> int:
    """Build every part (touching `seqs`, if given) whose invoices all have their PDF and that nobody else is
    building; returns how many this call built. Called by each worker right after it renders a chunk, so a
    part is built as soon as its last invoice is rendered, while the other workers go on rendering."""
    unrendered = BillingInvoice.objects.filter(batch=batch, pdf="", seq__gte=OuterRef("seq_from"),
                                               seq__lte=OuterRef("seq_to"))
    qs = BatchPart.objects.filter(batch=batch, pdf="").filter(~Exists(unrendered))  # one query per rendered chunk
    if seqs:
        qs = qs.filter(seq_to__gte=seqs[0], seq_from__lte=seqs[1])
    built = 0
    for part in qs.order_by("index"):
        if not BatchPart.objects.filter(pk=part.pk, pdf="").filter(_free(me)).update(
                claimed_by=me, rendered_at=timezone.now()):
            continue  # another worker is building it
        build_part(batch, part)
        built += 1
    return built


def build_part(batch: Batch, part: BatchPart):
    """Stream the part's pages (in number order) into its print PDF: temp file + rename. The pages come from the
    chunks' compiled PDFs where a chunk lies inside the part (see `_write_chunk_pdf`), else from the invoices'
    own PDFs. The chunk files it used are removed once the part is recorded."""
    from facturador.printing.pdfconcat import concat_pdfs

    media = Path(settings.MEDIA_ROOT)
    rows = list(BillingInvoice.objects.filter(batch=batch, seq__gte=part.seq_from, seq__lte=part.seq_to)
                .order_by("seq").values_list("seq", "pdf"))
    chunks = _part_chunks(media, batch, part)
    rel = f"{batch.output_dir}/{part.filename}"
    target = media / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    used = []

    def inputs():
        k = 0
        while k < len(rows):
            seq = rows[k][0]
            chunk = chunks.get(seq)
            if chunk is not None:
                last, path, mtime = chunk
                n = last - seq + 1
                if k + n <= len(rows) and rows[k + n - 1][0] == last and all(
                        _mtime(media / r[1]) <= mtime for r in rows[k:k + n]):
                    used.append(path)
                    yield path
                    k += n
                    continue
            yield media / rows[k][1]
            k += 1

    pages = concat_pdfs(inputs(), tmp)
    os.replace(tmp, target)
    BatchPart.objects.filter(pk=part.pk).update(pdf=rel, pages=pages, size=target.stat().st_size,
                                                built_at=timezone.now())
    for path in chunks_in(media, batch, part):
        path.unlink(missing_ok=True)


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 1 << 62  # missing: concat_pdfs reports it when it reads the invoice's own PDF


def chunks_in(media: Path, batch: Batch, part: BatchPart) -> list[Path]:
    """The chunk files whose first invoice lies in the part."""
    found = []
    try:
        entries = list(os.scandir(media / _chunk_dir(batch)))
    except FileNotFoundError:
        return found
    for e in entries:
        name = e.name
        if name.endswith(".pdf") and not name.startswith(".") and "-" in name:
            first = name[:-4].split("-")[0]
            if first.isdigit() and part.seq_from <= int(first) <= part.seq_to:
                found.append(Path(e.path))
    return found


def _part_chunks(media: Path, batch: Batch, part: BatchPart) -> dict[int, tuple[int, Path, int]]:
    """first seq -> (last seq, path, mtime) of the chunk files lying inside the part (the longest per first seq)."""
    out: dict[int, tuple[int, Path, int]] = {}
    for path in chunks_in(media, batch, part):
        first, _, last = path.stem.partition("-")
        if not last.isdigit():
            continue
        first, last = int(first), int(last)
        if last > part.seq_to or (first in out and out[first][0] >= last):
            continue
        try:
            out[first] = (last, path, path.stat().st_mtime_ns)
        except OSError:
            continue
    return out


# --------------------------------------------------------------------------------- engine

def generate(ctx: jobs.JobContext, batch: Batch):
    """The work of a batch's job (handler `billing.jobs.run_batch`). The batch's state is its job's;
    here only its outcome is stored (invoices, totals, files, accounts not billed, when it ended)."""
    try:
        return _run(ctx, batch)
    except jobs.JobFailed as exc:
        Batch.objects.filter(pk=batch.pk).update(
            finished_at=timezone.now(), error_list=batch.error_list + [{"reference": "", "reason": exc.message}])
        raise
    except BaseException:
        Batch.objects.filter(pk=batch.pk).update(finished_at=timezone.now())
        raise


def number_chunks(count: int) -> list[tuple[int, int]]:
    """The [start, end) slices numbered one transaction each: a short first one (ten render chunks), so the
    helpers start rendering while the rest is numbered, then FACTURADOR_BILLING_NUMBER_CHUNK each."""
    size = max(1, settings.FACTURADOR_BILLING_NUMBER_CHUNK)
    first = min(size, max(1, 10 * settings.FACTURADOR_BILLING_RENDER_CHUNK))
    edges = [0] + list(range(first, count, size)) if count > first else [0]
    return [(start, min(count, end)) for start, end in zip(edges, edges[1:] + [count]) if start < count]


def _run(ctx: jobs.JobContext, batch: Batch):
    issuer = batch.issuer
    conf = BillingSettings.for_issuer(issuer)
    t_start = time.time()
    account_ids = selected_account_ids(batch, ctx.params)
    ctx.progress(0, message="Calculando valores", force=True)
    already_in_batch = BillingInvoice.objects.filter(batch=batch).count()  # only this job numbers the batch
    fresh = not already_in_batch
    if fresh:  # helpers: queued with the batch by create_batch; a batch resumed before numbering gets them here
        ctx.set_result(numbered=False)
        start_helpers(batch, ctx.job, len(account_ids))
    p = plan(issuer, batch.periods, batch.billing_type, account_ids, issue_date=batch.issue_date, batch=batch)
    total = already_in_batch + p.count
    skipped = [dict(e, skipped=True) for e in p.skipped]  # left out by design: not errors
    errors: list[dict] = []  # accounts that should have been billed and were not
    ctx.progress(_rendered_count(batch), total=total, message="Numerando facturas", force=True)
    t_planned = time.time()

    # 1. numbering: one block of numbers and bulk inserts per chunk (skips accounts already invoiced)
    issued = 0
    writing = 0.0  # seconds spent numbering and writing chunks (the phase also starts the helpers)
    if p.items:
        try:
            if batch.electronic:
                from facturador.billing import electronic

                rng = electronic.numbering_range(issuer)
            else:
                rng = numbering_range(issuer, batch.issue_date)
        except Refusal as exc:
            raise jobs.JobFailed(exc.message) from exc
        if not fresh:  # a resumed batch numbers again (a new one said so before its plan)
            ctx.set_result(numbered=False)
        next_seq = (BillingInvoice.objects.filter(batch=batch).aggregate(m=Max("seq"))["m"] or 0) + 1
        for start, end in number_chunks(len(p.items)):
            ctx.check_cancel()
            chunk = p.items[start:end]
            if batch.electronic:  # the DIAN lines are checked now: whole accounts
                accounts = Account.objects.in_bulk([i.account_id for i in chunk])
            else:  # the rows the plan read (model instances cost more than the inserts)
                accounts = p.accounts
            try:
                t_chunk = time.perf_counter()
                n = _issue_chunk(batch, rng, chunk, accounts, conf, errors, next_seq)
                writing += time.perf_counter() - t_chunk
            except numbering.NumberingError as exc:
                raise jobs.JobFailed(exc.message) from exc
            issued += n
            next_seq += n
            ctx.progress(message=f"Numerando facturas: {already_in_batch + issued} de {total}")
            if start == 0:  # helpers render (and the DIAN sending sends) while the rest is numbered
                _start_sending(batch)
                if not fresh:  # a resumed batch's helpers: now that what is left is known
                    start_helpers(batch, ctx.job, total - _rendered_count(batch))
    t_numbered = time.time()
    total = BillingInvoice.objects.filter(batch=batch).count()
    Batch.objects.filter(pk=batch.pk).update(error_list=skipped + errors)
    parts = ensure_parts(batch)
    ctx.set_result(numbered=True, numbering={"numbers": issued, "seconds": round(t_numbered - t_planned, 3),
                                             "writing_seconds": round(writing, 3)},
                   parts=len(parts))
    if total == 0:
        raise jobs.JobFailed(f"No se generó ninguna factura ({outcome_summary(batch.account_count, 0, skipped + errors)}).")

    # 2. rendering and print parts, shared with the helper jobs
    done = _rendered_count(batch)
    ctx.progress(done, total=total, message="Generando PDF", force=True)
    if not issued:  # a resumed batch: numbering was over already
        _start_sending(batch)
        start_helpers(batch, ctx.job, total - done)
    _work(ctx, batch, main=True, total=total)
    if batch.electronic:  # invoices whose DIAN document could not be signed (see billing.electronic.BatchSigner)
        known = {(e["reference"], e["reason"]) for e in errors}
        errors += [{"reference": ref, "reason": reason, "numbered": True}  # numbered, so among the batch's invoices
                   for ref, reason in BillingInvoice.objects.filter(batch=batch)
                   .exclude(error="").order_by("seq").values_list("account__reference", "error")
                   if (ref, reason) not in known]

    # 3. outcome (the print parts are built; the zip and the manifest are streamed when downloaded)
    parts = list(BatchPart.objects.filter(batch=batch).order_by("index"))
    agg = BillingInvoice.objects.filter(batch=batch).aggregate(n=Count("id"), amount=Sum("total"))
    count, amount = agg["n"], agg["amount"] or Decimal("0")
    merged = parts[0].pdf if len(parts) == 1 else ""
    t_end = time.time()
    Batch.objects.filter(pk=batch.pk).update(merged_pdf=merged, invoice_count=count, total_amount=amount,
                                             finished_at=timezone.now(), error_list=skipped + errors)
    last = parts[-1]
    ctx.set_result(batch_id=batch.pk, invoices=count, pages=sum(x.pages for x in parts), parts=len(parts),
                   total=str(amount), skipped=len(skipped), failed=len(errors),
                   timings={"plan": round(t_planned - t_start, 3), "numbering": round(t_numbered - t_planned, 3),
                            "rendering": round(last.rendered_at.timestamp() - t_numbered, 3),
                            "last_part_after_last_render": round((last.built_at - last.rendered_at).total_seconds(), 3),
                            "finish": round(t_end - last.built_at.timestamp(), 3), "total": round(t_end - t_start, 3)})
    ctx.progress(total, total=total, errors=len(errors),
                 message=outcome_summary(batch.account_count, count, skipped + errors), force=True)
    return Job.Status.FINISHED_WITH_ERRORS if errors else Job.Status.FINISHED


def _work(ctx: jobs.JobContext, batch: Batch, *, main: bool, total: int = 0, main_id: int | None = None) -> int:
    opened: list[_Renderer] = []
    try:
        return _render_leased(ctx, batch, opened, main=main, total=total, main_id=main_id)
    finally:
        for renderer in opened:  # an electronic batch's uploads by this job end before the job does
            renderer.close()


def _render_leased(ctx: jobs.JobContext, batch: Batch, opened: list, *, main: bool, total: int = 0,
                   main_id: int | None = None) -> int:
    """Render leased chunks and build the parts they complete until nothing is left for this job.

    The main job returns when every invoice has its PDF and every part is built (waiting for what other
    workers hold); a helper returns when nothing is left to lease once numbering is over, or when the
    main job ends or is cancelled. Returns the number of invoices this job rendered."""
    me = ctx.job.pk
    renderer = None
    rendered = 0
    last_count = 0.0
    limit = settings.FACTURADOR_BILLING_RENDER_CHUNK
    chunk: list[BillingInvoice] = []
    state, state_read = None, 0.0
    while True:
        ctx.check_cancel()
        # a helper reads the main job's state before each lease while it waits, every half second while it renders
        if not main and (not chunk or time.monotonic() - state_read >= 0.5):
            state = Job.objects.filter(pk=main_id).values_list("status", "cancel_requested", "result").first()
            state_read = time.monotonic()
            if state is None or state[0] in Job.FINAL or state[1]:
                return rendered  # (a helper that a single worker runs after the main job: without a renderer)
            if renderer is None:  # the template and the Typst compiler ready while the main job plans and numbers
                renderer = _Renderer(batch, job_id=me)
                opened.append(renderer)
        chunk = _claim(batch, me, limit)
        if chunk:
            if renderer is None:
                renderer = _Renderer(batch, job_id=me)
                opened.append(renderer)
            if main:
                now = time.monotonic()
                if now - last_count > 0.5:
                    # the invoices left (partial index billing_invoice_to_render): shrinks as the batch goes on
                    ctx.progress(max(0, total - BillingInvoice.objects.filter(batch=batch, pdf="").count()))
                    last_count = now
            renderer.render_chunk(chunk, on_each=ctx.check_cancel)
            rendered += len(chunk)
            if main:
                ctx.progress(min(ctx.job.done + len(chunk), total))
            else:
                ctx.progress(rendered, total=rendered, message=f"{rendered} PDF generados para el lote {batch.pk}")
            build_ready_parts(batch, me, (chunk[0].seq, chunk[-1].seq))
            continue
        if build_ready_parts(batch, me):
            continue
        if main:
            pending = BillingInvoice.objects.filter(batch=batch, pdf="").exists()
            unbuilt = BatchPart.objects.filter(batch=batch, pdf="").exists()
            if not pending and not unbuilt:
                return rendered
            if not pending:
                ctx.progress(total, message="Terminando los PDF de impresión")
        elif (state[2] or {}).get("numbered") is True:
            return rendered  # numbering is over and nothing is left to lease (a main job still queued numbers later)
        time.sleep(0.05)  # other workers hold the rest (or numbering goes on): two small queries a round


def _start_sending(batch: Batch):
    """An electronic batch's DIAN sending job ("billing.batch_send"), beside the rendering from the start."""
    if batch.electronic:
        from facturador.billing import electronic

        with transaction.atomic():
            electronic.start_sending(batch)


def start_helpers(batch: Batch, main: Job, remaining: int) -> list[Job]:
    """Helper jobs ("billing.batch_render") for big batches: FACTURADOR_BILLING_RENDER_HELPERS of them (one per
    extra worker), at most one per FACTURADOR_BILLING_HELPER_MIN invoices left to render (for a new batch: the
    invoices of its plan). A new batch's are queued with its job (`billing.actions.create_batch`), so a second worker
    gets its renderer ready while the main job plans; a resumed batch's main job starts them once it knows what
    is left."""
    minimum = max(1, settings.FACTURADOR_BILLING_HELPER_MIN)
    if remaining < minimum:
        return []
    running = Job.objects.filter(kind="billing.batch_render", params__batch_id=batch.pk,
                                 status__in=Job.ACTIVE).count()
    wanted = min(settings.FACTURADOR_BILLING_RENDER_HELPERS, remaining // minimum) - running
    with transaction.atomic():
        return [jobs.create_job(batch.issuer, "billing.batch_render",
                                title=f"Lote {batch.pk}: generación de PDF (ayudante {i + 1})",
                                params={"batch_id": batch.pk, "main_job": main.pk}) for i in range(max(0, wanted))]


def help_render(ctx: jobs.JobContext, batch: Batch):
    """Renders leased chunks of a batch and builds the parts they complete, beside the main job (handler
    `billing.jobs.run_batch_helper`). Stops when nothing is left to lease once numbering is over, or when
    the main job ends or is cancelled."""
    rendered = _work(ctx, batch, main=False, main_id=ctx.params.get("main_job"))
    ctx.set_result(rendered=rendered)
