import dataclasses
import hmac
import json
import os

from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from facturador.core.actors import Actor
from facturador.core.errors import Refusal
from facturador.core.forms import add_refusal
from facturador.core.models import Issuer
from facturador.core.tenancy import ADMIN_ROLES, WRITE_ROLES, issuer_required
from facturador.mailing import actions, bounces, services
from facturador.mailing.forms import MailSendForm, TestEmailForm, TestRecipientsForm
from facturador.mailing.models import Delivery, MailSend

TABS = [("resumen", "Resumen"), ("facturas", "Facturas"), ("destinatarios", "Destinatarios")]


def _send(request, pk):
    return get_object_or_404(MailSend.objects.select_related("issuer", "job"), pk=pk, issuer=request.issuer)


@issuer_required
def send_list(request):
    sends = MailSend.objects.filter(issuer=request.issuer).select_related("job")
    page = Paginator(sends, 25).get_page(request.GET.get("page"))
    for s in page:
        s.counts = services.counts(s)
    return render(request, "mailing/list.html", {"page": page, "server_notice": services.mail_server_notice()})


@issuer_required(roles=WRITE_ROLES)
def send_create(request):
    form = MailSendForm(request.POST or None, issuer=request.issuer)
    if request.method == "POST" and form.is_valid():
        try:
            send = actions.register_send(request.issuer, Actor.from_request(request), **form.action_kwargs())
        except Refusal as refusal:
            add_refusal(form, refusal)
        else:
            messages.success(request, f"Envío #{send.pk} registrado con {send.deliveries.count()} facturas.")
            return redirect("mailing:detail", pk=send.pk)
    return render(request, "mailing/form.html", {"form": form, "variables": services.VARIABLES})


@issuer_required(roles=WRITE_ROLES)
@require_POST
def preview(request):
    """HTMX: what the registration would select and the message of the first (or chosen) invoice."""
    form = MailSendForm(request.POST, issuer=request.issuer)
    form.is_valid()
    ctx = {"form": form, "errors": {k: v for k, v in form.errors.items() if k in ("ranges", "subject", "body", "date_to")}}
    docs = form.documents()
    if docs:
        picked = services.selection(request.issuer, docs, recipients=form.cleaned_data.get("recipients"),
                                    selected=form.selected, legally_required=bool(form.cleaned_data.get("legally_required")))
        ctx.update(picked, selected=set(form.selected))
        docs = picked["documents"]
        chosen = request.POST.get("preview_document")
        sample = next((d for d in docs if str(d.pk) == chosen), docs[0] if docs else None)
        if sample is not None and "subject" in form.cleaned_data and "body" in form.cleaned_data:
            c = services.context_for(sample, request.issuer)
            ctx.update(sample=sample, subject=services.render(form.cleaned_data["subject"], c),
                       body_html=services.render_html(form.cleaned_data["body"], c),
                       attachments=services.attachment_names(sample))
    return render(request, "mailing/_preview.html", ctx)


@issuer_required
def test_recipients(request):
    """The addresses test emails may go to; administrators edit them."""
    can_edit = request.membership.role in ADMIN_ROLES
    current = services.allowed_test_recipients(request.issuer)
    form = TestRecipientsForm(request.POST or None, initial={"emails": "\n".join(current)})
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Su rol no permite esta acción.")
        if form.is_valid():
            try:
                emails = actions.set_test_recipients(request.issuer, Actor.from_request(request), **form.action_kwargs())
            except Refusal as refusal:
                add_refusal(form, refusal)
            else:
                messages.success(request, f"Correos de prueba guardados ({len(emails)}).")
                return redirect("mailing:test_recipients")
    return render(request, "mailing/test_recipients.html", {"form": form, "emails": current, "can_edit": can_edit})


@issuer_required
def send_detail(request, pk):
    send = _send(request, pk)
    tab = request.GET.get("tab", "resumen")
    ctx = {"send": send, "tab": tab, "tabs": TABS, "counts": services.counts(send), "test_form": TestEmailForm(initial={"email": request.user.email}),
           "server_notice": services.mail_server_notice()}
    if tab == "facturas":
        docs = Delivery.objects.filter(send=send).select_related("document").order_by("document__prefix", "document__number")
        ctx["page"] = Paginator(docs, 50).get_page(request.GET.get("page"))
    elif tab == "destinatarios":
        state = request.GET.get("estado", "")
        state = state if state in Delivery.Status.values else ""
        ctx.update(state=state, states=Delivery.Status.choices,
                   page=Paginator(services.ledger(send, state), 100).get_page(request.GET.get("page")))
    return render(request, "mailing/detail.html", ctx)


@issuer_required
def send_status(request, pk):
    """HTMX fragment: state, counters and actions; polls while sending."""
    send = _send(request, pk)
    return render(request, "mailing/_status.html", {"send": send, "counts": services.counts(send)})


@issuer_required
def document_view(request, pk, doc_pk):
    """The message exactly as this invoice's customer receives it."""
    send = _send(request, pk)
    row = get_object_or_404(Delivery.objects.select_related("document"), send=send, document_id=doc_pk)
    c = services.context_for(row.document, send.issuer)
    msg = services.build_message(send, row.document, row.email or "(sin correo)", row.message_id, attachments=[])
    return render(request, "mailing/document.html", {
        "send": send, "row": row, "doc": row.document, "subject": msg.subject, "from": msg.from_email,
        "reply_to": ", ".join(msg.reply_to), "body_html": services.render_html(send.body, c),
        "attachments": services.attachments_for(row.document)})


@issuer_required
def attachment(request, pk, doc_pk, kind):
    send = _send(request, pk)
    row = get_object_or_404(Delivery.objects.select_related("document"), send=send, document_id=doc_pk)
    field = {"pdf": row.document.pdf, "xml": row.document.xml, "zip": row.document.attachment}.get(kind)
    if not field:
        raise Http404
    return FileResponse(field.open("rb"), as_attachment=True, filename=os.path.basename(field.name))


# --- actions (buttons): a refusal goes back to the page with its message (core.middleware.RefusalMiddleware) ---

@issuer_required(roles=WRITE_ROLES)
@require_POST
def send_test(request, pk):
    send = _send(request, pk)
    email = request.POST.get("email", "")
    actions.send_test(request.issuer, Actor.from_request(request), send=send, email=email,
                      document=request.POST.get("document") or None)
    messages.success(request, f"Prueba enviada a {services.normalize_email(email)}.")
    return redirect("mailing:detail", pk=pk)


@issuer_required(roles=WRITE_ROLES)
def send_start(request, pk):
    send = _send(request, pk)
    if request.method != "POST":
        return render(request, "mailing/confirm_start.html", {"send": send, "counts": services.counts(send)})
    actions.start(request.issuer, Actor.from_request(request), send=send)
    messages.success(request, "Envío iniciado.")
    return redirect("mailing:detail", pk=pk)


@issuer_required(roles=WRITE_ROLES)
@require_POST
def send_stop(request, pk):
    actions.stop(request.issuer, Actor.from_request(request), send=_send(request, pk))
    messages.success(request, "Envío detenido. Puede reanudarlo cuando quiera.")
    return redirect("mailing:detail", pk=pk)


@issuer_required(roles=WRITE_ROLES)
@require_POST
def send_resume(request, pk):
    actions.resume(request.issuer, Actor.from_request(request), send=_send(request, pk))
    messages.success(request, "Envío reanudado.")
    return redirect("mailing:detail", pk=pk)


@issuer_required(roles=WRITE_ROLES)
@require_POST
def send_resend_failed(request, pk):
    n = actions.resend_failed(request.issuer, Actor.from_request(request), send=_send(request, pk))
    messages.success(request, f"Se reenviarán {n} entregas fallidas.")
    return redirect("mailing:detail", pk=pk)


@issuer_required(roles=WRITE_ROLES)
@require_POST
def resolve_unknown(request, pk):
    n = actions.resolve_unknown(request.issuer, Actor.from_request(request), send=_send(request, pk),
                                deliveries=request.POST.getlist("delivery"), decision=request.POST.get("action", ""))
    messages.success(request, f"{n} entregas sin confirmar actualizadas.")
    return redirect("mailing:detail", pk=pk)


@issuer_required
def export(request, pk, fmt):
    if fmt not in actions.EXPORT_FORMATS:
        raise Http404
    content, content_type, filename = actions.export_ledger(request.issuer, Actor.from_request(request),
                                                            send=_send(request, pk), fmt=fmt)
    resp = HttpResponse(content, content_type=content_type)
    resp["Content-Disposition"] = f'attachment; filename="{filename}"'
    return resp


# --- public endpoints ---------------------------------------------------------------------------

@csrf_exempt
def unsubscribe(request, token):
    """List-Unsubscribe target: GET shows a confirmation, POST (incl. RFC 8058 one-click) unsubscribes."""
    try:
        issuer_id, email = services.read_unsubscribe_token(token)
    except signing.BadSignature as exc:
        raise Http404 from exc
    issuer = get_object_or_404(Issuer, pk=issuer_id)
    done = False
    if request.method == "POST":
        recipient = dataclasses.replace(Actor.from_request(request), name=f"destinatario {email}")
        actions.opt_out(issuer, recipient, email=email)
        done = True
    return render(request, "mailing/unsubscribe.html", {"issuer": issuer, "email": email, "done": done})


@csrf_exempt
@require_POST
def bounce_webhook(request):
    """Bounce / complaint notifications: JSON {"message_id", "email", "type": hard|soft|complaint, "detail"}
    (or a list of them) or a raw delivery status notification (message/*). Authenticated with a shared token."""
    expected = services.webhook_token()
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip() or request.GET.get("token", "")
    if not expected:
        return JsonResponse({"detail": "Webhook de rebotes no configurado."}, status=503)
    if not hmac.compare_digest(given, expected):
        return JsonResponse({"detail": "No autorizado."}, status=401)
    ctype = request.content_type or ""
    if ctype.startswith(("message/", "multipart/report")):
        return JsonResponse(bounces.process_dsn_bytes(request.body))
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"detail": "JSON no válido."}, status=400)
    return JsonResponse(bounces.apply_events(data if isinstance(data, list) else [data]))
