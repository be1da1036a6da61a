from django.contrib import messages
from django.core import signing
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from facturador.core import audit
from facturador.core.models import Issuer, IssuedDocument
from facturador.core.tenancy import WRITE_ROLES, issuer_required
from facturador.mailing import bounces, engine, exports, services
from facturador.mailing.forms import MailSendForm, TestEmailForm
from facturador.mailing.models import Delivery, MailSend, Suppression

TABS = [("resumen", "Resumen"), ("facturas", "Facturas"), ("destinatarios", "Destinatarios")]


def _send(request, pk):
    send = get_object_or_404(MailSend.objects.select_related("issuer", "job"), pk=pk, issuer=request.issuer)
    return engine.sync_status(send)


@issuer_required
def send_list(request):
    sends = MailSend.objects.filter(issuer=request.issuer).select_related("job")
    page = Paginator(sends, 25).get_page(request.GET.get("page"))
    for s in page:
        s.counts = services.counts(s)
    return render(request, "mailing/list.html", {"page": page})


@issuer_required(roles=WRITE_ROLES)
def send_create(request):
    form = MailSendForm(request.POST or None, issuer=request.issuer)
    if request.method == "POST" and form.is_valid():
        try:
            send = form.register(request.user)
        except services.MailingError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            audit.record("mailsend.create", issuer=request.issuer, obj=send, request=request, summary=send.ranges_display)
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
        customers = {}
        for d in docs:
            customers.setdefault(services.customer_key(d), d)
        selected = set(form.selected)
        if form.cleaned_data.get("recipients") == MailSend.Recipients.SELECTED:
            docs = [d for d in docs if services.customer_key(d) in selected]
        legally = bool(form.cleaned_data.get("legally_required"))
        emails = [services.normalize_email(d.customer_email) for d in docs]
        supp = services.suppressions(request.issuer, [e for e in emails if e])
        excluded = {}
        for d, e in zip(docs, emails):
            reason = services.exclusion_for(request.issuer, e, legally, supp)
            if reason:
                excluded[Delivery.Exclusion(reason).label] = excluded.get(Delivery.Exclusion(reason).label, 0) + 1
        ctx.update(documents=docs, customers=list(customers.items()), selected=selected, excluded=excluded,
                   to_send=len(docs) - sum(excluded.values()))
        chosen = request.POST.get("preview_document")
        sample = next((d for d in docs if str(d.pk) == chosen), docs[0] if docs else None)
        if sample is not None and "subject" in form.cleaned_data and "body" in form.cleaned_data:
            c = services.context_for(sample, request.issuer)
            ctx.update(sample=sample, subject=services.render(form.cleaned_data["subject"], c),
                       body_html=services.render_html(form.cleaned_data["body"], c),
                       attachments=_attachment_names(sample))
    return render(request, "mailing/_preview.html", ctx)


def _attachment_names(doc):
    import os

    if doc.attachment:
        return [os.path.basename(doc.attachment.name)]
    return [os.path.basename(f.name) for f in (doc.pdf, doc.xml) if f]


@issuer_required
def send_detail(request, pk):
    send = _send(request, pk)
    tab = request.GET.get("tab", "resumen")
    ctx = {"send": send, "tab": tab, "tabs": TABS, "counts": services.counts(send), "test_form": TestEmailForm()}
    if tab == "facturas":
        docs = Delivery.objects.filter(send=send).select_related("document").order_by("document__prefix", "document__number")
        ctx["page"] = Paginator(docs, 50).get_page(request.GET.get("page"))
    elif tab == "destinatarios":
        rows = Delivery.objects.filter(send=send).select_related("document")
        state = request.GET.get("estado", "")
        if state in Delivery.Status.values:
            rows = rows.filter(status=state)
        ctx.update(state=state, states=Delivery.Status.choices,
                   page=Paginator(rows.order_by("id"), 100).get_page(request.GET.get("page")))
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
    import os

    return FileResponse(field.open("rb"), as_attachment=True, filename=os.path.basename(field.name))


@issuer_required(roles=WRITE_ROLES)
@require_POST
def send_test(request, pk):
    send = _send(request, pk)
    form = TestEmailForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Escriba un correo válido para la prueba.")
        return redirect("mailing:detail", pk=pk)
    doc = None
    if form.cleaned_data.get("document"):
        doc = get_object_or_404(IssuedDocument, pk=form.cleaned_data["document"], issuer=request.issuer)
    try:
        services.send_test(send, form.cleaned_data["email"], doc)
    except services.MailingError as exc:
        messages.error(request, exc.message)
    except Exception as exc:  # SMTP down, refused...
        messages.error(request, f"No se pudo enviar la prueba: {exc}")
    else:
        audit.record("mailsend.test", issuer=request.issuer, obj=send, request=request, summary=form.cleaned_data["email"])
        messages.success(request, f"Prueba enviada a {form.cleaned_data['email']}.")
    return redirect("mailing:detail", pk=pk)


def _action(request, pk, fn, done_message, audit_action):
    send = _send(request, pk)
    try:
        result = fn(send)
    except services.MailingError as exc:
        messages.error(request, exc.message)
    else:
        audit.record(audit_action, issuer=request.issuer, obj=send, request=request)
        messages.success(request, done_message(result) if callable(done_message) else done_message)
    return redirect("mailing:detail", pk=pk)


@issuer_required(roles=WRITE_ROLES)
def send_start(request, pk):
    send = _send(request, pk)
    if request.method != "POST":
        return render(request, "mailing/confirm_start.html", {"send": send, "counts": services.counts(send)})
    return _action(request, pk, lambda s: engine.start(s, request.user), "Envío iniciado.", "mailsend.start")


@issuer_required(roles=WRITE_ROLES)
@require_POST
def send_stop(request, pk):
    return _action(request, pk, engine.stop, "Envío detenido. Puede reanudarlo cuando quiera.", "mailsend.stop")


@issuer_required(roles=WRITE_ROLES)
@require_POST
def send_resume(request, pk):
    return _action(request, pk, lambda s: engine.resume(s, request.user), "Envío reanudado.", "mailsend.resume")


@issuer_required(roles=WRITE_ROLES)
@require_POST
def send_resend_failed(request, pk):
    return _action(request, pk, lambda s: engine.resend_failed(s, request.user),
                   lambda n: f"Se reenviarán {n} entregas fallidas.", "mailsend.resend_failed")


@issuer_required(roles=WRITE_ROLES)
@require_POST
def resolve_unknown(request, pk):
    action = request.POST.get("action", "")
    ids = request.POST.getlist("delivery")
    return _action(request, pk, lambda s: engine.resolve_unknown(s, ids, action, request.user),
                   lambda n: f"{n} entregas sin confirmar actualizadas.", f"mailsend.unknown_{action}"[:80])


@issuer_required
def export(request, pk, fmt):
    send = _send(request, pk)
    if fmt not in ("csv", "xlsx"):
        raise Http404
    if fmt == "csv":
        resp = HttpResponse(exports.to_csv(send), content_type="text/csv; charset=utf-8")
    else:
        resp = HttpResponse(exports.to_xlsx(send),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp["Content-Disposition"] = f'attachment; filename="envio-{send.pk}-entregas.{fmt}"'
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
        Suppression.objects.get_or_create(issuer=issuer, email=email, reason=Suppression.Reason.OPTED_OUT,
                                          defaults={"detail": "Enlace de baja"})
        done = True
    return render(request, "mailing/unsubscribe.html", {"issuer": issuer, "email": email, "done": done})


@csrf_exempt
@require_POST
def bounce_webhook(request):
    """Bounce / complaint notifications: JSON {"message_id", "email", "type": hard|soft|complaint, "detail"}
    or a raw delivery status notification (message/*). Authenticated with a shared token."""
    expected = services.webhook_token()
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip() or request.GET.get("token", "")
    if not expected:
        return JsonResponse({"detail": "Webhook de rebotes no configurado."}, status=503)
    import hmac

    if not hmac.compare_digest(given, expected):
        return JsonResponse({"detail": "No autorizado."}, status=401)
    ctype = request.content_type or ""
    if ctype.startswith("message/") or ctype.startswith("multipart/report"):
        result = bounces.process_dsn_bytes(request.body)
    else:
        import json

        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            return JsonResponse({"detail": "JSON no válido."}, status=400)
        events = data if isinstance(data, list) else [data]
        result = {"matched": 0, "unmatched": 0}
        for ev in events:
            ok = bounces.apply_bounce(message_id=ev.get("message_id", ""), email=ev.get("email", ""),
                                      hard=ev.get("type", "hard") in ("hard", "complaint"),
                                      detail=ev.get("detail", ""), complaint=ev.get("type") == "complaint")
            result["matched" if ok else "unmatched"] += 1
    return JsonResponse(result)
