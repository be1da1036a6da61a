"""`facturador batch create|status|cancel`: mass-invoicing batches from the terminal."""

import datetime as dt
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from facturador.billing import batch as batchmod
from facturador.billing.api import resolve_template
from facturador.billing.management.commands._common import issuer_from
from facturador.billing.models import Batch
from facturador.billing.selection import (
    SelectionError,
    parse_references,
    require_clean,
    resolve_references,
    select_by_filters,
)
from facturador.core import jobs
from facturador.core.models import Job
from facturador.core.progress import follow_job
from facturador.printing.invoice import format_money


class Command(BaseCommand):
    help = "Create a mass-invoicing batch (lote) and optionally wait for it with a progress bar."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        c = sub.add_parser("create", help="Create a batch")
        c.add_argument("--issuer", required=True, help="NIT of the issuer")
        c.add_argument("--periods", required=True, help="YYYY-MM[,YYYY-MM...]")
        c.add_argument("--references", help="Text file, one reference per line (default: all active accounts)")
        c.add_argument("--template", help="Template name (latest version) or id; default: the issuer's default")
        c.add_argument("--type", dest="billing_type", default="normal", choices=Batch.BillingType.values)
        c.add_argument("--issue-date", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD (default today)")
        c.add_argument("--due-date", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD (default +15 days)")
        c.add_argument("--service-class", default="")
        c.add_argument("--stratum", default="")
        c.add_argument("--electronic", action="store_true", help="Also issue each invoice as a DIAN e-invoice")
        c.add_argument("--wait", action="store_true", help="Wait and show a progress bar")
        c.add_argument("--timeout", type=float, default=None)
        s = sub.add_parser("status", help="Show a batch")
        s.add_argument("batch_id", type=int)
        s.add_argument("--wait", action="store_true")
        k = sub.add_parser("cancel", help="Cancel a running batch")
        k.add_argument("batch_id", type=int)

    def handle(self, *args, action, **o):
        return getattr(self, f"do_{action}")(**o)

    def do_create(self, issuer, periods, references, template, billing_type, issue_date, due_date, service_class,
                  stratum, wait, timeout, electronic=False, **_):
        iss = issuer_from(issuer)
        issue_date = issue_date or dt.date.today()
        due_date = due_date or issue_date + dt.timedelta(days=15)
        try:
            tpl = resolve_template(iss, template)
            if references:
                path = Path(references)
                if not path.is_file():
                    raise CommandError(f"No existe el archivo de referencias {references}.")
                sel = resolve_references(iss, parse_references(path.read_bytes()))
                try:
                    require_clean(sel)
                except SelectionError as exc:
                    for p in exc.problems[:50]:
                        self.stderr.write(f"  línea {p['line']}: {p['reference']}: {p['reason']}")
                    if len(exc.problems) > 50:
                        self.stderr.write(f"  ... y {len(exc.problems) - 50} más")
                    raise CommandError(exc.message) from exc
                refs, filters = sel.references, {}
            else:
                filters = {k: v for k, v in {"service_class": service_class, "stratum": stratum}.items() if v}
                sel = select_by_filters(iss, filters)
                refs = []
            b = batchmod.create(iss, periods=periods, billing_type=billing_type, issue_date=issue_date,
                                due_date=due_date, template=tpl, account_ids=sel.account_ids, references=refs,
                                filters=filters, electronic=electronic)
        except SelectionError as exc:
            raise CommandError(exc.message) from exc
        except batchmod.BatchError as exc:
            for p in exc.problems[:20]:
                self.stderr.write(f"  {p.get('reference', '')}: {p.get('reason', '')}")
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Lote {b.pk} creado: {b.job.total} facturas por {format_money(b.total_amount, decimals=0)} "
                          f"(plantilla {tpl.name} v{tpl.version}); tarea {b.job_id}.")
        if wait:
            self._wait(b, timeout)

    def _wait(self, b, timeout=None):
        job = follow_job(b.job, self.stdout, timeout=timeout,
                         timeout_message="Se agotó el tiempo de espera; el lote sigue en segundo plano.")
        b.refresh_from_db()
        self._summary(b)
        if job.status not in (Job.Status.FINISHED, Job.Status.FINISHED_WITH_ERRORS):
            raise CommandError(job.error or f"El lote terminó con estado {job.get_status_display()}.")

    def _summary(self, b):
        media = Path(settings.MEDIA_ROOT)
        self.stdout.write(f"Lote {b.pk}: {b.get_status_display()} · {b.invoice_count} facturas · "
                          f"{format_money(b.total_amount, decimals=0)}")
        if b.merged_pdf:
            self.stdout.write(f"PDF de impresión: {media / b.merged_pdf}")
            self.stdout.write(f"Zip de facturas:  {media / b.zip_file}")
        for e in b.error_list[:20]:
            self.stdout.write(f"  no facturada {e.get('reference')}: {e.get('reason')}")

    def do_status(self, batch_id, wait=False, **_):
        b = Batch.objects.filter(pk=batch_id).select_related("job").first()
        if b is None:
            raise CommandError(f"No existe el lote {batch_id}.")
        if wait and b.job:
            return self._wait(b)
        if b.job:
            self.stdout.write(f"Tarea {b.job.pk}: {b.job.get_status_display()} {b.job.done}/{b.job.total}")
        self._summary(b)

    def do_cancel(self, batch_id, **_):
        b = Batch.objects.filter(pk=batch_id).select_related("job").first()
        if b is None or b.job is None:
            raise CommandError(f"No existe el lote {batch_id}.")
        if not jobs.request_cancel(b.job):
            raise CommandError("El lote ya terminó; no se puede cancelar.")
        self.stdout.write(f"Cancelación solicitada para el lote {batch_id}.")
