"""Operators, versioned import templates, import jobs (queue entries), row errors and the staging table.

An import is loaded in two steps so that nothing half-done is ever visible to billing:
rows are first written to `ImportedLine` (staging, keyed by the import), then one transaction
replaces the operator's charges for the period (`billing.Charge`) with the staged lines.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models, transaction
from django.db.models import Max
from django.utils.translation import gettext_lazy as _

from facturador.billing.models import Charge
from facturador.core.models import IssuerScoped, Job


class FileType(models.TextChoices):
    CONSUMPTION = "consumption", _("Detalle de consumo")
    SUMMARY = "summary", _("Resumen")
    CHARGES = "charges", _("Cargos")
    READINGS = "readings", _("Lecturas")
    OTHER = "other", _("Otro")


class Operator(IssuerScoped):
    """Who sends the billing data: a telecom carrier, a utility, a municipality..."""

    code = models.CharField(_("código"), max_length=40)
    name = models.CharField(_("nombre"), max_length=200)
    active = models.BooleanField(_("activo"), default=True)
    notes = models.CharField(_("notas"), max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["issuer", "code"], name="imports_operator_unique_code")]
        verbose_name = _("operador")
        verbose_name_plural = _("operadores")

    def __str__(self):
        return f"{self.code} — {self.name}"


class ImportTemplate(IssuerScoped):
    """A column mapping for one operator's file. Never edited in place: each save is a new version."""

    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="templates")
    name = models.CharField(_("nombre"), max_length=100)
    version = models.PositiveIntegerField(_("versión"), default=1)
    file_type = models.CharField(_("tipo de archivo"), max_length=20, choices=FileType.choices, default=FileType.CONSUMPTION)
    mapping = models.JSONField(_("mapeo"), default=dict, help_text=_("facturador.tabular.mapping.Template.to_dict()"))
    all_or_nothing = models.BooleanField(
        _("todo o nada"), default=False,
        help_text=_("Si alguna fila tiene errores no se carga ninguna. Por defecto se cargan las válidas y se informan las demás."))
    change_threshold = models.DecimalField(
        _("umbral de variación (%)"), max_digits=7, decimal_places=2, default=Decimal("30"),
        help_text=_("Conciliación: se señalan las referencias cuyo valor cambia más que este porcentaje frente al periodo anterior."))
    duplicate_key = models.JSONField(
        _("clave de duplicados"), default=list, blank=True,
        help_text=_("Campos que identifican una línea; dos líneas con la misma clave son duplicadas. "
                    "Vacío: cuenta + línea + concepto + fecha de corte."))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["operator__name", "name", "-version"]
        constraints = [models.UniqueConstraint(fields=["issuer", "operator", "name", "version"],
                                               name="imports_template_unique_version")]
        verbose_name = _("plantilla de importación")
        verbose_name_plural = _("plantillas de importación")

    def __str__(self):
        return f"{self.name} v{self.version}"

    @classmethod
    def save_version(cls, *, issuer, operator, name, **fields) -> "ImportTemplate":
        """Store a new version of template `name` (version 1 when it is new)."""
        with transaction.atomic():
            # Lock the operator row so two concurrent saves do not pick the same version number.
            Operator.objects.select_for_update().filter(pk=operator.pk).first()
            last = cls.objects.filter(issuer=issuer, operator=operator, name=name).aggregate(v=Max("version"))["v"] or 0
            return cls.objects.create(issuer=issuer, operator=operator, name=name, version=last + 1, **fields)

    @classmethod
    def latest_versions(cls, issuer):
        """The newest version of every template of the issuer."""
        rows = cls.objects.filter(issuer=issuer).values("operator_id", "name").annotate(v=Max("version"))
        q = models.Q(pk__in=[])
        for r in rows:
            q |= models.Q(operator_id=r["operator_id"], name=r["name"], version=r["v"])
        return cls.objects.filter(issuer=issuer).filter(q).select_related("operator")

    @property
    def is_latest(self):
        return not ImportTemplate.objects.filter(issuer_id=self.issuer_id, operator_id=self.operator_id, name=self.name,
                                                 version__gt=self.version).exists()


def import_upload_path(instance, filename):
    return f"issuers/{instance.issuer_id}/imports/{uuid.uuid4().hex}/{filename}"


class ImportJob(IssuerScoped):
    """One queue entry ("Programación de importación"): a file to import for an operator and period."""

    class Phase(models.TextChoices):
        QUEUED = "queued", _("En cola")
        STAGING = "staging", _("Leyendo y validando")
        LOADED = "loaded", _("Cargado")
        VALIDATED = "validated", _("Validado (simulación)")
        REJECTED = "rejected", _("No cargado")

    job = models.OneToOneField(Job, on_delete=models.CASCADE, related_name="import_job")
    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="imports")
    template = models.ForeignKey(ImportTemplate, on_delete=models.PROTECT, related_name="imports")
    period = models.CharField(_("periodo"), max_length=7)
    file_type = models.CharField(_("tipo de archivo"), max_length=20, choices=FileType.choices)
    file = models.FileField(_("archivo"), upload_to=import_upload_path, max_length=300)
    original_name = models.CharField(_("nombre del archivo"), max_length=255)
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, db_index=True)
    dry_run = models.BooleanField(_("simulación (validar sin guardar)"), default=False)
    force = models.BooleanField(_("forzar aunque el archivo ya se importó"), default=False)
    scheduled_for = models.DateTimeField(_("programada para"), null=True, blank=True)
    phase = models.CharField(max_length=10, choices=Phase.choices, default=Phase.QUEUED)
    loaded_at = models.DateTimeField(null=True, blank=True)
    replaced_import = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    replaced_charges = models.PositiveIntegerField(default=0)
    rows_read = models.PositiveIntegerField(default=0)
    rows_valid = models.PositiveIntegerField(default=0)
    rows_invalid = models.PositiveIntegerField(default=0)
    amount_total = models.DecimalField(max_digits=20, decimal_places=2, default=Decimal("0"))
    declared_rows = models.PositiveIntegerField(null=True, blank=True)
    declared_amount = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    reconciliation = models.JSONField(default=dict, blank=True)
    header = models.JSONField(default=list, blank=True)  # the file's header cells, for the error report
    file_info = models.JSONField(default=dict, blank=True)  # sheet, encoding, delimiter, zip member, warnings
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["issuer", "operator", "period"])]
        verbose_name = _("importación")
        verbose_name_plural = _("importaciones")

    def __str__(self):
        return f"Importación #{self.pk} {self.operator.code} {self.period}"

    @property
    def status(self):
        return self.job.status

    def get_status_display(self):
        return self.job.get_status_display()


class ImportRowError(models.Model):
    """A rejected row: where (row, column), what value and why, plus the original cells for the report."""

    import_job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    row_number = models.PositiveIntegerField()
    column = models.CharField(max_length=200, blank=True)
    value = models.CharField(max_length=500, blank=True)
    message = models.CharField(max_length=500)
    code = models.CharField(max_length=40, blank=True)  # stable reason (tabular's: invalid_number, negative...)
    original = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["row_number", "id"]
        indexes = [models.Index(fields=["import_job", "row_number"])]


class ImportedLine(models.Model):
    """Staging: the valid lines of an import before they become `billing.Charge` rows (and dry-run results).

    Written with COPY (PostgreSQL) or executemany (SQLite) in batches; removed once the import is
    swapped in (or discarded). `import_job_id` is a plain column (no FK) so bulk loading stays cheap.
    """

    import_job_id = models.BigIntegerField(db_index=True)
    row_number = models.PositiveIntegerField()
    reference = models.CharField(max_length=48)
    concept = models.CharField(max_length=200)
    quantity = models.DecimalField(max_digits=14, decimal_places=4)
    unit_price = models.DecimalField(max_digits=18, decimal_places=4)
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    # The typed line, as its charge will hold it (billing.Charge's columns of the same names).
    service_line = models.CharField(max_length=48, blank=True, default="")
    plan = models.CharField(max_length=120, blank=True, default="")
    cost_center = models.CharField(max_length=120, blank=True, default="")
    unit = models.CharField(max_length=20, blank=True, default="")
    minutes = models.DecimalField(max_digits=14, decimal_places=2, null=True)
    data_mb = models.DecimalField(max_digits=16, decimal_places=3, null=True)
    sms = models.DecimalField(max_digits=12, decimal_places=0, null=True)
    kwh = models.DecimalField(max_digits=14, decimal_places=3, null=True)
    net_amount = models.DecimalField(max_digits=18, decimal_places=2, null=True)
    tax_rate = models.DecimalField(max_digits=7, decimal_places=4, null=True)
    tax_amount = models.DecimalField(max_digits=18, decimal_places=2, null=True)
    other_tax_rate = models.DecimalField(max_digits=7, decimal_places=4, null=True)
    other_tax_amount = models.DecimalField(max_digits=18, decimal_places=2, null=True)
    cut_date = models.DateField(null=True)
    usage_from = models.DateField(null=True)
    usage_to = models.DateField(null=True)
    extra = models.JSONField(default=dict)


DEFAULT_DUPLICATE_KEY = ["reference", "service_line", "concept", "cut_date"]


class LineManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(source=Charge.Source.IMPORT)


class Line(Charge):
    """One typed line of an imported file, as the operator billed it (the "Líneas" screen, reconciliation).

    An imported line is its charge (`billing.Charge` with ``source = import``; billing invoices charges): the
    loader writes one row per line, with the file's row number, service line, plan, cost center, usage, taxes,
    dates and extra attributes (`extra`, JSON: numbers and dates as text) on it. Only a loaded import has
    charges (the direct loader's transaction, the staging swap), and a replaced import's go with their
    replacement, so every line here is a loaded import's. This proxy is the line's view of the row.
    """

    objects = LineManager()

    class Meta:
        proxy = True
        ordering = ["source_import_id", "row_number"]
        verbose_name = _("línea importada")
        verbose_name_plural = _("líneas importadas")

    @property
    def import_job_id(self) -> int | None:
        return self.source_import_id

    @property
    def iva_rate(self):
        """The IVA rate the file gave (the charge's, not one inferred from its net and IVA)."""
        return self.tax_rate

    @property
    def iva_amount(self):
        return self.tax_amount

    def __str__(self):
        return f"{self.reference} {self.service_line} {self.concept}: {self.amount}"
