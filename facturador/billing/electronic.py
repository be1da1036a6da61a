"""Electronic billing type: each batch invoice is also issued as a DIAN electronic invoice.

The work is split so that nothing DIAN-related is serial (see docs/architecture.md, "Mass billing batches"):

1. **Numbering** (the batch's main job, serial): the numbers come in blocks from the issuer's DIAN range
   (`einvoice.services.document_range`); each account's DIAN payload is checked first (`payload`), so an
   account that cannot be a DIAN invoice (a negative charge...) takes no number.
2. **Signing** (every worker, in its leased render chunks): `BatchSigner.sign` builds the UBL, pre-validates it,
   signs it (XAdES) and stores the `DianDocument` (SIGNED) and its `IssuedDocument` row, then the PDF is rendered
   with the CUFE and the QR exactly as signed. Exactly once: the invoice row is linked to its document with a
   conditional UPDATE (``dian_document_id IS NULL``) in the transaction that inserts the document, and
   UNIQUE(issuer, environment, prefix, number) refuses a second document for the number; a resumed chunk finds
   the link and re-reads the stored XML instead of signing again. A document that fails to sign leaves its
   reason on the invoice (``BillingInvoice.error``, reported by the batch) and does not stop the others.
3. **Sending** (job kind "billing.batch_send", in short rounds beside the rendering — never holding it):
   `send_batch` takes the signed documents as they appear, 50 per zip (SendBillAsync; a smaller last zip once the
   generation is over), claims them with a conditional UPDATE (SIGNED -> SENT), polls each zip with GetStatusZip
   and records DIAN's answer per document; then it queues its next round (the same job again, `jobs.Again`, with
   run_after) and frees the worker. A
   rejected document is just that document's state. A crash between claiming and recording the ZipKey is
   recovered by sending the same files again (same file names; DIAN answers rule 90 for what it has).

The DIAN invoice carries the period's charges (and the arrears interest, if any) as lines without
taxes (public-lighting tax, fees... are not IVA) unless the charge carries IVA (an imported line's net,
rate and IVA value): then the line is its net with the IVA as the line's TaxTotal. Credit payment with the batch's due date. The
previous balance is not part of it (it was invoiced before) but is printed on the bill and included
in the payment barcode.
"""

from __future__ import annotations

import logging
import threading
import time
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from lxml import etree

from facturador.core import jobs
from facturador.core.errors import Conflict, Refusal
from facturador.core.models import DocumentType, IssuedDocument, Job

logger = logging.getLogger(__name__)

SEND_KIND = "billing.batch_send"

ID_TYPES = {"NIT": "31", "CC": "13", "CE": "22", "TI": "12", "PP": "41", "PEP": "47", "NUIP": "91", "EXT": "42"}


class ElectronicError(Conflict):
    """An invoice cannot be issued electronically (codes `billing.electronic.<reason>`, field "electronic")."""

    def __init__(self, code: str, message: str, *, field: str | None = "electronic", details: dict | None = None):
        super().__init__(code, message, field=field, details=details)


def _services():
    try:
        from facturador.einvoice import services
    except ImportError as exc:  # the einvoice app is not installed
        raise ElectronicError("billing.electronic.unavailable", "La facturación electrónica DIAN no está instalada.") from exc
    return services


def check_ready(issuer):
    """Refuse an electronic batch early when the issuer cannot sign and send DIAN invoices."""
    from facturador.core import numbering

    services = _services()
    if issuer.country != "CO":
        raise ElectronicError("billing.electronic.not_colombian", "La factura electrónica DIAN es para emisores de Colombia.")
    try:
        mode = services.active_mode(issuer)
        services.signer_for(issuer)
        services.document_range(issuer, mode)
    except (services.EinvoiceError, numbering.NumberingError) as exc:
        raise ElectronicError("billing.electronic.not_ready", exc.message, details={"reason": exc.code}) from exc


def _priced(c) -> dict:
    """The line's price and taxes: a charge carrying IVA (net, rate and IVA value, e.g. imported) is its net
    with the IVA on the line (TaxTotal); one without tax information is its total, untaxed."""
    base = c.tax_base
    if base is None:
        return {"unit_price": str(c.amount), "taxes": []}
    from facturador.dian.model import IVA_RATES

    rate = c.iva_rate
    if rate is None:
        rate = Decimal("-1")  # no rate gives this IVA from this net
    rate = rate.normalize()
    computed = (base * rate / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if rate not in IVA_RATES or computed != c.tax_amount or base + c.tax_amount != c.amount:
        raise ElectronicError(
            "billing.electronic.tax_mismatch",
            f"El cargo «{c.concept}» trae IVA {c.tax_amount} sobre {base} y total "
            f"{c.amount}: la factura electrónica necesita una tarifa de IVA válida (0, 5 o 19 %), IVA = base × "
            f"tarifa y total = base + IVA.")
    return {"unit_price": str(base), "taxes": [{"scheme": "01", "rate": f"{rate:f}"}]}


def payload(batch, account, charges, interest: Decimal) -> dict:
    lines = []
    for c in charges:
        if c.amount <= 0:
            raise ElectronicError("billing.electronic.negative_line",
                                  f"El cargo «{c.concept}» no es positivo; no se puede emitir como factura electrónica.")
        detail = f" — {c.quantity.normalize():f} x {c.unit_price.normalize():f}" if c.quantity != 1 else ""
        lines.append({"description": f"{c.concept} ({c.period}){detail}", "quantity": "1", **_priced(c)})
    if interest > 0:
        lines.append({"description": "Intereses de mora", "quantity": "1", "unit_price": str(interest), "taxes": []})
    if not lines:
        raise ElectronicError("billing.electronic.no_lines", "No hay cargos del periodo para la factura electrónica.")
    customer = {"id_type": ID_TYPES.get(account.id_type, "13"), "id_number": account.id_number or "222222222222",
                "name": account.holder_name, "email": account.email or "",
                "legal_person": account.id_type == "NIT",
                "address": {"city_code": account.municipality_code or batch.issuer.municipality_code or "11001",
                            "city_name": batch.issuer.city or "Sin municipio",
                            "department_name": batch.issuer.department or batch.issuer.city or "Sin departamento",
                            "line": account.address or "Sin dirección"}}
    if account.id_type == "NIT" and account.check_digit:
        customer["dv"] = account.check_digit
    if not account.id_number:
        customer = "consumidor_final"
    from facturador.dian.jsonio import party_errors

    problems = party_errors(customer)
    if problems:  # found now, before the account takes a number, rather than when its invoice is signed
        raise ElectronicError("billing.electronic.customer_invalid",
                              f"Datos del titular no válidos para la DIAN: {problems[0].message}",
                              details={"rule": problems[0].code, "field": problems[0].field})
    return {
        "kind": "invoice", "customer": customer, "lines": lines,
        "payment": {"method": "2", "due_date": batch.due_date.isoformat()},
        "due_date": batch.due_date.isoformat(),
        "notes": [f"Referencia de pago {account.reference}; periodos {', '.join(batch.periods)}."],
    }


def numbering_range(issuer):
    """The DIAN range an electronic batch numbers from (production rules included), or an ElectronicError."""
    services = _services()
    try:
        return services.document_range(issuer, services.active_mode(issuer))
    except services.EinvoiceError as exc:
        raise ElectronicError("billing.electronic.not_ready", getattr(exc, "display", exc.message),
                              details={"reason": exc.code}) from exc


def print_data(document_ids) -> dict[int, dict]:
    """CUFE, QR text (as signed) and resolution of stored DIAN documents, by id, for the printed bills."""
    from facturador.einvoice.models import DianDocument

    out = {}
    for pk, cufe, xml, resolution in DianDocument.objects.filter(pk__in=list(document_ids)).values_list(
            "pk", "cufe", "signed_xml", "numbering_range__resolution_number"):
        if xml:
            out[pk] = {"cufe": cufe, "qr_text": _services().qr_text(etree.fromstring(bytes(xml)), cufe),
                       "authorization": resolution or "", "validation_date": None}
    return out


class BatchSigner:
    """Signs the DIAN invoices of a render chunk (one per worker: the certificate is loaded once)."""

    def __init__(self, batch, job_id: int | None = None):
        from django.conf import settings

        services = _services()
        self.services = services
        self.batch = batch
        self.mode = services.active_mode(batch.issuer)
        self.signer = services.signer_for(batch.issuer)
        self.ranges: list = []
        # the render job's uploads while it renders (see _Courier): only for batches of at least two full zips
        self.courier = None
        if job_id is not None and settings.FACTURADOR_BILLING_SEND_WHILE_RENDERING and \
                batch.account_count >= 2 * _Sender.ZIP_MAX:
            self.courier = _Courier(batch, job_id)

    def close(self):
        """Stop this render job's uploads (waiting for the one under way, so that the job never ends with a claim
        of its own being uploaded); zips still waiting for DIAN's answer are followed by the sending job."""
        if self.courier is not None:
            self.courier.stop()
            self.courier = None

    def _range(self, prefix: str, number: int):
        from facturador.core.models import NumberingRange

        for rng in self.ranges:
            if rng.prefix == prefix and rng.range_from <= number <= rng.range_to:
                return rng
        rng = NumberingRange.objects.filter(issuer=self.batch.issuer, document_type=DocumentType.INVOICE,
                                            environment=self.mode.environment, prefix=prefix,
                                            range_from__lte=number, range_to__gte=number).first()
        if rng is None:
            raise ElectronicError("billing.electronic.no_range", f"No se encontró la numeración de {prefix}{number}.")
        self.ranges.append(rng)
        return rng

    def sign(self, invoices, charges_by_account: dict) -> dict[int, dict]:
        """Sign and store the DIAN invoice of each invoice of the chunk that has none yet; returns the print data
        (CUFE, QR) by invoice id. Invoices whose document exists already (a resumed chunk) are not signed again."""
        from facturador.billing.models import BillingInvoice
        from facturador.einvoice.models import DianDocument

        batch, services = self.batch, self.services
        signed, failed = {}, {}
        for inv in invoices:
            if inv.dian_document_id or inv.error:
                continue
            try:
                data = payload(batch, inv.account, charges_by_account.get(inv.account_id, []), inv.arrears_interest)
                rng = self._range(inv.prefix, inv.number)
                signed[inv.pk] = (data, rng, services.build_signed(batch.issuer, self.mode, rng, inv.number, data,
                                                                   self.signer))
            except ElectronicError as exc:
                failed[inv.pk] = f"Factura electrónica: {exc.message}"
            except services.EinvoiceError as exc:
                failed[inv.pk] = f"Factura electrónica: {getattr(exc, 'display', exc.message)}"
        fresh = {}
        if signed or failed:
            try:
                self._store(invoices, signed, failed)
                fresh = {pk: {"cufe": built.cufe, "qr_text": built.qr_text, "authorization": rng.resolution_number,
                              "validation_date": None} for pk, (_data, rng, built) in signed.items()}
                if fresh and self.courier is not None:
                    self.courier.nudge()
            except (IntegrityError, _Taken):
                # another worker stored them first (a lease taken over): use what it stored
                logger.info("Batch %s: documents of a chunk were signed by another worker", batch.pk)
        rest = [inv.pk for inv in invoices if inv.pk not in fresh]
        links = dict(BillingInvoice.objects.filter(pk__in=rest).values_list("pk", "dian_document_id")) if rest else {}
        for inv in invoices:
            if inv.pk in links:
                inv.dian_document_id = links[inv.pk]
        by_doc = print_data(d for d in links.values() if d)
        return fresh | {pk: by_doc.get(doc) for pk, doc in links.items() if doc}

    def _store(self, invoices, signed: dict, failed: dict):
        """Write the chunk's DIAN documents and their index rows (COPY on PostgreSQL, `batch.insert_rows`), link
        the invoices to them, and record the failures, in one transaction."""
        from facturador.billing.batch import insert_rows
        from facturador.billing.models import BillingInvoice
        from facturador.einvoice.models import DianDocument

        batch, mode = self.batch, self.mode
        by_pk = {inv.pk: inv for inv in invoices}
        now = timezone.now()
        status = DianDocument.Status.SIGNED.value
        with transaction.atomic():
            rows = []
            for pk, (data, rng, built) in signed.items():
                inv, model = by_pk[pk], built.model
                rows.append({
                    "type_code": model.type_code, "numbering_range_id": rng.pk, "prefix": inv.prefix,
                    "number": inv.number, "payload": data, "issue_date": model.issue_date,
                    "customer_name": model.customer.name[:300], "customer_id": model.customer.id_number or "",
                    "customer_email": model.customer.email or "", "total": built.totals.payable, "cufe": built.cufe,
                    "signed_xml": built.signed_xml})
            ids = insert_rows(DianDocument, rows, returning_ids=True, same={
                "issuer_id": batch.issuer_id, "kind": "invoice", "environment": mode.environment,
                "operation_mode_id": mode.pk, "status": status, "created_at": now})
            linked = []
            for doc_id, row, pk in zip(ids, rows, signed):
                inv = by_pk[pk]
                inv.dian_document_id, inv.cufe, inv.error = doc_id, row["cufe"], ""
                linked.append(inv)
            # exactly once: each invoice is linked only if it has no document yet; one already linked (by a worker
            # that took the lease over) undoes the whole chunk's transaction
            if _update_rows(BillingInvoice, linked, ["dian_document_id", "cufe", "error"],
                            only_if_null="dian_document_id") != len(linked):
                raise _Taken()
            insert_rows(IssuedDocument, [
                {"source_id": str(doc_id), "prefix": row["prefix"], "number": row["number"],
                 "issue_date": row["issue_date"], "customer_name": row["customer_name"],
                 "customer_tax_id": row["customer_id"], "customer_email": row["customer_email"],
                 "total": row["total"], "uuid": row["cufe"],
                 "pdf": f"{batch.output_dir}/pdf/{row['prefix']}{row['number']}.pdf"}
                for doc_id, row in zip(ids, rows)], same={
                "issuer_id": batch.issuer_id, "source": "einvoice.document", "country": "CO",
                "document_type": DocumentType.INVOICE.value, "due_date": batch.due_date,
                "period": batch.period_key[:20], "currency": "COP", "status": status, "created_at": now})
            for pk, message in failed.items():
                BillingInvoice.objects.filter(pk=pk, dian_document_id__isnull=True, error="").update(
                    error=message[:500])
                by_pk[pk].error = message[:500]


class _Taken(Exception):
    """An invoice of the chunk got its DIAN document from another worker meanwhile."""


def _update_rows(model, objs, fields: list[str], *, only_if_null: str = "") -> int:
    """Write ``fields`` of each of ``objs`` with one UPDATE statement sent for all rows (executemany, pipelined by
    psycopg on PostgreSQL); returns the number of rows updated. ``only_if_null``: a field; rows where it is
    already set are left alone (and not counted).
    Django's ``bulk_update`` builds a CASE expression per field and row, which cost more CPU per DIAN document
    than signing it; this writes the same values."""
    from django.db import connections, router

    if not objs:
        return 0
    connection = connections[router.db_for_write(model)]
    meta, qn = model._meta, connection.ops.quote_name
    columns = [meta.get_field(name) for name in fields]
    sql = (f"UPDATE {qn(meta.db_table)} SET " + ", ".join(f"{qn(c.column)} = %s" for c in columns)
           + f" WHERE {qn(meta.pk.column)} = %s")
    if only_if_null:
        sql += f" AND {qn(meta.get_field(only_if_null).column)} IS NULL"
    rows = [[c.get_db_prep_save(getattr(obj, c.attname), connection) for c in columns] + [obj.pk] for obj in objs]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
        return cursor.rowcount


# ------------------------------------------------------------------------------------ sending

def start_sending(batch) -> Job | None:
    """Queue the batch's sending job ("billing.batch_send") unless one is pending or running: the batch's last
    one again (the same row, see `core.jobs.restart`), or a new one for its first round. Call inside a transaction
    (it is enqueued on commit)."""
    if _send_jobs(batch, Job.ACTIVE).exists():
        return None
    return _send_lane(batch, [s for s in Job.FINAL if s != Job.Status.DELETED])


def _send_lane(batch, reusable) -> Job:
    """A sending job for the batch: one of its ended ones queued again, else a new one. A batch thus has at most
    FACTURADOR_BILLING_SEND_JOBS sending jobs whatever the number of its rounds (one per round would fill the job
    lists with rows nobody needs: the batch page shows the sending)."""
    for job in _send_jobs(batch, reusable).order_by("-pk")[:3]:
        if jobs.restart(job, params={"polling_rounds": 0}):
            job.refresh_from_db()
            return job
    return jobs.create_job(batch.issuer, SEND_KIND, title=f"Lote {batch.pk}: envío a la DIAN",
                           params={"batch_id": batch.pk})


def _documents(batch):
    from facturador.billing.models import BillingInvoice
    from facturador.einvoice.models import DianDocument

    # The batch is compared as "batch_id + 0", which no index can serve, so that PostgreSQL probes each unanswered
    # document's invoice through `billing_invoice_dian_document`: a new batch has no statistics yet (a handful of
    # rows by the planner's estimate), and with a plain comparison it scanned the batch's whole (batch, seq) range
    # once per document — 9 ms per sending query at 3,000 invoices (0.3 ms now), growing with the batch.
    in_batch = (BillingInvoice.objects.annotate(batch_key=F("batch_id") + 0)
                .filter(batch_key=batch.pk, dian_document_id__isnull=False).values("dian_document_id"))
    return DianDocument.objects.filter(issuer_id=batch.issuer_id, pk__in=in_batch)


def _unanswered(batch):
    """The batch's documents still to send or waiting for DIAN (partial index `dian_document_unanswered`: the
    rounds look among the issuer's few unanswered documents, not its millions of answered ones)."""
    return _documents(batch).filter(status__in=_unanswered_states())


def _unanswered_states():
    from facturador.einvoice.models import DianDocument

    return DianDocument.UNANSWERED


def sending_progress(batch) -> dict:
    """The batch's DIAN sending as people follow it on the batch page: how many of its DIAN invoices are signed,
    sent (uploaded), accepted and rejected (or refused at upload), how many DIAN still processes, and whether a
    sending round is pending or running."""
    counts = dict(_documents(batch).order_by().values_list("status").annotate(n=Count("id")))
    rejected = counts.get("rejected", 0) + counts.get("error", 0)
    return {"signed": sum(counts.values()), "sent": sum(counts.values()) - counts.get("signed", 0),
            "accepted": counts.get("accepted", 0), "rejected": rejected,
            "processing": counts.get("sent", 0) + counts.get("pending", 0),
            "active": _send_jobs(batch, Job.ACTIVE).exists()}


def _generation_running(batch) -> bool:
    return Job.objects.filter(kind="billing.batch", params__batch_id=batch.pk,
                              status__in=Job.ACTIVE).exists()


class _Sender:
    """The state of one run of a batch's sending job."""

    ZIP_MAX = 50  # DIAN's limit of documents per SendBillAsync zip

    def __init__(self, ctx: jobs.JobContext | None, batch, *, me: int | None = None, adopt: bool = True,
                 **client_options):
        """``me``: the job the claims are made for (the context's job by default); ``adopt``: also follow the
        zips sent by rounds that are over; ``client_options``: the DIAN client's timeout, retries, backoff."""
        from django.conf import settings

        from facturador.einvoice import services
        from facturador.einvoice.models import DianDocument

        self.ctx, self.batch, self.me = ctx, batch, me if me is not None else ctx.job.pk
        self.DianDocument = DianDocument
        self.client = services.dian_client(batch.issuer, services.active_mode(batch.issuer), **client_options)
        self.interval = settings.FACTURADOR_DIAN_POLL_INTERVAL
        self.max_polls = settings.FACTURADOR_DIAN_POLL_ATTEMPTS
        self.polls: dict[str, list] = {}  # zip key -> [next poll (monotonic), polls done, wait]
        self.sent = self.answered = 0
        if adopt:
            self.adopt()

    def adopt(self):
        """Follow the zips sent by rounds (or render jobs) that are over; a running one follows its own."""
        running = Job.objects.filter(status=Job.Status.RUNNING).exclude(pk=self.me).values("pk")
        for key in _unanswered(self.batch).filter(status=self.DianDocument.Status.PENDING).exclude(zip_key="") \
                .exclude(job_id__in=running).values_list("zip_key", flat=True).distinct():
            self.polls.setdefault(key, [0.0, 0, self.interval])

    def _free(self) -> Q:
        """Signed documents, and those a round claimed but that got no ZipKey (its worker died before DIAN
        answered the upload, or this very round) once that round is no longer running."""
        Doc = self.DianDocument
        running = Job.objects.filter(status=Job.Status.RUNNING).exclude(pk=self.me).values("pk")
        interrupted = Q(status=Doc.Status.SENT, zip_key="") & (Q(job_id=self.me) | ~Q(job_id__in=running))
        return Q(status=Doc.Status.SIGNED) | interrupted

    def sendable(self):
        return _unanswered(self.batch).filter(self._free()).order_by("number")

    def upload(self, ids: list[int]) -> bool:
        """Claim the documents (SIGNED -> SENT), zip them, SendBillAsync; False when DIAN could not be reached."""
        from facturador.dian.ws import packaging
        from facturador.dian.ws.client import DianSoapFault, DianTransportError
        from facturador.einvoice import delivery

        Doc = self.DianDocument
        now = timezone.now()
        Doc.objects.filter(self._free(), pk__in=ids).update(
            status=Doc.Status.SENT, job_id=self.me, sent_at=now, send_attempts=F("send_attempts") + 1)
        # only the columns the zip needs: without the payload and the issuer, 0.12 -> 0.04 ms CPU per document
        docs = list(Doc.objects.filter(pk__in=ids, status=Doc.Status.SENT, zip_key="", job_id=self.me)
                    .only("pk", "number", "issue_date", "file_name", "signed_xml").order_by("number"))
        if not docs:
            return True
        fresh = [d for d in docs if not d.file_name]
        year = docs[0].issue_date.year
        names, zip_name = delivery.file_names(self.batch.issuer, "invoice", year, len(fresh))
        for d, name in zip(fresh, names):
            d.file_name = name
        _update_rows(Doc, fresh, ["file_name"])
        content = packaging.make_zip_many([(d.file_name, bytes(d.signed_xml)) for d in docs])
        try:
            upload = self.client.send_bill_async(zip_name, content)
        except (DianTransportError, DianSoapFault) as exc:
            logger.warning("Batch %s: sending %s documents to DIAN failed: %s", self.batch.pk, len(docs), exc)
            Doc.objects.filter(pk__in=[d.pk for d in docs], status=Doc.Status.SENT, zip_key="").update(
                status=Doc.Status.SIGNED)
            return False
        if not upload.ok:
            reasons = "; ".join(e.processed_message for e in upload.errors if e.processed_message)[:1900]
            self._set(docs, Doc.Status.ERROR, message=f"La DIAN no recibió el archivo. {reasons}".strip(),
                      rules=[{"code": "", "message": e.processed_message, "severity": "rejection"}
                             for e in upload.errors])
            return True
        self._set(docs, Doc.Status.PENDING, zip_key=upload.zip_key)
        self.polls[upload.zip_key] = [time.monotonic() + self.interval, 0, self.interval]
        self.sent += len(docs)
        return True

    def _set(self, docs, status, *, message="", rules=None, zip_key=None):
        Doc = self.DianDocument
        values = {"status": status}
        if zip_key is not None:
            values["zip_key"] = zip_key
        if message:
            values.update(dian_message=message, rules=rules or [], answered_at=timezone.now())
        ids = [d.pk for d in docs]
        Doc.objects.filter(pk__in=ids).update(**values)
        IssuedDocument.objects.filter(source="einvoice.document", source_id__in=[str(i) for i in ids]).update(
            status=status)

    def poll_due(self) -> int:
        """Ask DIAN about every zip whose time has come; returns how many zips got their final answer."""
        from facturador.dian.ws.client import DianSoapFault, DianTransportError
        from facturador.einvoice import delivery

        Doc = self.DianDocument
        done = 0
        now = time.monotonic()
        for key, state in list(self.polls.items()):
            if state[0] > now or state[1] >= self.max_polls:
                continue
            state[1] += 1
            state[2] = min(60.0, state[2] * 2)
            state[0] = now + state[2]
            try:
                answers = self.client.get_status_zip(key)
            except (DianTransportError, DianSoapFault) as exc:
                logger.warning("Batch %s: GetStatusZip %s failed: %s", self.batch.pk, key, exc)
                continue
            if not answers or not all(a.final for a in answers):
                continue
            answer_fields = ["status", "dian_status_code", "dian_message", "rules", "application_response",
                             "answered_at", "cufe"]
            docs = list(Doc.objects.filter(zip_key=key, status=Doc.Status.PENDING, issuer=self.batch.issuer)
                        .only("pk", "file_name", *answer_fields))  # not the signed XML nor the payload
            by_key = {(a.xml_document_key or "").lower(): a for a in answers if a.xml_document_key}
            by_name = {(a.xml_file_name or "").rsplit(".", 1)[0]: a for a in answers if a.xml_file_name}
            for d in docs:
                answer = by_key.get(d.cufe.lower()) or by_name.get(d.file_name.rsplit(".", 1)[0])
                if answer is None and len(answers) == 1 and len(docs) == 1:
                    answer = answers[0]
                if answer is None:
                    d.status, d.dian_message = Doc.Status.ERROR, "La DIAN no respondió por este documento."
                    d.answered_at = timezone.now()
                else:
                    delivery.apply_response(d, answer)
            _update_rows(Doc, docs, answer_fields)
            for status in {d.status for d in docs}:
                IssuedDocument.objects.filter(source="einvoice.document",
                                              source_id__in=[str(d.pk) for d in docs if d.status == status]) \
                    .update(status=status)
            self.answered += len(docs)
            del self.polls[key]
            done += 1
        return done

    def progress(self):
        if self.ctx is None:
            return
        self.ctx.progress(self.answered, total=max(self.sent, self.answered),
                          message=f"{self.sent} documentos enviados a la DIAN, {self.answered} con respuesta")


class _Courier(threading.Thread):
    """A render job's DIAN uploads while it renders: every full zip of 50 signed documents of the batch is claimed
    for the render job and sent (SendBillAsync), and the zips it sent are polled (GetStatusZip) as they come due.
    A thread beside the rendering: its time is spent waiting for DIAN, which does not hold the rendering (the
    GIL is free meanwhile); the CPU it uses is that of the sending job it saves. The claims are the sending
    job's (SIGNED -> SENT for this job, exactly once); what is left when the job stops (a last partial zip, answers
    still to come) is the sending job's, which follows the zips of jobs that are over."""

    IDLE = 1.0  # longest wait between two looks for a full zip when no signing nudges it

    def __init__(self, batch, job_id: int):
        super().__init__(name=f"dian-courier-{job_id}", daemon=True)
        self.batch, self.job_id = batch, job_id
        self.wake, self.stopping = threading.Event(), threading.Event()
        self.start()

    def nudge(self):
        """New documents were signed: look for a full zip now."""
        self.wake.set()

    def stop(self):
        self.stopping.set()
        self.wake.set()
        self.join()

    def run(self):
        from django.db import connection

        try:
            # no retries: a failed upload goes back to the sending job at once, and stopping this thread (the end
            # of the render job) never waits longer than one call
            sender = _Sender(None, self.batch, me=self.job_id, adopt=False, retries=0)
            while not self.stopping.is_set():
                ids = list(sender.sendable().values_list("pk", flat=True)[:_Sender.ZIP_MAX])
                if len(ids) == _Sender.ZIP_MAX:
                    if not sender.upload(ids):
                        return  # DIAN unreachable: the sending job tries again later
                    continue
                if sender.poll_due():
                    continue
                soon = min((st[0] for st in sender.polls.values() if st[1] < sender.max_polls), default=None)
                wait = self.IDLE if soon is None else min(self.IDLE, max(0.0, soon - time.monotonic()))
                if self.wake.wait(wait):
                    self.wake.clear()
        except Exception:  # noqa: BLE001 - the sending job sends whatever this thread could not
            logger.exception("Batch %s: uploading to DIAN beside the rendering failed", self.batch.pk)
        finally:
            connection.close()  # this thread's own database connection


def send_batch(ctx: jobs.JobContext, batch):
    """One round of a batch's sending (handler `billing.jobs.run_batch_send`): send the signed DIAN invoices of the
    batch in zips of up to 50 (a smaller one only once the generation is over) and ask DIAN about the zips sent
    before, for at most FACTURADOR_BILLING_SEND_ROUND_SECONDS. A round never waits for work: when more is to come
    (the generation goes on, zips are in process at DIAN) it queues the next round a little later and ends, so it
    holds a worker only while there is something to send or to ask, never beside the rendering doing nothing.
    While at least two zips are waiting, up to FACTURADOR_BILLING_SEND_JOBS rounds send at once (on free workers).
    Rounds that only wait for DIAN stop after FACTURADOR_DIAN_POLL_ATTEMPTS (those documents stay "en proceso";
    each can be followed from its page)."""
    from django.conf import settings

    try:
        sender = _Sender(ctx, batch)
    except Refusal as exc:
        raise jobs.JobFailed(exc.message) from exc
    deadline = time.monotonic() + settings.FACTURADOR_BILLING_SEND_ROUND_SECONDS
    unreachable = False
    while time.monotonic() < deadline:
        ctx.check_cancel()
        generating = _generation_running(batch)
        ids = list(sender.sendable().values_list("pk", flat=True)[:_Sender.ZIP_MAX])
        if ids and (len(ids) == _Sender.ZIP_MAX or not generating):
            if len(ids) == _Sender.ZIP_MAX and sender.sendable()[2 * _Sender.ZIP_MAX - 1:].exists():
                _more_rounds(batch)  # plenty to send: another round beside this one, on another free worker
            if not sender.upload(ids):
                unreachable = True  # DIAN could not be reached: the documents wait for the next round
                break
            sender.progress()
            continue
        if sender.poll_due():
            sender.progress()
            continue
        soon = min((st[0] for st in sender.polls.values() if st[1] < sender.max_polls), default=None)
        if soon is None or soon - time.monotonic() > 1.0:
            break
        time.sleep(max(0.0, soon - time.monotonic()))
    generating = _generation_running(batch)
    sender.adopt()  # zips of render jobs that ended during this round (see _Courier)
    waiting = [st for st in sender.polls.values() if st[1] < sender.max_polls]
    unsent = sender.sendable().exists()
    polling_rounds = ctx.params.get("polling_rounds", 0)
    if generating or unsent:
        # DIAN unreachable: wait; the round's time is up with documents left: go on at once; the generation is
        # still signing the next zip of 50: look again in a few seconds (a round per second would be many jobs)
        delay = 30.0 if unreachable else 0.0 if not generating else 2.0 if sender.sent else 5.0
        polling_rounds = 0
    elif waiting and polling_rounds < sender.max_polls:
        delay = max(sender.interval, min(st[0] for st in waiting) - time.monotonic())
        polling_rounds += 1
    else:
        delay = None
    counts = dict(_documents(batch).order_by().values_list("status").annotate(n=Count("id")))
    again = delay is not None and not _send_jobs(batch, [Job.Status.PENDING]).exists()  # else another is queued
    ctx.set_result(sent=sender.sent, answered=sender.answered, states=counts, next_round=again,
                   rounds=ctx.job.result.get("rounds", 0) + 1)
    if again:  # the next round is this same job again (one job row per batch, not one per round)
        return jobs.Again(delay, params={"polling_rounds": polling_rounds})
    failed = counts.get("rejected", 0) + counts.get("error", 0)
    return Job.Status.FINISHED_WITH_ERRORS if failed else Job.Status.FINISHED


def _send_jobs(batch, statuses):
    return Job.objects.filter(kind=SEND_KIND, params__batch_id=batch.pk, status__in=statuses)


def _more_rounds(batch):
    """Start another sending round now while fewer than FACTURADOR_BILLING_SEND_JOBS are under way (each claims its
    own documents, so they never send the same one)."""
    from django.conf import settings

    if _send_jobs(batch, Job.ACTIVE).count() < settings.FACTURADOR_BILLING_SEND_JOBS:
        with transaction.atomic():
            _send_lane(batch, Job.DONE)
