"""Each file format imported end to end into billing charges."""

from decimal import Decimal

import pytest

from facturador.billing.models import Account, Charge
from facturador.core.models import Job
from facturador.imports.tests import files

ROWS = files.sample_rows(6)


def charges(issuer, period="2026-10"):
    return list(Charge.objects.filter(issuer=issuer, period=period).order_by("reference"))


def assert_loaded(imp, issuer, rows=ROWS):
    assert imp.job.status == Job.Status.FINISHED, (imp.job.status, imp.job.error, list(imp.row_errors.values_list("message", flat=True)))
    got = charges(issuer)
    assert [c.reference for c in got] == [r[0] for r in rows]  # leading zeros kept
    assert sum(c.amount for c in got) == Decimal(files.total_of(rows))
    assert all(c.source == "import" and c.source_import_id == imp.pk and c.source_operator == "TELCO" for c in got)
    assert imp.rows_valid == len(rows) and imp.rows_invalid == 0
    assert imp.amount_total == Decimal(files.total_of(rows))
    return got


@pytest.mark.django_db
@pytest.mark.parametrize("encoding,bom", [("utf-8", False), ("utf-8", True), ("latin-1", False)])
def test_csv_encodings(issuer_co, do_import, encoding, bom):
    rows = [list(r) for r in ROWS]
    rows[0][1] = "Energía reactiva ñandú"
    imp = do_import("detalle.csv", files.csv_bytes(rows, encoding=encoding, bom=bom))
    got = assert_loaded(imp, issuer_co, rows)
    assert got[0].concept == "Energía reactiva ñandú"


@pytest.mark.django_db
def test_txt_with_comma_delimiter(issuer_co, do_import):
    assert_loaded(do_import("detalle.txt", files.csv_bytes(ROWS, delimiter="\t")), issuer_co)


@pytest.mark.django_db
def test_xlsx(issuer_co, do_import):
    imp = do_import("detalle.xlsx", files.xlsx_bytes(ROWS))
    assert_loaded(imp, issuer_co)
    assert imp.file_info["sheet"] == "Detalle"


@pytest.mark.django_db
def test_ods(issuer_co, do_import):
    assert_loaded(do_import("detalle.ods", files.ods_bytes(ROWS)), issuer_co)


@pytest.mark.django_db
@pytest.mark.parametrize("inner", ["detalle.csv", "detalle.xlsx"])
def test_zip(issuer_co, do_import, inner):
    data = files.csv_bytes(ROWS) if inner.endswith(".csv") else files.xlsx_bytes(ROWS)
    imp = do_import("envio.zip", files.zip_bytes(inner, data))
    assert_loaded(imp, issuer_co)
    assert imp.file_info["member"] == inner


@pytest.mark.django_db
def test_charges_link_known_accounts(issuer_co, do_import):
    Account.objects.create(issuer=issuer_co, reference=ROWS[0][0], holder_name="Ana")
    imp = do_import("detalle.csv", files.csv_bytes(ROWS))
    got = assert_loaded(imp, issuer_co)
    assert got[0].account is not None and got[0].account.holder_name == "Ana"
    assert all(c.account_id is None for c in got[1:])


@pytest.mark.django_db
def test_xls(issuer_co, do_import, tmp_path):
    xlwt = pytest.importorskip("xlwt", reason="xlwt (test extra) not installed")
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("Detalle")
    for i, row in enumerate([files.HEADER] + ROWS):
        for j, v in enumerate(row):
            ws.write(i, j, float(v.replace(",", ".")) if i and j >= 2 else v)
    wb.save(str(tmp_path / "d.xls"))
    assert_loaded(do_import("detalle.xls", (tmp_path / "d.xls").read_bytes()), issuer_co)


@pytest.mark.django_db
def test_sheet_by_name_and_header_row(issuer_co, operator, do_import):
    from facturador.imports import pipeline
    from facturador.imports.tests.conftest import make_template

    mapping = dict(pipeline.DEFAULT_MAPPING, sheet="Cargos", header_row=1)
    tpl = make_template(issuer_co, operator, "Por hoja", mapping=pipeline.normalize_mapping(mapping))
    data = files.xlsx_bytes(ROWS, sheet="Cargos", extra_sheets=["Portada"])
    assert_loaded(do_import("detalle.xlsx", data, tpl=tpl), issuer_co)


@pytest.mark.django_db
def test_mixed_encoding_ascii_then_latin1(issuer_co, do_import):
    """A long pure-ASCII start, then Windows-1252/Latin-1 accents far into the file (past the sniffed prefix)."""
    rows = files.sample_rows(3000)
    rows[-1] = list(rows[-1])
    rows[-1][1] = "Facturación año"
    imp = do_import("detalle.csv", files.csv_bytes(rows, encoding="latin-1"))
    assert imp.job.status == Job.Status.FINISHED, imp.job.error
    assert Charge.objects.get(reference=rows[-1][0]).concept == "Facturación año"
    assert imp.file_info["encoding"] in ("cp1252", "latin-1")
