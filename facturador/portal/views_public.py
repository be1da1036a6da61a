"""The public self-invoicing portal: branch → RFC → (login) → tickets → fiscal data → preview → stamped CFDI."""

from functools import wraps

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.views.decorators.http import require_POST

from facturador.core.errors import Refusal
from facturador.core.forms import add_refusal
from facturador.core.models import Branch
from facturador.core.redirects import safe_next
from facturador.portal import accounts, actions, services
from facturador.portal.forms import (
    BranchForm,
    ChangePasswordForm,
    EmailForm,
    FiscalDataForm,
    LoginForm,
    PanelFilterForm,
    PaymentForm,
    RecoverForm,
    RfcForm,
    TicketForm,
)
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


def _refused(form, refusal: Refusal) -> int:
    """Show a refusal on the form; the page's status: 429 when a throttle refused, else 200 (the form re-rendered)."""
    add_refusal(form, refusal)
    return 429 if refusal.status == 429 else 200


def _actor(request, rfc=None):
    return actions.customer_actor(request, rfc or request.flow.get("rfc"))


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
        if request.customer and request.customer.rfc == value:  # already signed in with this RFC
            return redirect("portal:tickets", ps.slug)
        # the same next page whether or not the RFC has an account (no enumeration): "ingresar" or
        # "continuar sin cuenta"
        return redirect("portal:login", ps.slug)
    return render(request, "portal/rfc.html", _ctx(request, form=form, step=2))


@portal_view
def login(request, ps):
    status = 200
    rfc_value = request.flow.get("rfc")
    if not rfc_value:
        return redirect("portal:rfc", ps.slug)
    form = LoginForm(request.POST or None, ask_rfc=False)
    if request.method == "POST" and form.is_valid():
        try:
            customer = actions.customer_login(ps.issuer, _actor(request), rfc=rfc_value,
                                              password=form.cleaned_data["password"],
                                              device=request.COOKIES.get(accounts.DEVICE_COOKIE))
        except Refusal as r:
            status = _refused(form, r)
        else:
            request.session.cycle_key()
            request.flow["customer"] = customer.pk
            if customer.must_change_password:
                return _with_device(redirect("portal:change_password", ps.slug), customer)
            return _with_device(redirect(safe_next(request, request.GET.get("next"),
                                                   reverse("portal:tickets", args=[ps.slug]))), customer)
    return render(request, "portal/login.html", _ctx(request, form=form, rfc=rfc_value, step=2), status=status)


@portal_view
def signin(request, ps):
    """The direct entry "Mis facturas / Ingresar" (start page): RFC and password, then the customer's panel."""
    status = 200
    if request.customer is not None:
        return redirect("portal:panel", ps.slug)
    form = LoginForm(request.POST or None, ask_rfc=True, initial={"rfc": request.flow.get("rfc")})
    if request.method == "POST" and form.is_valid():
        rfc_value = form.cleaned_data["rfc"]
        try:
            customer = actions.customer_login(ps.issuer, _actor(request, rfc_value), rfc=rfc_value,
                                              password=form.cleaned_data["password"],
                                              device=request.COOKIES.get(accounts.DEVICE_COOKIE))
        except Refusal as r:
            status = _refused(form, r)
        else:
            request.session.cycle_key()
            if request.flow.get("rfc") != rfc_value:
                request.flow.update(rfc=rfc_value, tickets=[])
                request.flow.pop("receptor", None)
            request.flow["customer"] = customer.pk
            if customer.must_change_password:
                return _with_device(redirect("portal:change_password", ps.slug), customer)
            return _with_device(redirect("portal:panel", ps.slug), customer)
    return render(request, "portal/signin.html", _ctx(request, form=form), status=status)


def _with_device(response, customer):
    """Leave the device cookie of a successful sign-in (see `portal.accounts`)."""
    response.set_cookie(accounts.DEVICE_COOKIE, accounts.device_token(customer), max_age=accounts.DEVICE_MAX_AGE,
                        secure=settings.SESSION_COOKIE_SECURE, httponly=True, samesite="Lax")
    return response


def _tickets(request):
    return list(Ticket.objects.filter(pk__in=request.flow.get("tickets", []), issuer=request.portal.issuer))


@portal_view
def tickets(request, ps):
    status = 200
    if not request.flow.get("rfc"):
        return redirect("portal:rfc", ps.slug)
    form = TicketForm(request.POST or None)
    pay_form = PaymentForm(request.POST if "continue" in request.POST else None,
                           initial={"forma_pago": request.flow.get("forma_pago", "01")})
    if request.method == "POST" and "remove" in request.POST:
        request.flow["tickets"] = [t for t in request.flow.get("tickets", []) if str(t) != request.POST["remove"]]
        return redirect("portal:tickets", ps.slug)
    if request.method == "POST" and "continue" in request.POST:
        form = TicketForm()
        if not request.flow.get("tickets"):
            form.add_error(None, "Agregue al menos un ticket.")
        elif pay_form.is_valid():
            request.flow["forma_pago"] = pay_form.cleaned_data["forma_pago"]
            return redirect("portal:fiscal", ps.slug)
    elif request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            ticket = actions.lookup_ticket(ps.issuer, _actor(request), branch_id=request.flow.get("branch"),
                                           ticket_number=d["ticket_number"], order_number=d["order_number"], total=d["total"])
        except Refusal as r:
            status = _refused(form, r)
        else:
            if ticket.pk not in request.flow.setdefault("tickets", []):
                request.flow["tickets"].append(ticket.pk)
            request.flow.setdefault("forma_pago", ticket.payment_form)
            return redirect("portal:tickets", ps.slug)
    return render(request, "portal/tickets.html", _ctx(request, form=form, pay_form=pay_form, tickets=_tickets(request),
                                                        step=3), status=status)


@portal_view
def fiscal(request, ps):
    if not request.flow.get("tickets"):
        return redirect("portal:tickets", ps.slug)
    rfc_value = request.flow["rfc"]
    # a customer's saved data only for the customer signed in with this RFC; for anyone else the same empty form
    # (with the optional password) whether or not the RFC has an account
    customer = request.customer if request.customer and request.customer.rfc == rfc_value else None
    initial = request.flow.get("receptor") or (
        {"name": customer.legal_name, "postal_code": customer.postal_code, "regimen": customer.regimen,
         "uso_cfdi": customer.uso_cfdi, "email": customer.email} if customer else {})
    form = FiscalDataForm(request.POST or None, rfc=rfc_value, initial=initial)
    form.fields["regimen"].widget.attrs["data-usos-url"] = reverse("portal:usos", args=[ps.slug])
    if customer:
        form.fields.pop("password")
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k not in ("password", "password_hash")}
        request.flow["receptor"] = data
        # only the hash of the chosen password waits in the session until "Generar factura" creates the account
        request.flow["password_hash"] = form.cleaned_data.get("password_hash") or None
        return redirect("portal:preview", ps.slug)
    return render(request, "portal/fiscal.html", _ctx(request, form=form, step=4))


@portal_view
def usos(request, ps):
    """HTMX: the UsoCFDI options for the chosen regime."""
    regimen = request.GET.get("regimen", "")
    rfc_value = request.customer.rfc if request.customer else request.flow.get("rfc", "")
    return render(request, "portal/_usos.html", {"usos": services.usos_for(regimen, len(rfc_value) == 12) if regimen else []})


@portal_view
def preview(request, ps):
    status = 200
    if not request.flow.get("receptor"):
        return redirect("portal:fiscal", ps.slug)
    items = _tickets(request)
    receptor = services.ReceptorData(rfc=request.flow["rfc"], **request.flow["receptor"])
    form = forms.Form(request.POST or None)
    if request.method == "POST":
        try:
            cfdi, account_created = actions.generate_invoice(
                ps.issuer, _actor(request), ticket_ids=request.flow.get("tickets", []), receptor=receptor,
                forma_pago=request.flow.get("forma_pago", "01"), password_hash=request.flow.get("password_hash"),
                signed_in=request.customer)
        except Refusal as r:
            status = _refused(form, r)
        else:
            request.flow.pop("password_hash", None)
            if account_created:
                request.flow["customer"] = cfdi.customer_id
            request.flow.setdefault("issued", []).append(cfdi.uuid)
            request.flow["tickets"] = []
            return redirect("portal:result", ps.slug, cfdi.uuid)
    subtotal = sum(t.subtotal for t in items)
    tax = sum(t.tax for t in items)
    return render(request, "portal/preview.html", _ctx(request, form=form, tickets=items, receptor=receptor,
                                                        subtotal=subtotal, tax=tax, total=subtotal + tax, step=5,
                                                        regimen=services.REGIMENES.get(receptor.regimen),
                                                        uso=services.USOS.get(receptor.uso_cfdi)), status=status)


def _owned_cfdi(request, ps, uuid) -> Cfdi:
    cfdi = get_object_or_404(Cfdi, issuer=ps.issuer, uuid=uuid.upper())
    mine = cfdi.uuid in request.flow.get("issued", []) or (request.customer and cfdi.customer_id == request.customer.pk)
    if not mine:
        raise Http404
    return cfdi


@portal_view
def result(request, ps, uuid):
    status = 200
    cfdi = _owned_cfdi(request, ps, uuid)
    form = EmailForm(request.POST or None, initial={"email": request.customer.email if request.customer else ""})
    sent = None
    if request.method == "POST" and form.is_valid():
        try:
            sent = actions.email_invoice(ps.issuer, _actor(request), cfdi=cfdi, email=form.cleaned_data["email"])
        except Refusal as r:
            status = _refused(form, r)
    return render(request, "portal/result.html", _ctx(request, cfdi=cfdi, form=form, sent=sent, step=6), status=status)


@portal_view
def download(request, ps, uuid, what):
    cfdi = _owned_cfdi(request, ps, uuid)
    content, content_type = services.cfdi_file(cfdi, what)
    resp = HttpResponse(content, content_type=content_type)
    resp["Content-Disposition"] = f'attachment; filename="{cfdi.uuid}.{what}"'
    return resp


@portal_view
def panel(request, ps):
    if request.customer is None:
        return redirect(reverse("portal:signin", args=[ps.slug]))
    if request.method == "POST":
        content = actions.download_selection(ps.issuer, _actor(request), customer=request.customer,
                                             uuids=request.POST.getlist("uuid"))
        resp = HttpResponse(content, content_type="application/zip")
        resp["Content-Disposition"] = 'attachment; filename="facturas.zip"'
        return resp
    filters = PanelFilterForm(request.GET)
    filters.is_valid()  # a filter that is not valid is ignored; the others apply
    f = filters.cleaned_data
    qs = services.customer_cfdis(ps.issuer, request.customer, date_from=f.get("date_from"), date_to=f.get("date_to"),
                                 branch=f.get("branch"), status=f.get("status", ""), min_total=f.get("min"),
                                 max_total=f.get("max"))
    return render(request, "portal/panel.html", _ctx(request, cfdis=qs[:500], f=request.GET, ignored=filters.ignored(),
                                                      statuses=Cfdi.Status.choices,
                                                      branches=Branch.objects.filter(issuer=ps.issuer)))


@portal_view
def profile(request, ps):
    if request.customer is None:
        return redirect("portal:rfc", ps.slug)
    c = request.customer
    form = FiscalDataForm(request.POST or None, rfc=c.rfc, initial={"name": c.legal_name, "postal_code": c.postal_code,
                                                                     "regimen": c.regimen, "uso_cfdi": c.uso_cfdi, "email": c.email})
    form.fields.pop("password")
    form.fields["regimen"].widget.attrs["data-usos-url"] = reverse("portal:usos", args=[ps.slug])
    saved = False
    if request.method == "POST" and form.is_valid():
        try:
            actions.save_fiscal_data(ps.issuer, _actor(request), customer=c, receptor=form.receptor())
        except Refusal as r:
            add_refusal(form, r)
        else:
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
            actions.change_password(ps.issuer, _actor(request), customer=request.customer,
                                    current=form.cleaned_data["current"], new=form.cleaned_data["new1"])
        except Refusal as r:
            add_refusal(form, r)
        else:
            messages.success(request, "Su contraseña se cambió. Úsela la próxima vez que ingrese.")
            return redirect("portal:panel", ps.slug)
    return render(request, "portal/change_password.html", _ctx(request, form=form))


@portal_view
def recover(request, ps):
    status = 200
    form = RecoverForm(request.POST or None)
    done = False
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            actions.recover_password(ps.issuer, _actor(request, d["rfc"]), rfc=d["rfc"], email=d["email"],
                                     captcha_challenge=accounts.take_captcha(request.session),
                                     captcha_answer=d["captcha"])
        except Refusal as r:
            status = _refused(form, r)
        else:
            done = True
    accounts.new_captcha(request.session)
    return render(request, "portal/recover.html", _ctx(request, form=form, done=done,
                                                        ts=int(timezone.now().timestamp())), status=status)


@portal_view
def captcha(request, ps):
    resp = HttpResponse(accounts.captcha_png(accounts.current_captcha(request.session)), content_type="image/png")
    resp["Cache-Control"] = "no-store"
    return resp


@portal_view
@require_POST
def logout(request, ps):
    request.session.pop(f"portal:{ps.slug}", None)
    return redirect("portal:start", ps.slug)
