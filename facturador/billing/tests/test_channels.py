"""One action, three channels: `billing.actions.create_batch` refuses with the same code on the web form, the
API and the CLI, and writes the same audit entry whichever channel called it."""

import datetime as dt
import getpass
import io
import json

import pytest
from django.core.management import call_command

from facturador.billing import invoice_templates
from facturador.billing.models import Batch
from facturador.billing.tests.helpers import make_accounts, make_range
from facturador.billing.tests.test_cli import cli
from facturador.core.cli import RefusedCommand
from facturador.core.models import AuditEntry, Job

# 2026-12 has no charges: refused before anything is created
PERIODS = ["2026-09", "2026-12"]
CODE = "billing.batch.period_without_charges"


@pytest.fixture
def charged(issuer_co):
    make_range(issuer_co)
    invoice_templates.ensure_default(issuer_co)
    return make_accounts(issuer_co, 3)


def form_data(**extra):
    data = {"periods": ",".join(PERIODS), "billing_type": "normal", "issue_date": "2026-10-01",
            "due_date": "2026-10-20", "template": ""}
    data.update(extra)
    return data


@pytest.mark.django_db
def test_web_form_shows_the_refusal_code(issuer_co, charged, client_co):
    template = invoice_templates.ensure_default(issuer_co)
    resp = client_co.post("/facturacion/lotes/nuevo/", form_data(template=template.pk))
    assert resp.status_code == 200
    error = resp.context["form"].errors.as_data()["periods"][0]
    assert error.code == CODE and "2026-12" in error.message
    assert not Batch.objects.exists() and not Job.objects.exists()


@pytest.mark.django_db
def test_api_answers_the_refusal_code(issuer_co, charged, admin_co, api_client):
    api_client.force_authenticate(admin_co)
    r = api_client.post(f"/api/v1/issuers/{issuer_co.pk}/billing/batches/",
                        {"periods": PERIODS, "issue_date": "2026-10-01", "due_date": "2026-10-20"}, format="json")
    assert r.status_code == 400
    body = r.json()
    assert (body["code"], body["field"], body["details"]) == (CODE, "periods", {"periods": ["2026-12"]})
    assert "2026-12" in body["detail"]
    assert not Batch.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_cli_exits_2_with_the_refusal_code(issuer_co, charged, settings):
    args = ["batch", "create", "--issuer", issuer_co.tax_id, "--periods", ",".join(PERIODS),
            "--issue-date", "2026-10-01", "--due-date", "2026-10-20"]
    proc = cli(*args, "--json", settings=settings)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    refusal = json.loads(proc.stderr.strip().splitlines()[-1])
    assert (refusal["code"], refusal["field"], refusal["details"]) == (CODE, "periods", {"periods": ["2026-12"]})
    assert "2026-12" in refusal["detail"]
    with pytest.raises(RefusedCommand) as info:  # the same through call_command
        call_command(*args)
    assert info.value.returncode == 2 and info.value.refusal.code == CODE
    assert not Batch.objects.exists() and not AuditEntry.objects.filter(action="batch.create").exists()


def audit_of(batch):
    entry = AuditEntry.objects.get(action="batch.create")
    assert (entry.issuer_id, entry.object_type, entry.object_id) == (batch.issuer_id, "billing.batch", str(batch.pk))
    return entry


@pytest.mark.django_db
def test_web_and_cli_write_the_same_audit_entry(issuer_co, charged, client_co, admin_co):
    template = invoice_templates.ensure_default(issuer_co)
    assert client_co.post("/facturacion/lotes/nuevo/", form_data(periods="2026-09", template=template.pk)).status_code == 302
    assert client_co.post("/facturacion/lotes/confirmar/").status_code == 302
    web = audit_of(Batch.objects.get())
    assert (web.channel, web.actor, web.user) == ("web", "admin_co", admin_co)
    assert web.summary == "3 facturas, periodos 2026-09"

    Batch.objects.all().delete()
    AuditEntry.objects.all().delete()
    call_command("batch", "create", "--issuer", issuer_co.tax_id, "--periods", "2026-09", "--issue-date", "2026-10-01",
                 "--due-date", "2026-10-20", stdout=io.StringIO())
    batch = Batch.objects.get()
    entry = audit_of(batch)
    assert (entry.channel, entry.actor, entry.user) == ("cli", f"os:{getpass.getuser()}", None)
    assert entry.summary == web.summary
    assert batch.created_by is None and batch.job.created_by is None


@pytest.mark.django_db
def test_cli_as_user_records_that_user_and_accepts_the_web_filters(issuer_co, charged, admin_co):
    call_command("batch", "create", "--issuer", issuer_co.tax_id, "--periods", "2026-09", "--as", "admin_co",
                 "--stratum", "3", "--municipality-code", "25001", "--state", "active", "--reference", "0000",
                 "--issue-date", "2026-10-01", stdout=io.StringIO())
    batch = Batch.objects.get()
    entry = audit_of(batch)
    assert (entry.channel, entry.actor, entry.user) == ("cli", "admin_co", admin_co)
    assert batch.created_by == admin_co
    # accounts 000001..000003 have strata 2, 3, 4: only 000002 is chosen
    assert batch.account_count == 1 and batch.filters == {"stratum": "3", "state": "active", "reference": "0000",
                                                          "municipality_code": "25001"}
    assert batch.due_date == dt.date(2026, 10, 16)  # the action's default: 15 days after the issue date
    with pytest.raises(RefusedCommand) as info:
        call_command("batch", "create", "--issuer", issuer_co.tax_id, "--periods", "2026-09", "--as", "nadie")
    assert info.value.refusal.code == "core.user.not_found"
