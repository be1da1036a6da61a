"""Demo portfolio for the Colombian demo issuer: accounts with last month's public-lighting charges."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from facturador.billing import invoice_templates
from facturador.billing.models import Account, BillingSettings, Charge
from facturador.core.models import NumberingRange

STRATUM_FEE = {"1": "4500", "2": "6200", "3": "9800", "4": "14500", "5": "21000", "6": "26500"}
NAMES = ["Ana Gómez", "Luis Pérez", "Marta Rojas", "Carlos Díaz", "Sofía Castro", "Jorge Ríos", "Lucía Vargas",
         "Pedro Suárez", "Elena Mora", "Andrés Ruiz", "Camila León", "Diego Ortiz"]


def seed(co_issuer, mx_issuer):
    conf = BillingSettings.for_issuer(co_issuer)
    if not conf.numbering_prefix:
        conf.numbering_prefix = "AP"
        conf.save()
    NumberingRange.objects.get_or_create(
        issuer=co_issuer, document_type="invoice", environment="production", prefix="AP",
        defaults=dict(range_from=100000, range_to=9999999, next_number=100000, valid_from=dt.date(2026, 1, 1),
                      valid_to=dt.date(2030, 12, 31), resolution_number="18764000000001"),
    )
    invoice_templates.ensure_default(co_issuer)
    first = timezone.localdate().replace(day=1)
    prev = first - dt.timedelta(days=1)
    period = f"{prev.year}-{prev.month:02d}"
    for i in range(1, 25):
        stratum = str((i % 6) + 1)
        account, _ = Account.objects.get_or_create(
            issuer=co_issuer, reference=f"{i:010d}",
            defaults=dict(holder_name=NAMES[i % len(NAMES)], id_type="CC", id_number=str(10203040 + i),
                          address=f"Calle {10 + i} # {i}-{20 + i}", municipality_code="11001", stratum=stratum,
                          email=f"cliente{i}@example.com"),
        )
        Charge.objects.get_or_create(
            issuer=co_issuer, account=account, reference=account.reference, period=period, concept="Alumbrado público",
            defaults=dict(amount=Decimal(STRATUM_FEE[stratum]), unit_price=Decimal(STRATUM_FEE[stratum]), source="manual"),
        )
