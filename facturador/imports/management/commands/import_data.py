"""`facturador import run|status|list|cancel|delete` — the import queue from the command line.

`run FILE --issuer NIT --operator X --template Y --period 2026-10 [--wait] [--dry-run] [--force]` queues the
import like one scheduled from the web (a worker runs it); `--json` prints its outcome as one JSON object instead of
the progress lines, and `--dry-run --json` instead validates the whole file
right here and prints one JSON object (rows_read, rows_valid, errors, totals), writing nothing.
`template suggest FILE --issuer NIT --operator CODE --name NAME [--save] [--json]` proposes a template from
the file (header and totals rows, each column's field, parser and rules) and prints it, or stores it as a new
version (creating the operator when missing). `--wait` follows it with a progress bar in the
terminal. `--in-process` runs it right here (no worker needed; implies --wait); without it, `--wait` warns
when no worker has picked the job up after a while. `list` takes the filters of the web queue and the API.
Actions are recorded in the audit log for the OS user, or the platform user given with `--as`.
"""

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from facturador.core.cli import SHOWN_ROWS, ActionCommand, find_issuer, write_limited
from facturador.core.jobs import JOB_FILTERS
from facturador.core.models import Job
from facturador.imports import actions, services
from facturador.imports.models import FileType, ImportJob
from facturador.printing.money import format_money

JSON_ERRORS = 1000  # row errors listed by `run --json` (as the API's report; `errors_total` counts them all)

EXIT = {Job.Status.FINISHED: 0, Job.Status.FINISHED_WITH_ERRORS: 3}


def progress_line(job: Job, width: int = 30) -> str:
    pct = job.percent
    filled = int(width * pct / 100)
    bar = "#" * filled + "." * (width - filled)
    counts = f"{job.done}/{job.total}" if job.total else f"{job.done}"
    errors = f" · {job.errors} con error" if job.errors else ""
    return f"[{bar}] {pct:3d}% {counts} filas{errors} · {job.get_status_display()}" + (f" · {job.message}" if job.message else "")


class Command(ActionCommand):
    help = "Import billing data files (operators' consumption detail, charges...)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="Queue (and optionally follow) an import")
        run.add_argument("file")
        run.add_argument("--issuer", required=True, help="NIT / RFC of the issuer (check digit optional)")
        run.add_argument("--operator", required=True, help="Operator code")
        run.add_argument("--template", required=True, help="Template name (latest version) or id")
        run.add_argument("--template-version", type=int, help="Use this version of the template")
        run.add_argument("--period", required=True, help="YYYY-MM")
        run.add_argument("--file-type", default="", choices=["", *FileType.values],
                         help="consumption, summary, charges, readings, other (default: the template's)")
        run.add_argument("--at", default="", help="Run at this local date-time (YYYY-MM-DD HH:MM) instead of now")
        run.add_argument("--wait", action="store_true", help="Follow the import with a progress bar until it ends")
        run.add_argument("--in-process", action="store_true", help="Run the import in this process (no worker needed)")
        run.add_argument("--dry-run", action="store_true", help="Validate without storing")
        run.add_argument("--force", action="store_true", help="Import even if the same file was imported for the period")
        run.add_argument("--json", action="store_true",
                         help="Print one JSON object instead of the progress lines: with --dry-run the file's "
                              "validation (nothing is stored), otherwise the import's outcome (its state when not waiting)")
        tpl = sub.add_parser("template", help="Import templates")
        tsub = tpl.add_subparsers(dest="template_action", required=True)
        sug = tsub.add_parser("suggest", help="Propose a template from an operator's file")
        sug.add_argument("file")
        sug.add_argument("--issuer", required=True)
        sug.add_argument("--operator", required=True, help="Operator code (created with --save when missing)")
        sug.add_argument("--name", required=True, help="Template name")
        sug.add_argument("--sheet", help="Sheet name (default: the first visible worksheet)")
        sug.add_argument("--save", action="store_true", help="Store the proposal as a new template version")
        sug.add_argument("--json", action="store_true", help="Print the proposal as JSON")
        sug.add_argument("--as", dest="as_user", metavar="USER", default=argparse.SUPPRESS,
                         help="usuario de la plataforma a nombre de quien se registra la acción en la auditoría")
        status = sub.add_parser("status", help="Show an import's progress")
        status.add_argument("id", type=int)
        status.add_argument("--issuer", help="Only an import of this issuer")
        status.add_argument("--wait", action="store_true")
        status.add_argument("--all", dest="show_all", action="store_true", help="List every row error")
        ls = sub.add_parser("list", help="List the import queue")
        ls.add_argument("--issuer", required=True)
        ls.add_argument("--state", default="active", choices=[*JOB_FILTERS, "all"],
                        help="active (default), pending, running, finished, deleted or all")
        ls.add_argument("--operator", help="Operator code")
        ls.add_argument("--period", help="YYYY-MM")
        ls.add_argument("--json", action="store_true", help="One JSON object per line")
        for name, text in (("cancel", "Cancel a pending or running import"), ("delete", "Delete a pending import")):
            p = sub.add_parser(name, help=text)
            p.add_argument("id", type=int)
            p.add_argument("--issuer", help="Only an import of this issuer")

    def handle(self, *args, action=None, **o):
        if action == "run":
            if o["dry_run"] and o.get("json"):
                return self._dry_run(o)
            return self._run(o)
        if action == "template":
            return self._suggest(o)
        if action == "list":
            return self._list(o)
        issuer = find_issuer(o["issuer"]) if o.get("issuer") else None
        imp = services.find_import(o["id"], issuer)
        if action == "status":
            return self._finish(imp, wait=o["wait"], show_all=o.get("show_all", False))
        if action == "cancel":
            actions.cancel_import(imp.issuer, self.actor, imp=imp)
            self.stdout.write(f"Se solicitó la cancelación de la importación #{imp.pk}.")
        elif action == "delete":
            actions.delete_import(imp.issuer, self.actor, imp=imp)
            self.stdout.write(f"Importación #{imp.pk} eliminada.")
        return None

    def _row_errors(self, imp: ImportJob, show_all: bool):
        """The rejected rows: where and why (the first ones unless --all), and how many more there are."""
        errors = imp.row_errors.all()
        total = errors.count()
        if not total:
            return
        self.stdout.write(f"Errores ({total}):")
        shown = errors if show_all else errors[:SHOWN_ROWS]
        write_limited(self.stdout, ((f"  fila {e.row_number}" if e.row_number else "  archivo") + (f", columna {e.column}" if e.column else "")
                                    + (f" «{e.value}»" if e.value else "") + f": {e.message}" for e in shown),
                      total=total, hint=f"use `import status {imp.pk} --all` o el reporte de errores (CSV/Excel) "
                                        "de la importación en la web")

    def _list(self, o):
        issuer = find_issuer(o["issuer"])
        for imp in services.imports_for(issuer, o["state"], operator=o.get("operator"), period=o.get("period")):
            job = imp.job
            if o.get("json"):
                self.stdout.write(json.dumps({
                    "id": imp.pk, "status": job.status, "percent": job.percent, "operator": imp.operator.code,
                    "period": imp.period, "file": imp.original_name, "template": imp.template.name,
                    "template_version": imp.template.version, "dry_run": imp.dry_run, "rows_valid": imp.rows_valid,
                    "rows_invalid": imp.rows_invalid, "created_at": imp.created_at.isoformat()}, ensure_ascii=False))
            else:
                self.stdout.write(f"#{imp.pk}\t{imp.operator.code}\t{imp.period}\t{imp.original_name}\t"
                                  f"{imp.template.name} v{imp.template.version}\t{job.get_status_display()}\t"
                                  f"{job.percent}%")

    def _suggest(self, o):
        path = Path(o["file"])
        if not path.is_file():
            raise CommandError(f"No se encuentra el archivo {path}.")
        issuer = find_issuer(o["issuer"])
        out = actions.suggest_template(issuer, self.actor, operator_code=o["operator"], name=o["name"], path=str(path),
                                       filename=path.name, save=o["save"], sheet=o.get("sheet"))
        saved = out["template"]
        if o.get("json"):
            answer = {"proposal": out["proposal"], "mapping": out["mapping"]}
            if out.get("problem"):
                answer["problem"] = out["problem"]
            if saved is not None:
                answer["template"] = {"id": saved.pk, "name": saved.name, "version": saved.version,
                                      "operator": saved.operator.code}
            self.stdout.write(json.dumps(answer, ensure_ascii=False, default=str))
            return None
        p = out["proposal"]
        self.stdout.write(f"Hoja «{p['sheet'] or '-'}» · encabezados en la fila {p['header_row']}"
                          + (f" · totales en la fila {p['totals_row']}" if p["totals_row"] else "")
                          + f" · decimales «{p['decimal_separator']}» miles «{p['thousands_separator']}»")
        for c in p["columns"]:
            rules = ", ".join(f"{k}={v}" for k, v in {**(c["rules"] or {}),
                                                    **{k: v for k, v in (c["options"] or {}).items()
                                                       if k == "zfill"}}.items())
            self.stdout.write(f"  {c['letter']:>3} {c['header'][:30]:<30} → {c['field'] or '(no se importa)':<22} "
                              f"{c['parser']:<8} {rules}  ej.: {', '.join(c['samples'][:3])}")
        if out.get("problem"):
            self.stdout.write(f"La propuesta aún no es una plantilla: {out['problem']['detail']} Corríjala en el "
                              "mapeador visual (Importaciones › Plantillas › Mapear) o en su JSON; no se guardó nada.")
        elif saved is not None:
            self.stdout.write(f"Plantilla «{saved.name}» v{saved.version} guardada para el operador {saved.operator.code}.")
        else:
            self.stdout.write("No se guardó nada (use --save para guardar la plantilla).")
        return None

    def _file_and_template(self, o):
        """The file to import, its issuer, the operator and the template version the options name."""
        path = Path(o["file"])
        if not path.is_file():
            raise CommandError(f"No se encuentra el archivo {path}.")
        issuer = find_issuer(o["issuer"])
        operator = services.find_operator(issuer, code=o["operator"])
        value = o["template"]
        template = services.find_template(issuer, operator=operator, pk=int(value) if value.isdigit() else None,
                                          name=value, version=o["template_version"])
        return path, issuer, operator, template

    def _dry_run(self, o):
        path, issuer, operator, template = self._file_and_template(o)
        result = actions.dry_run_import(issuer, self.actor, operator=operator, template=template, period=o["period"],
                                        path=str(path), filename=path.name)
        self.stdout.write(json.dumps(result, ensure_ascii=False, default=str))
        if result["errors"]:
            sys.exit(3)
        return None

    def _run(self, o):
        path, issuer, operator, template = self._file_and_template(o)
        run_at = None
        if o["at"]:
            run_at = parse_datetime(o["at"].replace(" ", "T"))
            if run_at is None:
                raise CommandError("--at: use AAAA-MM-DD HH:MM.")
            if timezone.is_naive(run_at):
                run_at = timezone.make_aware(run_at, ZoneInfo(issuer.tz))
        in_process = o["in_process"] and not run_at
        with path.open("rb") as fh:
            imp = actions.schedule_import(
                issuer, self.actor, operator=operator, template=template, period=o["period"], upload=fh,
                file_type=o["file_type"], run_at=run_at, dry_run=o["dry_run"], force=o["force"],
                enqueue=not in_process)
        as_json = o.get("json")
        if not as_json:
            self.stdout.write(f"Importación #{imp.pk} programada ({imp.job.title}).")
        if in_process:
            from facturador.core.jobs import execute_job

            def work():
                try:
                    execute_job.call(imp.job_id)
                finally:
                    connection.close()

            worker = threading.Thread(target=work, name=f"import-{imp.pk}")
            worker.start()
            code = self._finish(imp, wait=True, as_json=as_json)
            worker.join()
            return code
        return self._finish(imp, wait=o["wait"], as_json=as_json)

    def _outcome_json(self, imp: ImportJob) -> str:
        """The import as one JSON object: its state, figures, row errors and reconciliation (when it ended)."""
        job = imp.job
        out = {"import_id": imp.pk, "status": job.status, "dry_run": imp.dry_run}
        if job.status in Job.FINAL:
            out.update(rows_read=imp.rows_read, rows_valid=imp.rows_valid, rows_invalid=imp.rows_invalid,
                       amount=str(imp.amount_total), error=job.error or None,
                       errors=services.row_errors(imp, limit=JSON_ERRORS),
                       errors_total=imp.row_errors.count(), reconciliation=imp.reconciliation or None)
        return json.dumps(out, ensure_ascii=False, default=str)

    def _finish(self, imp: ImportJob, wait: bool, show_all: bool = False, as_json: bool = False):
        job = imp.job
        started = time.monotonic()
        warned = False
        tty = sys.stdout.isatty() and not as_json
        last = ""
        while True:
            job.refresh_from_db()
            line = progress_line(job)
            if not wait or job.status in Job.FINAL:
                break
            if as_json:
                pass
            elif line != last:
                self.stdout.write(("\r" + line.ljust(110)) if tty else line, ending="" if tty else "\n")
                self.stdout.flush()
                last = line
            if job.status == Job.Status.PENDING and not warned and not imp.scheduled_for and time.monotonic() - started > 15:
                self.stderr.write("\nNingún trabajador ha tomado la importación todavía: inicie `facturador worker` "
                                  "o use --in-process.")
                warned = True
            time.sleep(0.3)
        imp.refresh_from_db()
        if as_json:
            self.stdout.write(self._outcome_json(imp))
        else:
            self.stdout.write(("\r" + line.ljust(110)) if tty else line)
        if job.status in Job.FINAL and not as_json:
            self.stdout.write(f"Filas leídas {imp.rows_read} · válidas {imp.rows_valid} · con error {imp.rows_invalid} · "
                              f"valor {format_money(imp.amount_total, imp.issuer)}" + (" · simulación: no se guardó nada" if imp.dry_run else ""))
            if job.error:
                self.stderr.write(job.error)
            self._row_errors(imp, show_all)
        if wait and job.status not in EXIT:
            sys.exit(1)
        if wait and job.status == Job.Status.FINISHED_WITH_ERRORS:
            sys.exit(3)
        return None
