import json

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from facturador.core.errors import Invalid
from facturador.core.forms import PeriodInput
from facturador.core.periods import clean_period, offered_periods
from facturador.imports.models import FileType, ImportJob, ImportTemplate, Operator


class OperatorForm(forms.ModelForm):
    """The operator's fields; `actions.save_operator` stores them (and checks the code)."""

    class Meta:
        model = Operator
        fields = ["code", "name", "active", "notes"]


class ScheduleForm(forms.Form):
    """Programación de importación."""

    operator = forms.ModelChoiceField(label=_("Operador"), queryset=Operator.objects.none())
    template = forms.ModelChoiceField(label=_("Plantilla"), queryset=ImportTemplate.objects.none(),
                                      help_text=_("Se usa la versión elegida de la plantilla."))
    period = forms.CharField(label=_("Periodo (AAAA-MM)"), max_length=7, widget=PeriodInput(),
                             help_text=_("Mes del detalle de consumo, por ejemplo 2026-10."))
    file_type = forms.ChoiceField(label=_("Tipo de archivo"), choices=FileType.choices)
    file = forms.FileField(label=_("Archivo"), help_text=_("xlsx, xls, xlsb, ods, csv o txt (UTF-8 o Latin-1), también dentro de un zip."))
    when = forms.ChoiceField(label=_("Ejecutar"), choices=[("now", _("Ahora")), ("at", _("En una fecha y hora"))],
                             initial="now", widget=forms.RadioSelect)
    run_at = forms.DateTimeField(label=_("Fecha y hora"), required=False,
                                 widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
                                 input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M"])
    dry_run = forms.BooleanField(label=_("Simulación: validar sin guardar"), required=False)
    force = forms.BooleanField(label=_("Forzar aunque el mismo archivo ya se haya importado para este periodo"), required=False)

    def __init__(self, *args, issuer=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["operator"].queryset = Operator.objects.filter(issuer=issuer, active=True)
        self.fields["template"].queryset = ImportTemplate.latest_versions(issuer)
        imported = ImportJob.objects.filter(issuer=issuer).order_by().values_list("period", flat=True).distinct()
        self.fields["period"].widget.periods = offered_periods(imported)
        self.fields["template"].label_from_instance = lambda t: f"{t.operator.code} · {t.name} v{t.version} ({t.get_file_type_display()})"

    def clean_period(self):
        # Checked here too (not only by the action) so that it is reported with the form's other errors.
        try:
            return clean_period(self.cleaned_data["period"])
        except Invalid as refusal:
            raise forms.ValidationError(refusal.message, code=refusal.code) from refusal

    def clean(self):
        """The form's own input ("now" or a future date and time); the import's rules are the action's."""
        data = super().clean()
        if data.get("when") == "at":
            run_at = data.get("run_at")
            if not run_at:
                self.add_error("run_at", "Indique la fecha y hora de ejecución.")
            elif run_at <= timezone.now():
                self.add_error("run_at", "La fecha y hora deben ser futuras.")
        else:
            data["run_at"] = None
        return data


class TemplateForm(forms.Form):
    """A template version: general options plus the column mapping (one line per target field)."""

    operator = forms.ModelChoiceField(label=_("Operador"), queryset=Operator.objects.none())
    name = forms.CharField(label=_("Nombre"), max_length=100)
    file_type = forms.ChoiceField(label=_("Tipo de archivo"), choices=FileType.choices)
    all_or_nothing = forms.BooleanField(label=_("Todo o nada (si una fila falla no se carga ninguna)"), required=False)
    change_threshold = forms.DecimalField(label=_("Umbral de variación frente al periodo anterior (%)"), initial=30,
                                          min_value=0, max_digits=7, decimal_places=2)
    mapping = forms.CharField(label=_("Mapeo (JSON)"), widget=forms.Textarea(attrs={"rows": 16, "class": "mono"}),
                              help_text=_("Hoja, fila de encabezado, columnas (por nombre o posición) → campos, formatos."))
    sample = forms.FileField(label=_("Archivo de muestra (para probar)"), required=False)

    def __init__(self, *args, issuer=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["operator"].queryset = Operator.objects.filter(issuer=issuer)

    def clean_mapping(self):
        """The JSON text as a dict; whether it is a usable mapping is the action's to say."""
        text = self.cleaned_data["mapping"]
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"El mapeo no es JSON válido (línea {exc.lineno}, columna {exc.colno}).") from exc


class MapperForm(forms.Form):
    """The visual mapper's general fields; the per-column choices are read by `imports.mapper`."""

    operator_code = forms.CharField(label=_("Código del operador"), max_length=40,
                                    help_text=_("Si no existe, se crea al guardar la plantilla."))
    operator_name = forms.CharField(label=_("Nombre del operador (si es nuevo)"), max_length=200, required=False)
    name = forms.CharField(label=_("Nombre de la plantilla"), max_length=100)
    sample = forms.FileField(label=_("Archivo de muestra"), required=False,
                             help_text=_("xlsx, xls, ods o csv: el detalle de consumo tal como lo envía el operador."))
    period = forms.CharField(label=_("Periodo de la muestra (para validar fechas)"), max_length=7, required=False,
                             widget=PeriodInput())
    change_threshold = forms.DecimalField(label=_("Umbral de variación por línea frente al periodo anterior (%)"),
                                          initial=30, min_value=0, max_digits=7, decimal_places=2)
    duplicate_key = forms.MultipleChoiceField(
        label=_("Clave de duplicados"), required=False, widget=forms.CheckboxSelectMultiple,
        choices=[("reference", _("Cuenta")), ("service_line", _("Línea")), ("concept", _("Concepto")),
                 ("cut_date", _("Fecha de corte")), ("plan", _("Plan")), ("cost_center", _("Centro de costo"))],
        initial=["reference", "service_line", "concept", "cut_date"])
