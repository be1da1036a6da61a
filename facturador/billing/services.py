"""Read-only queries and input parsing of mass billing shared by the channels (web, API, CLI) and the actions.

Nothing here changes data or writes the audit log; that is `billing.actions`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Q

from facturador.billing import cartera, invoice_templates
from facturador.billing.models import Account, Batch, InvoiceTemplate
from facturador.core.errors import Invalid, NotFound
from facturador.core.periods import clean_period
from facturador.printing.render import TemplateError


def parse_periods(value, *, field: str = "periods") -> list[str]:
    """Periods AAAA-MM given as a list or as text separated by commas, semicolons or spaces: sorted, without
    repetitions. Refusals: `billing.periods.empty`, `core.period.invalid` (both naming `field`)."""
    if isinstance(value, str):
        value = value.replace(";", ",").replace(" ", ",").split(",")
    periods = sorted({clean_period(p, field=field) for p in (value or []) if p and str(p).strip()})
    if not periods:
        raise Invalid("billing.periods.empty", "Indique al menos un periodo (AAAA-MM).", field=field)
    return periods


def parse_date(value, *, field: str) -> dt.date | None:
    """A date given as a date or as AAAA-MM-DD text (None when empty), or `core.date.invalid` naming `field`."""
    if not value or isinstance(value, dt.date):
        return value or None
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise Invalid("core.date.invalid", f"La fecha «{value}» no es válida: use AAAA-MM-DD.", field=field,
                      details={"value": str(value)}) from None


# -------------------------------------------------------------------------------- accounts

def accounts(issuer, *, q: str = "", state: str = "", reference: str = ""):
    """The issuer's accounts for listings: `q` is contained in the reference, holder or id number;
    `reference` is exact."""
    qs = Account.objects.filter(issuer=issuer)
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(reference__icontains=q) | Q(holder_name__icontains=q) | Q(id_number__icontains=q))
    if state:
        qs = qs.filter(state=state)
    if reference:
        qs = qs.filter(reference=reference)
    return qs.order_by("reference")


# ------------------------------------------------------------------------------- templates

def resolve_template(issuer, value) -> InvoiceTemplate:
    """The template named by id or name (its latest version); empty: the issuer's default template."""
    if isinstance(value, InvoiceTemplate):
        if value.issuer_id != issuer.pk:
            raise NotFound("billing.template.not_found", "Plantilla no encontrada.", field="template")
        return value
    default = invoice_templates.ensure_default(issuer)
    if value in (None, ""):
        return default
    if str(value).isdigit():
        tpl = InvoiceTemplate.objects.filter(issuer=issuer, pk=int(value)).first()
        if tpl:
            return tpl
    tpl = invoice_templates.latest(issuer, str(value))
    if tpl is None:
        raise NotFound("billing.template.not_found", f"No existe la plantilla «{value}».", field="template",
                       details={"template": str(value)})
    return tpl


def template_refusal(exc: TemplateError) -> Invalid:
    """The refusal of a template that does not compile (printing's TemplateError), with where it fails."""
    return Invalid("billing.template.invalid", exc.message, field="source",
                   details={"line": exc.line, "column": exc.column, "diagnostic": getattr(exc, "diagnostic", "")})


def preview_template(template: InvoiceTemplate, *, electronic: bool = False) -> bytes:
    """The PDF of the sample invoice rendered with `template`."""
    try:
        return invoice_templates.preview_pdf(template, electronic=electronic)
    except TemplateError as exc:
        raise template_refusal(exc) from exc


# --------------------------------------------------------------------------------- batches

def get_batch(batch_id, issuer=None) -> Batch:
    qs = Batch.objects.select_related("job", "template", "issuer")
    if issuer is not None:
        qs = qs.filter(issuer=issuer)
    batch = qs.filter(pk=batch_id).first()
    if batch is None:
        raise NotFound("billing.batch.not_found", f"No existe el lote {batch_id}.", field="batch",
                       details={"batch": batch_id})
    return batch


# --------------------------------------------------------------------------------- cartera

def cartera_report(issuer, *, periods=None, as_of=None, only_with_balance: bool = False, service_class: str = "",
                   stratum: str = "", state: str = "", reference: str = "") -> cartera.Cartera:
    """The portfolio report with the filters every channel accepts (`periods` as a list or text, `as_of` as a
    date or text)."""
    return cartera.compute(issuer, as_of=parse_date(as_of, field="as_of"),
                           periods=parse_periods(periods) if periods else None,
                           only_with_balance=only_with_balance, service_class=service_class or None,
                           stratum=stratum or None, state=state or None, reference=reference or None)


def dian_states(document_ids) -> dict[int, str]:
    """The DIAN state (Spanish label) of the electronic invoices' DIAN documents, by document id."""
    try:
        from facturador.einvoice.models import DianDocument
    except ImportError:  # the einvoice app is not installed
        return {}
    labels = dict(DianDocument.Status.choices)
    return {pk: str(labels.get(st, st)) for pk, st in
            DianDocument.objects.filter(pk__in=list(document_ids)).values_list("pk", "status")}


# ------------------------------------------------------------------------------------------- settings

# The billing settings a user may change (UI form, API PATCH, `facturador billing settings set key=value`), in
# the order they are shown. The rules are in `clean_settings`; `actions.save_settings` applies them.
SETTINGS_FIELDS = ["gln", "extra_glns", "payment_tolerance", "due_days", "ref_width", "amount_width",
                   "numbering_prefix", "numbering_environment", "monthly_interest_rate", "document_title", "notes"]
NUMBERING_ENVIRONMENTS = ("production", "test")
MAX_PAYMENT_TOLERANCE = Decimal("10000")


def settings_dict(conf) -> dict:
    """The issuer's billing settings as plain JSON values (amounts and rates as decimal strings)."""
    from facturador.printing.money import quantize

    return {
        "gln": conf.gln, "extra_glns": list(conf.extra_glns or []),
        "payment_tolerance": f"{quantize(conf.payment_tolerance):f}", "due_days": conf.due_days,
        "ref_width": conf.ref_width, "amount_width": conf.amount_width, "numbering_prefix": conf.numbering_prefix,
        "numbering_environment": conf.numbering_environment,
        "monthly_interest_rate": f"{Decimal(conf.monthly_interest_rate).quantize(Decimal('0.001')):f}",
        "document_title": conf.document_title, "notes": conf.notes,
    }


def _gln_error(value: str) -> str | None:
    from facturador.printing.barcodes import BarcodeError, payment_barcode_data

    try:
        payment_barcode_data(value, "1", 1, None)
    except BarcodeError as exc:
        return exc.message
    return None


def clean_settings(conf, fields: dict) -> tuple[dict, dict]:
    """Check and convert the given settings (typed values or text). Returns (values, errors) where errors is a
    list of {"field", "code", "message"} in the order of `SETTINGS_FIELDS` (unknown names first), the shape of
    a refusal's `details["errors"]` (`core.forms.add_refusal` puts each on its field)."""
    values, errors = {}, {}

    def err(name, code, message):
        errors.setdefault(name, {"code": code, "message": message})

    for name in fields:
        if name not in SETTINGS_FIELDS:
            err(name, "billing.settings.unknown_field",
                f"«{name}» no es una opción de facturación; las opciones son: {', '.join(SETTINGS_FIELDS)}.")

    def number(name, kind, low, high, code, label):
        raw = fields[name]
        try:
            value = kind(str(raw).strip().replace(",", ".")) if not isinstance(raw, kind) else raw
        except (ValueError, ArithmeticError):
            return err(name, code, f"{label}: «{raw}» no es un número.")
        if not (low <= value <= high) or (kind is Decimal and not value.is_finite()):
            return err(name, code, f"{label} debe estar entre {low} y {high}.")
        values[name] = value

    for name in SETTINGS_FIELDS:
        if name not in fields:
            continue
        raw = fields[name]
        if name == "gln":
            value = str(raw or "").strip()
            problem = _gln_error(value)
            if problem:
                err(name, "billing.settings.invalid_gln", problem)
            else:
                values[name] = value
        elif name == "extra_glns":
            items = raw if isinstance(raw, (list, tuple)) else str(raw or "").replace(";", ",").replace(" ", ",").split(",")
            glns = []
            for item in (str(i).strip() for i in items):
                if not item or item in glns:
                    continue
                problem = _gln_error(item)
                if problem:
                    err(name, "billing.settings.invalid_gln", f"GLN «{item}»: {problem}")
                    break
                glns.append(item)
            values[name] = glns
        elif name == "payment_tolerance":
            number(name, Decimal, Decimal("0"), MAX_PAYMENT_TOLERANCE, "billing.settings.invalid_tolerance",
                   "La tolerancia de pago")
            if name in values:
                values[name] = values[name].quantize(Decimal("0.01"))
        elif name == "due_days":
            number(name, int, 0, 365, "billing.settings.invalid_due_days", "El número de días para pagar")
        elif name == "ref_width":
            number(name, int, 1, 25, "billing.settings.invalid_width", "El ancho de la referencia")
        elif name == "amount_width":
            number(name, int, 1, 15, "billing.settings.invalid_width", "El ancho del valor")
        elif name == "monthly_interest_rate":
            number(name, Decimal, Decimal("0"), Decimal("100"), "billing.settings.invalid_interest_rate",
                   "El interés de mora mensual (%)")
        elif name == "numbering_environment":
            value = str(raw or "").strip()
            if value not in NUMBERING_ENVIRONMENTS:
                err(name, "billing.settings.invalid_environment",
                    f"El ambiente de numeración debe ser {' o '.join(NUMBERING_ENVIRONMENTS)}.")
            else:
                values[name] = value
        elif name == "numbering_prefix":
            value = str(raw or "").strip().upper()
            if len(value) > 4 or not value.isalnum() and value:
                err(name, "billing.settings.invalid_prefix", "El prefijo de numeración tiene hasta 4 letras o dígitos.")
            else:
                values[name] = value
        elif name == "document_title":
            value = str(raw or "").strip()
            if not value or len(value) > 100:
                err(name, "billing.settings.invalid_title", "El título del documento es obligatorio (hasta 100 caracteres).")
            else:
                values[name] = value
        elif name == "notes":
            value = str(raw or "")
            if len(value) > 5000:
                err(name, "billing.settings.invalid_notes", "Las notas impresas tienen hasta 5.000 caracteres.")
            else:
                values[name] = value
    order = [k for k in errors if k not in SETTINGS_FIELDS] + [k for k in SETTINGS_FIELDS if k in errors]
    return values, [{"field": k, **errors[k]} for k in order]
