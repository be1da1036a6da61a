"""UI of the DIAN events (RADIAN) and the SAT status of received documents: the buttons of the detail page, the
bulk buttons of the inbox, the event settings, the tacit-acceptance check of the issuer's own invoices."""

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from facturador.core.actors import Actor
from facturador.core.errors import Refusal
from facturador.core.forms import add_refusal
from facturador.core.tenancy import WRITE_ROLES, issuer_required
from facturador.reception import actions, radian
from facturador.reception.models import EventSettings, ReceivedDocument, ReceptionEvent, TacitTerm


class EventSettingsForm(forms.ModelForm):
    class Meta:
        model = EventSettings
        fields = list(actions.EVENT_SETTINGS_FIELDS)


@issuer_required(roles=WRITE_ROLES)
@require_POST
def event(request, pk):
    """One event on one received invoice (the detail page's buttons); refusals go back as messages."""
    doc = get_object_or_404(ReceivedDocument, pk=pk, issuer=request.issuer)
    try:
        ev = actions.send_event(request.issuer, Actor.from_request(request), document=doc,
                                code=request.POST.get("code", ""), reason=request.POST.get("reason") or None)
    except Refusal as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, f"Evento {ev.code} ({ev.get_code_display().lower()}) firmado; se está enviando a "
                                  f"la DIAN (tarea #{ev.job_id}).")
    return redirect("reception:detail", doc.pk)


@issuer_required(roles=WRITE_ROLES)
@require_POST
def events_bulk(request):
    """The inbox's bulk buttons: acusar recibo / recibir / aceptar the selected invoices."""
    ids = [int(x) for x in request.POST.getlist("documents") if x.isdigit()]
    docs = list(ReceivedDocument.objects.filter(issuer=request.issuer, pk__in=ids))
    try:
        if request.POST.get("action") == "sat":
            job = actions.check_sat_status_bulk(request.issuer, Actor.from_request(request), documents=docs)
            messages.success(request, f"Consulta en el SAT de {job.total} CFDI en cola (tarea #{job.pk}).")
            return redirect("reception:inbox")
        out = actions.send_events_bulk(request.issuer, Actor.from_request(request), documents=docs,
                                       action=request.POST.get("action", ""))
    except Refusal as refusal:
        messages.error(request, refusal.message)
        return redirect("reception:inbox")
    messages.success(request, f"Evento {out['code']} firmado para {len(out['events'])} documento(s); se está "
                              f"enviando a la DIAN (tarea #{out['job'].pk}).")
    for r in out["refused"]:
        messages.warning(request, f"{r['number']}: {r['message']}")
    return redirect("reception:inbox")


def _check(request, pk, action, done):
    """A button on a received document's page that asks again (SAT, the stamp, DIAN): the action, then its outcome
    (`done(doc)`) or its refusal as a message on the page."""
    doc = get_object_or_404(ReceivedDocument, pk=pk, issuer=request.issuer)
    try:
        doc = action(request.issuer, Actor.from_request(request), document=doc)
    except Refusal as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, done(doc))
    return redirect("reception:detail", doc.pk)


@issuer_required(roles=WRITE_ROLES)
@require_POST
def sat_status(request, pk):
    return _check(request, pk, actions.check_sat_status, lambda d: f"Estado en el SAT: {d.get_sat_state_display()}.")


@issuer_required(roles=WRITE_ROLES)
@require_POST
def stamp_check(request, pk):
    return _check(request, pk, actions.recheck_stamp, lambda d: f"Timbre fiscal: {d.get_stamp_check_display()}.")


@issuer_required(roles=WRITE_ROLES)
@require_POST
def dian_status(request, pk):
    return _check(request, pk, actions.check_dian_status,
                  lambda d: f"Estado en la DIAN: {d.get_dian_check_display()}.")


@issuer_required
def event_file(request, pk):
    """The signed event and DIAN's answer, zipped."""
    from django.http import HttpResponse

    ev = get_object_or_404(ReceptionEvent, pk=pk, issuer=request.issuer)
    name, data = radian.event_zip(ev)
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@issuer_required(roles=WRITE_ROLES)
def event_settings(request):
    obj = radian.settings_for(request.issuer)
    form = EventSettingsForm(request.POST or None, instance=obj)
    if request.method == "POST" and form.is_valid():
        try:
            actions.save_event_settings(request.issuer, Actor.from_request(request), values=form.cleaned_data)
        except Refusal as refusal:
            add_refusal(form, refusal)
        else:
            messages.success(request, "Configuración de eventos DIAN guardada.")
            return redirect("reception:event_settings")
    terms = TacitTerm.objects.filter(issuer=request.issuer).select_related("document").order_by(
        "-document__issue_date", "-pk")[:100]
    return render(request, "reception/event_settings.html", {"form": form, "obj": obj, "terms": terms})


@issuer_required(roles=WRITE_ROLES)
@require_POST
def tacit(request):
    try:
        job = actions.follow_tacit_acceptance(request.issuer, Actor.from_request(request))
    except Refusal as refusal:
        messages.error(request, refusal.message)
    else:
        messages.info(request, _("Consulta de la aceptación tácita de sus facturas en cola (tarea #%(n)s).")
                      % {"n": job.pk})
    return redirect("reception:event_settings")
