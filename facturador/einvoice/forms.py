from django import forms
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from facturador.core.errors import Refusal
from facturador.einvoice import services
from facturador.einvoice.models import DianDocument, OperationMode
from facturador.taxid import TaxIdError, validate_nit

IVA_CHOICES = [("19", "IVA 19 %"), ("5", "IVA 5 %"), ("0", "IVA 0 %"), ("", "Sin IVA (excluido)")]
LINES = 5


class AcquirerLookupInput(forms.TextInput):
    """The customer's identification number with a "Consultar en la DIAN" button.

    htmx asks the view named ``url_name`` (GET, sending the inputs whose ids are ``include``) and shows its
    answer next to the button; the answer also replaces the name and e-mail inputs (htmx out-of-band swap, see
    `acquirer_fields`). No inline script: the Content-Security-Policy forbids them."""

    template_name = "einvoice/widgets/acquirer_lookup.html"

    def __init__(self, url_name: str, include: tuple[str, ...], attrs=None):
        super().__init__(attrs)
        self.url_name = url_name
        self.include = include

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["lookup_url"] = reverse(self.url_name)
        context["widget"]["lookup_include"] = ",".join(f"[name={n}]" for n in self.include)
        return context


def acquirer_answer(issuer, id_type, number, form: type[forms.Form], *, name_field: str, email_field: str,
                    form_kwargs: dict | None = None) -> dict:
    """The context of "einvoice/_acquirer_answer.html": what DIAN has for the buyer (`services.acquirer_lookup`)
    as a sentence, and ``form``'s (built with ``form_kwargs``) name and e-mail inputs holding DIAN's values, marked for htmx's out-of-band swap
    (they replace the inputs with the same id on the page; a value DIAN does not have is left as typed). A refusal
    (unknown buyer, DIAN unreachable...) is the sentence, and nothing is filled."""
    try:
        found = services.acquirer_lookup(issuer, id_type, number)
    except Refusal as refusal:
        return {"message": refusal.message, "refused": True, "fields": []}
    values = {name: value for name, value in ((name_field, found.name), (email_field, found.email)) if value}
    bound = form(data=values, **(form_kwargs or {}))
    message = f"La DIAN tiene registrado a {found.name}" + (
        f" con el correo de recepción {found.email}." if found.email else ", sin correo de recepción.")
    return {"message": message, "refused": False,
            "fields": [bound[name].as_widget(attrs={"hx-swap-oob": "true"}) for name in values]}


class OperationModeForm(forms.ModelForm):
    endpoint = forms.URLField(label=_("URL del servicio web"), required=False, assume_scheme="https",
                              help_text=_("Vacío: la URL oficial de la DIAN para el ambiente elegido."))
    pin = forms.CharField(label=_("PIN del software"), required=False, widget=forms.PasswordInput,
                          help_text=_("Se guarda cifrado. Déjelo vacío para conservar el actual."))

    class Meta:
        model = OperationMode
        fields = ["mode", "software_name", "software_id", "provider_name", "provider_nit", "test_set_id", "environment",
                  "endpoint", "active"]

    def __init__(self, *args, issuer, **kwargs):
        self.issuer = issuer
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            self.fields["provider_nit"].initial = issuer.tax_id
            self.fields["pin"].required = True

    # The action (`actions.save_operation_mode`) checks these again for the API; here they give field errors at once.
    def clean_test_set_id(self):
        return _field(services.clean_test_set_id, self.cleaned_data["test_set_id"])

    def clean_provider_nit(self):
        return _field(services.clean_provider_nit, self.cleaned_data["provider_nit"])

    def values(self) -> dict:
        """The mode's fields for `actions.save_operation_mode` (the PIN goes apart)."""
        return {name: self.cleaned_data[name] for name in self._meta.fields if name in self.cleaned_data}


def _field(check, value):
    try:
        return check(value)
    except Refusal as refusal:
        raise forms.ValidationError(refusal.message, code=refusal.code) from refusal


class DocumentForm(forms.Form):
    """A simple invoice / note form: customer, up to five lines, payment. The API takes the full JSON."""

    kind = forms.ChoiceField(label=_("Documento"), choices=DianDocument.Kind.choices)
    reference = forms.IntegerField(label=_("Factura que corrige (notas)"), required=False, widget=forms.HiddenInput)
    reference_number = forms.CharField(label=_("Número de la factura que corrige (notas)"), required=False)
    concept = forms.ChoiceField(label=_("Concepto de la nota"), required=False, choices=[
        ("", "—"), ("1", "Devolución parcial / Intereses (nota débito)"), ("2", "Anulación de factura / Gastos por cobrar"),
        ("3", "Rebaja o descuento / Cambio del valor"), ("4", "Ajuste de precio / Otros")])
    consumidor_final = forms.BooleanField(label=_("Consumidor final (222222222222)"), required=False)
    customer_id_type = forms.ChoiceField(label=_("Tipo de identificación"), initial="31", choices=[
        ("31", "NIT"), ("13", "Cédula de ciudadanía"), ("22", "Cédula de extranjería"), ("41", "Pasaporte")])
    customer_id = forms.CharField(label=_("Número de identificación (NIT con DV: 900106251-3)"), required=False,
                                  widget=AcquirerLookupInput("einvoice:acquirer", ("customer_id_type", "customer_id")))
    customer_name = forms.CharField(label=_("Nombre o razón social"), required=False)
    customer_email = forms.EmailField(label=_("Correo"), required=False)
    customer_address = forms.CharField(label=_("Dirección"), required=False)
    customer_city_code = forms.CharField(label=_("Municipio (código DANE)"), required=False, initial="11001")
    customer_city_name = forms.CharField(label=_("Municipio"), required=False, initial="Bogotá, D.C.")
    customer_department = forms.CharField(label=_("Departamento"), required=False, initial="Bogotá")
    payment_method = forms.ChoiceField(label=_("Forma de pago"), choices=[("1", "Contado"), ("2", "Crédito")])
    due_date = forms.DateField(label=_("Vencimiento (crédito)"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, issuer, **kwargs):
        self.issuer = issuer
        super().__init__(*args, **kwargs)
        for i in range(LINES):
            self.fields[f"line{i}_description"] = forms.CharField(label=_("Descripción %d") % (i + 1), required=False)
            self.fields[f"line{i}_quantity"] = forms.DecimalField(label=_("Cantidad"), required=False, min_value=0)
            self.fields[f"line{i}_price"] = forms.DecimalField(label=_("Valor unitario"), required=False, min_value=0)
            self.fields[f"line{i}_iva"] = forms.ChoiceField(label=_("IVA"), required=False, choices=IVA_CHOICES)

    def clean(self):
        data = super().clean()
        if data.get("kind") in ("credit_note", "debit_note") and not (data.get("reference") or data.get("reference_number")):
            self.add_error("reference_number", _("Una nota debe indicar la factura que corrige."))
        if not data.get("consumidor_final"):
            if not data.get("customer_name"):
                self.add_error("customer_name", _("Escriba el nombre del cliente."))
            if data.get("customer_id_type") == "31":
                try:
                    validate_nit(data.get("customer_id") or "")
                except TaxIdError as exc:
                    self.add_error("customer_id", exc.message)
            elif not (data.get("customer_id") or "").strip():
                self.add_error("customer_id", _("Escriba el número de identificación."))
        if data.get("payment_method") == "2" and not data.get("due_date"):
            self.add_error("due_date", _("Las ventas a crédito necesitan fecha de vencimiento."))
        lines = [i for i in range(LINES) if data.get(f"line{i}_description")]
        if not lines:
            self.add_error("line0_description", _("El documento necesita al menos una línea."))
        for i in lines:
            for part in ("quantity", "price"):
                if data.get(f"line{i}_{part}") in (None, ""):
                    self.add_error(f"line{i}_{part}", _("Complete la cantidad y el valor de la línea."))
        return data

    def payload(self) -> dict:
        """The document in the JSON format of docs/dian-json.md (what the API takes too)."""
        d = self.cleaned_data
        if d.get("consumidor_final"):
            customer = "consumidor_final"
        else:
            raw = (d.get("customer_id") or "").replace(".", "").strip()
            number, _, dv = raw.partition("-")
            customer = {"id_type": d["customer_id_type"], "id_number": number, "name": d["customer_name"],
                        "email": d.get("customer_email") or "", "legal_person": d["customer_id_type"] == "31"}
            if dv:
                customer["dv"] = dv
            if d.get("customer_address"):
                customer["address"] = {"line": d["customer_address"], "city_code": d.get("customer_city_code") or "11001",
                                       "city_name": d.get("customer_city_name") or "Bogotá, D.C.",
                                       "department_name": d.get("customer_department") or "Bogotá"}
        lines = []
        for i in range(LINES):
            if d.get(f"line{i}_description"):
                line = {"description": d[f"line{i}_description"], "quantity": str(d[f"line{i}_quantity"]),
                        "unit_price": str(d[f"line{i}_price"])}
                if d.get(f"line{i}_iva"):
                    line["taxes"] = [{"scheme": "01", "rate": d[f"line{i}_iva"]}]
                lines.append(line)
        payload = {"kind": d["kind"], "customer": customer, "lines": lines, "payment": {"method": d["payment_method"]}}
        if d.get("due_date"):
            payload["payment"]["due_date"] = payload["due_date"] = d["due_date"].isoformat()
        if d["kind"] != "invoice":
            payload["reference"] = {"document": d.get("reference")} if d.get("reference") else {"number": d.get("reference_number")}
            payload["discrepancy"] = {"code": d.get("concept") or ("2" if d["kind"] == "credit_note" else "4"),
                                      "description": "Corrección de la factura"}
        return payload
