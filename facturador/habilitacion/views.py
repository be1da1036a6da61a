from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from facturador.core import certificates
from facturador.core.models import Certificate, Environment, NumberingRange
from facturador.core.tenancy import ADMIN_ROLES, WRITE_ROLES, issuer_required
from facturador.einvoice.models import DianDocument, OperationMode
from facturador.habilitacion import exports, forms, services
from facturador.habilitacion.models import Enablement, TestSetDocument, TestSetRun

STEP_KEYS = [k for k, _ in services.STEPS]


def _wizard_url(step):
    return f"{reverse('habilitacion:wizard')}?paso={step}"


def _error(request, exc):
    messages.error(request, exc.message)


@issuer_required
def wizard(request):
    issuer = request.issuer
    if issuer.country != "CO":
        return render(request, "habilitacion/not_colombia.html")
    en = services.enablement_for(issuer)
    step = request.GET.get("paso")
    if step not in STEP_KEYS:
        step = en.wizard_step if en.wizard_step in STEP_KEYS else services.first_open_step(issuer)
    if en.wizard_step != step:
        Enablement.objects.filter(pk=en.pk).update(wizard_step=step)
    mode = services.current_mode(issuer)
    ranges = services.test_ranges(issuer)
    ctx = {
        "en": en, "step": step, "steps": services.STEPS, "done": services.step_status(issuer), "mode": mode,
        "modes": OperationMode.objects.filter(issuer=issuer).order_by("-active", "-created_at"),
        "certificate": certificates.active_certificate(issuer, Certificate.Kind.PKCS12),
        "ranges": ranges, "runs": TestSetRun.objects.filter(issuer=issuer).select_related("job")[:10],
        "production_ranges": NumberingRange.objects.filter(issuer=issuer, environment=Environment.PRODUCTION),
        "production_ready": services.production_ready(issuer),
    }
    ctx["step_index"] = STEP_KEYS.index(step)
    ctx["prev_step"] = STEP_KEYS[ctx["step_index"] - 1] if ctx["step_index"] else None
    ctx["next_step"] = STEP_KEYS[ctx["step_index"] + 1] if ctx["step_index"] + 1 < len(STEP_KEYS) else None
    if step == "registro":
        ctx["form"] = forms.RegistrationForm(initial={"reception_email": en.reception_email or issuer.email,
                                                      "registered_on": en.registered_on})
    elif step == "software":
        ctx["form"] = forms.ModeForm(instance=mode, issuer=issuer)
    elif step == "numeracion":
        inv = ranges["invoice"]
        initial = services.default_test_range(mode)
        if inv is not None:
            initial.update(prefix=inv.prefix, range_from=inv.range_from, range_to=inv.range_to,
                           resolution_number=inv.resolution_number, valid_from=inv.valid_from, valid_to=inv.valid_to,
                           technical_key=inv.technical_key.reveal() if inv.technical_key else "")
        initial["credit_prefix"] = ranges["credit_note"].prefix if ranges["credit_note"] else services.NOTE_PREFIXES["credit_note"]
        initial["debit_prefix"] = ranges["debit_note"].prefix if ranges["debit_note"] else services.NOTE_PREFIXES["debit_note"]
        ctx["form"] = forms.TestNumberingForm(initial=initial)
    elif step == "set":
        ctx["form"] = forms.RunForm(initial={"test_set_id": mode.test_set_id if mode else "", **services.DEFAULT_COUNTS})
    elif step == "produccion":
        ctx["form"] = forms.ProductionForm(initial={"endpoint": mode.endpoint if mode else ""})
        ctx["accepted_mode"] = services.accepted_mode(issuer)
    elif step == "resolucion":
        ctx["form"] = forms.ResolutionForm()
        ctx["prefix_form"] = forms.PrefixForm(initial={"associated_on": en.prefix_associated_on})
    return render(request, "habilitacion/wizard.html", ctx)


@issuer_required(roles=ADMIN_ROLES)
@require_POST
def register(request):
    form = forms.RegistrationForm(request.POST)
    if form.is_valid():
        try:
            services.register(request.issuer, reception_email=form.cleaned_data["reception_email"],
                              registered_on=form.cleaned_data.get("registered_on"), user=request.user, channel="web")
        except services.HabilitacionError as exc:
            _error(request, exc)
            return redirect(_wizard_url("registro"))
        messages.success(request, "Registro guardado.")
        return redirect(_wizard_url("certificado"))
    for e in form.errors.values():
        messages.error(request, e[0])
    return redirect(_wizard_url("registro"))


@issuer_required(roles=ADMIN_ROLES)
def mode(request):
    instance = services.current_mode(request.issuer)
    form = forms.ModeForm(request.POST or None, instance=instance, issuer=request.issuer)
    if request.method == "POST" and form.is_valid():
        obj = form.save()
        from facturador.core import audit

        audit.record("habilitacion.mode", issuer=request.issuer, obj=obj, request=request, summary=str(obj))
        messages.success(request, "Modo de operación guardado.")
        return redirect(_wizard_url("numeracion"))
    return render(request, "habilitacion/form.html", {"form": form, "title": "Modo de operación (software)",
                                                      "step": "software"})


@issuer_required(roles=ADMIN_ROLES)
def test_numbering(request):
    form = forms.TestNumberingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_test_ranges(request.issuer, **form.cleaned_data, user=request.user, channel="web")
        except services.HabilitacionError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, "Numeración de pruebas guardada.")
            return redirect(_wizard_url("set"))
    return render(request, "habilitacion/form.html", {"form": form, "title": "Numeración de pruebas", "step": "numeracion"})


@issuer_required(roles=WRITE_ROLES)
@require_POST
def run_new(request):
    form = forms.RunForm(request.POST)
    if form.is_valid():
        try:
            run = services.start_run(request.issuer, user=request.user, channel="web", **form.cleaned_data)
        except services.HabilitacionError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Se están generando y enviando los comprobantes del set de pruebas.")
            return redirect("habilitacion:run", run.pk)
    return render(request, "habilitacion/form.html", {"form": form, "title": "Generar comprobantes", "step": "set"})


def _run_documents(run, params):
    qs = TestSetDocument.objects.filter(run=run).select_related("document").order_by("document_id")
    if params.get("documento"):
        qs = qs.filter(kind=params["documento"])
    if params.get("cliente"):
        qs = qs.filter(Q(document__customer_name__icontains=params["cliente"]) | Q(document__customer_id=params["cliente"]))
    if params.get("numeracion"):
        value = params["numeracion"].strip().upper()
        digits = "".join(ch for ch in value if ch.isdigit())
        prefix = "".join(ch for ch in value if not ch.isdigit())
        if prefix:
            qs = qs.filter(document__prefix=prefix)
        if digits:
            qs = qs.filter(document__number=int(digits))
    if params.get("estado"):
        qs = qs.filter(document__status=params["estado"])
    acc = params.get("aceptacion")
    if acc == "aceptado":
        qs = qs.filter(document__status=DianDocument.Status.ACCEPTED)
    elif acc == "rechazado":
        qs = qs.filter(document__status=DianDocument.Status.REJECTED)
    elif acc == "sin_respuesta":
        qs = qs.exclude(document__status__in=services.FINAL_STATUSES)
    if params.get("desde"):
        qs = qs.filter(document__issue_date__gte=params["desde"])
    if params.get("hasta"):
        qs = qs.filter(document__issue_date__lte=params["hasta"])
    if params.get("vigentes") == "1":
        qs = qs.filter(active=True)
    return qs


@issuer_required
def run_detail(request, pk):
    run = get_object_or_404(TestSetRun.objects.select_related("job", "operation_mode"), pk=pk, issuer=request.issuer)
    page = Paginator(_run_documents(run, request.GET), 100).get_page(request.GET.get("page"))
    return render(request, "habilitacion/run.html", {
        "run": run, "page": page, "summary": services.summary(run), "f": request.GET,
        "kinds": DianDocument.Kind.choices, "statuses": DianDocument.Status.choices,
        "state_labels": services.STATE_LABELS,
        "query": request.GET.urlencode(),
    })


@issuer_required
def run_export(request, pk):
    run = get_object_or_404(TestSetRun, pk=pk, issuer=request.issuer)
    content = exports.run_xlsx(run, _run_documents(run, request.GET))
    resp = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp["Content-Disposition"] = f'attachment; filename="set-de-pruebas-{run.pk}.xlsx"'
    return resp


@issuer_required(roles=WRITE_ROLES)
@require_POST
def run_resume(request, pk):
    run = get_object_or_404(TestSetRun, pk=pk, issuer=request.issuer)
    try:
        services.resume_run(run, user=request.user)
    except services.HabilitacionError as exc:
        _error(request, exc)
    else:
        messages.success(request, "El set de pruebas se está procesando de nuevo.")
    return redirect("habilitacion:run", run.pk)


@issuer_required(roles=WRITE_ROLES)
def correct(request, pk, entry_pk):
    run = get_object_or_404(TestSetRun, pk=pk, issuer=request.issuer)
    entry = get_object_or_404(TestSetDocument.objects.select_related("document"), pk=entry_pk, run=run,
                              issuer=request.issuer)
    form = forms.CorrectionForm.for_document(entry.document, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            new = services.correct(entry, form.payload(), user=request.user, channel="web")
        except services.HabilitacionError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Se emitió {new.document.full_number} en reemplazo de "
                                      f"{entry.document.full_number} y se está enviando a la DIAN.")
            return redirect("habilitacion:run", run.pk)
    return render(request, "habilitacion/correct.html", {"form": form, "entry": entry, "run": run})


@issuer_required(roles=ADMIN_ROLES)
@require_POST
def production(request):
    form = forms.ProductionForm(request.POST)
    if form.is_valid():
        try:
            services.switch_to_production(request.issuer, start_date=form.cleaned_data["start_date"],
                                          endpoint=form.cleaned_data.get("endpoint") or None, user=request.user,
                                          channel="web")
        except services.HabilitacionError as exc:
            _error(request, exc)
        else:
            messages.success(request, "Listo: su software quedó en producción. Ahora registre la numeración autorizada.")
            return redirect(_wizard_url("resolucion"))
    else:
        for e in form.errors.values():
            messages.error(request, e[0])
    return redirect(_wizard_url("produccion"))


@issuer_required(roles=ADMIN_ROLES)
@require_POST
def resolution(request):
    form = forms.ResolutionForm(request.POST)
    if form.is_valid():
        try:
            rng = services.register_resolution(request.issuer, **form.cleaned_data, user=request.user, channel="web")
        except services.HabilitacionError as exc:
            _error(request, exc)
        else:
            messages.success(request, f"Numeración {rng} registrada. Ahora sincronícela con la DIAN.")
    else:
        for field, e in form.errors.items():
            messages.error(request, f"{form.fields[field].label if field in form.fields else ''}: {e[0]}")
    return redirect(_wizard_url("resolucion"))


@issuer_required(roles=ADMIN_ROLES)
@require_POST
def sync(request):
    try:
        _ranges, message = services.sync_numbering(request.issuer, user=request.user, channel="web")
    except services.HabilitacionError as exc:
        _error(request, exc)
    else:
        messages.success(request, message)
    return redirect(_wizard_url("resolucion"))


@issuer_required(roles=ADMIN_ROLES)
@require_POST
def prefix(request):
    form = forms.PrefixForm(request.POST)
    if form.is_valid():
        try:
            services.associate_prefix(request.issuer, form.cleaned_data["associated_on"], user=request.user, channel="web")
        except services.HabilitacionError as exc:
            _error(request, exc)
        else:
            messages.success(request, "Asociación del prefijo registrada.")
            return redirect(_wizard_url("listo"))
    return redirect(_wizard_url("resolucion"))


@issuer_required(roles=ADMIN_ROLES)
@require_POST
def s2(request):
    try:
        services.acknowledge_s2(request.issuer, user=request.user)
    except services.HabilitacionError as exc:
        _error(request, exc)
    else:
        messages.success(request, "Gracias: quedó registrado que actualizó el RUT.")
    return redirect(_wizard_url("listo"))
