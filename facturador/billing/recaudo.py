"""Payment collection (recaudo): Asobancaria 2001 files mark invoices paid and feed the portfolio.

The whole file is checked first (structure and control totals, by the pure parser in
`facturador.payments.asobancaria`); a file with any error changes nothing. Each payment
(06 record) is matched by reference to an account: the oldest unpaid invoice of the account
is credited (issued → partial → paid); a payment whose reference matches no account is
reported as unmatched and not stored against any account. The same file (by SHA-256) is
refused the second time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction

from facturador.billing.models import Account, BillingInvoice, Payment, PaymentFile
from facturador.core.errors import Conflict
from facturador.payments import asobancaria

DUPLICATE = ("billing.payment_file.duplicate", "Este archivo de recaudo ya se cargó antes; no se aplicó de nuevo.")


@dataclass
class ImportResult:
    payment_file: PaymentFile
    matched: int = 0
    unmatched: list[dict] = field(default_factory=list)
    invoices_paid: int = 0
    total: Decimal = Decimal("0.00")


def _match_reference(ref: str, by_ref: dict[str, int], by_stripped: dict[str, int]) -> int | None:
    if ref in by_ref:
        return by_ref[ref]
    return by_stripped.get(ref.lstrip("0") or "0")


def import_file(issuer, data: bytes, name: str = "recaudo.txt", user=None) -> ImportResult:
    """Parse, check and apply an Asobancaria 2001 file; nothing changes on error.

    Raises `asobancaria.AsobancariaError` for a bad file (the action translates it) and
    `Conflict("billing.payment_file.duplicate")` for a file applied before."""
    parsed = asobancaria.parse(data, strict_length=False)  # banks pad or trim records
    digest = hashlib.sha256(data).hexdigest()
    if PaymentFile.objects.filter(issuer=issuer, sha256=digest).exists():
        raise Conflict(*DUPLICATE, field="file")

    details = parsed.details
    # Account references in the file are zero-padded to 48; ours keep their own leading zeros.
    by_ref, by_stripped = {}, {}
    for pk, ref in Account.objects.filter(issuer=issuer).values_list("pk", "reference"):
        by_ref[ref] = pk
        by_stripped.setdefault(ref.lstrip("0") or "0", pk)

    try:
        with transaction.atomic():
            pfile = PaymentFile.objects.create(
                issuer=issuer, name=name[:200], sha256=digest, collection_date=parsed.header.collection_date,
                bank_code=parsed.header.bank_code, payment_count=len(details), total=parsed.total, uploaded_by=user,
            )
            result = ImportResult(pfile, total=parsed.total)
            open_invoices: dict[int, list[BillingInvoice]] = {}
            for inv in (BillingInvoice.objects.select_for_update()
                        .filter(issuer=issuer, status__in=[BillingInvoice.Status.ISSUED, BillingInvoice.Status.PARTIAL])
                        .order_by("due_date", "id")):
                open_invoices.setdefault(inv.account_id, []).append(inv)
            touched = {}
            payments = []
            for d in details:
                acc = _match_reference(d.reference, by_ref, by_stripped)
                if acc is None:
                    result.unmatched.append({"line": d.line_no, "reference": d.reference, "amount": str(d.amount),
                                             "reason": "Referencia sin cuenta"})
                    continue
                invoice = None
                left = d.amount
                for inv in open_invoices.get(acc, []):
                    if left <= 0:
                        break
                    if inv.paid_amount >= inv.total:
                        continue
                    invoice = invoice or inv
                    used = min(left, inv.total - inv.paid_amount)
                    inv.paid_amount += used
                    left -= used
                    inv.status = BillingInvoice.Status.PAID if inv.paid_amount >= inv.total else BillingInvoice.Status.PARTIAL
                    touched[inv.pk] = inv
                payments.append(Payment(
                    issuer=issuer, account_id=acc, invoice=invoice, reference=d.reference, amount=d.amount,
                    paid_on=d.payment_date, bank_code=d.bank_code, channel=d.channel, operation_id=d.operation_id,
                    source=Payment.Source.ASOBANCARIA, payment_file=pfile, line_no=d.line_no,
                ))
                result.matched += 1
            Payment.objects.bulk_create(payments)
            BillingInvoice.objects.bulk_update(list(touched.values()), ["paid_amount", "status"])
            result.invoices_paid = sum(1 for i in touched.values() if i.status == BillingInvoice.Status.PAID)
            pfile.matched_count = result.matched
            pfile.unmatched = result.unmatched
            pfile.save(update_fields=["matched_count", "unmatched"])
    except IntegrityError as exc:  # the same file uploaded twice at the same moment
        raise Conflict(*DUPLICATE, field="file") from exc
    return result
