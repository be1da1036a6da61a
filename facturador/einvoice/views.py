from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from facturador.core import audit
from facturador.core.tenancy import ADMIN_ROLES, WRITE_ROLES, issuer_required
from facturador.einvoice import services
from facturador.einvoice.forms import DocumentForm, OperationModeForm
from facturador.einvoice.models import DianDocument, OperationMode


def _filtered(request):
    qs = DianDocument.objects.filter(issuer=request.issuer)
    f = request.GET
    if f.get("kind"):
        qs = qs.filter(kind=f["kind"])
    if f.get("status"):
        qs = qs.filter(status=f["status"])
    if f.get("q"):
        qs = qs.filter(customer_name__icontains=f["q"]) | qs.filter(customer_id=f["q"])
    if f.get("from"):
        qs = qs.filter(issue_date__gte=f["from"])
    if f.get("to"):
        qs = qs.filter(issue_date__lte=f["to"])
    return qs


@issuer_required
def document_list(request):
    page = Paginator(_filtered(request), 50).get_page(request.GET.get("page"))
    return render(request, "einvoice/list.html", {
        "page": page, "kinds": DianDocument.Kind.choices, "statuses": DianDocument.Status.choices, "f": request.GET,
    })


@issuer_required(roles=WRITE_ROLES)
def document_new(request):
    initial_kind = request.GET.get("kind", "invoice")
    form = DocumentForm(request.POST or None, issuer=request.issuer, initial={"kind": initial_kind,
                                                                               "reference": request.GET.get("ref")})
    if request.method == "POST" and form.is_valid():
        try:
            doc = services.issue(request.issuer, form.payload(), user=request.user)
        except services.EinvoiceError as exc:
            form.add_error(None, exc.display)
        else:
            audit.record("einvoice.issue", issuer=request.issuer, obj=doc, request=request, summary=str(doc))
            messages.success(request, f"{doc} firmado; se está enviando a la DIAN.")
            return redirect("einvoice:detail", doc.pk)
    return render(request, "einvoice/new.html", {"form": form})


@issuer_required
def document_detail(request, pk):
    doc = get_object_or_404(DianDocument, pk=pk, issuer=request.issuer)
    return render(request, "einvoice/detail.html", {"doc": doc})


@issuer_required(roles=WRITE_ROLES)
@require_POST
def document_retry(request, pk):
    doc = get_object_or_404(DianDocument, pk=pk, issuer=request.issuer)
    if services.schedule_send(doc, user=request.user):
        audit.record("einvoice.retry", issuer=request.issuer, obj=doc, request=request)
        messages.info(request, "Se programó un nuevo envío a la DIAN.")
    else:
        messages.error(request, "Este documento ya tiene respuesta definitiva de la DIAN.")
    return redirect("einvoice:detail", doc.pk)


@issuer_required
def download(request, pk, what):
    doc = get_object_or_404(DianDocument, pk=pk, issuer=request.issuer)
    try:
        content, filename, mime = services.download(doc, what)
    except services.EinvoiceError as exc:
        raise Http404(exc.message) from exc
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
        obj = form.save()
        audit.record("einvoice.mode", issuer=request.issuer, obj=obj, request=request, summary=str(obj))
        messages.success(request, "Modo de operación guardado.")
        return redirect("einvoice:modes")
    return render(request, "core/form.html", {"form": form, "title": "Modo de operación (software)", "back": "einvoice:modes"})
