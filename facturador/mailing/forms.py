from django import forms
from django.utils.translation import gettext_lazy as _

from facturador.mailing import services
from facturador.mailing.models import MailSend

DEFAULT_SUBJECT = "Factura electrónica {{numero}} de {{emisor}}"
DEFAULT_BODY = ("Señor(a) {{cliente}}:\n\nLe enviamos la factura electrónica {{numero}} del {{fecha}} por {{total}}, "
                "con vencimiento el {{vencimiento}}.\n\nAdjuntamos el documento en PDF y XML.\n\nCordialmente,\n{{emisor}}")


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

    def clean_ranges(self):
        try:
            return services.parse_ranges(self.cleaned_data["ranges"])
        except services.MailingError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from exc

    def _template(self, name):
        value = self.cleaned_data[name]
        try:
            services.check_template(value, name)
        except services.MailingError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from exc
        return value

    def clean_subject(self):
        return self._template("subject")

    def clean_body(self):
        return self._template("body")

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            self.add_error("date_to", _("La fecha final del periodo es anterior a la inicial."))
        if data.get("recipients") == MailSend.Recipients.SELECTED and not self.selected:
            self.add_error("recipients", _("Seleccione al menos un cliente en la vista previa."))
        return data

    def documents(self):
        data = self.cleaned_data
        if "ranges" not in data:
            return []
        return list(services.documents_for(self.issuer, data["ranges"], data.get("date_from"), data.get("date_to")))

    def register(self, user):
        d = self.cleaned_data
        return services.register_send(
            self.issuer, ranges=d["ranges"], subject=d["subject"], body=d["body"], user=user, name=d["name"],
            date_from=d["date_from"], date_to=d["date_to"], recipients=d["recipients"], selected_customers=self.selected,
            reply_to=d["reply_to"], legally_required=d["legally_required"],
            max_consecutive_failures=d["max_consecutive_failures"])


class TestEmailForm(forms.Form):
    email = forms.EmailField(label=_("Enviar una prueba a"))
    document = forms.IntegerField(required=False, widget=forms.HiddenInput)
