"""Read-only queries and input parsing of mass billing shared by the channels (web, API, CLI) and the actions.

Nothing here changes data or writes the audit log; that is `billing.actions`.
"""

from __future__ import annotations

import datetime as dt

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
