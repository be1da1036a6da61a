"""Payment collection (recaudo): Asobancaria 2001 files mark invoices paid and feed the portfolio.

The whole file is checked first (structure and control totals, by the pure parser in
`facturador.payments.asobancaria`), then that it is addressed to this issuer: the header's NIT must be
the issuer's and every lot's service code (EAN-13) one of the issuer's collection GLNs
(`BillingSettings.collection_glns`). A file with any error changes nothing. The same file is refused the
second time: it is known by the parser's fingerprint (SHA-256 of its records, whatever the line endings, trailing
blanks, final newline and the header's file date, time and modifier, which a bank portal sets at each download),
and by the SHA-256 of its bytes for files stored before the fingerprint.

Each payment (06 record) is matched by reference to an account (as written, then without leading zeros when that
names one account only: "0123" and "123" are both 000…0123 in a zero-padded field); a payment whose reference
matches no account, or two, is reported as unmatched with the reason and not stored against any account.
The money is credited to the account's open invoices, oldest due date first (`paid_amount`).

**Invoice state = portfolio.** An invoice's state is then derived from the portfolio (`cartera.debts`, the
same computation as the report): it is *paid* when what the account still owes for the periods up to the
invoice's last period is at most the issuer's payment tolerance (`BillingSettings.payment_tolerance`,
default 0.99: under one peso), *partial* when something was paid, *issued* otherwise. Invoices are
rounded to the peso ("ajuste al peso") but charges are not: paying 34,540.96 — the exact balance — of a
34,541 invoice settles it. When an invoice is settled with a difference within the tolerance (e.g. the
customer paid the rounded 34,541 of 34,540.96 of charges, or 34,540.96 of 34,541), the difference is
booked as an "Ajuste al peso" charge (source `adjustment`) on the invoice's last period, so the
portfolio shows exactly zero for an invoice that says it is paid.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from facturador.billing import cartera
from facturador.billing.models import Account, BillingInvoice, BillingSettings, Charge, Payment, PaymentFile
from facturador.core.errors import Conflict
from facturador.payments import asobancaria

DUPLICATE = ("billing.payment_file.duplicate", "Este archivo de recaudo ya se cargó antes; no se aplicó de nuevo.")


def _duplicate(earlier: PaymentFile | None) -> Conflict:
    if earlier is None:
        return Conflict(*DUPLICATE, field="file")
    when = timezone.localtime(earlier.created_at).strftime("%d/%m/%Y %H:%M")
    return Conflict(DUPLICATE[0], f"Este archivo de recaudo ya se cargó el {when} como «{earlier.name}» (mismos pagos); "
                                  "no se aplicó de nuevo.", field="file", details={"payment_file": earlier.pk})
ADJUSTMENT_CONCEPT = "Ajuste al peso"
ZERO = Decimal("0.00")
_CHUNK = 2000  # accounts per portfolio query (SQL IN list)


@dataclass
class ImportResult:
    payment_file: PaymentFile
    matched: int = 0
    unmatched: list[dict] = field(default_factory=list)
    invoices_paid: int = 0
    total: Decimal = Decimal("0.00")
    adjustments: int = 0


def _match_reference(detail, by_ref: dict[str, int], by_stripped: dict[str, list[int]],
                     refs: dict[int, str]) -> tuple[int | None, str]:
    """The account of a payment, or None and why. The reference as written (a left-aligned reference keeps its
    zeros) is looked up first; then, without leading zeros, it must be one account's: when two accounts differ only
    in leading zeros ("0123" and "123"), a zero-padded reference could be either and is left without account."""
    written = detail.reference_raw.strip()
    if written in by_ref:
        return by_ref[written], ""
    candidates = by_stripped.get(detail.reference, [])
    if len(candidates) == 1:
        return candidates[0], ""
    if candidates:
        shown = ", ".join(sorted(refs[pk] for pk in candidates))
        return None, f"Referencia ambigua: puede ser de las cuentas {shown}"
    return None, "Referencia sin cuenta"


def check_file(issuer, data: bytes, conf: BillingSettings | None = None) -> asobancaria.AsobancariaFile:
    """Parse the file and check it belongs to `issuer`; raises `asobancaria.AsobancariaError`."""
    parsed = asobancaria.parse(data, strict_length=False)  # banks pad or trim records
    conf = conf or BillingSettings.for_issuer(issuer)
    asobancaria.check_collector(parsed, nit=issuer.tax_id, check_digit=issuer.check_digit or "",
                                service_codes=conf.collection_glns)
    return parsed


def import_file(issuer, data: bytes, name: str = "recaudo.txt", user=None) -> ImportResult:
    """Parse, check and apply an Asobancaria 2001 file; nothing changes on error.

    Raises `asobancaria.AsobancariaError` for a bad file or a file of another collector (the action
    translates it) and `Conflict("billing.payment_file.duplicate")` for a file applied before."""
    conf = BillingSettings.for_issuer(issuer)
    parsed = check_file(issuer, data, conf)
    digest = parsed.fingerprint
    earlier = PaymentFile.objects.filter(issuer=issuer, sha256__in={digest, hashlib.sha256(data).hexdigest()}).first()
    if earlier is not None:
        raise _duplicate(earlier)

    details = parsed.details
    # Account references in the file are zero-padded to 48 (or left-aligned); ours keep their own leading zeros.
    refs = dict(Account.objects.filter(issuer=issuer).values_list("pk", "reference"))
    by_ref = {ref: pk for pk, ref in refs.items()}
    by_stripped: dict[str, list[int]] = defaultdict(list)
    for pk, ref in refs.items():
        by_stripped[ref.lstrip("0") or "0"].append(pk)

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
            touched_accounts: set[int] = set()
            payments = []
            for d in details:
                acc, reason = _match_reference(d, by_ref, by_stripped, refs)
                if acc is None:
                    result.unmatched.append({"line": d.line_no, "reference": d.reference, "amount": f"{d.amount:.2f}",
                                             "reason": reason})
                    continue
                touched_accounts.add(acc)
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
                payments.append(Payment(
                    issuer=issuer, account_id=acc, invoice=invoice, reference=d.reference, amount=d.amount,
                    paid_on=d.payment_date, bank_code=d.bank_code, channel=d.channel, operation_id=d.operation_id,
                    source=Payment.Source.ASOBANCARIA, payment_file=pfile, line_no=d.line_no,
                ))
                result.matched += 1
            Payment.objects.bulk_create(payments)
            touched = [inv for acc in touched_accounts for inv in open_invoices.get(acc, [])]
            result.adjustments = settle(issuer, touched, conf.payment_tolerance)
            BillingInvoice.objects.bulk_update(touched, ["paid_amount", "status"], batch_size=1000)
            result.invoices_paid = sum(1 for i in touched if i.status == BillingInvoice.Status.PAID)
            pfile.matched_count = result.matched
            pfile.unmatched = result.unmatched
            pfile.save(update_fields=["matched_count", "unmatched"])
    except IntegrityError as exc:  # the same file uploaded twice at the same moment
        raise _duplicate(PaymentFile.objects.filter(issuer=issuer, sha256=digest).first()) from exc
    return result


def settle(issuer, invoices: list[BillingInvoice], tolerance: Decimal) -> int:
    """Set the state of `invoices` (open invoices whose accounts received money) from the portfolio, and book
    the "ajuste al peso" of those settled within `tolerance`. Returns the number of adjustment charges written.
    Runs inside the caller's transaction, after the payments are stored."""
    by_account: dict[int, list[BillingInvoice]] = defaultdict(list)
    for inv in invoices:
        by_account[inv.account_id].append(inv)
    ids = list(by_account)
    adjustments = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        debts = cartera.debts(issuer, chunk)
        references = dict(Account.objects.filter(pk__in=chunk).values_list("pk", "reference"))
        for acc in chunk:
            debt = debts.get(acc) or cartera.AccountDebt()
            settled_last, settled_owed = None, ZERO
            for inv in sorted(by_account[acc], key=lambda i: (max(cartera.period_keys(i.period_key)), i.pk)):
                last = max(cartera.period_keys(inv.period_key))
                owed = sum((v for p, v in debt.outstanding.items() if p <= last), ZERO) - debt.credit
                if owed <= tolerance:
                    inv.status = BillingInvoice.Status.PAID
                    settled_last, settled_owed = last, owed
                elif inv.paid_amount > 0:
                    inv.status = BillingInvoice.Status.PARTIAL
                else:
                    inv.status = BillingInvoice.Status.ISSUED
            if settled_last is not None and settled_owed != 0 and abs(settled_owed) <= tolerance:
                amount = -settled_owed
                adjustments.append(Charge(issuer=issuer, account_id=acc, reference=references[acc], period=settled_last,
                                          concept=ADJUSTMENT_CONCEPT, quantity=Decimal(1), unit_price=amount,
                                          amount=amount, source=Charge.Source.ADJUSTMENT))
    Charge.objects.bulk_create(adjustments, batch_size=1000)
    return len(adjustments)
