"""Tenants (issuers), their branches, members, certificates, numbering ranges, jobs and audit log."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from facturador.core.crypto import EncryptedField


class Country(models.TextChoices):
    COLOMBIA = "CO", _("Colombia")
    MEXICO = "MX", _("México")


COUNTRY_TIME_ZONES = {"CO": "America/Bogota", "MX": "America/Mexico_City"}


class Issuer(models.Model):
    """An invoicing company (emisor): the tenant every other object belongs to."""

    country = models.CharField(_("país"), max_length=2, choices=Country.choices)
    tax_id = models.CharField(_("NIT / RFC"), max_length=20)
    check_digit = models.CharField(_("dígito de verificación"), max_length=1, blank=True)
    legal_name = models.CharField(_("razón social"), max_length=300)
    trade_name = models.CharField(_("nombre comercial"), max_length=300, blank=True)
    person_type = models.CharField(
        _("tipo de persona"), max_length=1, choices=[("1", _("Persona jurídica")), ("2", _("Persona natural"))],
        default="1",
    )
    # Colombia: DIAN TipoResponsabilidad codes (O-13, O-15, O-23, O-47, R-99-PN); Mexico: c_RegimenFiscal (601...).
    fiscal_regime = models.CharField(_("régimen fiscal"), max_length=10, blank=True)
    responsibilities = models.JSONField(_("responsabilidades fiscales"), default=list, blank=True)
    address = models.CharField(_("dirección"), max_length=300, blank=True)
    municipality_code = models.CharField(_("código de municipio DANE"), max_length=5, blank=True)
    city = models.CharField(_("ciudad / municipio"), max_length=120, blank=True)
    department = models.CharField(_("departamento / estado"), max_length=120, blank=True)
    postal_code = models.CharField(_("código postal"), max_length=10, blank=True)
    # Colombia: CIIU economic activity codes (4 digits, comma separated), the supplier's IndustryClassificationCode.
    ciiu = models.CharField(_("actividad económica (CIIU)"), max_length=100, blank=True)
    phone = models.CharField(_("teléfono"), max_length=40, blank=True)
    email = models.EmailField(_("correo de recepción de facturas"), blank=True)
    logo = models.ImageField(_("logo"), upload_to="logos/", blank=True)
    time_zone = models.CharField(_("zona horaria"), max_length=60, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["country", "tax_id"], name="issuer_unique_tax_id")]
        ordering = ["legal_name"]
        verbose_name = _("emisor")
        verbose_name_plural = _("emisores")

    def __str__(self):
        return f"{self.legal_name} ({self.display_tax_id})"

    @property
    def display_tax_id(self):
        return f"{self.tax_id}-{self.check_digit}" if self.check_digit else self.tax_id

    @property
    def tz(self):
        return self.time_zone or COUNTRY_TIME_ZONES.get(self.country, settings.TIME_ZONE)

    def save(self, *args, **kwargs):
        if not self.time_zone:
            self.time_zone = COUNTRY_TIME_ZONES.get(self.country, settings.TIME_ZONE)
        super().save(*args, **kwargs)


class IssuerScoped(models.Model):
    """Base for every tenant-owned object."""

    issuer = models.ForeignKey(Issuer, on_delete=models.CASCADE, related_name="+")

    class Meta:
        abstract = True


class Branch(IssuerScoped):
    """Sucursal: own address and invoice series."""

    code = models.CharField(_("código"), max_length=20)
    name = models.CharField(_("nombre"), max_length=200)
    address = models.CharField(_("dirección"), max_length=300, blank=True)
    municipality_code = models.CharField(_("código de municipio DANE"), max_length=5, blank=True)
    postal_code = models.CharField(_("código postal"), max_length=10, blank=True)
    series = models.CharField(_("serie"), max_length=10, blank=True)
    active = models.BooleanField(_("activa"), default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "code"], name="branch_unique_code")]
        ordering = ["code"]
        verbose_name = _("sucursal")
        verbose_name_plural = _("sucursales")

    def __str__(self):
        return f"{self.code} — {self.name}"


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrador")
    BILLING = "billing", _("Facturación")
    READONLY = "readonly", _("Solo lectura")


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    issuer = models.ForeignKey(Issuer, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("rol"), max_length=10, choices=Role.choices, default=Role.BILLING)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "issuer"], name="membership_unique")]
        verbose_name = _("membresía")

    def __str__(self):
        return f"{self.user} @ {self.issuer} ({self.role})"


class Certificate(IssuerScoped):
    """A signing certificate: DIAN PKCS#12 or SAT CSD. The key material is encrypted at rest."""

    class Kind(models.TextChoices):
        PKCS12 = "p12", _("Certificado de firma digital (DIAN, .p12/.pfx)")
        CSD = "csd", _("Certificado de sello digital (SAT, .cer + .key)")

    kind = models.CharField(_("tipo"), max_length=3, choices=Kind.choices)
    subject = models.CharField(_("titular"), max_length=500)
    serial_number = models.CharField(_("número de serie"), max_length=100)
    certificate_number = models.CharField(_("número de certificado"), max_length=40, blank=True)
    not_before = models.DateTimeField(_("válido desde"))
    not_after = models.DateTimeField(_("válido hasta"))
    certificate_pem = models.TextField(editable=False)  # public part, not secret
    key_material = EncryptedField()  # the .p12 bytes, or the .key bytes for a CSD
    password = EncryptedField(text=True)
    active = models.BooleanField(default=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at"]
        verbose_name = _("certificado")

    def __str__(self):
        return f"{self.get_kind_display()} {self.serial_number}"

    @property
    def expires_soon(self):
        return self.not_after - timezone.now() < timezone.timedelta(days=30)

    @property
    def expired(self):
        return self.not_after <= timezone.now()


class DocumentType(models.TextChoices):
    INVOICE = "invoice", _("Factura electrónica de venta")
    CREDIT_NOTE = "credit_note", _("Nota crédito")
    DEBIT_NOTE = "debit_note", _("Nota débito")
    SUPPORT_DOCUMENT = "support_document", _("Documento soporte")
    CONTINGENCY = "contingency", _("Factura de contingencia")
    POS = "pos", _("Documento equivalente POS")
    CFDI = "cfdi", _("CFDI")


class Environment(models.TextChoices):
    TEST = "test", _("Pruebas (habilitación)")
    PRODUCTION = "production", _("Producción")


class NumberingRange(IssuerScoped):
    """A numbering resolution: prefix + consecutive range, allocated without gaps or duplicates."""

    document_type = models.CharField(_("tipo de documento"), max_length=20, choices=DocumentType.choices)
    prefix = models.CharField(_("prefijo"), max_length=4, blank=True)
    range_from = models.PositiveBigIntegerField(_("desde"))
    range_to = models.PositiveBigIntegerField(_("hasta"))
    next_number = models.PositiveBigIntegerField(_("siguiente número"))
    valid_from = models.DateField(_("vigente desde"))
    valid_to = models.DateField(_("vigente hasta"))
    resolution_number = models.CharField(_("número de resolución"), max_length=40, blank=True)
    technical_key = EncryptedField(text=True, null=True, blank=True)
    environment = models.CharField(_("ambiente"), max_length=10, choices=Environment.choices, default=Environment.TEST)
    active = models.BooleanField(_("activa"), default=True)
    # DIAN's "asociación de prefijos": the software (DIAN SoftwareID) this authorised range's prefix was associated
    # with in DIAN's portal, and when. Production invoices are numbered only from ranges associated with the
    # software that issues them (einvoice.services.issue).
    associated_software_id = models.CharField(_("software asociado al prefijo"), max_length=64, blank=True)
    associated_on = models.DateField(_("fecha de asociación del prefijo"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["document_type", "prefix", "range_from"]
        verbose_name = _("numeración")
        verbose_name_plural = _("numeraciones")
        constraints = [
            models.CheckConstraint(condition=models.Q(range_to__gte=models.F("range_from")), name="numbering_range_order"),
        ]

    def __str__(self):
        return f"{self.prefix}{self.range_from}–{self.prefix}{self.range_to}"

    @property
    def used(self):
        return self.next_number - self.range_from

    @property
    def size(self):
        return self.range_to - self.range_from + 1

    @property
    def usage_ratio(self):
        return self.used / self.size if self.size else 1.0

    def clean(self):
        if self.range_to is not None and self.range_from is not None and self.range_to < self.range_from:
            raise ValidationError({"range_to": _("El número final debe ser mayor o igual al inicial.")})
        if self.valid_to and self.valid_from and self.valid_to < self.valid_from:
            raise ValidationError({"valid_to": _("La fecha final de vigencia es anterior a la inicial.")})


class Job(IssuerScoped):
    """Anything a user waits for: an import, a batch, a send, a test set. Progress lives here."""

    class Status(models.TextChoices):
        """The one vocabulary of states people read, for every job and for the records that own one (imports,
        batches, mailing sends, test sets): the manuals' Pendiente, En proceso, Finalizado, Eliminado, plus
        Cancelado and Con errores (some rows or documents failed, or the job could not finish: its message and
        error say which). Other enumerations of states take their labels from here."""

        PENDING = "pending", _("Pendiente")
        RUNNING = "running", _("En proceso")
        FINISHED = "finished", _("Finalizado")
        FINISHED_WITH_ERRORS = "finished_errors", _("Con errores")
        FAILED = "failed", _("Con errores")
        CANCELLED = "cancelled", _("Cancelado")
        DELETED = "deleted", _("Eliminado")

    ACTIVE = (Status.PENDING, Status.RUNNING)
    DONE = (Status.FINISHED, Status.FINISHED_WITH_ERRORS)  # ended with its work done (some items may have failed)
    FINAL = (Status.FINISHED, Status.FINISHED_WITH_ERRORS, Status.FAILED, Status.CANCELLED, Status.DELETED)

    kind = models.CharField(_("tipo"), max_length=40)
    title = models.CharField(_("descripción"), max_length=300, blank=True)
    status = models.CharField(_("estado"), max_length=20, choices=Status.choices, default=Status.PENDING)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    cancel_requested = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    run_after = models.DateTimeField(null=True, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]
        verbose_name = _("tarea")

    def __str__(self):
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def percent(self):
        if self.is_done:
            return 100
        return int(self.done * 100 / self.total) if self.total else 0

    @property
    def is_active(self):
        return self.status in self.ACTIVE

    @property
    def is_done(self):
        return self.status in self.DONE


class AuditEntry(models.Model):
    """Append-only record of who did what, when and from where."""

    issuer = models.ForeignKey(Issuer, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.CharField(max_length=150, blank=True)  # user name, "os:<user>" on the CLI, "worker"
    action = models.CharField(max_length=80)
    object_type = models.CharField(max_length=80, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    summary = models.CharField(max_length=500, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    channel = models.CharField(max_length=10, default="web")  # web, api, cli, worker
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("registro de auditoría")

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("Audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("Audit entries are append-only")


_FILES_PROVIDERS: dict = {}


def register_files_provider(source: str, provider):
    """`provider(issued_document)` fills the document's missing pdf/xml/attachment files (see ensure_files)."""
    _FILES_PROVIDERS[source] = provider


def document_upload_path(instance, filename):
    return f"issuers/{instance.issuer_id}/documents/{instance.created_at:%Y/%m}/{filename}" if instance.created_at else \
        f"issuers/{instance.issuer_id}/documents/{filename}"


class IssuedDocument(IssuerScoped):
    """Index of every invoice or note issued by any capability (DIAN documents, batch invoices, CFDI).

    It is what mass email, search and downloads work on: one row per issued document, with its
    number, customer, totals and files, and `source`/`source_id` pointing at the owning app's row.
    """

    # written in bulk (batch numbering): no single-column issuer index, the composite indexes start with it
    issuer = models.ForeignKey(Issuer, on_delete=models.CASCADE, related_name="+", db_index=False)
    source = models.CharField(max_length=40)  # e.g. "einvoice.document", "billing.invoice", "portal.cfdi"
    source_id = models.CharField(max_length=64)
    country = models.CharField(max_length=2, choices=Country.choices)
    document_type = models.CharField(_("tipo"), max_length=20, choices=DocumentType.choices)
    prefix = models.CharField(_("prefijo / serie"), max_length=25, blank=True)
    number = models.PositiveBigIntegerField(_("número"))
    issue_date = models.DateField(_("fecha de expedición"))
    due_date = models.DateField(_("fecha de vencimiento"), null=True, blank=True)
    period = models.CharField(_("periodo"), max_length=20, blank=True)
    customer_name = models.CharField(_("cliente"), max_length=300)
    customer_tax_id = models.CharField(_("identificación del cliente"), max_length=20, blank=True)
    customer_email = models.EmailField(_("correo del cliente"), blank=True)
    total = models.DecimalField(_("total"), max_digits=18, decimal_places=2)
    currency = models.CharField(max_length=3, default="COP")
    status = models.CharField(_("estado"), max_length=20, blank=True)
    uuid = models.CharField(_("CUFE / UUID"), max_length=120, blank=True)
    pdf = models.FileField(upload_to=document_upload_path, blank=True, max_length=300)
    xml = models.FileField(upload_to=document_upload_path, blank=True, max_length=300)
    attachment = models.FileField(upload_to=document_upload_path, blank=True, max_length=300,
                                  help_text="DIAN AttachedDocument zip, when there is one")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["prefix", "number"]
        constraints = [
            models.UniqueConstraint(fields=["issuer", "document_type", "prefix", "number"], name="issued_document_unique_number"),
            models.UniqueConstraint(fields=["source", "source_id"], name="issued_document_unique_source"),
        ]
        indexes = [models.Index(fields=["issuer", "prefix", "number"]), models.Index(fields=["issuer", "issue_date"])]
        verbose_name = _("documento emitido")
        verbose_name_plural = _("documentos emitidos")

    def __str__(self):
        return self.full_number

    @property
    def full_number(self):
        return f"{self.prefix}{self.number}"

    def ensure_files(self):
        """Have the owning app write the files a customer receives (once; they are kept afterwards)."""
        provider = _FILES_PROVIDERS.get(self.source)
        if provider is not None and not (self.pdf and (self.xml or self.attachment)):
            provider(self)
        return self
