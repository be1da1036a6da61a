"""Mass-invoicing batch through the real job pipeline (issue 6 §10).

Usage:  .venv/bin/python bench/batch_pdf.py [--count 100000] [--workers 2] [--weasy-n 40]
        [--database-url postgres://...] [--keep]

What it does, in a fresh data directory:
  1. migrates a database (SQLite in the data dir unless --database-url is given) and creates
     one issuer, a numbering range and COUNT accounts with two charges each for 2026-10;
  2. starts WORKERS real `facturador worker` processes;
  3. creates the batch with `facturador.billing.actions.create_batch` (the same call as the UI, API and
     CLI) and waits for its job: numbering + IssuedDocument rows, one PDF per invoice (Typst,
     default template with the GS1-128 barcode), the streamed merged print PDF and the zip;
  4. prints invoices/s (end to end, and per phase), the peak RSS of each worker (VmHWM, i.e. the
     real high-water mark) and of this process, the merged PDF's page count and size;
  5. runs the plain-WeasyPrint phase of bench/batch_pdf_engine.py (the equivalent HTML page,
     one process) and prints the ratio; skipped if WeasyPrint is not installed.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def vm_hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def rss_tree_mb(pid: int) -> float:
    total = 0.0
    pids = [pid]
    try:
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def setup_data(count: int):
    from decimal import Decimal

    from django.db import transaction

    from facturador.billing.models import Account, Charge
    from facturador.core.models import Issuer, NumberingRange
    from facturador.taxid import nit_check_digit

    issuer = Issuer.objects.create(country="CO", tax_id="900123456", check_digit=nit_check_digit("900123456"),
                                   legal_name="Municipio de Villa Esperanza", address="Carrera 5 # 10-20",
                                   city="Villa Esperanza", department="Cundinamarca", municipality_code="25001",
                                   email="tesoreria@example.gov.co", phone="(601) 555 0123")
    import datetime as dt

    NumberingRange.objects.create(issuer=issuer, document_type="invoice", environment="production", prefix="AP",
                                  range_from=1, range_to=10_000_000, next_number=1, valid_from=dt.date(2020, 1, 1),
                                  valid_to=dt.date(2035, 12, 31), resolution_number="18764000001234")
    step = 5000
    for start in range(1, count + 1, step):
        stop = min(count + 1, start + step)
        with transaction.atomic():
            Account.objects.bulk_create([
                Account(issuer=issuer, reference=f"{i:08d}", holder_name=f"Suscriptor de prueba número {i}",
                        id_type="CC", id_number=str(10_000_000 + i), address=f"Calle {i % 200} # {i % 97}-{i % 50}",
                        municipality_code="25001", stratum=str(1 + i % 6), email=f"s{i}@example.com")
                for i in range(start, stop)])
            ids = dict(Account.objects.filter(issuer=issuer, reference__gte=f"{start:08d}",
                                              reference__lt=f"{stop:08d}").values_list("reference", "pk"))
            charges = []
            for ref, pk in ids.items():
                i = int(ref)
                energy = Decimal(30000 + (i * 37) % 90000)
                charges.append(Charge(issuer=issuer, account_id=pk, reference=ref, period="2026-10",
                                      concept="Impuesto de alumbrado público", quantity=Decimal(1), unit_price=energy,
                                      amount=energy, source="import", source_operator="Operador de energía"))
                charges.append(Charge(issuer=issuer, account_id=pk, reference=ref, period="2026-10",
                                      concept="Sobretasa ambiental", quantity=Decimal(1), unit_price=Decimal("2500"),
                                      amount=Decimal("2500"), source="tariff"))
            Charge.objects.bulk_create(charges, batch_size=5000)
    return issuer


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=100_000, help="invoices in the batch (default 100000)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--weasy-n", type=int, default=40, help="invoices for the WeasyPrint comparison (0: skip)")
    ap.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""),
                    help="default: a new SQLite file in the bench data dir")
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    ap.add_argument("--rayon-threads", type=int, default=1, help="RAYON_NUM_THREADS for the workers (default 1)")
    args = ap.parse_args(argv)

    data_dir = Path(tempfile.mkdtemp(prefix="facturador-bench-batch-"))
    env = dict(os.environ)
    env["FACTURADOR_DATA_DIR"] = str(data_dir)
    env.setdefault("DJANGO_SETTINGS_MODULE", "facturador.settings")
    env.setdefault("RAYON_NUM_THREADS", str(args.rayon_threads))  # Typst's thread pool: one per worker process
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    else:
        env.pop("DATABASE_URL", None)
    os.environ.update({k: env[k] for k in ("FACTURADOR_DATA_DIR", "DJANGO_SETTINGS_MODULE")})
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    print(f"data dir {data_dir}; database {'PostgreSQL' if args.database_url else 'SQLite'}; "
          f"{args.count} invoices; {args.workers} workers; CPUs {os.cpu_count()}; "
          f"load average {os.getloadavg()[0]:.2f} (other processes compete for the CPUs if > 0.5)")

    t = time.perf_counter()
    if args.database_url:  # start from an empty schema
        subprocess.run([sys.executable, "-m", "facturador", "flush", "--no-input"], env=env, check=False,
                       capture_output=True)
    subprocess.run([sys.executable, "-m", "facturador", "migrate", "-v", "0"], env=env, check=True)
    import django

    django.setup()
    from facturador.billing import actions, invoice_templates
    from facturador.core.actors import Actor
    from facturador.billing.models import Batch
    from facturador.core.models import Job

    issuer = setup_data(args.count)
    tpl = invoice_templates.ensure_default(issuer)
    print(f"setup (migrate + {args.count} accounts, {2 * args.count} charges): {time.perf_counter() - t:.1f} s")

    import datetime as dt

    workers = []
    for i in range(args.workers):
        log = open(data_dir / f"worker{i + 1}.log", "wb")
        workers.append((subprocess.Popen(
            [sys.executable, "-m", "facturador", "worker", "--no-startup-delay", "--interval", "0.1",
             "--worker-id", f"bench{i + 1}"], env=env, stdout=log, stderr=subprocess.STDOUT), log))
    # wait until every worker is ready (a ping job per worker, each taking a second)
    from facturador.core import jobs as corejobs
    from django.db import transaction

    with transaction.atomic():
        pings = [corejobs.create_job(issuer, "core.ping", params={"steps": 1, "seconds": 1})
                 for _ in workers]
    while Job.objects.filter(pk__in=[p.pk for p in pings]).exclude(status__in=Job.FINAL).exists():
        time.sleep(0.1)

    try:
        t0 = time.perf_counter()
        batch = actions.create_batch(issuer, Actor.cli(), periods=["2026-10"], issue_date=dt.date(2026, 11, 3),
                                     due_date=dt.date(2026, 11, 20), template=tpl)
        t_created = time.perf_counter()
        job_id = batch.job_id
        phases = {}
        peak_tree = {w.pid: 0.0 for w, _ in workers}
        last_line = ""
        while True:
            job = Job.objects.get(pk=job_id)
            now = time.perf_counter() - t0
            key = ("numbering" if job.message.startswith(("Numerando", "Calculando")) else
                   "rendering" if job.message.startswith("Generando") else
                   "merge+zip" if job.message.startswith("Uniendo") else None)
            if key and key not in phases:
                phases[key] = now
            for w, _ in workers:
                peak_tree[w.pid] = max(peak_tree[w.pid], rss_tree_mb(w.pid))
            line = f"\r  {now:7.1f} s  {job.done}/{job.total}  {job.get_status_display()}  {job.message[:50]}"
            if line != last_line:
                sys.stdout.write(line.ljust(100))
                sys.stdout.flush()
                last_line = line
            if job.status in Job.FINAL:
                break
            time.sleep(0.25)
        elapsed = time.perf_counter() - t0
        print()
        hwm = {w.pid: vm_hwm_mb(w.pid) for w, _ in workers}
        batch = Batch.objects.get(pk=batch.pk)
        if job.status not in (Job.Status.FINISHED, Job.Status.FINISHED_WITH_ERRORS):
            print(f"batch job ended with {job.status}: {job.error}")
            return 1
        from django.conf import settings

        merged = Path(settings.MEDIA_ROOT) / batch.merged_pdf
        zipped = Path(settings.MEDIA_ROOT) / batch.zip_file
        helper = Job.objects.filter(kind="billing.batch_render").first()
        rate = batch.invoice_count / elapsed
        print(f"\n== Batch of {batch.invoice_count} invoices, {args.workers} workers")
        print(f"  batch.create (validation + plan, in the caller): {t_created - t0:.2f} s")
        marks = sorted(phases.items(), key=lambda kv: kv[1]) + [("end", elapsed)]
        for (name, start), (_, stop) in zip(marks, marks[1:]):
            print(f"  phase {name:10s}: {stop - start:7.2f} s")
        print(f"  end to end: {elapsed:.2f} s  ->  {rate:.1f} invoices/s (incl. numbering, PDFs, merged PDF, zip)")
        if "rendering" in phases:
            r_end = phases.get("merge+zip", elapsed)
            print(f"  rendering phase alone: {batch.invoice_count / (r_end - phases['rendering']):.1f} invoices/s")
        if helper:
            print(f"  helper job rendered {helper.result.get('rendered', 0)} of the PDFs")
        print(f"  merged print PDF: {merged.stat().st_size / 2**20:.1f} MB; zip {zipped.stat().st_size / 2**20:.1f} MB; "
              f"total {batch.total_amount:,.0f} COP")
        for i, (w, _) in enumerate(workers, start=1):
            print(f"  worker {i} peak RSS (VmHWM): {hwm[w.pid]:.0f} MB  (max sampled RSS {peak_tree[w.pid]:.0f} MB)")
        print(f"  load average at the end: {os.getloadavg()[0]:.2f}")
        print(f"  this process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")

        if args.weasy_n:
            import logging

            import bench.batch_pdf_engine as engine

            for name in ("weasyprint", "weasyprint.progress", "fontTools"):
                logging.getLogger(name).setLevel(logging.WARNING)

            res = engine.run(engine.phase_weasyprint, argparse.Namespace(weasy_n=args.weasy_n, pin=False))
            print(f"\n== Plain WeasyPrint, equivalent page, one process ({args.weasy_n} invoices, "
                  "from bench/batch_pdf_engine.py)")
            if "invoices/s" in res:
                w = res["invoices/s"]
                print(f"  {w:.2f} invoices/s (WeasyPrint {res.get('version')}, peak RSS {res.get('peak RSS MB', 0):.0f} MB)")
                print(f"  ratio batch pipeline ({args.workers} workers) / WeasyPrint (1 process): {rate / w:.1f}x")
                print(f"  ratio per process: {rate / args.workers / w:.1f}x")
            else:
                print(f"  {res.get('skipped', res)}")
    finally:
        for w, log in workers:
            w.terminate()
            try:
                w.wait(timeout=15)
            except subprocess.TimeoutExpired:
                w.kill()
            log.close()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
