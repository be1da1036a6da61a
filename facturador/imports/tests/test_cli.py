"""`facturador import run FILE ...` (management command import_data)."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from facturador.billing.models import Charge
from facturador.core.models import Job
from facturador.imports.models import ImportJob
from facturador.imports.tests import files


@pytest.mark.django_db(transaction=True)
def test_cli_run_in_process_with_progress(issuer_co, operator, template, tmp_path, capsys):
    path = tmp_path / "detalle.csv"
    path.write_bytes(files.csv_bytes(files.sample_rows(30)))
    args = ["run", str(path), "--issuer", "900373076-1", "--operator", "telco", "--template", "Detalle",
            "--period", "2026-10", "--in-process"]
    call_command("import_data", *args)
    out = capsys.readouterr().out
    imp = ImportJob.objects.get()
    assert f"Importación #{imp.pk} programada" in out and "100%" in out and "válidas 30" in out
    assert imp.job.status == Job.Status.FINISHED and Charge.objects.count() == 30
    with pytest.raises(CommandError, match="ya se importó"):
        call_command("import_data", *args)
    with pytest.raises(SystemExit) as ei:  # dry run with a bad row: exit code 3 (finished with errors)
        path.write_bytes(files.csv_bytes(files.sample_rows(2) + [["", "x", "1", "1", "1"]]))
        call_command("import_data", *args, "--dry-run")
    assert ei.value.code == 3 and Charge.objects.count() == 30


@pytest.mark.django_db
def test_cli_queues_without_wait(issuer_co, operator, template, tmp_path, capsys):
    path = tmp_path / "d.csv"
    path.write_bytes(files.csv_bytes(files.sample_rows(3)))
    call_command("import_data", "run", str(path), "--issuer", "900373076", "--operator", "TELCO", "--template",
                 str(template.pk), "--period", "2026-10", "--at", "2099-05-01 07:00")
    imp = ImportJob.objects.get()
    assert imp.job.status == Job.Status.PENDING and imp.scheduled_for.year == 2099
    with pytest.raises(CommandError, match="No existe el operador"):
        call_command("import_data", "run", str(path), "--issuer", "900373076", "--operator", "NADA", "--template", "x",
                     "--period", "2026-10")


def test_console_script_alias():
    from facturador.cli import ALIASES

    assert ALIASES["import"] == "import_data"
