"""Demo data for a first run: one Colombian and one Mexican issuer, users, a test numbering range."""


from django.contrib.auth import get_user_model
from django.db import transaction

from facturador.core.models import Branch, Environment, Issuer, Membership, NumberingRange, Role
from facturador.dian import enablement

DEMO_PASSWORD = "facturador-demo"

# DIAN habilitación numbering, public and the same for everyone (reference: Anexo Técnico).
TEST_RANGE = dict(
    prefix="SETP", range_from=enablement.TEST_RANGE[0], range_to=enablement.TEST_RANGE[1],
    resolution_number=enablement.TEST_RESOLUTION, valid_from=enablement.TEST_VALID_FROM,
    valid_to=enablement.TEST_VALID_TO, technical_key=enablement.TEST_TECHNICAL_KEY,
)


@transaction.atomic
def seed() -> dict:
    co, _ = Issuer.objects.get_or_create(
        country="CO", tax_id="900373076",
        defaults=dict(
            check_digit="4", legal_name="Alumbrado Público Demo S.A.S. E.S.P.", trade_name="Alumbrado Demo",
            fiscal_regime="48", responsibilities=["O-13", "O-15"], address="Calle 26 # 13-19",
            municipality_code="11001", city="Bogotá, D.C.", department="Bogotá", postal_code="110311",
            email="facturacion@alumbrado-demo.co", phone="6015550000",
        ),
    )
    mx, _ = Issuer.objects.get_or_create(
        country="MX", tax_id="EKU9003173C9",
        defaults=dict(
            legal_name="ESCUELA KEMPER URGATE", trade_name="Kemper Demo", fiscal_regime="601", person_type="1",
            address="Av. Reforma 100", city="Ciudad de México", department="CDMX", postal_code="42501",
            email="facturas@kemper-demo.mx",
        ),
    )
    Branch.objects.get_or_create(issuer=co, code="BOG", defaults={"name": "Sede principal Bogotá", "municipality_code": "11001", "series": "SETP"})
    Branch.objects.get_or_create(issuer=mx, code="CDMX01", defaults={"name": "Sucursal Reforma", "postal_code": "42501", "series": "A"})
    Branch.objects.get_or_create(issuer=mx, code="GDL01", defaults={"name": "Sucursal Guadalajara", "postal_code": "44100", "series": "B"})
    if not NumberingRange.objects.filter(issuer=co, prefix="SETP", environment=Environment.TEST).exists():
        NumberingRange.objects.create(issuer=co, document_type="invoice", environment=Environment.TEST,
                                      next_number=TEST_RANGE["range_from"], **TEST_RANGE)
    User = get_user_model()
    users = {}
    for username, first, role, issuers in [
        ("demo", "Usuaria Demo", Role.ADMIN, [co, mx]),
        ("facturacion", "Operador de facturación", Role.BILLING, [co]),
        ("consulta", "Consulta", Role.READONLY, [co, mx]),
    ]:
        user, created = User.objects.get_or_create(username=username, defaults={"first_name": first, "email": f"{username}@demo.local"})
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        for issuer in issuers:
            Membership.objects.get_or_create(user=user, issuer=issuer, defaults={"role": role})
        users[username] = user
    # the demo's administrator is also the platform's: it may register new issuers
    from django.contrib.auth.models import Permission

    users["demo"].user_permissions.add(Permission.objects.get(content_type__app_label="core", codename="add_issuer"))
    # each capability adds its own demo data (facturador/<app>/demo.py: seed(co_issuer, mx_issuer))
    from importlib import import_module

    from django.conf import settings

    for name in settings.CAPABILITY_APPS:
        if f"facturador.{name}" in settings.INSTALLED_APPS:
            try:
                module = import_module(f"facturador.{name}.demo")
            except ModuleNotFoundError:
                continue
            module.seed(co, mx)
    return {"issuers": [co, mx], "users": users}
