from django import forms

from facturador.core.models import Branch
from facturador.portal import services

FORMAS_PAGO = [("01", "Efectivo"), ("02", "Cheque nominativo"), ("03", "Transferencia electrónica"),
               ("04", "Tarjeta de crédito"), ("28", "Tarjeta de débito"), ("05", "Monedero electrónico")]


class BranchForm(forms.Form):
    branch = forms.ModelChoiceField(label="Sucursal donde compró", queryset=Branch.objects.none(), empty_label="Elija la sucursal")

    def __init__(self, *args, issuer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["branch"].queryset = Branch.objects.filter(issuer=issuer, active=True)


class RfcForm(forms.Form):
    rfc = forms.CharField(label="RFC", max_length=13, help_text="12 caracteres (persona moral) o 13 (persona física).")

    def clean_rfc(self):
        try:
            return services.check_rfc(self.cleaned_data["rfc"])
        except services.PortalError as exc:
            raise forms.ValidationError(exc.message) from exc


class LoginForm(forms.Form):
    password = forms.CharField(label="Contraseña", widget=forms.PasswordInput, strip=False)


class TicketForm(forms.Form):
    order_number = forms.CharField(label="Número de orden", max_length=40)
    ticket_number = forms.CharField(label="Número de ticket", max_length=40)
    total = forms.CharField(label="Total del ticket", max_length=20, help_text="Con centavos, por ejemplo 1160.00")


class PaymentForm(forms.Form):
    forma_pago = forms.ChoiceField(label="Forma de pago", choices=FORMAS_PAGO)


class FiscalDataForm(forms.Form):
    name = forms.CharField(label="Nombre o razón social", max_length=300,
                           help_text="Exactamente como en su Constancia de Situación Fiscal, sin el régimen capital (SA DE CV).")
    postal_code = forms.CharField(label="Código postal del domicilio fiscal", max_length=5)
    regimen = forms.ChoiceField(label="Régimen fiscal", choices=[("", "Elija su régimen")] + sorted(services.REGIMENES.items()))
    uso_cfdi = forms.ChoiceField(label="Uso del CFDI", choices=[("", "Elija el uso")] + list(services.USOS.items()))
    email = forms.EmailField(label="Correo para recibir la factura", required=False)
    password = forms.CharField(label="Cree una contraseña para su cuenta (opcional)", required=False,
                               widget=forms.PasswordInput, strip=False,
                               help_text="Con una cuenta verá y descargará sus facturas en cualquier momento.")

    def __init__(self, *args, rfc, **kwargs):
        self.rfc = rfc
        super().__init__(*args, **kwargs)
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
        except services.PortalError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return data


class RecoverForm(forms.Form):
    rfc = forms.CharField(label="RFC", max_length=13)
    email = forms.EmailField(label="Correo registrado")
    captcha = forms.CharField(label="Resultado de la operación", max_length=3)


class ChangePasswordForm(forms.Form):
    current = forms.CharField(label="Contraseña actual o temporal", widget=forms.PasswordInput, strip=False)
    new1 = forms.CharField(label="Nueva contraseña", widget=forms.PasswordInput, strip=False)
    new2 = forms.CharField(label="Repita la nueva contraseña", widget=forms.PasswordInput, strip=False)

    def clean(self):
        data = super().clean()
        if data.get("new1") and data.get("new1") != data.get("new2"):
            self.add_error("new2", "Las contraseñas no coinciden.")
        return data


class TicketUploadForm(forms.Form):
    file = forms.FileField(label="Archivo CSV de tickets",
                           help_text="Columnas: sucursal,ticket,orden,fecha,subtotal,iva,total,forma_pago[,codigo]")
