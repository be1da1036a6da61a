"""Command line: ``dian verify`` and ``dian build`` (the project CLI ``facturador dian ...`` delegates here).

    dian verify FILE.xml [--technical-key K] [--pin P --software-id S] [--schema-dir DIR] [--max-bytes N]
        Prints the JSON report (checks, warnings such as FAD09e, and for an AttachedDocument the
        reports of the documents it carries); exit 0 only when every check that could run passed (1 otherwise);
        exit 2 when the file cannot be read or is larger than --max-bytes (default 20 MB; at most
        N + 1 bytes are read).
    dian build INPUT.json --cert FILE.p12 --password-env VAR [--out FILE.xml] [--schema-dir DIR]
        Builds, pre-validates and signs; errors go to stderr in Spanish naming the field and rule; exit 1.

The library reads no environment itself: the caller passes `environ` (the `facturador` entry point passes the
process environment), from which FACTURADOR_DIAN_SCHEMA_DIR is the default of --schema-dir (no XSD check if
unset) and --password-env names the variable holding the certificate's password.
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from typing import Mapping

from . import _read, jsonio, validate, verify, xades, xsd
from .errors import DianError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dian", description="Documentos electrónicos DIAN (UBL 2.1)")
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verify", help="verifica CUFE/CUDE, firma, XSD y totales de un XML")
    v.add_argument("file")
    v.add_argument("--technical-key", help="clave técnica del rango de numeración (facturas)")
    v.add_argument("--pin", help="PIN del software (CUDE y huella del software)")
    v.add_argument("--software-id", help="identificador del software")
    v.add_argument("--schema-dir", help="directorio con los XSD de la DIAN (common/, maindoc/)")
    v.add_argument("--max-bytes", type=int, default=_read.MAX_XML_BYTES,
                   help=f"tamaño máximo del XML en bytes (por defecto {_read.MAX_XML_BYTES:,})")
    b = sub.add_parser("build", help="construye, pre-valida y firma un documento desde JSON")
    b.add_argument("input")
    b.add_argument("--cert", required=True, help="certificado PKCS#12 (.p12/.pfx)")
    b.add_argument("--password-env", required=True, help="variable de entorno con la contraseña del certificado")
    b.add_argument("--out", help="archivo XML de salida (por defecto, la salida estándar)")
    b.add_argument("--schema-dir")
    b.add_argument("--role", default="supplier", choices=list(xades.ROLES))
    b.add_argument("--digest", default="sha256", choices=["sha256", "sha512"])
    return p


def _err(msg: str) -> None:
    print(msg, file=sys.stderr)


def _verify(args) -> int:
    try:
        data = _read.read_xml(args.file, args.max_bytes)  # at most max_bytes + 1 bytes read
    except OSError as exc:
        _err(f"Error: no se puede leer {args.file}: {exc.strerror}")
        return 2
    except _read.XmlInputError as exc:
        _err(f"Error: {args.file}: {exc.message}")
        return 2
    report = verify.verify_document(data, technical_key=args.technical_key, pin=args.pin,
                                    software_id=args.software_id,
                                    schema_dir=args.schema_dir,
                                    max_bytes=args.max_bytes)
    print(report.dumps())
    return 0 if report.ok else 1


def _build(args) -> int:
    try:
        with open(args.input, encoding="utf-8") as fh:
            data = json.load(fh, parse_float=Decimal)
    except OSError as exc:
        _err(f"Error: no se puede leer {args.input}: {exc.strerror}")
        return 1
    except json.JSONDecodeError as exc:
        _err(f"Error: {args.input} no es JSON válido (línea {exc.lineno}, columna {exc.colno}): {exc.msg}")
        return 1
    try:
        doc = jsonio.document_from_json(data)
    except DianError as exc:
        for e in getattr(exc, "errors", [exc]):
            _err(f"Error en {e.field} (regla {e.code}): {e.message}")
        return 1
    schema_dir = args.schema_dir
    findings = validate.prevalidate(doc, schema_dir=schema_dir)
    failed = False
    for f in findings:
        if f.severity == validate.REJECTION:
            failed = True
            _err(f"Rechazo {f.code} en {f.field}: {f.message_es}")
        else:
            _err(f"Notificación {f.code} en {f.field}: {f.message_es}")
    if failed:
        return 1
    password = args.environ.get(args.password_env)
    if password is None:
        _err(f"Error: la variable de entorno {args.password_env} con la contraseña del certificado no existe.")
        return 1
    try:
        with open(args.cert, "rb") as fh:
            signer = xades.load_pkcs12(fh.read(), password)
        signed = xades.sign_document(doc, signer, role=args.role, digest=args.digest)
    except OSError as exc:
        _err(f"Error: no se puede leer el certificado {args.cert}: {exc.strerror}")
        return 1
    except DianError as exc:
        _err(f"Error en {exc.field} ({exc.code}): {exc.message}")
        return 1
    if schema_dir:
        errors = xsd.validate_xsd(signed, schema_dir)
        if errors:
            for e in errors[:10]:
                _err(f"Rechazo ZB01: {e}")
            return 1
    if args.out:
        with open(args.out, "wb") as fh:
            fh.write(signed)
    else:
        sys.stdout.buffer.write(signed)
        sys.stdout.flush()
    return 0


def main(argv: list[str] | None = None, *, environ: Mapping[str, str] | None = None) -> int:
    environ = environ or {}
    args = _parser().parse_args(argv)
    args.environ = environ
    args.schema_dir = args.schema_dir or environ.get("FACTURADOR_DIAN_SCHEMA_DIR") or None
    if args.command == "verify":
        return _verify(args)
    return _build(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
