"""Demo data for the Colombian demo issuer, so manuals 000 (mass billing) and 001 (importing an operator's
consumption file) can be followed out of the box: accounts with last month's public-lighting charges, the sample
files written to the data dir (`<FACTURADOR_DATA_DIR>/ejemplos/`, also offered as "Descargar archivo de ejemplo").
The mobile operator and its import template are the imports app's (`imports.demo`)."""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from facturador.billing import invoice_templates, samples
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

    write_sample_files()


def samples_dir():
    return settings.DATA_DIR / "ejemplos"


def write_sample_files() -> list:
    """The manuals' sample files in the data dir (rewritten on every seed: the consumption one is last month's)."""
    folder = samples_dir()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for sample in samples.SAMPLES.values():
        path = folder / sample.filename
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(sample.build())
        tmp.replace(path)
        written.append(path)
    return written
