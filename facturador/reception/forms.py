from django import forms
from django.utils.translation import gettext_lazy as _

from facturador.reception.models import Mailbox

STATE_CHOICES = [("", _("Todos")), ("received", _("Recibidos")), ("set_aside", _("Apartados")),
                 ("ok", _("Verificados")), ("findings", _("Con observaciones")), ("failed", _("Verificación fallida")),
                 ("dian_rejected", _("Rechazados por la DIAN"))]


class UploadForm(forms.Form):
    file = forms.FileField(label=_("Archivo"), help_text=_(
        "AttachedDocument de la DIAN (xml o zip con el PDF), CFDI (xml) o un correo (.eml) con esos adjuntos."))


class FilterForm(forms.Form):
    supplier = forms.CharField(label=_("Proveedor"), required=False)
    state = forms.ChoiceField(label=_("Estado"), choices=STATE_CHOICES, required=False)
    country = forms.ChoiceField(label=_("País"), choices=[("", _("Todos")), ("CO", "Colombia"), ("MX", "México")],
                                required=False)
    date_from = forms.DateField(label=_("Desde"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("Hasta"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(label=_("Número o CUFE/UUID"), required=False)


class MailboxForm(forms.ModelForm):
    password = forms.CharField(label=_("Contraseña"), required=False, widget=forms.PasswordInput(render_value=False),
                               help_text=_("Déjela vacía para conservar la guardada."))

    class Meta:
        model = Mailbox
        fields = ["enabled", "host", "port", "security", "username", "folder", "done_folder", "poll_minutes"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # the password goes after the user name (it is not a model form field: it is stored encrypted)
        order = list(self.fields)
        order.remove("password")
        order.insert(order.index("username") + 1, "password")
        self.order_fields(order)
