import datetime as dt

import pytest

from facturador.billing import batch as batchmod
from facturador.billing import invoice_templates
from facturador.billing.models import Batch, BillingInvoice
from facturador.billing.tests.helpers import make_accounts, make_range


@pytest.mark.django_db
def test_smoke_inline(issuer_co, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    make_range(issuer_co)
    accs = make_accounts(issuer_co, 3)
    tpl = invoice_templates.ensure_default(issuer_co)
    b = batchmod.create(issuer_co, periods="2026-09", billing_type="normal", issue_date=dt.date(2026, 10, 1),
                        due_date=dt.date(2026, 10, 20), template=tpl, account_ids=[a.pk for a in accs])
    from facturador.core.jobs import JobContext
    from facturador.core.models import Job
    job = Job.objects.get(pk=b.job_id)
    batchmod.run_batch(JobContext(job))
    b.refresh_from_db()
    assert b.invoice_count == 3, b.error_list
    assert (tmp_path / b.merged_pdf).exists()
