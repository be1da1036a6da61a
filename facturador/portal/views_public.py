"""The public self-invoicing portal: branch → RFC → (login) → tickets → fiscal data → preview → stamped CFDI."""

import io
import zipfile
from functools import wraps

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.views.decorators.http import require_POST

from facturador.cfdi.pdf import cfdi_pdf
from facturador.core.models import Branch
from facturador.portal import accounts, services
from facturador.portal.forms import (BranchForm, ChangePasswordForm, FiscalDataForm, LoginForm, PaymentForm, RecoverForm,
                                     RfcForm, TicketForm)
from facturador.portal.models import Cfdi, Customer, PortalSettings, Ticket


def portal_view(fn):
    @wraps(fn)
    def wrapper(request, slug, *args, **kwargs):
        ps = get_object_or_404(PortalSettings.objects.select_related("issuer"), slug=slug)
        translation.activate("es-mx")
        timezone.activate(services.MX)
        request.portal = ps
        request.flow = request.session.setdefault(f"portal:{slug}", {})
        customer_id = request.flow.get("customer")
        request.customer = Customer.objects.filter(pk=customer_id, issuer=ps.issuer).first() if customer_id else None
        if (request.customer and request.customer.must_change_password
                and fn.__name__ not in ("change_password", "logout")):
            return redirect("portal:change_password", slug)
        response = fn(request, ps, *args, **kwargs)
        request.session.modified = True
        return response

    return wrapper


def _ctx(request, **extra):
    return {"ps": request.portal, "issuer": request.portal.issuer, "customer": request.customer,
            "flow": request.flow, **extra}


def _client_ip(request):
    return request.META.get("REMOTE_ADDR", "")


@portal_view
def start(request, ps):
    form = BranchForm(request.POST or None, issuer=ps.issuer, initial={"branch": request.flow.get("branch")})
    if request.method == "POST" and form.is_valid():
        request.flow.update(branch=form.cleaned_data["branch"].pk, tickets=[])
        return redirect("portal:rfc", ps.slug)
    return render(request, "portal/start.html", _ctx(request, form=form, step=1))


@portal_view
def rfc(request, ps):
    if not request.flow.get("branch"):
        return redirect("portal:start", ps.slug)
    form = RfcForm(request.POST or None, initial={"rfc": request.flow.get("rfc")})
    if request.method == "POST" and form.is_valid():
        value = form.cleaned_data["rfc"]
        if request.flow.get("rfc") != value:
            request.flow.pop("customer", None)
        request.flow["rfc"] = value
        customer = Customer.objects.filter(issuer=ps.issuer, rfc=value).first()
        if customer and customer.has_account and request.flow.get("customer") != customer.pk:
            return redirect("portal:login", ps.slug)
        return redirect("portal:tickets", ps.slug)
    return render(request, "portal/rfc.html", _ctx(request, form=form, step=2))


@portal_view
def login(request, ps):
    rfc_value = request.flow.get("rfc")
    customer = Customer.objects.filter(issuer=ps.issuer, rfc=rfc_value).first() if rfc_value else None
    if customer is None:
        return redirect("portal:rfc", ps.slug)
    form = LoginForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        try:
            accounts.rate_limit(f"login:{ps.pk}:{_client_ip(request)}", 20, 300)
            accounts.authenticate(customer, form.cleaned_data["password"])
        except accounts.AccountError as exc:
            error = exc.message
        else:
            request.session.cycle_key()
            request.flow["customer"] = customer.pk
            nxt = request.GET.get("next")
            if customer.must_change_password:
                return redirect("portal:change_password", ps.slug)
            return redirect(nxt if nxt and nxt.startswith("/") else reverse("portal:tickets", args=[ps.slug]))
    return render(request, "portal/login.html", _ctx(request, form=form, error=error, rfc=rfc_value, step=2))


def _tickets(request):
    return list(Ticket.objects.filter(pk__in=request.flow.get("tickets", []), issuer=request.portal.issuer))


@portal_view
def tickets(request, ps):
    if not request.flow.get("rfc"):
        return redirect("portal:rfc", ps.slug)
    form = TicketForm(request.POST or None)
    pay_form = PaymentForm(request.POST if "continue" in request.POST else None,
                           initial={"forma_pago": request.flow.get("forma_pago", "01")})
    if request.method == "POST" and "remove" in request.POST:
        request.flow["tickets"] = [t for t in request.flow.get("tickets", []) if str(t) != request.POST["remove"]]
        return redirect("portal:tickets", ps.slug)
    if request.method == "POST" and "continue" in request.POST:
        if not request.flow.get("tickets"):
            form = TicketForm()
            form.add_error(None, "Agregue al menos un ticket.")
        elif pay_form.is_valid():
            request.flow["forma_pago"] = pay_form.cleaned_data["forma_pago"]
            return redirect("portal:fiscal", ps.slug)
    elif request.method == "POST" and form.is_valid():
        try:
            accounts.rate_limit(f"ticket:{ps.pk}:{_client_ip(request)}", 60, 300)
            d = form.cleaned_data
            branch = Branch.objects.get(pk=request.flow["branch"], issuer=ps.issuer)
            ticket = services.find_ticket(ps.issuer, branch, d["ticket_number"], d["order_number"], d["total"])
        except (services.PortalError, accounts.AccountError) as exc:
            form.add_error(getattr(exc, "field", None) if getattr(exc, "field", None) in form.fields else None, exc.message)
        else:
            if ticket.pk not in request.flow.setdefault("tickets", []):
                request.flow["tickets"].append(ticket.pk)
            request.flow.setdefault("forma_pago", ticket.payment_form)
            return redirect("portal:tickets", ps.slug)
    return render(request, "portal/tickets.html", _ctx(request, form=form, pay_form=pay_form, tickets=_tickets(request),
                                                        step=3))


@portal_view
def fiscal(request, ps):
    if not request.flow.get("tickets"):
        return redirect("portal:tickets", ps.slug)
    rfc_value = request.flow["rfc"]
    customer = Customer.objects.filter(issuer=ps.issuer, rfc=rfc_value).first()
    initial = request.flow.get("receptor") or (
        {"name": customer.legal_name, "postal_code": customer.postal_code, "regimen": customer.regimen,
         "uso_cfdi": customer.uso_cfdi, "email": customer.email} if customer else {})
    form = FiscalDataForm(request.POST or None, rfc=rfc_value, initial=initial)
    if customer and customer.has_account:
        form.fields.pop("password")
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "password"}
        request.flow["receptor"] = data
        if form.cleaned_data.get("password"):
            request.flow["new_password"] = True
            request.session[f"portal-pw:{ps.slug}"] = form.cleaned_data["password"]
        return redirect("portal:preview", ps.slug)
    return render(request, "portal/fiscal.html", _ctx(request, form=form, step=4))


@portal_view
def usos(request, ps):
    """HTMX: the UsoCFDI options for the chosen regime."""
    regimen = request.GET.get("regimen", "")
    rfc_value = request.flow.get("rfc", "")
    return render(request, "portal/_usos.html", {"usos": services.usos_for(regimen, len(rfc_value) == 12) if regimen else []})


@portal_view
def preview(request, ps):
    if not request.flow.get("receptor"):
        return redirect("portal:fiscal", ps.slug)
    items = _tickets(request)
    receptor = services.ReceptorData(rfc=request.flow["rfc"], **request.flow["receptor"])
    error = None
    if request.method == "POST":
        try:
            accounts.rate_limit(f"stamp:{ps.pk}:{_client_ip(request)}", 20, 300)
            customer = _save_customer(request, ps, receptor)
            cfdi = services.invoice_tickets(ps.issuer, items, receptor, request.flow.get("forma_pago", "01"), customer=customer)
        except (services.PortalError, accounts.AccountError) as exc:
            error = exc.message
        else:
            request.flow.setdefault("issued", []).append(cfdi.uuid)
            request.flow["tickets"] = []
            return redirect("portal:result", ps.slug, cfdi.uuid)
    subtotal = sum(t.subtotal for t in items)
    tax = sum(t.tax for t in items)
    return render(request, "portal/preview.html", _ctx(request, tickets=items, receptor=receptor, subtotal=subtotal, tax=tax,
                                                        total=subtotal + tax, error=error, step=5,
                                                        regimen=services.REGIMENES.get(receptor.regimen),
                                                        uso=services.USOS.get(receptor.uso_cfdi)))


def _save_customer(request, ps, receptor):
    customer, _ = Customer.objects.get_or_create(issuer=ps.issuer, rfc=receptor.rfc, defaults={
        "legal_name": receptor.name, "postal_code": receptor.postal_code, "regimen": receptor.regimen,
        "uso_cfdi": receptor.uso_cfdi, "email": receptor.email})
    customer.legal_name, customer.postal_code, customer.regimen, customer.uso_cfdi = (
        receptor.name, receptor.postal_code, receptor.regimen, receptor.uso_cfdi)
    if receptor.email:
        customer.email = receptor.email
    customer.save()
    password = request.session.pop(f"portal-pw:{ps.slug}", None)
    if password and not customer.has_account:
        accounts.set_password(customer, password)
        request.flow["customer"] = customer.pk
    return customer


def _owned_cfdi(request, ps, uuid) -> Cfdi:
    cfdi = get_object_or_404(Cfdi, issuer=ps.issuer, uuid=uuid.upper())
    mine = cfdi.uuid in request.flow.get("issued", []) or (request.customer and cfdi.customer_id == request.customer.pk)
    if not mine:
        raise Http404
    return cfdi


@portal_view
def result(request, ps, uuid):
    cfdi = _owned_cfdi(request, ps, uuid)
    sent = None
    if request.method == "POST":
        email = request.POST.get("email", "").strip()
        try:
            accounts.rate_limit(f"mail:{ps.pk}:{_client_ip(request)}", 10, 300)
            send_cfdi_email(cfdi, email)
            sent = email
        except (accounts.AccountError, ValueError) as exc:
            return render(request, "portal/result.html", _ctx(request, cfdi=cfdi, error=getattr(exc, "message", str(exc))))
    return render(request, "portal/result.html", _ctx(request, cfdi=cfdi, sent=sent, step=6))


def send_cfdi_email(cfdi: Cfdi, email: str):
    from django.core.exceptions import ValidationError
    from django.core.mail import EmailMessage
    from django.core.validators import validate_email

    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValueError("Escriba un correo válido.") from exc
    msg = EmailMessage(subject=f"Factura {cfdi.full_number} de {cfdi.issuer.legal_name}",
                       body=f"Adjuntamos su factura {cfdi.full_number} (UUID {cfdi.uuid}) por ${cfdi.total}.", to=[email])
    msg.attach(f"{cfdi.uuid}.xml", bytes(cfdi.xml), "application/xml")
    msg.attach(f"{cfdi.uuid}.pdf", cfdi_pdf(bytes(cfdi.xml)), "application/pdf")
    msg.send()


@portal_view
def download(request, ps, uuid, what):
    cfdi = _owned_cfdi(request, ps, uuid)
    if what == "xml":
        resp = HttpResponse(bytes(cfdi.xml), content_type="application/xml")
    else:
        resp = HttpResponse(cfdi_pdf(bytes(cfdi.xml)), content_type="application/pdf")
    resp["Content-Disposition"] = f'attachment; filename="{cfdi.uuid}.{what}"'
    return resp


@portal_view
def panel(request, ps):
    if request.customer is None:
        return redirect(reverse("portal:rfc", args=[ps.slug]))
    qs = Cfdi.objects.filter(issuer=ps.issuer, customer=request.customer).select_related("branch")
    f = request.GET
    if f.get("from"):
        qs = qs.filter(issued_at__date__gte=f["from"])
    if f.get("to"):
        qs = qs.filter(issued_at__date__lte=f["to"])
    if f.get("branch"):
        qs = qs.filter(branch_id=f["branch"])
    if f.get("status"):
        qs = qs.filter(status=f["status"])
    if f.get("min"):
        qs = qs.filter(total__gte=f["min"])
    if f.get("max"):
        qs = qs.filter(total__lte=f["max"])
    if request.method == "POST":
        chosen = qs.filter(uuid__in=request.POST.getlist("uuid"))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for c in chosen:
                zf.writestr(f"{c.uuid}.xml", bytes(c.xml))
                zf.writestr(f"{c.uuid}.pdf", cfdi_pdf(bytes(c.xml)))
        resp = HttpResponse(buf.getvalue(), content_type="application/zip")
        resp["Content-Disposition"] = 'attachment; filename="facturas.zip"'
        return resp
    return render(request, "portal/panel.html", _ctx(request, cfdis=qs[:500], f=f, statuses=Cfdi.Status.choices,
                                                      branches=Branch.objects.filter(issuer=ps.issuer)))


@portal_view
def profile(request, ps):
    if request.customer is None:
        return redirect("portal:rfc", ps.slug)
    c = request.customer
    form = FiscalDataForm(request.POST or None, rfc=c.rfc, initial={"name": c.legal_name, "postal_code": c.postal_code,
                                                                     "regimen": c.regimen, "uso_cfdi": c.uso_cfdi, "email": c.email})
    form.fields.pop("password")
    saved = False
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        c.legal_name, c.postal_code, c.regimen, c.uso_cfdi, c.email = d["name"], d["postal_code"], d["regimen"], d["uso_cfdi"], d["email"] or c.email
        c.save()
        request.flow.pop("receptor", None)
        saved = True
    return render(request, "portal/profile.html", _ctx(request, form=form, saved=saved))


@portal_view
def change_password(request, ps):
    if request.customer is None:
        return redirect("portal:rfc", ps.slug)
    form = ChangePasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            accounts.authenticate(request.customer, form.cleaned_data["current"])
            accounts.set_password(request.customer, form.cleaned_data["new1"])
        except accounts.AccountError as exc:
            form.add_error("current" if exc.code in ("password", "locked") else "new1", exc.message)
        else:
            return redirect("portal:panel", ps.slug)
    return render(request, "portal/change_password.html", _ctx(request, form=form))


@portal_view
def recover(request, ps):
    form = RecoverForm(request.POST or None)
    done = False
    if request.method == "POST" and form.is_valid():
        try:
            accounts.rate_limit(f"recover:{ps.pk}:{_client_ip(request)}", 5, 900)
            accounts.check_captcha(request.session, form.cleaned_data["captcha"])
            rfc_value = form.cleaned_data["rfc"].strip().upper()
            customer = Customer.objects.filter(issuer=ps.issuer, rfc=rfc_value).first()
            accounts.recover(customer, form.cleaned_data["email"], ps.issuer.trade_name or ps.issuer.legal_name)
            done = True
        except accounts.AccountError as exc:
            form.add_error("captcha" if exc.code == "captcha" else None, exc.message)
    question = accounts.new_captcha(request.session)
    request.session[f"captcha-q:{ps.slug}"] = question
    return render(request, "portal/recover.html", _ctx(request, form=form, done=done,
                                                        ts=int(timezone.now().timestamp())))


@portal_view
def captcha(request, ps):
    question = request.session.get(f"captcha-q:{ps.slug}") or accounts.new_captcha(request.session)
    resp = HttpResponse(accounts.captcha_png(question), content_type="image/png")
    resp["Cache-Control"] = "no-store"
    return resp


@portal_view
@require_POST
def logout(request, ps):
    request.session.pop(f"portal:{ps.slug}", None)
    return redirect("portal:start", ps.slug)
