"""Reception (recepción): suppliers' electronic documents received by an issuer, as the buyer.

- `Mailbox`: the IMAP mailbox behind the issuer's reception address (the address itself is one fact, kept where
  it is registered: `habilitacion.Enablement.reception_email`, else `Issuer.email`), polled by a job.
- `Intake`: one arrival — an uploaded file, a file given on the CLI, or one email — recorded before its
  documents are filed, so nothing is lost and errors stay visible. An email's IMAP UIDVALIDITY + UID are
  unique per mailbox folder: a message is imported once even if flagging it failed.
- `ReceivedDocument`: one supplier invoice / note (Colombia) or CFDI (Mexico), verified and filed with its
  files; unique per issuer by CUFE/CUDE/UUID (a second arrival is counted, not stored again).

The DIAN events (RADIAN) and SAT status of a received document hang off `ReceivedDocument`
(`dian_state`, `sat_state`, ...).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from facturador.core.crypto import EncryptedField
from facturador.core.models import Country, IssuerScoped, Job


class Source(models.TextChoices):
    UPLOAD = "upload", _("Carga (web o API)")
    IMAP = "imap", _("Buzón de correo")
    CLI = "cli", _("Línea de comandos")


def intake_upload_path(instance, filename):
    return f"issuers/{instance.issuer_id}/reception/intake/{uuid.uuid4().hex}/{filename}"


def document_upload_path(instance, filename):
    """One directory per received document for all its files (one directory to create, not four)."""
    folder = instance.__dict__.get("_upload_dir")
    if folder is None:
        folder = instance.__dict__["_upload_dir"] = uuid.uuid4().hex
    return f"issuers/{instance.issuer_id}/reception/documents/{folder}/{filename}"


class Mailbox(IssuerScoped):
    """The issuer's reception mailbox (IMAP), one per issuer."""

    class Security(models.TextChoices):
        SSL = "ssl", _("SSL/TLS (IMAPS, puerto 993)")
        STARTTLS = "starttls", _("STARTTLS (puerto 143)")
        NONE = "none", _("Sin cifrado (solo servidores locales autorizados)")

    enabled = models.BooleanField(_("consultar el buzón periódicamente"), default=True)
    host = models.CharField(_("servidor IMAP"), max_length=255)
    port = models.PositiveIntegerField(_("puerto"), default=993)
    security = models.CharField(_("seguridad"), max_length=10, choices=Security.choices, default=Security.SSL)
    username = models.CharField(_("usuario"), max_length=255)
    password = EncryptedField(text=True, null=True, blank=True)
    folder = models.CharField(_("carpeta"), max_length=200, default="INBOX")
    done_folder = models.CharField(_("mover los procesados a la carpeta"), max_length=200, blank=True,
                                   help_text=_("Vacío: solo se marcan como leídos."))
    poll_minutes = models.PositiveIntegerField(_("consultar cada (minutos)"), default=5)
    last_poll_at = models.DateTimeField(_("última consulta"), null=True, blank=True)
    last_error = models.CharField(_("último error"), max_length=500, blank=True)
    last_job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # the poll's cursor: in `cursor_folder` with `cursor_uidvalidity`, every message up to UID `cursor_uid` was
    # processed; a poll reads UIDs above it, whatever their flags (mailbox.poll)
    cursor_folder = models.CharField(max_length=200, blank=True)
    cursor_uidvalidity = models.BigIntegerField(null=True, blank=True)
    cursor_uid = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer"], name="reception_mailbox_one_per_issuer")]
        verbose_name = _("buzón de recepción")
        verbose_name_plural = _("buzones de recepción")

    def __str__(self):
        return f"{self.username}@{self.host}:{self.port}/{self.folder}"


class Intake(IssuerScoped):
    """One arrival (a file or an email) and what became of each document in it."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Recibido, sin procesar")
        PROCESSED = "processed", _("Procesado")
        PARTIAL = "partial", _("Procesado con errores")
        FAILED = "failed", _("Sin documentos válidos")
        #: IMAP: an ordinary message (no xml, zip or eml attached): not an invoice, not an error; its body is not kept
        IGNORED = "ignored", _("Ignorado: sin facturas adjuntas")

    source = models.CharField(_("origen"), max_length=10, choices=Source.choices)
    status = models.CharField(_("estado"), max_length=10, choices=Status.choices, default=Status.RECEIVED)
    original_name = models.CharField(_("archivo"), max_length=255, blank=True)
    file = models.FileField(_("archivo recibido"), upload_to=intake_upload_path, max_length=300, blank=True)
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    # IMAP: where the message was; (issuer, folder, uidvalidity, uid) is unique, which makes polling idempotent
    folder = models.CharField(max_length=200, blank=True)
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    uid = models.BigIntegerField(null=True, blank=True)
    message_id = models.CharField(max_length=300, blank=True)
    mail_from = models.CharField(_("remitente"), max_length=300, blank=True)
    subject = models.CharField(_("asunto"), max_length=300, blank=True)
    flagged = models.BooleanField(default=False, help_text="IMAP: the message was marked \\Seen / moved")
    documents = models.PositiveIntegerField(_("documentos nuevos"), default=0)
    duplicates = models.PositiveIntegerField(_("duplicados"), default=0)
    set_aside = models.PositiveIntegerField(_("apartados"), default=0)
    errors = models.PositiveIntegerField(_("errores"), default=0)
    error_code = models.CharField(max_length=80, blank=True)
    error_message = models.TextField(_("error"), blank=True)
    #: one entry per document or member: {"member", "outcome": filed|duplicate|set_aside|error, "document",
    #: "code", "message"}
    results = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    received_at = models.DateTimeField(_("recibido"), auto_now_add=True)
    processed_at = models.DateTimeField(_("procesado"), null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["issuer", "folder", "uidvalidity", "uid"],
                                               condition=models.Q(uid__isnull=False),
                                               name="reception_intake_unique_imap_uid")]
        indexes = [models.Index(fields=["issuer", "received_at"])]
        verbose_name = _("recepción")
        verbose_name_plural = _("recepciones")

    def __str__(self):
        return self.original_name or self.subject or f"#{self.pk}"


class ReceivedDocument(IssuerScoped):
    """A supplier's document received by the issuer (as buyer), verified and filed."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", _("Factura electrónica")
        CREDIT_NOTE = "credit_note", _("Nota crédito")
        DEBIT_NOTE = "debit_note", _("Nota débito")
        CFDI_INGRESO = "cfdi_ingreso", _("CFDI de ingreso")
        CFDI_EGRESO = "cfdi_egreso", _("CFDI de egreso")
        CFDI_TRASLADO = "cfdi_traslado", _("CFDI de traslado")
        CFDI_PAGO = "cfdi_pago", _("CFDI de pago")
        CFDI_NOMINA = "cfdi_nomina", _("CFDI de nómina")

    class Status(models.TextChoices):
        RECEIVED = "received", _("Recibido")
        SET_ASIDE = "set_aside", _("Apartado")

    class Verification(models.TextChoices):
        OK = "ok", _("Verificado")
        FINDINGS = "findings", _("Con observaciones")
        FAILED = "failed", _("No superó la verificación")

    class DianValidation(models.TextChoices):
        ACCEPTED = "accepted", _("Validado por la DIAN")
        REJECTED = "rejected", _("Rechazado por la DIAN")
        MISSING = "missing", _("Sin respuesta de la DIAN")
        NOT_APPLICABLE = "", _("No aplica")

    class DianState(models.TextChoices):
        """The buyer's RADIAN events registered for the document (the latest that decides its state)."""
        NONE = "", _("Sin eventos")
        ACKNOWLEDGED = "acknowledged", _("Acuse de recibo (030)")
        GOODS_RECEIVED = "goods_received", _("Recibo del bien o servicio (032)")
        ACCEPTED = "accepted", _("Aceptación expresa (033)")
        TACITLY_ACCEPTED = "tacitly_accepted", _("Aceptación tácita (034)")
        CLAIMED = "claimed", _("Reclamo (031)")

    class SatState(models.TextChoices):
        """SAT's status service (Consulta de estado de CFDI) answer."""
        UNKNOWN = "", _("Sin consultar")
        VALID = "vigente", _("Vigente")
        CANCELLED = "cancelado", _("Cancelado")
        NOT_FOUND = "no_encontrado", _("No encontrado")

    country = models.CharField(_("país"), max_length=2, choices=Country.choices)
    kind = models.CharField(_("tipo"), max_length=20, choices=Kind.choices)
    #: DIAN InvoiceTypeCode / CreditNoteTypeCode ("01", "02", "03", "04", "91", "92"); CFDI TipoDeComprobante
    type_code = models.CharField(_("código de tipo"), max_length=4, blank=True)
    status = models.CharField(_("estado"), max_length=12, choices=Status.choices, default=Status.RECEIVED)
    set_aside_reason = models.CharField(_("motivo por el que se apartó"), max_length=500, blank=True)

    supplier_tax_id = models.CharField(_("NIT / RFC del proveedor"), max_length=20)
    supplier_check_digit = models.CharField(max_length=1, blank=True)
    supplier_name = models.CharField(_("proveedor"), max_length=300, blank=True)
    supplier_email = models.EmailField(_("correo del proveedor"), blank=True)
    buyer_tax_id = models.CharField(_("NIT / RFC del adquiriente"), max_length=20, blank=True)
    buyer_name = models.CharField(_("adquiriente"), max_length=300, blank=True)

    series = models.CharField(_("prefijo / serie"), max_length=25, blank=True)
    number = models.CharField(_("número"), max_length=60, help_text=_("Como figura en el documento (prefijo + número; serie + folio)."))
    issue_date = models.DateField(_("fecha de expedición"), null=True, blank=True)
    issue_time = models.CharField(_("hora de expedición"), max_length=20, blank=True)
    due_date = models.DateField(_("fecha de vencimiento"), null=True, blank=True)
    currency = models.CharField(_("moneda"), max_length=3, default="COP")
    subtotal = models.DecimalField(_("subtotal"), max_digits=20, decimal_places=2, default=0)
    tax_total = models.DecimalField(_("impuestos"), max_digits=20, decimal_places=2, default=0)
    withholding_total = models.DecimalField(_("retenciones"), max_digits=20, decimal_places=2, default=0)
    total = models.DecimalField(_("total"), max_digits=20, decimal_places=2, default=0)

    #: CUFE / CUDE (Colombia) or the fiscal UUID of the stamp (Mexico), lower case; unique per issuer
    uuid = models.CharField(_("CUFE / CUDE / UUID"), max_length=128)
    uuid_scheme = models.CharField(max_length=20, blank=True)  # CUFE-SHA384, CUDE-SHA384, UUID
    environment = models.CharField(_("ambiente"), max_length=1, blank=True)  # DIAN ProfileExecutionID 1/2

    verification = models.CharField(_("verificación"), max_length=10, choices=Verification.choices)
    #: [{"code", "check", "message", "severity": "error"|"warning"|"info"}]
    findings = models.JSONField(_("observaciones"), default=list, blank=True)
    report = models.JSONField(default=dict, blank=True)  # the verifier's full report (dian/cfdi verify)
    verified_at = models.DateTimeField(null=True, blank=True)

    # DIAN's validation answer carried in the AttachedDocument (Colombia)
    dian_validation = models.CharField(_("validación DIAN"), max_length=10, choices=DianValidation.choices,
                                       blank=True, default="")
    dian_response_code = models.CharField(max_length=10, blank=True)  # "02" valid, "04" rejected
    dian_rules = models.JSONField(default=list, blank=True)  # [{"code", "message"}] from the ApplicationResponse
    dian_validated_at = models.CharField(max_length=40, blank=True)

    # RADIAN events (Colombia) and SAT status (Mexico): filled by the events and status actions
    dian_state = models.CharField(_("estado RADIAN"), max_length=20, choices=DianState.choices, blank=True, default="")
    dian_state_at = models.DateTimeField(null=True, blank=True)
    sat_state = models.CharField(_("estado SAT"), max_length=15, choices=SatState.choices, blank=True, default="")
    sat_cancellable = models.CharField(_("cancelable"), max_length=60, blank=True)
    sat_cancellation_status = models.CharField(_("estatus de cancelación"), max_length=60, blank=True)
    sat_checked_at = models.DateTimeField(null=True, blank=True)
    # Colombia: DIAN's GetStatus by the CUFE/CUDE, asked on demand ("Consultar estado en la DIAN")
    dian_check = models.CharField(_("estado consultado en la DIAN"), max_length=10, blank=True,
                                  choices=[("valid", _("Válido en la DIAN")), ("rejected", _("Rechazado por la DIAN")),
                                           ("not_found", _("No existe en la DIAN"))])
    dian_check_message = models.TextField(blank=True)
    dian_checked_at = models.DateTimeField(null=True, blank=True)

    xml = models.FileField(_("XML"), upload_to=document_upload_path, max_length=300)
    application_response = models.FileField(_("ApplicationResponse"), upload_to=document_upload_path, max_length=300,
                                            blank=True)
    pdf = models.FileField(_("PDF del proveedor"), upload_to=document_upload_path, max_length=300, blank=True)
    container = models.FileField(_("contenedor original"), upload_to=document_upload_path, max_length=300, blank=True,
                                 help_text="The AttachedDocument XML the document came in, when it came in one")
    members = models.JSONField(default=dict, blank=True,
                               help_text="Where its container and its supplier's PDF are in its intake's file, read "
                                         "from there when needed instead of stored again: \"container\" / \"pdf\" "
                                         "→ [position, name] of the unpacked member (reception.files)")

    intake = models.ForeignKey(Intake, on_delete=models.PROTECT, related_name="received_documents")
    source = models.CharField(_("origen"), max_length=10, choices=Source.choices)
    received_at = models.DateTimeField(_("recibido"), auto_now_add=True)
    arrivals = models.PositiveIntegerField(_("veces recibido"), default=1)
    last_arrival_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["issuer", "uuid"], name="reception_document_unique_uuid")]
        indexes = [models.Index(fields=["issuer", "issue_date"]), models.Index(fields=["issuer", "supplier_tax_id"]),
                   models.Index(fields=["issuer", "status", "received_at"])]
        verbose_name = _("documento recibido")
        verbose_name_plural = _("documentos recibidos")

    def __str__(self):
        return f"{self.number} — {self.supplier_name or self.supplier_tax_id}"

    @property
    def has_application_response(self) -> bool:
        """DIAN's ApplicationResponse came with it: stored on its own, or inside the AttachedDocument kept
        (`reception.files.application_response_xml`; `dian_validation` is "missing" when the container had none)."""
        return bool(self.application_response) or (self.has_container and self.dian_validation not in ("", "missing"))

    @property
    def has_container(self) -> bool:
        """It came in an AttachedDocument, kept as a file or inside its intake's file."""
        return bool(self.container) or "container" in self.members

    @property
    def has_pdf(self) -> bool:
        """Its supplier sent a PDF, kept as a file or inside its intake's file."""
        return bool(self.pdf) or "pdf" in self.members

    @property
    def verification_badge(self) -> str:
        """The page's badge colour for the verification result."""
        return {"ok": "accepted", "failed": "rejected"}.get(self.verification, "pending")

    #: the check of a CFDI's TimbreFiscalDigital seal (SelloSAT) with SAT's certificate (`reception.satcerts`)
    STAMP_CHECKS = {"verified": _("Verificado"), "invalid": _("Sello del SAT no válido"),
                    "unavailable": _("Certificado del SAT no disponible")}

    @property
    def stamp_check(self) -> str:
        """"verified", "invalid", "unavailable", or "" (not a stamped CFDI), from the verifier's report."""
        report = self.report or {}
        if self.country != "MX" or not report.get("stamped"):
            return ""
        return {True: "verified", False: "invalid"}.get(report.get("sello_sat_ok"), "unavailable")

    def get_stamp_check_display(self) -> str:
        return str(self.STAMP_CHECKS.get(self.stamp_check, ""))


# --- RADIAN events (Colombia) ------------------------------------------------------------------------------

class EventSettings(IssuerScoped):
    """The issuer's settings for the DIAN events it registers: the person named in 030/032 events (who receives
    goods and invoices), the event numbering, e-mailing the supplier, and 034 on the issuer's own invoices."""

    person_id_type = models.CharField(_("tipo de documento de quien recibe"), max_length=2, default="13")
    person_id_number = models.CharField(_("documento de quien recibe"), max_length=20, blank=True)
    person_first_name = models.CharField(_("nombres de quien recibe"), max_length=100, blank=True)
    person_family_name = models.CharField(_("apellidos de quien recibe"), max_length=100, blank=True)
    person_job_title = models.CharField(_("cargo"), max_length=100, blank=True)
    person_department = models.CharField(_("área"), max_length=100, blank=True)
    event_prefix = models.CharField(_("prefijo de los eventos"), max_length=10, default="EV", blank=True)
    next_event_number = models.PositiveBigIntegerField(default=1)
    email_supplier = models.BooleanField(_("enviar cada evento al proveedor por correo"), default=True)
    auto_tacit_acceptance = models.BooleanField(
        _("registrar la aceptación tácita (034) de mis facturas"), default=False,
        help_text=_("Cuando el comprador registró el recibo del bien (032) y pasan 3 días hábiles sin reclamo."))
    tacit_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer"], name="reception_event_settings_one_per_issuer")]
        verbose_name = _("configuración de eventos DIAN")
        verbose_name_plural = _("configuraciones de eventos DIAN")

    @property
    def has_person(self) -> bool:
        return bool(self.person_id_number and self.person_first_name and self.person_family_name)


class ReceptionEvent(IssuerScoped):
    """A RADIAN event the issuer registers: about a received invoice (030, 031, 032, 033; ``document``) or, as
    supplier, the tacit acceptance of one of its own invoices (034; ``own_document``).

    Exactly once: (document, code) and (own_document, code) are unique; the sending job claims an event with a
    conditional UPDATE (pending -> sending) before sending it, and a resumed job asks DIAN (GetStatusEvent by the
    event's CUDE) before ever sending one found in ``sending`` again."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pendiente de envío")
        SENDING = "sending", _("Enviando")
        ACCEPTED = "accepted", _("Registrado en la DIAN")
        REJECTED = "rejected", _("Rechazado por la DIAN")
        ERROR = "error", _("Error de envío")

    class Code(models.TextChoices):
        RECEIPT = "030", _("Acuse de recibo de la factura")
        CLAIM = "031", _("Reclamo de la factura")
        GOODS = "032", _("Recibo del bien o prestación del servicio")
        ACCEPTANCE = "033", _("Aceptación expresa")
        TACIT = "034", _("Aceptación tácita")

    class ClaimReason(models.TextChoices):
        INCONSISTENT = "01", _("Documento con inconsistencias")
        NOT_DELIVERED = "02", _("Mercancía no entregada totalmente")
        PARTIAL = "03", _("Mercancía no entregada parcialmente")
        NO_SERVICE = "04", _("Servicio no prestado")

    document = models.ForeignKey(ReceivedDocument, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="events")
    own_document = models.ForeignKey("einvoice.DianDocument", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    code = models.CharField(_("evento"), max_length=3, choices=Code.choices)
    claim_reason = models.CharField(_("concepto del reclamo"), max_length=2, choices=ClaimReason.choices,
                                    blank=True)
    number = models.CharField(_("número del evento"), max_length=30)
    cude = models.CharField(_("CUDE"), max_length=96)
    signed_xml = models.BinaryField(editable=False)
    state = models.CharField(_("estado"), max_length=10, choices=State.choices, default=State.PENDING)
    dian_status_code = models.CharField(max_length=4, blank=True)
    dian_message = models.TextField(blank=True)
    rules = models.JSONField(default=list, blank=True)  # [{"code", "message", "severity"}] of DIAN's answer
    application_response = models.BinaryField(null=True, editable=False)
    send_attempts = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_error = models.CharField(max_length=300, blank=True)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["document", "code"], condition=models.Q(document__isnull=False),
                                    name="reception_event_once_per_document"),
            models.UniqueConstraint(fields=["own_document", "code"], condition=models.Q(own_document__isnull=False),
                                    name="reception_event_once_per_own_document"),
            models.UniqueConstraint(fields=["issuer", "cude"], name="reception_event_unique_cude"),
        ]
        indexes = [models.Index(fields=["issuer", "state"])]
        verbose_name = _("evento DIAN")
        verbose_name_plural = _("eventos DIAN")

    def __str__(self):
        return f"{self.code} {self.get_code_display()} ({self.number})"

    @property
    def rejections(self):
        return [r for r in self.rules if r.get("severity") == "rejection"]


class TacitTerm(IssuerScoped):
    """The term for tacit acceptance of one of the issuer's own invoices, as DIAN's events show it."""

    class Status(models.TextChoices):
        WAITING = "waiting", _("Sin recibo del bien (032)")
        RUNNING = "running", _("Término corriendo")
        DUE = "due", _("Aceptación tácita procedente")
        REGISTERED = "registered", _("Aceptación tácita registrada (034)")
        ACCEPTED = "accepted", _("Aceptada expresamente (033)")
        CLAIMED = "claimed", _("Con reclamo (031)")

    document = models.OneToOneField("einvoice.DianDocument", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(_("estado"), max_length=10, choices=Status.choices, default=Status.WAITING)
    receipt_date = models.DateField(_("recibo del bien (032)"), null=True, blank=True)
    term_ends = models.DateField(_("vence el término"), null=True, blank=True)
    events = models.CharField(_("eventos en la DIAN"), max_length=60, blank=True)  # "030,032"
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("término de aceptación tácita")
        verbose_name_plural = _("términos de aceptación tácita")
