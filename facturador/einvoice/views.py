from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from facturador.core.actors import Actor
from facturador.core.errors import Refusal
from facturador.core.forms import add_refusal
from facturador.core.models import Environment
from facturador.core.tenancy import ADMIN_ROLES, WRITE_ROLES, issuer_required
from facturador.einvoice import actions, files, services
from facturador.einvoice.forms import DocumentForm, OperationModeForm, acquirer_answer
from facturador.einvoice.models import DianDocument, OperationMode


@issuer_required
def document_list(request):
    page = Paginator(services.documents_filtered(request.issuer, request.GET), 50).get_page(request.GET.get("page"))
    return render(request, "einvoice/list.html", {
        "page": page, "kinds": DianDocument.Kind.choices, "statuses": DianDocument.Status.choices,
        "environments": Environment.choices, "f": request.GET,
    })


@issuer_required(roles=WRITE_ROLES)
def document_new(request):
    initial_kind = request.GET.get("kind", "invoice")
    form = DocumentForm(request.POST or None, issuer=request.issuer, initial={"kind": initial_kind,
                                                                               "reference": request.GET.get("ref")})
    if request.method == "POST" and form.is_valid():
        try:
            doc = actions.issue_document(request.issuer, Actor.from_request(request), payload=form.payload())
        except Refusal as refusal:
            add_refusal(form, refusal)
        else:
            messages.success(request, f"{doc} firmado; se está enviando a la DIAN.")
            return redirect("einvoice:detail", doc.pk)
    return render(request, "einvoice/new.html", {"form": form})


@issuer_required
def acquirer(request):
    """The "Consultar en la DIAN" button of the document form (htmx): the buyer's name and e-mail DIAN has for
    the typed identification fill the form. A query: any member may ask (read-only roles too); it changes
    nothing and writes no audit entry."""
    context = acquirer_answer(request.issuer, request.GET.get("customer_id_type"), request.GET.get("customer_id"),
                              DocumentForm, name_field="customer_name", email_field="customer_email",
                              form_kwargs={"issuer": request.issuer})
    return render(request, "einvoice/_acquirer_answer.html", context)


@issuer_required
def document_detail(request, pk):
    doc = get_object_or_404(DianDocument, pk=pk, issuer=request.issuer)
    return render(request, "einvoice/detail.html", {"doc": doc})


@issuer_required(roles=WRITE_ROLES)
@require_POST
def document_retry(request, pk):
    doc = get_object_or_404(DianDocument, pk=pk, issuer=request.issuer)
    actions.retry_document(request.issuer, Actor.from_request(request), document=doc)
    messages.info(request, "Se programó un nuevo envío a la DIAN.")
    return redirect("einvoice:detail", doc.pk)


@issuer_required
def download(request, pk, what):
    doc = get_object_or_404(DianDocument, pk=pk, issuer=request.issuer)
    content, filename, mime = files.download(doc, what)
    resp = HttpResponse(content, content_type=mime)
    resp["Content-Disposition"] = f'attachment; filename="{filename}"'
    return resp


@issuer_required
def modes(request):
    items = OperationMode.objects.filter(issuer=request.issuer)
    return render(request, "einvoice/modes.html", {"modes": items})


@issuer_required(roles=ADMIN_ROLES)
def mode_edit(request, pk=None):
    mode = get_object_or_404(OperationMode, pk=pk, issuer=request.issuer) if pk else None
    form = OperationModeForm(request.POST or None, instance=mode, issuer=request.issuer)
    if request.method == "POST" and form.is_valid():
        try:
            actions.save_operation_mode(request.issuer, Actor.from_request(request), mode=mode, values=form.values(),
                                        pin=form.cleaned_data.get("pin"))
        except Refusal as refusal:
            add_refusal(form, refusal)
        else:
            messages.success(request, "Modo de operación guardado.")
            return redirect("einvoice:modes")
    return render(request, "core/form.html", {"form": form, "title": "Modo de operación (software)", "back": "einvoice:modes"})
