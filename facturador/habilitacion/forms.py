import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from facturador.core.errors import Refusal
from facturador.einvoice.forms import OperationModeForm
from facturador.einvoice.models import DianDocument
from facturador.habilitacion import selectors, services

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class RegistrationForm(forms.Form):
    reception_email = forms.EmailField(
        label=_("Correo de recepción de facturas"),
        help_text=_("El mismo correo que registró en el portal de la DIAN para recibir facturas electrónicas."))
    registered_on = forms.DateField(label=_("Fecha de registro en la DIAN"), widget=DATE, required=False)


class ModeForm(OperationModeForm):
    """einvoice's operation-mode form, without the environment (the production switch changes it)."""

    class Meta(OperationModeForm.Meta):
        fields = ["mode", "software_name", "software_id", "provider_name", "provider_nit", "test_set_id", "endpoint"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["test_set_id"].required = True
        self.fields["test_set_id"].help_text = _("Identificador del set de pruebas que muestra el portal de la DIAN "
                                                 "(«Detalles del set de pruebas»), formato GUID.")
        self.fields["endpoint"].help_text = _("Déjela vacía para usar el servicio oficial de la DIAN.")
        self.fields["provider_name"].help_text = _("Solo si usa el software de un proveedor tecnológico.")

    def action_kwargs(self) -> dict:
        """The input of `actions.save_operation_mode` (the form only validates; the action saves)."""
        names = ["software_id", "pin", "test_set_id", "mode", "software_name", "provider_name", "provider_nit",
                 "endpoint"]
        return {name: self.cleaned_data.get(name) for name in names}


class TestNumberingForm(forms.Form):
    prefix = forms.CharField(label=_("Prefijo de facturas"), max_length=4)
    range_from = forms.IntegerField(label=_("Desde"), min_value=1)
    range_to = forms.IntegerField(label=_("Hasta"), min_value=1)
    resolution_number = forms.CharField(label=_("Número de resolución"), max_length=40)
    valid_from = forms.DateField(label=_("Vigente desde"), widget=DATE)
    valid_to = forms.DateField(label=_("Vigente hasta"), widget=DATE)
    technical_key = forms.CharField(
        label=_("Clave técnica"), max_length=100, required=False, widget=forms.PasswordInput(render_value=False),
        help_text=_("Se guarda cifrada y no se vuelve a mostrar. Vacía: se conserva la guardada (o, la primera vez, "
                    "la clave técnica de habilitación que publica la DIAN)."))
    credit_prefix = forms.CharField(label=_("Prefijo de notas crédito de prueba"), max_length=4)
    debit_prefix = forms.CharField(label=_("Prefijo de notas débito de prueba"), max_length=4)

    def clean(self):
        data = super().clean()
        for name in ("prefix", "credit_prefix", "debit_prefix"):
            value = (data.get(name) or "").strip().upper()
            if value and not value.isalnum():
                self.add_error(name, _("El prefijo tiene de 1 a 4 caracteres alfanuméricos."))
            data[name] = value
        if data.get("range_from") and data.get("range_to") and data["range_to"] < data["range_from"]:
            self.add_error("range_to", _("El número final debe ser mayor o igual al inicial."))
        if data.get("valid_from") and data.get("valid_to") and data["valid_to"] < data["valid_from"]:
            self.add_error("valid_to", _("La fecha final de vigencia es anterior a la inicial."))
        return data


class RunForm(forms.Form):
    test_set_id = forms.CharField(label=_("TestSetId"), max_length=40)
    invoices = forms.IntegerField(label=_("Facturas"), min_value=1, max_value=services.MAX_COUNT)
    credit_notes = forms.IntegerField(label=_("Notas crédito"), min_value=0, max_value=services.MAX_COUNT)
    debit_notes = forms.IntegerField(label=_("Notas débito"), min_value=0, max_value=services.MAX_COUNT,
                                     help_text=_("Copie las cantidades de «Detalles del set de pruebas» en el portal "
                                                 "de la DIAN."))

    def clean_test_set_id(self):
        try:
            return services.validate_test_set_id(self.cleaned_data["test_set_id"])
        except Refusal as refusal:
            raise forms.ValidationError(refusal.message, code=refusal.code) from refusal


class CorrectionForm(forms.Form):
    customer_name = forms.CharField(label=_("Cliente"), max_length=300, required=False)
    customer_id = forms.CharField(label=_("Identificación del cliente"), max_length=20, required=False)
    description = forms.CharField(label=_("Descripción"), max_length=300)
    quantity = forms.DecimalField(label=_("Cantidad"), min_value=0, decimal_places=4)
    unit_price = forms.DecimalField(label=_("Valor unitario"), min_value=0, decimal_places=2)
    iva = forms.ChoiceField(label=_("IVA"), choices=[("19", "19 %"), ("5", "5 %"), ("0", "0 %"), ("", "Sin IVA")],
                            required=False)

    @classmethod
    def for_document(cls, doc: DianDocument, data=None):
        form = cls(data, initial=services.correction_fields(doc))
        form.document = doc
        return form


class ProductionForm(forms.Form):
    start_date = forms.DateField(label=_("Fecha de inicio de facturación electrónica"), widget=DATE,
                                 help_text=_("La fecha en que empieza a facturar electrónicamente (la que informó a "
                                             "la DIAN). Una vez confirmada no se puede cambiar."))
    endpoint = forms.URLField(label=_("URL del servicio web de producción"), required=False, assume_scheme="https",
                              help_text=_("Déjela vacía para usar el servicio oficial de producción de la DIAN."))
    confirm = forms.BooleanField(label=_("Confirmo la fecha de inicio: entiendo que no se puede modificar después"))


class ResolutionForm(forms.Form):
    """The numbering authorised with form 1876."""

    resolution_number = forms.CharField(label=_("Número de resolución (formulario 1876)"), max_length=40)
    billing_type = forms.ChoiceField(label=_("Tipo de facturación"), choices=services.BILLING_TYPES)
    prefix = forms.CharField(label=_("Prefijo"), max_length=4, help_text=_("Hasta 4 caracteres alfanuméricos."))
    range_from = forms.IntegerField(label=_("Desde"), min_value=1)
    range_to = forms.IntegerField(label=_("Hasta"), min_value=1)
    valid_from = forms.DateField(label=_("Vigente desde"), widget=DATE)
    valid_to = forms.DateField(label=_("Vigente hasta"), widget=DATE)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        self.fields["valid_from"].initial = today
        self.fields["valid_to"].initial = today + dt.timedelta(days=730)

    def clean_prefix(self):
        value = self.cleaned_data["prefix"].strip().upper()
        if not value.isalnum():
            raise forms.ValidationError(_("El prefijo tiene de 1 a 4 caracteres alfanuméricos."))
        return value


class RangeChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):  # as DIAN's portal lists it: "FE - 18764031407250 (1 - 100)"
        return f"{obj.prefix or '(sin prefijo)'} - {obj.resolution_number} ({obj.range_from} - {obj.range_to})"


class PrefixForm(forms.Form):
    """DIAN's "Gestionar asociación de prefijos": a prefix of an authorised range, associated with the software."""

    numbering_range = RangeChoice(label=_("Prefijo"), queryset=None, empty_label=None,
                                  help_text=_("La numeración autorizada (formulario 1876) cuyo prefijo asoció al "
                                              "software en el portal de la DIAN."))
    associated_on = forms.DateField(label=_("Fecha en que asoció el prefijo al software en el portal"), widget=DATE)

    def __init__(self, *args, issuer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["numbering_range"].queryset = selectors.production_ranges(issuer)
