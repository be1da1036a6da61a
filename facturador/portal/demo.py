"""Demo set-up for the Mexican demo issuer: a self-made CSD, the local PAC, some tickets."""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from facturador.core import certificates
from facturador.core.models import Branch, Certificate
from facturador.portal import services
from facturador.portal.models import Ticket


def seed(co_issuer, mx_issuer):
    from facturador.cfdi.testing import make_test_csd

    if not Certificate.objects.filter(issuer=mx_issuer, kind="csd", active=True).exists():
        cer, key = make_test_csd(mx_issuer.tax_id, mx_issuer.legal_name, "demo-1234")
        certificates.store(mx_issuer, kind="csd", password="demo-1234", cer=cer, key=key)
    ps = services.portal_settings(mx_issuer)
    ps.pac_kind, ps.pac_url, ps.pac_user, ps.pac_password = "sandbox", f"http://127.0.0.1:{settings.FACTURADOR_PAC_SANDBOX_PORT}", "demo", "demo"
    ps.slug = "demo"
    ps.save()
    branch = Branch.objects.filter(issuer=mx_issuer).order_by("code").first()
    now = timezone.now()
    for i in range(1, 11):
        sub = Decimal(100 * i).quantize(Decimal("0.01"))
        Ticket.objects.get_or_create(issuer=mx_issuer, branch=branch, ticket_number=f"{1000 + i}", defaults=dict(
            order_number=f"OR-{1000 + i}", sold_at=now - dt.timedelta(hours=i), subtotal=sub,
            tax=(sub * Decimal("0.16")).quantize(Decimal("0.01")), total=(sub * Decimal("1.16")).quantize(Decimal("0.01"))))
