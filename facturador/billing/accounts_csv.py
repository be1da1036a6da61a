"""Bulk account upload from a CSV file (all or nothing: every row is checked before anything is saved).

Columns (header row required, names in Spanish or English; `;` or `,` separated, UTF-8 or Latin-1):
referencia/reference, titular/holder_name, tipo_id/id_type, numero_id/id_number, dv/check_digit,
direccion/address, municipio/municipality_code, clase/service_class, estrato/stratum, correo/email,
telefono/phone, estado/state. Only `referencia` and `titular` are required. An existing reference
is updated; a new one is created.
"""

from __future__ import annotations

import csv
import io

from django.core.exceptions import ValidationError
from django.db import transaction

from facturador.billing.models import Account, IdType, ServiceClass
from facturador.core.errors import Invalid

COLUMNS = {
    "referencia": "reference", "reference": "reference", "titular": "holder_name", "holder_name": "holder_name",
    "tipo_id": "id_type", "id_type": "id_type", "numero_id": "id_number", "id_number": "id_number",
    "dv": "check_digit", "check_digit": "check_digit", "direccion": "address", "address": "address",
    "municipio": "municipality_code", "municipality_code": "municipality_code", "clase": "service_class",
    "service_class": "service_class", "estrato": "stratum", "stratum": "stratum", "correo": "email",
    "email": "email", "telefono": "phone", "phone": "phone", "estado": "state", "state": "state",
}
STATES = {"activa": "active", "suspendida": "suspended", "retirada": "retired"}
MAX_PROBLEMS = 1000  # rows listed in a refusal's details


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def load(issuer, data: bytes) -> tuple[int, int]:
    """Validate every row, then create/update in one transaction. Returns (created, updated).

    Refusals (`Invalid`, field "file"): `billing.accounts_file.no_header`, `.unknown_columns`, `.invalid_rows`
    (details: `problems` with line, reference and reason), `.empty`."""
    text = _text(data)
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader, [])]
    unknown = [h for h in header if h and h not in COLUMNS]
    if not header or "referencia" not in header and "reference" not in header:
        raise Invalid("billing.accounts_file.no_header",
                      "El archivo debe tener una fila de encabezado con al menos «referencia» y «titular».", field="file")
    if unknown:
        raise Invalid("billing.accounts_file.unknown_columns", f"Columnas desconocidas: {', '.join(unknown)}.",
                      field="file", details={"columns": unknown})
    fields = [COLUMNS.get(h) for h in header]
    existing = {a.reference: a for a in Account.objects.filter(issuer=issuer)}
    seen: dict[str, int] = {}
    problems, rows = [], []
    for line_no, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        raw = {f: v.strip() for f, v in zip(fields, values) if f}
        ref = raw.get("reference", "")
        if ref in seen:
            problems.append({"line": line_no, "reference": ref, "reason": f"Referencia repetida (línea {seen[ref]})."})
            continue
        seen[ref] = line_no
        if "id_type" in raw:
            raw["id_type"] = raw["id_type"].upper() or IdType.CC
        if "service_class" in raw:
            raw["service_class"] = raw["service_class"].lower() or ServiceClass.RESIDENTIAL
        if "state" in raw:
            raw["state"] = STATES.get(raw["state"].lower(), raw["state"].lower()) or Account.State.ACTIVE
        acc = existing.get(ref) or Account(issuer=issuer)
        for k, v in raw.items():
            setattr(acc, k, v)
        try:
            acc.full_clean(exclude=["issuer"], validate_unique=False)
        except ValidationError as exc:
            reason = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            problems.append({"line": line_no, "reference": ref, "reason": reason})
            continue
        rows.append(acc)
    if problems:
        raise Invalid("billing.accounts_file.invalid_rows",
                      f"El archivo tiene {len(problems)} filas con errores; no se guardó ninguna cuenta.", field="file",
                      details={"problem_count": len(problems), "problems": problems[:MAX_PROBLEMS]})
    if not rows:
        raise Invalid("billing.accounts_file.empty", "El archivo no tiene cuentas.", field="file")
    new = [a for a in rows if a.pk is None]
    old = [a for a in rows if a.pk is not None]
    with transaction.atomic():
        Account.objects.bulk_create(new, batch_size=1000)
        if old:
            Account.objects.bulk_update(old, ["holder_name", "id_type", "id_number", "check_digit", "address",
                                              "municipality_code", "service_class", "stratum", "email", "phone",
                                              "state"], batch_size=1000)
    return len(new), len(old)
