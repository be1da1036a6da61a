"""`facturador einvoice issue|status|retry`: DIAN documents of an issuer from the command line."""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from facturador.core.models import Issuer
from facturador.einvoice import services
from facturador.einvoice.models import DianDocument


class Command(BaseCommand):
    help = "Issue a DIAN invoice or note from JSON (docs/dian-json.md), follow it, retry sending."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        issue = sub.add_parser("issue", help="number, sign and send a document")
        issue.add_argument("file", help="JSON document (supplier, numbering and software come from the platform)")
        issue.add_argument("--issuer", required=True, help="NIT of the issuer (without DV)")
        issue.add_argument("--no-send", action="store_true")
        issue.add_argument("--wait", action="store_true", help="send now, in this process, and wait for DIAN's answer")
        for name in ("status", "retry"):
            p = sub.add_parser(name)
            p.add_argument("number", help="e.g. SETP990000001")
            p.add_argument("--issuer", required=True)

    def handle(self, action, **opts):
        issuer = Issuer.objects.filter(country="CO", tax_id=opts["issuer"].split("-")[0]).first()
        if issuer is None:
            raise CommandError(f"No existe un emisor de Colombia con NIT {opts['issuer']}.")
        if action == "issue":
            try:
                payload = json.loads(Path(opts["file"]).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise CommandError(f"No se pudo leer el JSON: {exc}") from exc
            try:
                with transaction.atomic():
                    doc = services.issue(issuer, payload, send=not (opts["no_send"] or opts["wait"]))
            except services.EinvoiceError as exc:
                raise CommandError(exc.display) from exc
            self.stdout.write(f"{doc.full_number} firmado. CUFE/CUDE {doc.cufe}")
            if opts["wait"]:
                from facturador.einvoice.delivery import send_and_follow

                send_and_follow(doc)
            self._print(doc)
            return
        doc = self._find(issuer, opts["number"])
        if action == "retry":
            from facturador.einvoice.delivery import send_and_follow

            send_and_follow(doc)
        self._print(doc)

    def _find(self, issuer, number):
        prefix = number.rstrip("0123456789")
        digits = number[len(prefix):]
        doc = DianDocument.objects.filter(issuer=issuer, prefix=prefix, number=int(digits or 0)).first()
        if doc is None:
            raise CommandError(f"No existe el documento {number}.")
        return doc

    def _print(self, doc):
        self.stdout.write(f"{doc.full_number}: {doc.get_status_display()} {doc.dian_message}".strip())
        for rule in doc.rules:
            self.stdout.write(f"  {rule['severity']}: {rule['code']} {rule['message']}")
        if doc.status in ("rejected", "error"):
            sys.exit(1)
