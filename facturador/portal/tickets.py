"""Tickets from the point of sale: validation shared by the API and the CSV import.

Sending the same ticket twice is harmless (idempotent on branch + ticket number); sending a
different ticket under an existing number is refused. A bad row refuses the whole load
(`portal.ticket_import.<reason>`, the row number and column in ``details``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal, InvalidOperation

from django.db import transaction

from facturador.core.errors import Conflict, Invalid
from facturador.core.models import Branch
from facturador.portal.models import Ticket
from facturador.portal.services import MX

CSV_COLUMNS = ["sucursal", "ticket", "orden", "fecha", "subtotal", "iva", "total", "forma_pago"]


def row_error(reason, row, column, message, kind=Invalid):
    """The refusal of a whole load because of one row; `column` is the CSV column (or API key)."""
    return kind(f"portal.ticket_import.{reason}",
                f"Fila {row}, columna {column}: {message} No se cargó ningún ticket.",
                field=column, details={"row": row, "column": column})


def _money(value, row, field) -> Decimal:
    try:
        d = Decimal(str(value).replace("$", "").replace(",", "").strip()).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError) as exc:
        raise row_error("amount_invalid", row, field, f"'{value}' no es un importe válido.") from exc
    if d < 0:
        raise row_error("amount_negative", row, field, "El importe no puede ser negativo.")
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
        raise row_error("date_invalid", row, "fecha", f"La fecha '{text}' no es válida (use AAAA-MM-DD HH:MM).") from exc


def validate(issuer, data: dict, row: int, branches: dict) -> dict:
    code = str(data.get("branch") or data.get("sucursal") or "").strip()
    branch = branches.get(code)
    if branch is None:
        raise row_error("branch_unknown", row, "sucursal", f"La sucursal '{code}' no existe.")
    number = str(data.get("ticket_number") or data.get("ticket") or "").strip()
    if not number:
        raise row_error("number_missing", row, "ticket", "Falta el número de ticket.")
    subtotal = _money(data.get("subtotal"), row, "subtotal")
    tax = _money(data.get("tax", data.get("iva", 0)), row, "iva")
    total = _money(data.get("total"), row, "total")
    if abs(subtotal + tax - total) > Decimal("0.01"):
        raise row_error("total_mismatch", row, "total", f"El total {total} no es subtotal + IVA ({subtotal + tax}).")
    if total == 0:
        raise row_error("total_zero", row, "total", "El total debe ser mayor que cero.")
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
                raise row_error("conflict", i + 1, "ticket", f"El ticket {v['ticket_number']} ya existe con otros datos.",
                                kind=Conflict)
            known += 1
            continue
        Ticket.objects.create(**v)
        created += 1
    return created, known


def read_csv(data: bytes) -> list[dict]:
    try:
        text = data.decode("utf-16") if data.startswith((b"\xff\xfe", b"\xfe\xff")) else data.decode("utf-8-sig")
    except UnicodeError:
        text = data.decode("latin-1")  # what spreadsheets on Windows often save
    sample = text[:2048]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;|\t") if sample.strip() else csv.excel
    except csv.Error as exc:
        raise Invalid("portal.ticket_import.unreadable", "No se reconoce el archivo como CSV (columnas separadas por "
                      "coma, punto y coma, barra o tabulador). No se cargó ningún ticket.", field="file") from exc
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise Invalid("portal.ticket_import.columns_missing",
                      f"Fila 1, columna {','.join(missing)}: Faltan columnas: {', '.join(missing)}. No se cargó ningún ticket.",
                      field="file", details={"row": 1, "columns": missing})
    return [{k: (v or "").strip() for k, v in row.items() if k} for row in reader if any((v or "").strip() for v in row.values())]
