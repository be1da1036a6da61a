"""`facturador mail create|start|stop|resume|status|bounces`: mass email of issued invoices from the terminal."""

import sys
import time
from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from facturador.core import audit
from facturador.core.models import Issuer, Job
from facturador.mailing import bounces, engine, services
from facturador.mailing.models import MailSend


class Command(BaseCommand):
    help = "Envíos masivos de facturas por correo: create, start [--wait], stop, resume, status, bounces."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        c = sub.add_parser("create", help="Registrar un envío")
        c.add_argument("--issuer", required=True, help="NIT (sin DV) o RFC del emisor")
        c.add_argument("--range", action="append", required=True, dest="ranges", help="Ej.: FE1-FE500 (repetible)")
        c.add_argument("--subject", required=True)
        body = c.add_mutually_exclusive_group(required=True)
        body.add_argument("--body-file", type=Path)
        body.add_argument("--body")
        c.add_argument("--name", default="")
        c.add_argument("--from-date", type=date.fromisoformat, help="AAAA-MM-DD")
        c.add_argument("--to-date", type=date.fromisoformat, help="AAAA-MM-DD")
        c.add_argument("--reply-to", default="")
        c.add_argument("--informative", action="store_true", help="No es entrega obligatoria: ofrece darse de baja")
        c.add_argument("--max-consecutive-failures", type=int, default=10)
        for name in ("start", "stop", "resume", "status"):
            p = sub.add_parser(name)
            p.add_argument("id", type=int)
            if name in ("start", "resume"):
                p.add_argument("--wait", action="store_true", help="Esperar mostrando el progreso")
                p.add_argument("--here", action="store_true", help="Enviar en este proceso (sin trabajadores)")
        b = sub.add_parser("bounces", help="Procesar avisos de rebote (DSN) de un maildir")
        b.add_argument("--maildir", required=True)

    def handle(self, *args, action, **opts):
        try:
            return getattr(self, f"do_{action}")(**opts)
        except services.MailingError as exc:
            raise CommandError(exc.message) from exc

    def _send(self, pk):
        send = MailSend.objects.select_related("issuer").filter(pk=pk).first()
        if send is None:
            raise CommandError(f"No existe el envío {pk}.")
        return engine.sync_status(send)

    def do_create(self, issuer, ranges, subject, body_file=None, body=None, name="", from_date=None, to_date=None,
                  reply_to="", informative=False, max_consecutive_failures=10, **_):
        found = Issuer.objects.filter(tax_id=issuer).first()
        if found is None:
            raise CommandError(f"No existe el emisor {issuer}.")
        text = body_file.read_text(encoding="utf-8") if body_file else body
        parsed = [r for text_range in ranges for r in services.parse_ranges(text_range)]
        send = services.register_send(found, ranges=parsed, subject=subject, body=text, name=name, date_from=from_date,
                                      date_to=to_date, reply_to=reply_to, legally_required=not informative,
                                      max_consecutive_failures=max_consecutive_failures)
        audit.record("mailsend.create", issuer=found, obj=send, channel="cli", summary=send.ranges_display)
        c = services.counts(send)
        self.stdout.write(f"Envío {send.pk} registrado: {c['total']} facturas, {c['pending']} por enviar, "
                          f"{c['excluded']} excluidas.")
        self.stdout.write(str(send.pk))

    def do_start(self, id, wait=False, here=False, resume=False, **_):
        send = self._send(id)
        send = engine.resume(send) if resume else engine.start(send)
        audit.record("mailsend.resume" if resume else "mailsend.start", issuer=send.issuer, obj=send, channel="cli")
        self.stdout.write(f"Envío {send.pk} {'reanudado' if resume else 'iniciado'} (tarea {send.job_id}).")
        if here:
            engine.run_send_inline(send)
        if wait or here:
            return self._wait(send)

    def do_resume(self, id, **opts):
        return self.do_start(id, resume=True, **opts)

    def do_stop(self, id, **_):
        send = engine.stop(self._send(id))
        audit.record("mailsend.stop", issuer=send.issuer, obj=send, channel="cli")
        self.stdout.write(f"Envío {send.pk} detenido.")

    def do_status(self, id, **_):
        send = self._send(id)
        c = services.counts(send)
        self.stdout.write(f"Envío {send.pk}: {send.get_status_display()} · enviados {c['sent']} · pendientes "
                          f"{c['pending'] + c['claimed'] + c['sending']} · fallidos {c['failed']} · sin confirmar "
                          f"{c['unknown']} · rebotados {c['bounced']} · excluidos {c['excluded']}")
        if send.stop_reason:
            self.stdout.write(send.stop_reason)

    def do_bounces(self, maildir, **_):
        r = bounces.process_maildir(maildir)
        self.stdout.write(f"{r['messages']} avisos leídos: {r['matched']} aplicados, {r['unmatched']} sin entrega "
                          f"asociada, {r['ignored']} ignorados.")

    def _wait(self, send):
        width = 30
        tty = getattr(self.stdout, "isatty", lambda: False)()
        last = None
        while True:
            send.refresh_from_db()
            job = Job.objects.get(pk=send.job_id)
            c = services.counts(send)
            done = c["sent"] + c["failed"] + c["bounced"] + c["unknown"]
            total = max(c["to_send"], 1)
            filled = int(width * done / total)
            line = (f"[{'#' * filled}{'.' * (width - filled)}] {done}/{c['to_send']} · enviados {c['sent']} · "
                    f"fallidos {c['failed']} · {send.get_status_display()}")
            if line != last:
                self.stdout.write(("\r" + line) if tty else line, ending="" if tty else "\n")
                self.stdout.flush()
                last = line
            if not job.is_active:
                break
            time.sleep(0.3)
        if tty:
            self.stdout.write("")
        send = engine.sync_status(send)
        self.stdout.write(f"Resultado: {send.get_status_display()}." + (f" {send.stop_reason}" if send.stop_reason else ""))
        if send.status not in (MailSend.Status.FINISHED,):
            sys.exit(1 if send.status != MailSend.Status.FINISHED_WITH_ERRORS else 2)
