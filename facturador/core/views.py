from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from rest_framework.authtoken.models import Token

from facturador.core import actions, jobs, numbering, tenancy
from facturador.core.actors import Actor, client_ip
from facturador.core.errors import Refusal
from facturador.core.forms import BranchForm, CertificateUploadForm, IssuerForm, NumberingRangeForm, add_refusal
from facturador.core.models import AuditEntry, Branch, Certificate, Job, NumberingRange
from facturador.core.redirects import safe_next
from facturador.core.tenancy import ADMIN_ROLES, WRITE_ROLES, issuer_required
from facturador.core.throttle import throttle


def _next(request, default="core:jobs"):
    """Where to go after a POST: the form's `next` when it is on this site, else `default`."""
    return safe_next(request, request.POST.get("next"), default)


@issuer_required
def dashboard(request):
    issuer = request.issuer
    warnings = []
    for cert in Certificate.objects.filter(issuer=issuer, active=True):
        if cert.expired:
            warnings.append(f"El certificado {cert.serial_number} venció el {cert.not_after:%d/%m/%Y}.")
        elif cert.expires_soon:
            warnings.append(f"El certificado {cert.serial_number} vence el {cert.not_after:%d/%m/%Y}: renuévelo a tiempo.")
    for rng in NumberingRange.objects.filter(issuer=issuer, active=True):
        warnings.extend(numbering.warnings(rng))
    recent = Job.objects.filter(issuer=issuer).exclude(status=Job.Status.DELETED)[:8]
    return render(request, "core/dashboard.html", {"warnings": warnings, "jobs": recent})


@login_required
@require_POST
def switch_issuer(request):
    issuer = tenancy.issuer_for_user(request.user, request.POST.get("issuer"))
    if issuer is None:
        return HttpResponseBadRequest("Emisor no válido")
    request.session[tenancy.SESSION_KEY] = issuer.pk
    messages.success(request, f"Ahora trabaja con {issuer.legal_name}.")
    return redirect(_next(request, "/"))


@issuer_required(roles=ADMIN_ROLES)
def issuer_edit(request):
    form = IssuerForm(request.POST or None, request.FILES or None, instance=request.issuer)
    form.fields["country"].disabled = True
    if request.method == "POST" and form.is_valid():
        try:
            actions.update_issuer(request.issuer, Actor.from_request(request),
                                  data={k: form.cleaned_data[k] for k in form.changed_data})
        except Refusal as refusal:
            add_refusal(form, refusal)
        else:
            messages.success(request, "Datos del emisor guardados.")
            return redirect("core:issuer")
    return render(request, "core/issuer_form.html", {"form": form})


@login_required
def issuer_new(request):
    if not actions.may_create_issuers(Actor.from_request(request)):
        raise PermissionDenied("Solo un administrador de la plataforma puede registrar emisores.")
    form = IssuerForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            issuer = actions.create_issuer(Actor.from_request(request), data=form.cleaned_data)
        except Refusal as refusal:
            add_refusal(form, refusal)
        else:
            request.session[tenancy.SESSION_KEY] = issuer.pk
            messages.success(request, f"Emisor {issuer.legal_name} creado.")
            return redirect("core:dashboard")
    return render(request, "core/issuer_form.html", {"form": form, "creating": True})


@issuer_required
def branches(request):
    items = Branch.objects.filter(issuer=request.issuer)
    return render(request, "core/branches.html", {"branches": items})


@issuer_required(roles=ADMIN_ROLES)
def branch_edit(request, pk=None):
    branch = get_object_or_404(Branch, pk=pk, issuer=request.issuer) if pk else Branch(issuer=request.issuer)
    form = BranchForm(request.POST or None, instance=branch)
    if request.method == "POST" and form.is_valid():
        try:
            actions.save_branch(request.issuer, Actor.from_request(request), data=form.cleaned_data,
                                branch=branch if branch.pk else None)
        except Refusal as refusal:
            add_refusal(form, refusal)
        else:
            messages.success(request, "Sucursal guardada.")
            return redirect("core:branches")
    return render(request, "core/form.html", {"form": form, "title": "Sucursal", "back": "core:branches"})


@issuer_required
def certificate_list(request):
    items = Certificate.objects.filter(issuer=request.issuer)
    return render(request, "core/certificates.html", {"certificates": items})


@issuer_required(roles=ADMIN_ROLES)
def certificate_upload(request):
    form = CertificateUploadForm(request.POST or None, request.FILES or None)
    if request.issuer.country == "CO":
        form.fields["kind"].initial = Certificate.Kind.PKCS12
    else:
        form.fields["kind"].initial = Certificate.Kind.CSD
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            actions.upload_certificate(
                request.issuer, Actor.from_request(request), kind=data["kind"], password=data["password"],
                p12=data["p12"].read() if data.get("p12") else None,
                cer=data["cer"].read() if data.get("cer") else None,
                key=data["key"].read() if data.get("key") else None,
            )
        except Refusal as refusal:
            add_refusal(form, refusal)
        else:
            messages.success(request, "Certificado validado y guardado cifrado.")
            return redirect("core:certificates")
    return render(request, "core/form.html", {"form": form, "title": "Cargar certificado", "back": "core:certificates",
                                              "multipart": True})


@issuer_required
def numbering_list(request):
    items = NumberingRange.objects.filter(issuer=request.issuer)
    rows = [(r, numbering.warnings(r)) for r in items]
    return render(request, "core/numbering.html", {"rows": rows})


@issuer_required(roles=ADMIN_ROLES)
def numbering_edit(request, pk=None):
    rng = get_object_or_404(NumberingRange, pk=pk, issuer=request.issuer) if pk else None
    form = NumberingRangeForm(request.POST or None, instance=rng)
    if request.method == "POST" and form.is_valid():
        try:
            actions.save_numbering_range(request.issuer, Actor.from_request(request), data=form.cleaned_data, rng=rng,
                                         technical_key=form.cleaned_data.get("technical_key_input") or "")
        except Refusal as refusal:
            add_refusal(form, refusal)
        else:
            messages.success(request, "Numeración guardada.")
            return redirect("core:numbering")
    return render(request, "core/form.html", {"form": form, "title": "Numeración", "back": "core:numbering"})


@issuer_required
def job_list(request):
    state = request.GET.get("state", "")
    page = Paginator(jobs.filter_jobs(request.issuer, state), 50).get_page(request.GET.get("page"))
    return render(request, "core/jobs.html", {"page": page, "state": state, "filters": jobs.JOB_FILTERS})


@issuer_required
def job_detail(request, pk):
    job = get_object_or_404(Job, pk=pk, issuer=request.issuer)
    return render(request, "core/job_detail.html", {"job": job})


@issuer_required
def job_progress(request, pk):
    """HTMX fragment, polled while the job is active."""
    job = get_object_or_404(Job, pk=pk, issuer=request.issuer)
    return render(request, "core/_job_progress.html", {"job": job})


@issuer_required(roles=WRITE_ROLES)
@require_POST
def job_cancel(request, pk):
    job = get_object_or_404(Job, pk=pk, issuer=request.issuer)
    actions.cancel_job(request.issuer, Actor.from_request(request), job=job)
    messages.info(request, "Se solicitó la cancelación de la tarea.")
    return redirect(_next(request))


@issuer_required(roles=WRITE_ROLES)
@require_POST
def job_delete(request, pk):
    job = get_object_or_404(Job, pk=pk, issuer=request.issuer)
    actions.delete_job(request.issuer, Actor.from_request(request), job=job)
    messages.info(request, "Tarea eliminada.")
    return redirect(_next(request))


@issuer_required
def audit_list(request):
    page = Paginator(AuditEntry.objects.filter(issuer=request.issuer).select_related("user"), 100).get_page(
        request.GET.get("page"))
    return render(request, "core/audit.html", {"page": page})


@login_required
def api_token(request):
    token = None
    if request.method == "POST":
        token = actions.regenerate_api_token(Actor.from_request(request), issuer=getattr(request, "issuer", None))
    has_token = Token.objects.filter(user=request.user).exists()
    return render(request, "core/api_token.html", {"token": token, "has_token": has_token})


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset (enumeration-safe: the same answer for any address), throttled per client address and per
    address asked for (settings.FACTURADOR_STAFF_RESET_THROTTLE), so it cannot be used to flood a mailbox."""

    def form_valid(self, form):
        limit, seconds = settings.FACTURADOR_STAFF_RESET_THROTTLE
        try:
            throttle("staff-reset-ip", client_ip(self.request) or "-", limit=limit, seconds=seconds,
                     code="core.password_reset.throttled")
            throttle("staff-reset-email", form.cleaned_data["email"].strip().lower(), limit=limit, seconds=seconds,
                     code="core.password_reset.throttled")
        except Refusal as refusal:
            add_refusal(form, refusal)
            return self.render_to_response(self.get_context_data(form=form), status=refusal.status)
        return super().form_valid(form)
