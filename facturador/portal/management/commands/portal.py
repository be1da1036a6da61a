"""`facturador portal ...`: the back office of the self-invoicing portal from the terminal.

The same actions as the web back office and the API (`portal.actions`), recorded in the audit log
for the OS user or `--as USER`.
"""

import json
from pathlib import Path

from django.core.management.base import CommandError

from facturador.core.cli import ActionCommand, find_issuer, secret_from_env, write_limited
from facturador.core.models import Job
from facturador.core.progress import follow_job
from facturador.portal import actions, services
from facturador.portal.models import PortalSettings, Ticket


class Command(ActionCommand):
    help = ("Self-invoicing portal: import, list, block and unblock tickets, cancel a CFDI, issue the global invoice, "
            "change the settings, recover interrupted stampings.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import-tickets", help="load tickets from a CSV (or a JSON list like the API), all or nothing")
        imp.add_argument("file")
        imp.add_argument("--issuer", required=True, help="RFC or id of the issuer")
        ls = sub.add_parser("tickets", help="list tickets (the back office's filters)")
        ls.add_argument("--issuer", required=True)
        ls.add_argument("--q", default="", help="text in the ticket or order number")
        ls.add_argument("--status", default="", choices=[""] + list(Ticket.Status.values))
        ls.add_argument("--limit", type=int, default=50)
        for name, text in (("block", "block an available ticket"), ("unblock", "unblock a blocked ticket")):
            p = sub.add_parser(name, help=text)
            p.add_argument("ticket", help="ticket number")
            p.add_argument("--issuer", required=True)
            p.add_argument("--branch", default="", help="branch code (when the number exists in several branches)")
        can = sub.add_parser("cancel", help="cancel a stamped CFDI")
        can.add_argument("uuid")
        can.add_argument("--issuer", required=True)
        can.add_argument("--motive", required=True, help="SAT motive: 01, 02, 03 or 04")
        can.add_argument("--substitute-uuid", default="", help="UUID of the CFDI that replaces it (motive 01)")
        glob = sub.add_parser("global", help="issue the global invoice of a month")
        glob.add_argument("--issuer", required=True)
        glob.add_argument("--period", required=True, help="YYYY-MM")
        glob.add_argument("--wait", action="store_true")
        st = sub.add_parser("settings", help="change the portal's settings and PAC credentials (only the options given)")
        st.add_argument("--issuer", required=True)
        for name in services.SETTINGS_FIELDS:
            field = PortalSettings._meta.get_field(name)
            choices = f" ({', '.join(str(c) for c, _ in field.choices)})" if field.choices else ""
            st.add_argument(f"--{name.replace('_', '-')}", dest=name, default=None, help=f"{field.verbose_name}{choices}")
        st.add_argument("--pac-password-env", metavar="VAR", help="environment variable holding the PAC password")
        sub.add_parser("recover", help="finish or release ticket reservations left by a crash")

    def handle(self, *args, action, **opts):
        return getattr(self, "do_" + action.replace("-", "_"))(**opts)

    def do_import_tickets(self, file, issuer, **_):
        path = Path(file)
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"No se pudo leer {file}: {exc.strerror}") from exc
        iss = find_issuer(issuer)
        if path.suffix.lower() == ".json":
            try:
                rows = json.loads(content)
            except ValueError as exc:
                raise CommandError(f"{file} no es JSON válido: {exc}") from exc
            created, known = actions.import_tickets(iss, self.actor, rows=rows, source=path.name)
        else:
            created, known = actions.import_tickets_csv(iss, self.actor, content=content, filename=path.name)
        self._result(f"{created} tickets cargados, {known} ya existían.", created=created, already_known=known)

    def do_tickets(self, issuer, q, status, limit, **_):
        found = services.tickets_for(find_issuer(issuer), q=q, status=status)
        rows = found[:limit]
        if self._options.get("json"):
            self.stdout.write(json.dumps([{"id": t.pk, "branch": t.branch.code, "ticket_number": t.ticket_number,
                                           "order_number": t.order_number, "sold_at": t.sold_at.isoformat(),
                                           "total": str(t.total), "status": t.status} for t in rows], ensure_ascii=False))
            return
        write_limited(self.stdout, (f"{t.branch.code}\t{t.ticket_number}\t{t.order_number}\t{t.sold_at:%Y-%m-%d %H:%M}\t"
                                    f"{t.total}\t{t.get_status_display()}" for t in rows),
                      total=found.count() if len(rows) == limit else len(rows),
                      hint="use --limit con un número mayor para verlos todos")

    def do_block(self, ticket, issuer, branch, **_):
        iss = find_issuer(issuer)
        t = actions.block_ticket(iss, self.actor, ticket=services.get_ticket(iss, branch=branch, number=ticket))
        self._result(f"Ticket {t} bloqueado.", id=t.pk, status=t.status)

    def do_unblock(self, ticket, issuer, branch, **_):
        iss = find_issuer(issuer)
        t = actions.unblock_ticket(iss, self.actor, ticket=services.get_ticket(iss, branch=branch, number=ticket))
        self._result(f"Ticket {t} desbloqueado.", id=t.pk, status=t.status)

    def do_cancel(self, uuid, issuer, motive, substitute_uuid, **_):
        iss = find_issuer(issuer)
        cfdi = actions.cancel_cfdi(iss, self.actor, cfdi=services.get_cfdi(iss, uuid=uuid), motive=motive,
                                   substitute_uuid=substitute_uuid)
        self._result(f"Factura {cfdi.full_number}: {cfdi.get_status_display()}.", uuid=cfdi.uuid, status=cfdi.status)

    def do_global(self, issuer, period, wait, **_):
        job = actions.request_global_invoice(find_issuer(issuer), self.actor, period=period)
        self.stdout.write(f"Tarea {job.pk} creada.")
        if wait:
            job = follow_job(job, self.stdout)
            if job.status != Job.Status.FINISHED:
                raise CommandError(job.error or job.get_status_display())
            self.stdout.write(f"UUID {job.result.get('uuid', '')} con {job.result.get('tickets', 0)} tickets")

    def do_settings(self, issuer, pac_password_env=None, **opts):
        values = {name: opts[name] for name in services.SETTINGS_FIELDS if opts.get(name) is not None}
        password = secret_from_env(pac_password_env, option="pac-password-env") if pac_password_env else None
        ps = actions.save_settings(find_issuer(issuer), self.actor, pac_password=password, **values)
        self._result(f"Configuración del portal «{ps.slug}» guardada.", slug=ps.slug)

    def do_recover(self, **_):
        count = actions.recover_reservations(self.actor)
        self._result(f"{count} reservas revisadas.", reviewed=count)

    def _result(self, text, **data):
        self.stdout.write(json.dumps(data, ensure_ascii=False) if self._options.get("json") else text)
