"""The accounts register (padrón de cuentas) from a spreadsheet or CSV, through the tabular engine.

xlsx/xlsm/xls/ods/csv (what `tabular.readers` opens). The sheet and the header row are found by
`tabular.suggest` (title rows above the header are fine) and each column is matched to an account field by
its header — accents, case and punctuation ignored, common synonyms accepted (`CATALOG`): «Titular» or
«Propietario», «Documento», «Dirección», «Estrato», «Clase», «Correo», «Saldo anterior»...; a holder written in
name and surname columns («Nombres», «Apellidos») is put together. Columns no field fits are ignored and listed. Only the reference column is required; a new account also needs its holder.

Every row is checked (`check_row`): reference format and repetitions, identification (a NIT with its check
digit written «800197268-4», «800197268 4», glued «8001972684», in a «DV» column, or without it: the check digit
is then computed), class,
stratum, state, e-mail, DANE code, the opening balance («saldo anterior», a decimal written as the file
writes numbers). Errors have the engine's shape `{row, column, header, value, code, message}` (row as the
user sees it, column letter).

**Nothing half-written**: a file with any error imports nothing, unless the user asks for the valid rows only
(`valid_only`; the rows with errors are then skipped and reported). A dry run does every check and writes
nothing. An existing reference is updated (only the columns present in the file), a new one created.
The opening balance becomes one charge per account (`Charge.source="opening"`, concept «Saldo anterior»)
in the opening period (default: the month before the current one); importing the file again replaces it,
unless the account has invoices already (then its charge is left as it is, and the row is refused if the balance
changes).

Limits (`ACCOUNTS_LIMITS`) are checked by the readers before anything is loaded. The file is never parsed in the
calling (web) process: the first rows (header detection) and then the whole file (mapping) are read in child
processes with time and memory limits (`tabular.isolated.sample_isolated`, `preview_isolated`); this process only
checks the mapped values against the database.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import time
import unicodedata
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from facturador.billing.electronic import ID_TYPES as DIAN_ID_TYPES
from facturador.billing.models import Account, BillingInvoice, Charge, IdType, ServiceClass, id_number_problem
from facturador.core.errors import Conflict, Invalid
from facturador.tabular import (FieldSpec, ImportFileError, Limits, RowError, Template, column_index, column_letter,
                                error_dict, suggest)
from facturador.tabular.suggest import header_key
from facturador.tabular.isolated import preview_isolated, sample_isolated
from facturador.tabular import readers
from facturador.taxid import TaxIdError, nit_check_digit, validate_nit

OPENING_CONCEPT = "Saldo anterior"
JOB_KIND = "billing.accounts_file"  # the web UI's check (dry run) and import of an accounts file, in a worker
MAX_LISTED = 1000  # errors listed in a report (all are counted)
#: An accounts register is a few hundred thousand rows at most; checked before anything is loaded.
ACCOUNTS_LIMITS = Limits(max_rows=300_000, max_cells=300_000 * 30, max_bytes=512 * 2**20)
READ_TIMEOUT = 180.0          # seconds for the child process that reads the whole file
READ_MEMORY = 2 * 2**30       # bytes of address space of that child
REFERENCE_RX = re.compile(r"[0-9A-Za-z-]+")
DASHES_RX = re.compile(r"\s*[\u2010-\u2015\u2212-]\s*")  # «900373076 – 4» (dashes a word processor writes)
SPACED_DV_RX = re.compile(r"([\d.,\s]*\d)\s+(\d)")     # «900.373.076 4»: the last lone digit is the DV
GLUED_DV_RX = re.compile(r"[89]\d{9}")                   # «9003730764»: a 9-digit company NIT and its DV
NIT_WORDS = {"nit"}
NOT_NIT_WORDS = {"c", "cc", "ce", "cedula", "documento", "identificacion", "id", "ti", "pasaporte", "o", "y"}

CATALOG = [
    FieldSpec("reference", "Referencia", synonyms=(
        "referencia", "referencia de pago", "ref", "ref pago", "codigo", "codigo de cuenta", "cuenta", "numero de cuenta",
        "contrato", "matricula", "codigo suscriptor", "nic", "nis", "reference",
        # abbreviated as registers write them («Cód. usuario», «Nro. contrato»): «usuario» alone is the holder
        "cod usuario", "codigo usuario", "codigo del usuario", "cod suscriptor", "cod cuenta", "cod cliente",
        "codigo cliente", "nro contrato", "no contrato", "numero de contrato", "cuenta contrato"), required=True),
    # Most specific first: among columns that name a field exactly, the earlier synonym wins (`tabular.suggest`).
    FieldSpec("holder_name", "Titular", synonyms=(
        "titular", "propietario", "razon social", "nombre o razon social", "nombre del titular", "nombre titular",
        "nombre completo", "nombres y apellidos", "nombre y apellidos", "apellidos y nombres", "suscriptor",
        "cliente", "usuario", "nombre", "nombres", "holder", "holder_name")),
    FieldSpec("id_type", "Tipo de documento", synonyms=(
        "tipo", "tipo id", "tipo_id", "tipo de id", "tipo documento", "tipo de documento", "tipo doc",
        "tipo de identificacion", "tipo identificacion", "id_type")),
    FieldSpec("id_number", "Documento", synonyms=(
        "documento", "numero documento", "numero de documento", "no documento", "n documento", "numero_id",
        "numero id", "identificacion", "numero de identificacion", "cedula", "cedula o nit", "nit", "nit cc",
        "cc nit", "id_number")),
    FieldSpec("check_digit", "DV", synonyms=("dv", "d v", "digito de verificacion", "digito verificacion",
                                             "dig verificacion", "dig verif", "digito verificador", "check_digit")),
    FieldSpec("address", "Dirección", synonyms=("direccion", "direccion predio", "direccion del predio", "domicilio",
                                                 "address")),
    FieldSpec("municipality_code", "Municipio (DANE)", synonyms=(
        "municipio", "codigo dane", "dane", "codigo municipio", "municipio dane", "cod municipio", "cod dane",
        "municipality_code")),
    FieldSpec("service_class", "Clase", synonyms=("clase", "clase de servicio", "clase servicio", "uso", "tipo de uso",
                                                   "service_class")),
    FieldSpec("stratum", "Estrato", synonyms=("estrato", "estrato socioeconomico", "stratum")),
    FieldSpec("email", "Correo", synonyms=("correo", "correo electronico", "email", "e mail", "mail", "e-mail")),
    FieldSpec("phone", "Teléfono", synonyms=("telefono", "celular", "movil", "telefono celular", "tel", "cel",
                                              "telefonos", "phone")),
    FieldSpec("state", "Estado", synonyms=("estado", "estado de la cuenta", "state")),
    FieldSpec("opening_balance", "Saldo anterior", "decimal", synonyms=(
        "saldo anterior", "saldo inicial", "deuda anterior", "saldo pendiente", "saldo", "deuda", "opening_balance"),
        options={"decimal_places": 2}),
]
LABELS = {s.name: s.label for s in CATALOG}
NAME_PART = "holder_name_part_"  # + 1, 2...: the holder's name in several columns (`_with_name_parts`)
GIVEN_NAMES = {"nombre", "nombres", "primer nombre", "segundo nombre", "otros nombres", "nombre 1", "nombre 2"}
SURNAMES = {"apellido", "apellidos", "primer apellido", "segundo apellido", "apellido 1", "apellido 2"}
ACCOUNT_FIELDS = [s.name for s in CATALOG if s.name != "opening_balance"]

ID_TYPES = {
    "cc": IdType.CC, "c c": IdType.CC, "cedula": IdType.CC, "cedula de ciudadania": IdType.CC,
    "nit": IdType.NIT, "ce": IdType.CE, "cedula de extranjeria": IdType.CE, "ti": IdType.TI,
    "tarjeta de identidad": IdType.TI, "pp": IdType.PP, "pasaporte": IdType.PP, "pep": IdType.PEP,
    "nuip": IdType.NUIP, "registro civil": IdType.NUIP, "rc": IdType.NUIP, "ext": IdType.FOREIGN,
    "extranjero": IdType.FOREIGN, "identificacion extranjera": IdType.FOREIGN,
    # written with dots («C.E.», «T.I.»), shorter, and DIAN's codes («13», «31»: registers made for DIAN formats)
    "c e": IdType.CE, "cedula extranjeria": IdType.CE, "t i": IdType.TI, "p p": IdType.PP,
    "permiso especial de permanencia": IdType.PEP, "r c": IdType.NUIP, "registro civil de nacimiento": IdType.NUIP,
    "11": IdType.NUIP, **{code: IdType(t) for t, code in DIAN_ID_TYPES.items()},
}
STATES = {"activa": Account.State.ACTIVE, "activo": Account.State.ACTIVE, "active": Account.State.ACTIVE,
          "suspendida": Account.State.SUSPENDED, "suspendido": Account.State.SUSPENDED,
          "suspended": Account.State.SUSPENDED, "retirada": Account.State.RETIRED, "retirado": Account.State.RETIRED,
          "retired": Account.State.RETIRED}
CLASSES = {_c.value: _c.value for _c in ServiceClass}


def _fold(value) -> str:
    s = unicodedata.normalize("NFKD", str(value or ""))
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", s).split())


for _c in ServiceClass:
    CLASSES.setdefault(_fold(_c.label), _c.value)
#: The abbreviations utilities' systems export («RES», «COM.»...).
CLASSES.update({"res": "residencial", "resid": "residencial", "com": "comercial", "ind": "industrial",
                "indus": "industrial", "of": "oficial", "ofi": "oficial", "ofic": "oficial", "esp": "especial",
                "rur": "rural"})
ROMAN_STRATA = {"i": "1", "ii": "2", "iii": "3", "iv": "4", "v": "5", "vi": "6"}


@dataclass
class Row:
    """A valid row: the account's fields given in the file, and its opening balance (None: no column)."""

    row_number: int
    reference: str
    values: dict
    opening_balance: Decimal | None = None
    opening_invoiced: bool = False  # the account has invoices and the balance is unchanged: its charge stays as is


@dataclass
class Report:
    """What an accounts file contains and what importing it did (or would do, in a dry run)."""

    rows_read: int = 0
    rows_valid: int = 0
    errors: list = field(default_factory=list)       # {row, column, header, value, code, message}, MAX_LISTED
    errors_total: int = 0
    opening_total: Decimal = Decimal("0.00")
    created: int = 0
    updated: int = 0
    opening_balances: int = 0
    columns: list = field(default_factory=list)      # [{column, header, field, label}] of the mapped columns
    ignored_columns: list = field(default_factory=list)
    sheet: str | None = None
    dry_run: bool = False
    imported: bool = False
    rows: list = field(default_factory=list, repr=False)

    def add_error(self, err, header: str = "") -> None:
        self.errors_total += 1
        if len(self.errors) < MAX_LISTED:
            self.errors.append(error_dict(err, header))

    def to_dict(self) -> dict:
        """The JSON answer of the API and of `facturador accounts import --json` (amounts as decimal strings)."""
        return {"rows_read": self.rows_read, "rows_valid": self.rows_valid, "errors": self.errors,
                "errors_total": self.errors_total, "totals": {"opening_balance": f"{self.opening_total:.2f}"},
                "created": self.created, "updated": self.updated, "opening_balances": self.opening_balances,
                "dry_run": self.dry_run, "imported": self.imported, "sheet": self.sheet, "columns": self.columns,
                "ignored_columns": self.ignored_columns}


def default_opening_period(today: dt.date | None = None) -> str:
    today = today or timezone.localdate()
    prev = today.replace(day=1) - dt.timedelta(days=1)
    return f"{prev.year}-{prev.month:02d}"


def _columns_by_synonyms(sample) -> tuple[int, list] | None:
    """Fallback header search: the first of the sample's first rows whose cells name the reference and at least one
    other account field exactly (synonyms, accents and case ignored). `tabular.suggest` also wants the row below
    the header to be half filled, which a register whose first account has few optional fields is not."""
    keys = {spec.name: set(spec.keys()) for spec in CATALOG}
    for rn, cells in sample.rows[:30]:
        found, taken = [], set()
        for j, cell in enumerate(cells):
            hk = header_key(cell)
            name = next((n for n, ks in keys.items() if hk in ks and n not in taken), None) if hk else None
            if name:
                taken.add(name)
                found.append((j, str(cell).strip(), name))
        if "reference" in taken and len(found) >= 2:
            return rn, found
    return None


def _with_name_parts(columns: list) -> list:
    """A holder written in name and surname columns («Nombres», «Apellidos», «Primer nombre»... `GIVEN_NAMES`,
    `SURNAMES`): those columns become the parts of the holder's name (`NAME_PART` 1, 2...: the names, then the
    surnames, each in the file's order), so that no part is dropped. A holder column that is not one of them
    («Razón social») stays the holder; the parts are used when it is empty."""
    keyed = [(j, h, name, header_key(h)) for j, h, name in columns]
    if not any(hk in SURNAMES for _j, _h, _n, hk in keyed):
        return columns
    given = [j for j, _h, _n, hk in keyed if hk in GIVEN_NAMES]
    surnames = [j for j, _h, _n, hk in keyed if hk in SURNAMES]
    part = {j: f"{NAME_PART}{k}" for k, j in enumerate(given + surnames, 1)}
    return [(j, h, part.get(j, name)) for j, h, name, _hk in keyed]


def template_for(path, filename: str, report: Report) -> Template:
    """Find the header row and match the columns (first rows read in a limited child process)."""
    sample = sample_isolated(str(path), filename, rows=40, limits=ACCOUNTS_LIMITS)
    proposal = suggest(sample, CATALOG, extra=False)
    report.sheet = proposal.sheet
    columns = [(c.index, c.header, c.field) for c in proposal.columns]
    header_row = proposal.header_row
    if not any(f == "reference" for _j, _h, f in columns):
        fallback = _columns_by_synonyms(sample)
        if fallback is None:
            found = ", ".join(f"«{h}»" for _j, h, _f in columns if h) or "ninguno"
            raise ImportFileError(
                "no_reference_column",
                f"No se encontró la columna de la referencia de pago (encabezados encontrados en la fila "
                f"{proposal.header_row}: {found}). Use un encabezado como «Referencia», «Cuenta» o «Código».",
                row=proposal.header_row)
        header_row, matched = fallback
        by_index = {j: (h, name) for j, h, name in matched}
        cells = dict(sample.rows)[header_row]
        columns = [(j, by_index.get(j, (str(c).strip(), None))[0], by_index.get(j, (None, None))[1])
                   for j, c in enumerate(cells)]
    specs = {spec.name: spec for spec in CATALOG}
    columns = _with_name_parts(columns)
    fields = []
    for j, header, name in columns:
        if name:
            spec = specs["holder_name" if name.startswith(NAME_PART) else name]
            report.columns.append({"column": column_letter(j), "header": header, "field": name, "label": spec.label})
            fields.append({"field": name, "label": spec.label, "header": header, "parser": spec.parser,
                           "required": name == "reference", **(spec.options or {})})
        elif header:
            report.ignored_columns.append({"column": column_letter(j), "header": header})
    # a «TOTAL» row's opening balance must be the sum of the rows' (a wrong separator or a lost row shows there);
    # a register without one is fine (the engine's `total_missing` is dropped by `read`)
    totals = {"fields": ["opening_balance"], "from_footer": True} if "opening_balance" in {
        f["field"] for f in fields} else None
    return Template.from_dict({
        "name": "cuentas", "sheet": proposal.sheet, "header_row": header_row,
        "decimal_separator": proposal.decimal_separator, "thousands_separator": proposal.thousands_separator,
        "date_formats": list(proposal.date_formats), "fields": fields, "declared_totals": totals})


def _err(rn, col, name, value, code, reason) -> RowError:
    label = LABELS.get(name, name)
    where = f" (columna {col})" if col else ""
    reason = str(reason).rstrip(".")
    return RowError(rn, col, name, "" if value is None else str(value), f"Fila {rn}, «{label}»{where}: {reason}.", code)


def check_row(values: dict, rn: int, cols: dict, existing: str | None, *, nit_column: bool = False
              ) -> tuple[dict, list]:
    """Normalise one mapped row into Account fields; returns (fields, errors). `cols`: field -> column letter of
    the fields the file has; `existing`: the id type of the account with this reference (None: a new one);
    `nit_column`: the document's header says NIT only («NIT», not «C.C./NIT»).

    Without an id type the document is a NIT when the file says so: its DV after a dash or a space
    («900373076-4», «900373076 4»), a DV column filled in, a column headed «NIT», or 10 digits starting with 8 or
    9 (a company NIT with its DV glued, «9003730764»: no cédula is written so); otherwise the existing account's
    type, or a cédula (CC)."""
    out, errors = {}, []

    def bad(name, code, reason, value=None):
        errors.append(_err(rn, cols.get(name), name, values.get(name) if value is None else value, code, reason))

    def text(name):
        v = values.get(name)
        return "" if v is None else str(v).strip()

    ref = text("reference")
    if not REFERENCE_RX.fullmatch(ref):
        bad("reference", "reference_format", "la referencia solo admite letras, dígitos y guiones")
    elif len(ref) > 30:
        bad("reference", "too_long", "la referencia tiene más de 30 caracteres")
    out["reference"] = ref
    parts = sorted((k for k in cols if k.startswith(NAME_PART)), key=lambda k: int(k[len(NAME_PART):]))
    if parts and "holder_name" not in cols:
        cols = {**cols, "holder_name": cols[parts[0]]}  # where a missing holder is reported
    if "holder_name" in cols:
        name = " ".join(text("holder_name").split()) or " ".join(" ".join(text(k) for k in parts).split())
        if not name and existing is None:
            bad("holder_name", "required", "la cuenta es nueva y no tiene titular")
        elif len(name) > 300:
            bad("holder_name", "too_long", "el titular tiene más de 300 caracteres")
        elif name:
            out["holder_name"] = name
    elif existing is None:
        errors.append(_err(rn, None, "holder_name", "", "required",
                           "la cuenta es nueva y el archivo no tiene la columna del titular"))
    id_type = None
    if "id_type" in cols:
        raw = text("id_type")
        if raw:
            id_type = ID_TYPES.get(_fold(raw)) or (raw.upper() if raw.upper() in IdType.values else None)
            if id_type is None:
                bad("id_type", "not_allowed", f"tipo de documento desconocido; use {', '.join(IdType.values)}")
            else:
                out["id_type"] = id_type
    if "id_number" in cols:
        written = DASHES_RX.sub("-", text("id_number"))
        number = re.sub(r"[\s.,]", "", written)
        dv_cell = text("check_digit") if "check_digit" in cols else ""
        base, dash, dv_written = number.partition("-")
        if not dash and (m := SPACED_DV_RX.fullmatch(written)):  # «900373076 4»: the DV after a space
            base, dv_written = re.sub(r"[\s.,]", "", m[1]), m[2]
        glued = not dv_written and not dv_cell and bool(GLUED_DV_RX.fullmatch(number))
        if id_type:
            kind = id_type
        elif dv_written or dv_cell or nit_column or glued:
            kind = IdType.NIT
        else:
            kind = existing or IdType.CC
        if kind == IdType.NIT and number:
            if glued:  # «9003730764»: a company NIT has 9 digits; a 10-digit one starting with 8 or 9 carries its DV
                base, dv_written = number[:-1], number[-1]
            try:
                nit, dv = validate_nit(base, dv_written or dv_cell or nit_check_digit(base))
            except (TaxIdError, ValueError) as exc:
                reason = getattr(exc, "message", "el NIT no es válido")
                if glued:
                    reason = f"{reason.rstrip('.')} (se leyó como el NIT {base} con el dígito de verificación pegado)"
                on_dv = bool(dv_cell) and not dv_written and getattr(exc, "code", "") == "nit_dv"
                bad("check_digit" if on_dv else "id_number", getattr(exc, "code", "nit_format"), reason,
                    value=dv_cell if on_dv else text("id_number"))
            else:
                if dv_cell and dv_written and dv_cell != dv:
                    bad("check_digit", "nit_dv", f"el dígito de verificación del NIT {nit} es {dv}, no {dv_cell}",
                        value=dv_cell)
                out.update(id_type=IdType.NIT, id_number=nit, check_digit=dv)
        elif len(number) > 20:
            bad("id_number", "too_long", "el documento tiene más de 20 caracteres")
        elif problem := id_number_problem(kind, number):
            bad("id_number", "invalid_id_number", problem[0].lower() + problem[1:].rstrip("."))
        else:
            out["id_number"] = number
            out["check_digit"] = ""
            if "id_type" not in out and existing is None:
                out["id_type"] = kind
    if "address" in cols:
        address = " ".join(text("address").split())
        if len(address) > 300:
            bad("address", "too_long", "la dirección tiene más de 300 caracteres")
        else:
            out["address"] = address
    if "municipality_code" in cols:
        code = text("municipality_code")
        if code and any(c.isalpha() for c in code):
            bad("municipality_code", "invalid_dane", f"«{code}» es un nombre; se espera el código DANE del municipio "
                "(5 dígitos, p. ej. 11001 para Bogotá D.C. o 05001 para Medellín)")
        elif code and (not code.isdigit() or len(code) > 5):
            bad("municipality_code", "invalid_dane", "el código DANE del municipio tiene 5 dígitos")
        else:
            out["municipality_code"] = code.zfill(5) if code else ""
    if "service_class" in cols:
        raw = text("service_class")
        if raw:
            value = CLASSES.get(_fold(raw))
            if value is None:
                bad("service_class", "not_allowed",
                    "clase de servicio desconocida; use " + ", ".join(str(c.label).lower() for c in ServiceClass))
            else:
                out["service_class"] = value
    if "stratum" in cols:
        raw = text("stratum")
        digits = re.sub(r"^(estrato)\s*", "", _fold(raw))
        if digits.endswith(".0"):
            digits = digits[:-2]
        digits = ROMAN_STRATA.get(digits, digits)  # «III», «Estrato IV»
        if raw and digits not in {str(i) for i in range(1, 7)}:
            bad("stratum", "not_allowed", "el estrato es un número de 1 a 6")
        else:
            out["stratum"] = digits if raw else ""
    if "email" in cols:
        email = text("email")
        if email:
            try:
                validate_email(email)
            except ValidationError:
                bad("email", "invalid_email", "el correo electrónico no es válido")
            else:
                out["email"] = email
        else:
            out["email"] = ""
    if "phone" in cols:
        phone = text("phone")
        if len(phone) > 40:
            bad("phone", "too_long", "el teléfono tiene más de 40 caracteres")
        else:
            out["phone"] = phone
    if "state" in cols:
        raw = text("state")
        if raw:
            value = STATES.get(_fold(raw))
            if value is None:
                bad("state", "not_allowed", "estado desconocido; use activa, suspendida o retirada")
            else:
                out["state"] = value
    errors.sort(key=lambda e: (len(e.column or ""), e.column or ""))
    return out, errors


def read(issuer, path, filename: str, *, report: Report | None = None) -> Report:
    """Read and check the whole file (nothing is written). Raises `ImportFileError` for file-level refusals."""
    report = report or Report()
    template = template_for(path, filename, report)
    existing = dict(Account.objects.filter(issuer=issuer).values_list("reference", "id_type"))
    seen: dict[str, int] = {}
    cols = {c["field"]: c["column"] for c in report.columns}
    headers = {c["column"]: c["header"] for c in report.columns}
    id_words = set(_fold(headers.get(cols.get("id_number", ""), "")).split())
    nit_column = bool(id_words & NIT_WORDS) and not id_words & NOT_NIT_WORDS
    # The whole file is parsed and mapped in a child process with time and memory limits (never in the web
    # process); only the mapped values come back. preview() with a limit above the row cap maps every row.
    mapped = preview_isolated(str(path), filename, template.to_dict(), limit=(ACCOUNTS_LIMITS.max_rows or 10**7) + 1,
                              limits=ACCOUNTS_LIMITS, timeout=READ_TIMEOUT, memory_limit=READ_MEMORY)
    # A spreadsheet keeps no leading zeros in a number: 123 in a numeric cell is the existing account 000123
    zero_padded: dict[str, list[str]] = {}
    for r in existing:
        if r[:1] == "0" and r.isdigit():
            zero_padded.setdefault(r.lstrip("0"), []).append(r)
    ref_at = column_index(cols["reference"])
    for mr in mapped.rows:
        report.rows_read += 1
        errors = list(mr.errors)
        ref = str(mr.values.get("reference") or "").strip()
        if (zero_padded and ref not in existing and ref_at < len(mr.raw)
                and isinstance(mr.raw[ref_at], (int, float)) and len(zero_padded.get(ref, ())) == 1):
            ref = mr.values["reference"] = zero_padded[ref][0]
        fields, problems = check_row(mr.values, mr.row_number, cols, existing.get(ref), nit_column=nit_column)
        if errors:  # the engine's errors first; the checks of the other cells as well, all in one report
            failed = {e.field for e in errors}
            errors += [e for e in problems if e.field not in failed]
            errors.sort(key=lambda e: (len(e.column or ""), e.column or ""))
        else:
            errors = problems
        if not errors and ref in seen:
            errors.append(_err(mr.row_number, cols.get("reference"), "reference", ref, "duplicate_reference",
                               f"la referencia {ref} ya está en la fila {seen[ref]}"))
        if ref:  # the first row of each reference, with errors or not: a later one is never imported in its place
            seen.setdefault(ref, mr.row_number)
        if errors:
            for e in errors:
                report.add_error(e, headers.get(e.column or "", ""))
            continue
        balance = mr.values.get("opening_balance") if "opening_balance" in cols else None
        if balance is not None:
            balance = Decimal(balance).quantize(Decimal("0.01"))
            report.opening_total += balance
        report.rows.append(Row(mr.row_number, ref, fields, balance))
    stats = mapped.stats
    for e in stats.file_errors:
        if e.code == "total_missing":
            continue
        if e.code == "total_mismatch" and e.field in stats.declared_totals:
            declared, computed = stats.declared_totals[e.field], stats.computed_totals.get(e.field, Decimal(0))
            e = _err(e.row, e.column, e.field, e.value, e.code,
                     f"la fila de totales dice {declared:.2f} y la suma de las filas es {computed:.2f} (diferencia "
                     f"{computed - declared:.2f}); revise si faltan filas o si los valores se leyeron bien")
        report.add_error(e, headers.get(e.column or "", ""))
    report.rows_valid = len(report.rows)
    return report


def check_opening_balances(issuer, report: Report, period: str) -> None:
    """Refuse (as row errors) a changed opening balance of an account that has invoices already; an unchanged one
    is left as it is (`Row.opening_invoiced`): its charge may be billed already, and booking it again in another
    period would bill it twice."""
    refs = [r.reference for r in report.rows if r.opening_balance is not None]
    if not refs:
        return
    current = {}
    for ref, amount in Charge.objects.filter(issuer=issuer, source=Charge.Source.OPENING,
                                             account__reference__in=refs).values_list("account__reference", "amount"):
        current[ref] = current.get(ref, Decimal(0)) + amount
    invoiced = set(BillingInvoice.objects.filter(issuer=issuer, account__reference__in=refs)
                   .values_list("account__reference", flat=True))
    col = next((c["column"] for c in report.columns if c["field"] == "opening_balance"), None)
    header = next((c["header"] for c in report.columns if c["field"] == "opening_balance"), "")
    keep = []
    for r in report.rows:
        if (r.opening_balance is not None and r.reference in invoiced
                and current.get(r.reference, Decimal(0)) != r.opening_balance):
            report.add_error(_err(r.row_number, col, "opening_balance", r.opening_balance, "opening_balance_invoiced",
                                  f"la cuenta {r.reference} ya tiene facturas; su saldo anterior "
                                  f"({current.get(r.reference, Decimal(0)):.2f}) no se puede cambiar"), header)
            report.opening_total -= r.opening_balance
            continue
        r.opening_invoiced = r.opening_balance is not None and r.reference in invoiced
        keep.append(r)
    report.rows = keep
    report.rows_valid = len(keep)


def load(issuer, report: Report, period: str) -> None:
    """Create/update the accounts and replace their opening balances, in one transaction."""
    by_ref = {a.reference: a for a in Account.objects.filter(issuer=issuer, reference__in=[r.reference for r in report.rows])}
    new, old, fields_updated = [], [], set()
    for r in report.rows:
        acc = by_ref.get(r.reference)
        if acc is None:
            acc = Account(issuer=issuer, **r.values)
            new.append(acc)
        else:
            for k, v in r.values.items():
                setattr(acc, k, v)
            fields_updated.update(k for k in r.values if k != "reference")
            old.append(acc)
    with transaction.atomic():
        Account.objects.bulk_create(new, batch_size=1000)
        if old and fields_updated:
            Account.objects.bulk_update(old, sorted(fields_updated), batch_size=1000)
        with_balance = [r for r in report.rows if r.opening_balance is not None and not r.opening_invoiced]
        if with_balance:
            ids = dict(Account.objects.filter(issuer=issuer, reference__in=[r.reference for r in with_balance])
                       .values_list("reference", "pk"))
            Charge.objects.filter(issuer=issuer, source=Charge.Source.OPENING, account_id__in=list(ids.values())).delete()
            charges = [Charge(issuer=issuer, account_id=ids[r.reference], reference=r.reference, period=period,
                              concept=OPENING_CONCEPT, quantity=Decimal(1), unit_price=r.opening_balance,
                              amount=r.opening_balance, source=Charge.Source.OPENING)
                       for r in with_balance if r.opening_balance != 0]
            Charge.objects.bulk_create(charges, batch_size=1000)
            report.opening_balances = len(charges)
    report.created, report.updated = len(new), len(old)
    report.imported = True


def run(issuer, path, filename: str, *, dry_run: bool, valid_only: bool, period: str) -> Report:
    """Check the whole file and, unless `dry_run`, import it: what `actions.import_accounts` does in the caller
    and the "billing.accounts_file" job does in a worker.

    A file with errors imports nothing and is refused with `billing.accounts_file.invalid_rows` (details: the
    report — rows_read, rows_valid, errors, errors_total, totals...) unless `valid_only` (rows with errors are
    skipped and listed). File-level refusals: `billing.accounts_file.<reader code>` (e.g. `no_reference_column`,
    `unsupported_extension`, `too_many_rows`), `billing.accounts_file.empty`,
    `billing.accounts_file.concurrent`."""
    report = Report(dry_run=bool(dry_run))
    try:
        read(issuer, path, filename, report=report)
    except ImportFileError as exc:
        raise _file_refusal(exc) from exc
    check_opening_balances(issuer, report, period)
    if dry_run:
        return report
    bad_rows = report.rows_read - report.rows_valid
    if report.errors_total and not valid_only:
        raise Invalid("billing.accounts_file.invalid_rows",
                      f"El archivo tiene {report.errors_total} errores ({bad_rows} filas); no se importó ninguna "
                      "cuenta. Corrija el archivo o importe solo las filas válidas.", field="file",
                      details=report.to_dict())
    if not report.rows:
        raise Invalid("billing.accounts_file.empty", "El archivo no tiene cuentas válidas para importar.", field="file",
                      details=report.to_dict())
    try:
        load(issuer, report, period)
    except IntegrityError as exc:  # another upload created the same references meanwhile
        raise Conflict("billing.accounts_file.concurrent", "Otra carga cambió las cuentas al mismo tiempo; "
                       "vuelva a intentarlo.", field="file") from exc
    return report


def _file_refusal(exc: ImportFileError) -> Invalid:
    where = f"Fila {exc.row}: " if exc.row and not exc.message_es.startswith("Fila") else ""
    return Invalid(f"billing.accounts_file.{exc.code}", where + exc.message_es, field="file",
                   details={"row": exc.row, "column": exc.column, "rule": exc.code})


def check_extension(filename: str) -> None:
    """Refuse at once a file whose type no reader takes (the rest is checked by the job)."""
    try:
        readers.check_extension(filename)
    except ImportFileError as exc:
        raise _file_refusal(exc) from exc


def audit_summary(filename: str, report: Report, period: str) -> str:
    bad_rows = report.rows_read - report.rows_valid
    return (f"{filename}: {report.created} creadas, {report.updated} actualizadas, {report.opening_balances} saldos "
            f"anteriores ({period})" + (f", {bad_rows} filas con errores omitidas" if bad_rows else ""))


# --------------------------------------------------------------------------------------- stored uploads

def _uploads_dir(issuer) -> Path:
    return Path(settings.MEDIA_ROOT) / "issuers" / str(issuer.pk) / "billing" / "cuentas-por-importar"


def store_upload(issuer, data, filename: str) -> str:
    """Keep an uploaded file between the preview and the confirmation; returns its token."""
    _remove_stale_uploads(issuer)
    token = uuid.uuid4().hex
    name = re.sub(r"[^\w.-]+", "_", Path(filename or "cuentas.csv").name)[-120:] or "cuentas.csv"
    folder = _uploads_dir(issuer) / token
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    with open(target, "wb") as out:
        if isinstance(data, (bytes, bytearray)):
            out.write(data)
        else:
            for chunk in (data.chunks() if hasattr(data, "chunks") else iter(lambda: data.read(2**20), b"")):
                out.write(chunk)
    return token


def _remove_stale_uploads(issuer, max_age: float = 24 * 3600) -> None:
    """Uploads checked but never confirmed are removed after a day."""
    folder = _uploads_dir(issuer)
    if not folder.is_dir():
        return
    limit = time.time() - max_age
    for entry in folder.iterdir():
        try:
            if entry.is_dir() and entry.stat().st_mtime < limit:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue


def stored_upload(issuer, token: str) -> Path | None:
    """The file stored under `token` for this issuer (None when there is none)."""
    if not re.fullmatch(r"[0-9a-f]{32}", str(token or "")):
        return None
    folder = _uploads_dir(issuer) / token
    files = sorted(folder.iterdir()) if folder.is_dir() else []
    return files[0] if files else None


def discard_upload(issuer, token: str) -> None:
    path = stored_upload(issuer, token)
    if path is not None:
        shutil.rmtree(path.parent, ignore_errors=True)
