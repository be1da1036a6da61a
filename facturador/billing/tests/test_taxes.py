"""Taxes carried from an imported line to its charge and on to the invoice: the printed bill shows the
subtotal and the IVA per rate, an electronic one has the IVA on the UBL line (TaxTotal)."""

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.apps import apps

from facturador.billing.models import Account, BillingInvoice, Charge
from facturador.billing.tests.helpers import issue_batch_inline
from facturador.imports.models import Operator
from facturador.imports.tests.conftest import import_file, media_dir  # noqa: F401
from facturador.imports.tests.test_lines import telecom_template
from facturador.tabular.tests.builders import write_telecom_xlsx


def accounts_for(issuer, refs=("00100", "00101", "00102")):
    Account.objects.bulk_create([Account(issuer=issuer, reference=r, holder_name=f"Cliente {r}", id_type="CC",
                                         id_number=f"1000{r}", address="Calle 1 # 2-3", municipality_code="25001",
                                         service_class="residencial", stratum="3", email=f"c{r}@example.com")
                                 for r in refs])
    return list(Account.objects.filter(issuer=issuer, reference__in=refs).order_by("reference"))


def import_telecom(issuer, tmp_path, n=6):
    operator = Operator.objects.create(issuer=issuer, code="TELCO", name="Telecomunicaciones S.A.")
    data = write_telecom_xlsx(tmp_path / "consumo.xlsx", n=n, defects=False).read_bytes()
    imp = import_file(issuer, operator, telecom_template(issuer, operator), "consumo.xlsx", data)
    assert imp.rows_valid == n, list(imp.row_errors.values_list("row_number", "code"))
    return imp


def pdf_text(path) -> str:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in pdf)
    finally:
        pdf.close()


@pytest.mark.django_db
def test_imported_net_and_iva_reach_the_charge(issuer_co, tmp_path):
    accounts_for(issuer_co)
    imp = import_telecom(issuer_co, tmp_path, n=2)
    c = Charge.objects.filter(source_import_id=imp.pk).order_by("id").first()
    assert (c.net_amount, c.tax_amount, c.amount) == (D("10000.00"), D("1900.00"), D("11900.00"))
    assert c.tax_rate is None and c.iva_rate == D("19")  # the file has no rate column: the rate giving its IVA


@pytest.mark.django_db
def test_batch_invoice_of_imported_lines_shows_subtotal_and_iva(issuer_co, settings, tmp_path):
    from facturador.billing.tests.helpers import make_range

    settings.MEDIA_ROOT = tmp_path / "media"
    make_range(issuer_co)
    accs = accounts_for(issuer_co)
    import_telecom(issuer_co, tmp_path)
    batch = issue_batch_inline(issuer_co, accs[:1], periods=("2026-10",), issue=dt.date(2026, 11, 1),
                               due=dt.date(2026, 11, 20))
    inv = BillingInvoice.objects.get(batch=batch)
    assert inv.total == D("24395")  # 11,900 + 12,495 (net 10,000 and 10,500 + 19 % IVA)
    text = pdf_text(Path(settings.MEDIA_ROOT) / inv.pdf)
    assert "Subtotal" in text and "$ 20.500" in text
    assert "IVA 19 %" in text and "$ 3.895" in text


@pytest.mark.django_db
def test_batch_invoice_without_taxes_is_unchanged(issuer_co, settings, tmp_path):
    from facturador.billing.tests.helpers import make_accounts, make_range

    settings.MEDIA_ROOT = tmp_path / "media"
    make_range(issuer_co)
    accs = make_accounts(issuer_co, 1)
    batch = issue_batch_inline(issuer_co, accs)
    text = pdf_text(Path(settings.MEDIA_ROOT) / BillingInvoice.objects.get(batch=batch).pdf)
    assert "Valor del periodo" in text and "Subtotal" not in text and "IVA" not in text


@pytest.mark.django_db
def test_charges_api_shows_net_and_iva(issuer_co, api_client, admin_co):
    acc = accounts_for(issuer_co, ("00100",))[0]
    Charge.objects.create(issuer=issuer_co, account=acc, reference=acc.reference, period="2026-10", concept="Plan",
                          amount=D("11900"), net_amount=D("10000"), tax_rate=D("19"), tax_amount=D("1900"))
    Charge.objects.create(issuer=issuer_co, account=acc, reference=acc.reference, period="2026-10", concept="Otro",
                          amount=D("500"))
    api_client.force_authenticate(admin_co)
    rows = api_client.get(f"/api/v1/issuers/{issuer_co.pk}/billing/charges/", {"period": "2026-10"}).json()["results"]
    by = {r["concept"]: r for r in rows}
    assert (by["Plan"]["amount"], by["Plan"]["net_amount"], by["Plan"]["tax_rate"], by["Plan"]["tax_amount"]) == (
        "11900.00", "10000.00", "19.00", "1900.00")
    assert (by["Otro"]["net_amount"], by["Otro"]["tax_rate"], by["Otro"]["tax_amount"]) == (None, None, None)
