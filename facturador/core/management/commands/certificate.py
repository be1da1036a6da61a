"""`facturador certificate upload` — validate and store a signing certificate (encrypted)."""

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from facturador.core import certificates
from facturador.core.management.commands.issuer import find_issuer
from facturador.core.models import Certificate


class Command(BaseCommand):
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
        password = os.environ.get(o["password_env"])
        if password is None:
            raise CommandError(f"La variable de entorno {o['password_env']} no está definida.")
        try:
            if o["p12"]:
                cert = certificates.store(issuer, kind="p12", password=password, p12=Path(o["p12"]).read_bytes())
            elif o["cer"] and o["key"]:
                cert = certificates.store(issuer, kind="csd", password=password, cer=Path(o["cer"]).read_bytes(),
                                          key=Path(o["key"]).read_bytes())
            else:
                raise CommandError("Indique --p12, o --cer y --key.")
        except OSError as exc:
            raise CommandError(f"No se pudo leer el archivo: {exc}") from exc
        except certificates.CertificateError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Certificado guardado (cifrado): serie {cert.serial_number}, vence {cert.not_after:%Y-%m-%d}")
