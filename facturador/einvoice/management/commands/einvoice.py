"""`facturador einvoice issue|list|status|retry|acquirer`: DIAN documents of an issuer from the command line, and
the name and e-mail DIAN has for a buyer."""

import json
import sys
from pathlib import Path

from django.core.management.base import CommandError

from facturador.core.cli import ActionCommand, find_issuer
from facturador.core.errors import NotFound
from facturador.einvoice import actions, services
from facturador.einvoice.models import DianDocument


class Command(ActionCommand):
    help = "Issue a DIAN invoice or note from JSON (docs/dian-json.md), list and follow documents, retry sending."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        issue = sub.add_parser("issue", help="number, sign and send a document")
        issue.add_argument("file", help="JSON document (supplier, numbering and software come from the platform)")
        issue.add_argument("--issuer", required=True, help="NIT (or id) of the issuer")
        issue.add_argument("--no-send", action="store_true", help="only sign it (the API's \"send\": false)")
        issue.add_argument("--wait", action="store_true", help="send now, in this process, and wait for DIAN's answer")
        lst = sub.add_parser("list", help="documents of the issuer, with the filters of the web list and the API")
        lst.add_argument("--issuer", required=True)
        lst.add_argument("--kind", choices=DianDocument.Kind.values)
        lst.add_argument("--status", choices=DianDocument.Status.values)
        lst.add_argument("--environment", choices=["test", "production"])
        lst.add_argument("--q", help="customer name (part of it) or identification")
        lst.add_argument("--from", dest="from", metavar="YYYY-MM-DD")
        lst.add_argument("--to", metavar="YYYY-MM-DD")
        for name in ("status", "retry"):
            p = sub.add_parser(name)
            p.add_argument("number", help="e.g. SETP990000001")
            p.add_argument("--issuer", required=True)
        # `retry` sends now and waits for DIAN's answer, as `issue --wait` does.
        acq = sub.add_parser("acquirer", help="the name and e-mail DIAN has for a buyer (GetAcquirer; a query, not audited)")
        acq.add_argument("--issuer", required=True, help="NIT (or id) of the issuer whose software and certificate ask")
        acq.add_argument("--id-type", required=True, help="DIAN identification type: 13 cédula, 31 NIT, 22, 41...")
        acq.add_argument("--number", required=True, help="identification number (a NIT without check digit)")

    def handle(self, action, **opts):
        issuer = find_issuer(opts["issuer"])
        if action == "issue":
            try:
                payload = json.loads(Path(opts["file"]).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise CommandError(f"No se pudo leer el JSON: {exc}") from exc
            doc = actions.issue_document(issuer, self.actor, payload=payload, send=not opts["no_send"],
                                         wait=opts["wait"])
            self._print(doc, opts)
            return
        if action == "acquirer":
            found = services.acquirer_lookup(issuer, opts["id_type"], opts["number"])
            if opts.get("json"):
                self.stdout.write(json.dumps(found.as_dict(), ensure_ascii=False))
            else:
                self.stdout.write(f"{found.name}\n{found.email or '(sin correo registrado)'}")
            return
        if action == "list":
            docs = services.documents_filtered(issuer, opts)
            for doc in docs:
                self._print(doc, opts, exit_on_failure=False)
            return
        doc = services.find_document(issuer, opts["number"])
        if doc is None:
            raise NotFound("einvoice.document.not_found", f"No existe el documento {opts['number']}.", field="number")
        if action == "retry":
            doc = actions.retry_document(issuer, self.actor, document=doc, wait=True)
        self._print(doc, opts)

    def _print(self, doc, opts, exit_on_failure=True):
        if opts.get("json"):
            self.stdout.write(json.dumps({
                "id": doc.pk, "number": doc.full_number, "kind": doc.kind, "status": doc.status, "cufe": doc.cufe,
                "issue_date": doc.issue_date.isoformat(), "customer": doc.customer_name, "total": str(doc.total),
                "dian_status_code": doc.dian_status_code, "dian_message": doc.dian_message, "rules": doc.rules,
            }, ensure_ascii=False))
        else:
            self.stdout.write(f"{doc.full_number}: {doc.get_status_display()} {doc.dian_message}".strip())
            if doc.status == DianDocument.Status.SIGNED:
                self.stdout.write(f"  CUFE/CUDE {doc.cufe}")
            for rule in doc.rules:
                self.stdout.write(f"  {rule['severity']}: {rule['code']} {rule['message']}")
        if exit_on_failure and doc.status in ("rejected", "error"):
            sys.exit(1)
