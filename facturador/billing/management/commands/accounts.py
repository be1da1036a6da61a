"""`facturador accounts import FILE --issuer NIT [--dry-run] [--valid-only] [--opening-period YYYY-MM] [--json]`."""

import json
from pathlib import Path

from django.core.management.base import CommandError

from facturador.billing import actions
from facturador.core.cli import ActionCommand, find_issuer
from facturador.printing.money import format_money

SHOWN_ERRORS = 50


class Command(ActionCommand):
    help = ("Import the accounts register (xlsx, xls, ods, csv): every row checked; a file with errors imports nothing "
            "unless --valid-only.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        i = sub.add_parser("import", help="Import (or with --dry-run check) an accounts file")
        i.add_argument("file")
        i.add_argument("--issuer", required=True, help="NIT (or RFC, or id) of the issuer")
        i.add_argument("--dry-run", action="store_true", help="Check every row and report; write nothing")
        i.add_argument("--valid-only", action="store_true",
                       help="Import the valid rows even if others have errors (those are reported and skipped)")
        i.add_argument("--opening-period", default=None,
                       help="YYYY-MM of the opening balances (saldo anterior); default: last month")
        i.add_argument("--json", action="store_true",
                       help="One JSON object: rows_read, rows_valid, errors, totals (decimal strings), created...")

    def write_refusal(self, refusal, *, as_json):
        super().write_refusal(refusal, as_json=as_json)
        if not as_json:
            self._errors(refusal.details.get("errors") or [], refusal.details.get("errors_total", 0), self.stderr)

    def _errors(self, errors, total, out):
        for e in errors[:SHOWN_ERRORS]:
            out.write(f"  {e['message']}" + (f" [{e['code']}]" if e.get("code") else ""))
        if total > SHOWN_ERRORS:
            out.write(f"  ... y {total - SHOWN_ERRORS} errores más")

    def handle(self, *args, action, file, issuer, dry_run, valid_only, opening_period, **o):
        iss = find_issuer(issuer)
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No existe el archivo {file}.")
        report = actions.import_accounts(iss, self.actor, path=path, filename=path.name, dry_run=dry_run,
                                         valid_only=valid_only, opening_period=opening_period)
        if o.get("json"):
            self.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False))
            return
        if dry_run:
            self.stdout.write(f"Simulación (no se guardó nada): {report.rows_read} filas leídas, "
                              f"{report.rows_valid} válidas, {report.errors_total} errores; saldos anteriores "
                              f"{format_money(report.opening_total, iss)}.")
        else:
            self.stdout.write(f"{report.created} cuentas creadas y {report.updated} actualizadas; "
                              f"{report.opening_balances} saldos anteriores ({format_money(report.opening_total, iss)})"
                              + (f"; {report.rows_read - report.rows_valid} filas con errores omitidas."
                                 if report.errors_total else "."))
        if report.ignored_columns:
            self.stdout.write("Columnas no usadas: " + ", ".join(f"{c['column']} «{c['header']}»"
                                                                  for c in report.ignored_columns))
        self._errors(report.errors, report.errors_total, self.stdout)
