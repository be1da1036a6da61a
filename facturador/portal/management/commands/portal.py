"""`facturador portal ...`: tickets import, global invoice, reservation recovery."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from facturador.core.models import Issuer, Job
from facturador.core.progress import follow_job
from facturador.portal import services, tasks, tickets


class Command(BaseCommand):
    help = "Self-invoicing portal: import tickets, issue the global invoice, recover interrupted stampings."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import-tickets", help="load a CSV of tickets (all or nothing)")
        imp.add_argument("file")
        imp.add_argument("--issuer", required=True, help="RFC of the issuer")
        glob = sub.add_parser("global", help="issue the global invoice of a month")
        glob.add_argument("--issuer", required=True)
        glob.add_argument("--period", required=True, help="YYYY-MM")
        glob.add_argument("--wait", action="store_true")
        sub.add_parser("recover", help="finish or release ticket reservations left by a crash")

    def _issuer(self, rfc):
        issuer = Issuer.objects.filter(country="MX", tax_id=rfc.upper()).first()
        if issuer is None:
            raise CommandError(f"No existe un emisor de México con RFC {rfc}.")
        return issuer

    def handle(self, action, **opts):
        if action == "import-tickets":
            issuer = self._issuer(opts["issuer"])
            try:
                created, known = tickets.save_tickets(issuer, tickets.read_csv(Path(opts["file"]).read_bytes()))
            except tickets.TicketRowError as exc:
                raise CommandError(f"fila {exc.row}, columna {exc.field}: {exc.message} No se cargó ningún ticket.") from exc
            self.stdout.write(f"{created} tickets cargados, {known} ya existían.")
        elif action == "global":
            issuer = self._issuer(opts["issuer"])
            job = tasks.request_global(issuer, opts["period"])
            self.stdout.write(f"Tarea {job.pk} creada.")
            if opts["wait"]:
                job = follow_job(job, self.stdout)
                if job.status != Job.Status.FINISHED:
                    raise CommandError(job.error or job.get_status_display())
                self.stdout.write(f"UUID {job.result.get('uuid', '')} con {job.result.get('tickets', 0)} tickets")
        else:
            self.stdout.write(f"{services.recover_reservations()} reservas revisadas.")
