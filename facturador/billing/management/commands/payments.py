"""`facturador payments import FILE`: apply an Asobancaria 2001 recaudo file."""

from pathlib import Path

from django.core.management.base import CommandError

from facturador.billing import actions
from facturador.core.cli import SHOWN_ROWS, ActionCommand, find_issuer, write_limited
from facturador.printing.money import format_money


class Command(ActionCommand):
    help = "Import an Asobancaria 2001 payment file (control totals checked; nothing applied on error)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        i = sub.add_parser("import", help="Import a file")
        i.add_argument("file")
        i.add_argument("--issuer", required=True, help="NIT (or RFC, or id) of the issuer")
        i.add_argument("--all", dest="show_all", action="store_true",
                       help="List every payment without an account (by default the first ones and how many more)")

    def handle(self, *args, action, file, issuer, show_all=False, **_):
        iss = find_issuer(issuer)
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No existe el archivo {file}.")
        with path.open("rb") as f:  # read by the action only within the size limit
            r = actions.import_payments(iss, self.actor, upload=f, name=path.name)
        self.stdout.write(f"{r.matched} pagos aplicados ({format_money(r.total, iss)}); "
                          f"{r.invoices_paid} facturas pagadas; "
                          f"{len(r.unmatched)} sin cuenta.")
        shown = r.unmatched if show_all else r.unmatched[:SHOWN_ROWS]
        write_limited(self.stdout, (f"  línea {u['line']}: referencia {u['reference']} "
                                    f"valor {format_money(u['amount'], iss)}: {u['reason']}" for u in shown),
                      total=len(r.unmatched), hint="la lista completa queda con el archivo importado (API billing/payment-files/, "
                                                       "campo unmatched); la próxima vez use --all")
