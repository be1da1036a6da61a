"""API (issuer-scoped, DRF) and CLI (`facturador habilitacion ...`) over the same flow."""

import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command

from facturador.core.models import Job
from facturador.einvoice.models import OperationMode
from facturador.habilitacion.models import TestSetRun

from .conftest import SOFTWARE_PIN, new_software, run_job_inline


@pytest.mark.django_db
def test_api_enablement_runs_production_and_sync(api_client, make_user, new_issuer, make_issuer, dian_sandbox):
    issuer = new_issuer()
    user = make_user("api_admin", issuer, "admin")
    reader = make_user("api_reader", issuer, "readonly")
    outsider = make_user("api_outsider", make_issuer("CO"), "admin")
    base = f"/api/v1/issuers/{issuer.pk}/habilitacion"
    software_id, test_set_id = new_software(dian_sandbox, invoices=1, credit_notes=1, debit_notes=0)

    api_client.force_authenticate(outsider)
    assert api_client.get(f"{base}/enablement/").status_code == 404
    api_client.force_authenticate(reader)
    assert api_client.get(f"{base}/enablement/").json()["state"] == "pending"
    assert api_client.post(f"{base}/enablement/register/", {"reception_email": "a@b.co"}).status_code == 403

    api_client.force_authenticate(user)
    r = api_client.post(f"{base}/enablement/register/", {"reception_email": "fe@empresa.example"}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "registered" and r.json()["steps"]["registro"]
    bad = api_client.post(f"{base}/enablement/operation-mode/", {"software_id": software_id, "pin": SOFTWARE_PIN,
                                                                  "test_set_id": "no-es-un-guid"}, format="json")
    assert bad.status_code == 400 and bad.json()["field"] == "test_set_id"
    assert bad.json()["code"] == "habilitacion.test_set_id.invalid" and "GUID" in bad.json()["detail"]
    r = api_client.post(f"{base}/enablement/operation-mode/", {
        "software_id": software_id, "pin": SOFTWARE_PIN, "test_set_id": test_set_id, "endpoint": dian_sandbox.url},
        format="json")
    assert r.status_code == 200
    mode = r.json()["operation_mode"]
    assert mode["test_set_id"] == test_set_id and SOFTWARE_PIN not in json.dumps(r.json()) and mode["pin"].endswith("42")

    # production before the test set is accepted: refused
    r = api_client.post(f"{base}/enablement/production/", {"start_date": "2026-12-01"}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "habilitacion.production.not_enabled"

    r = api_client.post(f"{base}/runs/", {"invoices": 1, "credit_notes": 1, "debit_notes": 0}, format="json")
    assert r.status_code == 201, r.json()
    run = TestSetRun.objects.get(pk=r.json()["id"])
    assert r.json()["test_set_id"] == test_set_id and r.json()["job"]["status"] == "pending"
    run_job_inline(run.job)
    r = api_client.get(f"{base}/runs/{run.pk}/")
    assert r.json()["outcome"] == "accepted" and r.json()["summary"]["accepted"] == 2
    docs = api_client.get(f"{base}/runs/{run.pk}/documents/").json()
    assert [(d["kind"], d["state"]) for d in docs] == [("credit_note", "Aceptado"), ("invoice", "Aceptado")]
    # the run page's filters
    assert api_client.get(f"{base}/runs/{run.pk}/documents/", {"aceptacion": "rechazado"}).json() == []
    only = api_client.get(f"{base}/runs/{run.pk}/documents/", {"documento": "invoice", "aceptacion": "aceptado"}).json()
    assert [d["number"] for d in only] == [d["number"] for d in docs if d["kind"] == "invoice"]
    listed = api_client.get(f"{base}/runs/").json()
    listed = listed.get("results", listed) if isinstance(listed, dict) else listed
    assert [x["id"] for x in listed] == [run.pk]

    r = api_client.post(f"{base}/enablement/production/", {"start_date": "2026-12-01"}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "production" and r.json()["s2_reminder"]
    r = api_client.post(f"{base}/enablement/production/", {"start_date": "2026-12-02"}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "habilitacion.production.already_confirmed"

    r = api_client.post(f"{base}/enablement/resolution/", {
        "resolution_number": "18764000009999", "prefix": "FACTU", "range_from": 1, "range_to": 100,
        "valid_from": "2026-01-01", "valid_to": "2027-12-31"}, format="json")
    assert r.status_code == 400  # prefix longer than 4
    r = api_client.post(f"{base}/enablement/resolution/", {
        "resolution_number": "18764000009999", "prefix": "FV", "range_from": 1, "range_to": 100,
        "valid_from": "2026-01-01", "valid_to": "2027-12-31"}, format="json")
    assert r.status_code == 200 and not r.json()["production_ready"]
    r = api_client.post(f"{base}/enablement/sync-numbering/")
    # DIAN knows no range for this software yet
    assert r.status_code == 400 and r.json()["code"] == "habilitacion.sync.dian_refused"
    assert r.json()["details"] == {"operation_code": "301"} and r.json()["field"] == "numbering"
    dian_sandbox.register_range(issuer.tax_id, "FV", 1, 100, "b" * 40, software_id=software_id,
                                resolution_number="18764000009999", valid_date_from="2026-01-01",
                                valid_date_to="2027-12-31")
    r = api_client.post(f"{base}/enablement/sync-numbering/")
    assert r.status_code == 200 and "sincronizada" in r.json()["message"]
    assert not r.json()["production_ready"]  # the prefix is not associated with the software yet
    [fv] = r.json()["production_ranges"]
    assert fv["synced"] and fv["associated_software_id"] is None
    r = api_client.post(f"{base}/enablement/prefix-association/", {"numbering_range": fv["id"] + 1000}, format="json")
    assert r.status_code == 404 and r.json()["code"] == "habilitacion.prefix.range_not_found"
    r = api_client.post(f"{base}/enablement/prefix-association/", {"numbering_range": fv["id"],
                                                                    "associated_on": "2026-11-03"}, format="json")
    assert r.status_code == 200 and r.json()["steps"]["resolucion"] and r.json()["production_ready"]
    assert r.json()["production_ranges"][0]["associated_software_id"] == software_id
    assert r.json()["prefix_associated_on"] == "2026-11-03"


@pytest.mark.django_db(transaction=True)
def test_cli_run_with_progress_bar_then_production(new_issuer, dian_sandbox, monkeypatch):
    issuer = new_issuer()
    software_id, test_set_id = new_software(dian_sandbox, invoices=2, credit_notes=1, debit_notes=1)
    monkeypatch.setenv("SOFTWARE_PIN", SOFTWARE_PIN)
    out = io.StringIO()
    with pytest.raises(CommandError, match="GUID"):
        call_command("habilitacion", "run", "--issuer", issuer.tax_id, "--test-set-id", "123", stdout=out)
    call_command("habilitacion", "run", "--issuer", issuer.tax_id, "--test-set-id", test_set_id, "--software-id",
                 software_id, "--pin-env", "SOFTWARE_PIN", "--endpoint", dian_sandbox.url, "--email", "fe@e.example", "--invoices", "2",
                 "--credit-notes", "1", "--debit-notes", "1", "--inline", "--timeout", "60", stdout=out)
    text = out.getvalue()
    assert "\r[" in text and "100%" in text and "4/4" in text
    assert "Set de pruebas aceptado" in text and "se encuentra Aceptado" in text
    run = TestSetRun.objects.get(issuer=issuer)
    assert run.outcome == "accepted" and Job.objects.get(pk=run.job_id).status == Job.Status.FINISHED
    assert OperationMode.objects.get(issuer=issuer).state == "accepted"
    out = io.StringIO()
    call_command("habilitacion", "documents", "--issuer", issuer.tax_id, "--run", str(run.pk), "--json", stdout=out)
    rows = json.loads(out.getvalue())
    assert len(rows) == 4 and {r["state"] for r in rows} == {"Aceptado"}
    out = io.StringIO()
    call_command("habilitacion", "documents", "--issuer", issuer.tax_id, "--run", str(run.pk), "--kind", "invoice",
                 "--number", "SETP990000001", stdout=out)
    assert out.getvalue().split()[:3] == ["SETP990000001", "factura", "Aceptado"]

    out = io.StringIO()
    call_command("habilitacion", "production", "--issuer", issuer.tax_id, "--start-date", "2026-12-01", stdout=out)
    call_command("habilitacion", "resolution", "--issuer", issuer.tax_id, "--resolution", "18764000000001",
                 "--prefix", "FE", "--from", "1", "--to", "5000", "--valid-from", "2019-01-19", "--valid-to",
                 "2030-01-19", stdout=out)
    with pytest.raises(CommandError, match="no tiene asociada"):
        dian_sandbox.register_range(issuer.tax_id, "OTRO", 1, 10, "c" * 40, software_id=software_id)
        call_command("habilitacion", "sync", "--issuer", issuer.tax_id, stdout=out)
    dian_sandbox.register_range(issuer.tax_id, "FE", 1, 5000, "d" * 40, software_id=software_id,
                                resolution_number="18764000000001")
    call_command("habilitacion", "sync", "--issuer", issuer.tax_id, stdout=out)
    assert "Numeración sincronizada" in out.getvalue()
    call_command("habilitacion", "prefix", "--issuer", issuer.tax_id, "--prefix", "fe", stdout=out)
    assert f"Prefijo FE asociado al software {software_id}" in out.getvalue()
    out = io.StringIO()
    call_command("habilitacion", "status", "--issuer", issuer.tax_id, stdout=out)
    status = json.loads(out.getvalue())
    assert status["state"] == "production" and status["production_ready"] is True
    assert status["production_start"] == dt.date(2026, 12, 1).isoformat()
