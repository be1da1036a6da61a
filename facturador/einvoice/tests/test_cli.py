"""The `einvoice` command: the same actions, refusals and audit entries as the web and the API."""

import json

import pytest
from django.core.management import call_command

from facturador.core.actors import Actor
from facturador.core.cli import RefusedCommand
from facturador.core.models import AuditEntry
from facturador.einvoice.models import DianDocument
from facturador.einvoice.tests.test_views import form_data


@pytest.fixture
def payload_file(tmp_path, invoice_payload):
    path = tmp_path / "factura.json"
    path.write_text(json.dumps(invoice_payload))
    return str(path)


def test_cli_issue_writes_the_same_audit_entry_as_the_web(client_co, admin_co, dian_issuer, payload_file):
    assert client_co.post("/documentos/nuevo/", form_data()).status_code == 302
    web = AuditEntry.objects.get(action="einvoice.issue")
    call_command("einvoice", "issue", payload_file, "--issuer", dian_issuer.tax_id, "--no-send")
    cli = AuditEntry.objects.exclude(pk=web.pk).get(action="einvoice.issue")
    assert (cli.action, cli.issuer_id, cli.object_type) == (web.action, web.issuer_id, web.object_type)
    assert cli.object_type == "einvoice.diandocument"
    assert DianDocument.objects.get(pk=cli.object_id).issuer == dian_issuer
    assert (web.channel, web.user, web.actor) == ("web", admin_co, admin_co.username)
    assert (cli.channel, cli.user, cli.actor) == ("cli", None, Actor.cli().name)
    assert cli.actor.startswith("os:")


def test_cli_issue_as_a_platform_user_records_that_user(admin_co, dian_issuer, payload_file):
    call_command("einvoice", "issue", payload_file, "--issuer", dian_issuer.tax_id, "--no-send", "--as", admin_co.username)
    entry = AuditEntry.objects.get(action="einvoice.issue")
    assert (entry.channel, entry.user, entry.actor) == ("cli", admin_co, admin_co.username)
    assert DianDocument.objects.get().created_by == admin_co


def test_cli_issue_refusal_has_the_action_code(dian_issuer, tmp_path, invoice_payload):
    invoice_payload["customer"]["dv"] = "7"
    path = tmp_path / "mala.json"
    path.write_text(json.dumps(invoice_payload))
    with pytest.raises(RefusedCommand) as err:
        call_command("einvoice", "issue", str(path), "--issuer", dian_issuer.tax_id, "--no-send")
    assert err.value.returncode == 2
    assert err.value.refusal.code == "einvoice.document.invalid" and err.value.refusal.details["rule"] == "FAK24"
    assert not AuditEntry.objects.filter(action="einvoice.issue").exists()


def test_cli_unknown_issuer_and_document_are_refused(dian_issuer):
    with pytest.raises(RefusedCommand) as err:
        call_command("einvoice", "status", "SETP1", "--issuer", "123456789")
    assert err.value.refusal.code == "core.issuer.not_found"
    with pytest.raises(RefusedCommand) as err:
        call_command("einvoice", "status", "SETP1", "--issuer", dian_issuer.tax_id)
    assert err.value.refusal.code == "einvoice.document.not_found"


def test_cli_list_and_status_as_json(dian_issuer, payload_file, capsys):
    call_command("einvoice", "issue", payload_file, "--issuer", dian_issuer.tax_id, "--no-send")
    capsys.readouterr()
    call_command("einvoice", "list", "--issuer", dian_issuer.tax_id, "--kind", "invoice", "--q", "Cliente", "--json")
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["number"] for r in rows] == ["SETP990000000"] and rows[0]["status"] == "signed"
    call_command("einvoice", "list", "--issuer", dian_issuer.tax_id, "--kind", "credit_note")
    assert capsys.readouterr().out == ""
    call_command("einvoice", "status", "SETP990000000", "--issuer", dian_issuer.tax_id)
    assert "SETP990000000: Firmado" in capsys.readouterr().out
