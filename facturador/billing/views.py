"""UI of mass billing: accounts, cartera, templates, batches, payments (plain function views)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from facturador.billing import batch as batchmod
from facturador.billing import cartera, invoice_templates, recaudo
from facturador.billing.forms import AccountForm, BatchForm, CarteraFilterForm, PaymentUploadForm, TemplateUploadForm
from facturador.billing.models import Account, Batch, BillingInvoice, InvoiceTemplate, PaymentFile
from facturador.billing.selection import SelectionError, parse_references, require_clean, resolve_references, \
    select_by_filters
from facturador.core import audit, jobs
from facturador.core.tenancy import WRITE_ROLES, issuer_required
from facturador.printing.render import TemplateError

DRAFT_KEY = "billing_batch_draft"


# ------------------------------------------------------------------------------ accounts

@issuer_required
def accounts(request):
    qs = Account.objects.filter(issuer=request.issuer)
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(Q(reference__icontains=q) | Q(holder_name__icontains=q) | Q(id_number__icontains=q))
    state = request.GET.get("state", "")
    if state:
        qs = qs.filter(state=state)
    page = Paginator(qs.order_by("reference"), 50).get_page(request.GET.get("page"))
    return render(request, "billing/accounts.html", {"page": page, "q": q, "state": state,
                                                      "states": Account.State.choices, "total": qs.count()})


@issuer_required(roles=WRITE_ROLES)
def account_edit(request, pk=None):
    account = get_object_or_404(Account, pk=pk, issuer=request.issuer) if pk else None
    form = AccountForm(request.POST or None, instance=account, issuer=request.issuer)
    if request.method == "POST" and form.is_valid():
        obj = form.save()
        audit.record("account.update" if pk else "account.create", issuer=request.issuer, obj=obj, request=request,
                     summary=str(obj))
        messages.success(request, f"Cuenta {obj.reference} guardada.")
        return redirect("billing:accounts")
    return render(request, "core/form.html", {"form": form, "title": "Editar cuenta" if pk else "Nueva cuenta",
                                              "back": "billing:accounts"})


@issuer_required(roles=WRITE_ROLES)
def accounts_upload(request):
    from facturador.billing import accounts_csv

    form = PaymentUploadForm(request.POST or None, request.FILES or None)
    form.fields["file"].label = "Archivo CSV de cuentas"
    problems, error = [], None
    if request.method == "POST" and form.is_valid():
        try:
            created, updated = accounts_csv.load(request.issuer, form.cleaned_data["file"].read())
        except accounts_csv.CsvError as exc:
            error, problems = exc.message, exc.problems
        else:
            audit.record("account.bulk_upload", issuer=request.issuer, request=request,
                         summary=f"{created} creadas, {updated} actualizadas")
            messages.success(request, f"{created} cuentas creadas y {updated} actualizadas.")
            return redirect("billing:accounts")
    return render(request, "billing/accounts_upload.html", {"form": form, "error": error, "problems": problems[:500],
                                                             "problem_count": len(problems)})


@issuer_required(roles=WRITE_ROLES)
def settings_view(request):
    from facturador.billing.forms import BillingSettingsForm
    from facturador.billing.models import BillingSettings

    conf = BillingSettings.for_issuer(request.issuer)
    form = BillingSettingsForm(request.POST or None, instance=conf)
    if request.method == "POST" and form.is_valid():
        form.save()
        audit.record("billing.settings", issuer=request.issuer, obj=conf, request=request)
        messages.success(request, "Configuración de facturación guardada.")
        return redirect("billing:settings")
    return render(request, "core/form.html", {"form": form, "title": "Configuración de facturación masiva",
                                              "back": "billing:batches"})


@issuer_required
def tariffs(request):
    from facturador.billing.forms import TariffForm
    from facturador.billing.models import Tariff
    from facturador.billing.tariffs import apply_tariffs

    form = TariffForm(request.POST or None)
    if request.method == "POST":
        if request.membership.role not in WRITE_ROLES:
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied("Su rol no permite esta acción.")
        if "apply" in request.POST:
            period = request.POST.get("apply_period", "")
            from facturador.billing.models import PERIOD_RE

            if not PERIOD_RE.match(period):
                messages.error(request, "Indique el periodo (AAAA-MM) al que se aplican las tarifas.")
            else:
                n = apply_tariffs(request.issuer, period)
                audit.record("tariffs.apply", issuer=request.issuer, request=request, summary=f"{period}: {n} cargos")
                messages.success(request, f"Tarifas de {period} aplicadas: {n} cargos generados.")
            return redirect("billing:tariffs")
        if form.is_valid():
            tariff = form.save(commit=False)
            tariff.issuer = request.issuer
            tariff.save()
            messages.success(request, f"Tarifa «{tariff}» creada.")
            return redirect("billing:tariffs")
    items = Tariff.objects.filter(issuer=request.issuer).order_by("-period", "concept")[:200]
    return render(request, "billing/tariffs.html", {"form": form, "tariffs": items})


# ------------------------------------------------------------------------------- cartera

def _cartera_from(request):
    form = CarteraFilterForm(request.GET or None)
    if not form.is_valid():
        return form, None
    d = form.cleaned_data
    report = cartera.compute(request.issuer, as_of=d.get("as_of"), periods=d.get("periods") or None,
                             only_with_balance=d.get("only_with_balance", False),
                             service_class=d.get("service_class"), stratum=d.get("stratum"), state=d.get("state"),
                             reference=d.get("reference"))
    return form, report


@issuer_required
def cartera_view(request):
    form, report = _cartera_from(request)
    page = Paginator(report.rows, 100).get_page(request.GET.get("page")) if report else None
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "billing/cartera.html", {"form": form, "report": report, "page": page,
                                                     "buckets": cartera.BUCKETS, "query": query.urlencode()})


@issuer_required
def cartera_export(request):
    form, report = _cartera_from(request)
    if report is None:
        messages.error(request, "Revise los filtros del reporte.")
        return redirect("billing:cartera")
    buf = io.BytesIO()
    cartera.export_xlsx(report, buf, issuer=request.issuer)
    resp = HttpResponse(buf.getvalue(),
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp["Content-Disposition"] = f'attachment; filename="cartera-{report.as_of:%Y%m%d}.xlsx"'
    return resp


# ----------------------------------------------------------------------------- templates

@issuer_required
def templates(request):
    invoice_templates.ensure_default(request.issuer)
    items = InvoiceTemplate.objects.filter(issuer=request.issuer).order_by("name", "-version")
    return render(request, "billing/templates.html", {"templates": items})


@issuer_required(roles=WRITE_ROLES)
def template_upload(request):
    initial = {}
    base = None
    if request.GET.get("from"):
        base = get_object_or_404(InvoiceTemplate, pk=request.GET["from"], issuer=request.issuer)
        initial = {"name": base.name, "source": base.source, "description": base.description}
    form = TemplateUploadForm(request.POST or None, request.FILES or None, initial=initial)
    error = None
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        base = invoice_templates.latest(request.issuer, d["name"].strip())
        try:
            tpl = invoice_templates.create_version(
                request.issuer, d["name"], d["source"], assets=d.get("assets"), description=d.get("description", ""),
                make_default=d.get("make_default", False), user=request.user, keep_assets_from=base)
        except TemplateError as exc:
            error = exc
        else:
            audit.record("template.create", issuer=request.issuer, obj=tpl, request=request, summary=str(tpl))
            messages.success(request, f"Plantilla «{tpl.name}» versión {tpl.version} validada y guardada.")
            return redirect("billing:templates")
    return render(request, "billing/template_upload.html", {"form": form, "error": error})


@issuer_required
def template_preview(request, pk):
    tpl = get_object_or_404(InvoiceTemplate, pk=pk, issuer=request.issuer)
    try:
        pdf = invoice_templates.preview_pdf(tpl, electronic=request.GET.get("electronica") == "1")
    except TemplateError as exc:
        return HttpResponse(exc.message, status=422, content_type="text/plain; charset=utf-8")
    resp = HttpResponse(pdf, content_type="application/pdf")
    resp["Content-Disposition"] = f'inline; filename="vista-previa-{tpl.name}-v{tpl.version}.pdf"'
    return resp


@issuer_required
def template_source(request, pk):
    tpl = get_object_or_404(InvoiceTemplate, pk=pk, issuer=request.issuer)
    resp = HttpResponse(tpl.source, content_type="text/plain; charset=utf-8")
    resp["Content-Disposition"] = f'attachment; filename="{tpl.name}-v{tpl.version}.typ"'
    return resp


@require_POST
@issuer_required(roles=WRITE_ROLES)
def template_default(request, pk):
    tpl = get_object_or_404(InvoiceTemplate, pk=pk, issuer=request.issuer)
    invoice_templates.set_default(tpl)
    messages.success(request, f"«{tpl}» es ahora la plantilla predeterminada.")
    return redirect("billing:templates")


# ------------------------------------------------------------------------------- batches

@issuer_required
def batches(request):
    qs = Batch.objects.filter(issuer=request.issuer).select_related("job", "template")
    page = Paginator(qs, 30).get_page(request.GET.get("page"))
    return render(request, "billing/batches.html", {"page": page})


@issuer_required(roles=WRITE_ROLES)
def batch_new(request):
    """Step 1: the "Facturación masiva" form. Everything is checked; nothing is generated yet."""
    invoice_templates.ensure_default(request.issuer)
    default = InvoiceTemplate.objects.filter(issuer=request.issuer, is_default=True).first()
    today = dt.date.today()
    form = BatchForm(request.POST or None, request.FILES or None, issuer=request.issuer,
                     initial={"template": default, "issue_date": today, "due_date": today + dt.timedelta(days=15),
                              "billing_type": Batch.BillingType.NORMAL})
    problems = []
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            if d.get("references_file"):
                lines = parse_references(d["references_file"].read())
                sel = require_clean(resolve_references(request.issuer, lines))
                references, filters = sel.references, {}
            else:
                filters = {k: d[k] for k in ("service_class", "stratum", "reference") if d.get(k)}
                sel = select_by_filters(request.issuer, filters)
                references = []
            plan = batchmod.prepare(request.issuer, periods=d["periods"], billing_type=d["billing_type"],
                                    issue_date=d["issue_date"], due_date=d["due_date"], template=d["template"],
                                    account_ids=sel.account_ids, electronic=d.get("electronic", False))
        except SelectionError as exc:
            form.add_error("references_file" if exc.field == "references" else None, exc.message)
            problems = exc.problems
        except batchmod.BatchError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            problems = exc.problems
        else:
            request.session[DRAFT_KEY] = {
                "periods": d["periods"], "billing_type": d["billing_type"], "issue_date": d["issue_date"].isoformat(),
                "due_date": d["due_date"].isoformat(), "template": d["template"].pk, "references": references,
                "filters": filters, "account_ids": sel.account_ids if not references else [],
                "count": plan.count, "total": str(plan.total), "skipped": plan.skipped[:200],
                "skipped_count": len(plan.skipped), "electronic": d.get("electronic", False),
            }
            return redirect("billing:batch_confirm")
    return render(request, "billing/batch_new.html", {"form": form, "problems": problems[:500],
                                                      "problem_count": len(problems)})


@issuer_required(roles=WRITE_ROLES)
def batch_confirm(request):
    """Step 2: show the count and total; on POST create the batch and start its job."""
    draft = request.session.get(DRAFT_KEY)
    if not draft:
        return redirect("billing:batch_new")
    template = get_object_or_404(InvoiceTemplate, pk=draft["template"], issuer=request.issuer)
    if request.method == "POST":
        if draft["references"]:
            sel = resolve_references(request.issuer, list(enumerate(draft["references"], start=1)))
            account_ids = sel.account_ids
        else:
            account_ids = draft["account_ids"]
        try:
            batch = batchmod.create(
                request.issuer, periods=draft["periods"], billing_type=draft["billing_type"],
                issue_date=dt.date.fromisoformat(draft["issue_date"]), due_date=dt.date.fromisoformat(draft["due_date"]),
                template=template, account_ids=account_ids, references=draft["references"], filters=draft["filters"],
                user=request.user, electronic=draft.get("electronic", False))
        except batchmod.BatchError as exc:
            messages.error(request, exc.message)
            return redirect("billing:batch_new")
        del request.session[DRAFT_KEY]
        audit.record("batch.create", issuer=request.issuer, obj=batch, request=request,
                     summary=f"{draft['count']} facturas, periodos {', '.join(draft['periods'])}")
        return redirect("billing:batch_detail", pk=batch.pk)
    return render(request, "billing/batch_confirm.html", {
        "draft": draft, "template": template, "total": Decimal(draft["total"]),
        "type_label": Batch.BillingType(draft["billing_type"]).label,
    })


@issuer_required
def batch_detail(request, pk):
    batch = get_object_or_404(Batch.objects.select_related("job", "template"), pk=pk, issuer=request.issuer)
    invoices = Paginator(BillingInvoice.objects.filter(batch=batch).select_related("account").order_by("number"), 50) \
        .get_page(request.GET.get("page"))
    return render(request, "billing/batch_detail.html", {"batch": batch, "job": batch.job, "invoices": invoices})


@require_POST
@issuer_required(roles=WRITE_ROLES)
def batch_cancel(request, pk):
    batch = get_object_or_404(Batch, pk=pk, issuer=request.issuer)
    if batch.job and jobs.request_cancel(batch.job):
        if batch.job.status == batch.job.Status.CANCELLED:
            Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.CANCELLED)
        audit.record("batch.cancel", issuer=request.issuer, obj=batch, request=request)
        messages.success(request, "Se solicitó cancelar el lote.")
    else:
        messages.error(request, "El lote ya terminó; no se puede cancelar.")
    return redirect("billing:batch_detail", pk=pk)


@require_POST
@issuer_required(roles=WRITE_ROLES)
def batch_resume(request, pk):
    batch = get_object_or_404(Batch.objects.select_related("job"), pk=pk, issuer=request.issuer)
    try:
        batchmod.resume(batch, user=request.user)
    except batchmod.BatchError as exc:
        messages.error(request, exc.message)
    else:
        audit.record("batch.resume", issuer=request.issuer, obj=batch, request=request)
        messages.success(request, "El lote continúa donde se detuvo; no se duplicarán facturas.")
    return redirect("billing:batch_detail", pk=pk)


def _file_response(rel: str, filename: str, inline=False):
    if not rel:
        raise Http404
    path = Path(settings.MEDIA_ROOT) / rel
    if not path.is_file():
        raise Http404
    return FileResponse(open(path, "rb"), as_attachment=not inline, filename=filename)


@issuer_required
def batch_download(request, pk, what):
    batch = get_object_or_404(Batch, pk=pk, issuer=request.issuer)
    if what == "impresion":
        return _file_response(batch.merged_pdf, f"lote-{batch.pk}-impresion.pdf")
    if what == "zip":
        return _file_response(batch.zip_file, f"lote-{batch.pk}-facturas.zip")
    raise Http404


@issuer_required
def invoice_pdf(request, pk):
    inv = get_object_or_404(BillingInvoice, pk=pk, issuer=request.issuer)
    return _file_response(inv.pdf, f"{inv.full_number}.pdf", inline=True)


# ------------------------------------------------------------------------------ payments

@issuer_required
def payments(request):
    form = PaymentUploadForm(request.POST or None, request.FILES or None)
    result = error = None
    if request.method == "POST":
        if request.membership.role not in WRITE_ROLES:
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied("Su rol no permite esta acción.")
        if form.is_valid():
            f = form.cleaned_data["file"]
            try:
                result = recaudo.import_file(request.issuer, f.read(), name=f.name, user=request.user)
            except recaudo.PaymentImportError as exc:
                error = exc.message
            else:
                audit.record("payments.import", issuer=request.issuer, obj=result.payment_file, request=request,
                             summary=f"{result.matched} pagos aplicados, {len(result.unmatched)} sin cuenta")
                messages.success(request, f"{result.matched} pagos aplicados por {result.total}; "
                                          f"{len(result.unmatched)} sin cuenta.")
    files = PaymentFile.objects.filter(issuer=request.issuer)[:30]
    return render(request, "billing/payments.html", {"form": form, "result": result, "error": error, "files": files})


def nav_links():
    return [(reverse("billing:accounts"), "Cuentas"), (reverse("billing:cartera"), "Cartera"),
            (reverse("billing:batches"), "Lotes"), (reverse("billing:templates"), "Plantillas"),
            (reverse("billing:payments"), "Recaudo")]
