"""Billing data import throughput, end to end, into PostgreSQL (issue 5 §9).

Usage:
    .venv/bin/python bench/import_rows.py [--rows 1000000] [--formats csv,xlsx] [--loader direct|staging]
                                          [--replace] [--telecom]
                                          [--database-url postgres://postgres@127.0.0.1:5432/facturador_bench]

What is timed, per file: the whole import as a worker runs it — scheduling (sha256 of the file,
copying it into the data dir), streaming read (tabular: C csv module / streamed xlsx), mapping and
per-row validation, loading (by default the direct loader: COPY per batch straight into billing
charges in one transaction, overlapped with reading), reconciliation queries and the commit.
`--loader staging` measures the SQLite path on PostgreSQL instead (COPY into the staging table,
then the INSERT ... SELECT swap). `--replace` adds a third run: the CSV again into its period, which
deletes and replaces its million charges. `--telecom` uses a twelve-column mobile operator's "Detalle de
consumo" instead (Línea, Cuenta, Centro de costo, Plan, Concepto, Minutos, Datos (MB), SMS, Valor sin IVA, IVA,
Valor total, Fecha corte) with the template the mapper proposes for it: phone-line, non-negative usage,
date-near-period and net + IVA = total checks on every row, and a typed line next to each charge.

Each import runs in a fresh child process; its peak RSS (ru_maxrss) is the "worker" memory. "cpu" is that
process's user + system time during the import (rows per CPU-second compare runs on a loaded machine), and
"PostgreSQL backend" the CPU of its database session's server process (read from /proc: same host only).
The CSV is imported for period 2026-09 and the xlsx for 2026-10, so the second one's reconciliation
compares against a real previous period. Generated files are cached in the data dir. The database
role is the bench URL's (superuser here): "foreign keys proven" in the output means the load skipped
its own per-line FK triggers (see facturador/imports/README.md); "checked" means it could not.

Measured (issue 14, `--telecom --rows 200000 --replace`, one run each, CPU seconds on the shared 2-core machine
while other sessions ran tests: CPU figures there vary by +-25 % from run to run; the goal is for 1M rows on a
quiet machine), before -> after the per-line index, reconciliation and parsing work of 2026-12-05:
    csv              Python 4.7 -> 4.9 s   PostgreSQL backend 5.0 -> 3.8 s   reconcile 0.91 -> 0.09 s (wall)
    xlsx             Python 8.2 -> 6.5 s   PostgreSQL backend 6.5 -> 5.0 s   reconcile 5.45 -> 4.53 s (wall, loaded)
    csv (replacing)  Python 5.5 -> 3.7 s   PostgreSQL backend 6.4 -> 3.9 s   commit 1.64 -> 0.76 s (wall)
    five-column csv  Python 2.1 -> 2.7 s   PostgreSQL backend 4.0 -> 3.8 s   (`--formats csv`, noise: same path)
Read + map + validate + COPY text alone (no database, min of 4 alternated runs): telecom csv 16.2 -> 15.4 us
CPU per row, five-column csv 7.6 -> 7.2 us; instructions (callgrind, 20k telecom csv rows, setup subtracted)
130.4k -> 117.2k per row (-10 %). Per loaded line PostgreSQL now maintains 3 charge indexes and 2
line indexes besides the heaps (each index about 1 us of backend CPU per row); the duplicate-key GROUP BY runs
only when two lines' key hashes are equal, the service-line comparison is one pass. Still far from the goal:
both the Python CPU (about 20 us per row for the telecom csv on this machine) and the backend's (about 19 us)
must fall to about 10 us each.

Later on 2026-12-05 (`--telecom --rows 1000000`, main then this branch back to back on the same database, machine
loaded by other sessions, load average 9-16: wall times are not comparable, CPU figures within about 10 %):
    csv   worker 17.2-17.8 -> 16.2-17.9 CPU-s   PostgreSQL backend 9.9-10.4 -> 10.3-10.6 CPU-s   peak RSS 258 -> 285 MB
    xlsx  worker 23.6 -> 23.5 CPU-s             PostgreSQL backend 15.7 -> 15.3 CPU-s            reconcile 9.4 -> 9.9 s
The service-line comparison joins a side without its GROUP BY when no service line is on two of its lines
(`unique_lines`): that query alone (EXPLAIN ANALYZE) 0.83-1.08 -> 0.40-0.46 s at 200k lines, but only 4.8 -> 4.4 s
at 1M (with statistics PostgreSQL groups the old way by sorting, and the 1M-row hash join is about as dear); the
peak RSS rises (most likely the second 8-byte hash per line and its set). The typed line's net and IVA are
formatted once for the line and its charge: callgrind -2.1k instructions per row (20k rows, no database), under
the noise here.
Where the backend's time goes (200k-line COPY into tables holding a period already, with and without each index):
about 6 us per row for each table, half of it indexes — charge (issuer, period, reference) 2.4 us, charge
(account, period) 1.4, line (issuer, reference) 1.7, line (import, row) 1.35; the rest is heap, WAL and parsing.
Goal still not met: one row per line (or fewer indexes) is the lever for the backend.

Later still on 2026-12-05, idle machine, 1M rows, an imported line made its charge (one COPY per batch instead of
two; migration imports 0007), main -> branch:
    five-column csv   79.1k -> 115.2k rows/s   worker 8.4 -> 8.1 CPU-s    PostgreSQL backend 9.9 -> 6.3 CPU-s
    five-column xlsx  55.8k -> 61.2k rows/s    worker 12.3 -> 12.5 CPU-s  PostgreSQL backend 14.1 -> 10.0 CPU-s
    telecom csv       61.9k -> 59.9k rows/s    worker 15.2 -> 15.8 CPU-s  PostgreSQL backend 11.3 -> 6.8 CPU-s
    telecom xlsx      32.9k -> 34.4k rows/s    worker 25.0 -> 24.4 CPU-s  PostgreSQL backend 16.1 -> 11.2 CPU-s
The telecom files are now bound by the worker's one core (read + map + validate + COPY text: 12.2 us of CPU per
CSV row without a database); reaching 100k rows/s would need that work on both cores as well as a third less
of it (22.6 CPU-s in all today for 1M rows, at most 88k rows/s on two cores even perfectly shared).

6 Dec 2026, idle machine (another host: main gave telecom CSV 67k, xlsx 38k rows/s), 1M rows, a clean row written
straight from its cells to its COPY line (imports/fastlines.py: ≈ 4 µs of CPU per telecom CSV row against ≈ 11),
then a big xlsx's metadata pass moved beside its rows (tabular.readers._Metadata: 2.5 s per million rows):
    telecom csv    67.0k -> 105-127k rows/s   worker 14.3 -> 6.8-7.7 CPU-s   PostgreSQL backend 6.5 -> 5.4-6.7 CPU-s
    telecom xlsx   38.4k -> 42-50k rows/s     worker 24.3 -> 17-20 CPU-s (2.5 of them on the other core)
                   (as this bench runs it: reconciled against the CSV's period, 117k of its million lines changed,
                   4.5-5 s of PostgreSQL after the load; 58-59k against a period without changes)
    five-column    csv 109-125k (general path: the default template has quantity, unit price and defaults),
                   xlsx 51-55k -> 63-75k rows/s (the metadata pass)
Still short: the telecom xlsx against a changed period. Its load is the worker's core (python-calamine-plus
≈ 6 µs a row, holding the GIL; the fast path ≈ 5.5 µs for spreadsheet cells, a float's repr being the dearest
part), its reconciliation PostgreSQL's (service-line FULL JOIN ≈ 2.7 s, accounts ≈ 1.2 s).

Later on 6 Dec 2026, idle machine (a slower host that morning: main gave telecom CSV 80-117k, xlsx 47-49k), 1M rows:
the direct loader keeps the references it wrote without an account (no query for the reconciliation's unknown
references: 0.25-0.5 s), then a big xlsx reads its declared dimension from the head of its sheet's XML and makes the
rich metadata pass only when merged ranges are asked for (2.5 CPU-s per million rows no longer beside the rows):
    telecom csv    116-117k -> 125-127k rows/s   reconcile 0.43-0.46 -> 0.37-0.42 s
    telecom xlsx   47-49k -> 53.5-55.9k rows/s   worker 18.2-18.7 -> 14.0-14.3 CPU-s, load 16.2-16.7 -> 13.9-14.3 s
                   (as this bench runs it, reconciled against the CSV's changed period; 62-63k against an unchanged one)
    five-column    csv 125k, xlsx 73k rows/s; peak RSS 260-286 MB
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/facturador_bench"
CONCEPTS = ["Consumo", "Cargo fijo", "Alumbrado", "Aseo"]


def generate_csv(path: Path, rows: int):
    rnd = random.Random(5)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("Referencia;Concepto;Cantidad;Valor unitario;Valor\r\n")
        buf = []
        for i in range(rows):
            qty = rnd.randint(1, 400)
            price = rnd.randint(100, 99999)
            buf.append(f"{i // 4:010d};{CONCEPTS[i % 4]};{qty};{price // 100},{price % 100:02d};"
                       f"{qty * price // 100},{qty * price % 100:02d}\r\n")
            if len(buf) >= 50_000:
                fh.write("".join(buf))
                buf = []
        fh.write("".join(buf))


def generate_xlsx(path: Path, rows: int):
    import xlsxwriter

    rnd = random.Random(6)
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("Detalle")
    ws.write_row(0, 0, ["Referencia", "Concepto", "Cantidad", "Valor unitario", "Valor"])
    for i in range(rows):
        qty = rnd.randint(1, 400)
        price = rnd.randint(100, 99999)
        r = i + 1
        ws.write_string(r, 0, f"{i // 4:010d}")
        ws.write_string(r, 1, CONCEPTS[i % 4])
        ws.write_number(r, 2, qty)
        ws.write_number(r, 3, price / 100)
        ws.write_number(r, 4, qty * price / 100)
    wb.close()


TELECOM_HEADER = ["Línea", "Cuenta", "Centro de costo", "Plan", "Concepto", "Minutos", "Datos (MB)", "SMS",
                  "Valor sin IVA", "IVA", "Valor total", "Fecha corte"]
CENTERS = ["Gerencia", "Ventas", "Operaciones", "Logística", "Sistemas"]


def _telecom_row(i: int, rnd: random.Random):
    net = rnd.randint(1000, 9_999_999)  # cents
    iva = net * 19 // 100
    return (f"3{i:09d}", f"{i // 4:010d}", CENTERS[i % 5], "Plan 20GB", CONCEPTS[i % 4], rnd.randint(0, 3000),
            rnd.randint(0, 40_000_000) / 1000, rnd.randint(0, 200), net, iva, net + iva)


def _cents(c: int) -> str:
    return f"{c // 100},{c % 100:02d}"


def generate_telecom_csv(path: Path, rows: int):
    rnd = random.Random(7)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(";".join(TELECOM_HEADER) + "\r\n")
        buf = []
        for i in range(rows):
            line, acc, cc, plan, concept, minutes, mb, sms, net, iva, total = _telecom_row(i, rnd)
            buf.append(f"{line};{acc};{cc};{plan};{concept};{minutes};{str(mb).replace('.', ',')};{sms};"
                       f"{_cents(net)};{_cents(iva)};{_cents(total)};30/09/2026\r\n")
            if len(buf) >= 50_000:
                fh.write("".join(buf))
                buf = []
        fh.write("".join(buf))


def generate_telecom_xlsx(path: Path, rows: int):
    import xlsxwriter

    rnd = random.Random(8)
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("Detalle")
    ws.write_row(0, 0, TELECOM_HEADER)
    for i in range(rows):
        line, acc, cc, plan, concept, minutes, mb, sms, net, iva, total = _telecom_row(i, rnd)
        r = i + 1
        for j, v in enumerate((line, acc, cc, plan, concept)):
            ws.write_string(r, j, v)
        for j, v in enumerate((minutes, mb, sms, net / 100, iva / 100, total / 100), start=5):
            ws.write_number(r, j, v)
        ws.write_string(r, 11, "30/09/2026")
    wb.close()


def django_setup(url: str, data_dir: str):
    os.environ["DATABASE_URL"] = url
    os.environ["FACTURADOR_DATA_DIR"] = data_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", os.environ.get("BENCH_SETTINGS", "facturador.settings"))
    import django

    django.setup()


def ensure_database(url: str):
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a process of this host (/proc), or None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            f = fh.read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def child(args):
    """Run one import in this (fresh) process and print a JSON line with the figures."""
    django_setup(args.database_url, args.data_dir)
    from django.db import transaction

    from facturador.core.actors import Actor
    from facturador.core.jobs import execute_job
    from facturador.core.models import Issuer
    from facturador.imports import actions
    from facturador.imports.models import ImportTemplate, Operator

    issuer = Issuer.objects.get(tax_id="900999001")
    operator = Operator.objects.get(issuer=issuer, code="BENCH")
    template = ImportTemplate.objects.filter(issuer=issuer, operator=operator, name=args.template).order_by(
        "-version").first()
    if args.loader == "staging":  # the SQLite path on PostgreSQL: COPY into staging, then the swap
        from facturador.imports import loading

        loading.loader_for = lambda imp, ctx: loading.StagingLoader(imp)
    from django.db import connection

    with connection.cursor() as cur:  # the PostgreSQL backend that runs the COPY (same host: its /proc entry)
        cur.execute("SELECT pg_backend_pid()")
        backend = cur.fetchone()[0]
    db0 = _process_cpu(backend)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    with open(args.file, "rb") as fh, transaction.atomic():
        imp = actions.schedule_import(issuer, Actor.cli(), operator=operator, template=template, period=args.period,
                                      upload=fh, force=True, enqueue=False)
    t1 = time.perf_counter()
    execute_job.call(imp.job_id)
    t2 = time.perf_counter()
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    db1 = _process_cpu(backend)
    imp.refresh_from_db()
    imp.job.refresh_from_db()
    print(json.dumps({
        "status": imp.job.status, "error": imp.job.error, "rows": imp.rows_valid, "invalid": imp.rows_invalid,
        "schedule_s": t1 - t0, "cpu_s": (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime),
        "db_cpu_s": db1 - db0 if db0 is not None and db1 is not None else None, "job_s": t2 - t1, "total_s": t2 - t0, "loader": imp.job.result.get("loader"), "foreign_keys": imp.job.result.get("foreign_keys"), "phases": imp.job.result.get("seconds"),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "changed": imp.reconciliation.get("previous_period", {}).get("changed_count"),
        "unknown": imp.reconciliation.get("unknown_references", {}).get("count"),
    }))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--formats", default="csv,xlsx")
    p.add_argument("--loader", choices=["direct", "staging"], default=None,
                   help="force a loader (default: direct on PostgreSQL)")
    p.add_argument("--replace", action="store_true",
                   help="then import the CSV again into its period (replacing its 1M charges)")
    p.add_argument("--telecom", action="store_true", help="a twelve-column telecom file (typed lines, rules)")
    p.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    p.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(), "facturador-bench"))
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--file", help=argparse.SUPPRESS)
    p.add_argument("--period", help=argparse.SUPPRESS)
    p.add_argument("--template", default="Bench", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args)

    os.makedirs(args.data_dir, exist_ok=True)
    ensure_database(args.database_url)
    django_setup(args.database_url, args.data_dir)
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from facturador.billing.models import Account, Charge
    from facturador.core.models import Issuer
    from facturador.imports import pipeline
    from facturador.imports.models import ImportTemplate, Operator

    issuer, _ = Issuer.objects.get_or_create(country="CO", tax_id="900999001",
                                             defaults={"check_digit": "0", "legal_name": "Bench S.A.S."})
    operator, _ = Operator.objects.get_or_create(issuer=issuer, code="BENCH", defaults={"name": "Operador bench"})
    if not ImportTemplate.objects.filter(issuer=issuer, operator=operator).exists():
        ImportTemplate.save_version(issuer=issuer, operator=operator, name="Bench",
                                    mapping=pipeline.normalize_mapping(pipeline.DEFAULT_MAPPING))
    Charge.objects.filter(issuer=issuer)._raw_delete(using="default")  # the imported lines with them
    with connection.cursor() as cur:  # so that autovacuum does not clean up after that delete during the runs
        cur.execute("VACUUM ANALYZE billing_charge")
    refs = args.rows // 4 + 1
    if Account.objects.filter(issuer=issuer).count() != int(refs * 0.9):
        Account.objects.filter(issuer=issuer)._raw_delete(using="default")
        with connection.cursor() as cur, cur.cursor.copy(
                "COPY billing_account (issuer_id, reference, holder_name, id_type, id_number, check_digit, address, "
                "municipality_code, service_class, stratum, email, phone, state, created_at, updated_at) FROM STDIN") as cp:
            for i in range(int(refs * 0.9)):
                cp.write_row((issuer.pk, f"{i:010d}", f"Titular {i}", "CC", str(10_000_000 + i), "", "", "", "residencial",
                              "3", "", "", "active", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"))
    connection.close()

    results = []
    runs = [("csv", "2026-09"), ("xlsx", "2026-10")] + ([("csv", "2026-09")] if args.replace else [])
    for n_run, (fmt, period) in enumerate(runs):
        if fmt not in args.formats.split(","):
            continue
        kind = "telecom-" if args.telecom else ""
        path = Path(args.data_dir) / f"bench-{kind}{args.rows}.{fmt}"
        if not path.exists():
            t = time.perf_counter()
            make = {("", "csv"): generate_csv, ("", "xlsx"): generate_xlsx, ("telecom-", "csv"): generate_telecom_csv,
                    ("telecom-", "xlsx"): generate_telecom_xlsx}[kind, fmt]
            make(path, args.rows)
            print(f"generated {path.name} ({path.stat().st_size / 2**20:.1f} MB) in {time.perf_counter() - t:.1f} s")
        template = "Bench"
        if args.telecom:
            template = f"Bench telecom {fmt}"
            if not ImportTemplate.objects.filter(issuer=issuer, operator=operator, name=template).exists():
                from facturador.tabular.suggest import read_sample

                mapping = pipeline.propose(read_sample(path, path.name)).template(name=template)
                ImportTemplate.save_version(issuer=issuer, operator=operator, name=template,
                                            mapping=pipeline.normalize_mapping(mapping))
            connection.close()
        cmd = [sys.executable, __file__, "--child", "--file", str(path), "--period", period, "--database-url",
               args.database_url, "--data-dir", args.data_dir, "--template", template] + (
                   ["--loader", args.loader] if args.loader else [])
        out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))})
        if out.returncode:
            print(out.stdout, out.stderr)
            raise SystemExit(f"{fmt} import crashed")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        r["format"] = fmt if n_run < 2 else "csv (replacing)"
        results.append(r)
        print(f"{r['format']:5s} {args.rows:>9,d} rows  {r['status']:<16s} total {r['total_s']:6.1f} s "
              f"(schedule {r['schedule_s']:.1f} s, job {r['job_s']:.1f} s)  "
              f"{args.rows / r['total_s']:>9,.0f} rows/s (wall)  cpu {r['cpu_s']:.1f} s = {args.rows / r['cpu_s']:,.0f} rows/s"
              + (f" + PostgreSQL backend {r['db_cpu_s']:.1f} s" if r.get("db_cpu_s") is not None else "") + f"  peak RSS {r['peak_mb']:.0f} MB  loader={r['loader']} (foreign keys {r['foreign_keys']})  "
              f"unknown refs={r['unknown']} changed={r['changed']}\n      phases (s): {r['phases']}" + (f"  ERROR {r['error']}" if r["error"] else ""))
    return results


if __name__ == "__main__":
    main()
