"""Command line: ``cfdi verify`` (the project CLI ``facturador cfdi verify ...`` delegates here, without Django).

    cfdi verify FILE.xml [--pac-cert CER ...] [--require-stamp] [--max-bytes N] [--json]
        Checks a CFDI 4.0 on its own: SAT's XSD (an Addenda is reported apart: it is outside the seal), the
        emisor's seal over SAT's cadena original, and the TimbreFiscalDigital's SelloSAT when the PAC
        certificate named by NoCertificadoSAT is given (--pac-cert: a .cer in DER or PEM, or a directory of
        them; repeatable). Exit 0 when the CFDI verifies, 1 when it does not (or its stamp could not be
        checked), 2 when the file cannot be read.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

from .verify import MAX_XML_BYTES, verify_cfdi


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cfdi", description="Comprobantes fiscales digitales (CFDI 4.0)")
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verify", help="verifica esquema, sello del emisor y timbre (SelloSAT) de un CFDI")
    v.add_argument("file")
    v.add_argument("--pac-cert", action="append", default=[], metavar="CER",
                   help="certificado del PAC/SAT que firma el timbre (.cer DER o PEM, o un directorio); repetible")
    v.add_argument("--require-stamp", action="store_true", help="falla si el CFDI no está timbrado")
    v.add_argument("--max-bytes", type=int, default=MAX_XML_BYTES,
                   help=f"tamaño máximo del XML en bytes (por defecto {MAX_XML_BYTES:,})")
    v.add_argument("--json", action="store_true", help="salida en JSON")
    return p


def _err(msg: str) -> None:
    print(msg, file=sys.stderr)


def _read(path: str, max_bytes: int) -> bytes:
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    return data


def _pac_certs(paths: list[str]) -> list[bytes]:
    out = []
    for p in map(pathlib.Path, paths):
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in (".cer", ".crt", ".pem")) if p.is_dir() else [p]
        out += [f.read_bytes() for f in files]
    return out


def _human(res, path: str) -> str:
    yes = {True: "correcto", False: "INVÁLIDO", None: "no verificado"}
    lines = [f"{path}: CFDI {res.version or '?'}" + (f", UUID {res.uuid}" if res.uuid else "")]
    lines.append(f"  Esquemas del SAT (XSD): {'cumple' if res.xsd_ok else 'NO CUMPLE'}")
    lines.append(f"  Sello del emisor: {yes[res.sello_ok]}")
    if res.stamped:
        lines.append(f"  Timbre (SelloSAT): {yes[res.sello_sat_ok]}" + (f" — {res.stamp_note}" if res.stamp_note else ""))
    else:
        lines.append("  Timbre: sin timbre fiscal digital")
    if res.addenda:
        lines.append(f"  Addenda ({', '.join(res.addenda)}): fuera del sello y del timbre; no se valida contra los "
                     "esquemas del SAT.")
    lines += [f"  Error: {e}" for e in res.errors]
    lines.append("Resultado: " + ("VÁLIDO" if res.ok else "NO VÁLIDO"))
    return "\n".join(lines)


def _verify(args) -> int:
    try:
        data = _read(args.file, args.max_bytes)
        certs = _pac_certs(args.pac_cert)
    except OSError as exc:
        _err(f"Error: no se puede leer {exc.filename}: {exc.strerror}")
        return 2
    if len(data) > args.max_bytes:
        _err(f"Error: {args.file}: el CFDI ocupa más de {args.max_bytes:,} bytes.")
        return 2
    try:
        res = verify_cfdi(data, certs, require_stamp=args.require_stamp, max_bytes=args.max_bytes)
    except ValueError as exc:  # an unreadable --pac-cert
        _err(f"Error: certificado del PAC ilegible: {exc}")
        return 2
    print(json.dumps(res.to_json(), ensure_ascii=False, indent=2) if args.json else _human(res, args.file))
    return 0 if res.ok else 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return _verify(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
