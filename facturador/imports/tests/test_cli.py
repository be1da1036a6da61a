"""`facturador import run FILE ...` (management command import_data)."""

import getpass
import json
import os
import subprocess
import sys

import pytest
from django.core.management import call_command

from facturador.billing.models import Charge
from facturador.core.cli import RefusedCommand
from facturador.core.models import AuditEntry, Job
from facturador.imports.models import ImportJob
from facturador.imports.tests import files
from facturador.imports.tests.conftest import run_now, schedule


def run_args(path, *extra, operator="TELCO", period="2026-10"):
    return ["import_data", "run", str(path), "--issuer", "900373076", "--operator", operator, "--template", "Detalle",
            "--period", period, *extra]


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
    with pytest.raises(RefusedCommand, match="ya se importó") as refused:
        call_command("import_data", *args)
    assert refused.value.returncode == 2 and refused.value.refusal.code == "imports.import.duplicate"
    with pytest.raises(SystemExit) as ei:  # dry run with a bad row: exit code 3 (finished with errors)
        path.write_bytes(files.csv_bytes(files.sample_rows(2) + [["", "x", "1", "1", "1"]]))
        call_command("import_data", *args, "--dry-run")
    assert ei.value.code == 3 and Charge.objects.count() == 30


@pytest.mark.django_db(transaction=True)
def test_cli_run_json_prints_the_outcome_as_one_object(issuer_co, operator, template, tmp_path, capsys):
    """`run --in-process --json` printed the progress lines: a script got no JSON to read."""
    path = tmp_path / "detalle.csv"
    path.write_bytes(files.csv_bytes(files.sample_rows(3) + [["", "x", "1", "1", "1"]]))
    with pytest.raises(SystemExit) as ei:  # a row with errors: exit code 3, as without --json
        call_command("import_data", *run_args(path, "--in-process", "--json")[1:])
    out = json.loads(capsys.readouterr().out)
    imp = ImportJob.objects.get()
    assert ei.value.code == 3
    assert (out["import_id"], out["status"], out["rows_read"], out["rows_valid"], out["errors_total"]) == (
        imp.pk, Job.Status.FINISHED_WITH_ERRORS, 4, 3, 1)
    assert out["errors"][0]["row"] == 5 and out["errors"][0]["code"] and out["reconciliation"]["control"]["rows"] == 3


@pytest.mark.django_db
def test_cli_queues_without_wait(issuer_co, operator, template, tmp_path, capsys):
    path = tmp_path / "d.csv"
    path.write_bytes(files.csv_bytes(files.sample_rows(3)))
    call_command("import_data", "run", str(path), "--issuer", "900373076", "--operator", "TELCO", "--template",
                 str(template.pk), "--period", "2026-10", "--at", "2099-05-01 07:00")
    imp = ImportJob.objects.get()
    assert imp.job.status == Job.Status.PENDING and imp.scheduled_for.year == 2099
    with pytest.raises(RefusedCommand, match="No existe el operador") as refused:
        call_command("import_data", "run", str(path), "--issuer", "900373076", "--operator", "NADA", "--template", "x",
                     "--period", "2026-10")
    assert refused.value.refusal.code == "imports.operator.not_found" and refused.value.refusal.field == "operator"


@pytest.mark.django_db
@pytest.mark.parametrize("extra, code", [
    ({"period": "2026-13"}, "core.period.invalid"),
    ({"operator": "NADA"}, "imports.operator.not_found"),
    ({"file": "detalle.pdf"}, "imports.file.unsupported_type"),
    ({"file": "vacio.csv"}, "imports.file.empty"),
])
def test_cli_refusals_exit_2_and_store_nothing(issuer_co, operator, template, tmp_path, extra, code):
    path = tmp_path / extra.get("file", "d.csv")
    path.write_bytes(b"" if path.name == "vacio.csv" else files.csv_bytes(files.sample_rows(3)))
    with pytest.raises(RefusedCommand) as refused:
        call_command(*run_args(path, operator=extra.get("operator", "TELCO"), period=extra.get("period", "2026-10")))
    assert refused.value.returncode == 2 and refused.value.refusal.code == code
    assert not ImportJob.objects.exists() and not AuditEntry.objects.filter(action="import.schedule").exists()


@pytest.mark.django_db
def test_cli_schedule_is_audited_for_the_os_user(issuer_co, operator, template, tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(files.csv_bytes(files.sample_rows(3)))
    call_command(*run_args(path))
    imp = ImportJob.objects.get()
    entry = AuditEntry.objects.get(action="import.schedule")
    assert (entry.channel, entry.actor, entry.user, entry.issuer) == ("cli", f"os:{getpass.getuser()}", None, issuer_co)
    assert entry.object_id == str(imp.pk) and imp.created_by is None


@pytest.mark.django_db
def test_cli_schedule_is_audited_for_the_user_given_with_as(issuer_co, admin_co, operator, template, tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(files.csv_bytes(files.sample_rows(3)))
    call_command(*run_args(path, "--as", "admin_co"))
    entry = AuditEntry.objects.get(action="import.schedule")
    assert (entry.channel, entry.actor, entry.user) == ("cli", "admin_co", admin_co)
    assert ImportJob.objects.get().created_by == admin_co


@pytest.mark.django_db
def test_cli_list_cancel_and_delete(issuer_co, operator, template, capsys):
    pending = schedule(issuer_co, operator, template, "pendiente.csv", files.csv_bytes(files.sample_rows(3)))
    other = schedule(issuer_co, operator, template, "otro.csv", files.csv_bytes(files.sample_rows(2)), period="2026-09")
    done = run_now(schedule(issuer_co, operator, template, "hecho.csv", files.csv_bytes(files.sample_rows(2, start=9)),
                            period="2026-08"))
    call_command("import_data", "list", "--issuer", "900373076", "--period", "2026-10", "--json")
    [row] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (row["id"], row["status"], row["file"], row["operator"]) == (pending.pk, "pending", "pendiente.csv", "TELCO")
    call_command("import_data", "list", "--issuer", "900373076", "--state", "finished", "--operator", "telco")
    assert capsys.readouterr().out.startswith(f"#{done.pk}\tTELCO\t2026-08\thecho.csv")
    call_command("import_data", "delete", str(pending.pk))
    call_command("import_data", "cancel", str(other.pk), "--issuer", "900373076")
    assert Job.objects.get(import_job=pending).status == Job.Status.DELETED
    assert Job.objects.get(import_job=other).status == Job.Status.CANCELLED
    entries = AuditEntry.objects.filter(action__in=["import.delete", "import.cancel"])
    assert {(e.action, e.object_id, e.channel) for e in entries} == {("import.delete", str(pending.pk), "cli"),
                                                                     ("import.cancel", str(other.pk), "cli")}
    with pytest.raises(RefusedCommand) as refused:
        call_command("import_data", "delete", str(done.pk))
    assert refused.value.refusal.code == "imports.import.not_pending"
    with pytest.raises(RefusedCommand) as refused:
        call_command("import_data", "cancel", str(done.pk))
    assert refused.value.refusal.code == "imports.import.not_cancellable"
    with pytest.raises(RefusedCommand) as refused:
        call_command("import_data", "status", "999999")
    assert refused.value.refusal.code == "imports.import.not_found"


def test_cli_process_exits_2_with_the_refusal_as_json(transactional_db, issuer_co, operator, template, tmp_path,
                                                       settings):
    from conftest import database_url_for_subprocess

    path = tmp_path / "d.csv"
    path.write_bytes(files.csv_bytes(files.sample_rows(3)))
    env = dict(os.environ, DATABASE_URL=database_url_for_subprocess(), FACTURADOR_DATA_DIR=str(tmp_path),
               FACTURADOR_ENCRYPTION_KEY=",".join(settings.FACTURADOR_ENCRYPTION_KEYS))
    args = ["import", *run_args(path, "--json", period="10-2026")[1:]]
    out = subprocess.run([sys.executable, "-m", "facturador", *args], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2, out.stderr
    refusal = json.loads(out.stderr.strip().splitlines()[-1])
    assert (refusal["code"], refusal["field"]) == ("core.period.invalid", "period") and "AAAA-MM" in refusal["detail"]
    assert not ImportJob.objects.exists()


def test_console_script_alias():
    from facturador.cli import ALIASES

    assert ALIASES["import"] == "import_data"


@pytest.mark.django_db
def test_cli_template_suggest_saves_and_dry_run_json_writes_nothing(issuer_co, tmp_path, capsys):
    from facturador.imports.models import ImportTemplate, Line, Operator
    from facturador.tabular.tests.builders import write_telecom_xlsx

    path = write_telecom_xlsx(tmp_path / "consumo.xlsx")
    call_command("import_data", "template", "suggest", str(path), "--issuer", "900373076", "--operator", "movil",
                 "--name", "Detalle móvil", "--json")
    shown = json.loads(capsys.readouterr().out)
    assert shown["proposal"]["header_row"] == 4 and "template" not in shown and not Operator.objects.exists()
    call_command("import_data", "template", "suggest", str(path), "--issuer", "900373076", "--operator", "movil",
                 "--name", "Detalle móvil", "--save")
    assert "guardada para el operador MOVIL" in capsys.readouterr().out
    tpl = ImportTemplate.objects.get(operator__code="MOVIL")
    assert tpl.mapping["fields"][0]["field"] == "service_line"
    with pytest.raises(SystemExit) as ei:
        call_command("import_data", "run", str(path), "--issuer", "900373076", "--operator", "MOVIL", "--template",
                     "Detalle móvil", "--period", "2026-10", "--dry-run", "--json")
    result = json.loads(capsys.readouterr().out)  # exactly one JSON object
    assert ei.value.code == 3
    assert (result["rows_read"], result["rows_valid"]) == (6, 2)
    assert sorted((e["row"], e["column"], e["header"], e["code"]) for e in result["errors"]) == [
        (5, "K", "Valor total", "invalid_number"), (6, "L", "Fecha corte", "invalid_date"),
        (7, "A", "Línea", "phone_invalid"), (8, "F", "Minutos", "negative")]
    assert result["totals"]["amount"] == "29155.00" and set(result["totals"]) >= {"minutes", "iva_amount", "sms"}
    assert not ImportJob.objects.exists() and not Line.objects.exists()


@pytest.mark.django_db
def test_suggest_pads_the_accounts_a_spreadsheet_stored_as_numbers(issuer_co, tmp_path, capsys):
    """Accounts «0000000001»… in the register, 1, 2 in the operator's file: the proposal zero-pads them."""
    from facturador.billing.models import Account
    from facturador.imports.models import ImportTemplate

    Account.objects.bulk_create([Account(issuer=issuer_co, reference=f"{i:010d}", holder_name="T") for i in (1, 2, 3)])
    path = tmp_path / "consumo.csv"
    path.write_bytes("Cuenta;Concepto;Valor\n1;Consumo;100\n2;Consumo;200\n".encode())
    call_command("import_data", "template", "suggest", str(path), "--issuer", "900373076", "--operator", "movil",
                 "--name", "Numeros", "--save")
    assert "zfill=10" in capsys.readouterr().out
    fields = ImportTemplate.objects.get(name="Numeros").mapping["fields"]
    assert next(f for f in fields if f["field"] == "reference")["zfill"] == 10


@pytest.mark.django_db
def test_suggest_shows_a_proposal_without_the_account_column_and_says_what_is_missing(issuer_co, tmp_path, capsys):
    path = tmp_path / "consumo.csv"
    path.write_bytes("Abonado;Concepto;Valor\n1;Consumo;100\n2;Consumo;200\n".encode())
    args = ["import_data", "template", "suggest", str(path), "--issuer", "900373076", "--operator", "movil",
            "--name", "Sin cuenta"]
    call_command(*args)
    out = capsys.readouterr().out
    assert "Concepto" in out and "La propuesta aún no es una plantilla: La plantilla debe mapear la referencia" in out
    with pytest.raises(RefusedCommand):
        call_command(*args, "--save")


def _import_with_bad_rows(issuer_co, operator, template, bad: int):
    rows = [list(r) for r in files.sample_rows(bad + 2)]
    for r in rows[:bad]:
        r[2] = "muchos"
    return run_now(schedule(issuer_co, operator, template, "a.csv", files.csv_bytes(rows)))


@pytest.mark.django_db
def test_cli_status_lists_the_row_errors(issuer_co, operator, template, capsys):
    imp = _import_with_bad_rows(issuer_co, operator, template, 2)
    call_command("import_data", "status", str(imp.pk))
    out = capsys.readouterr().out
    assert "Errores (2):" in out and "  fila 2, columna " in out and "más;" not in out


@pytest.mark.django_db
def test_cli_status_says_how_many_more_errors_and_how_to_see_them(issuer_co, operator, template, capsys):
    imp = _import_with_bad_rows(issuer_co, operator, template, 23)
    call_command("import_data", "status", str(imp.pk))
    out = capsys.readouterr().out
    assert out.count("  fila ") == 20 and f"… 3 más; use `import status {imp.pk} --all`" in out
    call_command("import_data", "status", str(imp.pk), "--all")
    assert capsys.readouterr().out.count("  fila ") == 23


def test_a_rate_written_with_its_percent_sign_is_read(issuer_co, tmp_path, capsys):
    """«19%» and «19 %» in a «Tarifa IVA» column were invalid numbers on every row: the rate fields read percentages."""
    path = tmp_path / "consumo.csv"
    path.write_text("Cuenta;Concepto;Tarifa IVA;Valor sin IVA;IVA;Valor total\n"
                    "0001;Consumo;19%;1.000,00;190,00;1.190,00\n0002;Consumo;19 %;1.000,00;190,00;1.190,00\n"
                    "0003;Consumo;0%;500,00;0,00;500,00\n0004;Consumo;5,5 %;100,00;5,50;105,50\n", encoding="utf-8")
    call_command("import_data", "template", "suggest", str(path), "--issuer", "900373076", "--operator", "movil",
                 "--name", "Tarifas", "--save")
    capsys.readouterr()
    call_command("import_data", "run", str(path), "--issuer", "900373076", "--operator", "MOVIL", "--template",
                 "Tarifas", "--period", "2026-10", "--dry-run", "--json")
    result = json.loads(capsys.readouterr().out)
    assert (result["rows_valid"], result["errors"]) == (4, [])
    assert "iva_rate" not in result["totals"]  # a sum of rates means nothing


def test_the_dry_run_warns_of_skipped_subtotals_and_accounts_missing_from_the_register(issuer_co, tmp_path, capsys):
    from facturador.billing.models import Account

    Account.objects.create(issuer=issuer_co, reference="0001", holder_name="Ana")
    path = tmp_path / "consumo.csv"
    path.write_text("Cuenta;Concepto;Valor\n0001;Consumo;1.000,00\nSubtotal cuenta 0001;;1.000,00\n"
                    "0002;Consumo;500,00\n0003;Consumo;200,00\n", encoding="utf-8")
    call_command("import_data", "template", "suggest", str(path), "--issuer", "900373076", "--operator", "movil",
                 "--name", "Simple", "--save")
    capsys.readouterr()
    call_command("import_data", "run", str(path), "--issuer", "900373076", "--operator", "MOVIL", "--template",
                 "Simple", "--period", "2026-10", "--dry-run", "--json")
    result = json.loads(capsys.readouterr().out)
    assert (result["rows_read"], result["rows_valid"]) == (3, 3)
    assert result["warnings"] == ["Se omitió 1 fila de subtotal (fila 3)."]
    assert result["unknown_references"] == {"count": 2, "items": ["0002", "0003"]}
