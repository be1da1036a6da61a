from django.core.management.base import BaseCommand, CommandError

from facturador.taxid import TaxIdError, is_generic_rfc, validate_rfc


class Command(BaseCommand):
    help = "Mexican RFC: `rfc check RFC` validates format and check digit (exit 0 valid, 1 invalid)."
    requires_system_checks = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["check"])
        parser.add_argument("rfc")

    def handle(self, action, rfc, **options):
        try:
            value = validate_rfc(rfc)
        except TaxIdError as exc:
            err = CommandError(f"inválido: {exc.message}")
            err.returncode = 1
            raise err from exc
        kind = "genérico" if is_generic_rfc(value) else ("persona moral" if len(value) == 12 else "persona física")
        self.stdout.write(f"RFC {value} válido ({kind})")
