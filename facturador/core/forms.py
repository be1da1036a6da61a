from django import forms
from django.utils.translation import gettext_lazy as _

from facturador.core import numbering
from facturador.core.errors import Refusal
from facturador.core.models import Branch, Certificate, Issuer, NumberingRange
from facturador.taxid import TaxIdError, validate_nit, validate_rfc


def add_refusal(form, refusal: Refusal):
    """The web channel's translation of a refusal on a form: an error on its field, or on the whole form."""
    field = refusal.field if refusal.field in form.fields else None
    form.add_error(field, forms.ValidationError(refusal.message, code=refusal.code))


def clean_tax_id(country, tax_id, check_digit=""):
    """Shared by forms and API serializers: returns (tax_id, check_digit) or raises TaxIdError."""
    if country == "CO":
        return validate_nit(tax_id, check_digit or None) if check_digit else validate_nit(tax_id)
    return validate_rfc(tax_id), ""


class IssuerForm(forms.ModelForm):
    class Meta:
        model = Issuer
        fields = [
            "country", "tax_id", "check_digit", "person_type", "legal_name", "trade_name", "fiscal_regime",
            "address", "municipality_code", "city", "department", "postal_code", "phone", "email", "logo",
        ]
        help_texts = {
            "tax_id": _("Colombia: NIT sin puntos (puede escribir 800197268-4). México: RFC de 12 o 13 caracteres."),
            "fiscal_regime": _("Colombia: código de responsabilidad (p. ej. O-13, R-99-PN). México: régimen fiscal SAT (p. ej. 601)."),
            "municipality_code": _("Colombia: código DANE de 5 dígitos (p. ej. 11001 Bogotá)."),
        }

    def clean(self):
        data = super().clean()
        country = data.get("country")
        tax_id = data.get("tax_id") or ""
        if country and tax_id:
            try:
                data["tax_id"], data["check_digit"] = clean_tax_id(country, tax_id, data.get("check_digit", ""))
            except TaxIdError as exc:
                self.add_error("tax_id", exc.message)
        if country == "CO":
            code = data.get("municipality_code") or ""
            if code and not (code.isdigit() and len(code) == 5):
                self.add_error("municipality_code", _("El código DANE del municipio tiene 5 dígitos."))
        if country == "MX":
            cp = data.get("postal_code") or ""
            if not (cp.isdigit() and len(cp) == 5):
                self.add_error("postal_code", _("El código postal (lugar de expedición) tiene 5 dígitos."))
        return data


class BranchForm(forms.ModelForm):
    class Meta:
        model = Branch
        fields = ["code", "name", "address", "municipality_code", "postal_code", "series", "active"]

    def __init__(self, *args, issuer, **kwargs):
        self.issuer = issuer
        super().__init__(*args, **kwargs)

    def clean_code(self):
        code = self.cleaned_data["code"].strip()
        qs = Branch.objects.filter(issuer=self.issuer, code=code)
        if self.instance.pk:
            qs = qs.exclude(pk=self.instance.pk)
        if qs.exists():
            raise forms.ValidationError(_("Ya existe una sucursal con el código %(code)s."), params={"code": code})
        return code


class NumberingRangeForm(forms.ModelForm):
    technical_key_input = forms.CharField(
        label=_("Clave técnica"), required=False, widget=forms.PasswordInput(render_value=False),
        help_text=_("Se guarda cifrada y no se vuelve a mostrar. Déjela vacía para conservar la actual."),
    )

    class Meta:
        model = NumberingRange
        fields = [
            "document_type", "environment", "prefix", "range_from", "range_to", "valid_from", "valid_to",
            "resolution_number", "active",
        ]
        widgets = {"valid_from": forms.DateInput(attrs={"type": "date"}), "valid_to": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args, issuer, **kwargs):
        self.issuer = issuer
        super().__init__(*args, **kwargs)

    def clean_prefix(self):
        prefix = self.cleaned_data.get("prefix", "").strip().upper()
        return validate_prefix(prefix)

    def clean(self):
        data = super().clean()
        errors = range_errors(self.issuer, data, exclude_pk=self.instance.pk)
        for field, message in errors:
            self.add_error(field, message)
        return data

    def save(self, commit=True):
        obj = super().save(commit=False)
        obj.issuer = self.issuer
        if not obj.pk:
            obj.next_number = obj.range_from
        key = self.cleaned_data.get("technical_key_input")
        if key:
            obj.technical_key = key.strip()
        if commit:
            obj.save()
        return obj


def validate_prefix(prefix):
    if prefix and not (prefix.isalnum() and 1 <= len(prefix) <= 4):
        raise forms.ValidationError(_("El prefijo tiene de 1 a 4 caracteres alfanuméricos."))
    return prefix


def range_errors(issuer, data, exclude_pk=None):
    """Rules shared by the form and the API: order of the range and dates, no overlap."""
    out = []
    rf, rt = data.get("range_from"), data.get("range_to")
    if rf is not None and rt is not None and rt < rf:
        out.append(("range_to", _("El número final debe ser mayor o igual al inicial.")))
    vf, vt = data.get("valid_from"), data.get("valid_to")
    if vf and vt and vt < vf:
        out.append(("valid_to", _("La fecha final de vigencia es anterior a la inicial.")))
    if rf is not None and rt is not None and rt >= rf and data.get("document_type"):
        other = numbering.overlapping(issuer, data["document_type"], data.get("environment"), data.get("prefix", ""),
                                      rf, rt, exclude_pk=exclude_pk)
        if other:
            out.append(("range_from", _("El rango se cruza con la numeración existente %(other)s.") % {"other": other}))
    return out


class CertificateUploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("Tipo"), choices=Certificate.Kind.choices)
    p12 = forms.FileField(label=_("Archivo .p12 / .pfx"), required=False)
    cer = forms.FileField(label=_("Certificado .cer"), required=False)
    key = forms.FileField(label=_("Llave privada .key"), required=False)
    password = forms.CharField(label=_("Contraseña"), widget=forms.PasswordInput, strip=False)

    MAX_SIZE = 64 * 1024

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        needed = ["p12"] if kind == Certificate.Kind.PKCS12 else ["cer", "key"]
        for name in needed:
            f = data.get(name)
            if not f:
                self.add_error(name, _("Adjunte este archivo."))
            elif f.size > self.MAX_SIZE:
                self.add_error(name, _("El archivo es demasiado grande para ser un certificado."))
        return data
