"""A batch's counts add up: selected = generated + omitted (+ with error), the reasons grouped; expected omissions
are not errors; a zero-value charge is a charge."""

from decimal import Decimal as D

import pytest

from facturador.billing.models import Account, Batch, Charge, outcome_summary
from facturador.billing.tests.helpers import issue_batch_inline, make_accounts, make_range
from facturador.core.models import Job


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def two_billed_two_without_charges(issuer_co, media):
    make_range(issuer_co)
    billed = make_accounts(issuer_co, 2)
    idle = [Account.objects.create(issuer=issuer_co, reference=f"00090{i}", holder_name=f"Sin cargos {i}",
                                   id_number=str(900 + i)) for i in (1, 2)]
    return issue_batch_inline(issuer_co, billed + idle)


@pytest.mark.django_db
def test_outcome_adds_up_with_reasons_grouped(two_billed_two_without_charges):
    assert two_billed_two_without_charges.outcome == (
        "4 seleccionadas: 2 generadas, 2 omitidas (sin cargos en los periodos seleccionados: 2)")


@pytest.mark.django_db
def test_expected_omissions_are_not_errors(two_billed_two_without_charges):
    job = two_billed_two_without_charges.job
    assert (job.status, job.errors) == (Job.Status.FINISHED, 0)


@pytest.mark.django_db
def test_job_message_is_the_outcome(two_billed_two_without_charges):
    assert two_billed_two_without_charges.job.message == two_billed_two_without_charges.outcome


@pytest.mark.django_db
def test_batch_page_shows_the_outcome(two_billed_two_without_charges, client_co):
    html = client_co.get(f"/facturacion/lotes/{two_billed_two_without_charges.pk}/").content.decode()
    assert "2 omitidas (sin cargos en los periodos seleccionados: 2)" in html and "Cuentas omitidas (2)" in html
    assert "Cuentas con error" not in html


def test_failures_are_counted_apart_from_omissions():
    entries = [{"reference": "1", "reason": "Ya facturada para 2026-09 en el lote 3.", "skipped": True},
               {"reference": "2", "reason": "Factura electrónica: NIT inválido"},
               {"reference": "3", "reason": "Factura electrónica: NIT inválido"}]
    assert outcome_summary(6, 3, entries) == ("6 seleccionadas: 3 generadas, 1 omitida (ya facturada para 2026-09 "
                                              "en el lote 3: 1), 2 con error (factura electrónica: NIT inválido: 2)")


@pytest.mark.django_db
def test_zero_value_charge_is_not_reported_as_no_charges(issuer_co, media):
    make_range(issuer_co)
    billed = make_accounts(issuer_co, 1)
    zero = Account.objects.create(issuer=issuer_co, reference="000777", holder_name="Exento", id_number="777")
    Charge.objects.create(issuer=issuer_co, account=zero, reference=zero.reference, period="2026-09",
                          concept="Alumbrado público", quantity=D(1), unit_price=D(0), amount=D(0), source="import")
    batch = issue_batch_inline(issuer_co, billed + [zero])
    assert batch.skipped == [{"reference": "000777", "reason": "Cargos en cero en los periodos seleccionados.",
                              "skipped": True}]
    assert Batch.objects.count() == 1


def test_a_numbered_invoice_that_failed_counts_as_an_error_not_as_generated():
    entries = [{"reference": "1", "reason": "Factura electrónica: firma", "numbered": True}]
    assert outcome_summary(3, 3, entries) == "3 seleccionadas: 2 generadas, 1 con error (factura electrónica: firma: 1)"


@pytest.mark.django_db
def test_invoice_concept_carries_no_operator_code(issuer_co, media):
    import pypdfium2 as pdfium

    from facturador.billing.models import BillingInvoice

    make_range(issuer_co)
    acc = make_accounts(issuer_co, 1)[0]
    Charge.objects.create(issuer=issuer_co, account=acc, reference=acc.reference, period="2026-09",
                          concept="Saldo anterior", quantity=D(1), unit_price=D(1200), amount=D(1200),
                          source="import", source_operator="SALDOS")
    batch = issue_batch_inline(issuer_co, [acc])
    pdf = pdfium.PdfDocument(str(media / BillingInvoice.objects.get(batch=batch).pdf))
    text = pdf[0].get_textpage().get_text_range()
    assert "Saldo anterior" in text and "SALDOS" not in text


@pytest.mark.django_db
def test_cli_status_says_how_many_omitted_accounts_more_and_how_to_see_them(issuer_co, media, capsys):
    from django.core.management import call_command

    make_range(issuer_co)
    billed = make_accounts(issuer_co, 1)
    idle = make_accounts(issuer_co, 22, periods=(), start=100)
    batch = issue_batch_inline(issuer_co, billed + idle)
    call_command("batch", "status", str(batch.pk))
    out = capsys.readouterr().out
    assert "Resultado: 23 seleccionadas: 1 generada, 22 omitidas (sin cargos en los periodos seleccionados: 22)" in out
    assert out.count("  omitida ") == 20 and f"… 2 más; use `batch status {batch.pk} --all` para verlas todas" in out
    call_command("batch", "status", str(batch.pk), "--all")
    assert capsys.readouterr().out.count("  omitida ") == 22
