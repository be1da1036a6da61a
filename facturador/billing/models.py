"""Mass billing: accounts (subscribers), charges, payments, tariffs, invoice templates, batches.

Other apps create charges through these models (the imports app writes `Charge` rows with
source="import" and `source_import_id`); a charge whose reference matches no account keeps
`account=None` and is reported by the import's reconciliation.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from facturador.core.models import Issuer, IssuerScoped, Job
from facturador.core.periods import validate_period  # also named by migration 0001 as billing.models.validate_period


class IdType(models.TextChoices):
    NIT = "NIT", _("NIT")
    CC = "CC", _("Cédula de ciudadanía")
    CE = "CE", _("Cédula de extranjería")
    TI = "TI", _("Tarjeta de identidad")
    PP = "PP", _("Pasaporte")
    PEP = "PEP", _("Permiso especial de permanencia")
    NUIP = "NUIP", _("NUIP / Registro civil")
    FOREIGN = "EXT", _("Identificación extranjera")


# Identification types whose number is only digits (a cédula, a tarjeta de identidad, a NUIP).
DIGITS_ONLY_ID_TYPES = frozenset({IdType.CC, IdType.TI, IdType.NUIP})


def id_number_problem(id_type: str, number: str) -> str | None:
    """Why ``number`` cannot be an identification of ``id_type`` (Spanish, for people), or None.

    >>> id_number_problem("CC", "79123456"), id_number_problem("PP", "AB123")
    (None, None)
    >>> id_number_problem("CC", "abc")
    'Un número de cédula de ciudadanía solo lleva dígitos (hasta 11).'
    """
    if id_type in DIGITS_ONLY_ID_TYPES and number and not re.fullmatch(r"[0-9]{1,11}", number):
        return f"Un número de {str(IdType(id_type).label).lower()} solo lleva dígitos (hasta 11)."
    return None


class ServiceClass(models.TextChoices):
    RESIDENTIAL = "residencial", _("Residencial")
    COMMERCIAL = "comercial", _("Comercial")
    INDUSTRIAL = "industrial", _("Industrial")
    OFFICIAL = "oficial", _("Oficial")
    SPECIAL = "especial", _("Especial")
    RURAL = "rural", _("Rural")


class Account(IssuerScoped):
    """A subscriber / property / contract that is billed every period."""

    class State(models.TextChoices):
        ACTIVE = "active", _("Activa")
        SUSPENDED = "suspended", _("Suspendida")
        RETIRED = "retired", _("Retirada")

    reference = models.CharField(_("referencia de pago"), max_length=30,
                                 help_text=_("Referencia acordada con el banco; se conservan los ceros a la izquierda."))
    holder_name = models.CharField(_("titular"), max_length=300)
    id_type = models.CharField(_("tipo de identificación"), max_length=4, choices=IdType.choices, default=IdType.CC)
    id_number = models.CharField(_("número de identificación"), max_length=20, blank=True)
    check_digit = models.CharField(_("dígito de verificación"), max_length=1, blank=True)
    address = models.CharField(_("dirección"), max_length=300, blank=True)
    municipality_code = models.CharField(_("código de municipio DANE"), max_length=5, blank=True)
    service_class = models.CharField(_("clase de servicio"), max_length=20, choices=ServiceClass.choices,
                                     default=ServiceClass.RESIDENTIAL)
    stratum = models.CharField(_("estrato"), max_length=1, blank=True,
                               choices=[(str(i), str(i)) for i in range(1, 7)])
    email = models.EmailField(_("correo electrónico"), blank=True)
    phone = models.CharField(_("teléfono"), max_length=40, blank=True)
    state = models.CharField(_("estado"), max_length=10, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["reference"]
        constraints = [models.UniqueConstraint(fields=["issuer", "reference"], name="billing_account_unique_reference")]
        indexes = [models.Index(fields=["issuer", "state"])]
        verbose_name = _("cuenta")
        verbose_name_plural = _("cuentas")

    def __str__(self):
        return f"{self.reference} — {self.holder_name}"

    @property
    def display_id(self):
        return f"{self.id_type} {self.id_number}" + (f"-{self.check_digit}" if self.check_digit else "")

    def clean(self):
        from facturador.taxid import TaxIdError, validate_nit

        self.reference = (self.reference or "").strip()
        if self.reference and not re.fullmatch(r"[0-9A-Za-z-]+", self.reference):
            raise ValidationError({"reference": _("La referencia solo admite letras, dígitos y guiones.")})
        if self.id_type == IdType.NIT:
            if not self.id_number:
                raise ValidationError({"id_number": _("Escriba el NIT.")})
            try:
                self.id_number, self.check_digit = validate_nit(self.id_number, self.check_digit or None)
            except TaxIdError as exc:
                raise ValidationError({"check_digit" if self.check_digit else "id_number": exc.message}) from exc
        else:
            self.check_digit = ""
            problem = id_number_problem(self.id_type, self.id_number)
            if problem:
                raise ValidationError({"id_number": problem})


class Charge(IssuerScoped):
    """One amount owed by an account for a period (imported, from a tariff, or typed in)."""

    class Source(models.TextChoices):
        IMPORT = "import", _("Importación")
        TARIFF = "tariff", _("Tarifa")
        MANUAL = "manual", _("Manual")
        INTEREST = "interest", _("Intereses de mora")
        ADJUSTMENT = "adjustment", _("Ajuste al peso")
        OPENING = "opening", _("Saldo anterior")

    # Indexes: every row inserted by an import (1M-row files) maintains each of them (about a microsecond of
    # PostgreSQL CPU per row each), so keep only those a query uses. issuer_id and account_id lookups
    # (cascade/protect checks included) are served by the leading column of the composite indexes below;
    # tariff_id is only set on tariff charges (partial index); an import's charges are found by issuer and
    # period, then source_import_id (imports.loading / staging: the import knows its period).
    issuer = models.ForeignKey(Issuer, on_delete=models.CASCADE, related_name="+", db_index=False)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.PROTECT, related_name="charges",
                                db_index=False)
    reference = models.CharField(_("referencia"), max_length=48)
    period = models.CharField(_("periodo"), max_length=7, validators=[validate_period])
    concept = models.CharField(_("concepto"), max_length=200)
    quantity = models.DecimalField(_("cantidad"), max_digits=14, decimal_places=4, default=Decimal("1"))
    unit_price = models.DecimalField(_("valor unitario"), max_digits=18, decimal_places=4, default=Decimal("0"))
    amount = models.DecimalField(_("valor"), max_digits=18, decimal_places=2)
    # Tax breakdown, when the source gives one (an imported line's net, IVA rate and IVA value); NULL = no
    # tax information (`amount` is then the whole value, untaxed). `amount` stays the total either way:
    # batches and cartera work from it; invoices show subtotal and IVA per rate when present.
    net_amount = models.DecimalField(_("valor sin impuestos"), max_digits=18, decimal_places=2, null=True, blank=True)
    tax_rate = models.DecimalField(_("tarifa IVA (%)"), max_digits=7, decimal_places=4, null=True, blank=True)
    tax_amount = models.DecimalField(_("IVA"), max_digits=18, decimal_places=2, null=True, blank=True)
    source = models.CharField(_("origen"), max_length=10, choices=Source.choices, default=Source.MANUAL)
    source_import_id = models.BigIntegerField(null=True, blank=True)
    # What an imported line's file said besides its amount (`imports.Line` is this table's imported charges: one
    # row per line, so a million-line file costs one heap tuple and these indexes per line, not two tables'):
    # the file's row, the service line (phone line, meter, contract), plan, cost center, usage with its unit, other
    # taxes, cut date and usage period, and any other mapped column, typed, in `extra`. Empty on other charges.
    row_number = models.PositiveIntegerField(_("fila"), null=True, blank=True)
    service_line = models.CharField(_("línea"), max_length=48, blank=True, default="")
    plan = models.CharField(_("plan"), max_length=120, blank=True, default="")
    cost_center = models.CharField(_("centro de costo"), max_length=120, blank=True, default="")
    unit = models.CharField(_("unidad"), max_length=20, blank=True, default="")
    minutes = models.DecimalField(_("minutos"), max_digits=14, decimal_places=2, null=True, blank=True)
    data_mb = models.DecimalField(_("datos (MB)"), max_digits=16, decimal_places=3, null=True, blank=True)
    sms = models.DecimalField(_("SMS"), max_digits=12, decimal_places=0, null=True, blank=True)
    kwh = models.DecimalField(_("kWh"), max_digits=14, decimal_places=3, null=True, blank=True)
    other_tax_rate = models.DecimalField(_("tarifa otros impuestos (%)"), max_digits=7, decimal_places=4, null=True,
                                         blank=True)
    other_tax_amount = models.DecimalField(_("otros impuestos"), max_digits=18, decimal_places=2, null=True, blank=True)
    cut_date = models.DateField(_("fecha de corte"), null=True, blank=True)
    usage_from = models.DateField(_("consumo desde"), null=True, blank=True)
    usage_to = models.DateField(_("consumo hasta"), null=True, blank=True)
    extra = models.JSONField(_("otros atributos"), default=dict, blank=True)
    source_operator = models.CharField(_("operador"), max_length=100, blank=True)
    tariff = models.ForeignKey("Tariff", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                               db_index=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["period", "reference", "id"]
        indexes = [models.Index(fields=["issuer", "period", "reference"]), models.Index(fields=["account", "period"]),
                   models.Index(fields=["tariff"], condition=models.Q(tariff__isnull=False), name="billing_charge_tariff_set")]
        verbose_name = _("cargo")
        verbose_name_plural = _("cargos")

    def __str__(self):
        return f"{self.reference} {self.period} {self.concept}: {self.amount}"

    @property
    def tax_base(self) -> Decimal | None:
        """The value before IVA of a charge carrying IVA (its net, else total - IVA); None without IVA."""
        if self.tax_amount is None:
            return None
        return self.net_amount if self.net_amount is not None else self.amount - self.tax_amount

    @property
    def iva_rate(self) -> Decimal | None:
        """The IVA rate of a charge carrying IVA: the one given, else the Colombian rate (0, 5, 19 %) that
        gives its IVA from its net (files often have net, IVA and total but no rate column); None if none."""
        base = self.tax_base
        if self.tax_rate is not None or base is None:
            return self.tax_rate
        from facturador.dian.model import IVA_RATES

        for rate in IVA_RATES:
            if (base * rate / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) == self.tax_amount:
                return rate
        return None


class Tariff(IssuerScoped):
    """A charge generated for every active account of a class (and stratum) in a period.

    `fixed`: `value` pesos per account. `percentage`: `value` % of the account's other
    (non-tariff) charges of the period (e.g. public lighting as a share of the energy bill).
    """

    class Kind(models.TextChoices):
        FIXED = "fixed", _("Valor fijo")
        PERCENTAGE = "percentage", _("Porcentaje")

    concept = models.CharField(_("concepto"), max_length=200)
    period = models.CharField(_("periodo"), max_length=7, validators=[validate_period])
    service_class = models.CharField(_("clase de servicio"), max_length=20, choices=ServiceClass.choices, blank=True,
                                     help_text=_("Vacío: todas las clases."))
    stratum = models.CharField(_("estrato"), max_length=1, blank=True, help_text=_("Vacío: todos los estratos."))
    kind = models.CharField(_("tipo"), max_length=10, choices=Kind.choices, default=Kind.FIXED)
    value = models.DecimalField(_("valor"), max_digits=18, decimal_places=4)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["period", "concept", "service_class", "stratum"]
        verbose_name = _("tarifa")
        verbose_name_plural = _("tarifas")

    def __str__(self):
        return f"{self.period} {self.concept} ({self.get_kind_display()} {self.value})"


class BillingSettings(IssuerScoped):
    """Per-issuer billing configuration: bank agreement (barcode), payment collection, due dates, numbering,
    arrears interest, printed texts. Edited through `billing.actions.save_settings` (UI, API and CLI)."""

    gln = models.CharField(_("GLN del convenio (415)"), max_length=13, default="7709998000001",
                           help_text=_("13 dígitos asignados por GS1 Colombia para el convenio de recaudo."))
    extra_glns = models.JSONField(_("otros GLN de recaudo"), default=list, blank=True,
                                  help_text=_("Otros convenios cuyos archivos de recaudo se aceptan (GLN de 13 dígitos)."))
    payment_tolerance = models.DecimalField(
        _("tolerancia de pago"), max_digits=8, decimal_places=2, default=Decimal("0.99"),
        help_text=_("Una factura queda pagada si lo que falta por pagar no supera este valor (ajuste al peso)."))
    due_days = models.PositiveSmallIntegerField(_("días para pagar"), default=15,
                                                help_text=_("Fecha límite de pago propuesta: expedición + estos días."))
    ref_width = models.PositiveSmallIntegerField(_("ancho de la referencia (8020)"), default=10)
    amount_width = models.PositiveSmallIntegerField(_("ancho del valor (3900)"), default=10)
    numbering_prefix = models.CharField(_("prefijo de numeración"), max_length=4, blank=True)
    numbering_environment = models.CharField(_("ambiente de numeración"), max_length=10, default="production")
    monthly_interest_rate = models.DecimalField(_("interés de mora mensual (%)"), max_digits=6, decimal_places=3,
                                                default=Decimal("2.000"))
    document_title = models.CharField(_("título del documento"), max_length=100, default="Factura de servicios públicos")
    notes = models.TextField(_("notas impresas"), blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer"], name="billing_settings_one_per_issuer")]
        verbose_name = _("configuración de facturación")

    @classmethod
    def for_issuer(cls, issuer):
        obj, _created = cls.objects.get_or_create(issuer=issuer)
        return obj

    @property
    def collection_glns(self) -> list[str]:
        """Every GLN (EAN-13 service code) whose recaudo files belong to this issuer."""
        return [self.gln, *[g for g in self.extra_glns or [] if g != self.gln]]


class InvoiceTemplate(IssuerScoped):
    """A Typst invoice design. Saving a new source creates a new version; batches record the version used."""

    name = models.CharField(_("nombre"), max_length=80)
    version = models.PositiveIntegerField(_("versión"), default=1)
    source = models.TextField(_("fuente Typst"))
    description = models.CharField(_("descripción"), max_length=300, blank=True)
    is_default = models.BooleanField(_("predeterminada"), default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [models.UniqueConstraint(fields=["issuer", "name", "version"], name="billing_template_unique_version")]
        verbose_name = _("plantilla de factura")
        verbose_name_plural = _("plantillas de factura")

    def __str__(self):
        return f"{self.name} v{self.version}"

    def asset_dict(self) -> dict[str, bytes]:
        return {a.name: bytes(a.content) for a in self.assets.all()}


class TemplateAsset(models.Model):
    """A file a template references by name (logo.png, firma.svg...)."""

    template = models.ForeignKey(InvoiceTemplate, on_delete=models.CASCADE, related_name="assets")
    name = models.CharField(max_length=100)
    content = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["template", "name"], name="billing_asset_unique_name")]


def _reason_key(reason: str) -> str:
    reason = (reason or "").strip().rstrip(".")
    return reason[:1].lower() + reason[1:] if reason[1:2].islower() else reason


def group_reasons(entries) -> str:
    """'sin cargos en los periodos seleccionados: 2; ya facturada para 2026-09 en el lote 3: 1', largest first."""
    counts: dict[str, int] = {}
    for e in entries:
        key = _reason_key(e.get("reason", ""))
        counts[key] = counts.get(key, 0) + 1
    return "; ".join(f"{k}: {n}" for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def outcome_summary(selected: int, generated: int, entries) -> str:
    """The one sentence of a batch's counts, for the page, the job's message and the CLI (see `Batch.outcome`)."""
    skipped = [e for e in entries if e.get("skipped")]
    failed = [e for e in entries if not e.get("skipped")]
    generated -= sum(1 for e in failed if e.get("numbered"))  # an invoice that was numbered but failed is an error
    parts = [f"{generated} {'generada' if generated == 1 else 'generadas'}"]
    if skipped:
        parts.append(f"{len(skipped)} {'omitida' if len(skipped) == 1 else 'omitidas'} ({group_reasons(skipped)})")
    if failed:
        parts.append(f"{len(failed)} con error ({group_reasons(failed)})")
    return f"{selected} {'seleccionada' if selected == 1 else 'seleccionadas'}: " + ", ".join(parts)


class Batch(IssuerScoped):
    """A mass-invoicing run (lote): selection, parameters, the job, totals and output files."""

    class BillingType(models.TextChoices):
        NORMAL = "normal", _("Normal (periodos seleccionados)")
        WITH_ARREARS = "with_arrears", _("Con saldo en mora")
        ARREARS_ONLY = "arrears_only", _("Solo mora")

    Status = Job.Status  # a batch's state is its job's (`Batch.status`), in the one vocabulary of states

    periods = models.JSONField(_("periodos"), default=list)
    billing_type = models.CharField(_("tipo de facturación"), max_length=15, choices=BillingType.choices,
                                    default=BillingType.NORMAL)
    issue_date = models.DateField(_("fecha de expedición"))
    due_date = models.DateField(_("fecha límite de pago"))
    template = models.ForeignKey(InvoiceTemplate, on_delete=models.PROTECT, related_name="batches")
    template_version = models.PositiveIntegerField(_("versión de plantilla"))
    references = models.JSONField(_("referencias"), default=list, blank=True,
                                  help_text=_("Referencias seleccionadas (vacío: según filtros)."))
    filters = models.JSONField(_("filtros"), default=dict, blank=True)
    account_count = models.PositiveIntegerField(default=0)
    electronic = models.BooleanField(_("factura electrónica DIAN"), default=False,
                                     help_text=_("Cada factura se emite también como factura electrónica (firmada y "
                                                 "enviada a la DIAN) y el PDF lleva el CUFE y el código QR."))
    job = models.OneToOneField(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="billing_batch")
    invoice_count = models.PositiveIntegerField(_("facturas"), default=0)
    total_amount = models.DecimalField(_("valor total"), max_digits=20, decimal_places=2, default=Decimal("0"))
    error_list = models.JSONField(_("errores"), default=list, blank=True)
    output_dir = models.CharField(max_length=300, blank=True)  # relative to MEDIA_ROOT
    merged_pdf = models.CharField(max_length=300, blank=True)  # the print PDF when the batch has a single part
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("lote de facturación")
        verbose_name_plural = _("lotes de facturación")

    def __str__(self):
        return f"Lote {self.pk} ({', '.join(self.periods)})"

    @property
    def status(self) -> str:
        """The state of the batch's job (its generation); a batch without a job has not started."""
        return self.job.status if self.job_id else self.Status.PENDING

    def get_status_display(self):
        return self.Status(self.status).label

    @property
    def skipped(self) -> list[dict]:
        """Selected accounts left out by design (nothing to bill, already billed): not errors."""
        return [e for e in self.error_list if e.get("skipped")]

    @property
    def failed(self) -> list[dict]:
        """Accounts that should have been billed and were not (e.g. refused as electronic invoices)."""
        return [e for e in self.error_list if not e.get("skipped")]

    @property
    def outcome(self) -> str:
        """Counts that add up: "4 seleccionadas: 2 generadas, 2 omitidas (sin cargos en los periodos
        seleccionados: 2)" (selected = generated + omitted + with error)."""
        return outcome_summary(self.account_count, self.invoice_count, self.error_list)

    @property
    def period_key(self) -> str:
        key = ",".join(sorted(self.periods))
        return f"{key}|mora" if self.billing_type == self.BillingType.ARREARS_ONLY else key


class BillingInvoice(IssuerScoped):
    """One invoice of a batch. UNIQUE(issuer, account, period_key): a resumed batch never bills twice."""

    class Status(models.TextChoices):
        ISSUED = "issued", _("Emitida")
        PARTIAL = "partial", _("Abonada")
        PAID = "paid", _("Pagada")
        VOID = "void", _("Anulada")

    # written in bulk by numbering: no single-column indexes on issuer and batch, the composite indexes below
    # start with them (each index costs CPU per number)
    issuer = models.ForeignKey(Issuer, on_delete=models.CASCADE, related_name="+", db_index=False)
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="invoices", db_index=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="invoices")
    period_key = models.CharField(max_length=120)
    prefix = models.CharField(max_length=4, blank=True)
    number = models.PositiveBigIntegerField()
    issue_date = models.DateField()
    due_date = models.DateField()
    current_amount = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0"))
    previous_balance = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0"))
    arrears_interest = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0"))
    total = models.DecimalField(max_digits=18, decimal_places=2)
    paid_amount = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ISSUED)
    barcode_data = models.CharField(max_length=120, blank=True)  # GS1 element string (GS separators)
    barcode_text = models.CharField(max_length=120, blank=True)  # human-readable line
    pdf = models.CharField(max_length=300, blank=True)  # relative to MEDIA_ROOT; "" until rendered
    error = models.CharField(max_length=500, blank=True)
    cufe = models.CharField(max_length=96, blank=True)  # electronic batches only
    dian_document_id = models.BigIntegerField(null=True, blank=True)  # einvoice.DianDocument, no FK across apps
    seq = models.PositiveIntegerField(null=True, blank=True)  # position in the batch (1..n, in number order)
    claimed_by = models.BigIntegerField(null=True, blank=True)  # core.Job rendering it (a lease, see billing.batch)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["batch", "id"]
        constraints = [
            models.UniqueConstraint(fields=["issuer", "account", "period_key"], name="billing_invoice_once_per_period"),
        ]
        # (batch, pdf) is not indexed: the partial index below finds those to render, (batch, seq) the rest, and
        # every index is written twice per invoice (numbering, then the rendered PDF's path)
        indexes = [models.Index(fields=["issuer", "status"]),
                   models.Index(fields=["batch", "seq"]),
                   # the invoices still to render, in order: what workers lease (see billing.batch._claim)
                   models.Index(fields=["batch", "seq"], condition=models.Q(pdf=""), name="billing_invoice_to_render"),
                   # a DIAN document's batch invoice: the sending rounds check their few unanswered documents
                   # (einvoice's dian_document_unanswered) against the batch through it
                   models.Index(fields=["dian_document_id"], condition=models.Q(dian_document_id__isnull=False),
                                name="billing_invoice_dian_document")]
        verbose_name = _("factura del lote")
        verbose_name_plural = _("facturas del lote")

    def __str__(self):
        return self.full_number

    @property
    def full_number(self):
        return f"{self.prefix}{self.number}"

    @property
    def balance(self):
        return self.total - self.paid_amount


class BatchPart(models.Model):
    """One print PDF of a batch: the invoices seq_from..seq_to (FACTURADOR_BILLING_PDF_PART_SIZE of them, in
    number order), built by the worker that renders its last invoice while the others go on rendering."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="parts")
    index = models.PositiveIntegerField()  # 1, 2, ...
    seq_from = models.PositiveIntegerField()
    seq_to = models.PositiveIntegerField()
    first_number = models.CharField(max_length=30, blank=True)
    last_number = models.CharField(max_length=30, blank=True)
    pdf = models.CharField(max_length=300, blank=True)  # relative to MEDIA_ROOT; "" until built
    pages = models.PositiveIntegerField(default=0)
    size = models.PositiveBigIntegerField(default=0)
    claimed_by = models.BigIntegerField(null=True, blank=True)  # core.Job building it
    rendered_at = models.DateTimeField(null=True, blank=True)  # when its last invoice was found rendered
    built_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["batch", "index"]
        constraints = [models.UniqueConstraint(fields=["batch", "index"], name="billing_batch_part_unique_index")]

    def __str__(self):
        return f"Lote {self.batch_id} parte {self.index}"

    @property
    def count(self):
        return self.seq_to - self.seq_from + 1

    @property
    def filename(self):
        return f"lote-{self.batch_id}-parte-{self.index:03d}.pdf"

    @property
    def download_name(self):
        """The `what` of its download URL."""
        return f"parte-{self.index}"


class PaymentFile(IssuerScoped):
    """An uploaded recaudo file (Asobancaria 2001). The same file cannot be applied twice."""

    name = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    collection_date = models.DateField(null=True, blank=True)
    bank_code = models.CharField(max_length=3, blank=True)
    payment_count = models.PositiveIntegerField(default=0)
    total = models.DecimalField(max_digits=20, decimal_places=2, default=Decimal("0"))
    matched_count = models.PositiveIntegerField(default=0)
    unmatched = models.JSONField(default=list, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["issuer", "sha256"], name="billing_payment_file_once")]
        verbose_name = _("archivo de recaudo")


class Payment(IssuerScoped):
    """Money received (recaudo) for an account; reduces its balance."""

    class Source(models.TextChoices):
        ASOBANCARIA = "asobancaria", _("Archivo Asobancaria")
        MANUAL = "manual", _("Manual")
        API = "api", _("API")

    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.PROTECT, related_name="payments")
    invoice = models.ForeignKey(BillingInvoice, null=True, blank=True, on_delete=models.SET_NULL, related_name="payments")
    reference = models.CharField(_("referencia"), max_length=48)
    amount = models.DecimalField(_("valor"), max_digits=18, decimal_places=2)
    paid_on = models.DateField(_("fecha de pago"))
    bank_code = models.CharField(_("banco"), max_length=3, blank=True)
    channel = models.CharField(_("canal"), max_length=2, blank=True)
    operation_id = models.CharField(max_length=20, blank=True)
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.MANUAL)
    payment_file = models.ForeignKey(PaymentFile, null=True, blank=True, on_delete=models.CASCADE, related_name="payments")
    line_no = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-paid_on", "-id"]
        indexes = [models.Index(fields=["issuer", "reference"]), models.Index(fields=["account", "paid_on"])]
        verbose_name = _("pago")
        verbose_name_plural = _("pagos")

    def __str__(self):
        return f"{self.reference} {self.paid_on}: {self.amount}"
