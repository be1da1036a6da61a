"""DIAN enablement (habilitación): the issuer's journey record, test-set runs and their documents."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from facturador.core.models import IssuerScoped, Job, NumberingRange


class Enablement(IssuerScoped):
    """One per issuer: where it stands in DIAN's enablement, and the wizard's last step."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pendiente de registro")
        REGISTERED = "registered", _("Registrado como facturador electrónico")
        ENABLED = "enabled", _("Habilitado")
        PRODUCTION = "production", _("En producción")

    reception_email = models.EmailField(_("correo de recepción registrado en la DIAN"), blank=True)
    state = models.CharField(_("estado"), max_length=12, choices=State.choices, default=State.PENDING)
    registered_on = models.DateField(_("fecha de registro"), null=True, blank=True)
    enabled_on = models.DateField(_("fecha de habilitación"), null=True, blank=True)
    production_start = models.DateField(_("fecha de inicio de facturación electrónica"), null=True, blank=True)
    production_confirmed_at = models.DateTimeField(null=True, blank=True)
    production_confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                                on_delete=models.SET_NULL, related_name="+")
    production_range = models.ForeignKey(NumberingRange, null=True, blank=True, on_delete=models.SET_NULL,
                                         related_name="+")
    billing_type = models.CharField(_("tipo de facturación"), max_length=20, blank=True)
    numbering_synced_at = models.DateTimeField(null=True, blank=True)
    s2_acknowledged_on = models.DateField(_("responsabilidad 52 actualizada en el RUT"), null=True, blank=True)
    wizard_step = models.CharField(max_length=20, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer"], name="enablement_one_per_issuer")]
        verbose_name = _("habilitación DIAN")

    def __str__(self):
        return f"Habilitación {self.issuer_id} ({self.state})"

    @property
    def prefix_associated_on(self):
        """When the authorised range's prefix was associated with a software (DIAN's "asociación de prefijos"):
        a fact of the range (`NumberingRange.associated_on`), shown here."""
        rng = self.production_range
        return rng.associated_on if rng is not None and rng.associated_software_id else None


class TestSetRun(IssuerScoped):
    """One 'Generar comprobantes' run for a TestSetId: how many documents of each kind, and the outcome.

    Its processing state is its job's (`job`, the latest one: a resumed or corrected run gets a new job);
    what the run stores is DIAN's verdict on the set: `accepted_at` and DIAN's message."""

    __test__ = False  # not a pytest class

    class Outcome(models.TextChoices):
        """The run's job states in the one vocabulary (core Job.Status), plus DIAN's verdicts on the set."""

        RUNNING = "running", Job.Status.RUNNING.label
        WAITING = "waiting", _("Esperando aceptación del set")
        ACCEPTED = "accepted", _("Set de pruebas aceptado")
        ERRORS = "errors", _("Con documentos rechazados")
        FAILED = "failed", Job.Status.FAILED.label

    operation_mode = models.ForeignKey("einvoice.OperationMode", on_delete=models.PROTECT, related_name="+")
    test_set_id = models.CharField(_("TestSetId"), max_length=36)
    invoices = models.PositiveIntegerField(_("facturas"))
    credit_notes = models.PositiveIntegerField(_("notas crédito"))
    debit_notes = models.PositiveIntegerField(_("notas débito"))
    dian_message = models.CharField(_("respuesta de la DIAN sobre el set"), max_length=500, blank=True)
    accepted_at = models.DateTimeField(_("aceptado por la DIAN"), null=True, blank=True)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("set de pruebas")

    def __str__(self):
        return f"Set de pruebas {self.test_set_id}"

    @property
    def status(self):
        """The state of the run's processing: its job's status (None before it has a job)."""
        return self.job.status if self.job_id else None

    @property
    def outcome(self) -> str:
        """What the user sees: DIAN's acceptance when it came, else what the processing (the job) says."""
        if self.accepted_at is not None:
            return self.Outcome.ACCEPTED
        status = self.status
        if status in Job.ACTIVE:
            return self.Outcome.RUNNING
        if status == Job.Status.FAILED:
            return self.Outcome.FAILED
        if status == Job.Status.FINISHED_WITH_ERRORS:  # the job counts rejected documents as its errors
            return self.Outcome.ERRORS
        return self.Outcome.WAITING  # finished, cancelled or deleted without DIAN's acceptance

    def get_outcome_display(self) -> str:
        return str(self.Outcome(self.outcome).label)

    def required(self, kind):
        return {"invoice": self.invoices, "credit_note": self.credit_notes, "debit_note": self.debit_notes}[kind]

    @property
    def total_required(self):
        return self.invoices + self.credit_notes + self.debit_notes


class TestSetDocument(IssuerScoped):
    """A document issued for a run. `slot` is its place among the run's documents of that kind, so a
    re-run after a killed worker finds what exists instead of issuing it again. A corrected document
    takes the slot over; the rejected one stays, inactive, so every number used remains accounted for."""

    __test__ = False  # not a pytest class

    run = models.ForeignKey(TestSetRun, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(max_length=12)
    slot = models.PositiveIntegerField()
    document = models.OneToOneField("einvoice.DianDocument", on_delete=models.PROTECT, related_name="test_set_entry")
    active = models.BooleanField(default=True)
    replaces = models.OneToOneField("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replaced_by")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "kind", "slot", "-active"]
        constraints = [
            models.UniqueConstraint(fields=["run", "kind", "slot"], condition=models.Q(active=True),
                                    name="test_set_document_unique_slot"),
        ]

    def __str__(self):
        return f"{self.kind} #{self.slot + 1} ({self.document_id})"
