"""`facturador mail ...`: mass email of issued invoices from the terminal (the same actions as the web UI and the API)."""

import json
import sys
import time
from datetime import date
from pathlib import Path

from django.core.management.base import CommandError

from facturador.core.cli import ActionCommand, find_issuer
from facturador.mailing import actions, engine, services
from facturador.mailing.models import MailSend


# Exit statuses of start / resume / resend-failed with --wait or --here (0: finished). 2 is a refused action's
# (core.cli.EXIT_REFUSED), so a send that finished with errors has its own status.
EXIT_STOPPED = 1
EXIT_FINISHED_WITH_ERRORS = 3


class Command(ActionCommand):
    help = ("Envíos masivos de facturas por correo: create, preview, test, test-recipients, start [--wait], stop, "
            "resume, status, resend-failed, resolve-unknown, export, bounces. Salida: 2 acción rechazada; con --wait o "
            "--here además 0 finalizado, 1 detenido, 3 finalizado con errores.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        c = sub.add_parser("create", help="Registrar un envío")
        c.add_argument("--issuer", required=True, help="NIT (sin DV), RFC o id del emisor")
        c.add_argument("--range", action="append", required=True, dest="ranges", help="Ej.: FE1-FE500 (repetible)")
        c.add_argument("--subject", required=True)
        body = c.add_mutually_exclusive_group(required=True)
        body.add_argument("--body-file", type=Path)
        body.add_argument("--body")
        c.add_argument("--name", default="")
        c.add_argument("--from-date", type=date.fromisoformat, help="AAAA-MM-DD")
        c.add_argument("--to-date", type=date.fromisoformat, help="AAAA-MM-DD")
        c.add_argument("--customer", action="append", dest="customers", default=[],
                       help="Enviar solo a este cliente (identificación; repetible). Sin él: todos los clientes")
        c.add_argument("--reply-to", default="")
        c.add_argument("--informative", action="store_true", help="No es entrega obligatoria: ofrece darse de baja")
        c.add_argument("--max-consecutive-failures", type=int, default=10)

        def send_parser(name, help_text):
            p = sub.add_parser(name, help=help_text)
            p.add_argument("id", type=int, help="número del envío")
            p.add_argument("--issuer", help="NIT, RFC o id del emisor (comprueba que el envío es suyo)")
            return p

        p = send_parser("preview", "Mostrar el mensaje de una factura del envío")
        p.add_argument("--document", type=int, help="id de la factura; por defecto la primera")
        p.add_argument("--subject")
        p.add_argument("--body")
        p = send_parser("test", "Enviar una prueba: lo mismo que recibe el cliente de una factura")
        p.add_argument("--email", required=True)
        p.add_argument("--document", type=int, help="id de la factura; por defecto la primera")
        for name, help_text in (("start", "Iniciar el envío"), ("resume", "Reanudar un envío detenido"),
                                ("resend-failed", "Reenviar solo las entregas fallidas")):
            p = send_parser(name, help_text)
            p.add_argument("--wait", action="store_true", help="Esperar mostrando el progreso; sale con 0 finalizado, "
                                                                 "1 cancelado, 3 con errores")
            p.add_argument("--here", action="store_true", help="Enviar en este proceso (sin trabajadores)")
        send_parser("stop", "Detener un envío en curso")
        send_parser("status", "Estado y contadores")
        p = send_parser("resolve-unknown", "Decidir sobre entregas sin confirmar")
        p.add_argument("--decision", required=True, choices=actions.UNKNOWN_DECISIONS,
                       help="confirm: llegó; resend: reenviar con el mismo Message-ID")
        p.add_argument("--delivery", action="append", type=int, required=True, dest="deliveries",
                       help="id de la entrega (repetible)")
        p = send_parser("export", "Exportar las entregas (csv o xlsx)")
        p.add_argument("--format", dest="fmt", choices=sorted(actions.EXPORT_FORMATS), default="csv")
        p.add_argument("--output", type=Path, required=True, help="archivo de salida")
        t = sub.add_parser("test-recipients", help="Ver o cambiar los correos a los que se pueden enviar pruebas "
                                                    "(además del correo del usuario de --as)")
        t.add_argument("--issuer", required=True, help="NIT (sin DV), RFC o id del emisor")
        given = t.add_mutually_exclusive_group()
        given.add_argument("--email", action="append", dest="emails", help="la lista nueva (repetible; reemplaza la actual)")
        given.add_argument("--clear", action="store_true", help="vaciar la lista")
        b = sub.add_parser("bounces", help="Procesar avisos de rebote (DSN) de un maildir")
        b.add_argument("--maildir", required=True)
        b.add_argument("--issuer", help="emisor al que se atribuye la acción en la auditoría")

    def handle(self, *args, action, **opts):
        return getattr(self, f"do_{action.replace('-', '_')}")(**opts)

    def _send(self, id, issuer=None, **_):
        return services.get_send(find_issuer(issuer) if issuer else None, id)

    def _out(self, data: dict, text: str):
        self.stdout.write(json.dumps(data, ensure_ascii=False, default=str) if self._options.get("json") else text)

    def do_create(self, issuer, ranges, subject, body_file=None, body=None, name="", from_date=None, to_date=None,
                  customers=(), reply_to="", informative=False, max_consecutive_failures=10, **_):
        issuer = find_issuer(issuer)
        text = body_file.read_text(encoding="utf-8") if body_file else body
        send = actions.register_send(
            issuer, self.actor, ranges=ranges, subject=subject, body=text, name=name, date_from=from_date,
            date_to=to_date, recipients=MailSend.Recipients.SELECTED if customers else MailSend.Recipients.ALL,
            selected_customers=customers, reply_to=reply_to, legally_required=not informative,
            max_consecutive_failures=max_consecutive_failures)
        c = services.counts(send)
        if self._options.get("json"):
            return self._out({"id": send.pk, "counts": c}, "")
        self.stdout.write(f"Envío {send.pk} registrado: {c['total']} facturas, {c['pending']} por enviar, "
                          f"{c['excluded']} excluidas.")
        self.stdout.write(str(send.pk))

    def do_preview(self, document=None, subject=None, body=None, **opts):
        send = self._send(**opts)
        p = actions.preview(send.issuer, self.actor, send=send, document=document, subject=subject, body=body)
        files = ", ".join(a["filename"] for a in p["attachments"])
        self._out(p, f"Para: {p['to'] or '(sin correo)'}\nAsunto: {p['subject']}\nAdjuntos: {files}\n\n{p['text']}")

    def do_test(self, email, document=None, **opts):
        send = self._send(**opts)
        mid = actions.send_test(send.issuer, self.actor, send=send, email=email, document=document)
        self._out({"message_id": mid, "to": email}, f"Prueba enviada a {email} ({mid}).")

    def _run(self, send, verb, wait, here):
        self.stdout.write(f"Envío {send.pk} {verb} (tarea {send.job_id}).")
        if here:
            engine.run_send_inline(send)
        if wait or here:
            return self._wait(send)

    def do_start(self, wait=False, here=False, **opts):
        send = self._send(**opts)
        return self._run(actions.start(send.issuer, self.actor, send=send), "iniciado", wait, here)

    def do_resume(self, wait=False, here=False, **opts):
        send = self._send(**opts)
        return self._run(actions.resume(send.issuer, self.actor, send=send), "reanudado", wait, here)

    def do_resend_failed(self, wait=False, here=False, **opts):
        send = self._send(**opts)
        n = actions.resend_failed(send.issuer, self.actor, send=send)
        send.refresh_from_db()
        return self._run(send, f"reenviando {n} entregas fallidas", wait, here)

    def do_stop(self, **opts):
        send = self._send(**opts)
        actions.stop(send.issuer, self.actor, send=send)
        self.stdout.write(f"Envío {send.pk} detenido.")

    def do_status(self, **opts):
        send = self._send(**opts)
        c = services.counts(send)
        if self._options.get("json"):
            return self._out({"id": send.pk, "status": send.status, "stop_reason": send.stop_reason, "counts": c}, "")
        self.stdout.write(f"Envío {send.pk}: {send.get_status_display()} · enviados {c['sent']} · pendientes "
                          f"{c['pending'] + c['claimed'] + c['sending']} · fallidos {c['failed']} · sin confirmar "
                          f"{c['unknown']} · rebotados {c['bounced']} · excluidos {c['excluded']}")
        if send.stop_reason:
            self.stdout.write(send.stop_reason)

    def do_resolve_unknown(self, decision, deliveries, **opts):
        send = self._send(**opts)
        n = actions.resolve_unknown(send.issuer, self.actor, send=send, deliveries=deliveries, decision=decision)
        self._out({"updated": n}, f"{n} entregas sin confirmar actualizadas.")

    def do_export(self, fmt, output, **opts):
        send = self._send(**opts)
        content, _type, _name = actions.export_ledger(send.issuer, self.actor, send=send, fmt=fmt)
        try:
            output.write_bytes(content)
        except OSError as exc:
            raise CommandError(f"No se pudo escribir {output}: {exc}") from exc
        self._out({"file": str(output), "bytes": len(content)}, f"Entregas del envío {send.pk} en {output}.")

    def do_test_recipients(self, issuer, emails=None, clear=False, **_):
        issuer = find_issuer(issuer)
        if emails or clear:
            emails = actions.set_test_recipients(issuer, self.actor, emails=emails or [])
        else:
            emails = services.allowed_test_recipients(issuer)
        self._out({"emails": emails}, "\n".join(emails) or "Sin correos de prueba: solo el del usuario de --as.")

    def do_bounces(self, maildir, issuer=None, **_):
        r = actions.import_bounces(find_issuer(issuer) if issuer else None, self.actor, maildir=maildir)
        self._out(r, f"{r['messages']} avisos leídos: {r['matched']} aplicados, {r['unmatched']} sin entrega "
                     f"asociada, {r['ignored']} ignorados.")

    def _wait(self, send):
        width = 30
        tty = getattr(self.stdout, "isatty", lambda: False)()
        last = None
        while True:
            send.refresh_from_db()  # and its job: the send's state derives from it
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
            if not send.job.is_active:
                break
            time.sleep(0.3)
        if tty:
            self.stdout.write("")
        self.stdout.write(f"Resultado: {send.get_status_display()}." + (f" {send.stop_reason}" if send.stop_reason else ""))
        if send.status != MailSend.Status.FINISHED:
            sys.exit(EXIT_FINISHED_WITH_ERRORS if send.status == MailSend.Status.FINISHED_WITH_ERRORS else EXIT_STOPPED)
