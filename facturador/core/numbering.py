"""Consecutive numbers from numbering resolutions: atomic, unique and without gaps.

`allocate()` must run inside the same transaction that stores the numbered document: the
increment is a row-level conditional UPDATE (a row lock on PostgreSQL, the write lock on
SQLite), so concurrent callers serialise on the range row, and a rolled-back document gives
its number back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from facturador.core.models import NumberingRange

USAGE_WARNING_RATIO = 0.9
EXPIRY_WARNING_DAYS = 30


class NumberingError(Exception):
    def __init__(self, code, message, english):
        super().__init__(english)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Allocated:
    range_id: int
    prefix: str
    number: int

    @property
    def full(self):
        return f"{self.prefix}{self.number}"


def _today(rng):
    from zoneinfo import ZoneInfo

    return timezone.now().astimezone(ZoneInfo(rng.issuer.tz)).date()


def allocate(rng: NumberingRange, on: date | None = None) -> Allocated:
    """Take the next consecutive of `rng`. Call inside transaction.atomic() with the document's insert."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("allocate() must run inside the transaction that stores the document")
    on = on or _today(rng)
    if not rng.active:
        raise NumberingError("inactive", f"La numeración {rng} está inactiva.", f"Range {rng.pk} inactive")
    if on < rng.valid_from:
        raise NumberingError("not_yet_valid", f"La numeración {rng} solo es válida desde {rng.valid_from:%d/%m/%Y}.",
                             f"Range {rng.pk} valid from {rng.valid_from}")
    if on > rng.valid_to:
        raise NumberingError("expired", f"La resolución de numeración {rng} venció el {rng.valid_to:%d/%m/%Y}.",
                             f"Range {rng.pk} expired on {rng.valid_to}")
    updated = NumberingRange.objects.filter(pk=rng.pk, next_number__lte=F("range_to")).update(
        next_number=F("next_number") + 1
    )
    if not updated:
        raise NumberingError("exhausted", f"La numeración {rng} está agotada: solicite una nueva resolución a la DIAN.",
                             f"Range {rng.pk} exhausted")
    next_number = NumberingRange.objects.values_list("next_number", flat=True).get(pk=rng.pk)
    rng.next_number = next_number
    return Allocated(rng.pk, rng.prefix, next_number - 1)


def find_range(issuer, document_type, environment, prefix=None, on=None) -> NumberingRange:
    qs = NumberingRange.objects.filter(issuer=issuer, document_type=document_type, environment=environment, active=True)
    if prefix is not None:
        qs = qs.filter(prefix=prefix)
    on = on or timezone.localdate()
    rng = qs.filter(valid_from__lte=on, valid_to__gte=on, next_number__lte=F("range_to")).order_by("range_from").first()
    if rng is None:
        raise NumberingError("no_range", "No hay una numeración vigente y con números disponibles para este tipo de documento.",
                             f"No usable range for {issuer.pk}/{document_type}/{environment}/{prefix}")
    return rng


def overlapping(issuer, document_type, environment, prefix, range_from, range_to, exclude_pk=None):
    qs = NumberingRange.objects.filter(
        issuer=issuer, document_type=document_type, environment=environment, prefix=prefix,
        range_from__lte=range_to, range_to__gte=range_from,
    )
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return qs.first()


def warnings(rng: NumberingRange, on: date | None = None) -> list[str]:
    on = on or timezone.localdate()
    out = []
    if rng.next_number > rng.range_to:
        out.append(f"La numeración {rng} está agotada.")
    elif rng.usage_ratio >= USAGE_WARNING_RATIO:
        out.append(f"La numeración {rng} lleva el {rng.usage_ratio:.0%} de sus números usados.")
    if rng.valid_to < on:
        out.append(f"La resolución de la numeración {rng} venció el {rng.valid_to:%d/%m/%Y}.")
    elif rng.valid_to - on <= timedelta(days=EXPIRY_WARNING_DAYS):
        out.append(f"La resolución de la numeración {rng} vence el {rng.valid_to:%d/%m/%Y}.")
    return out
