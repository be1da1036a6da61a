"""The public portal with Django's test client: every step, refusals, accounts and the panel."""

import datetime as dt
import re

from facturador.core.models import AuditEntry
from facturador.portal.models import Cfdi, Customer, Ticket
from facturador.portal.services import MX
from facturador.portal.tests.conftest import RECEPTOR


def walk_to_tickets(client, portal, rfc=RECEPTOR["rfc"]):
    base = f"/autofacturacion/p/{portal.ps.slug}/"
    from facturador.core.models import Branch

    branch = Branch.objects.get(issuer=portal, code="CDMX01")
    assert client.post(base, {"branch": branch.pk}).status_code == 302
    return base, client.post(base + "rfc/", {"rfc": rfc})


def test_full_flow_creates_account_and_stamped_invoice(client, portal, make_ticket, smtp_server):
    t = make_ticket()
    base, resp = walk_to_tickets(client, portal)
    assert resp["Location"].endswith("/ingresar/")  # "ingresar" or "continuar sin cuenta", account or not
    bad = client.post(base + "tickets/", {"order_number": t.order_number, "ticket_number": t.ticket_number, "total": "1.00"})
    assert "El total no coincide" in bad.content.decode()
    [error] = bad.context["form"].errors.as_data()["total"]
    assert error.code == "portal.ticket.total_mismatch"
    client.post(base + "tickets/", {"order_number": t.order_number, "ticket_number": t.ticket_number, "total": str(t.total)})
    assert client.post(base + "tickets/", {"continue": "1", "forma_pago": "04"}).status_code == 302
    fiscal = client.post(base + "datos-fiscales/", {"name": RECEPTOR["name"], "postal_code": "01160", "regimen": "612",
                                                    "uso_cfdi": "G03", "email": "karla@example.com", "password": "Clave-12345"})
    assert fiscal.status_code == 302
    preview = client.get(base + "vista-previa/").content.decode()
    assert "KARLA FUENTE NOLASCO" in preview and "116.00" in preview
    done = client.post(base + "vista-previa/")
    assert done.status_code == 302
    cfdi = Cfdi.objects.get()
    assert cfdi.uuid in done["Location"]
    assert client.get(base + f"factura/{cfdi.uuid}/xml/").content == bytes(cfdi.xml)
    assert client.get(base + f"factura/{cfdi.uuid}/pdf/")["Content-Type"] == "application/pdf"
    client.post(base + f"factura/{cfdi.uuid}/", {"email": "otra@example.com"})
    msg = smtp_server.messages[-1]
    names = sorted(part.get_filename() for part in msg.iter_attachments())
    assert names == [f"{cfdi.uuid}.pdf", f"{cfdi.uuid}.xml"]
    customer = Customer.objects.get(rfc=RECEPTOR["rfc"])
    assert customer.has_account and cfdi.customer == customer
    assert Ticket.objects.get(pk=t.pk).status == "invoiced"
    entry = AuditEntry.objects.get(action="portal.invoice")
    assert (entry.channel, entry.actor, entry.user, entry.object_id) == ("web", f"rfc:{RECEPTOR['rfc']}", None, str(cfdi.pk))
    # the panel lists it; a stranger's session cannot download it
    panel = client.get(base + "mis-facturas/").content.decode()
    assert cfdi.uuid in panel
    from django.test import Client

    assert Client().get(base + f"factura/{cfdi.uuid}/xml/").status_code == 404


def test_returning_customer_must_log_in_and_lockout(client, portal, make_ticket, settings):
    from facturador.portal import accounts

    c = Customer.objects.create(issuer=portal, rfc=RECEPTOR["rfc"], legal_name=RECEPTOR["name"], postal_code="01160",
                                regimen="612", email="karla@example.com")
    accounts.set_password(c, "Clave-12345")
    base, resp = walk_to_tickets(client, portal)
    assert resp["Location"].endswith("/ingresar/")
    for _ in range(settings.FACTURADOR_PORTAL_LOCKOUT_FAILURES):
        client.post(base + "ingresar/", {"password": "mala-clave"})
    assert "bloqueada" in client.post(base + "ingresar/", {"password": "Clave-12345"}).content.decode()


def test_password_recovery_with_captcha_and_forced_change(client, portal, smtp_server):
    from facturador.portal import accounts

    c = Customer.objects.create(issuer=portal, rfc=RECEPTOR["rfc"], legal_name=RECEPTOR["name"], postal_code="01160",
                                regimen="612", email="karla@example.com")
    accounts.set_password(c, "Clave-12345")
    base = f"/autofacturacion/p/{portal.ps.slug}/"
    client.get(base + "recuperar/")
    assert client.get(base + "verificacion.png")["Content-Type"] == "image/png"
    wrong = client.post(base + "recuperar/", {"rfc": c.rfc, "email": c.email, "captcha": "999999"})
    assert "verificación no es correcta" in wrong.content.decode() and not smtp_server.messages
    answer = client.session[accounts.CAPTCHA_KEY]["answer"]
    ok = client.post(base + "recuperar/", {"rfc": c.rfc, "email": c.email, "captcha": answer})
    assert "enviamos una contraseña temporal" in ok.content.decode()
    temp = re.search(r"es: (\S+)", smtp_server.messages[-1].get_body().get_content()).group(1)
    walk_to_tickets(client, portal)
    resp = client.post(base + "ingresar/", {"password": temp})
    assert resp["Location"].endswith("/clave/")
    assert client.get(base + "mis-facturas/")["Location"].endswith("/clave/")  # forced change first
    client.post(base + "clave/", {"current": temp, "new1": "Nueva-clave-77", "new2": "Nueva-clave-77"})
    c.refresh_from_db()
    assert not c.must_change_password and accounts.authenticate(c, "Nueva-clave-77")


def test_backoffice_and_tenant_isolation(admin_co, client, make_user, portal, make_ticket):
    from django.test import Client

    client_co = Client()
    client_co.force_login(admin_co)
    t = make_ticket()
    client.force_login(make_user("mx_admin", portal, "admin"))
    html = client.get("/autofacturacion/").content.decode()
    assert t.ticket_number in html
    assert client.post(f"/autofacturacion/tickets/{t.pk}/bloquear/").status_code == 302
    assert Ticket.objects.get(pk=t.pk).status == "blocked"
    assert client_co.post(f"/autofacturacion/tickets/{t.pk}/bloquear/").status_code in (403, 404)


def test_pos_api_is_idempotent_and_names_bad_rows(api_client, make_user, portal):
    api_client.force_authenticate(make_user("pos", portal, "billing"))
    url = f"/api/v1/issuers/{portal.pk}/portal/tickets/"
    sale = {"branch": "CDMX01", "ticket_number": "T-1", "order_number": "O-1", "sold_at": "2026-11-20 10:30",
            "subtotal": "100.00", "tax": "16.00", "total": "116.00"}
    assert api_client.post(url, sale, format="json").json() == {"created": 1, "already_known": 0}
    assert api_client.post(url, sale, format="json").json() == {"created": 0, "already_known": 1}
    bad = api_client.post(url, [{**sale, "ticket_number": "T-2"}, {**sale, "ticket_number": "T-3", "total": "117.00"}], format="json")
    body = bad.json()
    assert bad.status_code == 400 and body["code"] == "portal.ticket_import.total_mismatch"
    assert body["field"] == "total" and body["details"] == {"row": 2, "column": "total"} and "Fila 2" in body["detail"]
    assert not Ticket.objects.filter(ticket_number="T-2").exists()  # all or nothing


def test_backoffice_writes_totals_the_mexican_way_and_the_api_plain(api_client, client, make_user, portal,
                                                                       make_ticket):
    make_ticket(subtotal="5345.26")  # + 16 % IVA = 6,200.50
    user = make_user("mx_money", portal, "admin")
    client.force_login(user)
    assert "$6,200.50" in client.get("/autofacturacion/").content.decode()
    api_client.force_authenticate(user)
    row = api_client.get(f"/api/v1/issuers/{portal.pk}/portal/tickets/").json()["results"][0]
    assert (row["subtotal"], row["tax"], row["total"]) == ("5345.26", "855.24", "6200.50")


def test_global_invoice_month_picker_offers_the_periods_with_available_tickets(client, make_user, portal,
                                                                               make_ticket):
    make_ticket(sold_at=dt.datetime(2026, 3, 5, 12, tzinfo=MX))
    client.force_login(make_user("mx_periods", portal, "admin"))
    html = client.get("/autofacturacion/facturas/").content.decode()
    assert 'name="period" type="month"' in html and '<option value="2026-03"></option>' in html
