from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from facturador.imports.models import FileType, ImportTemplate, Operator
from facturador.imports.services import ALLOWED_EXTENSIONS, PERIOD_RE


class OperatorForm(forms.ModelForm):
    class Meta:
        model = Operator
        fields = ["code", "name", "active", "notes"]

    def __init__(self, *args, issuer=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.issuer = issuer

    def clean_code(self):
        code = self.cleaned_data["code"].strip().upper()
        qs = Operator.objects.filter(issuer=self.issuer, code=code)
        if self.instance.pk:
            qs = qs.exclude(pk=self.instance.pk)
        if qs.exists():
            raise forms.ValidationError(f"Ya existe un operador con el código {code}.")
        return code


class ScheduleForm(forms.Form):
    """Programación de importación."""

    operator = forms.ModelChoiceField(label=_("Operador"), queryset=Operator.objects.none())
    template = forms.ModelChoiceField(label=_("Plantilla"), queryset=ImportTemplate.objects.none(),
                                      help_text=_("Se usa la versión elegida de la plantilla."))
    period = forms.CharField(label=_("Periodo (AAAA-MM)"), max_length=7,
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
        self.fields["template"].label_from_instance = lambda t: f"{t.operator.code} · {t.name} v{t.version} ({t.get_file_type_display()})"

    def clean_period(self):
        period = self.cleaned_data["period"].strip()
        if not PERIOD_RE.match(period):
            raise forms.ValidationError("Use el formato AAAA-MM (por ejemplo 2026-10).")
        return period

    def clean_file(self):
        f = self.cleaned_data["file"]
        if not f.name.lower().endswith(ALLOWED_EXTENSIONS):
            raise forms.ValidationError("Tipo de archivo no admitido: use xlsx, xls, xlsb, ods, csv, txt o zip.")
        return f

    def clean(self):
        data = super().clean()
        op, tpl = data.get("operator"), data.get("template")
        if op and tpl and tpl.operator_id != op.pk:
            self.add_error("template", f"La plantilla no es del operador {op.code}.")
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
        import json

        from facturador.imports import pipeline

        text = self.cleaned_data["mapping"]
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"El mapeo no es JSON válido (línea {exc.lineno}, columna {exc.colno}).") from exc
        try:
            return pipeline.normalize_mapping(data)
        except pipeline.MappingInvalid as exc:
            raise forms.ValidationError(exc.message) from exc
