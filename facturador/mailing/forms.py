import re

from django import forms
from django.utils.translation import gettext_lazy as _

from facturador.core.errors import Refusal
from facturador.core.forms import add_refusal
from facturador.mailing import services
from facturador.mailing.models import MailSend

# The default texts fit every document type: the variables say what the document is and what is attached
DEFAULT_SUBJECT = "{{tipo_documento}} {{numero}} de {{emisor}}"
DEFAULT_BODY = ("Señor(a) {{cliente}}:\n\nLe enviamos {{documento}} {{numero}} del {{fecha}} por {{total}}{{plazo}}."
                "\n\nAdjuntamos {{adjuntos}}.\n\nCordialmente,\n{{emisor}}")


class MailSendForm(forms.Form):
    name = forms.CharField(label=_("Nombre del envío"), max_length=200, required=False)
    ranges = forms.CharField(label=_("Rangos de facturas"), widget=forms.Textarea(attrs={"rows": 2}),
                             help_text=_("Prefijo y números, separados por coma o renglón. Ej.: FE1-FE500, FE800-FE900"))
    date_from = forms.DateField(label=_("Expedidas desde"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("Expedidas hasta"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    recipients = forms.ChoiceField(label=_("Destinatarios"), choices=MailSend.Recipients.choices,
                                   initial=MailSend.Recipients.ALL, widget=forms.RadioSelect)
    subject = forms.CharField(label=_("Asunto"), max_length=300, initial=DEFAULT_SUBJECT)
    body = forms.CharField(label=_("Mensaje"), widget=forms.Textarea(attrs={"rows": 9}), initial=DEFAULT_BODY,
                           help_text=_("Variables: ") + ", ".join("{{%s}}" % v for v in services.VARIABLES))
    reply_to = forms.EmailField(label=_("Responder a"), required=False,
                                help_text=_("Vacío: el correo de recepción del emisor."))
    legally_required = forms.BooleanField(label=_("Es la entrega obligatoria de facturas"), required=False, initial=True,
                                          help_text=MailSend._meta.get_field("legally_required").help_text)
    max_consecutive_failures = forms.IntegerField(label=_("Detener tras fallos consecutivos"), min_value=0,
                                                  max_value=10000, initial=10, help_text=_("0: no detener."))

    def __init__(self, *args, issuer=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.issuer = issuer
        self.selected = [v for v in (self.data.getlist("customers") if hasattr(self.data, "getlist") else []) if v]

    def clean(self):
        """The rules the live preview shows as the user types (the action checks them again on registration)."""
        data = super().clean()
        for field in ("ranges", "subject", "body", "date_to"):
            if field not in data:
                continue
            try:
                if field == "ranges":
                    data["ranges"] = services.clean_ranges(data["ranges"])
                elif field == "date_to":
                    services.check_period(data.get("date_from"), data["date_to"])
                else:
                    services.check_template(data[field], field)
            except Refusal as refusal:
                add_refusal(self, refusal)
        return data

    def documents(self):
        data = self.cleaned_data
        if "ranges" not in data:
            return []
        return list(services.documents_for(self.issuer, data["ranges"], data.get("date_from"), data.get("date_to")))

    def action_kwargs(self) -> dict:
        """The registration's inputs, for actions.register_send."""
        d = self.cleaned_data
        names = ["ranges", "subject", "body", "name", "date_from", "date_to", "recipients", "reply_to",
                 "legally_required", "max_consecutive_failures"]
        return {**{name: d[name] for name in names}, "selected_customers": self.selected}


class TestEmailForm(forms.Form):
    email = forms.EmailField(label=_("Enviar una prueba a"))
    document = forms.IntegerField(required=False, widget=forms.HiddenInput)


class TestRecipientsForm(forms.Form):
    emails = forms.CharField(label=_("Correos de prueba"), required=False, widget=forms.Textarea(attrs={"rows": 5}),
                             help_text=_("Uno por renglón (o separados por coma). Las pruebas solo se envían a estos "
                                         "correos o al correo propio de quien la envía."))

    def action_kwargs(self) -> dict:
        return {"emails": [e for e in re.split(r"[\s,;]+", self.cleaned_data["emails"]) if e]}
