"""Consecutive numbers from numbering resolutions: atomic, unique and without gaps.

`allocate()` (one number) and `allocate_block()` (n consecutive numbers, for batches) must run
inside the same transaction that stores the numbered documents: the increment is one conditional
UPDATE ... RETURNING (a row lock on PostgreSQL, the write lock on SQLite), so concurrent callers
serialise on the range row, and a rolled-back transaction gives its numbers back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from facturador.core.errors import Conflict
from facturador.core.models import NumberingRange

USAGE_WARNING_RATIO = 0.9
EXPIRY_WARNING_DAYS = 30


class NumberingError(Conflict):
    """No number can be given from this range now (codes `core.numbering.<reason>`)."""


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
    first = allocate_block(rng, 1, on=on)
    return Allocated(rng.pk, rng.prefix, first)


def allocate_block(rng: NumberingRange, count: int, on: date | None = None) -> int:
    """Take `count` consecutive numbers of `rng` at once; returns the first (the block is first .. first+count-1).

    One conditional UPDATE ... RETURNING (next_number + count - 1 <= range_to): the range row stays locked
    until the caller's transaction ends, so store the documents right after it (in bulk) and commit; a
    rollback gives the whole block back. Single invoices and other batches wait on the same row, so the
    numbers stay unique and without gaps."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("allocate() must run inside the transaction that stores the document")
    if count < 1:
        raise ValueError("count must be at least 1")
    on = on or _today(rng)
    if not rng.active:
        raise NumberingError("core.numbering.inactive", f"La numeración {rng} está inactiva.")
    if on < rng.valid_from:
        raise NumberingError("core.numbering.not_yet_valid", f"La numeración {rng} solo es válida desde {rng.valid_from:%d/%m/%Y}.")
    if on > rng.valid_to:
        raise NumberingError("core.numbering.expired", f"La resolución de numeración {rng} venció el {rng.valid_to:%d/%m/%Y}.")
    table = connection_ops_quote(NumberingRange._meta.db_table)
    with transaction.get_connection().cursor() as cur:
        cur.execute(f"UPDATE {table} SET next_number = next_number + %s "
                    f"WHERE id = %s AND next_number + %s - 1 <= range_to RETURNING next_number", [count, rng.pk, count])
        row = cur.fetchone()
    if row is None:
        next_number, range_to = NumberingRange.objects.values_list("next_number", "range_to").get(pk=rng.pk)
        if count > 1 and next_number <= range_to:
            raise NumberingError("core.numbering.exhausted",
                                 f"La numeración {rng} solo tiene {range_to - next_number + 1} números disponibles y "
                                 f"se necesitan {count}: solicite una nueva resolución a la DIAN.")
        raise NumberingError("core.numbering.exhausted", f"La numeración {rng} está agotada: solicite una nueva resolución a la DIAN.")
    rng.next_number = row[0]
    return row[0] - count


def connection_ops_quote(name: str) -> str:
    return transaction.get_connection().ops.quote_name(name)


def find_range(issuer, document_type, environment, prefix=None, on=None, software_id=None) -> NumberingRange:
    """The valid, non-exhausted range to number from; ``software_id``: only ranges whose prefix is associated with
    that software (DIAN's prefix association, `NumberingRange.associated_software_id`)."""
    qs = NumberingRange.objects.filter(issuer=issuer, document_type=document_type, environment=environment, active=True)
    if prefix is not None:
        qs = qs.filter(prefix=prefix)
    if software_id is not None:
        qs = qs.filter(associated_software_id=software_id)
    on = on or timezone.localdate()
    rng = qs.filter(valid_from__lte=on, valid_to__gte=on, next_number__lte=F("range_to")).order_by("range_from").first()
    if rng is None:
        raise NumberingError("core.numbering.no_range", "No hay una numeración vigente y con números disponibles para este tipo de documento.")
    return rng


def overlapping(issuer, document_type, environment, prefix, range_from, range_to, exclude_pk=None):
    qs = NumberingRange.objects.filter(
        issuer=issuer, document_type=document_type, environment=environment, prefix=prefix,
        range_from__lte=range_to, range_to__gte=range_from,
    )
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return qs.first()


def range_problems(issuer, data: dict, exclude_pk=None) -> list[tuple[str, str]]:
    """The rules of a numbering range, as (field, Spanish message): prefix, order of numbers and dates, overlap."""
    out = []
    prefix = data.get("prefix") or ""
    if prefix and not (prefix.isalnum() and 1 <= len(prefix) <= 4):
        out.append(("prefix", "El prefijo tiene de 1 a 4 caracteres alfanuméricos."))
    rf, rt = data.get("range_from"), data.get("range_to")
    if rf is not None and rt is not None and rt < rf:
        out.append(("range_to", "El número final debe ser mayor o igual al inicial."))
    vf, vt = data.get("valid_from"), data.get("valid_to")
    if vf and vt and vt < vf:
        out.append(("valid_to", "La fecha final de vigencia es anterior a la inicial."))
    if rf is not None and rt is not None and rt >= rf and data.get("document_type"):
        other = overlapping(issuer, data["document_type"], data.get("environment"), prefix, rf, rt,
                            exclude_pk=exclude_pk)
        if other:
            out.append(("range_from", f"El rango se cruza con la numeración existente {other}."))
    return out


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
