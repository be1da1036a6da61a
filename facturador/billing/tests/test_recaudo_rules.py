"""Recaudo files must be the issuer's (NIT, GLN); a payment of the exact balance settles an invoice rounded to the
peso, and the invoice's state and the portfolio agree."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from facturador.billing import actions, cartera
from facturador.billing.models import BillingInvoice, BillingSettings, Charge, Payment, PaymentFile
from facturador.billing.tests.helpers import issue_batch_inline, make_accounts, make_range, recaudo_file
from facturador.core.actors import Actor
from facturador.core.errors import Invalid

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoiced(issuer_co, settings, tmp_path):
    """One account owing 34,540.96 for 2026-09 (29,539.96 + 5,001.00), invoiced as 34,541 (ajuste al peso)."""
    settings.MEDIA_ROOT = tmp_path
    make_range(issuer_co)
    accounts = make_accounts(issuer_co, 1, amount=D("29539.96"))
    issue_batch_inline(issuer_co, accounts)
    assert BillingInvoice.objects.get().total == D("34541")
    return accounts


def balance(issuer):
    return {r.reference: r.balance for r in cartera.compute(issuer, as_of=dt.date(2026, 10, 25)).rows}


def test_file_of_another_nit_is_refused_and_nothing_registered(issuer_co, invoiced):
    with pytest.raises(Invalid) as info:
        actions.import_payments(issuer_co, Actor.cli(), data=recaudo_file([("000001", "34540.96")], nit="800197268"))
    r = info.value
    assert (r.code, r.field, r.details["line"], r.details["record_field"]) == (
        "billing.payment_file.wrong_issuer", "file", 1, "nit")
    assert "Línea 1" in r.message and "800197268" in r.message
    assert Payment.objects.count() == 0 and PaymentFile.objects.count() == 0


def test_header_nit_with_check_digit_is_the_issuers(issuer_co, invoiced):
    issuer_co.check_digit = "4"
    issuer_co.save()
    result = actions.import_payments(issuer_co, Actor.cli(), data=recaudo_file([("000001", "100")], nit="9003730764"))
    assert result.matched == 1


def test_lot_with_a_service_code_not_among_the_issuers_glns_is_refused(issuer_co, invoiced):
    with pytest.raises(Invalid) as info:
        actions.import_payments(issuer_co, Actor.cli(),
                                data=recaudo_file([("000001", "100")], service_code="7709998000018"))
    assert info.value.code == "billing.payment_file.unknown_service_code" and info.value.details["line"] == 2
    assert "7709998000018" in info.value.message and Payment.objects.count() == 0


def test_a_lot_of_another_collection_gln_of_the_issuer_is_accepted(issuer_co, invoiced):
    actions.save_settings(issuer_co, Actor.cli(), extra_glns="7709998000018")
    result = actions.import_payments(issuer_co, Actor.cli(),
                                     data=recaudo_file([("000001", "100")], service_code="7709998000018"))
    assert result.matched == 1


def test_exact_balance_of_an_invoice_rounded_to_the_peso_settles_it(issuer_co, invoiced):
    actions.import_payments(issuer_co, Actor.cli(), data=recaudo_file([("000001", "34540.96")]))
    inv = BillingInvoice.objects.get()
    assert inv.status == "paid" and inv.paid_amount == D("34540.96")
    assert balance(issuer_co) == {"000001": D("0")}


def test_without_tolerance_a_payment_some_cents_short_leaves_it_partial(issuer_co, invoiced):
    actions.save_settings(issuer_co, Actor.cli(), payment_tolerance="0")
    actions.import_payments(issuer_co, Actor.cli(), data=recaudo_file([("000001", "34540.90")]))
    assert BillingInvoice.objects.get().status == "partial" and balance(issuer_co) == {"000001": D("0.06")}


def test_a_payment_short_within_the_tolerance_settles_and_books_the_difference(issuer_co, invoiced):
    actions.import_payments(issuer_co, Actor.cli(), data=recaudo_file([("000001", "34540.50")]))
    assert BillingInvoice.objects.get().status == "paid"
    assert Charge.objects.get(source="adjustment").amount == D("-0.46") and balance(issuer_co) == {"000001": D("0")}


def test_paying_the_rounded_total_books_the_adjustment_so_the_portfolio_shows_zero(issuer_co, invoiced):
    result = actions.import_payments(issuer_co, Actor.cli(), data=recaudo_file([("000001", "34541")]))
    assert BillingInvoice.objects.get().status == "paid" and result.adjustments == 1
    adj = Charge.objects.get(source="adjustment")
    assert (adj.period, adj.amount, adj.concept) == ("2026-09", D("0.04"), "Ajuste al peso")
    assert balance(issuer_co) == {"000001": D("0")}


def test_a_partial_payment_leaves_invoice_partial_and_the_same_balance_in_the_portfolio(issuer_co, invoiced):
    actions.import_payments(issuer_co, Actor.cli(), data=recaudo_file([("000001", "20000")]))
    inv = BillingInvoice.objects.get()
    assert inv.status == "partial" and balance(issuer_co) == {"000001": D("14540.96")}
    assert not Charge.objects.filter(source="adjustment").exists()


def test_payment_files_api_gives_money_as_two_decimal_strings(issuer_co, invoiced, admin_co, api_client):
    api_client.force_authenticate(admin_co)
    url = f"/api/v1/issuers/{issuer_co.pk}/billing/payment-files/"
    data = recaudo_file([("000001", "34540.96"), ("999999", "10")])
    r = api_client.post(url, {"file": SimpleUploadedFile("r.txt", data)}, format="multipart")
    assert r.status_code == 201, r.content
    assert r.json()["total"] == "34550.96" and r.json()["unmatched"][0]["amount"] == "10.00"


def test_settings_tolerance_default_is_under_one_peso(issuer_co):
    assert BillingSettings.for_issuer(issuer_co).payment_tolerance == D("0.99")


def test_batch_invoices_api_shows_paid_amount_and_balance_as_two_decimal_strings(issuer_co, invoiced, admin_co,
                                                                                  api_client):
    from facturador.billing.models import Batch

    actions.import_payments(issuer_co, Actor.cli(), data=recaudo_file([("000001", "34540.96")]))
    api_client.force_authenticate(admin_co)
    batch = Batch.objects.get()
    row = api_client.get(f"/api/v1/issuers/{issuer_co.pk}/billing/batches/{batch.pk}/invoices/").json()["results"][0]
    assert (row["total"], row["paid_amount"], row["balance"], row["status"]) == ("34541.00", "34540.96", "0.04", "paid")
