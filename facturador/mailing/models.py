"""Registered mass sends of issued invoices, their per-recipient ledger and the suppression list."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from facturador.core.models import IssuedDocument, IssuerScoped, Job


class MailSend(IssuerScoped):
    """A registered send ("envío registrado"): which invoices, to whom, with what message.

    Its state is not stored: it is derived from the job of its latest run (`state`), see `Status`.
    """

    class Status(models.TextChoices):
        """The send's state as shown, from its latest job (`MailSend.state`, the one mapping):
        no job -> registered; pending/running -> sending (stopped once the user asked to stop it);
        cancelled, failed, deleted, or finished with an automatic stop -> stopped; finished -> finished
        (with errors: some rows failed or are unconfirmed)."""

        # the labels are the one vocabulary of job states (core.models.Job.Status)
        REGISTERED = "registered", Job.Status.PENDING.label
        SENDING = "sending", Job.Status.RUNNING.label
        STOPPED = "stopped", Job.Status.CANCELLED.label
        FINISHED = "finished", Job.Status.FINISHED.label
        FINISHED_WITH_ERRORS = "finished_errors", Job.Status.FINISHED_WITH_ERRORS.label

    class Recipients(models.TextChoices):
        ALL = "all", _("Todos los clientes de los rangos")
        SELECTED = "selected", _("Una selección de clientes")

    STOPPED_BY_USER = "A pedido del usuario; puede reanudarlo."
    RUN_ENDED = "La tarea de envío terminó sin completar el envío."

    name = models.CharField(_("nombre"), max_length=200, blank=True)
    ranges = models.JSONField(_("rangos"), default=list)  # [{"prefix": "FE", "from": 1, "to": 500}, ...]
    date_from = models.DateField(_("expedidas desde"), null=True, blank=True)
    date_to = models.DateField(_("expedidas hasta"), null=True, blank=True)
    recipients = models.CharField(_("destinatarios"), max_length=10, choices=Recipients.choices, default=Recipients.ALL)
    selected_customers = models.JSONField(_("clientes seleccionados"), default=list, blank=True)
    subject = models.CharField(_("asunto"), max_length=300)
    body = models.TextField(_("mensaje"))
    reply_to = models.EmailField(_("responder a"), blank=True)
    legally_required = models.BooleanField(
        _("envío obligatorio (factura)"), default=True,
        help_text=_("Las facturas se entregan aunque el cliente haya pedido no recibir correos; "
                    "desmárquelo para mensajes informativos (se ofrece darse de baja)."),
    )
    max_consecutive_failures = models.PositiveIntegerField(_("detener tras fallos consecutivos"), default=10)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")  # the latest run
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)  # first start

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("envío masivo")
        verbose_name_plural = _("envíos masivos")

    def __str__(self):
        return f"Envío #{self.pk} — {self.name or self.subject}"

    @property
    def state(self) -> tuple[str, str]:
        """(status, stop reason), derived from the latest job: the one place that maps a job to a send's state."""
        job = self.job if self.job_id else None
        if job is None:
            return self.Status.REGISTERED, ""
        if job.status in Job.ACTIVE:
            # stop() asks the job to cancel; the send shows as stopped at once, the job ends at its next check
            return (self.Status.STOPPED, self.STOPPED_BY_USER) if job.cancel_requested else (self.Status.SENDING, "")
        if job.status == Job.Status.CANCELLED:
            return self.Status.STOPPED, self.STOPPED_BY_USER
        if job.status in (Job.Status.FAILED, Job.Status.DELETED):
            return self.Status.STOPPED, (job.error or self.RUN_ENDED)[:500]
        if job.result.get("stop_reason"):  # stopped by the engine after consecutive failures (see mailing.jobs)
            return self.Status.STOPPED, job.result["stop_reason"]
        if job.status == Job.Status.FINISHED_WITH_ERRORS:
            return self.Status.FINISHED_WITH_ERRORS, ""
        return self.Status.FINISHED, ""

    @property
    def status(self) -> str:
        return self.state[0]

    def get_status_display(self) -> str:
        return self.Status(self.status).label

    @property
    def stop_reason(self) -> str:
        return self.state[1]

    @property
    def finished_at(self):
        return self.job.finished_at if self.status in (self.Status.FINISHED, self.Status.FINISHED_WITH_ERRORS) else None

    @property
    def ranges_display(self):
        return ", ".join(f"{r.get('prefix', '')}{r['from']}–{r.get('prefix', '')}{r['to']}" for r in self.ranges)

    @property
    def badge(self):
        return {"registered": "pending", "sending": "running", "stopped": "cancelled"}.get(self.status, self.status)

    @property
    def can_start(self):
        return self.status == self.Status.REGISTERED

    @property
    def can_stop(self):
        return self.status == self.Status.SENDING

    @property
    def can_resume(self):
        return self.status == self.Status.STOPPED


class Delivery(IssuerScoped):
    """One line of the ledger: one invoice to one recipient.

    Life cycle (see engine.py for the exactly-once argument):
    excluded | pending -> claimed -> sending -> sent | failed | pending (4xx, later) | unknown (crash)
    sent -> bounced (DSN / webhook).
    """

    class Status(models.TextChoices):
        EXCLUDED = "excluded", _("Excluido")
        PENDING = "pending", _("Pendiente")
        CLAIMED = "claimed", _("En cola")
        SENDING = "sending", _("Enviando")
        SENT = "sent", _("Enviado")
        FAILED = "failed", _("Fallido")
        BOUNCED = "bounced", _("Rebotado")
        UNKNOWN = "unknown", _("Sin confirmar (verificar)")

    class Exclusion(models.TextChoices):
        NO_EMAIL = "no_email", _("Sin correo electrónico")
        INVALID = "invalid", _("Correo no válido")
        OPTED_OUT = "opted_out", _("Pidió no recibir correos")
        BOUNCED = "bounced", _("Rebote permanente anterior")

    send = models.ForeignKey(MailSend, on_delete=models.CASCADE, related_name="deliveries")
    document = models.ForeignKey(IssuedDocument, on_delete=models.PROTECT, related_name="+")
    email = models.CharField(_("correo"), max_length=254, blank=True)
    customer_name = models.CharField(_("cliente"), max_length=300, blank=True)
    status = models.CharField(_("estado"), max_length=10, choices=Status.choices, default=Status.PENDING)
    exclusion = models.CharField(_("motivo de exclusión"), max_length=10, choices=Exclusion.choices, blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=255)
    claim_token = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    smtp_code = models.PositiveIntegerField(null=True, blank=True)
    smtp_response = models.TextField(_("respuesta del servidor"), blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    bounce_detail = models.TextField(blank=True)
    rate_slot = models.CharField(max_length=40, blank=True)  # the rate-limit window the message was admitted in
    worker = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["send", "document"], name="mailing_delivery_unique_document"),
            models.UniqueConstraint(fields=["message_id"], name="mailing_delivery_unique_message_id"),
        ]
        # No index on `status`: the two per-message updates (claimed -> sending -> sent) then change no indexed
        # column, so PostgreSQL can do them as HOT updates (no index writes); rows are found by send_id / id.
        verbose_name = _("entrega")

    def __str__(self):
        return f"{self.email or '—'} ({self.status})"


class Suppression(IssuerScoped):
    """Addresses an issuer must not write to (opt-out) or cannot (hard bounce)."""

    class Reason(models.TextChoices):
        OPTED_OUT = "opted_out", _("Se dio de baja")
        HARD_BOUNCE = "bounced", _("Rebote permanente")

    email = models.CharField(max_length=254)
    reason = models.CharField(max_length=10, choices=Reason.choices)
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "email", "reason"], name="mailing_suppression_unique")]
        verbose_name = _("supresión")


class RateWindow(models.Model):
    """Database variant of the global rate limit: one row per window kind ("second", "hour")."""

    name = models.CharField(max_length=20, unique=True)
    window = models.BigIntegerField(default=0)
    count = models.PositiveIntegerField(default=0)


class AllowedTestRecipient(IssuerScoped):
    """An address the issuer's administrator allows test emails to be sent to (besides each user's own).

    The test email carries an invoice's subject, body and attachments to an address that is not the
    customer's, so it only goes to people the issuer has vouched for (issue 13)."""

    email = models.CharField(_("correo"), max_length=254)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["email"]
        constraints = [models.UniqueConstraint(fields=["issuer", "email"], name="mailing_test_recipient_unique")]
        verbose_name = _("destinatario de prueba")
        verbose_name_plural = _("destinatarios de prueba")

    def __str__(self):
        return self.email


class SentTest(IssuerScoped):
    """One test email asked for: the per-user limit (settings.MAILING_TEST_PER_USER) counts these rows."""

    send = models.ForeignKey(MailSend, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    actor = models.CharField(max_length=200)  # who, as in the audit log (the CLI's OS user when there is no user)
    email = models.CharField(max_length=254)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("prueba enviada")
        verbose_name_plural = _("pruebas enviadas")
