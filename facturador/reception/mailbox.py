"""Reading the reception mailbox over IMAP (stdlib `imaplib`), exactly once per message.

Messages are found by UID, not by the \\Seen flag (someone may open a message in a mail client before the poll:
it must still be imported). The mailbox keeps a cursor: the folder, its UIDVALIDITY and the highest UID up to
which every message was processed. A poll searches ``UID cursor+1:*`` (IMAP answers ``n:*`` with the last
message even when its UID is below n, so the answer is filtered) and, for each message in UID order:

1. its UIDVALIDITY + UID are looked up among the recorded arrivals (`Intake`): a known message was stored
   before (a crash came between storing it and flagging it): it is only flagged now, never imported again;
2. otherwise its size is checked, the raw message is fetched with ``BODY.PEEK[]`` (which does not mark it
   read) and recorded as an `Intake` (one transaction; the unique UID constraint makes a concurrent poll of
   the same message fail here and skip it); the documents of up to `services.BATCH_SIZE` recorded messages
   (at most `BATCH_BYTES` of them) are then read and filed together in one transaction
   (`services.process_intakes`: a message that cannot be read fails alone);
3. only then, once that transaction is committed, each message of the batch is flagged ``\\Seen`` (or moved to
   the mailbox's "done" folder), and the cursor advances over them (it stops before a message whose reading
   failed unexpectedly, so the next poll retries). A crash before the commit leaves the batch's messages
   recorded and unflagged: the next poll files them from their stored copies.

When the folder's UIDVALIDITY changes (the server renumbered its messages) or the cursor belongs to another
folder, the cursor restarts at 0 and every message of the folder is read again: a message whose content hash
(SHA-256 of the raw message) or Message-ID is already recorded for this issuer and folder under another
UIDVALIDITY is only flagged, not imported again (its documents would be counted as duplicates anyway, as
CUFE/UUID are unique). A new mailbox (no cursor) likewise reads the whole folder once, seen messages included.

A message with no xml, zip or eml attached (ordinary mail reaching the reception address) is recorded as an
*ignored* arrival — headers, size and hash, not its body — counted apart in the poll's summary, not flagged nor
moved (a person may still have to read it), and passed by the cursor like any other.

An arrival recorded but not processed (a crash while reading it) is processed again from its stored copy.
The server's address is checked with `core.outbound.check_mail_server` before every connection.
"""

from __future__ import annotations

import email
import hashlib
import email.policy
import imaplib
import logging
import re
import ssl
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError
from django.db.models import Q
from django.utils import timezone

from facturador.core import outbound
from facturador.reception import services
from facturador.reception.intake import _kind
from facturador.reception.models import Intake, Mailbox, Source

logger = logging.getLogger(__name__)

CONNECTION_FAILED = "No fue posible leer el buzón de correo; revise el servidor, el usuario y la contraseña."
CERTIFICATE_UNTRUSTED = ("El certificado del servidor de correo no es de confianza (vencido, de otro servidor o de una "
                         "autoridad desconocida); no se envió la contraseña. Si el servidor usa un certificado propio, "
                         "el administrador de la plataforma debe indicar su autoridad "
                         "(FACTURADOR_RECEPTION_IMAP_CA_FILE).")


class MailboxError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def tls_context() -> ssl.SSLContext:
    """Certificates verified (chain and host name) against the system's CAs, plus the deployment's own CA file
    (``settings.FACTURADOR_RECEPTION_IMAP_CA_FILE``) for mail servers with a private or self-signed certificate."""
    context = ssl.create_default_context()
    if settings.FACTURADOR_RECEPTION_IMAP_CA_FILE:
        context.load_verify_locations(cafile=settings.FACTURADOR_RECEPTION_IMAP_CA_FILE)
    return context


def connect(mailbox: Mailbox) -> imaplib.IMAP4:
    """A logged-in connection. With STARTTLS, a server that does not offer it is refused before the password is
    sent; an untrusted certificate is refused (`CERTIFICATE_UNTRUSTED`)."""
    host = outbound.check_mail_server(mailbox.host, mailbox.port, tls=mailbox.security != Mailbox.Security.NONE)
    timeout = settings.FACTURADOR_RECEPTION_IMAP_TIMEOUT
    conn = None
    try:
        if mailbox.security == Mailbox.Security.SSL:
            conn = imaplib.IMAP4_SSL(host, mailbox.port, ssl_context=tls_context(), timeout=timeout)
        else:
            conn = imaplib.IMAP4(host, mailbox.port, timeout=timeout)
            if mailbox.security == Mailbox.Security.STARTTLS:
                conn.starttls(tls_context())  # raises when the server does not offer STARTTLS
        conn.login(mailbox.username, mailbox.password.reveal() if mailbox.password else "")
    except ssl.SSLCertVerificationError as exc:
        logger.warning("IMAP connection to %s:%s: certificate not trusted: %s", mailbox.host, mailbox.port, exc)
        _close(conn)
        raise MailboxError(CERTIFICATE_UNTRUSTED) from exc
    except (OSError, imaplib.IMAP4.error) as exc:
        logger.warning("IMAP connection to %s:%s failed: %s", mailbox.host, mailbox.port, exc)
        _close(conn)
        raise MailboxError(CONNECTION_FAILED) from exc
    return conn


def _close(conn) -> None:
    if conn is None:
        return
    try:
        conn.shutdown()
    except (OSError, imaplib.IMAP4.error):
        pass


def _uidvalidity(conn) -> int:
    _, data = conn.response("UIDVALIDITY")
    if data and data[0]:
        return int(data[0])
    typ, data = conn.status(_quote(conn._folder), "(UIDVALIDITY)")
    m = re.search(rb"UIDVALIDITY (\d+)", data[0] or b"")
    return int(m.group(1)) if m else 0


def _check(typ, data, what):
    if typ != "OK":
        raise MailboxError(f"El servidor de correo rechazó {what}: {(data[0] or b'').decode(errors='replace')[:200]}")


def _flag(conn, mailbox: Mailbox, uid: int, capabilities) -> None:
    if mailbox.done_folder:
        target = _quote(mailbox.done_folder)
        if "MOVE" in capabilities:
            _check(*conn.uid("MOVE", str(uid), target), "mover el mensaje")
            return
        _check(*conn.uid("COPY", str(uid), target), "copiar el mensaje")
        _check(*conn.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Seen \Deleted)"), "marcar el mensaje")
        if "UIDPLUS" in capabilities:
            conn.uid("EXPUNGE", str(uid))
        return
    _check(*conn.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Seen)"), "marcar el mensaje como leído")


def _headers(raw: bytes) -> dict:
    head = email.message_from_bytes(raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n", policy=email.policy.default)

    def h(name):
        try:
            return str(head.get(name, "") or "")[:300]
        except Exception:  # noqa: BLE001 — malformed header
            return ""
    return {"message_id": h("Message-ID"), "mail_from": h("From"), "subject": h("Subject")}


IGNORED_MESSAGE = "El mensaje no trae adjuntos XML, ZIP ni EML: no es una factura electrónica; se dejó en el buzón."


def _holds_documents(raw: bytes) -> bool:
    """Whether some part of the message could be a document: an attachment that is XML, a zip or an email (by its
    content, as the reader decides), or an XML/zip part without a name."""
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        for part in msg.walk():
            if part.is_multipart():
                continue
            ctype = part.get_content_type()
            if not part.get_filename() and ctype not in ("application/xml", "text/xml", "application/zip",
                                                         "application/x-zip-compressed", "message/rfc822"):
                continue  # the message's text and inline images
            if ctype == "message/rfc822":
                return True
            payload = part.get_payload(decode=True) or b""
            if _kind(part.get_filename() or "", payload) in ("xml", "zip", "eml"):
                return True
    except Exception:  # noqa: BLE001 — a malformed message: let the reader say what is wrong with it
        return True
    return False


def _new_uids(conn, after: int) -> list[int]:
    """UIDs above `after`, ascending (``UID SEARCH UID n:*`` also answers the last UID when it is below n)."""
    typ, data = conn.uid("SEARCH", None, "UID", f"{after + 1}:*")
    _check(typ, data, "la búsqueda de mensajes")
    return sorted(u for u in (int(x) for x in (data[0] or b"").split()) if u > after)


def poll(mailbox: Mailbox, *, progress=None) -> dict:
    """Read the messages above the cursor (at most FACTURADOR_RECEPTION_POLL_BATCH); return counters."""
    issuer = mailbox.issuer
    counts = {"messages": 0, "imported": 0, "already_imported": 0, "documents": 0, "errors": 0, "ignored": 0}
    conn = connect(mailbox)
    try:
        capabilities = {c.upper() for c in conn.capabilities}
        conn._folder = mailbox.folder
        _check(*conn.select(_quote(mailbox.folder)), f"abrir la carpeta {mailbox.folder}")
        uidvalidity = _uidvalidity(conn)
        renumbered = (mailbox.cursor_folder != mailbox.folder or mailbox.cursor_uidvalidity != uidvalidity)
        after = 0 if renumbered else mailbox.cursor_uid
        rescan = renumbered and Intake.objects.filter(issuer=issuer, folder=mailbox.folder, uid__isnull=False
                                                      ).exclude(uidvalidity=uidvalidity).exists()
        uids = _new_uids(conn, after)[:settings.FACTURADOR_RECEPTION_POLL_BATCH]
        known = {i.uid: i for i in Intake.objects.filter(issuer=issuer, folder=mailbox.folder,
                                                         uidvalidity=uidvalidity, uid__in=uids)}
        max_bytes = settings.FACTURADOR_RECEPTION_MAX_BYTES
        state = {"cursor": after, "saved": after, "blocked": False, "done": 0}
        entries: list = []  # (uid, what): in UID order, settled by _settle once their documents are committed
        pending_bytes = 0
        for uid in uids:
            counts["messages"] += 1
            entries.append((uid, _read_message(conn, mailbox, uidvalidity, uid, max_bytes, known.get(uid), rescan,
                                               counts)))
            if isinstance(entries[-1][1], _Pending):
                pending_bytes += len(entries[-1][1].raw)
            if len(entries) >= services.BATCH_SIZE or pending_bytes >= BATCH_BYTES:
                _settle(conn, mailbox, uidvalidity, entries, capabilities, counts, state, len(uids), progress)
                entries, pending_bytes = [], 0
        _settle(conn, mailbox, uidvalidity, entries, capabilities, counts, state, len(uids), progress)
        cursor = state["cursor"]
        if renumbered and cursor == after:  # nothing processed yet: still record the folder's new numbering
            Mailbox.objects.filter(pk=mailbox.pk).update(cursor_folder=mailbox.folder,
                                                         cursor_uidvalidity=uidvalidity, cursor_uid=after)
        if mailbox.done_folder and "MOVE" not in capabilities and "UIDPLUS" not in capabilities:
            conn.expunge()
    except (OSError, imaplib.IMAP4.error) as exc:
        logger.warning("IMAP poll of mailbox %s failed: %s", mailbox.pk, exc)
        raise MailboxError(CONNECTION_FAILED) from exc
    finally:
        try:
            conn.logout()
        except (OSError, imaplib.IMAP4.error):
            pass
    Mailbox.objects.filter(pk=mailbox.pk).update(last_poll_at=timezone.now(), last_error="")
    return counts


#: raw bytes of the messages read before their documents are filed together (besides services.BATCH_SIZE)
BATCH_BYTES = 64 * 2**20
_TAKEN, _BROKEN = "taken", "broken"


@dataclass
class _Pending:
    """A message recorded (committed) and not read yet: filed with the others of its batch."""
    intake: Intake
    raw: bytes


def _read_message(conn, mailbox, uidvalidity, uid, max_bytes, intake, rescan, counts):
    """Phase one of a message: record it (or find it recorded). Returns what `_settle` needs: an `Intake`,
    a `_Pending`, None / "ignored" (recorded under a former UIDVALIDITY: a message or ordinary mail), _TAKEN
    (another poll recorded it) or _BROKEN (it broke the reader: recorded as failed, left unflagged)."""
    try:
        if intake is not None:
            counts["already_imported"] += 1
            if intake.status == Intake.Status.RECEIVED:  # stored, then a crash before reading it
                intake = services.process_intake(intake)
            return intake
        got = _import(conn, mailbox, uidvalidity, uid, max_bytes, rescan=rescan, defer=True)
        if got is None:  # another poll took it
            return _TAKEN
        if isinstance(got, str):  # recorded under the folder's former UIDVALIDITY
            counts["already_imported"] += 1
            return None if got == "seen" else got
        if isinstance(got, Intake):  # recorded without reading: ordinary mail, or over the size cap
            if got.status == Intake.Status.IGNORED:
                counts["ignored"] += 1
            else:
                counts["imported"] += 1
                counts["errors"] += int(got.status in (Intake.Status.FAILED, Intake.Status.PARTIAL))
        return got
    except (MailboxError, OSError, imaplib.IMAP4.error):
        raise
    except Exception:  # a message that breaks the reader must not block the ones after it
        logger.exception("Reception: message %s of mailbox %s could not be processed", uid, mailbox.pk)
        _mark_broken(mailbox, uidvalidity, uid)
        return _BROKEN


def _mark_broken(mailbox, uidvalidity, uid) -> None:
    Intake.objects.filter(issuer=mailbox.issuer, folder=mailbox.folder, uidvalidity=uidvalidity, uid=uid,
                          status=Intake.Status.RECEIVED).update(
        status=Intake.Status.FAILED, errors=1, error_code="reception.intake.unexpected",
        error_message="El mensaje no se pudo procesar por un error inesperado, que quedó registrado "
                      "para el equipo técnico; el mensaje original está guardado.",
        processed_at=timezone.now())


def _settle(conn, mailbox, uidvalidity, entries, capabilities, counts, state, total, progress) -> None:
    """Phase two, for a batch of messages: file the documents of the recorded ones in one transaction
    (`services.process_intakes`), then — only once they are committed — flag each message and move the cursor
    over the leading run of settled messages (a message taken by another poll or that broke the reader stops it,
    so the next poll sees it again)."""
    pending = [what for _, what in entries if isinstance(what, _Pending)]
    if pending:
        services.process_intakes([p.intake for p in pending], [p.raw for p in pending])
    flagged = []
    for uid, what in entries:
        state["done"] += 1
        if isinstance(what, _Pending):
            what = what.intake
            if what.status == Intake.Status.FAILED and what.error_code == "reception.intake.unexpected":
                counts["errors"] += 1  # broke the reader: failed, unflagged, and the cursor stops before it
                state["blocked"] = True
                continue
            counts["imported"] += 1
            counts["documents"] += what.documents
            counts["errors"] += int(what.status in (Intake.Status.FAILED, Intake.Status.PARTIAL))
        if what in (_TAKEN, _BROKEN):
            counts["errors"] += int(what == _BROKEN)
            state["blocked"] = True
            continue
        if what == "ignored" or getattr(what, "status", None) == Intake.Status.IGNORED:
            pass  # ordinary mail stays as it is in the mailbox
        else:
            _flag(conn, mailbox, uid, capabilities)
            if isinstance(what, Intake):
                flagged.append(what.pk)
        if not state["blocked"]:
            state["cursor"] = uid
        if progress:
            progress(state["done"], total)
    if flagged:
        Intake.objects.filter(pk__in=flagged).update(flagged=True)
    if state["cursor"] != state["saved"]:
        Mailbox.objects.filter(pk=mailbox.pk).update(cursor_folder=mailbox.folder, cursor_uidvalidity=uidvalidity,
                                                     cursor_uid=state["cursor"])
        state["saved"] = state["cursor"]


def _import(conn, mailbox: Mailbox, uidvalidity: int, uid: int, max_bytes: int, *, rescan: bool = False,
            defer: bool = False):
    """The recorded and processed `Intake`; None when another poll recorded it; "seen" when `rescan` (the
    folder was renumbered) and the same message is recorded under another UIDVALIDITY ("ignored" if it was ordinary
    mail then); an ignored `Intake` for a message without documents."""
    issuer = mailbox.issuer
    typ, data = conn.uid("FETCH", str(uid), "(RFC822.SIZE)")
    _check(typ, data, "leer el tamaño del mensaje")
    m = re.search(rb"RFC822\.SIZE (\d+)", data[0] if isinstance(data[0], bytes) else b"")
    size = int(m.group(1)) if m else 0
    where = {"folder": mailbox.folder, "uidvalidity": uidvalidity, "uid": uid}
    if size > max_bytes:
        try:
            intake = services.record_intake(issuer, source=Source.IMAP, name=f"mensaje-{uid}.eml", data=b"", **where)
        except IntegrityError:
            return None
        message = (f"El mensaje {uid} ocupa {size:,} bytes; el máximo es {max_bytes:,}. No se descargó.")
        Intake.objects.filter(pk=intake.pk).update(status=Intake.Status.FAILED, errors=1, size=size,
                                                   error_code="reception.file.too_large", error_message=message,
                                                   processed_at=timezone.now())
        intake.refresh_from_db()
        return intake
    typ, data = conn.uid("FETCH", str(uid), "(BODY.PEEK[])")
    _check(typ, data, "descargar el mensaje")
    raw = next((item[1] for item in data if isinstance(item, tuple)), b"")
    headers = _headers(raw)
    if rescan:
        same = Q(sha256=hashlib.sha256(raw).hexdigest())
        if headers["message_id"]:
            same |= Q(message_id=headers["message_id"])
        seen = Intake.objects.filter(same, issuer=issuer, folder=mailbox.folder, uid__isnull=False).exclude(
            uidvalidity=uidvalidity).values_list("status", flat=True).first()
        if seen is not None:
            return "ignored" if seen == Intake.Status.IGNORED else "seen"
    if not _holds_documents(raw):
        try:
            intake = services.record_intake(issuer, source=Source.IMAP, name=f"mensaje-{uid}.eml", data=b"",
                                            **where, **headers)
        except IntegrityError:
            return None
        values = dict(status=Intake.Status.IGNORED, size=len(raw), sha256=hashlib.sha256(raw).hexdigest(),
                      processed_at=timezone.now(),
                      results=[{"member": intake.original_name, "outcome": "ignored",
                                "code": "reception.mail.no_documents", "message": IGNORED_MESSAGE}])
        Intake.objects.filter(pk=intake.pk).update(**values)
        for name, value in values.items():
            setattr(intake, name, value)
        return intake
    try:
        intake = services.record_intake(issuer, source=Source.IMAP, name=f"mensaje-{uid}.eml", data=raw,
                                        **where, **headers)
    except IntegrityError:
        return None
    if defer:  # read and filed with the others of the poll's batch (`_settle`)
        return _Pending(intake, raw)
    return services.process_intake(intake, raw)
