"""Reconciliation figures: control totals vs declared, unknown references, duplicates, period changes."""

import csv
import io
from decimal import Decimal

import pytest

from facturador.billing.models import Account
from facturador.imports import pipeline
from facturador.imports.tests import files
from facturador.imports.tests.conftest import make_template


def row(ref, amount, concept="Consumo"):
    return [ref, concept, "1", amount, amount]


@pytest.mark.django_db
def test_control_totals_match_declared_footer(do_import):
    rows = [row("001", "100,50"), row("002", "200,25"), row("003", "0,25")]
    data = files.csv_bytes(rows + [["TOTAL", "", "", "", "301,00"]])
    imp = do_import("a.csv", data)
    c = imp.reconciliation["control"]
    assert c["rows"] == 3 and c["amount"] == "301.00"
    assert c["declared_amount"] == "301.00" and c["amount_match"] is True
    assert imp.declared_amount == Decimal("301.00")
    assert imp.reconciliation["footer_rows"] == [5]
    assert imp.job.status == "finished"


@pytest.mark.django_db
def test_control_totals_mismatch_is_reported(do_import):
    rows = [row("001", "100,00"), row("002", "200,00")]
    imp = do_import("a.csv", files.csv_bytes(rows + [["TOTAL", "", "", "", "350,00"]]))
    c = imp.reconciliation["control"]
    assert c["amount"] == "300.00" and c["declared_amount"] == "350.00"
    assert c["amount_match"] is False and c["amount_difference"] == "-50.00"
    assert imp.job.status == "finished_errors"
    assert any("350" in m for m in imp.reconciliation["file_errors"])


@pytest.mark.django_db
def test_declared_rows_from_template(issuer_co, operator, do_import):
    mapping = dict(pipeline.DEFAULT_MAPPING, declared_totals={"fields": [], "expected_rows": 3})
    tpl = make_template(issuer_co, operator, "Con filas", mapping=pipeline.normalize_mapping(mapping))
    imp = do_import("a.csv", files.csv_bytes([row("001", "1,00"), row("002", "2,00")]), tpl=tpl)
    c = imp.reconciliation["control"]
    assert c["declared_rows"] == 3 and c["rows_match"] is False


@pytest.mark.django_db
@pytest.mark.parametrize("kept", [200_000, 1])
def test_unknown_references_kept_by_the_loader_or_queried_past_its_limit(issuer_co, do_import, monkeypatch, kept):
    """On PostgreSQL the direct loader keeps the references it wrote without an account (no query over the import's
    lines); past UNKNOWN_KEPT the query finds them: the same figures either way (the staging path always queries)."""
    from facturador.imports import loading

    monkeypatch.setattr(loading, "UNKNOWN_KEPT", kept)
    Account.objects.create(issuer=issuer_co, reference="001", holder_name="Titular")
    rows = [row("001", "1,00"), row("009", "2,00"), row("003", "3,00"), row("009", "4,00")]
    r = do_import("u.csv", files.csv_bytes(rows)).reconciliation
    assert r["unknown_references"] == {"count": 2, "items": ["003", "009"]}


@pytest.mark.django_db
def test_unknown_references_and_duplicates(issuer_co, do_import):
    for ref in ("001", "002"):
        Account.objects.create(issuer=issuer_co, reference=ref, holder_name=f"Titular {ref}")
    rows = [row("001", "10,00"), row("002", "20,00"), row("002", "20,00"), row("003", "30,00"),
            row("004", "5,00"), row("004", "6,00"), row("004", "7,00"), row("004", "1,00", concept="Reconexión")]
    r = do_import("a.csv", files.csv_bytes(rows)).reconciliation
    assert r["unknown_references"] == {"count": 2, "items": ["003", "004"]}
    assert r["duplicates"]["count"] == 2 and r["duplicates"]["lines"] == 5
    by_ref = {d["reference"]: d for d in r["duplicates"]["items"]}
    assert by_ref["004"]["count"] == 3 and by_ref["004"]["amount"] == "18.00" and by_ref["004"]["concept"] == "Consumo"
    assert by_ref["002"]["count"] == 2 and by_ref["002"]["amount"] == "40.00"


@pytest.mark.django_db
def test_changes_against_previous_period_beyond_threshold(issuer_co, operator, do_import):
    tpl = make_template(issuer_co, operator, "Umbral", change_threshold=Decimal("25"))
    prev = [row("001", "100,00"), row("002", "100,00"), row("003", "100,00"), row("004", "100,00")]
    do_import("sep.csv", files.csv_bytes(prev), period="2026-09", tpl=tpl)
    cur = [row("001", "124,00"), row("002", "126,00"), row("003", "50,00"), row("005", "10,00")]
    p = do_import("oct.csv", files.csv_bytes(cur), period="2026-10", tpl=tpl).reconciliation["previous_period"]
    assert p["period"] == "2026-09" and p["rows"] == 4 and p["amount"] == "400.00"
    assert p["threshold_pct"] == "25.00"
    assert p["changed_count"] == 2
    assert [(c["reference"], c["previous"], c["current"], c["change_pct"]) for c in p["changed"]] == [
        ("003", "100.00", "50.00", "-50.00"), ("002", "100.00", "126.00", "26.00")]
    assert p["new_references"] == 1 and p["missing_references"] == 1
    assert p["total_change_pct"] == "-22.50"  # 310 vs 400


@pytest.mark.django_db
def test_year_boundary_previous_period():
    from facturador.imports.staging import previous_period

    assert previous_period("2027-01") == "2026-12" and previous_period("2026-10") == "2026-09"


@pytest.mark.django_db
def test_reconciliation_export_csv(issuer_co, do_import):
    rows = [row("001", "10,00"), row("001", "10,00")]
    imp = do_import("a.csv", files.csv_bytes(rows + [["TOTAL", "", "", "", "20,00"]]))
    data = pipeline.reconciliation_csv(imp)
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert lines[0] == ["Conciliación de la importación", str(imp.pk), imp.operator.code, "2026-10", "a.csv"]
    assert ["Suma de valores", "20,00", "20,00", "sí"] in lines  # decimal comma: numbers for Spanish-locale Excel
    assert ["Referencias desconocidas", "1"] in lines and ["", "001"] in lines
    assert ["", "", "001", "", "Consumo", "", "2", "20,00"] in lines  # account, line, concept, cut date


MALICIOUS = "=cmd|' /C calc'!A0"


@pytest.mark.django_db
def test_exports_write_a_malicious_reference_and_file_name_as_text(issuer_co, do_import):
    """The uploaded file's name and its references reach the reports as text, never as a formula."""
    import python_calamine as pc

    name = "=cmd|'calc'!A0.csv"  # an uploaded name keeps no path: no slash
    imp = do_import(name, files.csv_bytes([row(MALICIOUS, "10,00"), row(MALICIOUS, "abc")]))
    assert imp.original_name == name
    lines = list(csv.reader(io.StringIO(pipeline.reconciliation_csv(imp).decode("utf-8-sig")), delimiter=";"))
    assert lines[0][-1] == "'" + name and ["", "'" + MALICIOUS] in lines

    path, _, _ = pipeline.error_report(imp, "csv")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        report = list(csv.reader(fh, delimiter=";"))
    assert report[1][:2] == ["3", "'" + MALICIOUS]
    path, _, _ = pipeline.error_report(imp, "xlsx")
    sheet = pc.CalamineWorkbook.from_path(path).get_sheet_by_index(0).to_python()
    assert sheet[1][:2] == [3, MALICIOUS]
