"""`facturador certificate upload|list` — validate and store a signing certificate (encrypted)."""

from pathlib import Path

from django.core.management.base import CommandError

from facturador.core import actions
from facturador.core.cli import ActionCommand, find_issuer, secret_from_env
from facturador.core.models import Certificate


class Command(ActionCommand):
    help = "Upload a DIAN .p12 or a SAT CSD (.cer + .key). The password is read from an environment variable."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        up = sub.add_parser("upload")
        up.add_argument("--issuer", required=True)
        up.add_argument("--p12")
        up.add_argument("--cer")
        up.add_argument("--key")
        up.add_argument("--password-env", required=True, help="name of the environment variable holding the password")
        ls = sub.add_parser("list")
        ls.add_argument("--issuer", required=True)

    def handle(self, action, **o):
        issuer = find_issuer(o["issuer"])
        if action == "list":
            for c in Certificate.objects.filter(issuer=issuer):
                self.stdout.write(f"{c.kind}\t{c.serial_number}\t{c.not_after:%Y-%m-%d}\t{'activo' if c.active else 'reemplazado'}")
            return
        password = secret_from_env(o["password_env"], option="--password-env")
        if not o["p12"] and not (o["cer"] and o["key"]):
            raise CommandError("Indique --p12, o --cer y --key.")
        try:
            files = ({"kind": "p12", "p12": Path(o["p12"]).read_bytes()} if o["p12"] else
                     {"kind": "csd", "cer": Path(o["cer"]).read_bytes(), "key": Path(o["key"]).read_bytes()})
        except OSError as exc:
            reason = ("no existe" if isinstance(exc, FileNotFoundError) else
                      "es una carpeta" if isinstance(exc, IsADirectoryError) else
                      "no tiene permiso de lectura" if isinstance(exc, PermissionError) else "no se pudo leer")
            raise CommandError(f"El archivo {exc.filename or ''} {reason}.".replace("  ", " ")) from exc
        cert = actions.upload_certificate(issuer, self.actor, password=password, **files)
        self.stdout.write(f"Certificado guardado (cifrado): serie {cert.serial_number}, vence {cert.not_after:%Y-%m-%d}")
