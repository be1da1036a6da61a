"""Demo set-up for the Colombian demo issuer: certificate, software, test numbering for notes."""

import datetime as dt

from django.conf import settings

from facturador.core import certificates
from facturador.core.models import Certificate, NumberingRange
from facturador.einvoice.models import OperationMode

DEMO_SOFTWARE_ID = "7b6e4a1c-2f0d-4c8e-9a35-5d1f0e7c2b90"
DEMO_PIN = "20261"
DEMO_TEST_SET = "8f3a2b6c-1d4e-4f70-9b2a-6c5d4e3f2a10"


def dian_sandbox_url():
    return f"http://127.0.0.1:{settings.FACTURADOR_DIAN_SANDBOX_PORT}/WcfDianCustomerServices.svc"


def seed(co_issuer, mx_issuer):
    from facturador.dian.testing import make_test_pkcs12

    if not Certificate.objects.filter(issuer=co_issuer, kind="p12", active=True).exists():
        certificates.store(co_issuer, kind="p12", password="demo", p12=make_test_pkcs12(co_issuer.tax_id, "demo", days_valid=730))
    OperationMode.objects.get_or_create(
        issuer=co_issuer, software_id=DEMO_SOFTWARE_ID,
        defaults=dict(software_name="Facturador (demo)", software_pin=DEMO_PIN, provider_nit=co_issuer.tax_id,
                      test_set_id=DEMO_TEST_SET, environment="test", endpoint=dian_sandbox_url(), state="testing"),
    )
    for kind, prefix in (("credit_note", "NC"), ("debit_note", "ND")):
        NumberingRange.objects.get_or_create(
            issuer=co_issuer, document_type=kind, environment="test", prefix=prefix,
            defaults=dict(range_from=1, range_to=100000, next_number=1, valid_from=dt.date(2019, 1, 19),
                          valid_to=dt.date(2030, 1, 19)),
        )


def sandbox_config():
    return {"software": {DEMO_SOFTWARE_ID: DEMO_PIN},
            "test_sets": {DEMO_TEST_SET: {"invoices": 8, "credit_notes": 1, "debit_notes": 1}}}
