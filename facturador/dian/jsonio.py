"""Build a ``model.Document`` from JSON-like data (see docs/dian-json.md).

Errors are ``DianInputError`` with ``field`` = the JSON path (e.g. ``lines[2].taxes[0].rate``), a stable
``code`` (a DIAN rule code when one applies) and a Spanish ``message``. All problems found are collected:
the raised error describes the first one and carries the full list in ``.errors``.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from stdnum.co import nit as co_nit

from .errors import DianInputError
from .model import (CONSUMIDOR_FINAL, CREDIT_NOTE, CREDIT_NOTE_CONCEPTS, DEBIT_NOTE, DEBIT_NOTE_CONCEPTS, ID_TYPES,
                    INVOICE, IVA_RATES, KIND_TYPE_CODES, PARTY_TAX_SCHEMES, PRICE_TYPES, RESPONSIBILITIES, TAXES,
                    WITHHOLDINGS,
                    Address, AllowanceCharge, BillingReference, Document, Line, Numbering, Party, Payment, Prepayment,
                    Software, Tax, Withholding)

_MISSING = object()
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class DianInputErrors(DianInputError):
    """Several input problems; ``errors`` lists them all (the first gives code/field/message)."""

    def __init__(self, errors: list[DianInputError]):
        first = errors[0]
        super().__init__(first.code, first.field, first.message,
                         "; ".join(f"{e.field}: {e.code}" for e in errors))
        self.errors = errors


class _Reader:
    def __init__(self):
        self.errors: list[DianInputError] = []

    def err(self, path: str, code: str, message: str):
        self.errors.append(DianInputError(code, path, message, f"{path}: {code} {message}"))

    def get(self, obj: dict, key: str, path: str, required=True, default=None):
        if not isinstance(obj, dict):
            return default
        v = obj.get(key, _MISSING)
        if v is _MISSING or v is None or v == "":
            if required:
                self.err(f"{path}{key}", "required", f"El campo {path}{key} es obligatorio.")
            return default
        return v

    def string(self, obj, key, path, required=True, default="", choices=None, max_len=None) -> str:
        v = self.get(obj, key, path, required, _MISSING)
        if v is _MISSING:
            return default
        if isinstance(v, bool) or not isinstance(v, (str, int)):
            self.err(f"{path}{key}", "type", f"El campo {path}{key} debe ser un texto.")
            return default
        v = str(v).strip()
        if choices is not None and v not in choices:
            self.err(f"{path}{key}", "choice", f"Valor '{v}' no válido en {path}{key}; use uno de: "
                                               f"{', '.join(choices)}.")
        if max_len and len(v) > max_len:
            self.err(f"{path}{key}", "length", f"El campo {path}{key} admite máximo {max_len} caracteres.")
        return v

    def decimal(self, obj, key, path, required=True, default=None, positive=False) -> Decimal | None:
        v = self.get(obj, key, path, required, _MISSING)
        if v is _MISSING:
            return default
        if isinstance(v, bool):
            self.err(f"{path}{key}", "type", f"El campo {path}{key} debe ser un número.")
            return default
        try:
            d = Decimal(str(v).strip())
            if not d.is_finite():
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            self.err(f"{path}{key}", "type", f"El campo {path}{key} debe ser un número (con punto decimal); "
                                             f"se recibió '{v}'.")
            return default
        if d < 0:
            self.err(f"{path}{key}", "VLR01", f"No se permiten valores negativos en {path}{key} ({d}).")
        elif positive and d == 0:
            self.err(f"{path}{key}", "VLR01", f"El campo {path}{key} debe ser mayor que cero.")
        return d

    def integer(self, obj, key, path, required=True) -> int | None:
        v = self.get(obj, key, path, required, _MISSING)
        if v is _MISSING:
            return None
        if isinstance(v, bool) or not re.fullmatch(r"\d+", str(v).strip()):
            self.err(f"{path}{key}", "type", f"El campo {path}{key} debe ser un número entero sin signo.")
            return None
        return int(str(v).strip())

    def date(self, obj, key, path, required=True) -> dt.date | None:
        v = self.get(obj, key, path, required, _MISSING)
        if v is _MISSING:
            return None
        try:
            return dt.date.fromisoformat(str(v))
        except ValueError:
            self.err(f"{path}{key}", "date", f"Fecha no válida en {path}{key}: use AAAA-MM-DD.")
            return None

    def time(self, obj, key, path) -> dt.time | None:
        v = self.get(obj, key, path, True, _MISSING)
        if v is _MISSING:
            return None
        s = str(v).strip()
        m = re.fullmatch(r"(\d{2}):(\d{2}):(\d{2})(?:-05:00)?", s)
        if not m or int(m[1]) > 23 or int(m[2]) > 59 or int(m[3]) > 59:
            self.err(f"{path}{key}", "time", f"Hora no válida en {path}{key}: use HH:MM:SS (hora colombiana).")
            return None
        return dt.time(int(m[1]), int(m[2]), int(m[3]))

    def boolean(self, obj, key, path, default: bool) -> bool:
        v = self.get(obj, key, path, False, _MISSING)
        if v is _MISSING:
            return default
        if not isinstance(v, bool):
            self.err(f"{path}{key}", "type", f"El campo {path}{key} debe ser true o false.")
            return default
        return v

    def items(self, obj, key, path, required=False) -> list:
        v = self.get(obj, key, path, required, _MISSING)
        if v is _MISSING:
            return []
        if not isinstance(v, list):
            self.err(f"{path}{key}", "type", f"El campo {path}{key} debe ser una lista.")
            return []
        return v

    def obj(self, obj, key, path, required=True) -> dict | None:
        v = self.get(obj, key, path, required, _MISSING)
        if v is _MISSING:
            return None
        if not isinstance(v, dict):
            self.err(f"{path}{key}", "type", f"El campo {path}{key} debe ser un objeto.")
            return None
        return v


def _address(r: _Reader, data, path) -> Address | None:
    if data is None:
        return None
    city = r.string(data, "city_code", path)
    if city and not re.fullmatch(r"\d{5}", city):
        r.err(path + "city_code", "FAJ08", f"{path}city_code debe ser el código DANE del municipio (5 dígitos).")
    return Address(city_code=city, city_name=r.string(data, "city_name", path),
                   department_name=r.string(data, "department_name", path), line=r.string(data, "line", path),
                   department_code=r.string(data, "department_code", path, required=False),
                   country_code=r.string(data, "country_code", path, required=False, default="CO"),
                   country_name=r.string(data, "country_name", path, required=False, default="Colombia"),
                   postal_zone=r.string(data, "postal_zone", path, required=False))


def _party(r: _Reader, data, path: str, role: str) -> Party | None:
    if data == "consumidor_final":
        return Party.consumidor_final()
    if not isinstance(data, dict):
        r.err(path.rstrip("."), "type" if data is not None else "required",
              f"El campo {path.rstrip('.')} debe ser un objeto (o \"consumidor_final\" para el comprador).")
        return None
    id_type = r.string(data, "id_type", path, required=False, default="31", choices=list(ID_TYPES))
    number = r.string(data, "id_number", path)
    if number and not re.fullmatch(r"[0-9A-Za-z-]{1,20}", number):
        r.err(path + "id_number", "format", f"{path}id_number debe tener solo dígitos (sin puntos ni DV).")
    dv = r.string(data, "dv", path, required=False, default=None)
    letter = "J" if role == "supplier" else "K"
    if id_type == "31" and number:
        if not number.isdigit():
            r.err(path + "id_number", "format", f"El NIT en {path}id_number debe tener solo dígitos, sin DV.")
        else:
            expected = co_nit.calc_check_digit(number)
            if dv is not None and dv != expected:
                r.err(path + "dv", f"FA{letter}24", f"El DV del NIT {number} es {expected}, no {dv}.")
            dv = expected
    resp = r.get(data, "responsibilities", path, required=False, default=["R-99-PN"])
    if isinstance(resp, str):
        resp = [x.strip() for x in resp.split(";") if x.strip()]
    if not isinstance(resp, list) or not resp:
        r.err(path + "responsibilities", "type", f"{path}responsibilities debe ser una lista de códigos.")
        resp = ["R-99-PN"]
    for i, code in enumerate(resp):
        if code not in RESPONSIBILITIES:
            r.err(f"{path}responsibilities[{i}]", f"FA{letter}26",
                  f"Responsabilidad fiscal '{code}' no válida; use {', '.join(RESPONSIBILITIES)}.")
    email = r.string(data, "email", path, required=False)
    if email and not _EMAIL.match(email):
        r.err(path + "email", "email", f"Correo electrónico no válido en {path}email.")
    legal = r.boolean(data, "legal_person", path, default=id_type == "31")
    industry = r.get(data, "industry_code", path, required=False, default="")
    if isinstance(industry, list):
        industry = ";".join(str(x).strip() for x in industry)
    industry = str(industry).strip() if isinstance(industry, (str, int, list)) else "?"
    if industry and not re.fullmatch(r"\d{4}(;\d{4})*", industry):
        r.err(path + "industry_code", "format", f"{path}industry_code debe ser el código CIIU de la actividad "
                                                "económica (4 dígitos; varios separados por ';').")
    return Party(id_number=number, name=r.string(data, "name", path, max_len=450), id_type=id_type,
                 dv=dv if id_type == "31" else None, legal_person=legal, responsibilities=list(resp),
                 tax_scheme=r.string(data, "tax_scheme", path, required=False, default="ZZ",
                                     choices=list(PARTY_TAX_SCHEMES)),
                 address=_address(r, r.obj(data, "address", path, required=role == "supplier"), path + "address."),
                 email=email, commercial_name=r.string(data, "commercial_name", path, required=False),
                 phone=r.string(data, "phone", path, required=False, max_len=50), industry_code=industry)


def _allowance_charges(r: _Reader, data, key, path) -> list[AllowanceCharge]:
    out = []
    for i, ac in enumerate(r.items(data, key, path)):
        p = f"{path}{key}[{i}]."
        if not isinstance(ac, dict):
            r.err(p.rstrip("."), "type", f"{p.rstrip('.')} debe ser un objeto.")
            continue
        out.append(AllowanceCharge(amount=r.decimal(ac, "amount", p, positive=True) or Decimal(0),
                                   charge=r.boolean(ac, "charge", p, default=False),
                                   reason=r.string(ac, "reason", p, required=False),
                                   reason_code=r.string(ac, "reason_code", p, required=False),
                                   base_amount=r.decimal(ac, "base_amount", p, required=False),
                                   percent=r.decimal(ac, "percent", p, required=False)))
    return out


def _tax(r: _Reader, t, p) -> Tax | None:
    if not isinstance(t, dict):
        r.err(p.rstrip("."), "type", f"{p.rstrip('.')} debe ser un objeto con scheme y rate.")
        return None
    scheme = r.string(t, "scheme", p, required=False, default="01", choices=list(TAXES))
    rate = r.decimal(t, "rate", p)
    if scheme == "01" and rate is not None and rate >= 0 and rate not in IVA_RATES:
        r.err(p + "rate", "FAX14", f"Tarifa de IVA {rate} % no válida en {p}rate; use 0, 5 o 19.")
    return Tax(scheme, rate if rate is not None else Decimal(0))


def _lines(r: _Reader, data) -> list[Line]:
    raw = r.items(data, "lines", "", required=True)
    if isinstance(data, dict) and data.get("lines") == []:
        r.err("lines", "required", "El documento debe tener al menos una línea.")
    out = []
    for i, li in enumerate(raw):
        p = f"lines[{i}]."
        if not isinstance(li, dict):
            r.err(p.rstrip("."), "type", f"{p.rstrip('.')} debe ser un objeto.")
            continue
        taxes = []
        if "tax" in li and li["tax"] is not None:
            t = _tax(r, li["tax"], p + "tax.")
            taxes = [t] if t else []
        for j, t in enumerate(r.items(li, "taxes", p)):
            t = _tax(r, t, f"{p}taxes[{j}].")
            if t:
                taxes.append(t)
        seen = [t.scheme for t in taxes]
        if len(seen) != len(set(seen)):
            r.err(p + "taxes", "FAS01b", f"{p}taxes repite un tributo; informe cada tributo una sola vez por línea.")
        unit_price = r.decimal(li, "unit_price", p) or Decimal(0)
        ref_price = r.decimal(li, "reference_price", p, required=False, positive=True)
        if ref_price is None and unit_price == 0 and "unit_price" in li and not any(
                e.field == p + "unit_price" for e in r.errors):
            r.err(p + "reference_price", "required", f"La línea {p.rstrip('.')} es gratuita (unit_price 0): informe "
                                                      f"{p}reference_price, el precio de referencia del bien o "
                                                      "servicio (PricingReference).")
        out.append(Line(description=r.string(li, "description", p, max_len=300),
                        quantity=r.decimal(li, "quantity", p, positive=True) or Decimal(0),
                        unit_price=unit_price, reference_price=ref_price,
                        reference_price_type=r.string(li, "reference_price_type", p, required=False, default="01",
                                                      choices=list(PRICE_TYPES)),
                        unit_code=r.string(li, "unit_code", p, required=False, default="94"),
                        taxes=taxes, allowance_charges=_allowance_charges(r, li, "allowance_charges", p),
                        code=r.string(li, "code", p, required=False), note=r.string(li, "note", p, required=False)))
    return out


def party_errors(data, role: str = "customer") -> list[DianInputError]:
    """The problems of one party's JSON (a document's ``customer`` or ``supplier``) without the rest of the
    document: a cheap check before a number is taken for it (billing batches check every account this way).

    >>> [e.code for e in party_errors({"id_type": "31", "id_number": "800199436", "dv": "9", "name": "Cliente"})]
    ['FAK24']
    >>> party_errors("consumidor_final")
    []
    """
    r = _Reader()
    _party(r, data, f"{role}.", role)
    return r.errors


def document_from_json(data: dict) -> Document:
    """Validate and convert JSON-like data into a ``Document``; raise ``DianInputErrors`` on any problem."""
    r = _Reader()
    if not isinstance(data, dict):
        raise DianInputErrors([DianInputError("type", "$", "El documento JSON debe ser un objeto.")])
    kind = r.string(data, "kind", "", choices=[INVOICE, CREDIT_NOTE, DEBIT_NOTE])
    type_code = r.string(data, "type_code", "", required=False,
                         choices=list(KIND_TYPE_CODES.get(kind, ())) or None)
    env = r.string(data, "environment", "", required=False, default="2", choices=["1", "2"])

    n = r.obj(data, "numbering", "") or {}
    numbering = Numbering(prefix=r.string(n, "prefix", "numbering.", required=False, max_len=4),
                          number=r.integer(n, "number", "numbering.") or 0,
                          resolution=r.string(n, "resolution", "numbering.", required=kind == INVOICE),
                          range_from=r.integer(n, "range_from", "numbering.", required=kind == INVOICE),
                          range_to=r.integer(n, "range_to", "numbering.", required=kind == INVOICE),
                          valid_from=r.date(n, "valid_from", "numbering.", required=kind == INVOICE),
                          valid_to=r.date(n, "valid_to", "numbering.", required=kind == INVOICE),
                          technical_key=r.string(n, "technical_key", "numbering.",
                                                 required=kind == INVOICE and type_code != "03"))
    s = r.obj(data, "software", "") or {}
    provider = r.string(s, "provider_nit", "software.")
    if provider and not provider.isdigit():
        r.err("software.provider_nit", "FAB22", "software.provider_nit debe ser un NIT sin DV.")
        provider = ""
    software = Software(id=r.string(s, "id", "software."), pin=r.string(s, "pin", "software."),
                        provider_nit=provider or "0")
    supplier = _party(r, data.get("supplier"), "supplier.", "supplier")
    customer = _party(r, data.get("customer"), "customer.", "customer")
    lines = _lines(r, data)
    issue_date = r.date(data, "issue_date", "")
    issue_time = r.time(data, "issue_time", "")

    pay = r.obj(data, "payment", "", required=False) or {}
    payment = Payment(method=r.string(pay, "method", "payment.", required=False, default="1", choices=["1", "2"]),
                      means_code=r.string(pay, "means_code", "payment.", required=False, default="10"),
                      due_date=r.date(pay, "due_date", "payment.", required=False),
                      reference=r.string(pay, "reference", "payment.", required=False))
    if payment.method == "2" and payment.due_date is None and isinstance(data.get("payment"), dict):
        r.err("payment.due_date", "required", "Pago a crédito: payment.due_date es obligatorio.")

    prepayments = []
    for i, p in enumerate(r.items(data, "prepayments", "")):
        pth = f"prepayments[{i}]."
        prepayments.append(Prepayment(amount=r.decimal(p, "amount", pth, positive=True) or Decimal(0),
                                      received_date=r.date(p, "received_date", pth) or dt.date.today(),
                                      id=r.string(p, "id", pth, required=False)))
    withholdings = []
    for i, w in enumerate(r.items(data, "withholdings", "")):
        pth = f"withholdings[{i}]."
        withholdings.append(Withholding(scheme=r.string(w, "scheme", pth, choices=list(WITHHOLDINGS)),
                                        rate=r.decimal(w, "rate", pth) or Decimal(0),
                                        base=r.decimal(w, "base", pth, required=False)))
    if withholdings and kind != INVOICE:
        r.err("withholdings", "kind", "Las retenciones solo se informan en facturas.")
    if prepayments and kind == CREDIT_NOTE:
        r.err("prepayments", "kind", "Una nota crédito no lleva anticipos.")

    ref = None
    br = r.obj(data, "billing_reference", "", required=False)
    if br is not None:
        ref = BillingReference(number=r.string(br, "number", "billing_reference."),
                               uuid=r.string(br, "uuid", "billing_reference."),
                               issue_date=r.date(br, "issue_date", "billing_reference.") or dt.date.min)
        if ref.uuid and not re.fullmatch(r"[0-9a-fA-F]{96}", ref.uuid):
            r.err("billing_reference.uuid", "CBG04a", "billing_reference.uuid debe ser el CUFE (96 caracteres "
                                                      "hexadecimales) de la factura.")
        if issue_date and br.get("issue_date") and ref.issue_date > issue_date:
            r.err("billing_reference.issue_date", "CBG06" if kind == CREDIT_NOTE else "DBG06",
                  "La nota no puede tener fecha anterior a la de la factura referenciada.")
    period = None
    ip = r.obj(data, "invoice_period", "", required=False)
    if ip is not None:
        start, end = r.date(ip, "start", "invoice_period."), r.date(ip, "end", "invoice_period.")
        if start and end:
            period = (start, end)
            if end < start:
                r.err("invoice_period.end", "period", "invoice_period.end es anterior a invoice_period.start.")
    disc = r.obj(data, "discrepancy", "", required=kind in (CREDIT_NOTE, DEBIT_NOTE)) or {}
    disc_code = ""
    if kind in (CREDIT_NOTE, DEBIT_NOTE):
        letter = "C" if kind == CREDIT_NOTE else "D"
        if ref is None and ip is None:
            r.err("billing_reference", f"{letter}BG02",
                  "La nota debe referenciar la factura que corrige (billing_reference) o, si no la referencia, "
                  "informar el periodo facturado (invoice_period).")
        concepts = CREDIT_NOTE_CONCEPTS if kind == CREDIT_NOTE else DEBIT_NOTE_CONCEPTS
        disc_code = r.string(disc, "code", "discrepancy.", choices=list(concepts))
    elif br is not None:
        r.err("billing_reference", "kind", "billing_reference solo aplica a notas crédito y débito.")

    if customer and customer.id_number == CONSUMIDOR_FINAL and customer.id_type != "13":
        r.err("customer.id_type", "FAK62", "El consumidor final (222222222222) se identifica con id_type 13.")
    if kind == INVOICE and numbering.range_from is not None and numbering.range_to is not None and numbering.number:
        if not numbering.range_from <= numbering.number <= numbering.range_to:
            r.err("numbering.number", "FAD05e", f"El número {numbering.number} está fuera del rango autorizado "
                                                f"{numbering.range_from}-{numbering.range_to}.")
    if kind == INVOICE and issue_date and numbering.valid_from and issue_date < numbering.valid_from:
        r.err("issue_date", "FAB07a", "La fecha de emisión es anterior al inicio de la resolución de numeración.")
    if kind == INVOICE and issue_date and numbering.valid_to and issue_date > numbering.valid_to:
        r.err("issue_date", "FAB08a", "La fecha de emisión es posterior al fin de la resolución de numeración.")

    doc_acs = _allowance_charges(r, data, "allowance_charges", "")
    due_date = r.date(data, "due_date", "", required=False)
    operation_type = r.string(data, "operation_type", "", required=False)
    currency = r.string(data, "currency", "", required=False, default="COP", choices=["COP"])
    notes = r.items(data, "notes", "")
    for i, note in enumerate(notes):
        if not isinstance(note, str):
            r.err(f"notes[{i}]", "type", f"notes[{i}] debe ser un texto.")
    if r.errors:
        raise DianInputErrors(r.errors)
    return Document(kind=kind, numbering=numbering, software=software, supplier=supplier, customer=customer,
                    lines=lines, issue_date=issue_date, issue_time=issue_time, type_code=type_code,
                    environment=env, operation_type=operation_type, currency=currency, payment=payment,
                    allowance_charges=doc_acs,
                    prepayments=prepayments, withholdings=withholdings, billing_reference=ref,
                    discrepancy_code=disc_code,
                    discrepancy_description=r.string(disc, "description", "discrepancy.", required=False),
                    invoice_period=period, due_date=due_date,
                    notes=[str(x) for x in notes])
