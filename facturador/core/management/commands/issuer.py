"""`facturador issuer create|list|add-user` — issuers (tenants) from the command line."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from facturador.core import audit
from facturador.core.forms import IssuerForm
from facturador.core.models import Issuer, Membership, Role


def find_issuer(tax_id: str) -> Issuer:
    raw = tax_id.strip().upper().split("-")[0]
    issuer = Issuer.objects.filter(tax_id=raw).first()
    if issuer is None:
        raise CommandError(f"No existe el emisor {tax_id}.")
    return issuer


class Command(BaseCommand):
    help = "Create and list issuers; give users access to an issuer."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        c = sub.add_parser("create")
        c.add_argument("--country", required=True, choices=["CO", "MX"])
        c.add_argument("--tax-id", required=True, help="NIT with check digit (800197268-4) or RFC")
        c.add_argument("--name", required=True, help="legal name")
        c.add_argument("--trade-name", default="")
        c.add_argument("--regime", default="", help="DIAN responsibility / SAT régimen fiscal")
        c.add_argument("--municipality", default="", help="DANE code (Colombia)")
        c.add_argument("--postal-code", default="")
        c.add_argument("--address", default="")
        c.add_argument("--email", default="")
        sub.add_parser("list")
        u = sub.add_parser("add-user")
        u.add_argument("issuer", help="NIT or RFC")
        u.add_argument("username")
        u.add_argument("--role", default="billing", choices=[r.value for r in Role])

    def handle(self, action, **o):
        if action == "list":
            for i in Issuer.objects.all():
                self.stdout.write(f"{i.pk}\t{i.country}\t{i.display_tax_id}\t{i.legal_name}")
            return
        if action == "add-user":
            issuer = find_issuer(o["issuer"])
            user = get_user_model().objects.filter(username=o["username"]).first()
            if user is None:
                raise CommandError(f"No existe el usuario {o['username']} (créelo con `facturador createsuperuser` o el admin).")
            Membership.objects.update_or_create(user=user, issuer=issuer, defaults={"role": o["role"]})
            audit.record("membership.save", issuer=issuer, user=None, channel="cli", summary=f"{user} {o['role']}")
            self.stdout.write(f"{user} es {o['role']} de {issuer.legal_name}")
            return
        form = IssuerForm(data={
            "country": o["country"], "tax_id": o["tax_id"], "legal_name": o["name"], "trade_name": o["trade_name"],
            "person_type": "1", "fiscal_regime": o["regime"], "municipality_code": o["municipality"],
            "postal_code": o["postal_code"], "address": o["address"], "email": o["email"],
        })
        if not form.is_valid():
            errors = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in form.errors.items())
            raise CommandError(f"inválido: {errors}")
        with transaction.atomic():
            issuer = form.save()
            audit.record("issuer.create", issuer=issuer, obj=issuer, channel="cli", summary=issuer.legal_name)
        self.stdout.write(f"Emisor {issuer.pk} creado: {issuer}")
