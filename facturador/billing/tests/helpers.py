"""Test data for billing: accounts with charges in some periods, a numbering range."""

import datetime as dt
from decimal import Decimal

from facturador.billing.models import Account, Charge
from facturador.core import jobs
from facturador.core.models import NumberingRange


def make_range(issuer, prefix="", **kw):
    data = dict(document_type="invoice", environment="production", prefix=prefix, range_from=1000, range_to=999999,
                valid_from=dt.date(2020, 1, 1), valid_to=dt.date(2035, 12, 31), resolution_number="18764000001234")
    data.update(kw)
    data.setdefault("next_number", data["range_from"])
    return NumberingRange.objects.create(issuer=issuer, **data)


def make_accounts(issuer, n, periods=("2026-09",), amount=Decimal("15000"), start=1, **kw):
    """n accounts with references 000001.. (leading zeros kept) and two charges per period each."""
    accounts = []
    for i in range(start, start + n):
        accounts.append(Account(issuer=issuer, reference=f"{i:06d}", holder_name=f"Suscriptor {i}",
                                id_type="CC", id_number=str(10000000 + i), address=f"Calle {i} # 1-2",
                                municipality_code="25001", service_class="residencial", stratum=str(1 + i % 6),
                                email=f"s{i}@example.com", **kw))
    Account.objects.bulk_create(accounts)
    accounts = list(Account.objects.filter(issuer=issuer, reference__in=[a.reference for a in accounts]).order_by("reference"))
    charges = []
    for a in accounts:
        for p in periods:
            charges.append(Charge(issuer=issuer, account=a, reference=a.reference, period=p, concept="Alumbrado público",
                                  quantity=Decimal(1), unit_price=amount, amount=amount, source="import"))
            charges.append(Charge(issuer=issuer, account=a, reference=a.reference, period=p, concept="Aseo",
                                  quantity=Decimal(2), unit_price=Decimal("2500.50"), amount=Decimal("5001.00"),
                                  source="tariff"))
    Charge.objects.bulk_create(charges)
    return accounts


def issue_batch_inline(issuer, accounts, periods=("2026-09",), issue=dt.date(2026, 10, 1), due=dt.date(2026, 10, 20),
                       billing_type="normal", electronic=False):
    """Create a batch and run its job in this process, exactly as a worker does (for tests not about workers)."""
    from facturador.billing import actions
    from facturador.core.actors import Actor
    from facturador.core.jobs import execute_job

    b = actions.create_batch(issuer, Actor.cli(), periods=list(periods), billing_type=billing_type, issue_date=issue,
                             due_date=due, references=[a.reference for a in accounts], electronic=electronic)
    execute_job.call(b.job_id)
    b.refresh_from_db()
    b.job.refresh_from_db()
    return b


def web_step(client, url, data):
    """A web step of the accounts upload: the POST, then its job run by a worker, then the job's page."""
    resp = client.post(url, data)
    assert resp.status_code == 302, resp.content.decode()[:2000]
    page = client.get(resp.url)
    jobs.execute_job.call(page.context["job"].pk)
    return client.get(resp.url)


def recaudo_file(payments, nit="900373076", service_code="7709998000001", day=dt.date(2026, 10, 18),
                 file_time="1530") -> bytes:
    """An Asobancaria 2001 file of one lot: `payments` as (reference, amount) pairs collected on `day`."""
    from facturador.payments import asobancaria as ab

    header = ab.FileHeader(nit=nit, collection_date=day, bank_code="007", account="12345678901", file_date=day,
                           file_time=file_time)
    lot = ab.Lot(service_code=service_code, number=1, details=[
        ab.Detail(reference=ref, amount=Decimal(amount), payment_date=day, bank_code="007", operation_id=str(i))
        for i, (ref, amount) in enumerate(payments, start=1)])
    return ab.write(ab.AsobancariaFile(header=header, lots=[lot]))
