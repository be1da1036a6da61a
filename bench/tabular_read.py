"""Read + map throughput of facturador.tabular on a 1,000,000-row CSV and XLSX.

Usage:  .venv/bin/python bench/tabular_read.py [--rows 1000000] [--keep DIR] [--no-pin]

Generates (outside the timing) a billing-like file with 10 columns: account code with leading
zeros, name, id number, period YYYY-MM, issue date, consumption (integer), unit price, amount,
tax, note. CSV: semicolon-delimited, Colombian number format ("1.234,56"), UTF-8.
XLSX: written by xlsxwriter in constant_memory mode, numbers as numbers, dates as dates.

Each phase runs in its own forked process so peak RSS (resource.getrusage ru_maxrss) is per
phase. Phases:
  csv-read        open_rows() iteration only
  csv-read+map    open_rows() + map_rows() with 10 typed fields (text/integer/decimal/date/period)
  xlsx-read       open_rows() iteration only (streamed, python-calamine-plus)
  xlsx-read+map   same mapping
By default the process is pinned to one CPU (single-core figures).
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facturador.tabular.mapping import FieldMapping, Template, map_rows  # noqa: E402
from facturador.tabular.readers import open_rows  # noqa: E402

HEADER = ["Cuenta", "Nombre", "Documento", "Periodo", "Fecha emisión", "Consumo kWh", "Valor unitario",
          "Valor", "IVA", "Nota"]


def template() -> Template:
    return Template(fields=[
        FieldMapping("account", header="cuenta", required=True),
        FieldMapping("name", header="nombre", required=True),
        FieldMapping("tax_id", header="documento"),
        FieldMapping("period", header="periodo", parser="period", required=True),
        FieldMapping("issue_date", header="fecha emision", parser="date", required=True),
        FieldMapping("consumption", header="consumo kwh", parser="integer"),
        FieldMapping("unit_price", header="valor unitario", parser="decimal"),
        FieldMapping("amount", header="valor", parser="decimal", required=True, decimal_places=2),
        FieldMapping("tax", header="iva", parser="decimal"),
        FieldMapping("note", header="nota"),
    ])


def _co(x: float) -> str:
    s = f"{x:,.2f}"
    return s.replace(",", "_").replace(".", ",").replace("_", ".")


def _figures(i: int) -> tuple[int, float, float]:
    """Consumption repeats (900 values), unit price is a tariff (7 values), amounts are nearly
    all distinct (like real bills: the parsers' memo must not make the bench look better)."""
    kwh = 50 + i % 900
    price = 812.35 + (i % 7)
    amount = round(kwh * price + (i % 100_003) / 100, 2)
    return kwh, price, amount


def gen_csv(path: Path, n: int) -> None:
    base = dt.date(2026, 1, 1)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(";".join(HEADER) + "\r\n")
        for i in range(n):
            kwh, price, amount = _figures(i)
            d = base + dt.timedelta(days=i % 28)
            f.write(f"{i:010d};Cliente Número {i};{10_000_000 + i};2026-{i % 12 + 1:02d};"
                    f"{d.day:02d}/{d.month:02d}/{d.year};{kwh};{_co(price)};{_co(amount)};"
                    f"{_co(amount * 0.19)};{'exento' if i % 10 == 0 else ''}\r\n")


def gen_xlsx(path: Path, n: int) -> None:
    import xlsxwriter
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("Facturación")
    dfmt = wb.add_format({"num_format": "dd/mm/yyyy"})
    ws.write_row(0, 0, HEADER)
    base = dt.date(2026, 1, 1)
    for i in range(n):
        r = i + 1
        kwh, price, amount = _figures(i)
        ws.write_string(r, 0, f"{i:010d}")
        ws.write_string(r, 1, f"Cliente Número {i}")
        ws.write_number(r, 2, 10_000_000 + i)
        ws.write_string(r, 3, f"2026-{i % 12 + 1:02d}")
        ws.write_datetime(r, 4, base + dt.timedelta(days=i % 28), dfmt)
        ws.write_number(r, 5, kwh)
        ws.write_number(r, 6, price)
        ws.write_number(r, 7, amount)
        ws.write_number(r, 8, round(amount * 0.19, 2))
        if i % 10 == 0:
            ws.write_string(r, 9, "exento")
    wb.close()


def _phase(kind: str, path: str, do_map: bool, q: "mp.Queue") -> None:
    t0 = time.perf_counter()
    c0 = time.process_time()
    src = open_rows(path)
    t_open = time.perf_counter() - t0
    n = errors = 0
    if do_map:
        m = map_rows(src, template())
        for row in m:
            n += 1
            if row.errors:
                errors += 1
    else:
        for _ in src:
            n += 1
    src.close()
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - c0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    q.put((kind, n, errors, elapsed, cpu, t_open, rss_mb))


def run_phase(kind: str, path: Path, do_map: bool) -> tuple:
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_phase, args=(kind, str(path), do_map, q))
    p.start()
    res = q.get()
    p.join()
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--keep", help="directory for the generated files (kept)")
    ap.add_argument("--no-pin", action="store_true")
    args = ap.parse_args()
    if not args.no_pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="tabular-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    csv_path, xlsx_path = tmp / "bench.csv", tmp / "bench.xlsx"
    for path, gen in ((csv_path, gen_csv), (xlsx_path, gen_xlsx)):
        if not path.exists():
            t = time.perf_counter()
            gen(path, args.rows)
            print(f"generated {path.name}: {path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - t:.1f} s",
                  flush=True)
    print(f"python {sys.version.split()[0]}, rows={args.rows:,}, pinned={not args.no_pin}")
    print(f"load average before: {os.getloadavg()[0]:.1f} (wall figures suffer on a shared machine; "
          "rows/CPU-s is steadier)")
    print(f"{'phase':<16}{'rows':>10}{'err rows':>9}{'wall s':>8}{'CPU s':>8}{'open s':>8}{'rows/s':>10}"
          f"{'rows/CPU-s':>12}{'peak RSS MB':>13}")
    for kind, path, do_map in (("csv-read", csv_path, False), ("csv-read+map", csv_path, True),
                               ("xlsx-read", xlsx_path, False), ("xlsx-read+map", xlsx_path, True)):
        k, n, errors, elapsed, cpu, t_open, rss = run_phase(kind, path, do_map)
        print(f"{k:<16}{n:>10,}{errors:>9,}{elapsed:>8.2f}{cpu:>8.2f}{t_open:>8.2f}{n / elapsed:>10,.0f}"
              f"{n / cpu:>12,.0f}{rss:>13.0f}", flush=True)
    if not args.keep:
        for p in (csv_path, xlsx_path):
            p.unlink()
        tmp.rmdir()


if __name__ == "__main__":
    main()
