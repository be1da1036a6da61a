"""The enablement wizard's pages: thin adapters over `habilitacion.actions`.

Forms that re-render show a refusal on their field (`add_refusal`); the wizard's one-button forms let it
propagate to `core.middleware.RefusalMiddleware`, which shows it on the page the user came from."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from facturador.core import certificates
from facturador.core.actors import Actor
from facturador.core.errors import Invalid, Refusal
from facturador.core.forms import add_refusal
from facturador.core.models import Certificate, Environment, NumberingRange, Role
from facturador.core.tenancy import ADMIN_ROLES, WRITE_ROLES, issuer_required
from facturador.einvoice.models import DianDocument, OperationMode
from facturador.habilitacion import actions, exports, forms, selectors, services
from facturador.habilitacion.models import Enablement, TestSetDocument, TestSetRun

STEP_KEYS = [k for k, _ in services.STEPS]


def _wizard_url(step):
    return f"{reverse('habilitacion:wizard')}?paso={step}"


def _form_errors(request, form):
    """A one-button wizard form that did not validate: its messages on the wizard page."""
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        messages.error(request, f"{label}: {errors[0]}" if label else errors[0])


@issuer_required
def wizard(request):
    return _wizard_page(request, request.GET.get("paso"))


def _wizard_page(request, step, *, bound=None, prefix_form=None):
    """The wizard at ``step``; ``bound`` replaces the step's form (a submitted one re-rendered with its errors)."""
    issuer = request.issuer
    if issuer.country != "CO":
        return render(request, "habilitacion/not_colombia.html")
    en = services.enablement_for(issuer)
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
                           resolution_number=inv.resolution_number, valid_from=inv.valid_from, valid_to=inv.valid_to)
        # the key is a secret: never sent back in the form; administrators see its last characters only
        if inv is not None and inv.technical_key and request.membership.role == Role.ADMIN:
            ctx["technical_key_hint"] = "•" * 8 + inv.technical_key.reveal()[-4:]
        initial.pop("technical_key", None)
        initial["credit_prefix"] = ranges["credit_note"].prefix if ranges["credit_note"] else services.NOTE_PREFIXES["credit_note"]
        initial["debit_prefix"] = ranges["debit_note"].prefix if ranges["debit_note"] else services.NOTE_PREFIXES["debit_note"]
        ctx["form"] = forms.TestNumberingForm(initial=initial)
        ctx["dian_test"] = {**services.default_test_range(None),
                            "provider_prefix": services.TEST_RANGES[OperationMode.Mode.PROVIDER][0]}
    elif step == "set":
        ctx["form"] = forms.RunForm(initial={"test_set_id": mode.test_set_id if mode else "", **services.DEFAULT_COUNTS})
    elif step == "produccion":
        ctx["form"] = forms.ProductionForm(initial={"endpoint": mode.endpoint if mode else ""})
        ctx["accepted_mode"] = services.accepted_mode(issuer)
    elif step == "resolucion":
        ctx["form"] = forms.ResolutionForm()
        ctx["prefix_form"] = forms.PrefixForm(issuer=issuer, initial={
            "associated_on": en.prefix_associated_on or timezone.localdate(), "numbering_range": en.production_range})
    if bound is not None:
        ctx["form"] = bound
    if prefix_form is not None:
        ctx["prefix_form"] = prefix_form
    return render(request, "habilitacion/wizard.html", ctx)


@issuer_required(roles=ADMIN_ROLES)
@require_POST
def register(request):
    form = forms.RegistrationForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return redirect(_wizard_url("registro"))
    actions.register(request.issuer, Actor.from_request(request), **form.cleaned_data)
    messages.success(request, "Registro guardado.")
    return redirect(_wizard_url("certificado"))


@issuer_required(roles=ADMIN_ROLES)
def mode(request):
    instance = services.current_mode(request.issuer)
    form = forms.ModeForm(request.POST or None, instance=instance, issuer=request.issuer)
    if request.method == "POST" and form.is_valid():
        try:
            actions.save_operation_mode(request.issuer, Actor.from_request(request), **form.action_kwargs())
        except Refusal as refusal:
            add_refusal(form, refusal)
        else:
            messages.success(request, "Modo de operación guardado.")
            return redirect(_wizard_url("numeracion"))
    return render(request, "habilitacion/form.html", {"form": form, "title": "Modo de operación (software)",
                                                      "step": "software"})


@issuer_required(roles=ADMIN_ROLES)
def test_numbering(request):
    form = forms.TestNumberingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.save_test_numbering(request.issuer, Actor.from_request(request), **form.cleaned_data)
        except Refusal as refusal:
            add_refusal(form, refusal)
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
            run = actions.start_run(request.issuer, Actor.from_request(request), **form.cleaned_data)
        except Refusal as refusal:
            add_refusal(form, refusal)
        else:
            messages.success(request, "Se están generando y enviando los comprobantes del set de pruebas.")
            return redirect("habilitacion:run", run.pk)
    return render(request, "habilitacion/form.html", {"form": form, "title": "Generar comprobantes", "step": "set"})


@issuer_required
def run_detail(request, pk):
    run = get_object_or_404(TestSetRun.objects.select_related("job", "operation_mode"), pk=pk, issuer=request.issuer)
    page = Paginator(selectors.run_documents(run, request.GET), 100).get_page(request.GET.get("page"))
    return render(request, "habilitacion/run.html", {
        "run": run, "page": page, "summary": services.summary(run), "f": request.GET,
        "kinds": DianDocument.Kind.choices, "statuses": DianDocument.Status.choices,
        "state_labels": services.STATE_LABELS,
        "query": request.GET.urlencode(),
    })


@issuer_required
def run_export(request, pk):
    run = get_object_or_404(TestSetRun, pk=pk, issuer=request.issuer)
    content = exports.run_xlsx(run, selectors.run_documents(run, request.GET))
    resp = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp["Content-Disposition"] = f'attachment; filename="set-de-pruebas-{run.pk}.xlsx"'
    return resp


@issuer_required(roles=WRITE_ROLES)
@require_POST
def run_resume(request, pk):
    run = get_object_or_404(TestSetRun, pk=pk, issuer=request.issuer)
    actions.resume_run(request.issuer, Actor.from_request(request), run=run)
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
            new = actions.correct_document(request.issuer, Actor.from_request(request), entry=entry,
                                           **form.cleaned_data)
        except Refusal as refusal:
            add_refusal(form, refusal)
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
            actions.switch_to_production(request.issuer, Actor.from_request(request),
                                         start_date=form.cleaned_data["start_date"],
                                         endpoint=form.cleaned_data.get("endpoint") or None)
        except Invalid as refusal:  # about what was typed; a Conflict (order of steps) goes to the middleware
            add_refusal(form, refusal)
    if not form.is_valid():  # the typed date and URL stay, with the error next to its field
        return _wizard_page(request, "produccion", bound=form)
    messages.success(request, "Listo: su software quedó en producción. Ahora registre la numeración autorizada.")
    return redirect(_wizard_url("resolucion"))


@issuer_required(roles=ADMIN_ROLES)
@require_POST
def resolution(request):
    form = forms.ResolutionForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return redirect(_wizard_url("resolucion"))
    rng = actions.register_resolution(request.issuer, Actor.from_request(request), **form.cleaned_data)
    messages.success(request, f"Numeración {rng} registrada. Ahora sincronícela con la DIAN.")
    return redirect(_wizard_url("resolucion"))


@issuer_required(roles=ADMIN_ROLES)
@require_POST
def sync(request):
    _ranges, message = actions.sync_numbering(request.issuer, Actor.from_request(request))
    messages.success(request, message)
    return redirect(_wizard_url("listo" if services.production_ready(request.issuer) else "resolucion"))


@issuer_required(roles=ADMIN_ROLES)
@require_POST
def prefix(request):
    form = forms.PrefixForm(request.POST, issuer=request.issuer)
    if form.is_valid():
        try:
            actions.associate_prefix(request.issuer, Actor.from_request(request),
                                          on=form.cleaned_data["associated_on"],
                                          numbering_range=form.cleaned_data["numbering_range"])
        except Invalid as refusal:
            add_refusal(form, refusal)
    if not form.is_valid():
        return _wizard_page(request, "resolucion", prefix_form=form)
    rng = form.cleaned_data["numbering_range"]
    mode = services.current_mode(request.issuer)
    messages.success(request, f"Prefijo {rng.prefix} asociado al software {mode.software_name} ({mode.software_id}).")
    return redirect(_wizard_url("listo" if services.production_ready(request.issuer) else "resolucion"))


@issuer_required(roles=ADMIN_ROLES)
@require_POST
def s2(request):
    actions.acknowledge_s2(request.issuer, Actor.from_request(request))
    messages.success(request, "Gracias: quedó registrado que actualizó el RUT.")
    return redirect(_wizard_url("listo"))
