"""One refusal contract, translated once per channel: API JSON, web form error, web message, CLI exit 2."""

import json
import os
import subprocess
import sys

import pytest
from django.core.management import call_command

from facturador.core.cli import RefusedCommand
from facturador.core.models import AuditEntry, Job, NumberingRange

RANGE = {"document_type": "invoice", "environment": "test", "prefix": "FE", "range_from": 1, "range_to": 1000,
         "valid_from": "2026-01-01", "valid_to": "2027-12-31", "resolution_number": "18764000001"}
OVERLAP = {**RANGE, "range_from": 500, "range_to": 1500}
CLI_OVERLAP = ["numbering", "add", "--issuer", "900373076", "--prefix", "FE", "--from", "500", "--to", "1500",
               "--valid-from", "2026-01-01", "--valid-to", "2027-12-31"]


@pytest.fixture
def existing_range(issuer_co):
    return NumberingRange.objects.create(issuer=issuer_co, next_number=1, **{
        **RANGE, "valid_from": "2026-01-01", "valid_to": "2027-12-31"})


def test_api_answers_a_refusal_with_its_code_field_and_status(api_client, admin_co, issuer_co, existing_range):
    api_client.force_authenticate(admin_co)
    resp = api_client.post(f"/api/v1/issuers/{issuer_co.pk}/numbering-ranges/", OVERLAP, format="json")
    assert resp.status_code == 400
    assert resp.json()["code"] == "core.numbering.invalid"
    assert resp.json()["field"] == "range_from"


def test_web_form_shows_the_same_refusal_with_the_same_code(client_co, existing_range):
    resp = client_co.post("/numeraciones/nueva/", {**OVERLAP, "active": "on"})
    assert resp.status_code == 200
    [error] = resp.context["form"].errors.as_data()["range_from"]
    assert error.code == "core.numbering.invalid"


def test_cli_raises_the_same_refusal_with_exit_status_2(existing_range):
    with pytest.raises(RefusedCommand) as err:
        call_command(*CLI_OVERLAP)
    assert err.value.returncode == 2
    assert err.value.refusal.code == "core.numbering.invalid"


def test_cli_process_exits_2_with_json_on_stderr(transactional_db, existing_range, settings):
    from conftest import database_url_for_subprocess

    env = dict(os.environ, DATABASE_URL=database_url_for_subprocess(),
               FACTURADOR_ENCRYPTION_KEY=",".join(settings.FACTURADOR_ENCRYPTION_KEYS))
    out = subprocess.run([sys.executable, "-m", "facturador", *CLI_OVERLAP, "--json"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2
    assert json.loads(out.stderr.strip().splitlines()[-1])["code"] == "core.numbering.invalid"


def test_api_conflict_is_409(api_client, admin_co, issuer_co, existing_range):
    NumberingRange.objects.filter(pk=existing_range.pk).update(next_number=5)
    api_client.force_authenticate(admin_co)
    resp = api_client.delete(f"/api/v1/issuers/{issuer_co.pk}/numbering-ranges/{existing_range.pk}/")
    assert resp.status_code == 409 and resp.json()["code"] == "core.numbering.used"
    assert NumberingRange.objects.filter(pk=existing_range.pk).exists()


def test_web_button_refusal_returns_to_the_page_with_the_message(client_co, issuer_co):
    job = Job.objects.create(issuer=issuer_co, kind="core.ping", status=Job.Status.FINISHED)
    resp = client_co.post(f"/tareas/{job.pk}/cancelar/", HTTP_REFERER="http://testserver/tareas/", follow=True)
    assert resp.redirect_chain[0][0] == "http://testserver/tareas/"
    assert "ya terminó" in resp.content.decode()


def test_web_button_refusal_without_referer_is_a_page_with_its_status(client_co, issuer_co):
    job = Job.objects.create(issuer=issuer_co, kind="core.ping", status=Job.Status.FINISHED)
    resp = client_co.post(f"/tareas/{job.pk}/cancelar/")
    assert resp.status_code == 409
    assert "core.job.finished" in resp.content.decode()


def test_cli_action_is_audited_as_the_os_user(issuer_co):
    import getpass

    call_command("numbering", "add", "--issuer", "900373076", "--prefix", "FE", "--from", "1", "--to", "10",
                 "--valid-from", "2026-01-01", "--valid-to", "2027-12-31")
    entry = AuditEntry.objects.get(action="numbering.save")
    assert (entry.channel, entry.actor, entry.user) == ("cli", f"os:{getpass.getuser()}", None)


def test_cli_action_is_audited_as_the_user_given_with_as(issuer_co, admin_co):
    call_command("numbering", "add", "--issuer", "900373076", "--prefix", "FE", "--from", "1", "--to", "10",
                 "--valid-from", "2026-01-01", "--valid-to", "2027-12-31", "--as", "admin_co")
    entry = AuditEntry.objects.get(action="numbering.save")
    assert (entry.channel, entry.actor, entry.user) == ("cli", "admin_co", admin_co)


def test_cli_as_unknown_user_is_refused(issuer_co):
    with pytest.raises(RefusedCommand) as err:
        call_command("numbering", "list", "--issuer", "900373076", "--as", "nadie")
    assert err.value.refusal.code == "core.user.not_found"
