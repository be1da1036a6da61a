"""Back office for the issuer's staff: tickets, invoices, cancellations, global invoice, settings."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from facturador.core.actors import Actor
from facturador.core.errors import Refusal
from facturador.core.forms import add_refusal
from facturador.core.periods import offered_periods
from facturador.core.tenancy import ADMIN_ROLES, WRITE_ROLES, issuer_required
from facturador.portal import actions, services
from facturador.portal.forms import SettingsForm, TicketUploadForm
from facturador.portal.models import Cfdi, PortalSettings, Ticket


@issuer_required
def backoffice(request):
    if request.issuer.country != "MX":
        return render(request, "portal/not_mx.html", status=404)
    f = request.GET
    qs = services.tickets_for(request.issuer, q=f.get("q", ""), status=f.get("status", ""))
    page = Paginator(qs, 50).get_page(f.get("page"))
    return render(request, "portal/backoffice.html", {"ps": services.portal_settings(request.issuer), "page": page,
                                                      "f": f, "statuses": Ticket.Status.choices,
                                                      "upload": TicketUploadForm()})


@issuer_required(roles=WRITE_ROLES)
@require_POST
def ticket_block(request, pk):
    """Blocks an available ticket, unblocks a blocked one."""
    ticket = get_object_or_404(Ticket.objects.select_related("branch"), pk=pk, issuer=request.issuer)
    if ticket.status == Ticket.Status.BLOCKED:
        actions.unblock_ticket(request.issuer, Actor.from_request(request), ticket=ticket)
        messages.info(request, f"Ticket {ticket} desbloqueado.")
    else:
        actions.block_ticket(request.issuer, Actor.from_request(request), ticket=ticket)
        messages.info(request, f"Ticket {ticket} bloqueado.")
    return redirect("portal:backoffice")


@issuer_required(roles=WRITE_ROLES)
@require_POST
def ticket_upload(request):
    form = TicketUploadForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        created, known = actions.import_tickets_csv(request.issuer, Actor.from_request(request), content=upload.read(),
                                                    filename=upload.name)
        messages.success(request, f"{created} tickets cargados ({known} ya existían).")
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("portal:backoffice")


@issuer_required
def invoices(request):
    page = Paginator(services.cfdis_for(request.issuer, kind=request.GET.get("kind", "")), 50).get_page(request.GET.get("page"))
    return render(request, "portal/invoices.html", {
        "page": page, "periods": offered_periods(services.global_invoice_periods(request.issuer))})


@issuer_required
def invoice_file(request, pk, what):
    cfdi = get_object_or_404(Cfdi, pk=pk, issuer=request.issuer)
    content, content_type = services.cfdi_file(cfdi, what)
    resp = HttpResponse(content, content_type=content_type)
    resp["Content-Disposition"] = f'attachment; filename="{cfdi.uuid}.{what}"'
    return resp


@issuer_required(roles=WRITE_ROLES)
@require_POST
def invoice_cancel(request, pk):
    cfdi = get_object_or_404(Cfdi, pk=pk, issuer=request.issuer)
    actions.cancel_cfdi(request.issuer, Actor.from_request(request), cfdi=cfdi, motive=request.POST.get("motive", ""),
                        substitute_uuid=request.POST.get("substitute_uuid", ""))
    messages.success(request, f"Factura {cfdi.full_number}: {cfdi.get_status_display()}.")
    return redirect("portal:invoices")


@issuer_required(roles=WRITE_ROLES)
@require_POST
def global_invoice(request):
    job = actions.request_global_invoice(request.issuer, Actor.from_request(request), period=request.POST.get("period", ""))
    return redirect("core:job", job.pk)


@issuer_required(roles=ADMIN_ROLES)
def settings_view(request):
    # a copy of the settings: validating the form writes into its instance, the action compares and saves
    instance = PortalSettings.objects.get(pk=services.portal_settings(request.issuer).pk)
    form = SettingsForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in services.SETTINGS_FIELDS}
        try:
            actions.save_settings(request.issuer, Actor.from_request(request),
                                  pac_password=form.cleaned_data.get("pac_password_input") or None, **values)
        except Refusal as r:
            add_refusal(form, r)
        else:
            messages.success(request, "Configuración del portal guardada.")
            return redirect("portal:backoffice")
    return render(request, "core/form.html", {"form": form, "title": "Configuración del portal de autofacturación",
                                              "back": "portal:backoffice"})
