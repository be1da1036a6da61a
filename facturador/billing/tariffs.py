"""Tariffs: charges generated per class/stratum and period (fixed value or a percentage)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Sum

from facturador.billing.models import Account, BillingInvoice, Charge, Tariff

CENT = Decimal("0.01")


def apply_tariffs(issuer, period: str) -> int:
    """(Re)generate the tariff charges of `period` for active accounts; returns how many were created.

    Idempotent: tariff charges of the period are replaced, except for accounts already invoiced
    for a period key containing `period` (those are left untouched).
    """
    tariffs = list(Tariff.objects.filter(issuer=issuer, period=period))
    invoiced = {
        acc for acc, key in BillingInvoice.objects.filter(issuer=issuer, period_key__contains=period)
        .values_list("account_id", "period_key") if period in key.split("|")[0].split(",")
    }
    accounts = list(Account.objects.filter(issuer=issuer, state=Account.State.ACTIVE).exclude(pk__in=invoiced))
    base = dict(Charge.objects.filter(issuer=issuer, period=period, account__in=accounts)
                .exclude(source__in=[Charge.Source.TARIFF, Charge.Source.INTEREST])
                .values_list("account_id").annotate(t=Sum("amount")).order_by())
    new = []
    for acc in accounts:
        for t in tariffs:
            if t.service_class and t.service_class != acc.service_class:
                continue
            if t.stratum and t.stratum != acc.stratum:
                continue
            if t.kind == Tariff.Kind.FIXED:
                amount = t.value.quantize(CENT, rounding=ROUND_HALF_UP)
                qty, unit = Decimal(1), t.value
            else:
                b = base.get(acc.pk) or Decimal(0)
                amount = (b * t.value / 100).quantize(CENT, rounding=ROUND_HALF_UP)
                qty, unit = Decimal(1), amount
            if amount == 0:
                continue
            new.append(Charge(issuer=issuer, account=acc, reference=acc.reference, period=period, concept=t.concept,
                              quantity=qty, unit_price=unit, amount=amount, source=Charge.Source.TARIFF, tariff=t))
    with transaction.atomic():
        Charge.objects.filter(issuer=issuer, period=period, source=Charge.Source.TARIFF, account__in=accounts).delete()
        Charge.objects.bulk_create(new, batch_size=1000)
    return len(new)
