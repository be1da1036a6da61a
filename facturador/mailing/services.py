"""Rules of a mass send: which invoices, who receives them, what the message says, what is attached.

Read-only queries the channels share (`get_send`, `ledger`, `selection`) live here too. The user actions
that change data are in `mailing.actions`; a broken rule is a `core.errors` refusal (`mailing.<subject>.<reason>`).
"""

from __future__ import annotations

import html
import os
import re
import socket
from dataclasses import dataclass
from email.utils import make_msgid

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db.models import Count, Q

from facturador.core.errors import Invalid, NotFound
from facturador.core.models import IssuedDocument
from facturador.mailing.models import (
    AllowedTestRecipient,
    Delivery,
    MailSend,
    Suppression,
)
from facturador.printing.money import format_money

# --- ranges -------------------------------------------------------------------------------------

_RANGE = re.compile(r"^\s*([A-Za-z]{0,4})\s*(\d+)\s*-\s*([A-Za-z]{0,4})\s*(\d+)\s*$")


def parse_range(text: str) -> dict:
    """"FE1-FE500" or "1-500" -> {"prefix": "FE", "from": 1, "to": 500}."""
    m = _RANGE.match(text or "")
    if not m:
        raise Invalid("mailing.range.format", f"Rango no válido: «{text}». Use por ejemplo FE1-FE500.",
                      field="ranges", details={"range": text})
    p1, n1, p2, n2 = m.group(1).upper(), int(m.group(2)), m.group(3).upper(), int(m.group(4))
    if p2 and p1 != p2:
        raise Invalid("mailing.range.prefix", f"El rango «{text}» mezcla prefijos distintos.", field="ranges",
                      details={"range": text})
    return _ordered(text, {"prefix": p1, "from": n1, "to": n2})


def _ordered(text, r: dict) -> dict:
    if r["to"] < r["from"]:
        raise Invalid("mailing.range.order", f"En el rango «{text}» el número final es menor que el inicial.",
                      field="ranges", details={"range": text})
    return r


def clean_ranges(value) -> list[dict]:
    """The ranges as any channel gives them: text ("FE1-FE500, FE800-FE900", one per line...), or a list
    of such texts and {"prefix", "from", "to"} objects. Refuses with `mailing.range.*`."""
    out = []
    for item in [value] if isinstance(value, str) else list(value or []):
        if isinstance(item, str):
            out += [parse_range(p) for p in re.split(r"[,\n;]+", item) if p.strip()]
            continue
        try:
            prefix, start, end = str(item.get("prefix") or "").strip().upper(), int(item["from"]), int(item["to"])
        except (AttributeError, KeyError, TypeError, ValueError):
            raise Invalid("mailing.range.format", f"Rango no válido: «{item}». Use por ejemplo FE1-FE500.",
                          field="ranges", details={"range": str(item)}) from None
        text = f"{prefix}{start}-{prefix}{end}"
        if not re.fullmatch(r"[A-Z]{0,4}", prefix) or start < 0:
            raise Invalid("mailing.range.format", f"Rango no válido: «{text}». Use por ejemplo FE1-FE500.",
                          field="ranges", details={"range": text})
        out.append(_ordered(text, {"prefix": prefix, "from": start, "to": end}))
    if not out:
        raise Invalid("mailing.range.required", "Indique al menos un rango de facturas.", field="ranges")
    return out


def check_period(date_from, date_to):
    if date_from and date_to and date_to < date_from:
        raise Invalid("mailing.period.order", "La fecha final del periodo es anterior a la inicial.", field="date_to")


def documents_for(issuer, ranges, date_from=None, date_to=None):
    """Issued documents of `issuer` inside any of the ranges (and the issue-date period, if given)."""
    cond = Q()
    for r in ranges:
        cond |= Q(prefix=r.get("prefix", ""), number__gte=r["from"], number__lte=r["to"])
    qs = IssuedDocument.objects.filter(issuer=issuer).filter(cond)
    if date_from:
        qs = qs.filter(issue_date__gte=date_from)
    if date_to:
        qs = qs.filter(issue_date__lte=date_to)
    return qs.order_by("prefix", "number")


def customer_key(doc) -> str:
    return doc.customer_tax_id or (doc.customer_email or "").lower() or doc.customer_name


def documents_of_send(send: MailSend):
    qs = documents_for(send.issuer, send.ranges, send.date_from, send.date_to)
    if send.recipients == MailSend.Recipients.SELECTED:
        wanted = set(send.selected_customers)
        return [d for d in qs if customer_key(d) in wanted]
    return list(qs)


# --- recipients and exclusions --------------------------------------------------------------------

def normalize_email(value: str) -> str:
    return (value or "").strip().lower()


def exclusion_for(issuer, email: str, legally_required: bool, suppressed: dict | None = None) -> str:
    """Why this address must not receive the message ("" when it may)."""
    if not email:
        return Delivery.Exclusion.NO_EMAIL
    try:
        validate_email(email)
    except ValidationError:
        return Delivery.Exclusion.INVALID
    if suppressed is None:
        suppressed = suppressions(issuer, [email])
    reasons = suppressed.get(email, set())
    if Suppression.Reason.HARD_BOUNCE in reasons:
        return Delivery.Exclusion.BOUNCED
    if not legally_required and Suppression.Reason.OPTED_OUT in reasons:
        return Delivery.Exclusion.OPTED_OUT
    return ""


def suppressions(issuer, emails) -> dict[str, set]:
    out: dict[str, set] = {}
    emails = list(set(emails))
    for i in range(0, len(emails), 500):
        for email, reason in Suppression.objects.filter(issuer=issuer, email__in=emails[i:i + 500]).values_list("email", "reason"):
            out.setdefault(email, set()).add(reason)
    return out


def message_id_domain() -> str:
    sender = settings.DEFAULT_FROM_EMAIL
    m = re.search(r"@([^>\s]+)", sender)
    return m.group(1) if m else "facturador.local"


def build_ledger(send: MailSend) -> int:
    """Create the ledger rows (one per invoice) for a registered send. Idempotent."""
    docs = documents_of_send(send)
    existing = set(Delivery.objects.filter(send=send).values_list("document_id", flat=True))
    emails = [normalize_email(d.customer_email) for d in docs]
    supp = suppressions(send.issuer, [e for e in emails if e])
    domain = message_id_domain()
    rows = []
    for doc in docs:
        if doc.pk in existing:
            continue
        email = normalize_email(doc.customer_email)
        excl = exclusion_for(send.issuer, email, send.legally_required, supp)
        rows.append(Delivery(
            issuer=send.issuer, send=send, document=doc, email=email, customer_name=doc.customer_name,
            status=Delivery.Status.EXCLUDED if excl else Delivery.Status.PENDING, exclusion=excl,
            # Fixed for the life of the row: retries and a deliberate resend reuse it, so mail clients can
            # de-duplicate and a bounce can always be matched back to this line of the ledger.
            message_id=make_msgid(idstring=f"fm{send.pk}.{doc.pk}", domain=domain),
        ))
    Delivery.objects.bulk_create(rows, batch_size=500)
    return len(rows)


# --- templates: a tiny sandboxed substitution ------------------------------------------------------

VARIABLES = {
    "cliente": "Nombre del cliente",
    "identificacion": "Identificación del cliente",
    "numero": "Número de la factura (prefijo y consecutivo)",
    "fecha": "Fecha de expedición",
    "total": "Valor total",
    "moneda": "Moneda",
    "vencimiento": "Fecha de vencimiento",
    "periodo": "Periodo facturado",
    "emisor": "Razón social del emisor",
    "nit_emisor": "NIT / RFC del emisor",
    "cufe": "CUFE / UUID",
    "tipo_documento": "Tipo de documento («Factura electrónica», «Factura», «Nota crédito»...)",
    "documento": "El documento con su artículo («la factura electrónica», «la factura», «la nota crédito»...)",
    "plazo": "«, con vencimiento el dd/mm/aaaa», o nada si el documento no tiene vencimiento",
    "adjuntos": "Lo adjunto a ese documento («el documento en PDF y XML», «el documento en PDF», el zip de la DIAN)",
}

# (tipo_documento, documento) per document type; an invoice without XML (a plain PDF invoice) is a "factura"
_DOCUMENT_WORDS = {
    "invoice": ("Factura electrónica", "la factura electrónica"),
    "credit_note": ("Nota crédito", "la nota crédito"),
    "debit_note": ("Nota débito", "la nota débito"),
    "support_document": ("Documento soporte", "el documento soporte"),
    "contingency": ("Factura de contingencia", "la factura de contingencia"),
    "pos": ("Documento equivalente POS", "el documento equivalente POS"),
    "cfdi": ("Factura electrónica (CFDI)", "la factura electrónica (CFDI)"),
}
_PLAIN_INVOICE = ("Factura", "la factura")


def document_words(doc: IssuedDocument) -> tuple[str, str]:
    """(tipo_documento, documento): what the document is called in a message."""
    if doc.document_type == "invoice" and not (doc.uuid or doc.xml or doc.attachment):
        return _PLAIN_INVOICE
    return _DOCUMENT_WORDS.get(doc.document_type, _PLAIN_INVOICE)


def attachments_phrase(names: list[str]) -> str:
    """What a message says is attached, from the file names attachment_names() gives.

    >>> attachments_phrase(["FE1.pdf", "FE1.xml"]), attachments_phrase(["FE1.pdf"])
    ('el documento en PDF y XML', 'el documento en PDF')
    >>> attachments_phrase(["zNC3.zip"])
    'el archivo zip de la DIAN con el documento electrónico (XML) y su representación gráfica (PDF)'
    """
    kinds = {n.rsplit(".", 1)[-1].lower() for n in names}
    if "zip" in kinds:
        return "el archivo zip de la DIAN con el documento electrónico (XML) y su representación gráfica (PDF)"
    if {"pdf", "xml"} <= kinds:
        return "el documento en PDF y XML"
    if "pdf" in kinds:
        return "el documento en PDF"
    if "xml" in kinds:
        return "el documento en XML"
    return "el documento"
_VAR = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


class TemplateVariableError(Invalid):
    """A subject or body using anything but the {{variables}} of VARIABLES."""


def check_template(text: str, field: str):
    """Only {{variable}} placeholders from VARIABLES are allowed; anything else is a clear error."""
    if "{%" in text or "{#" in text:
        raise TemplateVariableError("mailing.template.syntax", "Solo se permiten variables de la forma {{cliente}}.",
                                    field=field)
    for name in _VAR.findall(text):
        if name not in VARIABLES:
            raise TemplateVariableError(
                "mailing.template.variable",
                f"La variable {{{{{name}}}}} no existe. Variables disponibles: "
                + ", ".join("{{%s}}" % v for v in VARIABLES) + ".", field=field, details={"variable": name})
    rest = _VAR.sub("", text)
    if "{{" in rest or "}}" in rest:
        raise TemplateVariableError("mailing.template.syntax", "Hay llaves {{ }} sin cerrar en el texto.", field=field)


def context_for(doc: IssuedDocument, issuer) -> dict[str, str]:
    kind, with_article = document_words(doc)
    return {
        "cliente": doc.customer_name,
        "identificacion": doc.customer_tax_id,
        "numero": doc.full_number,
        "fecha": doc.issue_date.strftime("%d/%m/%Y"),
        "total": format_money(doc.total, doc.currency),  # the currency's country rule
        "moneda": doc.currency,
        "vencimiento": doc.due_date.strftime("%d/%m/%Y") if doc.due_date else "sin vencimiento",
        "periodo": doc.period,
        "emisor": issuer.legal_name,
        "nit_emisor": issuer.display_tax_id,
        "cufe": doc.uuid,
        "tipo_documento": kind,
        "documento": with_article,
        "plazo": f", con vencimiento el {doc.due_date:%d/%m/%Y}" if doc.due_date else "",
        "adjuntos": attachments_phrase(attachment_names(doc)),
    }


def render(text: str, context: dict[str, str], escape: bool = False) -> str:
    """Substitute {{variables}}. With escape=True the result is HTML: text and values are escaped."""
    out, pos = [], 0
    for m in _VAR.finditer(text):
        chunk = text[pos:m.start()]
        value = context.get(m.group(1), "")
        out.append(html.escape(chunk) if escape else chunk)
        out.append(html.escape(value) if escape else value)
        pos = m.end()
    out.append(html.escape(text[pos:]) if escape else text[pos:])
    return "".join(out)


def render_html(body: str, context: dict) -> str:
    escaped = render(body, context, escape=True)
    paragraphs = [p.replace("\n", "<br>") for p in re.split(r"\n{2,}", escaped.strip())]
    return "<html><body>" + "".join(f"<p>{p}</p>" for p in paragraphs) + "</body></html>"


# --- attachments and the message -----------------------------------------------------------------

@dataclass
class Attachment:
    filename: str
    content: bytes
    mimetype: str

    @property
    def kind(self):
        return {"application/zip": "zip", "application/pdf": "pdf", "application/xml": "xml"}.get(self.mimetype, "")


def _read(field) -> bytes:
    with field.open("rb") as fh:
        return fh.read()


def attachments_for(doc: IssuedDocument) -> list[Attachment]:
    """DIAN: the AttachedDocument zip (it carries the XML and the PDF, Anexo técnico) when there is one;
    otherwise (CFDI, or DIAN before the zip exists) the PDF and the XML."""
    doc.ensure_files()
    out = []
    if doc.attachment:
        out.append(Attachment(os.path.basename(doc.attachment.name), _read(doc.attachment), "application/zip"))
        return out
    if doc.pdf:
        out.append(Attachment(os.path.basename(doc.pdf.name), _read(doc.pdf), "application/pdf"))
    if doc.xml:
        out.append(Attachment(os.path.basename(doc.xml.name), _read(doc.xml), "application/xml"))
    return out


def base_url() -> str:
    return settings.FACTURADOR_BASE_URL.rstrip("/")


def unsubscribe_token(issuer_id: int, email: str) -> str:
    return signing.dumps({"i": issuer_id, "e": email}, salt="mailing.unsubscribe", compress=True)


def read_unsubscribe_token(token: str) -> tuple[int, str]:
    data = signing.loads(token, salt="mailing.unsubscribe")
    return int(data["i"]), data["e"]


def from_address(issuer) -> str:
    from email.utils import formataddr, parseaddr

    configured = settings.MAILING_FROM_EMAIL or settings.DEFAULT_FROM_EMAIL
    _name, addr = parseaddr(configured)
    return formataddr((issuer.trade_name or issuer.legal_name, addr))


def build_message(send: MailSend, doc: IssuedDocument, to: str, message_id: str,
                  attachments: list[Attachment] | None = None) -> EmailMultiAlternatives:
    """Exactly what a customer receives (the test email uses the same function)."""
    issuer = send.issuer
    ctx = context_for(doc, issuer)
    headers = {"Message-ID": message_id}
    if not send.legally_required:
        url = f"{base_url()}/envios/baja/{unsubscribe_token(issuer.pk, normalize_email(to))}/"
        headers["List-Unsubscribe"] = f"<{url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    reply_to = send.reply_to or issuer.email
    msg = EmailMultiAlternatives(
        subject=render(send.subject, ctx).replace("\n", " ").strip(),
        body=render(send.body, ctx),
        from_email=from_address(issuer),
        to=[to],
        reply_to=[reply_to] if reply_to else None,
        headers=headers,
    )
    msg.attach_alternative(render_html(send.body, ctx), "text/html")
    for a in attachments if attachments is not None else attachments_for(doc):
        msg.attach(a.filename, a.content, a.mimetype)
    return msg


# --- queries the channels share -------------------------------------------------------------------

def get_send(issuer, pk) -> MailSend:
    """The send `pk` of `issuer` (of any issuer when None: the CLI without --issuer), with its job (its state
    derives from it), or `mailing.send.not_found`."""
    sends = MailSend.objects.select_related("issuer", "job")
    send = (sends if issuer is None else sends.filter(issuer=issuer)).filter(pk=pk).first()
    if send is None:
        raise NotFound("mailing.send.not_found", f"No existe el envío {pk}.", field="send", details={"send": pk})
    return send


def ledger(send: MailSend, status: str = ""):
    """The send's ledger rows, optionally of one delivery status."""
    rows = Delivery.objects.filter(send=send).select_related("document").order_by("id")
    return rows.filter(status=status) if status else rows


def selection(issuer, docs, *, recipients, selected, legally_required) -> dict:
    """What a registration would select (the form's live preview): its documents, the customers to choose
    from, the exclusions by reason and how many would be sent."""
    customers = {}
    for d in docs:
        customers.setdefault(customer_key(d), d)
    if recipients == MailSend.Recipients.SELECTED:
        docs = [d for d in docs if customer_key(d) in set(selected)]
    emails = [normalize_email(d.customer_email) for d in docs]
    supp = suppressions(issuer, [e for e in emails if e])
    excluded = {}
    for e in emails:
        reason = exclusion_for(issuer, e, legally_required, supp)
        if reason:
            label = Delivery.Exclusion(reason).label
            excluded[label] = excluded.get(label, 0) + 1
    return {"documents": docs, "customers": list(customers.items()), "excluded": excluded,
            "to_send": len(docs) - sum(excluded.values())}


def attachment_names(doc: IssuedDocument) -> list[str]:
    """The file names attachments_for(doc) attaches, without reading the files (they are produced first if the
    owning app has not written them yet: a note's DIAN zip exists only then)."""
    doc.ensure_files()
    if doc.attachment:
        return [os.path.basename(doc.attachment.name)]
    return [os.path.basename(f.name) for f in (doc.pdf, doc.xml) if f]


# --- counters ------------------------------------------------------------------------------------

def counts(send: MailSend) -> dict[str, int]:
    out = {s: 0 for s in Delivery.Status.values}
    for row in Delivery.objects.filter(send=send).values("status").annotate(n=Count("id")):
        out[row["status"]] = row["n"]
    out["total"] = sum(out[s] for s in Delivery.Status.values)
    out["to_send"] = out["total"] - out["excluded"]
    return out


_FRAME_CACHE: dict = {}


def _header(value: str) -> str:
    from email.header import Header

    try:
        value.encode("ascii")
        charset = "us-ascii"
    except UnicodeEncodeError:
        charset = "utf-8"
    return Header(value, charset, maxlinelen=78, header_name="Subject").encode(linesep="\r\n")


def _qp(text: str) -> bytes:
    import binascii

    data = text.replace("\r\n", "\n").encode("utf-8")
    return binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")


def _frame(send: MailSend) -> tuple[str, str]:
    """From / Reply-To header lines: the same for every message of a send."""
    from email.utils import formataddr, parseaddr

    key = (send.pk, send.reply_to, send.issuer_id, send.issuer.legal_name, send.issuer.trade_name, send.issuer.email)
    if key not in _FRAME_CACHE:
        name, addr = parseaddr(from_address(send.issuer))
        reply_to = send.reply_to or send.issuer.email
        _FRAME_CACHE.clear() if len(_FRAME_CACHE) > 100 else None
        _FRAME_CACHE[key] = (formataddr((name, addr), charset="utf-8"), reply_to)
    return _FRAME_CACHE[key]


def message_bytes(send: MailSend, doc: IssuedDocument, to: str, message_id: str,
                  attachments: list[Attachment] | None = None) -> bytes:
    """The wire form of the message build_message(...) describes, assembled directly (RFC 5322/2045):
    the stdlib generator re-folds every base64 line of the attachments, which was most of the CPU of a send.
    Same headers, parts, encodings; the tests parse what the SMTP server receives."""
    import base64
    import uuid
    from email.utils import encode_rfc2231, formatdate

    issuer = send.issuer
    if attachments is None:
        attachments = attachments_for(doc)
    ctx = context_for(doc, issuer)
    from_header, reply_to = _frame(send)
    lines = [f"Subject: {_header(render(send.subject, ctx).replace(chr(10), ' ').strip())}",
             f"From: {from_header}", f"To: {to}", f"Date: {formatdate(localtime=True)}", f"Message-ID: {message_id}"]
    if reply_to:
        lines.append(f"Reply-To: {reply_to}")
    if not send.legally_required:
        url = f"{base_url()}/envios/baja/{unsubscribe_token(issuer.pk, normalize_email(to))}/"
        lines += [f"List-Unsubscribe: <{url}>", "List-Unsubscribe-Post: List-Unsubscribe=One-Click"]
    mixed = f"=_mix_{uuid.uuid4().hex}".encode()
    alt = f"=_alt_{uuid.uuid4().hex}".encode()
    lines += ["MIME-Version: 1.0", f'Content-Type: multipart/mixed; boundary="{mixed.decode()}"']
    out = ["\r\n".join(lines).encode(), b"\r\n\r\n--", mixed,
           b'\r\nContent-Type: multipart/alternative; boundary="', alt, b'"\r\n\r\n--', alt,
           b"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
           _qp(render(send.body, ctx)), b"\r\n--", alt,
           b"\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
           _qp(render_html(send.body, ctx)), b"\r\n--", alt, b"--\r\n"]
    for a in attachments:
        try:
            a.filename.encode("ascii")
            disposition = f'attachment; filename="{a.filename}"'
        except UnicodeEncodeError:
            disposition = f"attachment; filename*={encode_rfc2231(a.filename, 'utf-8')}"
        out += [b"--", mixed, f"\r\nContent-Type: {a.mimetype}\r\nContent-Transfer-Encoding: base64\r\n"
                f"Content-Disposition: {disposition}\r\n\r\n".encode(),
                base64.encodebytes(a.content).replace(b"\n", b"\r\n")]
    out += [b"--", mixed, b"--\r\n"]
    return b"".join(out)


def webhook_token() -> str:
    """Shared secret of the bounce webhook (setting MAILING_WEBHOOK_TOKEN); "" = disabled."""
    return settings.MAILING_WEBHOOK_TOKEN


# --- test emails -----------------------------------------------------------------------------------

def allowed_test_recipients(issuer) -> list[str]:
    """The addresses the issuer's administrator allows test emails to (besides each user's own)."""
    return list(AllowedTestRecipient.objects.filter(issuer=issuer).order_by("email").values_list("email", flat=True))


def may_receive_test(issuer, actor, email: str) -> bool:
    """Whether `actor` may send a test email to `email` (normalized): the actor's own address (a platform
    user's email; on the CLI, the `--as` user's) or one of the issuer's test recipients."""
    own = normalize_email(getattr(actor.user, "email", "") or "") if actor.user is not None else ""
    if own and email == own:
        return True
    return AllowedTestRecipient.objects.filter(issuer=issuer, email=email).exists()


# --- the platform's mail server -----------------------------------------------------------------------------

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
SERVER_CHECK_SECONDS = 60  # how long the answer of the check below is kept (cache)


def mail_server_notice() -> str | None:
    """A notice for the mailing pages when the platform sends through an SMTP server on this machine (the
    default EMAIL_HOST 127.0.0.1:25 of a fresh install) and nothing listens there: test emails and sends
    would fail. One connection attempt to the local port (answered at once: no page waits on the network),
    its answer cached for a minute. Remote servers are not checked."""
    host, port = settings.EMAIL_HOST, int(settings.EMAIL_PORT)
    if settings.EMAIL_BACKEND != SMTP_BACKEND or host not in LOCAL_HOSTS:
        return None
    key = f"mailing:smtp-listening:{host}:{port}"
    listening = cache.get(key)
    if listening is None:
        try:
            with socket.create_connection((host, port), timeout=0.3):
                listening = True
        except OSError:
            listening = False
        cache.set(key, listening, SERVER_CHECK_SECONDS)
    if listening:
        return None
    return (f"No hay un servidor de correo configurado: la plataforma envía por {host}:{port} y ahí no responde "
            "ningún servidor SMTP, así que las pruebas y los envíos fallarán. El administrador de la plataforma "
            "debe configurar EMAIL_HOST y EMAIL_PORT (y, si el servidor lo pide, EMAIL_HOST_USER, "
            "EMAIL_HOST_PASSWORD y EMAIL_USE_TLS); vea «Correo» en el README.")
