from django import forms

from facturador.core.errors import Refusal
from facturador.core.forms import add_refusal
from facturador.core.models import Branch
from facturador.portal import accounts, services
from facturador.portal.models import PortalSettings


class BranchForm(forms.Form):
    branch = forms.ModelChoiceField(label="Sucursal donde compró", queryset=Branch.objects.none(), empty_label="Elija la sucursal")

    def __init__(self, *args, issuer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["branch"].queryset = Branch.objects.filter(issuer=issuer, active=True)


class RfcForm(forms.Form):
    rfc = forms.CharField(label="RFC", max_length=13, help_text="12 caracteres (persona moral) o 13 (persona física).")

    def clean(self):
        data = super().clean()
        if "rfc" in data:
            try:
                data["rfc"] = services.check_rfc(data["rfc"])
            except Refusal as r:
                add_refusal(self, r)
        return data


class LoginForm(forms.Form):
    rfc = forms.CharField(label="RFC", max_length=13)
    password = forms.CharField(label="Contraseña", widget=forms.PasswordInput, strip=False)

    def __init__(self, *args, ask_rfc: bool, **kwargs):
        """`ask_rfc`: the direct entry ("Mis facturas / Ingresar"); in the invoicing flow the RFC is known."""
        super().__init__(*args, **kwargs)
        if not ask_rfc:
            del self.fields["rfc"]

    def clean_rfc(self):
        try:
            return services.check_rfc(self.cleaned_data["rfc"])
        except Refusal as r:
            raise forms.ValidationError(r.message, code=r.code) from None


class TicketForm(forms.Form):
    """Each field's help says where that datum is printed on the ticket (shown next to the field)."""

    order_number = forms.CharField(label="Número de orden", max_length=40,
                                   help_text="En el ticket, la línea «Orden:» debajo de la sucursal (por ejemplo 000123).")
    ticket_number = forms.CharField(label="Número de ticket", max_length=40,
                                    help_text="En el ticket, la línea «Ticket:» debajo del número de orden (por ejemplo 4567).")
    total = forms.CharField(label="Total del ticket", max_length=20,
                            help_text="En el ticket, la línea «TOTAL» al final de los productos, con centavos "
                                      "(por ejemplo 1160.00).")


class PaymentForm(forms.Form):
    forma_pago = forms.ChoiceField(label="Forma de pago", choices=services.FORMAS_PAGO)


class FiscalDataForm(forms.Form):
    name = forms.CharField(label="Nombre o razón social", max_length=300,
                           help_text="Exactamente como en su Constancia de Situación Fiscal, sin el régimen capital (SA DE CV).")
    postal_code = forms.CharField(label="Código postal del domicilio fiscal", max_length=5)
    regimen = forms.ChoiceField(label="Régimen fiscal", choices=[("", "Elija su régimen")] + sorted(services.REGIMENES.items()),
                                help_text="Los regímenes de su tipo de RFC: 12 caracteres, persona moral; 13, persona física.")
    uso_cfdi = forms.ChoiceField(label="Uso del CFDI", choices=[("", "Elija el uso")] + list(services.USOS.items()))
    email = forms.EmailField(label="Correo para recibir la factura", required=False)
    password = forms.CharField(label="Cree una contraseña para su cuenta (opcional)", required=False,
                               widget=forms.PasswordInput, strip=False,
                               help_text="Con una cuenta verá y descargará sus facturas en cualquier momento.")

    def __init__(self, *args, rfc, **kwargs):
        self.rfc = rfc
        super().__init__(*args, **kwargs)
        self.fields["regimen"].choices = [("", "Elija su régimen")] + services.regimenes_for(rfc)
        regimen = self.data.get("regimen") or self.initial.get("regimen")
        if regimen:
            self.fields["uso_cfdi"].choices = [("", "Elija el uso")] + services.usos_for(regimen, len(rfc) == 12)

    def receptor(self) -> services.ReceptorData:
        d = self.cleaned_data
        return services.ReceptorData(rfc=self.rfc, name=d["name"], postal_code=d["postal_code"], regimen=d["regimen"],
                                     uso_cfdi=d["uso_cfdi"], email=d.get("email") or "")

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            services.check_receptor(self.receptor())
            if data.get("password"):
                data["password_hash"] = accounts.hash_new_password(data.pop("password"))
        except Refusal as r:
            add_refusal(self, r)
        return data


class RecoverForm(forms.Form):
    rfc = forms.CharField(label="RFC", max_length=13)
    email = forms.EmailField(label="Correo registrado")
    captcha = forms.CharField(label="Caracteres de la imagen", max_length=12,
                              help_text="Escriba las 6 letras y números que ve en la imagen (mayúsculas o minúsculas).")


class ChangePasswordForm(forms.Form):
    current = forms.CharField(label="Contraseña actual o temporal", widget=forms.PasswordInput, strip=False)
    new1 = forms.CharField(label="Nueva contraseña", widget=forms.PasswordInput, strip=False)
    new2 = forms.CharField(label="Repita la nueva contraseña", widget=forms.PasswordInput, strip=False)

    def clean(self):
        data = super().clean()
        if data.get("new1") and data.get("new1") != data.get("new2"):
            self.add_error("new2", "Las contraseñas no coinciden.")
        return data


class EmailForm(forms.Form):
    email = forms.EmailField(label="Enviar por correo a", error_messages={"invalid": "Escriba un correo válido."})


class PanelFilterForm(forms.Form):
    """The filters of the customer's invoice list (all optional)."""

    date_from = forms.DateField(label="Desde", required=False)
    date_to = forms.DateField(label="Hasta", required=False)
    branch = forms.IntegerField(label="Sucursal", required=False, min_value=1, max_value=2**31 - 1)  # a database id
    status = forms.CharField(label="Estado", required=False, max_length=20)
    min = forms.DecimalField(label="Monto mínimo", required=False, min_value=0, max_digits=14, decimal_places=2)
    max = forms.DecimalField(label="Monto máximo", required=False, min_value=0, max_digits=14, decimal_places=2)

    def __init__(self, data, **kwargs):
        # the query string uses "from" and "to"
        data = data.copy()
        data["date_from"], data["date_to"] = data.get("from", ""), data.get("to", "")
        super().__init__(data, **kwargs)

    def ignored(self) -> list[tuple[str, str]]:
        """(label, message) of each filter that is not valid and so is not applied."""
        return [(self.fields[name].label, errors[0]) for name, errors in self.errors.items() if name in self.fields]


class TicketUploadForm(forms.Form):
    file = forms.FileField(label="Archivo CSV de tickets",
                           help_text="Columnas: sucursal,ticket,orden,fecha,subtotal,iva,total,forma_pago[,codigo]")


class SettingsForm(forms.ModelForm):
    pac_password_input = forms.CharField(label="Contraseña del PAC", required=False, widget=forms.PasswordInput,
                                         help_text="Se guarda cifrada. Déjela vacía para conservar la actual.")
    pac_url = forms.URLField(label="URL del PAC", required=False, assume_scheme="https")

    class Meta:
        model = PortalSettings
        fields = services.SETTINGS_FIELDS
