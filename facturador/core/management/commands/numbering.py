"""`facturador numbering add|list` — numbering resolutions."""

import datetime as dt

from django.core.management.base import CommandError

from facturador.core import actions, numbering
from facturador.core.cli import ActionCommand, find_issuer, secret_from_env
from facturador.core.models import NumberingRange


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"Fecha inválida «{value}»: use AAAA-MM-DD.") from exc


class Command(ActionCommand):
    help = "Add or list numbering ranges (prefix, range, dates, resolution, technical key)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add")
        add.add_argument("--issuer", required=True)
        add.add_argument("--type", default="invoice", dest="document_type")
        add.add_argument("--environment", default="test", choices=["test", "production"])
        add.add_argument("--prefix", default="")
        add.add_argument("--from", type=int, required=True, dest="range_from")
        add.add_argument("--to", type=int, required=True, dest="range_to")
        add.add_argument("--valid-from", required=True)
        add.add_argument("--valid-to", required=True)
        add.add_argument("--resolution", default="")
        add.add_argument("--technical-key-env", help="environment variable holding the technical key")
        ls = sub.add_parser("list")
        ls.add_argument("--issuer", required=True)

    def handle(self, action, **o):
        issuer = find_issuer(o["issuer"])
        if action == "list":
            for r in NumberingRange.objects.filter(issuer=issuer):
                warn = " | ".join(numbering.warnings(r))
                self.stdout.write(f"{r.document_type}\t{r.environment}\t{r.prefix}\t{r.range_from}-{r.range_to}\t"
                                  f"siguiente {r.next_number}\t{r.valid_from}..{r.valid_to}\t{warn}")
            return
        key = secret_from_env(o["technical_key_env"], option="--technical-key-env") if o.get("technical_key_env") else ""
        rng = actions.save_numbering_range(issuer, self.actor, technical_key=key, data={
            "document_type": o["document_type"], "environment": o["environment"], "prefix": o["prefix"],
            "range_from": o["range_from"], "range_to": o["range_to"], "valid_from": _date(o["valid_from"]),
            "valid_to": _date(o["valid_to"]), "resolution_number": o["resolution"], "active": True,
        })
        self.stdout.write(f"Numeración {rng} guardada")
