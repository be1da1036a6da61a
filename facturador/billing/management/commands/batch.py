"""`facturador batch create|status|cancel|resume`: mass-invoicing batches from the terminal."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from facturador.billing import actions, outputs, services
from facturador.billing.models import Account, Batch, ServiceClass
from facturador.billing.selection import parse_references
from facturador.core.cli import SHOWN_ROWS, ActionCommand, find_issuer, write_limited
from facturador.core.progress import follow_job
from facturador.printing.money import format_money

SHOWN_PROBLEMS = 50


class Command(ActionCommand):
    help = "Create a mass-invoicing batch (lote) and optionally wait for it with a progress bar."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        c = sub.add_parser("create", help="Create a batch")
        c.add_argument("--issuer", required=True, help="NIT (or RFC, or id) of the issuer")
        c.add_argument("--periods", required=True, help="YYYY-MM[,YYYY-MM...]")
        c.add_argument("--references", help="Text file, one reference per line (default: the accounts the filters choose)")
        c.add_argument("--template", help="Template name (latest version) or id; default: the issuer's default")
        c.add_argument("--type", dest="billing_type", default=Batch.BillingType.NORMAL, choices=Batch.BillingType.values)
        c.add_argument("--issue-date", default=None, help="YYYY-MM-DD (default today)")
        c.add_argument("--due-date", default=None, help="YYYY-MM-DD (default issue date + 15 days)")
        c.add_argument("--service-class", default="", choices=["", *ServiceClass.values], help="Filter: service class")
        c.add_argument("--stratum", default="", help="Filter: stratum (1-6)")
        c.add_argument("--state", default="", choices=["", Account.State.ACTIVE, Account.State.SUSPENDED],
                       help="Filter: account state (default: active and suspended)")
        c.add_argument("--reference", default="", help="Filter: the reference contains this text")
        c.add_argument("--municipality-code", default="", help="Filter: DANE municipality code")
        c.add_argument("--electronic", action="store_true", help="Also issue each invoice as a DIAN e-invoice")
        c.add_argument("--wait", action="store_true", help="Wait and show a progress bar")
        c.add_argument("--timeout", type=float, default=None)
        c.add_argument("--all", dest="show_all", action="store_true", help="List every account not billed")
        s = sub.add_parser("status", help="Show a batch")
        s.add_argument("batch_id", type=int)
        s.add_argument("--wait", action="store_true")
        s.add_argument("--all", dest="show_all", action="store_true", help="List every account not billed")
        k = sub.add_parser("cancel", help="Cancel a running batch")
        k.add_argument("batch_id", type=int)
        r = sub.add_parser("resume", help="Resume a cancelled or failed batch where it stopped")
        r.add_argument("batch_id", type=int)

    def handle(self, *args, action, **o):
        return getattr(self, f"do_{action}")(**o)

    def write_refusal(self, refusal, *, as_json):
        super().write_refusal(refusal, as_json=as_json)
        problems = refusal.details.get("problems") or []
        if as_json or not problems:
            return
        for p in problems[:SHOWN_PROBLEMS]:
            line = f"línea {p['line']}: " if p.get("line") else ""
            self.stderr.write(f"  {line}{p.get('reference', '')}: {p.get('reason', '')}")
        total = refusal.details.get("problem_count", len(problems))
        if total > SHOWN_PROBLEMS:
            self.stderr.write(f"  ... y {total - SHOWN_PROBLEMS} más")

    def do_create(self, issuer, periods, references, template, billing_type, issue_date, due_date, service_class,
                  stratum, state, reference, municipality_code, electronic, wait, timeout, show_all=False, **_):
        iss = find_issuer(issuer)
        lines = None
        if references:
            path = Path(references)
            if not path.is_file():
                raise CommandError(f"No existe el archivo de referencias {references}.")
            lines = parse_references(path.read_bytes())
        b = actions.create_batch(iss, self.actor, periods=periods, references=lines, billing_type=billing_type,
                                 issue_date=issue_date, due_date=due_date, template=template, electronic=electronic,
                                 service_class=service_class, stratum=stratum, state=state, reference=reference,
                                 municipality_code=municipality_code)
        self.stdout.write(f"Lote {b.pk} creado: {b.job.total} facturas por {format_money(b.total_amount, b.issuer)} "
                          f"(plantilla {b.template.name} v{b.template_version}); tarea {b.job_id}.")
        if wait:
            self._wait(b, timeout, show_all=show_all)

    def _wait(self, b, timeout=None, show_all=False):
        job = follow_job(b.job, self.stdout, timeout=timeout,
                         timeout_message="Se agotó el tiempo de espera; el lote sigue en segundo plano.")
        b.refresh_from_db()
        b.job = job
        self._summary(b, show_all=show_all)
        if not job.is_done:
            raise CommandError(job.error or f"El lote terminó con estado {job.get_status_display()}.")

    def _summary(self, b, show_all=False):
        media = Path(settings.MEDIA_ROOT)
        self.stdout.write(f"Lote {b.pk}: {b.get_status_display()} · {b.invoice_count} facturas · "
                          f"{format_money(b.total_amount, b.issuer)}")
        if b.finished_at or b.error_list:
            self.stdout.write(f"Resultado: {b.outcome}")
        if b.merged_pdf:
            self.stdout.write(f"PDF de impresión: {media / b.merged_pdf}")
        else:
            for part in outputs.parts(b):
                if part.pdf:
                    self.stdout.write(f"PDF de impresión, parte {part.index} ({part.first_number} – "
                                      f"{part.last_number}): {media / part.pdf}")
        entries = b.failed + b.skipped  # errors first
        shown = entries if show_all else entries[:SHOWN_ROWS]
        write_limited(self.stdout, (f"  {'con error' if not e.get('skipped') else 'omitida'} {e.get('reference')}: "
                                    f"{e.get('reason')}" for e in shown), total=len(entries),
                      hint=f"use `batch status {b.pk} --all` para verlas todas")

    def do_status(self, batch_id, wait=False, show_all=False, **_):
        b = services.get_batch(batch_id)
        if wait and b.job:
            return self._wait(b, show_all=show_all)
        if b.job:
            self.stdout.write(f"Tarea {b.job.pk}: {b.job.get_status_display()} {b.job.done}/{b.job.total}")
        self._summary(b, show_all=show_all)

    def do_cancel(self, batch_id, **_):
        b = services.get_batch(batch_id)
        actions.cancel_batch(b.issuer, self.actor, b)
        self.stdout.write(f"Cancelación solicitada para el lote {batch_id}.")

    def do_resume(self, batch_id, **_):
        b = services.get_batch(batch_id)
        actions.resume_batch(b.issuer, self.actor, b)
        self.stdout.write(f"El lote {batch_id} continúa donde se detuvo (tarea {b.job_id}).")
