from django import forms
from django.utils.translation import gettext_lazy as _

from facturador.core.errors import Refusal
from facturador.core.models import Branch, Certificate, Issuer, NumberingRange
from facturador.core.periods import PERIOD_RE


def add_refusal(form, refusal: Refusal):
    """The web channel's translation of a refusal on a form: an error on its field (each field of
    `details["errors"]` when the refusal lists several), or on the whole form; the error keeps the refusal's code."""
    problems = refusal.details.get("errors") or [{"field": refusal.field, "message": refusal.message}]
    for problem in problems:
        field = problem.get("field") if problem.get("field") in form.fields else None
        form.add_error(field, forms.ValidationError(problem["message"], code=refusal.code))


class PeriodInput(forms.TextInput):
    """A month picker for a period (AAAA-MM: what `<input type="month">` sends) offering the periods that have data
    (a `<datalist>`); where the browser has no month picker it is a text box with the AAAA-MM pattern."""

    input_type = "month"
    template_name = "core/widgets/period.html"

    def __init__(self, attrs=None, periods=()):
        super().__init__({"placeholder": "AAAA-MM", "pattern": r"\d{4}-\d{2}", **(attrs or {})})
        self.periods = list(periods)

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        if self.periods:
            widget = context["widget"]
            widget["list_id"] = f"{widget['attrs'].get('id') or name}-periods"
            widget["attrs"]["list"] = widget["list_id"]
            widget["periods"] = self.periods
        return context


class PeriodCheckboxes(forms.CheckboxSelectMultiple):
    """The check boxes of `PeriodsField`, side by side."""

    template_name = "core/widgets/periods.html"


class PeriodsField(forms.MultipleChoiceField):
    """Several periods (AAAA-MM) picked from a list of check boxes: the periods that have data
    (`core.periods.offered_periods`, given with `offer()` when the form is built). Cleaned: the picked periods,
    sorted. A client posting a well-formed period that is not offered (a script, an old bookmark) is not refused
    here: whether that period can be used is the action's decision; a single value with commas is also split."""

    widget = PeriodCheckboxes
    default_error_messages = {"invalid_choice": _("«%(value)s» no es un periodo válido: use AAAA-MM (por ejemplo 2026-09).")}

    def __init__(self, *, periods=(), **kwargs):
        super().__init__(choices=(), **kwargs)
        self.offer(periods)

    def offer(self, periods):
        self.choices = [(p, p) for p in periods]

    def to_python(self, value):
        values = super().to_python(value)
        return sorted({p.strip() for v in values for p in v.replace(";", ",").split(",") if p.strip()})

    def valid_value(self, value):
        return bool(PERIOD_RE.match(value)) or super().valid_value(value)


class IssuerForm(forms.ModelForm):
    class Meta:
        model = Issuer
        fields = [
            "country", "tax_id", "check_digit", "person_type", "legal_name", "trade_name", "fiscal_regime",
            "address", "municipality_code", "city", "department", "postal_code", "ciiu", "phone", "email", "logo",
        ]
        help_texts = {
            "tax_id": _("Colombia: NIT sin puntos (puede escribir 800197268-4). México: RFC de 12 o 13 caracteres."),
            "fiscal_regime": _("Colombia: código de responsabilidad (p. ej. O-13, R-99-PN). México: régimen fiscal SAT (p. ej. 601)."),
            "municipality_code": _("Colombia: código DANE de 5 dígitos (p. ej. 11001 Bogotá)."),
            "ciiu": _("Colombia: códigos CIIU de la actividad económica, de 4 dígitos, separados por comas (p. ej. 4711, 6201)."),
        }


class BranchForm(forms.ModelForm):
    class Meta:
        model = Branch
        fields = ["code", "name", "address", "municipality_code", "postal_code", "series", "active"]


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
