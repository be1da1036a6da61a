"""Mass invoicing batches: planning, the checks of a new batch and the engine of its background job.

A batch is created by `billing.actions.create_batch`; its job handlers are in `billing.jobs`.
Generation (job kind "billing.batch") runs in three idempotent phases:

1. **Numbering**: for every selected account that has something to bill and no invoice yet
   for the batch's period key, one transaction per chunk allocates the number, stores the
   `BillingInvoice` (UNIQUE(issuer, account, period_key)), the arrears-interest charge (if
   any) and the `core.IssuedDocument` row. A crash loses nothing and duplicates nothing.
2. **Rendering**: invoices of the batch without a PDF are rendered with the batch's template
   version, one at a time (one cached Typst compiler), written atomically (temp + rename).
   Big batches also enqueue a helper job ("billing.batch_render") that renders from the
   other end, so two workers share the work; a PDF rendered twice is identical, so overlap
   is harmless.
3. **Output**: the merged print PDF is streamed from the per-invoice files with
   `concat_pdfs` (memory does not grow with the batch), then the zip (stored, not
   recompressed) is written.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import os
import zipfile
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from facturador.billing import cartera
from facturador.billing.models import Account, Batch, BillingInvoice, BillingSettings, Charge
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


@dataclass
class Plan:
    items: list[PlanItem] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # {"reference", "reason"}

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
    debts = cartera.debts(issuer, q_ids)
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
    refs = {pk: ref for pk, ref in acc_qs.values_list("pk", "reference") if pk in wanted}
    result = Plan()
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
            reason = ("Sin cargos en los periodos seleccionados." if billing_type == Batch.BillingType.NORMAL
                      else "Sin saldo a facturar.")
            result.skipped.append({"reference": refs.get(acc, ""), "reason": reason})
            continue
        result.items.append(item)
    return result


def check_periods_have_charges(issuer, periods: list[str], billing_type: str):
    if billing_type == Batch.BillingType.ARREARS_ONLY:
        return
    present = set(Charge.objects.filter(issuer=issuer, period__in=periods).values_list("period", flat=True).distinct())
    missing = [p for p in periods if p not in present]
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

def _issue_chunk(batch: Batch, rng, items: list[PlanItem], accounts: dict[int, Account], conf: BillingSettings,
                 errors: list[dict]) -> int:
    from facturador.printing.barcodes import payment_barcode_data

    key = batch.period_key
    invoices, docs, interests = [], [], []
    with transaction.atomic():
        existing = set(BillingInvoice.objects.filter(issuer=batch.issuer, period_key=key,
                                                     account_id__in=[i.account_id for i in items])
                       .values_list("account_id", flat=True))
        lines_by_acc: dict[int, list[Charge]] = {}
        if batch.electronic and batch.billing_type != Batch.BillingType.ARREARS_ONLY:
            for c in (Charge.objects.filter(issuer=batch.issuer, account_id__in=[i.account_id for i in items],
                                            period__in=batch.periods).exclude(source=Charge.Source.INTEREST)
                      .order_by("period", "id")):
                lines_by_acc.setdefault(c.account_id, []).append(c)
        for item in items:
            if item.account_id in existing:
                continue
            acc = accounts[item.account_id]
            dian_doc = None
            if batch.electronic:
                from facturador.billing import electronic

                try:
                    with transaction.atomic():  # savepoint: a refused account leaves nothing behind
                        dian_doc = electronic.issue(batch, acc, lines_by_acc.get(acc.pk, []), item.interest)
                except electronic.ElectronicError as exc:
                    errors.append({"reference": acc.reference, "reason": f"Factura electrónica: {exc.message}"})
                    continue
                prefix, number = dian_doc.prefix, dian_doc.number
            else:
                num = numbering.allocate(rng, on=batch.issue_date)
                prefix, number = num.prefix, num.number
            code = payment_barcode_data(conf.gln, acc.reference, item.total, batch.due_date,
                                        ref_width=conf.ref_width, amount_width=conf.amount_width)
            inv = BillingInvoice(
                issuer=batch.issuer, batch=batch, account=acc, period_key=key, prefix=prefix, number=number,
                issue_date=batch.issue_date, due_date=batch.due_date, current_amount=item.current,
                previous_balance=item.previous, arrears_interest=item.interest, total=item.total,
                barcode_data=code.element_string, barcode_text=code.human_readable,
                cufe=dian_doc.cufe if dian_doc else "", dian_document_id=dian_doc.pk if dian_doc else None,
            )
            invoices.append(inv)
            if item.interest > 0:
                interests.append(Charge(issuer=batch.issuer, account=acc, reference=acc.reference,
                                        period=batch.periods[-1], concept="Intereses de mora", quantity=Decimal(1),
                                        unit_price=item.interest, amount=item.interest, source=Charge.Source.INTEREST))
            if dian_doc is not None:  # the einvoice app indexed it; point its row at the bill's PDF
                IssuedDocument.objects.filter(source="einvoice.document", source_id=str(dian_doc.pk)).update(
                    pdf=pdf_relpath(batch, inv), period=key[:20], due_date=batch.due_date)
        BillingInvoice.objects.bulk_create(invoices)
        Charge.objects.bulk_create(interests)
        for inv in invoices:
            if inv.dian_document_id:
                continue
            acc = inv.account
            docs.append(IssuedDocument(
                issuer=batch.issuer, source="billing.invoice", source_id=str(inv.pk), country=batch.issuer.country,
                document_type=DocumentType.INVOICE, prefix=inv.prefix, number=inv.number, issue_date=inv.issue_date,
                due_date=inv.due_date, period=key[:20], customer_name=acc.holder_name[:300],
                customer_tax_id=acc.id_number, customer_email=acc.email, total=inv.total, status="issued",
                pdf=pdf_relpath(batch, inv),
            ))
        IssuedDocument.objects.bulk_create(docs)
    return len(invoices)


def pdf_relpath(batch: Batch, inv: BillingInvoice) -> str:
    return f"{batch.output_dir}/pdf/{inv.prefix}{inv.number}.pdf"


# ------------------------------------------------------------------------------ rendering

class _Renderer:
    """Builds the template data of an invoice and renders it with the batch's template version."""

    def __init__(self, batch: Batch):
        from facturador.printing.render import get_renderer

        self.batch = batch
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
        self.renderer = get_renderer(tpl.source, assets)
        iss = self.issuer
        self.issuer_data = {
            "name": iss.legal_name, "nit": iss.display_tax_id, "address": iss.address,
            "city": ", ".join(x for x in (iss.city, iss.department) if x), "phone": iss.phone, "email": iss.email,
            "website": "", "logo": self.logo, "tax_note": "",
        }
        self.periods = batch.periods
        self.notes = [n for n in self.conf.notes.splitlines() if n.strip()]

    @staticmethod
    def short_period(period: str) -> str:
        return f"{MONTHS[int(period[5:7]) - 1][:3].lower()} {period[:4]}"

    def raw(self, inv: BillingInvoice, charges: list[Charge]) -> dict:
        acc = inv.account
        several = len(self.periods) > 1
        lines = [{"concept": c.concept, "group": self.short_period(c.period) if several else c.source_operator,
                  "quantity": c.quantity, "unit": "",
                  "unit_price": c.unit_price, "amount": c.amount} for c in charges]
        if self.batch.billing_type == Batch.BillingType.ARREARS_ONLY:
            lines = []
        return {
            "document": {"title": self.conf.document_title, "number": inv.full_number, "issue_date": inv.issue_date,
                         "period": period_label(self.periods), "periods": [period_detail(p) for p in self.periods]},
            "issuer": self.issuer_data,
            "customer": {"holder": acc.holder_name, "id_type": acc.id_type,
                         "id_number": acc.id_number + (f"-{acc.check_digit}" if acc.check_digit else ""),
                         "address": acc.address, "city": acc.municipality_code, "account": acc.reference,
                         "payment_reference": acc.reference, "use_class": acc.get_service_class_display(),
                         "stratum": acc.stratum, "meter": ""},
            "lines": lines,
            "previous_balance": inv.previous_balance,
            "arrears_months": 0,
            "arrears_interest": inv.arrears_interest,
            "due_date": inv.due_date,
            "payment": {"gln": self.conf.gln, "ref_width": self.conf.ref_width, "amount_width": self.conf.amount_width},
            "dian": self.dian(inv),
            "notes": self.notes,
        }

    def dian(self, inv: BillingInvoice):
        if not inv.dian_document_id:
            return None
        from facturador.billing.electronic import dian_print_data

        return dian_print_data(inv.dian_document_id)

    together = True  # compile several invoices at once while the template allows it

    def _render_together(self, prepared) -> list[bytes] | None:
        """One Typst compile for the whole chunk (about twice as fast per invoice), split into one PDF per
        invoice. Only when the template accepts {"invoices": [...]} and gives exactly one page per invoice;
        otherwise None, and each invoice is compiled on its own."""
        if not self.together or len(prepared) < 2:
            return None
        import io

        import pypdfium2

        from facturador.printing.render import TemplateError

        try:
            pdf = pypdfium2.PdfDocument(self.renderer.render({"invoices": [data for _, data in prepared]}))
        except TemplateError:
            self.together = False
            return None
        if len(pdf) != len(prepared):  # a multi-page invoice, or a template without the "invoices" form
            return None
        pages = []
        for i in range(len(pdf)):
            single = pypdfium2.PdfDocument.new()
            single.import_pages(pdf, [i])
            buf = io.BytesIO()
            single.save(buf)
            pages.append(buf.getvalue())
        return pages

    def render_chunk(self, invoices: list[BillingInvoice], on_each=None) -> list[BillingInvoice]:
        from facturador.printing.invoice import prepare_invoice_data

        by_acc: dict[int, list[Charge]] = {}
        if self.batch.billing_type != Batch.BillingType.ARREARS_ONLY:
            for c in (Charge.objects.filter(issuer=self.issuer, account_id__in=[i.account_id for i in invoices],
                                            period__in=self.periods).exclude(source=Charge.Source.INTEREST)
                      .order_by("period", "id")):
                by_acc.setdefault(c.account_id, []).append(c)
        media = Path(settings.MEDIA_ROOT)
        prepared = [(inv, prepare_invoice_data(self.raw(inv, by_acc.get(inv.account_id, [])))) for inv in invoices]
        pages = self._render_together(prepared)
        done = []
        for k, (inv, data) in enumerate(prepared):
            rel = pdf_relpath(self.batch, inv)
            path = media / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            if pages is not None:
                tmp.write_bytes(pages[k])
            else:
                self.renderer.render(data, output=tmp)
            os.replace(tmp, path)
            inv.pdf = rel
            done.append(inv)
            if on_each:
                on_each()
        BillingInvoice.objects.bulk_update(done, ["pdf"])
        return done


def _pending(batch: Batch, descending=False, limit=None):
    limit = limit or settings.FACTURADOR_BILLING_RENDER_CHUNK
    qs = BillingInvoice.objects.filter(batch=batch, pdf="").select_related("account")
    return list(qs.order_by("-id" if descending else "id")[:limit])


def _rendered_count(batch: Batch) -> int:
    return BillingInvoice.objects.filter(batch=batch).exclude(pdf="").count()


# ---------------------------------------------------------------------------------- output

def build_outputs(batch: Batch) -> tuple[str, str, int]:
    """Stream the merged print PDF and the zip from the per-invoice files; returns (merged, zip, pages)."""
    from facturador.printing.pdfconcat import concat_pdfs

    media = Path(settings.MEDIA_ROOT)
    out_dir = media / batch.output_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    rels = list(BillingInvoice.objects.filter(batch=batch).exclude(pdf="").order_by("prefix", "number")
                .values_list("pdf", flat=True))
    merged_rel = f"{batch.output_dir}/lote-{batch.pk}-impresion.pdf"
    zip_rel = f"{batch.output_dir}/lote-{batch.pk}-facturas.zip"
    tmp = media / (merged_rel + ".tmp")
    pages = concat_pdfs((media / r for r in rels), tmp)
    os.replace(tmp, media / merged_rel)
    tmpzip = media / (zip_rel + ".tmp")
    with zipfile.ZipFile(tmpzip, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for r in rels:
            zf.write(media / r, arcname=Path(r).name)
    os.replace(tmpzip, media / zip_rel)
    return merged_rel, zip_rel, pages


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


def _run(ctx: jobs.JobContext, batch: Batch):
    issuer = batch.issuer
    conf = BillingSettings.for_issuer(issuer)
    account_ids = selected_account_ids(batch, ctx.params)
    ctx.progress(0, message="Calculando valores", force=True)
    p = plan(issuer, batch.periods, batch.billing_type, account_ids, issue_date=batch.issue_date, batch=batch)
    already_in_batch = BillingInvoice.objects.filter(batch=batch).count()
    total = already_in_batch + p.count
    errors = list(p.skipped)
    ctx.progress(_rendered_count(batch), total=total, errors=len(errors), message="Numerando facturas", force=True)
    helper = None

    # 1. numbering (skips accounts already invoiced for this period key)
    if p.items:
        rng = None
        if not batch.electronic:
            try:
                rng = numbering_range(issuer, batch.issue_date)
            except Refusal as exc:
                raise jobs.JobFailed(exc.message) from exc
        ctx.set_result(numbered=False)
        issued = 0
        chunk_size = settings.FACTURADOR_BILLING_NUMBER_CHUNK
        for start in range(0, len(p.items), chunk_size):
            ctx.check_cancel()
            chunk = p.items[start:start + chunk_size]
            accounts = Account.objects.in_bulk([i.account_id for i in chunk])
            try:
                issued += _issue_chunk(batch, rng, chunk, accounts, conf, errors)
            except numbering.NumberingError as exc:
                raise jobs.JobFailed(exc.message) from exc
            ctx.progress(message=f"Numerando facturas: {already_in_batch + issued} de {total}")
            if start == 0:  # the helper can start rendering while the rest is numbered
                helper = _start_helper(ctx, batch, total - _rendered_count(batch))
    total = BillingInvoice.objects.filter(batch=batch).count()
    Batch.objects.filter(pk=batch.pk).update(error_list=errors)
    ctx.set_result(numbered=True)

    # 2. rendering (+ a helper job for big batches)
    done = _rendered_count(batch)
    ctx.progress(done, total=total, message="Generando PDF", force=True)
    if not helper:
        helper = _start_helper(ctx, batch, total - done)
    renderer = _Renderer(batch)
    while True:
        ctx.check_cancel()
        chunk = _pending(batch)
        if not chunk:
            break
        done = _rendered_count(batch)

        def tick():
            nonlocal done
            done += 1
            ctx.progress(min(done, total))
            ctx.check_cancel()

        renderer.render_chunk(chunk, on_each=tick)
    ctx.progress(total, message="Uniendo el PDF de impresión y el zip", force=True)

    # 3. outputs
    if total == 0:
        Batch.objects.filter(pk=batch.pk).update(error_list=errors)
        first = errors[0]["reason"] if errors else ""
        raise jobs.JobFailed(f"No se generó ninguna factura. {first}".strip())
    merged, zipped, pages = build_outputs(batch)
    agg = BillingInvoice.objects.filter(batch=batch)
    count = agg.count()
    amount = sum(agg.values_list("total", flat=True), Decimal("0"))
    Batch.objects.filter(pk=batch.pk).update(merged_pdf=merged, zip_file=zipped, invoice_count=count,
                                             total_amount=amount, finished_at=timezone.now(), error_list=errors)
    ctx.set_result(batch_id=batch.pk, invoices=count, pages=pages, total=str(amount), skipped=len(errors))
    ctx.progress(total, total=total, errors=len(errors),
                 message=f"{count} facturas generadas" + (f"; {len(errors)} cuentas no facturadas" if errors else ""),
                 force=True)
    return Job.Status.FINISHED_WITH_ERRORS if errors else Job.Status.FINISHED


def _start_helper(ctx: jobs.JobContext, batch: Batch, remaining: int):
    if remaining < settings.FACTURADOR_BILLING_HELPER_MIN or ctx.params.get("no_helper"):
        return None
    with transaction.atomic():
        return jobs.create_job(batch.issuer, "billing.batch_render",
                               title=f"Lote {batch.pk}: generación de PDF (ayudante)",
                               params={"batch_id": batch.pk, "main_job": ctx.job.pk})


def help_render(ctx: jobs.JobContext, batch: Batch):
    """Renders invoices of a batch from the highest id down, while the main job numbers and then
    renders from the lowest id up. Stops when nothing is left to render once numbering is over,
    or when the main job ends or is cancelled (handler `billing.jobs.run_batch_helper`)."""
    import time

    main_id = ctx.params.get("main_job")
    renderer = _Renderer(batch)
    rendered = 0
    while True:
        ctx.check_cancel()
        main = Job.objects.filter(pk=main_id).values_list("status", "cancel_requested", "result").first()
        if main is None or main[0] in Job.FINAL or main[1]:
            break
        chunk = _pending(batch, descending=True, limit=max(1, settings.FACTURADOR_BILLING_RENDER_CHUNK // 2))
        if not chunk:
            if main[0] == Job.Status.RUNNING and (main[2] or {}).get("numbered") is False:
                time.sleep(0.3)  # the main job is still numbering: more invoices will come
                continue
            break
        renderer.render_chunk(chunk)
        rendered += len(chunk)
        ctx.progress(rendered, total=rendered, message=f"{rendered} PDF generados para el lote {batch.pk}")
    ctx.set_result(rendered=rendered)
