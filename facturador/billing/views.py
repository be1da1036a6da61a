"""UI of mass billing: accounts, cartera, templates, batches, payments (plain function views)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from facturador.billing import accounts_import, actions, cartera, invoice_templates, outputs, samples, services
from facturador.billing import electronic
from facturador.billing.electronic import ID_TYPES
from facturador.billing.forms import (AccountForm, AccountsUploadForm, BatchForm, BillingSettingsForm, CarteraFilterForm, PaymentUploadForm,
                                      TariffForm, TemplateUploadForm)
from facturador.billing.models import Account, Batch, BillingInvoice, InvoiceTemplate, PaymentFile, Tariff
from facturador.billing.selection import FILTERS, parse_references
from facturador.core.actors import Actor
from facturador.core.errors import Refusal
from facturador.core.forms import add_refusal
from facturador.core.models import Job
from facturador.core.periods import offered_periods
from facturador.core.tenancy import WRITE_ROLES, issuer_required
from facturador.einvoice.forms import acquirer_answer
from facturador.printing.money import format_money

DRAFT_KEY = "billing_batch_draft"


def _require_write(request):
    if request.membership.role not in WRITE_ROLES:
        raise PermissionDenied("Su rol no permite esta acción.")


# ------------------------------------------------------------------------------ accounts

@issuer_required
def accounts(request):
    q, state = request.GET.get("q", "").strip(), request.GET.get("state", "")
    qs = services.accounts(request.issuer, q=q, state=state)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "billing/accounts.html", {"page": page, "q": q, "state": state,
                                                      "states": Account.State.choices, "total": page.paginator.count})


@issuer_required(roles=WRITE_ROLES)
def account_edit(request, pk=None):
    account = get_object_or_404(Account, pk=pk, issuer=request.issuer) if pk else None
    form = AccountForm(request.POST or None, instance=account, issuer=request.issuer)
    if request.method == "POST" and form.is_valid():
        actor = Actor.from_request(request)
        try:
            if account is None:
                obj = actions.create_account(request.issuer, actor, **form.cleaned_data)
            else:
                obj = actions.update_account(request.issuer, actor, account, **form.cleaned_data)
        except Refusal as r:
            add_refusal(form, r)
        else:
            messages.success(request, f"Cuenta {obj.reference} guardada.")
            return redirect("billing:accounts")
    return render(request, "billing/account.html", {"form": form, "title": "Editar cuenta" if pk else "Nueva cuenta",
                                                    "back": "billing:accounts", "account": account})


@issuer_required
def account_acquirer(request):
    """The "Consultar en la DIAN" button of the account form (htmx): the holder's name and e-mail DIAN has for
    the typed identification fill the form. A query: any member may ask (read-only roles too); it changes
    nothing and writes no audit entry."""
    id_type = request.GET.get("id_type", "")
    context = acquirer_answer(request.issuer, ID_TYPES.get(id_type, id_type), request.GET.get("id_number"),
                              AccountForm, name_field="holder_name", email_field="email",
                              form_kwargs={"issuer": request.issuer})
    return render(request, "einvoice/_acquirer_answer.html", context)


@issuer_required(roles=WRITE_ROLES)
def accounts_upload(request):
    """Step 1: upload the accounts file; it is checked in the background (a dry run) and its page
    (`accounts_upload_job`) shows the progress, then the report with every error."""
    form = AccountsUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        f = form.cleaned_data["file"]
        try:
            job = actions.check_accounts_file(request.issuer, Actor.from_request(request), upload=f, filename=f.name,
                                              opening_period=form.cleaned_data.get("opening_period") or None)
        except Refusal as r:
            add_refusal(form, r)
        else:
            return redirect("billing:accounts_upload_job", job.pk)
    return render(request, "billing/accounts_upload.html", {"form": form, "job": None})


@issuer_required
def accounts_upload_job(request, pk):
    """The check (or import) of an uploaded accounts file: its progress, then its report; step 2 (confirm,
    optionally importing the valid rows only) is a POST here."""
    job = get_object_or_404(Job, pk=pk, issuer=request.issuer, kind=accounts_import.JOB_KIND)
    if request.method == "POST":
        if request.membership.role not in WRITE_ROLES:
            raise PermissionDenied
        try:
            job = actions.confirm_accounts_file(request.issuer, Actor.from_request(request), check=job,
                                                valid_only=request.POST.get("valid_only") == "on")
        except Refusal as r:
            messages.error(request, r.message)
        return redirect("billing:accounts_upload_job", job.pk)
    result = job.result or {}
    # the job's report; a refused file's report (too many errors...) is in the refusal's details
    details = (result.get("refusal") or {}).get("details") or {}
    report = result if "rows_read" in result else details if "rows_read" in details else None
    check = job if job.params.get("dry_run") else None
    confirmed = check is not None and actions.accounts_file_import(request.issuer, check)
    return render(request, "billing/accounts_upload.html", {
        "form": None, "job": job, "report": report, "check": check, "confirmed": confirmed,
        "can_confirm": (check is not None and request.membership.role in WRITE_ROLES
                        and actions.accounts_file_refusal(request.issuer, check, valid_only=True) is None)})


@issuer_required
def sample_file(request, name):
    """The sample files of the manuals ("Descargar archivo de ejemplo"): the accounts register, a consumption file."""
    sample = samples.SAMPLES.get(name)
    if sample is None:
        raise Http404
    resp = HttpResponse(sample.build(), content_type=sample.content_type)
    resp["Content-Disposition"] = f'attachment; filename="{sample.filename}"'
    return resp


@issuer_required(roles=WRITE_ROLES)
def settings_view(request):
    from facturador.billing.models import BillingSettings

    form = BillingSettingsForm(request.POST or None, instance=BillingSettings.for_issuer(request.issuer))
    if request.method == "POST" and form.is_valid():
        try:
            actions.save_settings(request.issuer, Actor.from_request(request), **form.cleaned_data)
        except Refusal as r:
            add_refusal(form, r)
        else:
            messages.success(request, "Configuración de facturación guardada.")
            return redirect("billing:settings")
    return render(request, "core/form.html", {"form": form, "title": "Configuración de facturación masiva",
                                              "back": "billing:batches"})


@issuer_required
def tariffs(request):
    form = TariffForm(request.POST or None)
    if request.method == "POST":
        _require_write(request)
        actor = Actor.from_request(request)
        if "apply" in request.POST:
            period = request.POST.get("apply_period", "")
            n = actions.apply_tariffs(request.issuer, actor, period=period)
            messages.success(request, f"Tarifas de {period.strip()} aplicadas: {n} cargos generados.")
            return redirect("billing:tariffs")
        if form.is_valid():
            try:
                tariff = actions.create_tariff(request.issuer, actor, **form.cleaned_data)
            except Refusal as r:
                add_refusal(form, r)
            else:
                messages.success(request, f"Tarifa «{tariff}» creada.")
                return redirect("billing:tariffs")
    items = Tariff.objects.filter(issuer=request.issuer).order_by("-period", "concept")[:200]
    periods = offered_periods(Tariff.objects.filter(issuer=request.issuer).order_by()
                              .values_list("period", flat=True).distinct())
    return render(request, "billing/tariffs.html", {"form": form, "tariffs": items, "periods": periods})


# ------------------------------------------------------------------------------- cartera

def _cartera_from(request):
    form = CarteraFilterForm(request.GET or None, issuer=request.issuer)
    if not form.is_valid():
        return form, None
    try:
        report = services.cartera_report(request.issuer, **form.cleaned_data)
    except Refusal as r:
        add_refusal(form, r)
        return form, None
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
    if request.GET.get("from"):
        base = get_object_or_404(InvoiceTemplate, pk=request.GET["from"], issuer=request.issuer)
        initial = {"name": base.name, "source": base.source, "description": base.description}
    form = TemplateUploadForm(request.POST or None, request.FILES or None, initial=initial)
    refusal = None
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            tpl = actions.upload_template(request.issuer, Actor.from_request(request), name=d["name"],
                                          source=d["source"], assets=d.get("assets"),
                                          description=d.get("description", ""), make_default=d.get("make_default", False))
        except Refusal as r:
            add_refusal(form, r)
            refusal = r
        else:
            messages.success(request, f"Plantilla «{tpl.name}» versión {tpl.version} validada y guardada.")
            return redirect("billing:templates")
    return render(request, "billing/template_upload.html", {"form": form, "refusal": refusal})


@issuer_required
def template_preview(request, pk):
    tpl = get_object_or_404(InvoiceTemplate, pk=pk, issuer=request.issuer)
    pdf = services.preview_template(tpl, electronic=request.GET.get("electronica") == "1")
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
    actions.activate_template(request.issuer, Actor.from_request(request), tpl)
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
    from facturador.billing.models import BillingSettings

    default = invoice_templates.ensure_default(request.issuer)
    today = dt.date.today()
    due_days = BillingSettings.for_issuer(request.issuer).due_days
    form = BatchForm(request.POST or None, request.FILES or None, issuer=request.issuer,
                     initial={"template": default, "issue_date": today, "due_date": today + dt.timedelta(days=due_days),
                              "billing_type": Batch.BillingType.NORMAL})
    problems, problem_count = [], 0
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            references = parse_references(d["references_file"].read()) if d.get("references_file") else None
            p = actions.preview_batch(
                request.issuer, periods=d["periods"], references=references, billing_type=d["billing_type"],
                issue_date=d["issue_date"], due_date=d["due_date"], template=d["template"],
                electronic=d.get("electronic", False), **{k: d.get(k) or "" for k in FILTERS})
        except Refusal as r:
            add_refusal(form, r)
            problems = r.details.get("problems", [])
            problem_count = r.details.get("problem_count", len(problems))
        else:
            request.session[DRAFT_KEY] = {
                "periods": p.periods, "billing_type": p.billing_type, "issue_date": p.issue_date.isoformat(),
                "due_date": p.due_date.isoformat(), "template": p.template.pk, "references": p.references,
                "filters": p.filters, "count": p.plan.count, "total": str(p.plan.total),
                "skipped": p.plan.skipped[:200], "skipped_count": len(p.plan.skipped), "electronic": p.electronic,
            }
            return redirect("billing:batch_confirm")
    return render(request, "billing/batch_new.html", {"form": form, "problems": problems[:500],
                                                      "problem_count": problem_count})


@issuer_required(roles=WRITE_ROLES)
def batch_confirm(request):
    """Step 2: show the count and total; on POST create the batch and start its job."""
    draft = request.session.get(DRAFT_KEY)
    if not draft:
        return redirect("billing:batch_new")
    template = get_object_or_404(InvoiceTemplate, pk=draft["template"], issuer=request.issuer)
    if request.method == "POST":
        batch = actions.create_batch(
            request.issuer, Actor.from_request(request), periods=draft["periods"],
            references=draft["references"] or None, billing_type=draft["billing_type"],
            issue_date=dt.date.fromisoformat(draft["issue_date"]), due_date=dt.date.fromisoformat(draft["due_date"]),
            template=template, electronic=draft.get("electronic", False), **draft["filters"])
        del request.session[DRAFT_KEY]
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
    if batch.electronic:  # each invoice's DIAN state, read from its DIAN document (sent apart, by einvoice jobs)
        dian = services.dian_states([i.dian_document_id for i in invoices if i.dian_document_id])
        for i in invoices:
            i.dian_state = dian.get(i.dian_document_id, "")
    sending = electronic.sending_progress(batch) if batch.electronic else None
    return render(request, "billing/batch_detail.html", {"batch": batch, "job": batch.job, "invoices": invoices,
                                                         "parts": outputs.parts(batch), "sending": sending})


@issuer_required
def batch_sending(request, pk):
    """The batch's DIAN sending counts (the batch page refreshes them while its sending goes on)."""
    batch = get_object_or_404(Batch, pk=pk, issuer=request.issuer, electronic=True)
    return render(request, "billing/_batch_sending.html", {"batch": batch,
                                                           "sending": electronic.sending_progress(batch)})


@require_POST
@issuer_required(roles=WRITE_ROLES)
def batch_cancel(request, pk):
    batch = get_object_or_404(Batch.objects.select_related("job"), pk=pk, issuer=request.issuer)
    actions.cancel_batch(request.issuer, Actor.from_request(request), batch)
    messages.success(request, "Se solicitó cancelar el lote.")
    return redirect("billing:batch_detail", pk=pk)


@require_POST
@issuer_required(roles=WRITE_ROLES)
def batch_resume(request, pk):
    batch = get_object_or_404(Batch.objects.select_related("job"), pk=pk, issuer=request.issuer)
    actions.resume_batch(request.issuer, Actor.from_request(request), batch)
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
    """impresion (single-part batches), parte-<n>, manifiesto or zip ("descargar todo", streamed)."""
    batch = get_object_or_404(Batch, pk=pk, issuer=request.issuer)
    dl = outputs.download(batch, what)
    if dl is None:
        raise Http404
    return outputs.http_response(dl)


@issuer_required
def invoice_pdf(request, pk):
    inv = get_object_or_404(BillingInvoice, pk=pk, issuer=request.issuer)
    return _file_response(inv.pdf, f"{inv.full_number}.pdf", inline=True)


# ------------------------------------------------------------------------------ payments

@issuer_required
def payments(request):
    form = PaymentUploadForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST":
        _require_write(request)
        if form.is_valid():
            f = form.cleaned_data["file"]
            try:
                result = actions.import_payments(request.issuer, Actor.from_request(request), upload=f, name=f.name)
            except Refusal as r:
                add_refusal(form, r)
            else:
                paid = format_money(result.total, request.issuer)
                messages.success(request, f"{result.matched} pagos aplicados por {paid}; "
                                          f"{len(result.unmatched)} sin cuenta.")
    files = PaymentFile.objects.filter(issuer=request.issuer)[:30]
    return render(request, "billing/payments.html", {"form": form, "result": result, "files": files})
