"""The test-set run's Excel export: typed cells, labels, and text that is never a formula."""

import datetime as dt
import io
import zipfile
from decimal import Decimal

import pytest
from python_calamine import CalamineWorkbook

from facturador.core.tests.helpers import make_range
from facturador.einvoice.models import DianDocument, OperationMode
from facturador.habilitacion import exports
from facturador.habilitacion.models import TestSetDocument, TestSetRun

MALICIOUS = "=cmd|' /C calc'!A0"


@pytest.mark.django_db
def test_run_export_writes_a_malicious_customer_as_text(new_issuer):
    issuer = new_issuer()
    mode = OperationMode.objects.create(issuer=issuer, software_name="Facturador", software_id="s", software_pin="1",
                                        provider_nit=issuer.tax_id, environment="test")
    rng = make_range(issuer)
    run = TestSetRun.objects.create(issuer=issuer, operation_mode=mode, test_set_id="t", invoices=1, credit_notes=0,
                                    debit_notes=0)
    doc = DianDocument.objects.create(
        issuer=issuer, kind="invoice", type_code="01", environment="test", operation_mode=mode, numbering_range=rng,
        prefix="SETP", number=990000000, status="rejected", payload={}, issue_date=dt.date(2026, 10, 31),
        customer_name=MALICIOUS, customer_id="@SUM(1+1)", total=Decimal("1190.50"), test_set=True,
        rules=[{"code": "FAD06", "message": "=1+1"}])
    TestSetDocument.objects.create(issuer=issuer, run=run, kind="invoice", slot=0, document=doc)

    data = exports.run_xlsx(run, TestSetDocument.objects.filter(run=run))
    rows = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()
    assert rows[1][:10] == ["Factura electrónica de venta", "SETP", 990000000, dt.date(2026, 10, 31), MALICIOUS, "@SUM(1+1)",
                            1190.5, "Rechazado", "Rechazado", "FAD06 =1+1"]
    assert rows[3][:2] == ["Total requerido", 1] and rows[7][:2] == ["Rechazados", 1]
    assert b"<f>" not in zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")  # no formula cell
