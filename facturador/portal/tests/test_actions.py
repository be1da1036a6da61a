"""The portal's actions through their channels: refusal codes in the API's JSON and the CLI, audit by actor."""

import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from facturador.core.actors import Actor
from facturador.core.cli import RefusedCommand
from facturador.core.errors import Refusal
from facturador.core.models import AuditEntry, Branch, Job
from facturador.portal import actions
from facturador.portal.models import Cfdi, PortalSettings, Ticket

RFC = "EKU9003173C9"


@pytest.fixture
def ticket(issuer_mx):
    branch = Branch.objects.create(issuer=issuer_mx, code="CDMX01", name="Sucursal Reforma", postal_code="42501")
    return Ticket.objects.create(issuer=issuer_mx, branch=branch, ticket_number="5001", order_number="OR5001",
                                 sold_at=timezone.now(), subtotal=Decimal("100.00"), tax=Decimal("16.00"),
                                 total=Decimal("116.00"))


@pytest.fixture
def cfdi(issuer_mx):
    return Cfdi.objects.create(issuer=issuer_mx, serie="AF", folio="1", uuid="6F1E2A3B-0000-4000-8000-000000000001",
                               issued_at=timezone.now(), receptor_rfc="XIQB891116QE4", receptor_name="KARLA",
                               total=Decimal("116.00"), xml=b"<x/>")


@pytest.fixture
def mx_api(api_client, make_user, issuer_mx):
    api_client.force_authenticate(make_user("mx_admin", issuer_mx, "admin"))
    return api_client


def test_api_block_of_a_blocked_ticket_is_a_409_with_its_code(mx_api, issuer_mx, ticket):
    url = f"/api/v1/issuers/{issuer_mx.pk}/portal/tickets/{ticket.pk}/"
    assert mx_api.post(url + "block/").json()["status"] == "blocked"
    again = mx_api.post(url + "block/")
    assert again.status_code == 409
    assert again.json()["code"] == "portal.ticket.not_available" and again.json()["detail"]
    assert mx_api.post(url + "unblock/").json()["status"] == "available"
    entry = AuditEntry.objects.get(action="portal.ticket_block")
    assert (entry.channel, entry.actor) == ("api", "mx_admin")


def test_api_cancel_with_an_unknown_motive_names_the_field(mx_api, issuer_mx, cfdi):
    resp = mx_api.post(f"/api/v1/issuers/{issuer_mx.pk}/portal/cfdi/{cfdi.pk}/cancel/", {"motive": "09"}, format="json")
    assert resp.status_code == 400
    assert resp.json()["code"] == "portal.cancel.motive_invalid" and resp.json()["field"] == "motive"


def test_api_global_invoice_checks_the_period_and_creates_the_job(mx_api, issuer_mx):
    url = f"/api/v1/issuers/{issuer_mx.pk}/portal/cfdi/global/"
    bad = mx_api.post(url, {"period": "2026-13"}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "core.period.invalid" and bad.json()["field"] == "period"
    ok = mx_api.post(url, {"period": "2026-10"}, format="json")
    assert ok.status_code == 202
    job = Job.objects.get(pk=ok.json()["job"])
    assert job.kind == "portal.global_invoice" and job.params == {"period": "2026-10"}
    assert AuditEntry.objects.filter(action="portal.global_invoice", channel="api").count() == 1


def test_api_ticket_list_has_the_back_office_filters(mx_api, issuer_mx, ticket):
    url = f"/api/v1/issuers/{issuer_mx.pk}/portal/tickets/"
    assert [t["ticket_number"] for t in mx_api.get(url, {"q": "5001"}).json()["results"]] == ["5001"]
    assert mx_api.get(url, {"status": "blocked"}).json()["results"] == []


def test_cli_refusal_is_refused_command_with_exit_status_2(ticket):
    call_command("portal", "block", "5001", "--issuer", RFC)
    with pytest.raises(RefusedCommand) as err:
        call_command("portal", "block", "5001", "--issuer", RFC)
    assert err.value.returncode == 2 and err.value.refusal.code == "portal.ticket.not_available"
    with pytest.raises(RefusedCommand) as err:
        call_command("portal", "global", "--issuer", RFC, "--period", "2026-1")
    assert err.value.refusal.code == "core.period.invalid"


def test_cli_bad_csv_row_is_refused_and_loads_nothing(ticket, tmp_path):
    path = tmp_path / "tickets.csv"
    path.write_text("sucursal,ticket,orden,fecha,subtotal,iva,total,forma_pago\n"
                    "CDMX01,7001,O1,2026-11-20 10:30,100.00,16.00,116.00,01\n"
                    "NOPE,7002,O2,2026-11-20 10:30,100.00,16.00,116.00,01\n")
    with pytest.raises(RefusedCommand) as err:
        call_command("portal", "import-tickets", str(path), "--issuer", RFC)
    assert err.value.refusal.code == "portal.ticket_import.branch_unknown"
    assert err.value.refusal.details == {"row": 2, "column": "sucursal"}
    assert not Ticket.objects.filter(ticket_number="7001").exists()


def test_cli_action_is_audited_as_the_user_given_with_as(make_user, issuer_mx, ticket):
    user = make_user("contador", issuer_mx, "admin")
    call_command("portal", "block", "5001", "--issuer", RFC, "--as", "contador")
    entry = AuditEntry.objects.get(action="portal.ticket_block")
    assert (entry.channel, entry.actor, entry.user) == ("cli", "contador", user)


def test_cli_settings_keep_the_pac_password_out_of_the_audit(issuer_mx, monkeypatch):
    monkeypatch.setenv("PAC_PASSWORD_TEST", "s3creta-pac")
    call_command("portal", "settings", "--issuer", RFC, "--pac-kind", "finkok", "--pac-user", "kemper",
                 "--pac-timeout", "12", "--pac-password-env", "PAC_PASSWORD_TEST")
    ps = PortalSettings.objects.get(issuer=issuer_mx)
    assert (ps.pac_kind, ps.pac_user, ps.pac_timeout, ps.pac_password.reveal()) == ("finkok", "kemper", 12, "s3creta-pac")
    entry = AuditEntry.objects.get(action="portal.settings")
    assert "pac_password" in entry.summary and "s3creta" not in entry.summary
    with pytest.raises(RefusedCommand) as err:
        call_command("portal", "settings", "--issuer", RFC, "--pac-kind", "otro")
    assert err.value.refusal.code == "portal.settings.invalid" and err.value.refusal.field == "pac_kind"


def test_cli_process_exits_2_with_json_on_stderr(transactional_db, ticket, settings):
    from conftest import database_url_for_subprocess

    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.INVOICED)
    env = dict(os.environ, DATABASE_URL=database_url_for_subprocess(),
               FACTURADOR_ENCRYPTION_KEY=",".join(settings.FACTURADOR_ENCRYPTION_KEYS))
    out = subprocess.run([sys.executable, "-m", "facturador", "portal", "unblock", "5001", "--issuer", RFC, "--json"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    assert json.loads(out.stderr.strip().splitlines()[-1])["code"] == "portal.ticket.not_blocked"


def test_back_office_actions_are_for_mexican_issuers(issuer_co):
    with pytest.raises(Refusal) as err:
        actions.request_global_invoice(issuer_co, Actor.cli(), period="2026-10")
    assert err.value.code == "portal.issuer.not_mx" and err.value.status == 403


def test_web_button_refusal_comes_back_as_a_message(client, make_user, issuer_mx, ticket):
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.INVOICED)
    client.force_login(make_user("mx_admin", issuer_mx, "admin"))
    resp = client.post(f"/autofacturacion/tickets/{ticket.pk}/bloquear/", HTTP_REFERER="http://testserver/autofacturacion/",
                       follow=True)
    assert "Solo se pueden bloquear tickets disponibles." in resp.content.decode()


def test_pac_url_on_a_private_address_is_refused(issuer_mx, settings):
    settings.FACTURADOR_ALLOWED_ENDPOINTS = []
    with pytest.raises(Refusal) as err:
        actions.save_settings(issuer_mx, Actor.worker(), pac_url="http://192.168.1.10:8080/servicios/soap/stamp.wsdl")
    assert (err.value.code, err.value.field) == ("core.endpoint.not_allowed", "pac_url")


def test_stored_pac_url_no_longer_allowed_is_not_contacted(portal, settings):
    from facturador.portal import services

    settings.FACTURADOR_ALLOWED_ENDPOINTS = []
    with pytest.raises(Refusal) as err:
        services.pac_for(portal.ps)
    assert err.value.code == "core.endpoint.not_allowed"
