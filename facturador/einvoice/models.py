"""DIAN electronic documents in the platform, and the software (operation mode) that signs them."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from facturador.core.crypto import EncryptedField
from facturador.core.models import Environment, IssuerScoped, Job, NumberingRange

ENDPOINTS = {
    "test": "https://vpfe-hab.dian.gov.co/WcfDianCustomerServices.svc",
    "production": "https://vpfe.dian.gov.co/WcfDianCustomerServices.svc",
}


class OperationMode(IssuerScoped):
    """A DIAN 'modo de operación': own software, or a technology provider's software."""

    class Mode(models.TextChoices):
        OWN = "own", _("Software propio")
        PROVIDER = "provider", _("Software de un proveedor tecnológico")

    class State(models.TextChoices):
        REGISTERED = "registered", _("Registrado")
        TESTING = "testing", _("En pruebas")
        ACCEPTED = "accepted", _("Set de pruebas aceptado")
        PRODUCTION = "production", _("En producción")

    mode = models.CharField(_("modo"), max_length=10, choices=Mode.choices, default=Mode.OWN)
    software_name = models.CharField(_("nombre del software"), max_length=120)
    software_id = models.CharField(_("identificador del software"), max_length=64)
    software_pin = EncryptedField(text=True)
    provider_name = models.CharField(_("proveedor tecnológico"), max_length=200, blank=True)
    provider_nit = models.CharField(_("NIT del proveedor"), max_length=15)
    test_set_id = models.CharField(_("TestSetId"), max_length=36, blank=True)
    environment = models.CharField(_("ambiente"), max_length=10, choices=Environment.choices, default=Environment.TEST)
    endpoint = models.URLField(_("URL del servicio web"), max_length=300, blank=True)
    state = models.CharField(_("estado"), max_length=12, choices=State.choices, default=State.REGISTERED)
    active = models.BooleanField(_("en uso"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-active", "-created_at"]
        verbose_name = _("modo de operación")
        verbose_name_plural = _("modos de operación")

    def __str__(self):
        return f"{self.get_mode_display()} — {self.software_name}"

    @property
    def url(self):
        return self.endpoint or ENDPOINTS[self.environment]

    @property
    def pin_masked(self):
        pin = self.software_pin.reveal() if self.software_pin else ""
        return "•" * max(len(pin) - 2, 0) + pin[-2:] if pin else ""


class DianDocument(IssuerScoped):
    """An invoice, credit note or debit note, from draft to DIAN's answer. XML is kept byte for byte."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", _("Factura electrónica de venta")
        CREDIT_NOTE = "credit_note", _("Nota crédito")
        DEBIT_NOTE = "debit_note", _("Nota débito")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Pendiente")
        SIGNED = "signed", _("Firmado")
        SENT = "sent", _("Enviado")
        PENDING = "pending", _("En proceso en la DIAN")
        ACCEPTED = "accepted", _("Aceptado")
        REJECTED = "rejected", _("Rechazado")
        ERROR = "error", _("Error de envío")

    UNANSWERED = (Status.SIGNED, Status.SENT, Status.PENDING)  # waiting to be sent or for DIAN's answer

    kind = models.CharField(_("documento"), max_length=12, choices=Kind.choices)
    type_code = models.CharField(_("tipo"), max_length=2)
    environment = models.CharField(_("ambiente"), max_length=10, choices=Environment.choices)
    operation_mode = models.ForeignKey(OperationMode, on_delete=models.PROTECT, related_name="documents")
    numbering_range = models.ForeignKey(NumberingRange, on_delete=models.PROTECT, related_name="+")
    prefix = models.CharField(_("prefijo"), max_length=4, blank=True)
    number = models.PositiveBigIntegerField(_("número"))
    status = models.CharField(_("estado"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    payload = models.JSONField(_("datos del documento"))
    issue_date = models.DateField(_("fecha"))
    customer_name = models.CharField(_("cliente"), max_length=300)
    customer_id = models.CharField(_("identificación del cliente"), max_length=20)
    customer_email = models.EmailField(_("correo del cliente"), blank=True)
    total = models.DecimalField(_("total a pagar"), max_digits=18, decimal_places=2)
    cufe = models.CharField(_("CUFE / CUDE"), max_length=96, blank=True, db_index=True)
    signed_xml = models.BinaryField(null=True, editable=False)
    application_response = models.BinaryField(null=True, editable=False)
    file_name = models.CharField(max_length=60, blank=True)  # DIAN XML file name, allocated once
    zip_key = models.CharField(max_length=80, blank=True)
    dian_status_code = models.CharField(max_length=4, blank=True)
    dian_message = models.TextField(blank=True)
    rules = models.JSONField(default=list, blank=True)  # [{"code", "message", "severity"}]
    referenced = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="notes")
    test_set = models.BooleanField(_("documento del set de pruebas"), default=False)
    send_attempts = models.PositiveIntegerField(default=0)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["issuer", "environment", "prefix", "number"], name="dian_document_unique_number"),
        ]
        # the documents still to send or waiting for DIAN's answer, in number order: a batch's sending rounds find
        # them here, not among the issuer's millions of answered ones
        indexes = [models.Index(fields=["issuer", "number"], condition=models.Q(status__in=["signed", "sent", "pending"]),
                                name="dian_document_unanswered")]
        verbose_name = _("documento electrónico")
        verbose_name_plural = _("documentos electrónicos")

    def __str__(self):
        return f"{self.get_kind_display()} {self.full_number}"

    @property
    def full_number(self):
        return f"{self.prefix}{self.number}"

    @property
    def rejections(self):
        return [r for r in self.rules if r.get("severity") == "rejection"]

    @property
    def notifications(self):
        return [r for r in self.rules if r.get("severity") != "rejection"]

    @property
    def can_retry(self):
        return self.status in (self.Status.SIGNED, self.Status.ERROR, self.Status.PENDING)


class FileCounter(IssuerScoped):
    """The yearly consecutive in DIAN file names (fv/nc/nd + NIT + provider + year + hex counter)."""

    year = models.PositiveIntegerField()
    next_value = models.PositiveBigIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "year"], name="file_counter_unique_year")]
