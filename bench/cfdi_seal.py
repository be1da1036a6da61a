"""CFDI 4.0 sealing throughput on one core: build (satcfdi objects + totals) + seal (cadena original
via SAT XSLT + RSA-2048/SHA-256) + serialise + XSD validation, i.e. what build_invoice() does.

Usage:  .venv/bin/python bench/cfdi_seal.py [--n 500] [--lines 5] [--no-pin]

Needs SAT's test CSD (../shared/sat/csd or $FACTURADOR_SHARED_DIR). Also reports the pieces:
XSD validation alone, the libxslt cadena alone and RSA signing alone, plus stamping through the
local PAC sandbox over HTTP (Finkok SOAP adapter) and the PDF.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rate(label: str, n: int, fn) -> float:
    """Prints wall-clock and CPU-time rates; returns the CPU-time rate (per core, robust to other
    processes sharing the machine)."""
    fn(0)  # warm-up (XSD/XSLT compilation, Typst fonts)
    t, c = time.perf_counter(), time.process_time()
    for i in range(n):
        fn(i + 1)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    print(f"{label:<56} {n / wall:8.1f} /s wall  {n / cpu:8.1f} /s CPU  ({cpu / n * 1000:6.2f} ms CPU each)")
    return n / cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--lines", type=int, default=5, help="conceptos per invoice")
    ap.add_argument("--no-pin", action="store_true")
    a = ap.parse_args()
    if not a.no_pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    shared = Path(os.environ.get("FACTURADOR_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared")
    cer = (shared / "sat/csd/EKU9003173C9.cer").read_bytes()
    key = (shared / "sat/csd/EKU9003173C9.key").read_bytes()

    from facturador.cfdi import xml as cx
    from facturador.cfdi.build import Concepto, Emisor, Invoice, Receptor, build_invoice
    from facturador.cfdi.csd import load_csd
    from facturador.cfdi.pac import FinkokPac
    from facturador.cfdi.pdf import cfdi_pdf
    from facturador.cfdi.sandbox import PacSandbox

    csd = load_csd(cer, key, "12345678a")
    emisor = Emisor.from_csd(csd, "601")
    receptor = Receptor("URE180429TM6", "UNIVERSIDAD ROBOTICA ESPAÑOLA", "86991", "601", "G03")
    rates = ["16", "8", "0", "exento"]

    def invoice(i: int) -> Invoice:
        return Invoice(emisor=emisor, receptor=receptor, lugar_expedicion="42501", serie="B", folio=str(i),
                       conceptos=[Concepto("84111506", str(1 + j), "E48", f"Servicio {j} del folio {i}",
                                           f"{100 + j}.{i % 100:02d}", iva=rates[j % 4]) for j in range(a.lines)])

    print(f"CFDI 4.0, {a.lines} conceptos, one core ({'pinned' if not a.no_pin else 'not pinned'})")
    r = rate("build + seal + serialise + XSD (build_invoice)", a.n, lambda i: build_invoice(invoice(i), csd))
    sample = build_invoice(invoice(10**6), csd)
    rate("  XSD validation alone", a.n, lambda i: cx.validate_xsd(sample))
    rate("  cadena original (libxslt) alone", a.n, lambda i: cx.cadena_original(sample))
    rate("  RSA-2048 PKCS#1 v1.5 SHA-256 signature alone", a.n, lambda i: csd.sign_sha256(b"x" * 1500 + str(i).encode()))
    with PacSandbox() as sb:
        pac = FinkokPac("demo", "demo", sb.url, retries=0)
        docs = [build_invoice(invoice(2 * 10**6 + i), csd) for i in range(min(a.n, 200) + 1)]
        stamped = []
        rate("stamp through the local sandbox (HTTP, Finkok SOAP)", min(a.n, 200),
             lambda i: stamped.append(pac.stamp(docs[i])))
    rate("PDF of a stamped CFDI (Typst + segno QR)", min(a.n, 200), lambda i: cfdi_pdf(stamped[0].xml_bytes))
    print(f"\nRESULT: {r:.0f} CFDI sealed per second of CPU on one core (build + seal + serialise + XSD)")


if __name__ == "__main__":
    main()
