"""Self-invoicing benchmark: ticket lookup + CFDI build/seal + stamping through the local PAC.

    python bench/portal.py [--users 20] [--tickets 400] [--database-url postgres://...]

Prints p50/p95 latency per invoice and CFDI per second with N concurrent users (threads calling the
same service functions the portal views call), then CFDI sealed per second on one core (no PAC).
Goal (issue 8): p95 under 500 ms. Needs ../shared (the SAT test CSD).
"""

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--processes", type=int, default=3,
                    help="web processes sharing the users (a real deployment runs several; threads share one GIL)")
    ap.add_argument("--tickets", type=int, default=400)
    ap.add_argument("--database-url", default="")
    ap.add_argument("--shared", default=os.environ.get("FACTURADOR_SHARED_DIR", str(ROOT.parent / "shared")))
    args = ap.parse_args()
    os.environ["FACTURADOR_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-portal-")
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "facturador.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    call_command("migrate", verbosity=0, interactive=False)
    from facturador.core import certificates
    from facturador.core.models import Branch, Issuer
    from facturador.portal import services
    from facturador.portal.models import Ticket

    shared = Path(args.shared)
    issuer, _ = Issuer.objects.get_or_create(country="MX", tax_id="EKU9003173C9", defaults=dict(
        legal_name="ESCUELA KEMPER URGATE", fiscal_regime="601", postal_code="42501"))
    certificates.store(issuer, kind="csd", password="12345678a", cer=(shared / "sat/csd/EKU9003173C9.cer").read_bytes(),
                       key=(shared / "sat/csd/EKU9003173C9.key").read_bytes())
    branch, _ = Branch.objects.get_or_create(issuer=issuer, code="B1", defaults={"name": "Bench", "postal_code": "42501"})
    # the PAC runs in its own process, as a real PAC runs on its own servers
    import socket
    import subprocess

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pac = subprocess.Popen([sys.executable, "-m", "facturador.cfdi.sandbox", "--port", str(port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    ps = services.portal_settings(issuer)
    ps.pac_url, ps.pac_user, ps.pac_password = f"http://127.0.0.1:{port}", "demo", "demo"
    ps.save()
    now = timezone.now()
    from decimal import Decimal

    Ticket.objects.bulk_create([Ticket(issuer=issuer, branch=branch, ticket_number=f"T{i}", order_number=f"O{i}", sold_at=now,
                                       subtotal=Decimal("100.00"), tax=Decimal("16.00"), total=Decimal("116.00"))
                                for i in range(args.tickets)])
    receptor = dict(rfc="XIQB891116QE4", name="KARLA FUENTE NOLASCO", postal_code="01160", regimen="612", uso_cfdi="G03")
    latencies, errors = [], []
    lock = threading.Lock()

    def one(i):
        t0 = time.perf_counter()
        try:
            ticket = services.find_ticket(issuer, branch, f"T{i}", f"O{i}", "116.00")
            services.invoice_tickets(issuer, [ticket], services.ReceptorData(**receptor), "01")
        except Exception as exc:  # noqa: BLE001 - a benchmark reports, it does not stop
            with lock:
                errors.append(repr(exc))
        with lock:
            latencies.append(time.perf_counter() - t0)

    def run_slice(indexes, threads):
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(one, indexes))
        connection.close()

    profiler = None
    if os.environ.get("BENCH_PROFILE"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0 = time.perf_counter()
    if profiler:  # profile serially, in this thread
        for i in range(args.tickets):
            one(i)
    elif args.processes <= 1:
        run_slice(range(args.tickets), args.users)
    else:
        import multiprocessing as mp

        connection.close()
        queue = mp.get_context("fork").Queue()

        def child(k):
            run_slice(range(k, args.tickets, args.processes), max(1, args.users // args.processes))
            queue.put((latencies, errors))

        procs = [mp.get_context("fork").Process(target=child, args=(k,)) for k in range(args.processes)]
        [p.start() for p in procs]
        for _ in procs:
            lat, err = queue.get()
            latencies.extend(lat)
            errors.extend(err)
        [p.join() for p in procs]
    wall = time.perf_counter() - t0
    if profiler:
        profiler.disable()
        import pstats

        pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_PROFILE_SORT", "tottime")).print_stats(
            int(os.environ.get("BENCH_PROFILE_N", "25")))
    pac.terminate()
    lat = sorted(latencies)
    p50 = statistics.median(lat) * 1000
    p95 = lat[int(len(lat) * 0.95) - 1] * 1000
    print(f"portal: {args.tickets} invoices, {args.users} concurrent users in {args.processes} process(es), "
          f"database {connection.vendor}")
    print(f"  latency p50 {p50:.0f} ms, p95 {p95:.0f} ms (goal p95 < 500 ms) -> {'OK' if p95 < 500 else 'MISSED'}")
    print(f"  throughput {args.tickets / wall:.1f} CFDI/s end to end; errors {len(errors)} {errors[:3]}")

    # sealing alone, one core
    from facturador.cfdi import build as b

    csd = services.csd_for(issuer)
    inv = b.Invoice(emisor=b.Emisor(rfc=csd.rfc, nombre=csd.legal_name, regimen_fiscal="601"),
                    receptor=b.Receptor(rfc="XIQB891116QE4", nombre="KARLA FUENTE NOLASCO", codigo_postal="01160",
                                        regimen_fiscal="612", uso_cfdi="G03"),
                    lugar_expedicion="42501", serie="B", folio="1",
                    conceptos=[b.Concepto(clave_prod_serv="01010101", cantidad=1, clave_unidad="ACT", descripcion="Venta",
                                          valor_unitario="100.00")])
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 3:
        b.build_invoice(inv, csd)
        n += 1
    print(f"  CFDI built + sealed + XSD-validated per second on one core: {n / (time.perf_counter() - t0):.0f}")


if __name__ == "__main__":
    main()
