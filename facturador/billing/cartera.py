"""Portfolio (cartera): balances per account with aging buckets, and its xlsx export.

Rules (documented in docs/billing.md):
* Debt is made of charges (imported, tariff, manual and billed arrears interest), grouped by
  account and period. A period's debt falls due on the due date of the invoice that billed it
  (the earliest one, ignoring void invoices) or, if it was never invoiced, on the last day of
  the period's month.
* Payments up to the cut-off date are applied to the oldest periods first (FIFO). A payment
  larger than all the debt leaves a credit balance (negative, shown in "current").
* Age = days between the period's due date and the cut-off date: current (not yet due),
  1–30, 31–60, 61–90 and more than 90 days.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Sum

from facturador.billing.models import Account, BillingInvoice, Charge, Payment
from facturador.tabular.sheets import MONEY, Column, TableWriter

ZERO = Decimal("0.00")
BUCKETS = [
    ("current", "Corriente"),
    ("d1_30", "1–30 días"),
    ("d31_60", "31–60 días"),
    ("d61_90", "61–90 días"),
    ("over_90", "Más de 90 días"),
]
BUCKET_KEYS = [k for k, _ in BUCKETS]


def bucket_for(days_overdue: int) -> str:
    if days_overdue <= 0:
        return "current"
    if days_overdue <= 30:
        return "d1_30"
    if days_overdue <= 60:
        return "d31_60"
    if days_overdue <= 90:
        return "d61_90"
    return "over_90"


def period_end(period: str) -> dt.date:
    year, month = int(period[:4]), int(period[5:7])
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def period_keys(period_key: str) -> list[str]:
    return [p for p in period_key.split("|")[0].split(",") if p]


def apply_payments_fifo(charged: dict[str, Decimal], paid: Decimal) -> tuple[dict[str, Decimal], Decimal]:
    """Outstanding per period after applying `paid` to the oldest periods; returns (outstanding, credit)."""
    outstanding = {}
    left = paid
    for period in sorted(charged):
        amount = charged[period]
        used = min(max(amount, ZERO), left)
        left -= used
        outstanding[period] = amount - used
    return outstanding, left


@dataclass
class AccountDebt:
    charged: dict[str, Decimal] = field(default_factory=dict)  # period -> charges
    paid: Decimal = ZERO
    outstanding: dict[str, Decimal] = field(default_factory=dict)
    credit: Decimal = ZERO


def debts(issuer, account_ids=None, as_of: dt.date | None = None) -> dict[int, AccountDebt]:
    """Charges per period, payments and FIFO outstanding per account (all periods)."""
    charges = Charge.objects.filter(issuer=issuer, account__isnull=False)
    payments = Payment.objects.filter(issuer=issuer, account__isnull=False)
    if account_ids is not None:
        charges = charges.filter(account_id__in=account_ids)
        payments = payments.filter(account_id__in=account_ids)
    if as_of is not None:
        payments = payments.filter(paid_on__lte=as_of)
    out: dict[int, AccountDebt] = defaultdict(AccountDebt)
    for acc, period, total in charges.values_list("account_id", "period").annotate(t=Sum("amount")).order_by():
        out[acc].charged[period] = out[acc].charged.get(period, ZERO) + (total or ZERO)
    for acc, total in payments.values_list("account_id").annotate(t=Sum("amount")).order_by():
        out[acc].paid = total or ZERO
    for debt in out.values():
        debt.outstanding, debt.credit = apply_payments_fifo(debt.charged, debt.paid)
    return out


def due_dates(issuer, account_ids=None) -> dict[tuple[int, str], dt.date]:
    qs = BillingInvoice.objects.filter(issuer=issuer).exclude(status=BillingInvoice.Status.VOID)
    if account_ids is not None:
        qs = qs.filter(account_id__in=account_ids)
    out = {}
    for acc, key, due in qs.values_list("account_id", "period_key", "due_date"):
        for p in period_keys(key):
            if (acc, p) not in out or due < out[(acc, p)]:
                out[(acc, p)] = due
    return out


@dataclass
class CarteraRow:
    account_id: int
    reference: str
    holder_name: str
    id_display: str
    service_class: str
    stratum: str
    state: str
    charged: Decimal
    paid: Decimal
    balance: Decimal
    buckets: dict[str, Decimal]

    @property
    def bucket_values(self):
        return [self.buckets[k] for k in BUCKET_KEYS]


@dataclass
class Cartera:
    as_of: dt.date
    rows: list[CarteraRow]
    totals: dict[str, Decimal]
    periods: list[str]

    @property
    def total_buckets(self):
        return [self.totals[k] for k in BUCKET_KEYS]


def filter_accounts(issuer, *, service_class=None, stratum=None, state=None, reference=None, municipality_code=None):
    qs = Account.objects.filter(issuer=issuer)
    if service_class:
        qs = qs.filter(service_class=service_class)
    if stratum:
        qs = qs.filter(stratum=stratum)
    if state:
        qs = qs.filter(state=state)
    if reference:
        qs = qs.filter(reference__icontains=reference.strip())
    if municipality_code:
        qs = qs.filter(municipality_code=municipality_code)
    return qs


def compute(issuer, *, as_of: dt.date | None = None, periods: list[str] | None = None, only_with_balance: bool = False,
            **filters) -> Cartera:
    """The portfolio report. `periods` restricts which periods' debt is shown (payments are still
    applied FIFO over all periods); `filters` are those of :func:`filter_accounts`."""
    from django.utils import timezone

    as_of = as_of or timezone.localdate()
    accounts = filter_accounts(issuer, **filters)
    filtered = any(v for v in filters.values())
    account_rows = {a["id"]: a for a in accounts.values(
        "id", "reference", "holder_name", "id_type", "id_number", "check_digit", "service_class", "stratum", "state")}
    ids = list(account_rows) if filtered and len(account_rows) <= 5000 else None  # SQL IN (...) limit
    all_debts = debts(issuer, ids, as_of)
    dues = due_dates(issuer, ids)
    wanted = set(periods or [])
    rows = []
    totals = {k: ZERO for k in ["charged", "paid", "balance", *BUCKET_KEYS]}
    for acc_id in sorted(all_debts, key=lambda i: account_rows[i]["reference"] if i in account_rows else ""):
        if acc_id not in account_rows:
            continue
        debt = all_debts[acc_id]
        a = account_rows[acc_id]
        buckets = {k: ZERO for k in BUCKET_KEYS}
        charged = ZERO
        for period, amount in debt.outstanding.items():
            if wanted and period not in wanted:
                continue
            charged += debt.charged[period]
            if amount == 0:
                continue
            due = dues.get((acc_id, period)) or period_end(period)
            buckets[bucket_for((as_of - due).days)] += amount
        if not wanted:
            buckets["current"] -= debt.credit
        balance = sum(buckets.values(), ZERO)
        paid = charged - balance if wanted else debt.paid
        if only_with_balance and balance == 0:
            continue
        if wanted and charged == 0 and balance == 0:
            continue
        idd = f"{a['id_type']} {a['id_number']}" + (f"-{a['check_digit']}" if a["check_digit"] else "")
        row = CarteraRow(acc_id, a["reference"], a["holder_name"], idd, a["service_class"], a["stratum"], a["state"],
                         charged, paid, balance, buckets)
        rows.append(row)
        totals["charged"] += charged
        totals["paid"] += paid
        totals["balance"] += balance
        for k in BUCKET_KEYS:
            totals[k] += buckets[k]
    return Cartera(as_of=as_of, rows=rows, totals=totals, periods=sorted(wanted))


EXPORT_COLUMNS = [
    Column("Referencia", width=16), Column("Titular", width=36), Column("Identificación", width=18),
    Column("Clase", width=12), Column("Estrato", width=8), Column("Estado", width=11),
    *(Column(label, MONEY, width=15) for label in ("Facturado", "Pagado", "Saldo", *(b for _, b in BUCKETS))),
]


def _display(field: str, value: str) -> str:
    """The label of an account's choice, what ``Account.get_<field>_display()`` shows."""
    return str(dict(Account._meta.get_field(field).flatchoices).get(value, value))


def export_xlsx(cartera: Cartera, out, issuer=None) -> int:
    """Write the report to an xlsx file (path or binary file); returns the number of account rows.

    Streams through :mod:`facturador.tabular.sheets` (references and names are text, amounts real numbers);
    the class and state columns show the accounts' labels, as ``Account.get_..._display()`` does.
    """
    title = "Listado de cartera" + (f" — {issuer.legal_name} (NIT {issuer.display_tax_id})" if issuer else "")
    cut = (f"Fecha de corte: {cartera.as_of:%d/%m/%Y}"
           + (f" · Periodos: {', '.join(cartera.periods)}" if cartera.periods else " · Todos los periodos"))
    with TableWriter(out, "xlsx", EXPORT_COLUMNS, sheet_name="Cartera", title=title, notes=[cut]) as w:
        for r in cartera.rows:
            w.row([r.reference, r.holder_name, r.id_display, _display("service_class", r.service_class),
                   _display("stratum", r.stratum), _display("state", r.state),
                   r.charged, r.paid, r.balance, *r.bucket_values])
        t = cartera.totals
        w.row(["Totales", f"{len(cartera.rows)} cuentas", "", "", "", "",
               t["charged"], t["paid"], t["balance"], *cartera.total_buckets], bold=True)
    return len(cartera.rows)

