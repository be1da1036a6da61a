"""Self-invoicing (autofacturación): tickets from the point of sale, customers, stamped CFDI."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from facturador.core.crypto import EncryptedField
from facturador.core.models import Branch, IssuerScoped


class PortalSettings(IssuerScoped):
    """Per-issuer portal configuration."""

    class Window(models.TextChoices):
        CALENDAR_MONTH = "month", _("Mes calendario de la compra")
        DAYS = "days", _("Días desde la compra")

    class PacKind(models.TextChoices):
        SANDBOX = "sandbox", _("PAC de pruebas local (protocolo Finkok)")
        FINKOK = "finkok", _("Finkok")
        SW = "sw", _("SW Sapien")

    slug = models.SlugField(_("dirección del portal"), unique=True)
    window = models.CharField(_("ventana de facturación"), max_length=5, choices=Window.choices, default=Window.CALENDAR_MONTH)
    window_days = models.PositiveIntegerField(_("días para facturar"), default=30)
    grace_days = models.PositiveIntegerField(_("días de gracia al cierre del mes"), default=0)
    allow_reissue_from_global = models.BooleanField(_("permitir refacturar tickets de la factura global (motivo 04)"), default=False)
    serie = models.CharField(_("serie de las facturas del portal"), max_length=10, default="AF")
    next_folio = models.PositiveIntegerField(default=1)
    global_serie = models.CharField(_("serie de la factura global"), max_length=10, default="FG")
    pac_kind = models.CharField(_("PAC"), max_length=10, choices=PacKind.choices, default=PacKind.SANDBOX)
    pac_url = models.URLField(_("URL del PAC"), max_length=300, blank=True)
    pac_user = models.CharField(_("usuario del PAC"), max_length=200, blank=True)
    pac_password = EncryptedField(text=True, null=True, blank=True)
    pac_timeout = models.PositiveIntegerField(_("tiempo de espera del PAC (s)"), default=30)
    clave_prod_serv = models.CharField(_("ClaveProdServ por defecto"), max_length=8, default="01010101")
    clave_unidad = models.CharField(_("ClaveUnidad por defecto"), max_length=3, default="ACT")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer"], name="portal_settings_one_per_issuer")]
        verbose_name = _("configuración del portal")


class Ticket(IssuerScoped):
    """A sale from the point of sale, invoiceable by the customer."""

    class Status(models.TextChoices):
        AVAILABLE = "available", _("Disponible")
        RESERVED = "reserved", _("En facturación")
        INVOICED = "invoiced", _("Facturado")
        GLOBAL = "global", _("En factura global")
        CANCELLED = "cancelled", _("Cancelado")
        BLOCKED = "blocked", _("Bloqueado")

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+")
    ticket_number = models.CharField(_("número de ticket"), max_length=40)
    order_number = models.CharField(_("número de orden"), max_length=40)
    short_code = models.CharField(_("código de facturación"), max_length=20, blank=True)
    sold_at = models.DateTimeField(_("fecha y hora de la venta"))
    subtotal = models.DecimalField(_("subtotal"), max_digits=14, decimal_places=2)
    tax = models.DecimalField(_("IVA"), max_digits=14, decimal_places=2)
    total = models.DecimalField(_("total"), max_digits=14, decimal_places=2)
    iva_rate = models.CharField(_("tasa de IVA"), max_length=6, default="16")
    lines = models.JSONField(_("partidas"), default=list, blank=True)
    payment_form = models.CharField(_("forma de pago"), max_length=2, default="01")
    status = models.CharField(_("estado"), max_length=10, choices=Status.choices, default=Status.AVAILABLE)
    reservation = models.CharField(max_length=40, blank=True)
    reserved_at = models.DateTimeField(null=True, blank=True)
    cfdi = models.ForeignKey("Cfdi", null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets")
    global_cfdi = models.ForeignKey("Cfdi", null=True, blank=True, on_delete=models.SET_NULL, related_name="global_tickets")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sold_at"]
        constraints = [models.UniqueConstraint(fields=["issuer", "branch", "ticket_number"], name="ticket_unique_number")]
        indexes = [models.Index(fields=["issuer", "status", "sold_at"])]
        verbose_name = _("ticket")

    def __str__(self):
        return f"{self.branch.code}-{self.ticket_number}"


class Customer(IssuerScoped):
    """A portal customer (receptor), identified by RFC, with an optional password."""

    rfc = models.CharField(_("RFC"), max_length=13)
    legal_name = models.CharField(_("nombre o razón social"), max_length=300)
    postal_code = models.CharField(_("código postal"), max_length=5)
    regimen = models.CharField(_("régimen fiscal"), max_length=3)
    uso_cfdi = models.CharField(_("uso del CFDI"), max_length=4, default="G03")
    email = models.EmailField(_("correo"), blank=True)
    password = models.CharField(max_length=256, blank=True)  # Django password hash; empty: no account yet
    must_change_password = models.BooleanField(default=False)
    # "recuperar contraseña": the emailed temporary password's hash, valid until temp_password_until; the current
    # password keeps working until the temporary one is used (then it replaces it and must be changed)
    temp_password = models.CharField(max_length=256, blank=True)
    temp_password_until = models.DateTimeField(null=True, blank=True)
    failed_logins = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_login = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "rfc"], name="customer_unique_rfc")]
        verbose_name = _("cliente del portal")

    def __str__(self):
        return f"{self.rfc} {self.legal_name}"

    @property
    def has_account(self):
        return bool(self.password)


class Cfdi(IssuerScoped):
    """A stamped CFDI issued from the portal or the global invoice. The XML is kept byte for byte."""

    class Kind(models.TextChoices):
        INVOICE = "I", _("Factura (ingreso)")
        CREDIT_NOTE = "E", _("Nota de crédito (egreso)")
        GLOBAL = "G", _("Factura global")

    class Status(models.TextChoices):  # the SAT outcome of the document, not a job's state
        STAMPED = "stamped", _("Vigente")
        CANCELLING = "cancelling", _("Cancelación en proceso")
        CANCELLED = "cancelled", _("Cancelada")

    kind = models.CharField(_("tipo"), max_length=1, choices=Kind.choices, default=Kind.INVOICE)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="cfdis")
    branch = models.ForeignKey(Branch, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    serie = models.CharField(max_length=10, blank=True)
    folio = models.CharField(max_length=20, blank=True)
    uuid = models.CharField(_("UUID"), max_length=36, unique=True)
    issued_at = models.DateTimeField(_("fecha de emisión"))
    receptor_rfc = models.CharField(_("RFC receptor"), max_length=13)
    receptor_name = models.CharField(_("receptor"), max_length=300)
    total = models.DecimalField(_("total"), max_digits=14, decimal_places=2)
    xml = models.BinaryField(editable=False)
    status = models.CharField(_("estado"), max_length=10, choices=Status.choices, default=Status.STAMPED)
    cancel_motive = models.CharField(max_length=2, blank=True)
    substitute_uuid = models.CharField(max_length=36, blank=True)
    cancel_ack = models.BinaryField(null=True, editable=False)
    period = models.CharField(_("periodo (global)"), max_length=7, blank=True)
    reservation = models.CharField(max_length=40, blank=True, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-issued_at", "-id"]
        verbose_name = _("CFDI")
        verbose_name_plural = _("CFDI")

    def __str__(self):
        return f"{self.serie}{self.folio} {self.uuid}"

    @property
    def full_number(self):
        return f"{self.serie}{self.folio}"


class StampRequest(IssuerScoped):
    """The sealed XML sent to the PAC for a reservation of tickets, saved BEFORE calling the PAC.

    If the process dies after the PAC stamped but before the CFDI was saved, recovery sends the same
    XML again: PACs answer a repeated document with its existing stamp, so nothing is invoiced twice.
    """

    reservation = models.CharField(max_length=40, unique=True)
    xml = models.BinaryField()
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    branch = models.ForeignKey(Branch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    email = models.EmailField(blank=True)
    done = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
