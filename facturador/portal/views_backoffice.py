"""Back office for the issuer's staff: tickets, invoices, cancellations, global invoice, settings."""

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from facturador.cfdi.pdf import cfdi_pdf
from facturador.core import audit
from facturador.core.tenancy import ADMIN_ROLES, WRITE_ROLES, issuer_required
from facturador.portal import services, tasks, tickets as ticket_rules
from facturador.portal.forms import TicketUploadForm
from facturador.portal.models import Cfdi, PortalSettings, Ticket


class SettingsForm(forms.ModelForm):
    pac_password_input = forms.CharField(label="Contraseña del PAC", required=False, widget=forms.PasswordInput,
                                         help_text="Se guarda cifrada. Déjela vacía para conservar la actual.")
    pac_url = forms.URLField(label="URL del PAC", required=False, assume_scheme="https")

    class Meta:
        model = PortalSettings
        fields = ["slug", "window", "window_days", "grace_days", "allow_reissue_from_global", "serie", "global_serie",
                  "pac_kind", "pac_url", "pac_user", "pac_timeout", "clave_prod_serv", "clave_unidad"]

    def save(self, commit=True):
        obj = super().save(commit=False)
        if self.cleaned_data.get("pac_password_input"):
            obj.pac_password = self.cleaned_data["pac_password_input"]
        if commit:
            obj.save()
        return obj


def _mx_only(request):
    if request.issuer.country != "MX":
        return render(request, "portal/not_mx.html", status=404)
    return None


@issuer_required
def backoffice(request):
    if (resp := _mx_only(request)) is not None:
        return resp
    ps = services.portal_settings(request.issuer)
    qs = Ticket.objects.filter(issuer=request.issuer).select_related("branch", "cfdi")
    f = request.GET
    if f.get("q"):
        qs = qs.filter(ticket_number__icontains=f["q"]) | qs.filter(order_number__icontains=f["q"])
    if f.get("status"):
        qs = qs.filter(status=f["status"])
    page = Paginator(qs, 50).get_page(f.get("page"))
    upload = TicketUploadForm()
    return render(request, "portal/backoffice.html", {"ps": ps, "page": page, "f": f, "statuses": Ticket.Status.choices,
                                                      "upload": upload})


@issuer_required(roles=WRITE_ROLES)
@require_POST
def ticket_block(request, pk):
    ticket = get_object_or_404(Ticket, pk=pk, issuer=request.issuer)
    if ticket.status == Ticket.Status.AVAILABLE:
        Ticket.objects.filter(pk=pk, status=Ticket.Status.AVAILABLE).update(status=Ticket.Status.BLOCKED)
        messages.info(request, f"Ticket {ticket} bloqueado.")
    elif ticket.status == Ticket.Status.BLOCKED:
        Ticket.objects.filter(pk=pk, status=Ticket.Status.BLOCKED).update(status=Ticket.Status.AVAILABLE)
        messages.info(request, f"Ticket {ticket} desbloqueado.")
    else:
        messages.error(request, "Solo se pueden bloquear tickets disponibles.")
    audit.record("portal.ticket_block", issuer=request.issuer, obj=ticket, request=request)
    return redirect("portal:backoffice")


@issuer_required(roles=WRITE_ROLES)
@require_POST
def ticket_upload(request):
    form = TicketUploadForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            created, known = ticket_rules.save_tickets(request.issuer, ticket_rules.read_csv(form.cleaned_data["file"].read()))
        except ticket_rules.TicketRowError as exc:
            messages.error(request, f"Fila {exc.row}, columna {exc.field}: {exc.message} No se cargó ningún ticket.")
        else:
            messages.success(request, f"{created} tickets cargados ({known} ya existían).")
    return redirect("portal:backoffice")


@issuer_required
def invoices(request):
    qs = Cfdi.objects.filter(issuer=request.issuer).select_related("customer", "branch")
    if request.GET.get("kind"):
        qs = qs.filter(kind=request.GET["kind"])
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "portal/invoices.html", {"page": page})


@issuer_required
def invoice_file(request, pk, what):
    cfdi = get_object_or_404(Cfdi, pk=pk, issuer=request.issuer)
    content = bytes(cfdi.xml) if what == "xml" else cfdi_pdf(bytes(cfdi.xml))
    resp = HttpResponse(content, content_type="application/xml" if what == "xml" else "application/pdf")
    resp["Content-Disposition"] = f'attachment; filename="{cfdi.uuid}.{what}"'
    return resp


@issuer_required(roles=WRITE_ROLES)
@require_POST
def invoice_cancel(request, pk):
    cfdi = get_object_or_404(Cfdi, pk=pk, issuer=request.issuer)
    try:
        services.cancel(cfdi, request.POST.get("motive", ""), request.POST.get("substitute_uuid", "").strip(), user=request.user)
    except services.PortalError as exc:
        messages.error(request, exc.message)
    else:
        audit.record("portal.cancel", issuer=request.issuer, obj=cfdi, request=request, summary=f"motivo {cfdi.cancel_motive}")
        messages.success(request, f"Factura {cfdi.full_number}: {cfdi.get_status_display()}.")
    return redirect("portal:invoices")


@issuer_required(roles=WRITE_ROLES)
@require_POST
def global_invoice(request):
    period = request.POST.get("period", "")
    if len(period) != 7 or period[4] != "-":
        messages.error(request, "Indique el periodo como AAAA-MM.")
    else:
        job = tasks.request_global(request.issuer, period, user=request.user)
        return redirect("core:job", job.pk)
    return redirect("portal:invoices")


@issuer_required(roles=ADMIN_ROLES)
def settings_view(request):
    ps = services.portal_settings(request.issuer)
    form = SettingsForm(request.POST or None, instance=ps)
    if request.method == "POST" and form.is_valid():
        form.save()
        audit.record("portal.settings", issuer=request.issuer, obj=ps, request=request)
        messages.success(request, "Configuración del portal guardada.")
        return redirect("portal:backoffice")
    return render(request, "core/form.html", {"form": form, "title": "Configuración del portal de autofacturación",
                                              "back": "portal:backoffice"})
