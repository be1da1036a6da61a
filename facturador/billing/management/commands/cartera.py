"""`facturador cartera export`: the portfolio report (aging buckets) as xlsx."""

from facturador.billing import cartera, services
from facturador.billing.models import Account, ServiceClass
from facturador.core.cli import ActionCommand, find_issuer
from facturador.printing.money import format_money


class Command(ActionCommand):
    help = "Export the portfolio (cartera) report with aging buckets to an xlsx file."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        e = sub.add_parser("export", help="Export to xlsx")
        e.add_argument("--issuer", required=True, help="NIT (or RFC, or id) of the issuer")
        e.add_argument("--periods", default="", help="YYYY-MM[,YYYY-MM...] (default: all)")
        e.add_argument("--as-of", default=None, help="Cut-off date YYYY-MM-DD (default today)")
        e.add_argument("--service-class", default="", choices=["", *ServiceClass.values])
        e.add_argument("--stratum", default="")
        e.add_argument("--state", default="", choices=["", *Account.State.values])
        e.add_argument("--reference", default="", help="The reference contains this text")
        e.add_argument("--only-with-balance", action="store_true")
        e.add_argument("--out", required=True, help="Output .xlsx file")

    def handle(self, *args, action, issuer, periods, as_of, service_class, stratum, state, reference,
               only_with_balance, out, **_):
        iss = find_issuer(issuer)
        report = services.cartera_report(iss, periods=periods, as_of=as_of, only_with_balance=only_with_balance,
                                         service_class=service_class, stratum=stratum, state=state,
                                         reference=reference)
        n = cartera.export_xlsx(report, out, issuer=iss)
        t = report.totals
        self.stdout.write(f"{n} cuentas · saldo total {format_money(t['balance'], iss)} · corte {report.as_of:%d/%m/%Y} → {out}")
