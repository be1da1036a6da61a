"""The actions through their three channels: refusal codes (API body, CLI exit status 2), one audit entry per
action with its actor, the CLI's sub-commands, and the run's state derived from its job."""

import io
import json

import pytest
from django.core.management import call_command

from facturador.core.cli import RefusedCommand
from facturador.core.models import AuditEntry, Job
from facturador.einvoice.models import OperationMode
from facturador.habilitacion import actions
from facturador.habilitacion.models import Enablement, TestSetRun

from .conftest import ACTOR

pytestmark = pytest.mark.django_db

GUID = "3f1c9a9e-1b2c-4d5e-8f90-123456789abc"


@pytest.fixture
def api(api_client, make_user, new_issuer):
    issuer = new_issuer()
    api_client.force_authenticate(make_user("refusal_admin", issuer, "admin"))
    api_client.issuer = issuer
    api_client.base = f"/api/v1/issuers/{issuer.pk}/habilitacion"
    return api_client


def refused(response, status, code, field=None):
    body = response.json()
    assert response.status_code == status, body
    assert body["code"] == code and body["detail"], body
    if field:
        assert body["field"] == field, body
    return body


def cli(*args):
    out = io.StringIO()
    call_command("habilitacion", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def cli_refusal(*args) -> str:
    with pytest.raises(RefusedCommand) as exc:
        cli(*args)
    assert exc.value.returncode == 2
    return exc.value.refusal.code


# --- refusals through the API ------------------------------------------------------------------

def test_api_refusals_in_the_wrong_order(api):
    base = api.base
    refused(api.post(f"{base}/runs/", {"invoices": 1}, format="json"), 400, "habilitacion.run.no_software",
            "operation_mode")
    refused(api.post(f"{base}/enablement/operation-mode/", {"software_id": "sw-1"}, format="json"), 400,
            "habilitacion.operation_mode.pin_required", "pin")
    refused(api.post(f"{base}/enablement/operation-mode/", {"software_id": "sw-1", "pin": "1", "provider_nit": "90A"},
                     format="json"), 400, "habilitacion.operation_mode.provider_nit_invalid", "provider_nit")
    refused(api.post(f"{base}/enablement/sync-numbering/"), 400, "habilitacion.sync.no_software")
    refused(api.post(f"{base}/enablement/prefix-association/", {}, format="json"), 400,
            "habilitacion.prefix.no_resolution", "prefix")
    refused(api.post(f"{base}/enablement/s2-acknowledgement/"), 409, "habilitacion.s2.not_in_production")
    refused(api.post(f"{base}/enablement/resolution/", {
        "resolution_number": "res-1", "prefix": "FE", "range_from": 1, "range_to": 10, "valid_from": "2026-01-01",
        "valid_to": "2026-12-31"}, format="json"), 400, "habilitacion.resolution.number_invalid", "resolution_number")
    refused(api.post(f"{base}/enablement/test-numbering/", {
        "prefix": "S-T", "range_from": 1, "range_to": 10, "resolution_number": "1", "valid_from": "2026-01-01",
        "valid_to": "2026-12-31"}, format="json"), 400, "habilitacion.test_numbering.prefix_invalid", "prefix")
    assert not AuditEntry.objects.filter(issuer=api.issuer).exists()  # refused actions leave no audit entry


def test_api_busy_run_and_in_production_are_conflicts(api):
    base = api.base
    assert api.post(f"{base}/enablement/operation-mode/", {"software_id": "sw-1", "pin": "12345",
                                                           "test_set_id": GUID}, format="json").status_code == 200
    r = api.post(f"{base}/runs/", {"invoices": 1, "credit_notes": 0, "debit_notes": 0}, format="json")
    assert r.status_code == 201 and r.json()["status"] == "pending" and r.json()["outcome"] == "running"
    refused(api.post(f"{base}/runs/", {"invoices": 1}, format="json"), 409, "habilitacion.run.busy")
    refused(api.post(f"{base}/runs/{r.json()['id']}/resume/"), 409, "habilitacion.run.busy")
    # DIAN accepted the set (as the runner records it); after going to production no test set is sent
    Job.objects.filter(issuer=api.issuer).update(status=Job.Status.FINISHED)
    OperationMode.objects.filter(issuer=api.issuer).update(state=OperationMode.State.ACCEPTED)
    assert api.post(f"{base}/enablement/production/", {"start_date": "2026-12-01"}, format="json").status_code == 200
    refused(api.post(f"{base}/runs/", {"invoices": 1}, format="json"), 409, "habilitacion.run.in_production",
            "operation_mode")


def test_api_other_countries_are_refused(api_client, make_user, make_issuer):
    mx = make_issuer("MX")
    api_client.force_authenticate(make_user("refusal_mx", mx, "admin"))
    base = f"/api/v1/issuers/{mx.pk}/habilitacion"
    refused(api_client.get(f"{base}/enablement/"), 400, "habilitacion.issuer.not_colombia", "issuer")
    refused(api_client.post(f"{base}/enablement/register/", {"reception_email": "a@b.mx"}, format="json"), 400,
            "habilitacion.issuer.not_colombia")


# --- refusals through the CLI ----------------------------------------------------------------------

def test_cli_refusals_exit_with_status_2(new_issuer, make_issuer, monkeypatch):
    issuer = new_issuer()
    nit = issuer.tax_id
    assert cli_refusal("status", "--issuer", "999999999") == "core.issuer.not_found"
    assert cli_refusal("status", "--issuer", make_issuer("MX").tax_id) == "habilitacion.issuer.not_colombia"
    assert cli_refusal("production", "--issuer", nit, "--start-date", "2026-12-01") == \
        "habilitacion.production.not_enabled"
    monkeypatch.delenv("NO_SUCH_PIN", raising=False)
    assert cli_refusal("mode", "--issuer", nit, "--software-id", "sw", "--pin-env", "NO_SUCH_PIN") == \
        "core.cli.secret_missing"
    assert cli_refusal("run", "--issuer", nit, "--test-set-id", "123") == "habilitacion.test_set_id.invalid"
    assert cli_refusal("resume", "--issuer", nit, "--run", "12345") == "habilitacion.run.not_found"
    assert cli_refusal("sync", "--issuer", nit) == "habilitacion.sync.no_software"
    assert cli_refusal("prefix", "--issuer", nit) == "habilitacion.prefix.no_resolution"
    assert cli_refusal("rut", "--issuer", nit) == "habilitacion.s2.not_in_production"
    assert cli_refusal("register", "--issuer", nit, "--email", "a@b.co", "--as", "nobody") == "core.user.not_found"


def test_cli_wizard_steps_are_audited_for_the_user_given_with_as(new_issuer, make_user, monkeypatch):
    issuer = new_issuer()
    user = make_user("cli_habilitador", issuer, "admin")
    nit = issuer.tax_id
    monkeypatch.setenv("HAB_PIN", "55555")
    assert "Registro guardado" in cli("register", "--issuer", nit, "--email", "fe@empresa.example", "--as",
                                      user.username)
    assert "•••55" in cli("mode", "--issuer", nit, "--software-id", "sw-cli", "--pin-env", "HAB_PIN",
                          "--test-set-id", GUID.upper())
    text = cli("numbering", "--issuer", nit, "--technical-key", "k" * 40)
    assert "SETP 990000000-995000000" in text and "NCP" in text
    status = json.loads(cli("status", "--issuer", nit))
    assert status["state"] == "registered" and status["operation_mode"]["test_set_id"] == GUID
    assert status["steps"]["software"] and status["steps"]["numeracion"] and status["next_step"] == "set"

    entries = AuditEntry.objects.filter(issuer=issuer).order_by("pk")
    assert [(e.action, e.channel) for e in entries] == [
        ("habilitacion.register", "cli"), ("habilitacion.mode", "cli"), ("habilitacion.test_numbering", "cli")]
    assert entries[0].user == user and entries[0].actor == user.username
    assert entries[1].user is None and entries[1].actor.startswith("os:")  # without --as: the OS user
    assert "55555" not in " ".join(e.summary for e in entries)


# --- one audit entry per action, whatever the channel ---------------------------------------------

def test_web_and_api_actions_write_one_audit_entry(client, api, make_user):
    issuer = api.issuer
    client.force_login(make_user("web_habilitador", issuer, "admin"))
    client.post("/habilitacion/registro/", {"reception_email": "fe@empresa.example"})
    api.post(f"{api.base}/enablement/operation-mode/", {"software_id": "sw-1", "pin": "12345", "test_set_id": GUID},
             format="json")
    api.post(f"{api.base}/runs/", {"invoices": 1, "credit_notes": 0, "debit_notes": 0}, format="json")
    entries = list(AuditEntry.objects.filter(issuer=issuer).order_by("pk").values_list("action", "channel", "actor"))
    assert entries == [("habilitacion.register", "web", "web_habilitador"), ("habilitacion.mode", "api", "refusal_admin"),
                       ("habilitacion.run", "api", "refusal_admin")]


def test_web_refusal_of_a_button_shows_on_the_page_it_came_from(client, make_user, new_issuer):
    issuer = new_issuer()
    client.force_login(make_user("web_refused", issuer, "admin"))
    page = "/habilitacion/?paso=listo"
    resp = client.post("/habilitacion/rut/", HTTP_REFERER=f"http://testserver{page}", follow=True)
    assert resp.redirect_chain[-1][0].endswith(page)
    assert "cuando ya factura en producción" in resp.content.decode()
    resp = client.post("/habilitacion/sincronizar/")  # no page to go back to: the refusal page with its code
    assert resp.status_code == 400 and "habilitacion.sync.no_software" in resp.content.decode()
    assert Enablement.objects.get(issuer=issuer).s2_acknowledged_on is None


# --- the run's state is its job's --------------------------------------------------------------------

def test_run_outcome_is_derived_from_its_job_and_dian_acceptance(new_issuer):
    issuer = new_issuer()
    actions.save_operation_mode(issuer, ACTOR, software_id="sw", pin="12345", test_set_id=GUID)
    run = actions.start_run(issuer, ACTOR, invoices=1, credit_notes=0, debit_notes=0)
    job = run.job
    for status, outcome in ((Job.Status.PENDING, "running"), (Job.Status.RUNNING, "running"),
                            (Job.Status.FINISHED_WITH_ERRORS, "errors"), (Job.Status.FAILED, "failed"),
                            (Job.Status.CANCELLED, "waiting"), (Job.Status.FINISHED, "waiting")):
        Job.objects.filter(pk=job.pk).update(status=status)
        run = TestSetRun.objects.select_related("job").get(pk=run.pk)
        assert (run.status, run.outcome) == (status, outcome)
    run.accepted_at = run.created_at
    assert run.outcome == "accepted" and run.get_outcome_display() == "Set de pruebas aceptado"
    new_job = actions.resume_run(issuer, ACTOR, run=run)
    run.refresh_from_db()
    assert run.job == new_job and run.status == Job.Status.PENDING
