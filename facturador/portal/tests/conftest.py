import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from facturador.core import certificates
from facturador.core.models import Branch
from facturador.portal import services
from facturador.portal.models import Ticket

MX = services.MX


@pytest.fixture
def pac():
    from facturador.cfdi.sandbox import PacSandbox

    server = PacSandbox()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def portal(issuer_mx, shared, pac):
    """A Mexican issuer with the SAT test CSD, two branches and its portal pointing at the local PAC."""
    issuer_mx.fiscal_regime = "601"
    issuer_mx.save()
    certificates.store(issuer_mx, kind="csd", password="12345678a",
                       cer=(shared / "sat/csd/EKU9003173C9.cer").read_bytes(),
                       key=(shared / "sat/csd/EKU9003173C9.key").read_bytes())
    Branch.objects.create(issuer=issuer_mx, code="CDMX01", name="Sucursal Reforma", postal_code="42501")
    Branch.objects.create(issuer=issuer_mx, code="GDL01", name="Sucursal Guadalajara", postal_code="44100")
    ps = services.portal_settings(issuer_mx)
    ps.pac_url, ps.pac_user, ps.pac_password, ps.pac_timeout = pac.url, "demo", "demo", 5
    ps.save()
    issuer_mx.ps = ps
    issuer_mx.pac = pac
    return issuer_mx


@pytest.fixture
def make_ticket(portal):
    counter = {"n": 1000}

    def make(branch="CDMX01", subtotal="100.00", sold_at=None, **kw):
        counter["n"] += 1
        sub = Decimal(subtotal)
        tax = (sub * Decimal("0.16")).quantize(Decimal("0.01"))
        return Ticket.objects.create(
            issuer=portal, branch=Branch.objects.get(issuer=portal, code=branch), ticket_number=str(counter["n"]),
            order_number=f"OR{counter['n']}", sold_at=sold_at or timezone.now().astimezone(MX) - dt.timedelta(hours=1),
            subtotal=sub, tax=tax, total=sub + tax, **kw)

    return make


RECEPTOR = dict(rfc="XIQB891116QE4", name="KARLA FUENTE NOLASCO", postal_code="01160", regimen="612", uso_cfdi="G03",
                email="karla@example.com")


@pytest.fixture
def receptor():
    return services.ReceptorData(**RECEPTOR)


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """The portal's throttles count in the cache (locmem in tests): every test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


PASSWORD = "Clave-12345"


@pytest.fixture
def account(portal):
    """A customer of the portal with an account (password `PASSWORD`)."""
    from facturador.portal import accounts
    from facturador.portal.models import Customer

    c = Customer.objects.create(issuer=portal, rfc=RECEPTOR["rfc"], legal_name=RECEPTOR["name"], postal_code="01160",
                                regimen="612", email="karla@example.com")
    accounts.set_password(c, PASSWORD)
    return c


def walk_to_rfc(client, portal, rfc=RECEPTOR["rfc"], **extra):
    """Branch and RFC steps of the public flow; returns (portal base URL, the RFC step's response)."""
    from facturador.core.models import Branch

    base = f"/autofacturacion/p/{portal.ps.slug}/"
    branch = Branch.objects.get(issuer=portal, code="CDMX01")
    assert client.post(base, {"branch": branch.pk}, **extra).status_code == 302
    return base, client.post(base + "rfc/", {"rfc": rfc}, **extra)
