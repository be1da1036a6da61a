"""UI: import queue (task viewer), scheduling, detail, error report, reconciliation, operators, templates."""

import json
import tempfile
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from facturador.core.actors import Actor
from facturador.core.errors import Invalid, Refusal
from facturador.core.periods import clean_period
from facturador.core.forms import add_refusal
from facturador.core.jobs import JOB_FILTERS
from facturador.core.redirects import safe_next
from facturador.core.tenancy import WRITE_ROLES, issuer_required
from facturador.imports import fields as line_fields
from facturador.imports import actions, pipeline, services
from facturador.imports import mapper as visual
from facturador.imports.forms import MapperForm, OperatorForm, ScheduleForm, TemplateForm
from facturador.imports.models import ImportJob, ImportTemplate, Operator
from facturador.tabular.errors import ImportFileError
from facturador.tabular.sheets import CONTENT_TYPES, FORMATS


@issuer_required
def queue(request):
    state = request.GET.get("state", "active")
    page = Paginator(services.imports_for(request.issuer, state), 50).get_page(request.GET.get("page"))
    return render(request, "imports/queue.html", {"page": page, "state": state, "filters": JOB_FILTERS})


@issuer_required(roles=WRITE_ROLES)
def schedule(request):
    form = ScheduleForm(request.POST or None, request.FILES or None, issuer=request.issuer)
    if request.method == "GET" and "template" in request.GET:
        form.initial["template"] = request.GET["template"]
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            imp = actions.schedule_import(
                request.issuer, Actor.from_request(request), operator=d["operator"], template=d["template"],
                period=d["period"], upload=d["file"], file_type=d["file_type"], run_at=d["run_at"],
                dry_run=d["dry_run"], force=d["force"])
        except Refusal as refusal:
            add_refusal(form, refusal)
        else:
            messages.success(request, f"Importación #{imp.pk} programada.")
            return redirect("imports:queue")
    return render(request, "imports/schedule.html", {"form": form})


def _back(request):
    """Where a button returns: its `next` (a page of this site) or the queue."""
    return redirect(safe_next(request, request.POST.get("next"), "imports:queue"))


def _get_import(request, pk):
    return get_object_or_404(ImportJob.objects.select_related("job", "operator", "template"), pk=pk, issuer=request.issuer)


@issuer_required
def detail(request, pk):
    imp = _get_import(request, pk)
    errors = services.row_errors(imp, limit=100)
    return render(request, "imports/detail.html", {"imp": imp, "job": imp.job, "errors": errors})


@issuer_required(roles=WRITE_ROLES)
@require_POST
def cancel(request, pk):
    imp = actions.cancel_import(request.issuer, Actor.from_request(request), imp=_get_import(request, pk))
    messages.info(request, f"Se solicitó la cancelación de la importación #{imp.pk}.")
    return _back(request)


@issuer_required(roles=WRITE_ROLES)
@require_POST
def delete(request, pk):
    imp = actions.delete_import(request.issuer, Actor.from_request(request), imp=_get_import(request, pk))
    messages.info(request, f"Importación #{imp.pk} eliminada.")
    return _back(request)


@issuer_required
def error_report(request, pk, fmt):
    imp = _get_import(request, pk)
    path, filename, content_type = pipeline.error_report(imp, fmt)
    return FileResponse(open(path, "rb"), as_attachment=True, filename=filename, content_type=content_type)


@issuer_required
def reconciliation(request, pk):
    imp = _get_import(request, pk)
    key = (imp.reconciliation or {}).get("duplicates", {}).get("key") or ["reference", "concept"]
    return render(request, "imports/reconciliation.html", {
        "imp": imp, "job": imp.job, "r": imp.reconciliation,
        "dup_key_label": " + ".join(line_fields.label(k).lower() for k in key)})


@issuer_required
def reconciliation_export(request, pk):
    imp = _get_import(request, pk)
    data = pipeline.reconciliation_csv(imp)
    response = HttpResponse(data, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="conciliacion-{imp.pk}.csv"'
    return response


# --- operators and templates ------------------------------------------------------------------

@issuer_required
def operators(request):
    items = Operator.objects.filter(issuer=request.issuer)
    return render(request, "imports/operators.html", {"operators": items})


@issuer_required(roles=WRITE_ROLES)
def operator_edit(request, pk=None):
    op = get_object_or_404(Operator, pk=pk, issuer=request.issuer) if pk else Operator(issuer=request.issuer)
    form = OperatorForm(request.POST or None, instance=op)
    if request.method == "POST" and form.is_valid():
        try:
            actions.save_operator(request.issuer, Actor.from_request(request), operator=op if op.pk else None,
                                  **form.cleaned_data)
        except Refusal as refusal:
            add_refusal(form, refusal)
        else:
            messages.success(request, "Operador guardado.")
            return redirect("imports:operators")
    return render(request, "core/form.html", {"form": form, "title": "Operador", "back": "imports:operators"})


@issuer_required
def templates(request):
    items = ImportTemplate.latest_versions(request.issuer)
    return render(request, "imports/templates.html", {"templates": items})


@issuer_required
def template_versions(request, pk):
    tpl = get_object_or_404(ImportTemplate, pk=pk, issuer=request.issuer)
    versions = ImportTemplate.objects.filter(issuer=request.issuer, operator=tpl.operator, name=tpl.name)
    return render(request, "imports/template_versions.html", {"tpl": tpl, "versions": versions})


@issuer_required(roles=WRITE_ROLES)
def template_edit(request, pk=None):
    """Create a template, or a new version of one. "Probar" previews the first 50 mapped rows of a sample file."""
    base = get_object_or_404(ImportTemplate, pk=pk, issuer=request.issuer) if pk else None
    initial = {"mapping": json.dumps(pipeline.DEFAULT_MAPPING, indent=2, ensure_ascii=False), "change_threshold": 30}
    if base:
        initial = {"operator": base.operator_id, "name": base.name, "file_type": base.file_type,
                   "all_or_nothing": base.all_or_nothing, "change_threshold": base.change_threshold,
                   "mapping": json.dumps(base.mapping, indent=2, ensure_ascii=False)}
    form = TemplateForm(request.POST or None, request.FILES or None, issuer=request.issuer, initial=initial)
    preview = None
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        actor = Actor.from_request(request)
        try:
            if "test" in request.POST:
                preview = actions.preview_template(request.issuer, actor, mapping=d["mapping"], sample=d.get("sample"))
            else:
                tpl = actions.save_template(
                    request.issuer, actor, base=base, operator=d["operator"], name=d["name"], file_type=d["file_type"],
                    mapping=d["mapping"], all_or_nothing=d["all_or_nothing"], change_threshold=d["change_threshold"])
                messages.success(request, f"Plantilla «{tpl.name}» guardada como versión {tpl.version}.")
                return redirect("imports:templates")
        except Refusal as refusal:
            add_refusal(form, refusal)
    return render(request, "imports/template_form.html", {"form": form, "base": base, "preview": preview})


# --- Líneas ------------------------------------------------------------------------------------------

def _line_filters(request) -> dict:
    f = {k: v for k, v in request.GET.items() if k in services.LINE_FILTERS or k.startswith("attr.")}
    name, value = request.GET.get("attr_name", "").strip(), request.GET.get("attr_value", "").strip()
    if name and value:  # the screen's "Atributo" pair: an extra attribute equal to a value
        f[f"attr.{name.lower().replace(' ', '_')}"] = value
    return f


@issuer_required
def lines(request):
    """The imported lines ("Importación facturación / Líneas"): filters, totals and usage sums, a page of lines."""
    f = _line_filters(request)
    qs = services.lines_for(request.issuer, f)
    page = Paginator(qs, 100).get_page(request.GET.get("page"))
    query = urlencode(f)
    return render(request, "imports/lines.html", {"page": page, "f": f, "query": query,
                                                  "totals": services.line_totals(qs)})


@issuer_required
def lines_export(request, fmt):
    """The filtered lines as an Excel (or csv) file, every extra attribute a column of its own."""
    if fmt not in FORMATS:
        raise Http404
    qs = services.lines_for(request.issuer, _line_filters(request))
    tmp = tempfile.NamedTemporaryFile(prefix="facturador-lineas-", suffix="." + fmt)
    services.lines_export(qs, fmt, tmp.name)
    tmp.seek(0)
    return FileResponse(tmp, as_attachment=True, filename=f"lineas.{fmt}", content_type=CONTENT_TYPES[fmt])


# --- visual mapper ------------------------------------------------------------------------------------

@issuer_required(roles=WRITE_ROLES)
def mapper(request):
    """Map a new operator's file from a sample: the sheet, header and totals rows found, each column with its
    header, sample values and proposed field, parser and rules (dropdowns), the first rows mapped with their
    errors, and "Guardar versión". Each step posts the sample's token and the choices; nothing is stored before
    "Guardar versión" but the sample (removed after a day)."""
    form = MapperForm(request.POST or None, request.FILES or None)
    ctx = {"form": form}
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        actor = Actor.from_request(request)
        try:
            if d["sample"]:
                token, name = visual.store_sample(request.issuer, d["sample"])
                post, header_row = None, None
            else:
                token, name, post = request.POST.get("token", ""), request.POST.get("sample_name", ""), request.POST
                header_row = int(post["header_row"]) if post.get("header_row", "").isdigit() else None
            path = visual.sample_file(request.issuer, token, name)
            period = clean_period(d["period"]) if d["period"] else None
            try:
                sample = pipeline.sample_path(path, name, sheet=(post or {}).get("sheet") or None)
            except ImportFileError as exc:
                raise Invalid("imports.sample.unreadable", exc.message_es, field="sample") from exc
            proposal = pipeline.propose(sample, header_row=header_row, issuer=request.issuer)
            ctx.update(token=token, sample_name=name, proposal=proposal, columns=_mapper_columns(proposal))
            if post is not None:
                visual.columns_with_choices(proposal, post)
                ctx["columns"] = _mapper_columns(proposal)
            mapping = pipeline.normalize_mapping(visual.mapping_of(proposal, d["name"], post))
            ctx["mapping_json"] = json.dumps(mapping, indent=2, ensure_ascii=False)
            try:
                ctx["preview"] = pipeline.preview_path(mapping, path, name, limit=20, period=period)
            except ImportFileError as exc:
                raise Invalid("imports.sample.unreadable", exc.message_es, field="sample") from exc
            if post is not None and "save" in post:
                tpl = actions.save_mapped_template(
                    request.issuer, actor, operator_code=d["operator_code"], operator_name=d["operator_name"],
                    name=d["name"], mapping=mapping, change_threshold=d["change_threshold"],
                    duplicate_key=d["duplicate_key"])
                messages.success(request, f"Plantilla «{tpl.name}» v{tpl.version} guardada para {tpl.operator.code}.")
                return redirect("imports:templates")
        except Refusal as refusal:
            add_refusal(form, refusal)
    ctx.update(field_choices=visual.field_choices(), parser_choices=visual.parser_choices())
    return render(request, "imports/mapper.html", ctx)


def _mapper_columns(proposal):
    out = []
    for c in proposal.columns:
        choice = c.field if c.field in visual.SPECS else (visual.EXTRA if c.field else "")
        r = c.rules or {}
        out.append({"i": c.index, "letter": c.letter, "header": c.header, "samples": c.samples, "kind": c.kind,
                    "field": choice, "parser": c.parser, "required": c.required, "rules": r,
                    "allowed": "; ".join(str(a) for a in r.get("allowed") or []), "zfill": (c.options or {}).get("zfill")})
    return out
