"""Tickets from the point of sale: validation shared by the API and the CSV import.

Sending the same ticket twice is harmless (idempotent on branch + ticket number); sending a
different ticket under an existing number is refused.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal, InvalidOperation

from django.db import transaction

from facturador.core.models import Branch
from facturador.portal.models import Ticket
from facturador.portal.services import MX

CSV_COLUMNS = ["sucursal", "ticket", "orden", "fecha", "subtotal", "iva", "total", "forma_pago"]


class TicketRowError(Exception):
    def __init__(self, row, field, message):
        super().__init__(f"row {row} {field}: {message}")
        self.row, self.field, self.message = row, field, message

    def as_dict(self):
        return {"row": self.row, "field": self.field, "message": self.message}


def _money(value, row, field) -> Decimal:
    try:
        d = Decimal(str(value).replace("$", "").replace(",", "").strip()).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError) as exc:
        raise TicketRowError(row, field, f"'{value}' no es un importe válido.") from exc
    if d < 0:
        raise TicketRowError(row, field, "El importe no puede ser negativo.")
    return d


def _when(value, row) -> dt.datetime:
    text = str(value or "").strip()
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S"):
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=MX)
        except ValueError:
            continue
    try:
        parsed = dt.datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=MX)
    except ValueError as exc:
        raise TicketRowError(row, "fecha", f"La fecha '{text}' no es válida (use AAAA-MM-DD HH:MM).") from exc


def validate(issuer, data: dict, row: int, branches: dict) -> dict:
    code = str(data.get("branch") or data.get("sucursal") or "").strip()
    branch = branches.get(code)
    if branch is None:
        raise TicketRowError(row, "sucursal", f"La sucursal '{code}' no existe.")
    number = str(data.get("ticket_number") or data.get("ticket") or "").strip()
    if not number:
        raise TicketRowError(row, "ticket", "Falta el número de ticket.")
    subtotal = _money(data.get("subtotal"), row, "subtotal")
    tax = _money(data.get("tax", data.get("iva", 0)), row, "iva")
    total = _money(data.get("total"), row, "total")
    if abs(subtotal + tax - total) > Decimal("0.01"):
        raise TicketRowError(row, "total", f"El total {total} no es subtotal + IVA ({subtotal + tax}).")
    if total == 0:
        raise TicketRowError(row, "total", "El total debe ser mayor que cero.")
    rate = str(data.get("iva_rate") or ("16" if tax else "0"))
    return dict(issuer=issuer, branch=branch, ticket_number=number,
                order_number=str(data.get("order_number") or data.get("orden") or number).strip(),
                short_code=str(data.get("short_code") or data.get("codigo") or "").strip(),
                sold_at=_when(data.get("sold_at") or data.get("fecha"), row), subtotal=subtotal, tax=tax, total=total,
                iva_rate=rate, lines=data.get("lines") or [], payment_form=str(data.get("payment_form") or data.get("forma_pago") or "01"))


@transaction.atomic
def save_tickets(issuer, rows: list[dict]) -> tuple[int, int]:
    """All or nothing. Returns (created, already_known)."""
    branches = {b.code: b for b in Branch.objects.filter(issuer=issuer)}
    values = [validate(issuer, r, i + 1, branches) for i, r in enumerate(rows)]
    created = known = 0
    for i, v in enumerate(values):
        existing = Ticket.objects.filter(issuer=issuer, branch=v["branch"], ticket_number=v["ticket_number"]).first()
        if existing is not None:
            if existing.total != v["total"] or existing.order_number != v["order_number"]:
                raise TicketRowError(i + 1, "ticket", f"El ticket {v['ticket_number']} ya existe con otros datos.")
            known += 1
            continue
        Ticket.objects.create(**v)
        created += 1
    return created, known


def read_csv(data: bytes) -> list[dict]:
    text = data.decode("utf-8-sig") if not data.startswith(b"\xff") else data.decode("utf-16")
    try:
        text.encode("utf-8")
    except UnicodeError:
        text = data.decode("latin-1")
    sample = text[:2048]
    dialect = csv.Sniffer().sniff(sample, delimiters=",;|\t") if sample.strip() else csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise TicketRowError(1, ",".join(missing), f"Faltan columnas: {', '.join(missing)}.")
    return [{k: (v or "").strip() for k, v in row.items() if k} for row in reader if any((v or "").strip() for v in row.values())]
