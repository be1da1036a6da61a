"""`facturador payments import FILE`: apply an Asobancaria 2001 recaudo file."""

from pathlib import Path

from django.core.management.base import CommandError

from facturador.billing import actions
from facturador.core.cli import ActionCommand, find_issuer
from facturador.printing.money import format_money


class Command(ActionCommand):
    help = "Import an Asobancaria 2001 payment file (control totals checked; nothing applied on error)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        i = sub.add_parser("import", help="Import a file")
        i.add_argument("file")
        i.add_argument("--issuer", required=True, help="NIT (or RFC, or id) of the issuer")

    def handle(self, *args, action, file, issuer, **_):
        iss = find_issuer(issuer)
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No existe el archivo {file}.")
        r = actions.import_payments(iss, self.actor, data=path.read_bytes(), name=path.name)
        self.stdout.write(f"{r.matched} pagos aplicados ({format_money(r.total, iss)}); "
                          f"{r.invoices_paid} facturas pagadas; "
                          f"{len(r.unmatched)} sin cuenta.")
        for u in r.unmatched[:50]:
            self.stdout.write(f"  línea {u['line']}: referencia {u['reference']} "
                              f"valor {format_money(u['amount'], iss)}: {u['reason']}")
