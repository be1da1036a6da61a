"""Mass email throughput: N invoices, two attachments each (PDF + XML), to a local aiosmtpd server.

Usage:  .venv/bin/python bench/mail_send.py [--n 10000] [--pdf-kb 40] [--xml-kb 8] [--chunk 200]

The delivery engine (facturador.mailing.engine, the same code a worker runs) sends every message
through Django's SMTP backend with the global rate limit OFF, on a fresh SQLite database in a temp
dir (or DATABASE_URL if set). The SMTP server runs in a separate process (so it does not share the
GIL with the engine) and counts what it accepted. Reports messages/s, MB/s of SMTP data and the
engine process's peak RSS. Goal: >= 200 messages/s.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _smtp_server(port: int, count, nbytes, ready, stop):
    from aiosmtpd.controller import Controller

    class Counter:
        async def handle_DATA(self, server, session, envelope):
            with count.get_lock():
                count.value += 1
            with nbytes.get_lock():
                nbytes.value += len(envelope.content)
            return "250 OK"

    import logging

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    c = Controller(Counter(), hostname="127.0.0.1", port=port, data_size_limit=0)
    c.start()
    ready.set()
    stop.wait()
    c.stop()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--pdf-kb", type=int, default=40)
    ap.add_argument("--xml-kb", type=int, default=8)
    ap.add_argument("--chunk", type=int, default=200, help="messages per SMTP connection")
    ap.add_argument("--concurrency", type=int, default=4, help="sender threads (SMTP connections at once)")
    ap.add_argument("--baseline", type=int, default=2000,
                    help="also time this many raw smtplib sends of same-size messages (server ceiling); 0 = skip")
    args = ap.parse_args(argv)

    tmp = tempfile.mkdtemp(prefix="bench-mail-")
    os.environ["FACTURADOR_DATA_DIR"] = tmp
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "facturador.settings")
    os.environ["FACTURADOR_MAIL_RATE_PER_SECOND"] = "0"
    os.environ["FACTURADOR_MAIL_RATE_PER_HOUR"] = "0"
    os.environ["FACTURADOR_MAIL_CHUNK_SIZE"] = str(args.chunk)
    os.environ["FACTURADOR_MAIL_CONCURRENCY"] = str(args.concurrency)
    os.environ["FACTURADOR_LOG_LEVEL"] = "WARNING"
    port = _free_port()
    os.environ["EMAIL_HOST"], os.environ["EMAIL_PORT"] = "127.0.0.1", str(port)
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.smtp.EmailBackend"

    ctx = mp.get_context("fork")
    count, nbytes = ctx.Value("q", 0), ctx.Value("q", 0)
    ready, stop = ctx.Event(), ctx.Event()
    server = ctx.Process(target=_smtp_server, args=(port, count, nbytes, ready, stop), daemon=True)
    server.start()
    ready.wait(30)

    import django

    django.setup()
    from datetime import date, timedelta
    from decimal import Decimal

    from django.conf import settings
    from django.core.management import call_command
    from django.db import transaction

    call_command("migrate", verbosity=0)
    from facturador.core.actors import Actor
    from facturador.core.models import IssuedDocument, Issuer
    from facturador.mailing import actions, engine
    from facturador.mailing.models import Delivery

    issuer = Issuer.objects.create(country="CO", tax_id="900373076", check_digit="4", legal_name="Empresa de Prueba S.A.S.",
                                   email="cartera@example.com")
    # Files written straight to MEDIA_ROOT (IssuedDocument only stores their names).
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument.new()
    pdf.new_page(595, 842)
    import io

    buf = io.BytesIO()
    pdf.save(buf)
    base_pdf = buf.getvalue()
    folder = Path(settings.MEDIA_ROOT) / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    docs = []
    for i in range(1, args.n + 1):
        pad = os.urandom(max(args.pdf_kb * 1024 - len(base_pdf), 0) // 2).hex().encode()
        (folder / f"FE{i}.pdf").write_bytes(base_pdf + b"%" + pad + b"\n")
        xml = (f'<?xml version="1.0" encoding="UTF-8"?><Invoice><ID>FE{i}</ID><Note>'
               + "x" * max(args.xml_kb * 1024 - 120, 0) + "</Note></Invoice>\n").encode()
        (folder / f"FE{i}.xml").write_bytes(xml)
        docs.append(IssuedDocument(
            issuer=issuer, source="bench", source_id=str(i), country="CO", document_type="invoice", prefix="FE", number=i,
            issue_date=date(2026, 10, 31), due_date=date(2026, 10, 31) + timedelta(days=15), period="2026-10",
            customer_name=f"Cliente {i}", customer_tax_id=str(800000000 + i), customer_email=f"cliente{i}@example.com",
            total=Decimal("123456.78"), pdf=f"bench/FE{i}.pdf", xml=f"bench/FE{i}.xml"))
    IssuedDocument.objects.bulk_create(docs, batch_size=1000)
    send = actions.register_send(issuer, Actor.cli(), ranges=f"FE1-FE{args.n}", subject="Factura {{numero}} de {{emisor}}",
                                 body="Señor(a) {{cliente}}:\n\nAdjuntamos la factura {{numero}} por {{total}}, "
                                      "vence el {{vencimiento}}.\n\n{{emisor}}")
    prep = time.perf_counter() - t0
    with transaction.atomic():
        send = actions.start(issuer, Actor.cli(), send=send)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    send = engine.run_send_inline(send)
    elapsed = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sent = Delivery.objects.filter(send=send, status="sent").count()
    accepted, data_bytes = count.value, nbytes.value
    baseline = _baseline(port, args.baseline, data_bytes // max(accepted, 1), args.concurrency) if args.baseline else None
    stop.set()
    server.join(10)
    db = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"database: {db}; setup of {args.n} invoices + ledger: {prep:.1f} s")
    print(f"attachments per message: 2 (PDF {args.pdf_kb} KB, XML {args.xml_kb} KB); {args.chunk} messages per SMTP connection")
    print(f"sent: {sent} / {args.n} (server accepted {accepted}); status: {send.status}; "
          f"{args.concurrency} SMTP connections at once")
    print(f"time: {elapsed:.1f} s  ->  {sent / elapsed:.0f} messages/s, {data_bytes / elapsed / 2**20:.1f} MB/s of SMTP data "
          f"({data_bytes // max(accepted, 1) // 1024} KB per message)")
    if baseline:
        print(f"server ceiling (raw smtplib, same size, no database, {args.concurrency} connections): {baseline:.0f} messages/s")
    print(f"peak RSS of the engine process: {peak:.0f} MB (before sending: {rss_before:.0f} MB)")
    return 0 if sent == args.n == accepted else 1


def _baseline(port: int, n: int, size: int, threads: int) -> float:
    """The same server fed by bare smtplib (no DB, no MIME building): what the server itself can take."""
    import smtplib
    import threading

    data = b"Subject: x\r\n\r\n" + (b"A" * 76 + b"\r\n") * (size // 78)

    def run(k):
        s = smtplib.SMTP("127.0.0.1", port)
        s.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(k):
            s.sendmail("a@example.com", ["b@example.com"], data)
        s.quit()

    t0 = time.perf_counter()
    ts = [threading.Thread(target=run, args=(n // threads,)) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return (n // threads) * threads / (time.perf_counter() - t0)


if __name__ == "__main__":
    sys.exit(main())
