"""The two loaders: direct (PostgreSQL) and staging (SQLite); foreign keys, rounding, row errors kept aside."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from facturador.billing.models import Account, Charge
from facturador.core.models import Job
from facturador.imports import loading
from facturador.imports.models import ImportedLine, ImportRowError
from facturador.imports.tests import files

ROWS = files.sample_rows(8)
postgres_only = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="direct loader: PostgreSQL only")


def account(issuer, ref):
    return Account.objects.create(issuer=issuer, reference=ref, holder_name=f"Titular {ref}", id_type="CC",
                                  id_number="10203040")


@pytest.mark.django_db
def test_loader_follows_the_database(issuer_co, do_import):
    imp = do_import("a.csv", files.csv_bytes(ROWS))
    assert imp.job.status == Job.Status.FINISHED
    expected = "copy-direct" if connection.vendor == "postgresql" else "insert"
    assert imp.job.result["loader"] == expected
    assert Charge.objects.filter(source_import_id=imp.pk).count() == len(ROWS)
    assert not ImportedLine.objects.exists()  # nothing staged is left behind, whichever loader ran


@pytest.mark.django_db
def test_lines_are_linked_to_accounts_by_reference(issuer_co, do_import):
    known = account(issuer_co, ROWS[0][0])
    imp = do_import("a.csv", files.csv_bytes(ROWS))
    got = {c.reference: c.account_id for c in Charge.objects.filter(source_import_id=imp.pk)}
    assert got[ROWS[0][0]] == known.pk
    assert all(got[r[0]] is None for r in ROWS[1:])
    assert imp.reconciliation["unknown_references"]["count"] == len(ROWS) - 1


@postgres_only
@pytest.mark.django_db
def test_direct_load_keeps_every_foreign_key_of_charges(issuer_co, do_import):
    """The COPY skips its own per-row checks only because its keys are proven: the constraints stay."""
    known = account(issuer_co, ROWS[0][0])
    imp = do_import("a.csv", files.csv_bytes(ROWS))
    assert imp.job.result["foreign_keys"] == "proven"  # the test role is a superuser
    with connection.cursor() as cursor:
        cursor.execute("SELECT conname FROM pg_constraint WHERE conrelid = 'billing_charge'::regclass AND contype = 'f'")
        names = {r[0] for r in cursor.fetchall()}
    assert any("account_id" in n for n in names) and any("issuer_id" in n for n in names)
    # Deleting an account that an imported line refers to is still refused by the database.
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("DELETE FROM billing_account WHERE id = %s", [known.pk])
    assert Account.objects.filter(pk=known.pk).exists()
    # ...and a session that sends a line with a made-up account is refused too.
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("UPDATE billing_charge SET account_id = %s WHERE source_import_id = %s",
                       [known.pk + 10_000, imp.pk])


@postgres_only
@pytest.mark.django_db
def test_direct_load_without_the_privilege_checks_each_line(issuer_co, do_import):
    """Under a role that may not set session_replication_role, the same import runs with every check."""
    with connection.cursor() as cursor:
        cursor.execute("DO $$ BEGIN CREATE ROLE facturador_test_plain NOLOGIN NOSUPERUSER; "
                       "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$")
        cursor.execute("GRANT ALL ON ALL TABLES IN SCHEMA public TO facturador_test_plain")
        cursor.execute("GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO facturador_test_plain")
        cursor.execute("SET ROLE facturador_test_plain")
    try:
        account(issuer_co, ROWS[2][0])
        imp = do_import("a.csv", files.csv_bytes(ROWS))
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
    assert imp.job.status == Job.Status.FINISHED, imp.job.error
    assert imp.job.result["foreign_keys"] == "checked"
    assert Charge.objects.filter(source_import_id=imp.pk, account__isnull=False).count() == 1


@pytest.mark.django_db
def test_quantity_and_price_rounded_half_up_to_four_places(issuer_co, do_import):
    rows = [list(r) for r in ROWS[:3]]
    rows[0][2], rows[0][3], rows[0][4] = "1,234565", "10,000050", "12,35"
    rows[1][2], rows[1][3], rows[1][4] = "-2,000050", "3,33335", "-6,67"
    imp = do_import("a.csv", files.csv_bytes(rows))
    assert imp.job.status == Job.Status.FINISHED, imp.job.error
    got = {c.reference: c for c in Charge.objects.filter(source_import_id=imp.pk)}
    q4 = Decimal("0.0001")
    c0, c1 = got[rows[0][0]], got[rows[1][0]]
    assert c0.quantity == Decimal("1.234565").quantize(q4, ROUND_HALF_UP) == Decimal("1.2346")
    assert c0.unit_price == Decimal("10.0001")
    assert c1.quantity == Decimal("-2.0001") and c1.unit_price == Decimal("3.3334")  # half away from zero
    assert imp.amount_total == sum(c.amount for c in got.values())


@pytest.mark.django_db
def test_amount_computed_from_rounded_quantity_when_missing(issuer_co, operator):
    from facturador.imports import pipeline
    from facturador.imports.tests.conftest import import_file, make_template

    mapping = pipeline.normalize_mapping({
        "header_row": 1, "fields": [
            {"field": "reference", "header": "Referencia", "parser": "text", "required": True},
            {"field": "quantity", "header": "Cantidad", "parser": "decimal"},
            {"field": "unit_price", "header": "Valor unitario", "parser": "decimal"}]})
    tpl = make_template(issuer_co, operator, name="Sin valor", mapping=mapping)
    data = files.csv_bytes([["001", "1,00005", "100"]], header=["Referencia", "Cantidad", "Valor unitario"])
    imp = import_file(issuer_co, operator, tpl, "a.csv", data)
    c = Charge.objects.get(source_import_id=imp.pk)
    assert c.quantity == Decimal("1.0001") and c.amount == Decimal("100.01")  # 1.0001 × 100


@pytest.mark.django_db
def test_values_beyond_the_columns_are_row_errors(issuer_co, do_import):
    rows = [list(r) for r in ROWS[:3]]
    rows[0][3] = "100000000000000"            # unit price: numeric(18, 4) holds < 10^14
    rows[1][0] = "00\x0001"                    # a NUL character cannot be stored
    imp = do_import("a.csv", files.csv_bytes(rows))
    assert imp.job.status == Job.Status.FINISHED_WITH_ERRORS
    msgs = sorted(ImportRowError.objects.filter(import_job=imp).values_list("message", flat=True))
    assert any("valor unitario" in m and "demasiado grande" in m for m in msgs)
    assert any("carácter nulo" in m for m in msgs)
    assert Charge.objects.filter(source_import_id=imp.pk).count() == 1


@pytest.mark.django_db
def test_many_row_errors_spill_to_disk_and_all_are_saved(issuer_co, do_import, monkeypatch):
    monkeypatch.setattr(loading.ErrorSpool, "SPILL_EVERY", 7)
    rows = files.sample_rows(60)
    for r in rows[::2]:
        r[4] = "no es un número"
    imp = do_import("a.csv", files.csv_bytes(rows))
    assert imp.job.status == Job.Status.FINISHED_WITH_ERRORS
    stored = list(ImportRowError.objects.filter(import_job=imp).order_by("row_number").values_list("row_number", flat=True))
    assert stored == [i + 2 for i in range(0, 60, 2)]  # file rows (header is row 1)
    assert Charge.objects.filter(source_import_id=imp.pk).count() == 30


@pytest.mark.django_db
def test_errors_of_a_refused_import_are_kept(issuer_co, operator, do_import):
    from facturador.imports.tests.conftest import make_template

    tpl = make_template(issuer_co, operator, name="Estricta", all_or_nothing=True)
    rows = [list(r) for r in ROWS]
    rows[3][4] = "x"
    imp = do_import("a.csv", files.csv_bytes(rows), tpl=tpl)
    assert imp.job.status == Job.Status.FAILED and "todo o nada" in imp.job.error
    assert not Charge.objects.exists()
    assert ImportRowError.objects.filter(import_job=imp, row_number=5).exists()
    assert imp.rows_invalid == 1 and imp.rows_valid == len(ROWS) - 1
