"""Invoice templates per issuer: validation by rendering sample data, versions, the default one."""

from __future__ import annotations

import hashlib
import re

from django.db import transaction
from django.db.models import Max

from facturador.billing.models import InvoiceTemplate, TemplateAsset
from facturador.printing.invoice import default_template, sample_invoice_data
from facturador.printing.render import TemplateError, render_pdf_sandboxed

DEFAULT_NAME = "Predeterminada"
MAX_SOURCE_BYTES = 512 * 1024
MAX_ASSET_BYTES = 2 * 1024 * 1024
ASSET_NAME_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$")


def sample_data(electronic: bool) -> dict:
    data = sample_invoice_data(1)
    if not electronic:
        data["dian"] = None
        data["document"]["electronic"] = False
    return data


def validate(source: str, assets: dict[str, bytes] | None = None) -> bytes:
    """Render the sample invoice with and without DIAN data; return the PDF of the first.

    Raises TemplateError (Spanish message with line and column) if either render fails, so
    a template that breaks for non-electronic (or electronic) invoices is refused.
    """
    if len(source.encode("utf-8")) > MAX_SOURCE_BYTES:
        raise TemplateError("La plantilla es demasiado grande (máximo 512 KB).", None, None)
    for name, content in (assets or {}).items():
        if not ASSET_NAME_RE.match(name):
            raise TemplateError(f"Nombre de recurso no permitido: «{name}».", None, None)
        if len(content) > MAX_ASSET_BYTES:
            raise TemplateError(f"El recurso «{name}» supera 2 MB.", None, None)
    # a user's template is untrusted: compiled in a child process with time and memory limits, no packages
    for electronic in (False, True):
        try:
            pdf = render_pdf_sandboxed(source, sample_data(electronic=electronic), assets=assets)
        except TemplateError as exc:
            case = "electrónica (con CUFE y QR)" if electronic else "no electrónica (data.dian es none)"
            exc.message = exc.message_es = f"{exc.message} — al compilar la factura de ejemplo {case}."
            raise
        if not electronic:
            first = pdf
    return first


def next_version(issuer, name: str) -> int:
    return (InvoiceTemplate.objects.filter(issuer=issuer, name=name).aggregate(m=Max("version"))["m"] or 0) + 1


def create_version(issuer, name: str, source: str, *, assets: dict[str, bytes] | None = None, description: str = "",
                   make_default: bool = False, user=None, keep_assets_from: InvoiceTemplate | None = None) -> InvoiceTemplate:
    """Validate and store a new version of template `name` (never overwrites an existing version)."""
    all_assets = dict(keep_assets_from.asset_dict()) if keep_assets_from else {}
    all_assets.update(assets or {})
    validate(source, all_assets)
    with transaction.atomic():
        tpl = InvoiceTemplate.objects.create(
            issuer=issuer, name=name.strip(), version=next_version(issuer, name.strip()), source=source,
            description=description, created_by=user,
        )
        for asset_name, content in all_assets.items():
            TemplateAsset.objects.create(template=tpl, name=asset_name, content=content)
        if make_default or not InvoiceTemplate.objects.filter(issuer=issuer, is_default=True).exists():
            set_default(tpl)
    return tpl


def set_default(tpl: InvoiceTemplate):
    with transaction.atomic():
        InvoiceTemplate.objects.filter(issuer=tpl.issuer, is_default=True).exclude(pk=tpl.pk).update(is_default=False)
        InvoiceTemplate.objects.filter(pk=tpl.pk).update(is_default=True)
        tpl.is_default = True


def ensure_default(issuer) -> InvoiceTemplate:
    """The issuer's default template; the built-in design is installed on first use."""
    tpl = InvoiceTemplate.objects.filter(issuer=issuer, is_default=True).order_by("-version").first()
    if tpl is not None:
        return tpl
    tpl = InvoiceTemplate.objects.filter(issuer=issuer).order_by("name", "-version").first()
    if tpl is not None:
        return tpl
    with transaction.atomic():
        tpl = InvoiceTemplate.objects.create(issuer=issuer, name=DEFAULT_NAME, version=1, source=default_template(),
                                             description="Factura de servicios públicos incluida con Facturador",
                                             is_default=True)
    return tpl


# sha256 of the built-in template as earlier versions of Facturador installed it, for those that print the same page
# as today's: the one drawing the DIAN QR as SVG (issue 14) and the one drawing it as a PNG in grids (before issue 18's
# stacks). An issuer's untouched copy of one of them is rendered with today's, which is cheaper to lay out.
EARLIER_DEFAULTS = {
    "3cccea9a6fe124e49b9384d9ccf8efc62be5dd9c827732455064012853d94d58",
    "45aa092dfed491650e37f642261d2d7e982ab4bdca4322127cf0713be92c1b16",
}


def render_source(tpl: InvoiceTemplate) -> str:
    """The source a batch renders `tpl` with: today's built-in template instead of an untouched copy of an earlier
    one that prints the same page (see EARLIER_DEFAULTS), else the stored source."""
    if hashlib.sha256(tpl.source.encode("utf-8")).hexdigest() in EARLIER_DEFAULTS:
        return default_template()
    return tpl.source


def latest(issuer, name: str) -> InvoiceTemplate | None:
    return InvoiceTemplate.objects.filter(issuer=issuer, name=name).order_by("-version").first()


def preview_pdf(tpl: InvoiceTemplate, electronic: bool = False) -> bytes:
    """The sample invoice with `tpl`, compiled outside the web process (time and memory limits)."""
    return render_pdf_sandboxed(tpl.source, sample_data(electronic), assets=tpl.asset_dict())
