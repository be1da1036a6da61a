"""UI: inbox of received documents (filters, detail, files, Excel), upload, arrivals log, mailbox settings."""

from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from facturador.core.actors import Actor
from facturador.core.errors import Refusal
from facturador.core.forms import add_refusal
from facturador.core.tenancy import WRITE_ROLES, issuer_required
from facturador.reception import actions, exports, files, presenters, services
from facturador.reception.forms import FilterForm, MailboxForm, UploadForm
from facturador.reception.models import Intake, Mailbox, ReceivedDocument
from facturador.tabular.sheets import CONTENT_TYPES


def _filtered(request):
    form = FilterForm(request.GET or None)
    values = form.cleaned_data if form.is_valid() else {}
    qs = services.filter_documents(request.issuer, **{k: v for k, v in values.items() if v})
    return form, qs


@issuer_required
def inbox(request):
    form, qs = _filtered(request)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    # the bulk actions of the issuer's side: DIAN events (Colombia) or SAT's status (Mexico)
    return render(request, "reception/inbox.html", {"form": form, "page": page, "query": query.urlencode(),
                                                    "mexican": request.issuer.country == "MX"})


@issuer_required
def export(request):
    _, qs = _filtered(request)
    content = exports.documents_xlsx(qs, ZoneInfo(request.issuer.tz))
    response = HttpResponse(content, content_type=CONTENT_TYPES["xlsx"])
    response["Content-Disposition"] = 'attachment; filename="documentos-recibidos.xlsx"'
    return response


@issuer_required(roles=WRITE_ROLES)
def upload(request):
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            intake = actions.import_file(request.issuer, Actor.from_request(request), upload=form.cleaned_data["file"])
        except Refusal as refusal:
            add_refusal(form, refusal)
        else:
            messages.success(request, presenters.intake_text(intake).splitlines()[0])
            return redirect("reception:intake", intake.pk)
    return render(request, "core/form.html", {"form": form, "title": "Cargar documentos recibidos", "multipart": True,
                                              "back": "reception:inbox"})


@issuer_required
def detail(request, pk):
    doc = get_object_or_404(ReceivedDocument.objects.select_related("intake"), pk=pk, issuer=request.issuer)
    return render(request, "reception/detail.html", {"doc": doc})


@issuer_required
def download(request, pk, what):
    doc = get_object_or_404(ReceivedDocument, pk=pk, issuer=request.issuer)
    content, filename, mime = files.download(doc, what)
    response = HttpResponse(content, content_type=mime)
    disposition = "inline" if what == "pdf" else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


@issuer_required
def intakes(request):
    page = Paginator(Intake.objects.filter(issuer=request.issuer), 50).get_page(request.GET.get("page"))
    return render(request, "reception/intakes.html", {"page": page})


@issuer_required
def intake_detail(request, pk):
    intake = get_object_or_404(Intake, pk=pk, issuer=request.issuer)
    return render(request, "reception/intake.html", {"intake": intake, "outcomes": presenters.OUTCOMES,
                                                     "can_reprocess": intake.status in actions.REPROCESSABLE
                                                     and intake.error_code != "reception.file.too_large"})


@issuer_required(roles=WRITE_ROLES)
@require_POST
def reprocess(request, pk):
    """The "Reprocesar" button of a failed arrival (a refusal is shown by core.middleware.RefusalMiddleware)."""
    intake = actions.reprocess_intake(request.issuer, Actor.from_request(request), intake_id=pk)
    messages.info(request, f"Llegada #{intake.pk} reprocesada: {intake.get_status_display()} — {intake.documents} "
                           f"nuevos, {intake.duplicates} duplicados, {intake.errors} errores.")
    return redirect("reception:intake", pk=intake.pk)


@issuer_required(roles=WRITE_ROLES)
def mailbox(request):
    box = Mailbox.objects.filter(issuer=request.issuer).select_related("last_job").first()
    form = MailboxForm(request.POST or None, instance=box or Mailbox(issuer=request.issuer))
    if request.method == "POST" and form.is_valid():
        values = {k: v for k, v in form.cleaned_data.items() if k != "password"}
        try:
            actions.save_mailbox(request.issuer, Actor.from_request(request), values=values,
                                 password=form.cleaned_data["password"] or None)
        except Refusal as refusal:
            add_refusal(form, refusal)
        else:
            messages.success(request, "Buzón de recepción guardado.")
            return redirect("reception:mailbox")
    return render(request, "reception/mailbox.html", {"form": form, "box": box,
                                                      "address": services.reception_address(request.issuer)})


@issuer_required(roles=WRITE_ROLES)
@require_POST
def poll(request):
    job = actions.poll_mailbox(request.issuer, Actor.from_request(request))
    messages.info(request, f"Consulta del buzón en cola (tarea #{job.pk}).")
    return redirect("reception:mailbox")
