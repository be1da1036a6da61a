"""Batch invoice PDF throughput: Typst (default template) vs a plain WeasyPrint page.

Usage:  .venv/bin/python bench/batch_pdf_engine.py [--n 2000] [--weasy-n 40] [--no-pin]

Phases (each in its own forked process, so peak RSS is per phase):
  1. barcode/QR encoders (µs per code)
  2. Typst, one invoice at a time -> N separate PDF files
  3. Typst, one invoice at a time -> one streamed merged N-page PDF (no separate files)
  3b. Typst, chunks of --chunk invoices per compile -> streamed merged PDF
  4. WeasyPrint on an equivalent HTML page, fewer invoices (skipped if not installed;
     WeasyPrint is NOT a project dependency: `pip install weasyprint` in the venv)

Timed work per invoice: data preparation (totals, formatting, GS1-128 SVG, DIAN QR SVG)
+ rendering + writing. By default the process is pinned to one CPU (single-core
figures, like docs in ../shared/reference/pdf-engines.md).
"""

from __future__ import annotations

import argparse
import base64
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _raw_items(n: int, offset: int = 0):
    from facturador.printing.invoice import sample_invoice_raw

    for i in range(offset, offset + n):
        raw = sample_invoice_raw(i)
        cufe = raw["dian"]["cufe"]
        raw["dian"]["qr_text"] = (
            f"NumFac: {raw['document']['number']}\nFecFac: 2026-11-05\nNitFac: 900123456\n"
            f"DocAdq: {raw['customer']['id_number']}\nCUFE: {cufe}\n"
            f"QRCode: https://catalogo-vpfe.dian.gov.co/document/searchqr?documentkey={cufe}"
        )
        yield raw


def _prepared(n: int, offset: int = 0):
    from facturador.printing.invoice import prepare_invoice_data

    for raw in _raw_items(n, offset):
        yield prepare_invoice_data(raw)


# ------------------------------------------------------------------ phases

def phase_encoders(_args) -> dict:
    import zxingcpp

    from facturador.printing.barcodes import payment_barcode_data, qr_svg

    reps = 500
    pc = payment_barcode_data("7709998013711", "123456", 140994, "20261130", 10, 10)
    t = time.perf_counter()
    for _ in range(reps):
        pc.svg()
    own = (time.perf_counter() - t) / reps * 1e6
    t = time.perf_counter()
    for _ in range(reps):
        zxingcpp.create_barcode(pc.human_readable, zxingcpp.BarcodeFormat.Code128, gs1=True).to_svg()
    zx128 = (time.perf_counter() - t) / reps * 1e6
    text = next(_raw_items(1))["dian"]["qr_text"]
    t = time.perf_counter()
    for i in range(reps):
        qr_svg(text + str(i))
    zxqr = (time.perf_counter() - t) / reps * 1e6
    out = {"own Code128 GS1-128 SVG (µs)": own, "zxing-cpp Code128 GS1 SVG (µs)": zx128,
           f"zxing-cpp QR SVG, {len(text)} chars (µs)": zxqr}
    try:
        import segno

        t = time.perf_counter()
        for i in range(50):
            segno.make(text + str(i), error="m", micro=False).svg_inline()
        out["segno QR SVG, same text (µs)"] = (time.perf_counter() - t) / 50 * 1e6
    except ImportError:
        pass
    return out


def _warm(template: str) -> None:
    from facturador.printing.render import render_pdf

    for data in _prepared(3, offset=10_000):
        render_pdf(template, data)


def phase_separate(args) -> dict:
    from facturador.printing.invoice import default_template
    from facturador.printing.render import render_many

    template = default_template()
    _warm(template)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        res = render_many(template, _prepared(args.n), tmp, merged=None, individual=True)
        elapsed = time.perf_counter() - t
        size = sum(p.stat().st_size for p in res.paths) / len(res.paths)
    return {"invoices": res.count, "seconds": elapsed, "invoices/s": res.count / elapsed,
            "avg file KB": size / 1024, "peak RSS MB": _peak_mb()}


def phase_prepare_only(args) -> dict:
    n = min(args.n, 500)
    t = time.perf_counter()
    for _ in _prepared(n):
        pass
    elapsed = time.perf_counter() - t
    return {"invoices": n, "ms/invoice (totals+format+GS1-128+QR)": elapsed / n * 1000}


def phase_merged(args) -> dict:
    from facturador.printing.invoice import default_template
    from facturador.printing.pdfconcat import PdfConcatenator
    from facturador.printing.render import get_renderer

    template = default_template()
    _warm(template)
    renderer = get_renderer(template)
    checkpoints = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "merged.pdf"
        t = time.perf_counter()
        with PdfConcatenator(out) as cat:
            for i, data in enumerate(_prepared(args.n), start=1):
                cat.add(renderer.render(data))
                if i in (args.n // 4, args.n // 2, args.n):
                    checkpoints[i] = round(_rss_mb(), 1)
        elapsed = time.perf_counter() - t
        size = out.stat().st_size
        import pypdfium2

        doc = pypdfium2.PdfDocument(str(out))
        pages = len(doc)
        doc.close()
    return {"invoices": args.n, "pages in merged PDF": pages, "seconds": elapsed,
            "invoices/s": args.n / elapsed, "merged file MB": size / 2**20,
            "RSS MB at 1/4, 1/2, all": checkpoints, "peak RSS MB": _peak_mb()}


def phase_chunked(args) -> dict:
    from facturador.printing.invoice import default_template
    from facturador.printing.render import render_many

    template = default_template()
    _warm(template)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        res = render_many(template, _prepared(args.n), tmp, individual=False, chunk_size=args.chunk)
        elapsed = time.perf_counter() - t
        size = res.merged_path.stat().st_size
        import pypdfium2

        doc = pypdfium2.PdfDocument(str(res.merged_path))
        pages = len(doc)
        doc.close()
    return {"invoices": res.count, "chunk size": args.chunk, "pages in merged PDF": pages, "seconds": elapsed,
            "invoices/s": res.count / elapsed, "merged file MB": size / 2**20, "peak RSS MB": _peak_mb()}


_HTML = """<!doctype html><html lang="es"><head><meta charset="utf-8"><style>
@page { size: A4; margin: 11mm 12mm 9mm }
body { font-family: 'Liberation Sans', 'DejaVu Sans', sans-serif; font-size: 8.5pt; color: #000 }
.h { display: flex; justify-content: space-between } .issuer b { color: #0b5394; font-size: 12pt }
.box { border: .6pt solid #b7c7dc; border-radius: 3pt; padding: 6pt; margin: 4pt 0 }
.soft { background: #e8f0fa } table { width: 100%; border-collapse: collapse }
th { background: #0b5394; color: #fff; text-align: left; padding: 3pt 4pt; font-size: 7.5pt }
td { padding: 3pt 4pt } tr:nth-child(even) td { background: #e8f0fa } .r { text-align: right }
.grid { display: grid; grid-template-columns: 1.6fr 1fr 1fr 1fr; gap: 7pt }
.l { font-size: 6.5pt; color: #555; text-transform: uppercase } .total { font-size: 17pt; color: #0b5394; font-weight: bold; text-align: right }
.cols { display: flex; gap: 8pt } .cols > div:first-child { flex: 1 } .cols > div:last-child { width: 64mm }
.coupon { position: absolute; bottom: 0; left: 0; right: 0 } .mono { font-family: 'DejaVu Sans Mono'; font-size: 8pt }
.cufe { font-family: 'DejaVu Sans Mono'; font-size: 5.6pt; word-break: break-all }
</style></head><body>
<div class="h"><div class="issuer"><b>{{ d.issuer.name }}</b><br>NIT {{ d.issuer.nit }} · {{ d.issuer.tax_note }}<br>
{{ d.issuer.address }}, {{ d.issuer.city }}<br>{{ d.issuer.phone }}<br>{{ d.issuer.email }} · {{ d.issuer.website }}</div>
<div class="box soft" style="width:62mm;text-align:right"><b style="color:#0b5394">{{ d.document.title|upper }}</b><br>
<b style="font-size:11pt">{{ d.document.number }}</b><br>Fecha de expedición: <b>{{ d.document.issue_date }}</b><br>
Periodo facturado: <b>{{ d.document.period }}</b></div></div>
<div class="box grid">
{% for l, v in [("Titular", d.customer.holder), ("Identificación", d.customer.id_type ~ " " ~ d.customer.id_number),
 ("Cuenta / contrato", d.customer.account), ("Referencia de pago", d.customer.payment_reference),
 ("Dirección del servicio", d.customer.address), ("Clase de uso", d.customer.use_class), ("Estrato", d.customer.stratum),
 ("Medidor", d.customer.meter)] %}<div><div class="l">{{ l }}</div><b>{{ v }}</b></div>{% endfor %}</div>
<div class="cols"><div><table><tr><th>Concepto</th><th class="r">Cant.</th><th>Unid.</th><th class="r">Valor unitario</th><th class="r">Valor</th></tr>
{% for l in d.lines %}<tr><td><small>{{ l.group }} · </small>{{ l.concept }}</td><td class="r">{{ l.quantity }}</td><td>{{ l.unit }}</td>
<td class="r">{{ l.unit_price }}</td><td class="r">{{ l.amount }}</td></tr>{% endfor %}</table></div>
<div><div class="box"><table><tr><td>Valor del periodo</td><td class="r">{{ d.totals.current }}</td></tr>
<tr><td>Saldo anterior</td><td class="r">{{ d.totals.previous_balance }}</td></tr>
<tr><td>Intereses de mora</td><td class="r">{{ d.totals.arrears_interest }}</td></tr></table>
<div class="l">Total a pagar</div><div class="total">{{ d.totals.total }}</div></div>
<div class="box soft">Pague hasta <b>{{ d.due_date }}</b></div>
{% if d.dian %}<div class="box"><img style="width:24mm;float:left;margin-right:5pt" src="data:image/svg+xml;base64,{{ qr }}">
<b>{{ d.dian.legend }}</b><br>Autorización DIAN {{ d.dian.authorization }}<div style="clear:both" class="l">CUFE</div>
<div class="cufe">{{ d.dian.cufe }}</div></div>{% endif %}</div></div>
<div class="coupon"><div style="border-top:.6pt dashed #555;text-align:center;font-size:6.5pt;color:#555">✂ Desprenda por la línea punteada</div>
<div class="box"><b style="color:#0b5394">{{ d.issuer.name }}</b> · Factura {{ d.document.number }} · Cuenta {{ d.customer.account }} ·
Pague hasta {{ d.due_date }} · <b>{{ d.totals.total }}</b><div style="text-align:center">
<img src="data:image/svg+xml;base64,{{ bc }}"><br><span class="mono">{{ d.payment.human_readable }}</span></div></div></div>
</body></html>"""


def phase_weasyprint(args) -> dict:
    try:
        import weasyprint
    except ImportError:
        return {"skipped": "weasyprint is not installed (pip install weasyprint in the venv to run this part)"}
    import jinja2

    env = jinja2.Environment(autoescape=True)
    tpl = env.from_string(_HTML)
    fonts = weasyprint.text.fonts.FontConfiguration()

    def one(d, path):
        html = tpl.render(d=d, qr=base64.b64encode(d["dian"]["qr_svg"].encode()).decode() if d["dian"] else "",
                          bc=base64.b64encode(d["payment"]["barcode_svg"].encode()).decode())
        weasyprint.HTML(string=html).write_pdf(path, font_config=fonts)

    with tempfile.TemporaryDirectory() as tmp:
        for d in _prepared(2, offset=10_000):
            one(d, Path(tmp) / "warm.pdf")
        t = time.perf_counter()
        for i, d in enumerate(_prepared(args.weasy_n)):
            one(d, Path(tmp) / f"{i}.pdf")
        elapsed = time.perf_counter() - t
        import pypdfium2

        doc = pypdfium2.PdfDocument(str(Path(tmp) / "0.pdf"))
        pages = len(doc)
        doc.close()
    return {"invoices": args.weasy_n, "seconds": elapsed, "invoices/s": args.weasy_n / elapsed,
            "pages per invoice": pages, "version": weasyprint.__version__, "peak RSS MB": _peak_mb()}


def _child(fn, args, q):
    if args.pin:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    q.put(fn(args))


def run(fn, args) -> dict:
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(fn, args, q))
    p.start()
    result = q.get()
    p.join()
    return result


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="invoices for the Typst runs (default 2000)")
    ap.add_argument("--weasy-n", type=int, default=40, help="invoices for the WeasyPrint run (default 40)")
    ap.add_argument("--chunk", type=int, default=25, help="invoices per Typst compile in the chunked run")
    ap.add_argument("--no-pin", dest="pin", action="store_false", help="do not pin to one CPU")
    args = ap.parse_args(argv)
    if args.pin:
        os.environ.setdefault("RAYON_NUM_THREADS", "1")
    import typst

    print(f"Python {sys.version.split()[0]}, typst {getattr(typst, '__version__', '?')}, "
          f"CPUs available {len(os.sched_getaffinity(0))}, pinned to one CPU: {args.pin}")
    for title, fn in [
        ("Encoders", phase_encoders),
        ("Data preparation only", phase_prepare_only),
        (f"Typst: {args.n} separate files", phase_separate),
        (f"Typst: {args.n} invoices -> one streamed merged PDF", phase_merged),
        (f"Typst: {args.n} invoices -> merged PDF from chunks of {args.chunk}", phase_chunked),
        (f"WeasyPrint (equivalent HTML page): {args.weasy_n} separate files", phase_weasyprint),
    ]:
        res = run(fn, args)
        print(f"\n== {title}")
        for k, v in res.items():
            print(f"  {k}: {v:.2f}" if isinstance(v, float) else f"  {k}: {v}")


if __name__ == "__main__":
    main()
