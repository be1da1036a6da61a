from django import forms
from django.utils.translation import gettext_lazy as _

from facturador.billing.models import Account, Batch, Charge, InvoiceTemplate, ServiceClass, Tariff
from facturador.core.forms import PeriodInput, PeriodsField
from facturador.core.periods import offered_periods
from facturador.einvoice.forms import AcquirerLookupInput


def charge_periods(issuer) -> list[str]:
    """The periods a billing form offers: those with charges or tariffs, and this month (newest first)."""
    with_data = set(Charge.objects.filter(issuer=issuer).order_by().values_list("period", flat=True).distinct())
    with_data |= set(Tariff.objects.filter(issuer=issuer).order_by().values_list("period", flat=True).distinct())
    return offered_periods(with_data)


DATE = {"type": "date"}


class AccountForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = ["reference", "holder_name", "id_type", "id_number", "check_digit", "address", "municipality_code",
                  "service_class", "stratum", "email", "phone", "state"]
        # "Consultar en la DIAN": the holder's name and e-mail DIAN has (billing.views.account_acquirer).
        widgets = {"id_number": AcquirerLookupInput("billing:account_acquirer", ("id_type", "id_number"))}

    def __init__(self, *args, issuer, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.issuer = issuer


class BillingSettingsForm(forms.ModelForm):
    """Fields only: the rules (GLN check digits, tolerance, widths...) are in `billing.services.clean_settings`,
    applied by `billing.actions.save_settings` (the same for the API and `facturador billing settings set`)."""

    extra_glns = forms.CharField(label=_("Otros GLN de recaudo"), required=False,
                                 help_text=_("Separados por coma: otros convenios cuyos archivos de recaudo se aceptan."))

    class Meta:
        from facturador.billing.models import BillingSettings
        from facturador.billing.services import SETTINGS_FIELDS

        model = BillingSettings
        fields = SETTINGS_FIELDS
        widgets = {"notes": forms.Textarea(attrs={"rows": 3}),
                   "numbering_environment": forms.Select(choices=[("production", "Producción"), ("test", "Pruebas")])}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["extra_glns"] = ", ".join(self.instance.extra_glns or [])
        for name in ("payment_tolerance", "due_days"):  # left empty: unchanged
            self.fields[name].required = False

    def clean(self):
        data = super().clean()
        for name in ("payment_tolerance", "due_days"):
            if data.get(name) is None:
                data.pop(name, None)
        return data

    def _post_clean(self):  # the action checks and saves; the model form must not write the text into the JSON
        pass


class TariffForm(forms.ModelForm):
    class Meta:
        from facturador.billing.models import Tariff

        model = Tariff
        fields = ["period", "concept", "service_class", "stratum", "kind", "value"]
        widgets = {"period": PeriodInput()}


class CarteraFilterForm(forms.Form):
    """The report's filters; the periods are checked by `billing.services.cartera_report`."""

    periods = PeriodsField(label=_("Periodos"), required=False, help_text=_("Ninguno marcado: todos los periodos."))
    as_of = forms.DateField(label=_("Fecha de corte"), required=False, widget=forms.DateInput(attrs=DATE))
    service_class = forms.ChoiceField(label=_("Clase"), required=False, choices=[("", "Todas"), *ServiceClass.choices])
    stratum = forms.ChoiceField(label=_("Estrato"), required=False, choices=[("", "Todos")] + [(str(i), str(i)) for i in range(1, 7)])
    state = forms.ChoiceField(label=_("Estado"), required=False, choices=[("", "Todos"), *Account.State.choices])
    reference = forms.CharField(label=_("Referencia contiene"), required=False)
    only_with_balance = forms.BooleanField(label=_("Solo cuentas con saldo"), required=False)

    def __init__(self, *args, issuer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["periods"].offer(charge_periods(issuer))


class TemplateUploadForm(forms.Form):
    name = forms.CharField(label=_("Nombre"), max_length=80,
                           help_text=_("Si ya existe una plantilla con este nombre se crea una nueva versión."))
    source_file = forms.FileField(label=_("Archivo de plantilla (.typ)"), required=False)
    source = forms.CharField(label=_("o pegue la fuente Typst"), required=False, widget=forms.Textarea(attrs={"rows": 12}))
    logo = forms.FileField(label=_("Logo (PNG, JPG o SVG, opcional)"), required=False,
                           help_text=_("Disponible en la plantilla como recurso «logo.<ext>»."))
    description = forms.CharField(label=_("Descripción"), required=False, max_length=300)
    make_default = forms.BooleanField(label=_("Usar como predeterminada"), required=False)

    def clean(self):
        data = super().clean()
        f = data.get("source_file")
        if f:
            raw = f.read()
            try:
                data["source"] = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise forms.ValidationError(_("El archivo de plantilla debe estar en UTF-8.")) from None
        if not (data.get("source") or "").strip():
            raise forms.ValidationError(_("Cargue un archivo .typ o pegue la fuente de la plantilla."))
        logo = data.get("logo")
        if logo:
            ext = logo.name.rsplit(".", 1)[-1].lower() if "." in logo.name else ""
            if ext not in ("png", "jpg", "jpeg", "svg"):
                self.add_error("logo", _("El logo debe ser PNG, JPG o SVG."))
            else:
                data["assets"] = {f"logo.{ext}": logo.read()}
        return data


class BatchForm(forms.Form):
    """The inputs of `billing.actions.create_batch`; the action checks them (periods, dates, selection...)."""

    periods = PeriodsField(label=_("Periodos"), help_text=_("Marque los periodos a facturar (los que tienen cargos, y el mes en curso)."))
    billing_type = forms.ChoiceField(label=_("Tipo de facturación"), choices=Batch.BillingType.choices)
    issue_date = forms.DateField(label=_("Fecha de expedición"), widget=forms.DateInput(attrs=DATE))
    due_date = forms.DateField(label=_("Fecha límite de pago"), widget=forms.DateInput(attrs=DATE))
    template = forms.ModelChoiceField(label=_("Plantilla"), queryset=InvoiceTemplate.objects.none())
    electronic = forms.BooleanField(label=_("Emitir también como factura electrónica DIAN"), required=False,
                                    help_text=_("Cada factura se firma y se envía a la DIAN; el PDF lleva CUFE y QR."))
    references_file = forms.FileField(label=_("Archivo de referencias (opcional)"), required=False,
                                      help_text=_("Texto plano, una referencia por línea. Sin archivo se usan los filtros."))
    service_class = forms.ChoiceField(label=_("Filtro: clase"), required=False, choices=[("", "Todas"), *ServiceClass.choices])
    stratum = forms.ChoiceField(label=_("Filtro: estrato"), required=False,
                                choices=[("", "Todos")] + [(str(i), str(i)) for i in range(1, 7)])
    state = forms.ChoiceField(label=_("Filtro: estado"), required=False,
                              choices=[("", "Activas y suspendidas"), (Account.State.ACTIVE, Account.State.ACTIVE.label),
                                       (Account.State.SUSPENDED, Account.State.SUSPENDED.label)])
    reference = forms.CharField(label=_("Filtro: referencia contiene"), required=False)
    municipality_code = forms.CharField(label=_("Filtro: código de municipio DANE"), required=False, max_length=5)

    def __init__(self, *args, issuer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["periods"].offer(charge_periods(issuer))
        self.fields["template"].queryset = InvoiceTemplate.objects.filter(issuer=issuer).order_by("name", "-version")
        self.fields["template"].label_from_instance = lambda t: f"{t.name} — versión {t.version}" + (
            " (predeterminada)" if t.is_default else "")


class PaymentUploadForm(forms.Form):
    file = forms.FileField(label=_("Archivo de recaudo Asobancaria 2001"))


class AccountsUploadForm(forms.Form):
    file = forms.FileField(label=_("Archivo de cuentas (Excel, LibreOffice o CSV)"),
                           help_text=_("xlsx, xls, ods o csv con una fila de encabezados."))
    opening_period = forms.CharField(label=_("Periodo de los saldos anteriores"), required=False,
                                     widget=forms.TextInput(attrs={"type": "month", "placeholder": "AAAA-MM"}),
                                     help_text=_("Vacío: el mes pasado."))
