"""The accounts register imported through the tabular engine: formats, synonyms, NIT check digits, opening
balances, all-or-nothing (or valid rows only), dry run, and the same report on the web, the API and the CLI."""

import io
import json
from decimal import Decimal as D

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from facturador.billing import accounts_import, actions
from facturador.billing.models import Account, Charge
from facturador.billing.tests.helpers import web_step
from facturador.core.actors import Actor
from facturador.core.cli import RefusedCommand
from facturador.core.errors import Invalid
from facturador.tabular.tests.builders import csv_bytes, write_ods, write_xls, write_xlsx

pytestmark = pytest.mark.django_db

HEADER = ["Código", "Propietario", "Tipo documento", "Documento", "Dirección", "Estrato", "Clase", "Correo",
          "Saldo anterior"]
ROWS = [["0001", "Ana Ruiz", "CC", 52111222, "Calle 1 # 2-3", 2, "Residencial", "ana@example.com", 12500.5],
        ["0002", "Ferretería El Tornillo", "NIT", "800197268-4", "Cra 7 # 8-9", None, "Comercial", "", 0],
        ["0003", "Luis Peña", "NIT", "800197268", "Av. Siempre Viva", 3, "residencial", "", -2000]]


def xlsx(tmp_path, rows=ROWS, header=HEADER, name="cuentas.xlsx"):
    title = [["Padrón de suscriptores — Alumbrado"], ["Corte: octubre 2026"], []]
    return write_xlsx(tmp_path / name, {"Cuentas": [*title, header, *rows]})


def run(issuer, path, **kw):
    return actions.import_accounts(issuer, Actor.cli(), path=path, filename=path.name, **kw)


def test_xlsx_with_title_rows_accents_and_synonyms_is_imported(issuer_co, tmp_path):
    report = run(issuer_co, xlsx(tmp_path), opening_period="2026-09")
    assert (report.rows_read, report.rows_valid, report.created, report.errors) == (3, 3, 3, [])
    a = Account.objects.get(reference="0001")
    assert (a.holder_name, a.id_number, a.address, a.stratum, a.service_class, a.email) == (
        "Ana Ruiz", "52111222", "Calle 1 # 2-3", "2", "residencial", "ana@example.com")


def test_names_and_surnames_in_separate_columns_make_the_holder(issuer_co, tmp_path):
    run(issuer_co, xlsx(tmp_path, [["0001", "Ana María", "Ruiz Gómez"]], ["Código", "Nombres", "Apellidos"]))
    assert Account.objects.get().holder_name == "Ana María Ruiz Gómez"


def test_four_name_columns_make_the_holder_names_first(issuer_co, tmp_path):
    header = ["Cuenta", "Primer apellido", "Segundo apellido", "Primer nombre", "Segundo nombre"]
    run(issuer_co, xlsx(tmp_path, [["0001", "Ruiz", "Gómez", "Ana", None]], header))
    assert Account.objects.get().holder_name == "Ana Ruiz Gómez"


def test_a_company_name_column_is_used_and_the_name_columns_when_it_is_empty(issuer_co, tmp_path):
    rows = [["0001", "Ferretería El Tornillo S.A.S.", None, None], ["0002", None, "Ana", "Ruiz"]]
    run(issuer_co, xlsx(tmp_path, rows, ["Código", "Razón social", "Nombre", "Apellido"]))
    assert dict(Account.objects.values_list("reference", "holder_name")) == {
        "0001": "Ferretería El Tornillo S.A.S.", "0002": "Ana Ruiz"}


def test_the_opening_balance_is_the_saldo_anterior_column_not_a_plain_saldo_left_of_it(issuer_co, tmp_path):
    """«Saldo» and «Saldo anterior» both name the opening balance exactly: the leftmost won, so the current balance
    became the opening charge; the field's own label now ranks first."""
    report = run(issuer_co, xlsx(tmp_path, [["0001", "Ana Ruiz", 50000, 12500]],
                                 ["Código", "Propietario", "Saldo", "Saldo anterior"]), dry_run=True)
    assert [(c["header"], c["field"]) for c in report.columns][-1] == ("Saldo anterior", "opening_balance")
    assert report.opening_total == D("12500.00")


def test_abbreviated_headers_are_matched(issuer_co, tmp_path):
    header = ["Cód. usuario", "Nombre", "NIT/C.C.", "D.V.", "Cód. Municipio", "Tel.", "Deuda anterior"]
    report = run(issuer_co, xlsx(tmp_path, [["0001", "Ferretería", "900373076", "4", "05001", "6041234567", 1]], header),
                 dry_run=True)
    assert [c["field"] for c in report.columns] == [
        "reference", "holder_name", "id_number", "check_digit", "municipality_code", "phone", "opening_balance"]


def test_nit_with_or_without_check_digit(issuer_co, tmp_path):
    run(issuer_co, xlsx(tmp_path))
    got = {a.reference: (a.id_type, a.id_number, a.check_digit) for a in Account.objects.filter(id_type="NIT")}
    assert got == {"0002": ("NIT", "800197268", "4"), "0003": ("NIT", "800197268", "4")}


def test_opening_balance_becomes_a_charge_of_the_opening_period(issuer_co, tmp_path):
    report = run(issuer_co, xlsx(tmp_path), opening_period="2026-09")
    charges = {c.reference: (c.period, c.amount, c.concept) for c in Charge.objects.filter(source="opening")}
    assert charges == {"0001": ("2026-09", D("12500.50"), "Saldo anterior"),
                       "0003": ("2026-09", D("-2000.00"), "Saldo anterior")}
    assert report.to_dict()["totals"] == {"opening_balance": "10500.50"}


def test_importing_again_replaces_the_opening_balance(issuer_co, tmp_path):
    run(issuer_co, xlsx(tmp_path))
    rows = [list(r) for r in ROWS]
    rows[0][-1] = 100
    report = run(issuer_co, xlsx(tmp_path, rows, name="otra.xlsx"))
    assert (report.created, report.updated) == (0, 3)
    assert Charge.objects.get(reference="0001", source="opening").amount == D("100.00")


def test_a_file_with_errors_imports_nothing_and_names_row_column_header_value(issuer_co, tmp_path):
    rows = [*ROWS, ["0004", "Marta", "NIT", "800197268-9", "", "9", "Galáctica", "no-es-correo", "N/A"]]
    with pytest.raises(Invalid) as info:
        run(issuer_co, xlsx(tmp_path, rows))
    r = info.value
    assert r.code == "billing.accounts_file.invalid_rows" and r.details["rows_read"] == 4
    assert r.details["rows_valid"] == 3
    first = r.details["errors"][-1]
    assert first == {"row": 8, "column": "I", "header": "Saldo anterior", "value": "N/A", "code": "invalid_number",
                     "message": first["message"]} and first["message"].startswith("Fila 8")
    assert Account.objects.count() == 0 and Charge.objects.count() == 0


def test_row_checks_name_each_bad_cell(issuer_co, tmp_path):
    rows = [["0004", "Marta", "NIT", "800197268-9", "", "9", "Galáctica", "no-es-correo", "1"]]
    report = run(issuer_co, xlsx(tmp_path, rows), dry_run=True)
    assert [(e["column"], e["header"], e["code"]) for e in report.errors] == [
        ("D", "Documento", "nit_dv"), ("F", "Estrato", "not_allowed"), ("G", "Clase", "not_allowed"),
        ("H", "Correo", "invalid_email")]


def test_a_dv_column_makes_the_document_a_nit_without_a_type_column(issuer_co, tmp_path):
    run(issuer_co, xlsx(tmp_path, [["0001", "Ferretería", 900373076, 4]], ["Código", "Propietario", "Documento", "DV"]))
    a = Account.objects.get()
    assert (a.id_type, a.id_number, a.check_digit) == ("NIT", "900373076", "4")


def test_a_wrong_dv_in_the_dv_column_is_an_error_on_that_column(issuer_co, tmp_path):
    header = ["Código", "Propietario", "Documento", "DV"]
    report = run(issuer_co, xlsx(tmp_path, [["0001", "Ferretería", 900373076, 8]], header), dry_run=True)
    assert [(e["row"], e["column"], e["header"], e["value"], e["code"]) for e in report.errors] == [
        (5, "D", "DV", "8", "nit_dv")]


def test_a_nit_with_its_dv_after_a_space_or_glued_is_read_as_nit_and_dv(issuer_co, tmp_path):
    rows = [["0001", "A", "900373076 4"], ["0002", "B", "900.373.076 4"], ["0003", "C", "9003730764"]]
    run(issuer_co, xlsx(tmp_path, rows, ["Código", "Propietario", "Documento"]))
    assert set(Account.objects.values_list("id_type", "id_number", "check_digit")) == {("NIT", "900373076", "4")}


def test_a_wrong_dv_after_a_space_or_glued_is_an_error_not_another_nit(issuer_co, tmp_path):
    rows = [["0001", "A", "NIT", "900373076 8"], ["0002", "B", "NIT", "9003730768"]]
    report = run(issuer_co, xlsx(tmp_path, rows, ["Código", "Propietario", "Tipo doc.", "NIT"]), dry_run=True)
    assert [(e["row"], e["column"], e["value"], e["code"]) for e in report.errors] == [
        (5, "D", "900373076 8", "nit_dv"), (6, "D", "9003730768", "nit_dv")]


def test_a_column_headed_nit_holds_nits(issuer_co, tmp_path):
    run(issuer_co, xlsx(tmp_path, [["0001", "Ferretería", "900.373.076"]], ["Código", "Propietario", "NIT"]))
    a = Account.objects.get()
    assert (a.id_type, a.id_number, a.check_digit) == ("NIT", "900373076", "4")


def test_a_nit_error_shows_the_cell_as_written(issuer_co, tmp_path):
    rows = [["0001", "A", "NIT", "900.373.076-8"]]
    report = run(issuer_co, xlsx(tmp_path, rows, ["Código", "Propietario", "Tipo doc.", "Documento"]), dry_run=True)
    assert [(e["value"], e["code"]) for e in report.errors] == [("900.373.076-8", "nit_dv")]


def test_dotted_id_types_and_dian_codes_are_read(issuer_co, tmp_path):
    rows = [["0001", "A", "C.E.", "E123"], ["0002", "B", "T.I.", "1001"], ["0003", "C", "13", "52111222"],
            ["0004", "D", "31", "900373076-4"], ["0005", "E", "Cédula extranjería", "E456"]]
    report = run(issuer_co, xlsx(tmp_path, rows, ["Código", "Propietario", "Tipo doc.", "Documento"]), dry_run=True)
    assert [r.values["id_type"] for r in report.rows] == ["CE", "TI", "CC", "NIT", "CE"]


def test_a_cedula_with_letters_is_an_error_naming_the_cell(issuer_co, tmp_path):
    rows = [["0004", "Marta", "CC", "52.111.222", "", "", "", "", ""], ["0005", "Rosa", "CC", "52I11222", "", "", "", "", ""]]
    report = run(issuer_co, xlsx(tmp_path, rows), dry_run=True)
    assert [(e["row"], e["column"], e["code"]) for e in report.errors] == [(6, "D", "invalid_id_number")]


def test_valid_rows_only_imports_the_good_ones_and_reports_the_others(issuer_co, tmp_path):
    rows = [*ROWS, ["0004", "", "CC", "1", "", "", "", "", ""]]
    report = run(issuer_co, xlsx(tmp_path, rows), valid_only=True)
    assert report.created == 3 and [e["code"] for e in report.errors] == ["required"]
    assert not Account.objects.filter(reference="0004").exists()


def test_a_total_row_that_does_not_match_the_balances_is_an_error(issuer_co, tmp_path):
    report = run(issuer_co, xlsx(tmp_path, [*ROWS, ["TOTAL", *[None] * 7, 9999]]), dry_run=True)
    assert [(e["row"], e["column"], e["header"], e["value"], e["code"]) for e in report.errors] == [
        (8, "I", "Saldo anterior", "9999.00", "total_mismatch")]
    assert report.errors[0]["message"].startswith("Fila 8, «Saldo anterior» (columna I): la fila de totales dice "
                                                  "9999.00 y la suma de las filas es 10500.50")


def test_a_total_row_that_matches_the_balances_is_skipped(issuer_co, tmp_path):
    report = run(issuer_co, xlsx(tmp_path, [*ROWS, ["TOTAL", *[None] * 7, 10500.5]]), dry_run=True)
    assert (report.rows_read, report.rows_valid, report.errors) == (3, 3, [])


def test_dry_run_writes_nothing(issuer_co, tmp_path):
    report = run(issuer_co, xlsx(tmp_path), dry_run=True)
    assert report.rows_valid == 3 and not report.imported
    assert Account.objects.count() == 0 and Charge.objects.count() == 0


def test_a_reference_excel_stripped_of_its_leading_zeros_updates_the_existing_account(issuer_co, tmp_path):
    Account.objects.create(issuer=issuer_co, reference="000123", holder_name="Ana")
    report = run(issuer_co, xlsx(tmp_path, [[123, "Ana Ruiz"]], ["Código", "Propietario"]))
    assert (report.created, report.updated) == (0, 1)
    assert list(Account.objects.values_list("reference", "holder_name")) == [("000123", "Ana Ruiz")]


def test_repeated_reference_is_an_error_naming_the_first_row(issuer_co, tmp_path):
    report = run(issuer_co, xlsx(tmp_path, [*ROWS, ROWS[0]]), dry_run=True)
    assert report.errors[0]["code"] == "duplicate_reference" and "fila 5" in report.errors[0]["message"]


def test_a_reference_repeated_after_a_row_with_errors_is_not_imported_from_the_second_row(issuer_co, tmp_path):
    rows = [ROWS[0], ["0004", "Marta", "CC", "52111222", "", "", "", "no-es-correo", ""],
            ["0004", "Rosa", "CC", "52111223", "", "", "", "", "5"]]
    report = run(issuer_co, xlsx(tmp_path, rows), valid_only=True)
    assert [(e["row"], e["code"]) for e in report.errors] == [(6, "invalid_email"), (7, "duplicate_reference")]
    assert list(Account.objects.values_list("reference", flat=True)) == ["0001"]
    assert "fila 6" in report.errors[1]["message"]


def test_latin1_csv_with_semicolons(issuer_co, tmp_path):
    path = tmp_path / "cuentas.csv"
    path.write_bytes(csv_bytes([["referencia", "titular", "dirección", "saldo anterior"],
                                ["0001", "Peña Ñandú", "Cl 5", "1.234,50"]], delimiter=";", encoding="latin-1"))
    run(issuer_co, path)
    assert Account.objects.get().holder_name == "Peña Ñandú"
    assert Charge.objects.get().amount == D("1234.50")


def test_ods_and_xls(issuer_co, tmp_path):
    write_ods(tmp_path / "a.ods", {"Hoja1": [["Referencia", "Titular"], ["0001", "Ana"]]})
    write_xls(tmp_path / "b.xls", [["Referencia", "Titular"], ["0002", "Luis"]])
    run(issuer_co, tmp_path / "a.ods")
    run(issuer_co, tmp_path / "b.xls")
    assert set(Account.objects.values_list("reference", flat=True)) == {"0001", "0002"}


def test_a_file_without_a_reference_column_is_refused_with_the_headers_found(issuer_co, tmp_path):
    path = write_xlsx(tmp_path / "x.xlsx", {"H": [["Nombre", "Ciudad"], ["Ana", "Bogotá"]]})
    with pytest.raises(Invalid) as info:
        run(issuer_co, path)
    assert info.value.code == "billing.accounts_file.no_reference_column" and "«Nombre»" in info.value.message


def test_limits_are_checked_before_loading(issuer_co, tmp_path, monkeypatch):
    from facturador.tabular import Limits

    monkeypatch.setattr(accounts_import, "ACCOUNTS_LIMITS", Limits(max_rows=3))
    with pytest.raises(Invalid) as info:
        run(issuer_co, xlsx(tmp_path))
    assert info.value.code == "billing.accounts_file.too_many_rows"


def test_a_changed_opening_balance_of_an_invoiced_account_is_refused(issuer_co, tmp_path, settings):
    from facturador.billing.tests.helpers import issue_batch_inline, make_range

    settings.MEDIA_ROOT = tmp_path
    run(issuer_co, xlsx(tmp_path), opening_period="2026-09")
    make_range(issuer_co)
    issue_batch_inline(issuer_co, list(Account.objects.filter(reference="0001")))
    rows = [list(r) for r in ROWS]
    rows[0][-1] = 1
    report = run(issuer_co, xlsx(tmp_path, rows, name="b.xlsx"), dry_run=True)
    assert [e["code"] for e in report.errors] == ["opening_balance_invoiced"]


def test_reimporting_an_invoiced_account_leaves_its_opening_charge_alone(issuer_co, tmp_path, settings):
    from facturador.billing.tests.helpers import issue_batch_inline, make_range

    settings.MEDIA_ROOT = tmp_path
    run(issuer_co, xlsx(tmp_path), opening_period="2026-09")
    make_range(issuer_co)
    issue_batch_inline(issuer_co, list(Account.objects.filter(reference="0001")))
    billed = Charge.objects.get(reference="0001", source="opening")
    report = run(issuer_co, xlsx(tmp_path, name="b.xlsx"), opening_period="2026-10")
    assert report.errors == [] and report.updated == 3
    assert list(Charge.objects.filter(reference="0001", source="opening")) == [billed]  # not billed again in 2026-10
    assert billed.period == "2026-09"


def test_cli_json_prints_the_report(issuer_co, tmp_path):
    out = io.StringIO()
    call_command("accounts", "import", str(xlsx(tmp_path)), "--issuer", issuer_co.tax_id, "--dry-run", "--json",
                 stdout=out)
    data = json.loads(out.getvalue())
    assert (data["rows_read"], data["rows_valid"], data["errors"], data["totals"]) == (
        3, 3, [], {"opening_balance": "10500.50"})
    assert Account.objects.count() == 0


def test_cli_refuses_a_file_with_errors_with_status_2(issuer_co, tmp_path):
    with pytest.raises(RefusedCommand) as info:
        call_command("accounts", "import", str(xlsx(tmp_path, [["0009", "", "CC", "123", "Calle 9", 1, "Residencial", "", 0]])),
                     "--issuer", issuer_co.tax_id)
    assert info.value.returncode == 2 and info.value.refusal.details["errors"][0]["code"] == "required"


def test_api_import_and_dry_run(issuer_co, admin_co, api_client, tmp_path):
    api_client.force_authenticate(admin_co)
    url = f"/api/v1/issuers/{issuer_co.pk}/billing/accounts/import/"
    data = xlsx(tmp_path).read_bytes()
    r = api_client.post(url, {"file": SimpleUploadedFile("c.xlsx", data), "dry_run": "true"}, format="multipart")
    assert r.status_code == 200 and r.json()["rows_valid"] == 3 and Account.objects.count() == 0
    r = api_client.post(url, {"file": SimpleUploadedFile("c.xlsx", data)}, format="multipart")
    assert r.status_code == 201 and r.json()["created"] == 3


def test_api_refusal_lists_the_errors(issuer_co, admin_co, api_client, tmp_path):
    api_client.force_authenticate(admin_co)
    url = f"/api/v1/issuers/{issuer_co.pk}/billing/accounts/import/"
    data = xlsx(tmp_path, [["0009", "", "CC", "123", "Calle 9", 1, "Residencial", "", 0]]).read_bytes()
    r = api_client.post(url, {"file": SimpleUploadedFile("c.xlsx", data)}, format="multipart")
    assert r.status_code == 400 and r.json()["code"] == "billing.accounts_file.invalid_rows"
    assert r.json()["details"]["errors"][0]["column"] == "B"


def test_web_upload_previews_then_imports_on_confirmation(issuer_co, client_co, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    rows = [*ROWS, ["0004", "", "CC", "1", "", "", "", "", ""]]
    page = web_step(client_co, "/facturacion/cuentas/cargar/",
                    {"file": SimpleUploadedFile("c.xlsx", xlsx(tmp_path, rows).read_bytes())})
    body = page.content.decode()
    assert page.status_code == 200 and "Saldo anterior" in body and "Fila 8" in body and Account.objects.count() == 0
    check_url = page.request["PATH_INFO"]
    refused = client_co.post(check_url, {"confirm": "1"}, follow=True)
    assert "no se importó ninguna cuenta" in refused.content.decode() and Account.objects.count() == 0
    done = web_step(client_co, check_url, {"confirm": "1", "valid_only": "on"})
    assert "3 cuentas creadas" in done.content.decode() and Account.objects.count() == 3
    again = client_co.post(check_url, {"confirm": "1", "valid_only": "on"}, follow=True)
    assert "ya se importó" in again.content.decode() and Charge.objects.filter(source="opening").count() == 2


def test_web_upload_of_an_unsupported_file_is_refused_at_once(issuer_co, client_co):
    resp = client_co.post("/facturacion/cuentas/cargar/", {"file": SimpleUploadedFile("c.pdf", b"%PDF-1.4")})
    assert resp.status_code == 200
    assert resp.context["form"].errors.as_data()["file"][0].code == "billing.accounts_file.unsupported_extension"


def test_a_large_register_is_checked_by_a_worker_not_in_the_request(issuer_co, client_co, tmp_path, settings):
    from facturador.core.models import Job

    settings.MEDIA_ROOT = tmp_path
    resp = client_co.post("/facturacion/cuentas/cargar/", {"file": SimpleUploadedFile("c.xlsx", xlsx(tmp_path).read_bytes())})
    job = Job.objects.get(kind=accounts_import.JOB_KIND)
    assert resp.status_code == 302 and job.status == Job.Status.PENDING and job.params["dry_run"] is True
    page = client_co.get(resp.url)
    assert page.context["report"] is None and f'id="job-{job.pk}"' in page.content.decode()


def test_header_is_found_when_the_first_account_has_few_fields(issuer_co, tmp_path):
    path = write_xlsx(tmp_path / "p.xlsx", {"Padrón": [["Padrón de usuarios"], [], HEADER,
                                                       ["0001", "Ana", None, None, None, None, None, None, None],
                                                       ["0002", "Luis", "CC", "123", "Cl 1", 2, "Comercial", "", 5]]})
    report = run(issuer_co, path, dry_run=True)
    assert report.rows_valid == 2 and {c["field"] for c in report.columns} >= {"reference", "holder_name", "stratum"}


def test_a_row_with_an_unreadable_cell_still_reports_its_other_bad_cells(issuer_co, tmp_path):
    rows = [["0004", "Marta", "NIT", "800197268-9", "", 2, "Residencial", "", "N/A"]]
    report = run(issuer_co, xlsx(tmp_path, rows), dry_run=True)
    assert [(e["column"], e["code"]) for e in report.errors] == [("D", "nit_dv"), ("I", "invalid_number")]


def test_an_upload_never_confirmed_is_removed_after_a_day(issuer_co, settings, tmp_path):
    import os
    import time

    settings.MEDIA_ROOT = tmp_path
    old = accounts_import.store_upload(issuer_co, b"referencia\n1\n", "a.csv")
    stale = time.time() - 2 * 24 * 3600
    os.utime(accounts_import.stored_upload(issuer_co, old).parent, (stale, stale))
    new = accounts_import.store_upload(issuer_co, b"referencia\n2\n", "b.csv")
    assert accounts_import.stored_upload(issuer_co, old) is None and accounts_import.stored_upload(issuer_co, new)


def test_a_stratum_in_roman_numerals_is_read(issuer_co, tmp_path):
    rows = [["0001", "Ana", "III"], ["0002", "Luis", "Estrato IV"], ["0003", "Rosa", "VII"]]
    report = run(issuer_co, xlsx(tmp_path, rows, ["Código", "Propietario", "Estrato"]), dry_run=True)
    assert [r.values["stratum"] for r in report.rows] == ["3", "4"]
    assert [(e["row"], e["code"]) for e in report.errors] == [(7, "not_allowed")]


def test_service_class_abbreviations_are_read(issuer_co, tmp_path):
    rows = [["0001", "Ana", "RES"], ["0002", "Luis", "Com."], ["0003", "Rosa", "IND"], ["0004", "X", "OFIC"]]
    report = run(issuer_co, xlsx(tmp_path, rows, ["Código", "Propietario", "Uso"]), dry_run=True)
    assert [r.values["service_class"] for r in report.rows] == ["residencial", "comercial", "industrial", "oficial"]


def test_a_municipality_written_by_name_says_the_dane_code_is_expected(issuer_co, tmp_path):
    header = ["Código", "Propietario", "Municipio"]
    report = run(issuer_co, xlsx(tmp_path, [["0004", "Marta", "Bogotá"], ["0005", "Rosa", "5001"]], header), dry_run=True)
    assert [(e["row"], e["column"], e["code"]) for e in report.errors] == [(5, "C", "invalid_dane")]
    assert "«Bogotá» es un nombre" in report.errors[0]["message"] and "11001" in report.errors[0]["message"]
