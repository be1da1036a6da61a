"""`facturador issuer create|list|add-user` — issuers (tenants) from the command line."""

from facturador.core import actions
from facturador.core.cli import ActionCommand, find_issuer
from facturador.core.models import Issuer, Role


class Command(ActionCommand):
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
        c.add_argument("--ciiu", default="", help="CIIU activity codes, 4 digits, comma separated (Colombia)")
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
            member = actions.grant_membership(find_issuer(o["issuer"]), self.actor, username=o["username"],
                                              role=o["role"])
            self.stdout.write(f"{member.user} es {member.role} de {member.issuer.legal_name}")
            return
        issuer = actions.create_issuer(self.actor, data={
            "country": o["country"], "tax_id": o["tax_id"], "legal_name": o["name"], "trade_name": o["trade_name"],
            "person_type": "1", "fiscal_regime": o["regime"], "municipality_code": o["municipality"],
            "postal_code": o["postal_code"], "ciiu": o["ciiu"], "address": o["address"], "email": o["email"],
        })
        self.stdout.write(f"Emisor {issuer.pk} creado: {issuer}")
