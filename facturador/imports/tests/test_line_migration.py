"""Migration imports 0007: the typed lines of an installed system move onto the charges their imports wrote."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("billing", "0011_drop_invoice_batch_pdf_index"), ("imports", "0006_line_period_index_dropped")]
AFTER = [("billing", "0012_charge_typed_line"), ("imports", "0007_line_is_charge")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_each_line_lands_on_its_own_charge_in_row_order():
    apps = _migrate(BEFORE)
    try:
        Issuer = apps.get_model("core", "Issuer")
        Charge = apps.get_model("billing", "Charge")
        Line = apps.get_model("imports", "Line")
        issuer = Issuer.objects.create(country="CO", tax_id="900373076", check_digit="8", legal_name="Antes S.A.S.")
        rows = [(2, "0001", "3001112233", Decimal("10.00")), (3, "0001", "3004445566", Decimal("20.00")),
                (5, "0002", "3007778899", Decimal("30.00"))]
        for _rn, ref, _sl, amount in rows:  # the charges, written in the file's order as the loaders did
            Charge.objects.create(issuer=issuer, reference=ref, period="2026-09", concept="Consumo", amount=amount,
                                  source="import", source_import_id=41)
        manual = Charge.objects.create(issuer=issuer, reference="0001", period="2026-09", concept="Ajuste",
                                       amount=Decimal("1.00"))
        for rn, ref, sl, amount in reversed(rows):  # the lines in another order: matched by row number
            Line.objects.create(issuer=issuer, import_job_id=41, period="2026-09", row_number=rn, reference=ref,
                                service_line=sl, concept="Consumo", amount=amount, minutes=Decimal(rn),
                                cut_date=datetime.date(2026, 9, 30), extra={"estrato": str(rn)})
    finally:
        apps = _migrate(AFTER)
    Charge = apps.get_model("billing", "Charge")
    moved = list(Charge.objects.filter(source="import").order_by("id").values_list(
        "row_number", "service_line", "minutes", "cut_date", "extra"))
    assert moved == [(rn, sl, Decimal(rn), datetime.date(2026, 9, 30), {"estrato": str(rn)}) for rn, _r, sl, _a in rows]
    assert Charge.objects.filter(pk=manual.pk, row_number=None, service_line="", extra={}).exists()
