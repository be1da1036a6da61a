from django.core.management.base import BaseCommand

from facturador.core import demo


class Command(BaseCommand):
    help = "Create demo data (idempotent): a Colombian and a Mexican issuer, users and a DIAN test numbering range."

    def handle(self, **options):
        data = demo.seed()
        self.stdout.write(f"Demo data ready: {', '.join(i.legal_name for i in data['issuers'])}")
        self.stdout.write(f"Users: {', '.join(data['users'])} — password: {demo.DEMO_PASSWORD}")
