"""The CLI channel: the base of every management command that performs user actions.

`ActionCommand` adds to the command and to each of its sub-commands:
- ``--as USER``: the platform user the action is recorded for in the audit log (default: the OS user);
- ``--json``: refusals (and, where the command supports it, results) as JSON.

It translates a `core.errors.Refusal` once: exit status 2 with the Spanish message (or
``{"code", "detail", "field", "details"}`` on stderr with ``--json``). Through `call_command` (tests, other
code) the refusal surfaces as `RefusedCommand`, a `CommandError` with ``returncode == 2`` and ``.refusal``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from facturador.core.actors import Actor
from facturador.core.errors import Invalid, NotFound, Refusal

EXIT_REFUSED = 2


class RefusedCommand(CommandError):
    def __init__(self, refusal: Refusal):
        super().__init__(refusal.message, returncode=EXIT_REFUSED)
        self.refusal = refusal


def find_issuer(value: str):
    """The issuer named on the command line: NIT (with or without check digit, dots), RFC, or id."""
    from facturador.core.models import Issuer

    raw = (value or "").strip().upper().replace(".", "")
    tax_id = raw.split("-")[0]
    qs = Issuer.objects.filter(tax_id__in={raw, tax_id})
    if raw.isdigit() and len(raw) < 9:
        qs = qs | Issuer.objects.filter(pk=int(raw))
    issuers = list(qs.distinct())
    if len(issuers) != 1:
        raise NotFound("core.issuer.not_found",
                       f"No se encontró el emisor «{value}» (use el NIT sin dígito de verificación o el RFC).",
                       field="issuer")
    return issuers[0]


class ActionCommand(BaseCommand):
    """Base for commands that call actions. Use `self.actor` and `find_issuer`; never catch refusals."""

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parsers = [parser] + [p for action in parser._actions if isinstance(action, argparse._SubParsersAction)
                              for p in action.choices.values()]
        for p in parsers:
            # SUPPRESS: a sub-command's default must not overwrite a value given before the sub-command
            p.add_argument("--as", dest="as_user", metavar="USER", default=argparse.SUPPRESS,
                           help="usuario de la plataforma a nombre de quien se registra la acción en la auditoría")
            if not any("--json" in a.option_strings for a in p._actions):
                p.add_argument("--json", dest="json", action="store_true", default=argparse.SUPPRESS,
                               help="errores (y resultados, donde aplica) en JSON")
        return parser

    def execute(self, *args, **options):
        self._options = options
        self._actor = None
        try:
            if options.get("as_user"):
                self.actor  # noqa: B018  (an unknown --as user is refused before anything runs)
            return super().execute(*args, **options)
        except Refusal as refusal:
            if not getattr(self, "_called_from_command_line", False):
                raise RefusedCommand(refusal) from refusal
            self.write_refusal(refusal, as_json=options.get("json", False))
            sys.exit(EXIT_REFUSED)

    def write_refusal(self, refusal: Refusal, *, as_json: bool):
        if as_json:
            self.stderr.write(json.dumps(refusal.as_dict(), ensure_ascii=False, default=str), style_func=lambda s: s)
        else:
            where = f" (campo: {refusal.field})" if refusal.field else ""
            self.stderr.write(f"Error: {refusal.message}{where} [{refusal.code}]")

    @property
    def actor(self) -> Actor:
        if self._actor is None:
            username = self._options.get("as_user")
            user = None
            if username:
                user = get_user_model().objects.filter(username=username).first()
                if user is None:
                    raise NotFound("core.user.not_found", f"No existe el usuario «{username}».", field="as")
            self._actor = Actor.cli(user)
        return self._actor


def secret_from_env(variable: str, *, option: str) -> str:
    """A secret the user passes by naming an environment variable (`--password-env NAME`), so it never
    appears in the process list or the shell history. This is input, like a file argument, not configuration."""
    value = os.environ.get(variable)
    if not value:
        raise Invalid("core.cli.secret_missing", f"La variable de entorno {variable} no está definida o está vacía.",
                      field=option)
    return value


SHOWN_ROWS = 20  # what a summary lists before it says how many more there are


def write_limited(out, lines, *, total: int, hint: str = "use --all para verlos todos"):
    """Write the summary's `lines` (the first ones of `total`) and, when some were left out, say how many and how to
    see them all ("  … 120 más; use --all para verlos todos")."""
    shown = 0
    for line in lines:
        out.write(line)
        shown += 1
    if total > shown:
        out.write(f"  … {total - shown} más; {hint}")
