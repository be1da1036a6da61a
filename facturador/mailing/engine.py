"""Delivery engine: sends a registered send's ledger (run by the `mailing.send` job, see jobs.py).

Settings (settings.py, environment FACTURADOR_MAIL_<NAME>): MAILING_RATE_PER_SECOND (10) and
MAILING_RATE_PER_HOUR (0 = none): the global limit, see ratelimit.py; MAILING_CONCURRENCY (4) SMTP
connections per send; MAILING_CHUNK_SIZE (100) messages per connection; MAILING_MAX_ATTEMPTS (4) and
MAILING_RETRY_BASE_SECONDS (30): 4xx retries after 30 s, 60 s, 120 s...; MAILING_RETURN_PATH: envelope
sender (default: the From address); MAILING_FROM_EMAIL (FACTURADOR_MAIL_FROM).
Per send: max_consecutive_failures (10) stops the send automatically (state "Detenido").

Exactly-once per recipient
--------------------------
Every ledger row (`Delivery`) carries a Message-ID fixed when the send is registered, before
anything is sent. A row moves through these states, each move being ONE conditional UPDATE that
commits before the next step:

    pending --(chunk claim, token T)--> claimed --(T still ours)--> sending --SMTP--> sent / failed /
    pending(4xx, later) / unknown

* `claimed`: reserved by an execution, nothing transmitted yet. If that execution dies, the next
  execution puts it back to `pending`: the SMTP server never saw its DATA, so sending it is safe.
* `sending`: written (committed) immediately before the SMTP transaction of that one message.
  Only one execution can move a row there (the UPDATE is conditional on its claim token), so two
  executions (e.g. a worker presumed dead but still alive) can never both transmit the same row.
* During the SMTP transaction we know the phase: a failure before the final "<CRLF>.<CRLF>" has been
  written (connect, MAIL, RCPT, DATA, transmitting the content) means the server cannot have
  committed the message -> back to `pending` with backoff. A 4xx/5xx reply is a definite refusal.
  Only if the connection breaks AFTER the final dot was written and before the reply was read is
  the outcome unknown -> `unknown`.
* A row still in `sending` when an execution starts belongs to a crashed one: the crash happened
  between "about to transmit" and "outcome recorded", so the server may or may not have it. It is
  marked `unknown` ("sin confirmar, verificar"), never re-sent silently.

So: nobody receives an invoice twice from the engine, and every row ends as sent, failed, excluded,
bounced or unknown (at most one `unknown` per SMTP connection open at the crash: an execution runs
CONCURRENCY sender threads, each with its own connection and its own claim token). `unknown` rows are shown to the
operator, who can confirm them as sent or resend them deliberately; a resend reuses the SAME
Message-ID, so mail clients that de-duplicate by Message-ID show one message, and a later bounce
(DSN quoting that Message-ID) reconciles the row automatically.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
import threading
import time
import uuid
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone

from facturador.core import jobs
from facturador.core.models import Job
from facturador.mailing import services
from facturador.mailing.models import Delivery, MailSend
from facturador.mailing.ratelimit import get_limiter

logger = logging.getLogger(__name__)

class NotSent(Exception):
    """The transaction broke before the message could have been committed by the server."""


class Ambiguous(Exception):
    """The connection broke after the end of data was written: the server may have the message."""


def _smtp_reply_text(resp) -> str:
    return resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)


_EOL = re.compile(rb"(?:\r\n|\n|\r(?!\n))")
_DOT = re.compile(rb"(?m)^\.")


def smtp_transaction(smtp: smtplib.SMTP, sender: str, recipient: str, data: bytes,
                     normalized: bool = False) -> tuple[int, str]:
    """One SMTP mail transaction on an open connection, phase-aware (see module docstring)."""
    try:
        smtp.ehlo_or_helo_if_needed()
        code, resp = smtp.mail(sender)
        if code != 250:
            smtp.rset()
            return code, _smtp_reply_text(resp)
        code, resp = smtp.rcpt(recipient)
        if code not in (250, 251):
            smtp.rset()
            return code, _smtp_reply_text(resp)
        smtp.putcmd("data")
        code, resp = smtp.getreply()
        if code != 354:
            smtp.rset()
            return code, _smtp_reply_text(resp)
        payload = _DOT.sub(b"..", data if normalized else _EOL.sub(b"\r\n", data))  # dot-stuffing (RFC 5321 4.5.2)
        if not payload.endswith(b"\r\n"):
            payload += b"\r\n"
        smtp.send(payload + b".\r\n")
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        raise NotSent(str(exc) or exc.__class__.__name__) from exc
    try:
        code, resp = smtp.getreply()
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        raise Ambiguous(str(exc) or exc.__class__.__name__) from exc
    return code, _smtp_reply_text(resp)


_TABLE = Delivery._meta.db_table


def _dt(value):
    return db_connection.ops.adapt_datetimefield_value(value)


def _execute(sql: str, params, durable: bool = True) -> int:
    """One autocommitted statement. durable=False (PostgreSQL): don't wait for the WAL flush. Only used for
    "sending -> sent": if the database server itself crashed and lost that commit, the row would be back in
    `sending` and the next run would mark it `unknown` (accounted for, never re-sent)."""
    if not durable and db_connection.vendor == "postgresql" and not db_connection.in_atomic_block:
        with transaction.atomic(), db_connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
            cursor.execute(sql, params)
            return cursor.rowcount
    with db_connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _no_delay(backend):
    """Disable Nagle: a message's last small segment must not wait for the server's delayed ACK (~40 ms)."""
    import socket

    sock = getattr(getattr(backend, "connection", None), "sock", None)
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


class _Aborted(Exception):
    """Tells a sender thread to stop because another thread failed or the user cancelled."""


class AutoStop(Exception):
    """The send stops itself: too many consecutive failures (MailSend.max_consecutive_failures)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class Engine:
    def __init__(self, send: MailSend, ctx: jobs.JobContext | None = None):
        self.send = send
        self.ctx = ctx
        self.base_token = f"{ctx.job.pk if ctx else 0}.{ctx.job.attempts if ctx else 0}.{uuid.uuid4().hex[:12]}"
        self.concurrency = max(1, settings.MAILING_CONCURRENCY)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._abort = threading.Event()
        self._errors: list[BaseException] = []
        self._main = threading.current_thread()
        self.chunk_size = settings.MAILING_CHUNK_SIZE
        self.max_attempts = settings.MAILING_MAX_ATTEMPTS
        self.retry_base = settings.MAILING_RETRY_BASE_SECONDS
        self.limiter = get_limiter()
        self.consecutive = 0
        self.last_error = ""
        self.worker = jobs.worker_name()
        self.sender = settings.MAILING_RETURN_PATH or parseaddr(services.from_address(send.issuer))[1]

    # -- bookkeeping ------------------------------------------------------------------------------

    @property
    def token(self) -> str:
        """Claim token of the current sender thread (each thread claims its own chunks)."""
        return getattr(self._local, "token", f"{self.base_token}.t0")

    def in_main(self) -> bool:
        return threading.current_thread() is self._main

    def check_cancel(self):
        if self._abort.is_set() and not self.in_main():
            raise _Aborted()
        if self.ctx is not None and self.in_main():
            self.ctx.check_cancel()

    def progress(self, force=False):
        if self.ctx is None:
            return
        c = services.counts(self.send) if force or not hasattr(self, "_counts") else self._counts
        self._counts = c
        done = c["sent"] + c["failed"] + c["bounced"] + c["unknown"]
        self.ctx.progress(done, total=c["to_send"], errors=c["failed"] + c["unknown"],
                          message=f"{c['sent']} enviados, {c['failed']} fallidos, {c['pending'] + c['claimed']} pendientes",
                          force=force)

    def _bump(self, status):
        if hasattr(self, "_counts"):
            with self._lock:
                self._counts[status] = self._counts.get(status, 0) + 1
                self._counts["claimed"] = max(0, self._counts.get("claimed", 0) - 1)
            if self.in_main():
                self.progress()

    def recover(self):
        """Undo what a crashed execution left behind (see the module docstring)."""
        rows = Delivery.objects.filter(send=self.send)
        released = rows.filter(status=Delivery.Status.CLAIMED).update(status=Delivery.Status.PENDING, claim_token="")
        unknown = rows.filter(status=Delivery.Status.SENDING).update(
            status=Delivery.Status.UNKNOWN, claim_token="",
            smtp_response="Envío interrumpido (fallo del trabajador) durante la transmisión: verifique si el cliente lo recibió.",
        )
        if released or unknown:
            logger.warning("Send %s: recovered %s claimed rows, %s rows of unknown outcome", self.send.pk, released, unknown)

    def release_claimed(self, every_thread=False):
        rows = Delivery.objects.filter(send=self.send, status=Delivery.Status.CLAIMED)
        rows = rows.filter(claim_token__startswith=self.base_token + ".") if every_thread else rows.filter(claim_token=self.token)
        rows.update(status=Delivery.Status.PENDING, claim_token="")

    def claim_chunk(self) -> list[Delivery]:
        now = timezone.now()
        ready = Delivery.objects.filter(send=self.send, status=Delivery.Status.PENDING).filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        ids = list(ready.order_by("id").values_list("id", flat=True)[: self.chunk_size])
        if not ids:
            return []
        Delivery.objects.filter(id__in=ids, status=Delivery.Status.PENDING).update(
            status=Delivery.Status.CLAIMED, claim_token=self.token)
        return list(Delivery.objects.filter(id__in=ids, status=Delivery.Status.CLAIMED, claim_token=self.token)
                    .select_related("document").order_by("id"))

    def backoff(self, attempts: int) -> float:
        return min(self.retry_base * (2 ** max(attempts - 1, 0)), 3600.0)

    def failure(self, reason: str):
        with self._lock:
            self.consecutive += 1
            self.last_error = reason
            count = self.consecutive
        limit = self.send.max_consecutive_failures
        if limit and count >= limit:
            raise AutoStop(f"Detenido automáticamente tras {self.consecutive} fallos consecutivos. Último error: {reason}"[:500])

    # -- one message ------------------------------------------------------------------------------

    def deliver(self, backend, row: Delivery, slot: str) -> bool:
        """Send one claimed row. Returns False when the connection must be re-opened."""
        now = timezone.now()
        # The two hot conditional UPDATEs of every message are plain SQL (the ORM's query building was a
        # third of the engine's CPU per message); same statements the ORM would issue.
        moved = _execute(
            f"UPDATE {_TABLE} SET status = %s, attempts = attempts + 1, last_attempt_at = %s, worker = %s, "
            "rate_slot = %s WHERE id = %s AND status = %s AND claim_token = %s",
            [Delivery.Status.SENDING, _dt(now), self.worker, slot, row.pk, Delivery.Status.CLAIMED, self.token])
        if not moved:  # taken back by a recovery: not ours any more
            return True
        attempts = row.attempts + 1
        mine = Delivery.objects.filter(pk=row.pk, status=Delivery.Status.SENDING, claim_token=self.token)
        try:
            attachments = services.attachments_for(row.document)
            smtp = getattr(backend, "connection", None)
            if isinstance(smtp, smtplib.SMTP):
                msg, data = None, services.message_bytes(self.send, row.document, row.email, row.message_id, attachments)
            else:
                msg = services.build_message(self.send, row.document, row.email, row.message_id, attachments=attachments)
        except Exception as exc:  # a missing file, a broken template: nothing was transmitted
            logger.exception("Send %s: cannot build message for delivery %s", self.send.pk, row.pk)
            mine.update(status=Delivery.Status.FAILED, claim_token="",
                        smtp_response=f"No se pudo preparar el mensaje: {exc.__class__.__name__}: {exc}"[:2000])
            self._bump("failed")
            self.failure(str(exc))
            return True
        try:
            if isinstance(smtp, smtplib.SMTP):
                code, text = smtp_transaction(smtp, self.sender, row.email, data, normalized=True)
            else:  # a non-SMTP Django backend (locmem, console, file): no phases to observe
                backend.send_messages([msg])
                code, text = 250, "Entregado al backend de correo"
        except NotSent as exc:
            self._retry_later(mine, attempts, None, f"Conexión interrumpida antes de completar el envío: {exc}")
            return False
        except Ambiguous as exc:
            mine.update(status=Delivery.Status.UNKNOWN, claim_token="",
                        smtp_response=f"La conexión se cortó esperando la respuesta del servidor ({exc}): verifique si el cliente lo recibió.")
            self._bump("unknown")
            self.failure(str(exc))
            return False
        if 200 <= code < 300:
            _execute(f"UPDATE {_TABLE} SET status = %s, claim_token = '', sent_at = %s, smtp_code = %s, "
                     "smtp_response = %s, next_attempt_at = NULL WHERE id = %s AND status = %s AND claim_token = %s",
                     [Delivery.Status.SENT, _dt(timezone.now()), code, f"{code} {text}"[:2000], row.pk,
                      Delivery.Status.SENDING, self.token], durable=False)
            self.consecutive = 0
            self._bump("sent")
        elif 400 <= code < 500:
            self._retry_later(mine, attempts, code, f"{code} {text}")
        else:
            mine.update(status=Delivery.Status.FAILED, claim_token="", smtp_code=code, smtp_response=f"{code} {text}"[:2000])
            self._bump("failed")
            self.failure(f"{code} {text}")
        return True

    def _retry_later(self, mine, attempts, code, text):
        if attempts >= self.max_attempts:
            mine.update(status=Delivery.Status.FAILED, claim_token="", smtp_code=code,
                        smtp_response=f"{text} (tras {attempts} intentos)"[:2000])
            self._bump("failed")
        else:
            mine.update(status=Delivery.Status.PENDING, claim_token="", smtp_code=code, smtp_response=text[:2000],
                        next_attempt_at=timezone.now() + timezone.timedelta(seconds=self.backoff(attempts)))
            self._bump("pending")
        self.failure(text)

    # -- the loop ---------------------------------------------------------------------------------

    def wait(self, seconds: float):
        deadline = time.monotonic() + seconds
        while True:
            self.check_cancel()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.25))

    def sender_loop(self):
        """Claim a chunk, open one SMTP connection for it, send its rows; until nothing is left."""
        connection_failures = 0
        while True:
            self.check_cancel()
            chunk = self.claim_chunk()
            if not chunk:
                nxt = Delivery.objects.filter(send=self.send, status=Delivery.Status.PENDING).aggregate(t=Min("next_attempt_at"))["t"]
                if nxt is None:
                    return
                if self.in_main():
                    self.progress(force=True)
                self.wait(max((nxt - timezone.now()).total_seconds(), 0.05))
                continue
            backend = get_connection(fail_silently=False)
            try:
                backend.open()
            except Exception as exc:
                self.release_claimed()
                connection_failures += 1
                logger.warning("Send %s: cannot connect to the mail server: %r", self.send.pk, exc)
                self.failure(describe_failure(exc))
                self.wait(min(self.retry_base * 2 ** (connection_failures - 1), 60.0))
                continue
            connection_failures = 0
            _no_delay(backend)
            try:
                for row in chunk:
                    self.check_cancel()
                    slot = self.limiter.acquire(self.check_cancel)
                    if not self.deliver(backend, row, slot):
                        break
            finally:
                self.release_claimed()
                try:
                    backend.close()
                except Exception:
                    pass
            if self.in_main():
                self.progress(force=True)

    def _thread_main(self, i):
        self._local.token = f"{self.base_token}.t{i}"
        try:
            self.sender_loop()
        except _Aborted:
            pass
        except BaseException as exc:  # AutoStop, a database error...: the whole run stops
            self._errors.append(exc)
            self._abort.set()
        finally:
            try:
                self.release_claimed()
            finally:
                db_connection.close()

    def run(self) -> str:
        self._main = threading.current_thread()
        self.recover()
        self.progress(force=True)
        if self.concurrency == 1:
            self._local.token = f"{self.base_token}.t0"
            self.sender_loop()
        else:
            threads = [threading.Thread(target=self._thread_main, args=(i,), daemon=True, name=f"mail-sender-{i}")
                       for i in range(self.concurrency)]
            for t in threads:
                t.start()
            try:
                while not self._errors:
                    alive = [t for t in threads if t.is_alive()]
                    if not alive:
                        break
                    alive[0].join(0.25)
                    self.check_cancel()
                    self.progress()
            finally:
                if self._errors or any(t.is_alive() for t in threads):
                    self._abort.set()
                for t in threads:
                    t.join()
            if self._errors:
                raise self._errors[0]
        c = services.counts(self.send)
        self.progress(force=True)
        return Job.Status.FINISHED_WITH_ERRORS if (c["failed"] or c["unknown"]) else Job.Status.FINISHED


class Rejected(Exception):
    """The mail server answered the test message with a refusal."""


SERVER_SETTINGS_HINT = ("El administrador de la plataforma debe configurar EMAIL_HOST y EMAIL_PORT (y, si el "
                        "servidor lo pide, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD y EMAIL_USE_TLS) con los datos de "
                        "un servidor SMTP en funcionamiento; vea «Correo» en el README.")


def describe_failure(exc: BaseException) -> str:
    """Why the mail server did not take a message, in Spanish for people: what failed and what to configure.
    The technical detail (``[Errno 111] Connection refused``...) is for the log, not for the page."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return ("El servidor de correo no aceptó el usuario y la contraseña de la plataforma. El administrador "
                "debe revisar EMAIL_HOST_USER y EMAIL_HOST_PASSWORD.")
    if isinstance(exc, (ssl.SSLError, smtplib.SMTPNotSupportedError)):
        return ("No se pudo establecer una conexión cifrada con el servidor de correo. El administrador debe "
                "revisar EMAIL_USE_TLS y EMAIL_PORT (habitualmente 587 con TLS).")
    if isinstance(exc, smtplib.SMTPServerDisconnected) or (
            isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException) and exc.filename is None):
        return "No se pudo conectar con el servidor de correo. " + SERVER_SETTINGS_HINT
    if isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException):
        return "No se pudo leer un archivo de la factura (PDF, XML o zip) para armar el mensaje."
    return "El servidor de correo respondió con un error inesperado. " + SERVER_SETTINGS_HINT


def deliver_one(send: MailSend, doc, to: str, message_id: str):
    """Send one message outside the ledger (the test email) through exactly the engine's path.
    Raises Rejected (a 4xx/5xx reply), NotSent / Ambiguous (connection lost), or the backend's error."""
    backend = get_connection(fail_silently=False)
    backend.open()
    try:
        smtp = getattr(backend, "connection", None)
        if isinstance(smtp, smtplib.SMTP):
            sender = settings.MAILING_RETURN_PATH or parseaddr(services.from_address(send.issuer))[1]
            code, text = smtp_transaction(smtp, sender, to, services.message_bytes(send, doc, to, message_id),
                                          normalized=True)
            if not 200 <= code < 300:
                raise Rejected(f"{code} {text}")
        else:
            backend.send_messages([services.build_message(send, doc, to, message_id)])
    finally:
        backend.close()


def run_send_inline(send: MailSend) -> MailSend:
    """Run the send's pending job in this process (CLI --here, tests, benchmark)."""
    jobs.execute_job.call(send.job_id)
    send.refresh_from_db()
    return send
