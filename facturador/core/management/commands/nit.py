from django.core.management.base import BaseCommand, CommandError

from facturador.taxid import TaxIdError, nit_check_digit, validate_nit


class Command(BaseCommand):
    help = "Colombian NIT: `nit dv NIT` prints the check digit; `nit check NIT-DV` validates (exit 0 valid, 1 invalid)."
    requires_system_checks = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["dv", "check"])
        parser.add_argument("nit")

    def handle(self, action, nit, **options):
        try:
            if action == "dv":
                self.stdout.write(nit_check_digit(nit))
            else:
                number, dv = validate_nit(nit)
                self.stdout.write(f"NIT {number}-{dv} válido")
        except TaxIdError as exc:
            err = CommandError(f"inválido: {exc.message}")
            err.returncode = 1
            raise err from exc
