"""`facturador billing settings show|set`: the issuer's billing settings from the terminal."""

import argparse
import json

from django.core.management.base import CommandError

from facturador.billing import actions, services
from facturador.billing.models import BillingSettings
from facturador.core.cli import ActionCommand, find_issuer


class Command(ActionCommand):
    help = "Show or change an issuer's billing settings (GLNs, payment tolerance, days to pay, widths, interest...)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        st = sub.add_parser("settings", help="show: print the settings; set key=value ...: change them")
        ops = st.add_subparsers(dest="settings_action", required=True)
        show = ops.add_parser("show", help="Print the settings")
        change = ops.add_parser("set", help="Change settings: key=value ... (keys: " + ", ".join(services.SETTINGS_FIELDS) + ")")
        change.add_argument("assignments", nargs="+", metavar="key=value",
                            help="e.g. payment_tolerance=0.50 extra_glns=7709998000018,7709998000025 due_days=20")
        for p in (show, change):
            p.add_argument("--issuer", required=True, help="NIT (or RFC, or id) of the issuer")
            p.add_argument("--json", action="store_true", help="print the settings as one JSON object")
            # what ActionCommand adds to first-level sub-commands, for these second-level ones
            p.add_argument("--as", dest="as_user", metavar="USER", default=argparse.SUPPRESS,
                           help="usuario de la plataforma a nombre de quien se registra la acción en la auditoría")

    def write_refusal(self, refusal, *, as_json):
        super().write_refusal(refusal, as_json=as_json)
        errors = refusal.details.get("errors") or []
        if not as_json and len(errors) > 1:
            for e in errors[1:]:
                self.stderr.write(f"  {e['field']}: {e['message']} [{e['code']}]")

    def handle(self, *args, action, settings_action, issuer, **o):
        iss = find_issuer(issuer)
        if settings_action == "set":
            values = {}
            for item in o["assignments"]:
                key, sep, value = item.partition("=")
                if not sep or not key.strip():
                    raise CommandError(f"«{item}» no tiene la forma clave=valor.")
                values[key.strip()] = value
            conf = actions.save_settings(iss, self.actor, **values)
        else:
            conf = BillingSettings.for_issuer(iss)
        data = services.settings_dict(conf)
        if o.get("json"):
            self.stdout.write(json.dumps(data, ensure_ascii=False))
            return
        width = max(len(k) for k in data)
        for key, value in data.items():
            shown = ", ".join(value) if isinstance(value, list) else value
            self.stdout.write(f"{key.ljust(width)}  {shown}")
