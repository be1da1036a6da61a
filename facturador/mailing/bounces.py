"""Bounces: delivery status notifications (RFC 3464 multipart/report) from a maildir or a webhook.

A DSN names the failed recipient (Final-Recipient / Original-Recipient), the status (5.x.x permanent,
4.x.x temporary) and quotes the original message's headers, whose Message-ID points at exactly one
ledger row (every row has its own Message-ID). A permanent failure marks the row `bounced` and puts
the address on the issuer's suppression list (future sends exclude it, "rebote permanente anterior").
"""

from __future__ import annotations

import email
import logging
import mailbox
from email import policy

from django.utils import timezone

from facturador.mailing.models import Delivery, Suppression
from facturador.mailing.services import normalize_email

logger = logging.getLogger(__name__)


def _addr(value) -> str:
    """"rfc822; user@example.com" -> "user@example.com"."""
    value = str(value or "")
    if ";" in value:
        value = value.split(";", 1)[1]
    return normalize_email(value.strip().strip("<>"))


def parse_dsn(msg) -> dict | None:
    """{"message_id", "recipients": [{"email", "original", "action", "status", "diagnostic"}]} or None."""
    if msg.get_content_type() != "multipart/report":
        return None
    out = {"message_id": "", "recipients": []}
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            for block in part.get_payload():
                if not (block.get("Final-Recipient") or block.get("Original-Recipient")):
                    continue
                out["recipients"].append({
                    "email": _addr(block.get("Final-Recipient") or block.get("Original-Recipient")),
                    "original": _addr(block.get("Original-Recipient")),
                    "action": str(block.get("Action", "")).strip().lower(),
                    "status": str(block.get("Status", "")).strip(),
                    "diagnostic": str(block.get("Diagnostic-Code", "")).strip(),
                })
        elif ctype == "message/rfc822" and not out["message_id"]:
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) else inner
            out["message_id"] = str(inner.get("Message-ID", "")).strip()
        elif ctype in ("text/rfc822-headers", "message/rfc822-headers") and not out["message_id"]:
            headers = email.message_from_string(part.get_content() if hasattr(part, "get_content") else part.get_payload(),
                                                policy=policy.default)
            out["message_id"] = str(headers.get("Message-ID", "")).strip()
    return out


def apply_bounce(*, message_id: str = "", email: str = "", hard: bool = True, detail: str = "",
                 complaint: bool = False) -> bool:
    """Mark the ledger row of `message_id` (or, without it, the latest row sent to `email`) bounced."""
    email = normalize_email(email)
    row = None
    if message_id:
        mid = message_id.strip()
        mid = mid if mid.startswith("<") else f"<{mid}>"
        row = Delivery.objects.filter(message_id=mid).select_related("send").first()
    elif email:
        row = (Delivery.objects.filter(email=email, status__in=[Delivery.Status.SENT, Delivery.Status.UNKNOWN])
               .order_by("-sent_at", "-id").first())
    if row is None:
        logger.info("Bounce for %s / %s matches no delivery", message_id, email)
        return False
    email = email or row.email
    if hard:
        Delivery.objects.filter(pk=row.pk).exclude(status=Delivery.Status.EXCLUDED).update(
            status=Delivery.Status.BOUNCED, bounced_at=timezone.now(), bounce_detail=detail[:2000])
        reason = Suppression.Reason.OPTED_OUT if complaint else Suppression.Reason.HARD_BOUNCE
        Suppression.objects.get_or_create(issuer_id=row.issuer_id, email=email, reason=reason,
                                          defaults={"detail": detail[:2000]})
    else:
        Delivery.objects.filter(pk=row.pk).update(bounce_detail=f"Aviso temporal: {detail}"[:2000])
    return True


def apply_events(events) -> dict:
    """Bounce / complaint events of a provider's webhook: {"message_id", "email", "type": hard|soft|complaint,
    "detail"} each."""
    result = {"matched": 0, "unmatched": 0}
    for ev in events:
        ok = apply_bounce(message_id=ev.get("message_id", ""), email=ev.get("email", ""),
                          hard=ev.get("type", "hard") in ("hard", "complaint"), detail=ev.get("detail", ""),
                          complaint=ev.get("type") == "complaint")
        result["matched" if ok else "unmatched"] += 1
    return result


def process_dsn(msg) -> dict:
    result = {"matched": 0, "unmatched": 0, "ignored": 0}
    dsn = parse_dsn(msg)
    if dsn is None or not dsn["recipients"]:
        result["ignored"] += 1
        return result
    for r in dsn["recipients"]:
        if r["action"] not in ("failed", "delayed"):
            result["ignored"] += 1
            continue
        hard = r["action"] == "failed" and r["status"].startswith("5")
        detail = " ".join(x for x in (r["status"], r["diagnostic"]) if x)
        ok = apply_bounce(message_id=dsn["message_id"], email=r["email"], hard=hard, detail=detail)
        result["matched" if ok else "unmatched"] += 1
    return result


def process_dsn_bytes(data: bytes) -> dict:
    return process_dsn(email.message_from_bytes(data, policy=policy.default))


def process_maildir(path: str) -> dict:
    """Read new notifications from a maildir; processed ones are moved to cur/ with the Seen flag."""
    box = mailbox.Maildir(path, factory=None, create=False)
    total = {"matched": 0, "unmatched": 0, "ignored": 0, "messages": 0}
    for key in list(box.keys()):
        m = box.get_message(key)
        if "S" in m.get_flags():
            continue
        with box.get_file(key) as fh:
            data = fh.read()
        for k, v in process_dsn_bytes(data).items():
            total[k] += v
        total["messages"] += 1
        m.set_subdir("cur")
        m.add_flag("S")
        box[key] = m
    return total
