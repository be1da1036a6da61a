"""`facturador reception import|reprocess|list|poll|event|dian-status|sat-status|tacit`: suppliers' documents received by an issuer, from
the command line: receive, list, poll the mailbox, register DIAN events, ask SAT for a CFDI's status, and follow the
tacit acceptance of the issuer's own invoices."""

import json
import sys
from pathlib import Path

from django.core.management.base import CommandError

from facturador.core.cli import ActionCommand, find_issuer
from facturador.reception import actions, presenters, services
from facturador.reception.models import Source


class Command(ActionCommand):
    help = "Receive suppliers' documents (DIAN AttachedDocument xml/zip, CFDI xml, email .eml), list them, poll the mailbox."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="verify and file the documents in FILE (or in every file of a folder)")
        imp.add_argument("file", help="xml, zip or .eml; or a folder of them (each file one arrival, filed in "
                                      "batches)")
        imp.add_argument("--issuer", required=True, help="NIT / RFC (or id) of the receiving issuer")
        rep = sub.add_parser("reprocess", help="read a failed arrival again from its stored copy")
        rep.add_argument("intake", metavar="INTAKE_ID", help="id of the arrival (llegada)")
        rep.add_argument("--issuer", required=True)
        lst = sub.add_parser("list", help="received documents, with the filters of the inbox")
        lst.add_argument("--issuer", required=True)
        lst.add_argument("--supplier", default="", help="supplier NIT/RFC or name (part of it)")
        lst.add_argument("--state", default="", help="received, set_aside, ok, findings, failed, dian_rejected")
        lst.add_argument("--country", default="", choices=["", "CO", "MX"])
        lst.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD")
        lst.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD")
        poll = sub.add_parser("poll", help="read the issuer's reception mailbox now, in this process")
        poll.add_argument("--issuer", required=True)
        ev = sub.add_parser("event", help="register a DIAN event on a received invoice (030, 031, 032, 033)")
        ev.add_argument("code", choices=["030", "031", "032", "033"])
        ev.add_argument("--issuer", required=True)
        ev.add_argument("--document", required=True, help="CUFE of the received invoice (or its number)")
        ev.add_argument("--reason", default="", help="031: claim concept 01, 02, 03 or 04")
        ev.add_argument("--wait", action="store_true", help="send now, in this process, and wait for DIAN's answer")
        dst = sub.add_parser("dian-status", help="ask DIAN (GetStatus) whether a received Colombian document is valid")
        dst.add_argument("--issuer", required=True)
        dst.add_argument("--document", required=True, help="CUFE/CUDE of the received document (or its number)")
        sat = sub.add_parser("sat-status", help="ask SAT whether a received CFDI is vigente (now)")
        sat.add_argument("--issuer", required=True)
        sat.add_argument("--document", required=True, help="UUID of the received CFDI (or its number)")
        tacit = sub.add_parser("tacit", help="follow the tacit acceptance (034) of the issuer's own invoices now")
        tacit.add_argument("--issuer", required=True)

    def _import_folder(self, issuer, folder: Path, as_json: bool):
        def uploads():
            for p in sorted(folder.iterdir()):
                if p.is_file() and not p.name.startswith("."):
                    with p.open("rb") as fh:
                        yield fh

        intakes = actions.import_files(issuer, self.actor, uploads=uploads(), source=Source.CLI)
        for intake in intakes:  # --json: one object per line, as `list`
            self.stdout.write(json.dumps(presenters.intake_json(intake), ensure_ascii=False) if as_json else
                              presenters.intake_text(intake))
        if not as_json:
            self.stdout.write(f"{len(intakes)} archivos: {sum(i.documents for i in intakes)} documentos nuevos, "
                              f"{sum(i.duplicates for i in intakes)} duplicados, "
                              f"{sum(i.set_aside for i in intakes)} apartados, {sum(i.errors for i in intakes)} "
                              "errores")

    def handle(self, action, **opts):
        issuer = find_issuer(opts["issuer"])
        as_json = opts.get("json")
        if action == "import":
            path = Path(opts["file"])
            if path.is_dir():
                self._import_folder(issuer, path, as_json)
                return
            try:
                fh = path.open("rb")
            except OSError as exc:
                raise CommandError(f"No se pudo abrir {path}: {exc}") from exc
            with fh:
                intake = actions.import_file(issuer, self.actor, upload=fh, source=Source.CLI)
            if as_json:
                self.stdout.write(json.dumps(presenters.intake_json(intake), ensure_ascii=False))
            else:
                self.stdout.write(presenters.intake_text(intake))
            return
        if action == "reprocess":
            intake = actions.reprocess_intake(issuer, self.actor, intake_id=opts["intake"])
            if as_json:
                self.stdout.write(json.dumps(presenters.intake_json(intake), ensure_ascii=False))
            else:
                self.stdout.write(presenters.intake_text(intake))
            return
        if action == "list":
            dates = {name: services.clean_date(opts[name], field=name) for name in ("date_from", "date_to")
                     if opts[name]}
            docs = services.filter_documents(issuer, supplier=opts["supplier"], state=opts["state"],
                                             country=opts["country"], **dates)
            for d in docs:  # --json: one object per line, as `einvoice list`
                if as_json:
                    self.stdout.write(json.dumps(presenters.document_json(d), ensure_ascii=False))
                else:
                    self.stdout.write(f"{d.number}\t{d.issue_date or ''}\t{d.supplier_tax_id}\t{d.supplier_name}\t"
                                      f"{d.total} {d.currency}\t{d.get_verification_display()}\t"
                                      f"{d.get_status_display()}")
            return
        if action == "event":
            doc = services.find_document(issuer, opts["document"])
            event = actions.send_event(issuer, self.actor, document=doc, code=opts["code"],
                                       reason=opts["reason"] or None, wait=opts["wait"])
            out = presenters.event_json(event)
            self.stdout.write(json.dumps(out, ensure_ascii=False) if as_json else presenters.event_text(event))
            if event.state in ("rejected", "error"):
                sys.exit(1)
            return
        if action == "dian-status":
            doc = actions.check_dian_status(issuer, self.actor,
                                            document=services.find_document(issuer, opts["document"]))
            out = {"document": doc.pk, "number": doc.number, "dian_check": doc.dian_check,
                   "dian_check_message": doc.dian_check_message}
            self.stdout.write(json.dumps(out, ensure_ascii=False) if as_json else
                              f"{doc.number}: {doc.get_dian_check_display()} — {doc.dian_check_message}")
            return
        if action == "sat-status":
            doc = actions.check_sat_status(issuer, self.actor, document=services.find_document(issuer, opts["document"]))
            out = {"document": doc.pk, "number": doc.number, "sat_state": doc.sat_state,
                   "sat_cancellable": doc.sat_cancellable, "sat_cancellation_status": doc.sat_cancellation_status}
            self.stdout.write(json.dumps(out, ensure_ascii=False) if as_json else
                              f"{doc.number}: {doc.get_sat_state_display()} · {doc.sat_cancellable or '-'} · "
                              f"{doc.sat_cancellation_status or '-'}")
            return
        if action == "tacit":
            from facturador.core.jobs import execute_job

            job = actions.follow_tacit_acceptance(issuer, self.actor)
            execute_job.call(job.pk)
            job.refresh_from_db()
            self.stdout.write(json.dumps({"job": job.pk, "status": job.status, **job.result}, ensure_ascii=False)
                              if as_json else (job.error or job.message))
            return
        if action == "poll":
            from facturador.core.jobs import execute_job

            job = actions.poll_mailbox(issuer, self.actor, enqueue=False)
            execute_job.call(job.pk)
            job.refresh_from_db()
            if as_json:
                self.stdout.write(json.dumps({"job": job.pk, "status": job.status, "error": job.error,
                                              **job.result}, ensure_ascii=False))
            else:
                self.stdout.write(job.error or job.message)
            if job.status == "failed":
                sys.exit(1)
