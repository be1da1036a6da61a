"""`facturador cartera export`: the portfolio report (aging buckets) as xlsx."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from facturador.billing import cartera
from facturador.billing.batch import BatchError, parse_periods
from facturador.billing.management.commands._common import issuer_from
from facturador.printing.invoice import format_money


class Command(BaseCommand):
    help = "Export the portfolio (cartera) report with aging buckets to an xlsx file."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        e = sub.add_parser("export", help="Export to xlsx")
        e.add_argument("--issuer", required=True, help="NIT of the issuer")
        e.add_argument("--periods", default="", help="YYYY-MM[,YYYY-MM...] (default: all)")
        e.add_argument("--as-of", type=dt.date.fromisoformat, default=None, help="Cut-off date YYYY-MM-DD")
        e.add_argument("--service-class", default="")
        e.add_argument("--stratum", default="")
        e.add_argument("--only-with-balance", action="store_true")
        e.add_argument("--out", required=True, help="Output .xlsx file")

    def handle(self, *args, action, issuer, periods, as_of, service_class, stratum, only_with_balance, out, **_):
        iss = issuer_from(issuer)
        try:
            plist = parse_periods(periods) if periods else None
        except BatchError as exc:
            raise CommandError(exc.message) from exc
        report = cartera.compute(iss, as_of=as_of, periods=plist, only_with_balance=only_with_balance,
                                 service_class=service_class, stratum=stratum)
        n = cartera.export_xlsx(report, out, issuer=iss)
        t = report.totals
        self.stdout.write(f"{n} cuentas · saldo total {format_money(t['balance'])} · corte {report.as_of:%d/%m/%Y} → {out}")
