"""CLI: `facturador batch create ... --wait` (a real process) with a real worker; reference problems; cartera export."""

import io
import os
import subprocess
import sys

import pytest
from django.core.management import call_command

from conftest import database_url_for_subprocess
from facturador.billing.models import Batch
from facturador.billing.tests.helpers import make_accounts, make_range
from facturador.billing.tests.test_batch_worker import page_count, worker_env
from facturador.core.cli import RefusedCommand


def cli(*args, settings):
    env = dict(os.environ)
    env.update(worker_env())
    env["DATABASE_URL"] = database_url_for_subprocess()
    env["FACTURADOR_ENCRYPTION_KEY"] = ",".join(settings.FACTURADOR_ENCRYPTION_KEYS)
    env["SECRET_KEY"] = settings.SECRET_KEY
    proc = subprocess.run([sys.executable, "-m", "facturador", *args], env=env, capture_output=True, timeout=120)
    # bytes, so the progress bar's carriage returns are kept
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode())


@pytest.mark.django_db(transaction=True)
def test_batch_create_wait_with_progress_bar(issuer_co, start_worker, settings, tmp_path):
    make_range(issuer_co)
    make_accounts(issuer_co, 12, periods=("2026-09", "2026-10"))
    refs = tmp_path / "refs.txt"
    refs.write_text("000003\n000001\n000002\n000002\n000099\n")
    with pytest.raises(RefusedCommand) as info:
        call_command("batch", "create", "--issuer", issuer_co.tax_id, "--periods", "2026-09,2026-10", "--references",
                     str(refs), "--template", "Predeterminada")
    assert "2 problemas" in str(info.value) and info.value.returncode == 2
    problems = info.value.refusal.details["problems"]
    assert [(p["line"], p["reference"]) for p in problems] == [(4, "000002"), (5, "000099")]
    assert not Batch.objects.exists()
    refused = cli("batch", "create", "--issuer", issuer_co.tax_id, "--periods", "2026-09,2026-10", "--references",
                  str(refs), settings=settings)
    assert refused.returncode == 2 and "[billing.references.invalid]" in refused.stderr
    assert "línea 4: 000002: Referencia repetida" in refused.stderr and "000099" in refused.stderr

    refs.write_text("000003\n000001\n000002\n")
    start_worker(**worker_env())
    ok = cli("batch", "create", "--issuer", issuer_co.tax_id, "--periods", "2026-09,2026-10", "--references",
             str(refs), "--template", "Predeterminada", "--issue-date", "2026-11-01", "--due-date", "2026-11-20",
             "--wait", settings=settings)
    assert ok.returncode == 0, ok.stderr
    assert "\r[" in ok.stdout and "100%" in ok.stdout and "3 facturas" in ok.stdout
    batch = Batch.objects.get()
    assert batch.invoice_count == 3 and batch.references == ["000003", "000001", "000002"]
    merged = [line for line in ok.stdout.splitlines() if line.startswith("PDF de impresión:")][0].split(": ", 1)[1]
    assert page_count(merged) == 3

    out = tmp_path / "cartera.xlsx"
    stdout = io.StringIO()
    call_command("cartera", "export", "--issuer", issuer_co.tax_id, "--periods", "2026-09,2026-10", "--out", str(out),
                 stdout=stdout)
    assert "12 cuentas" in stdout.getvalue() and out.stat().st_size > 0
