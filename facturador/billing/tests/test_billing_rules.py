"""Billing types (normal / with arrears / arrears only), idempotent re-run, tariffs."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import connection  # noqa: F401  (the skipif condition below)

from facturador.billing import actions, jobs
from facturador.billing.models import Account, BillingInvoice, Charge, Payment, Tariff
from facturador.billing.tariffs import apply_tariffs
from facturador.billing.tests.helpers import issue_batch_inline, make_accounts, make_range
from facturador.core.actors import Actor
from facturador.core.errors import Invalid
from facturador.core.jobs import JobContext
from facturador.core.models import IssuedDocument, Job


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.mark.django_db
def test_with_arrears_and_arrears_only(issuer_co, media):
    make_range(issuer_co)
    a, b = make_accounts(issuer_co, 2, periods=("2026-08", "2026-09"))  # 20001 per account and period
    Payment.objects.create(issuer=issuer_co, account=b, reference=b.reference, amount=D(20001),
                           paid_on=dt.date(2026, 9, 10))  # b paid August
    aug = issue_batch_inline(issuer_co, [a, b], periods=("2026-08",), issue=dt.date(2026, 9, 1), due=dt.date(2026, 9, 20))
    assert aug.invoice_count == 2

    sep = issue_batch_inline(issuer_co, [a, b], periods=("2026-09",), billing_type="with_arrears")
    inv = {i.account_id: i for i in BillingInvoice.objects.filter(batch=sep)}
    # a: September 20001 + August unpaid 20001 + 2 % monthly interest on it for one month (400.02) -> 40402
    assert (inv[a.pk].current_amount, inv[a.pk].previous_balance, inv[a.pk].arrears_interest) == \
        (D(20001), D(20001), D("400.02"))
    assert inv[a.pk].total == D(40402)
    assert (inv[b.pk].previous_balance, inv[b.pk].total) == (D(0), D(20001))
    interest = Charge.objects.get(source="interest")
    assert (interest.account_id, interest.period, interest.amount) == (a.pk, "2026-09", D("400.02"))

    early = issue_batch_inline(issuer_co, [a, b], periods=("2026-09",), billing_type="arrears_only",
                               issue=dt.date(2026, 10, 1), due=dt.date(2026, 10, 15))
    # on 01/10 only a's August (due 20/09) is past due: 20001 + one month of interest
    assert {i.account_id: i.total for i in BillingInvoice.objects.filter(batch=early)} == {a.pk: D(20401)}
    assert early.error_list == [{"reference": b.reference, "reason": "Sin saldo a facturar.", "skipped": True}]
    # undo that batch (invoice and its interest charge) before billing the arrears again later
    BillingInvoice.objects.filter(batch=early).delete()
    Charge.objects.filter(source="interest", created_at__gt=interest.created_at).delete()

    late = issue_batch_inline(issuer_co, [a, b], periods=("2026-09",), billing_type="arrears_only",
                              issue=dt.date(2026, 11, 5), due=dt.date(2026, 11, 20))
    totals = {i.account_id: i.total for i in BillingInvoice.objects.filter(batch=late)}
    # on 05/11: a owes August (due 20/09: 46 days -> 2 months) and September incl. its interest charge
    # (20401.02, due 20/10: 16 days -> 1 month); b owes September (1 month)
    interest_a = (D(20001) * D("0.02") * 2 + D("20401.02") * D("0.02")).quantize(D("0.01"))
    assert totals[a.pk] == (D("40402.02") + interest_a).quantize(D(1)) == D(41610)
    assert totals[b.pk] == D(20401)


@pytest.mark.django_db
def test_rerun_invoices_nothing_twice_and_other_batch_reports(issuer_co, media):
    make_range(issuer_co)
    accounts = make_accounts(issuer_co, 3)
    first = issue_batch_inline(issuer_co, accounts[:2])
    job = Job.objects.get(pk=first.job_id)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)
    jobs.run_batch(JobContext(Job.objects.get(pk=job.pk)))  # the same job again (as after a crash)
    assert BillingInvoice.objects.count() == 2 and IssuedDocument.objects.count() == 2

    second = issue_batch_inline(issuer_co, accounts)  # same period, one new account
    assert second.invoice_count == 1
    assert [e["reference"] for e in second.error_list] == ["000001", "000002"]
    assert "Ya facturada" in second.error_list[0]["reason"]
    assert sorted(BillingInvoice.objects.values_list("number", flat=True)) == [1000, 1001, 1002]


@pytest.mark.django_db
def test_account_billed_by_another_batch_after_the_plan_is_left_out_without_a_gap(issuer_co, media):
    """Numbering writes a chunk without asking again which accounts are billed (the plan did); one billed meanwhile
    by another batch makes the unique constraint refuse the chunk, which is written again without it."""
    from facturador.billing import batch as engine
    from facturador.billing.models import BillingSettings

    rng = make_range(issuer_co)
    a, b, c = make_accounts(issuer_co, 3)
    late = actions.create_batch(issuer_co, Actor.cli(), periods=["2026-09"], issue_date=dt.date(2026, 10, 1),
                                due_date=dt.date(2026, 10, 20), references=[a.reference, b.reference, c.reference])
    plan = engine.plan(issuer_co, late.periods, late.billing_type, [a.pk, b.pk, c.pk], issue_date=late.issue_date,
                       batch=late)
    issue_batch_inline(issuer_co, [b])  # meanwhile: b is billed for the period by another batch (number 1000)
    rng.refresh_from_db()
    stored = engine._issue_chunk(late, rng, plan.items, plan.accounts, BillingSettings.for_issuer(issuer_co), [], 1)
    assert stored == 2
    assert sorted(BillingInvoice.objects.filter(batch=late).values_list("account_id", "number")) == \
        [(a.pk, 1001), (c.pk, 1002)]
    assert IssuedDocument.objects.count() == 3


@pytest.mark.django_db
def test_nothing_to_bill_is_refused(issuer_co, media):
    make_range(issuer_co)
    make_accounts(issuer_co, 1)
    empty = Account.objects.create(issuer=issuer_co, reference="555", holder_name="Sin cargos")
    with pytest.raises(Invalid) as info:
        actions.create_batch(issuer_co, Actor.cli(), periods=["2026-09"], issue_date=dt.date(2026, 10, 1),
                             due_date=dt.date(2026, 10, 20), references=[empty.reference])
    assert info.value.code == "billing.batch.nothing_to_bill" and info.value.field == "periods"
    assert info.value.details["problems"] == [{"reference": "555", "reason": "Sin cargos en los periodos seleccionados."}]
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_tariffs_fixed_and_percentage(issuer_co, client_co):
    a, b = make_accounts(issuer_co, 2, periods=("2026-09",))  # 15000 import + 5001 tariff-sourced charges
    Charge.objects.filter(source="tariff").delete()
    b.service_class = "comercial"
    b.save()
    Tariff.objects.create(issuer=issuer_co, concept="Alumbrado residencial", period="2026-09",
                          service_class="residencial", kind="fixed", value=D("8000"))
    Tariff.objects.create(issuer=issuer_co, concept="Alumbrado 12 %", period="2026-09", kind="percentage",
                          value=D("12.5"))
    assert apply_tariffs(issuer_co, "2026-09") == 3
    assert apply_tariffs(issuer_co, "2026-09") == 3  # idempotent: replaced, not added
    got = sorted(Charge.objects.filter(source="tariff").values_list("reference", "concept", "amount"))
    assert got == [("000001", "Alumbrado 12 %", D("1875.00")), ("000001", "Alumbrado residencial", D("8000.00")),
                   ("000002", "Alumbrado 12 %", D("1875.00"))]


@pytest.mark.django_db
def test_tariffs_ui(issuer_co, client_co):
    make_accounts(issuer_co, 2, periods=("2026-10",))
    resp = client_co.post("/facturacion/tarifas/", {"period": "2026-10", "concept": "Alumbrado", "service_class": "",
                                                     "stratum": "", "kind": "fixed", "value": "7000"})
    assert resp.status_code == 302 and Tariff.objects.filter(issuer=issuer_co).count() == 1
    bad = client_co.post("/facturacion/tarifas/", {"period": "2026-13", "concept": "X", "kind": "fixed", "value": "1"})
    assert "no es válido" in bad.content.decode()
    client_co.post("/facturacion/tarifas/", {"apply": "1", "apply_period": "2026-10"})
    assert Charge.objects.filter(source="tariff", concept="Alumbrado", amount=D(7000)).count() == 2
    refused = client_co.post("/facturacion/tarifas/", {"apply": "1", "apply_period": "2026-13"},
                             HTTP_REFERER="http://testserver/facturacion/tarifas/")
    assert refused.status_code == 302 and refused.url == "http://testserver/facturacion/tarifas/"
    assert "no es válido" in client_co.get("/facturacion/tarifas/").content.decode()


@pytest.mark.django_db
def test_tariffs_page_offers_a_month_picker_and_writes_fixed_values_as_money(issuer_co, client_co):
    Tariff.objects.create(issuer=issuer_co, period="2026-10", concept="Alumbrado", kind="fixed", value=D("7000"))
    html = client_co.get("/facturacion/tarifas/").content.decode()
    assert 'name="apply_period" type="month"' in html and '<option value="2026-10"></option>' in html
    assert "$ 7.000" in html


@pytest.mark.django_db
def test_new_tariff_period_is_a_month_picker(issuer_co, client_co):
    html = client_co.get("/facturacion/tarifas/").content.decode()
    assert 'type="month" name="period"' in html


@pytest.mark.postgres_only
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="concurrent transactions: PostgreSQL only")
@pytest.mark.django_db(transaction=True)
def test_batch_numbering_and_8_concurrent_single_invoices_are_gap_free(issuer_co, settings, tmp_path):
    """The batch engine's numbering (blocks, COPY, its own foreign-key triggers off, asynchronous commit) while 8
    threads issue single invoices from the same range: every committed number is unique and none is missing."""
    import threading

    from django.db import transaction

    from facturador.billing import batch as engine
    from facturador.billing.models import BillingSettings
    from facturador.core import numbering
    from facturador.core.models import NumberingRange

    settings.MEDIA_ROOT = tmp_path
    rng = make_range(issuer_co)
    accounts = make_accounts(issuer_co, 400)
    batch = actions.create_batch(issuer_co, Actor.cli(), periods=["2026-09"], issue_date=dt.date(2026, 10, 1),
                                 due_date=dt.date(2026, 10, 20), references=[a.reference for a in accounts])
    plan = engine.plan(issuer_co, batch.periods, batch.billing_type, [a.pk for a in accounts],
                       issue_date=batch.issue_date, batch=batch)
    conf = BillingSettings.for_issuer(issuer_co)
    singles, errors = [], []
    lock = threading.Lock()
    barrier = threading.Barrier(9)

    def single():
        try:
            barrier.wait()
            for _ in range(25):
                with transaction.atomic():
                    n = numbering.allocate(NumberingRange.objects.get(pk=rng.pk)).number
                    IssuedDocument.objects.create(issuer=issuer_co, source="test.single", source_id=str(n),
                                                  country="CO", document_type="invoice", number=n,
                                                  issue_date=dt.date(2026, 10, 1), customer_name="Mostrador",
                                                  total=D(1))
                with lock:
                    singles.append(n)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    def numbering_phase():
        try:
            barrier.wait()
            seq = 1
            for start in range(0, len(plan.items), 50):
                seq += engine._issue_chunk(batch, NumberingRange.objects.get(pk=rng.pk), plan.items[start:start + 50],
                                           plan.accounts, conf, [], seq)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=single) for _ in range(8)] + [threading.Thread(target=numbering_phase)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    batch_numbers = list(BillingInvoice.objects.filter(batch=batch).order_by("seq").values_list("number", flat=True))
    assert len(batch_numbers) == 400 and len(singles) == 200
    assert sorted(batch_numbers + singles) == list(range(1000, 1600)), "duplicate or missing numbers"
    # each chunk of 50 is one consecutive block, in the order of the batch
    assert all(batch_numbers[k + 1] == batch_numbers[k] + 1 for k in range(len(batch_numbers) - 1) if (k + 1) % 50)
    assert IssuedDocument.objects.filter(source="billing.invoice").count() == 400
