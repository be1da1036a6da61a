"""REST API: operators, templates (versioned), import queue (schedule, follow, cancel, delete, reports)."""

from django.http import FileResponse, HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from facturador.core.actors import Actor
from facturador.core.rest import IssuerScopedMixin, JobSerializer, Money
from facturador.imports import actions, pipeline, services
from facturador.imports.models import FileType, ImportJob, ImportTemplate, Line, Operator

OPERATOR_FIELDS = ("code", "name", "active", "notes")
TEMPLATE_FIELDS = ("operator", "name", "file_type", "mapping", "all_or_nothing", "change_threshold", "duplicate_key")


class OperatorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Operator
        fields = ["id", "code", "name", "active", "notes", "created_at"]
        read_only_fields = ["id", "created_at"]
        validators = []  # the code's uniqueness is the action's rule


class OperatorViewSet(IssuerScopedMixin, viewsets.ModelViewSet):
    queryset = Operator.objects.all()
    serializer_class = OperatorSerializer

    def perform_create(self, serializer):
        serializer.instance = actions.save_operator(self.issuer, Actor.from_request(self.request),
                                                    **serializer.validated_data)

    def perform_update(self, serializer):
        old = serializer.instance
        fields = {f: getattr(old, f) for f in OPERATOR_FIELDS} | serializer.validated_data
        serializer.instance = actions.save_operator(self.issuer, Actor.from_request(self.request), operator=old,
                                                    **fields)

    def perform_destroy(self, instance):
        actions.delete_operator(self.issuer, Actor.from_request(self.request), operator=instance)


class ImportTemplateSerializer(serializers.ModelSerializer):
    operator = serializers.PrimaryKeyRelatedField(queryset=Operator.objects.none())
    is_latest = serializers.BooleanField(read_only=True)

    class Meta:
        model = ImportTemplate
        fields = ["id", "operator", "name", "version", "file_type", "mapping", "all_or_nothing", "change_threshold",
                  "duplicate_key", "is_latest", "created_at"]
        read_only_fields = ["id", "version", "created_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        view = self.context.get("view")
        if view is not None and hasattr(view, "issuer"):
            self.fields["operator"].queryset = Operator.objects.filter(issuer=view.issuer)


class TemplateTestSerializer(serializers.Serializer):
    file = serializers.FileField(error_messages={"required": "Adjunte el archivo de muestra en el campo «file»."})


class SuggestSerializer(serializers.Serializer):
    file = serializers.FileField(error_messages={"required": "Adjunte el archivo de muestra en el campo «file»."})
    operator = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=100)
    save = serializers.BooleanField(default=False)


class ImportTemplateViewSet(IssuerScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                            mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Templates are versioned: POST creates version 1 (or the next one of the same name); PUT/PATCH store a new version."""

    queryset = ImportTemplate.objects.select_related("operator")
    serializer_class = ImportTemplateSerializer

    def get_queryset(self):
        qs = super().get_queryset()
        if self.action == "list" and self.request.query_params.get("all_versions") != "1":
            return ImportTemplate.latest_versions(self.issuer)
        return qs

    def perform_create(self, serializer):
        serializer.instance = actions.save_template(self.issuer, Actor.from_request(self.request),
                                                    **serializer.validated_data)

    def perform_update(self, serializer):
        old = serializer.instance
        fields = {f: getattr(old, f) for f in TEMPLATE_FIELDS} | serializer.validated_data
        serializer.instance = actions.save_template(self.issuer, Actor.from_request(self.request), base=old, **fields)

    @extend_schema(request={"multipart/form-data": SuggestSerializer}, responses={200: dict})
    @action(detail=False, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def suggest(self, request, issuer_pk=None):
        """Propose a template from a sample file (sheet, header and totals rows, each column's field, parser and
        rules); with `save=true`, store it as a new version (creating the operator `operator` when missing)."""
        import os
        import tempfile

        s = SuggestSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        upload = d["file"]
        name = services.clean_filename(upload.name)
        with tempfile.TemporaryDirectory(prefix="facturador-suggest-") as folder:
            path = os.path.join(folder, name)
            with open(path, "wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
            out = actions.suggest_template(self.issuer, Actor.from_request(request), operator_code=d["operator"],
                                           name=d["name"], path=path, filename=name, save=d["save"])
        tpl = out["template"]
        return Response({"proposal": out["proposal"], "mapping": out["mapping"],
                         "template": ImportTemplateSerializer(tpl, context={"view": self}).data if tpl else None,
                         **({"problem": out["problem"]} if out.get("problem") else {})})

    @extend_schema(request={"multipart/form-data": TemplateTestSerializer})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def test(self, request, issuer_pk=None, pk=None):
        """Preview the first 50 mapped rows of a sample file with this template version."""
        tpl = self.get_object()
        s = TemplateTestSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        return Response(actions.preview_template(self.issuer, Actor.from_request(request), mapping=tpl.mapping,
                                                 sample=s.validated_data["file"]))


class ImportJobSerializer(serializers.ModelSerializer):
    job = JobSerializer(read_only=True)
    status = serializers.CharField(source="job.status", read_only=True)
    status_display = serializers.CharField(source="job.get_status_display", read_only=True)
    percent = serializers.IntegerField(source="job.percent", read_only=True)
    operator_code = serializers.CharField(source="operator.code", read_only=True)
    template_version = serializers.IntegerField(source="template.version", read_only=True)
    amount_total = Money(read_only=True)
    declared_amount = Money(read_only=True)

    class Meta:
        model = ImportJob
        fields = ["id", "status", "status_display", "percent", "operator", "operator_code", "template", "template_version",
                  "period", "file_type", "original_name", "size", "sha256", "dry_run", "force", "scheduled_for", "phase",
                  "loaded_at", "replaced_import", "replaced_charges", "rows_read", "rows_valid", "rows_invalid",
                  "amount_total", "declared_rows", "declared_amount", "created_at", "job"]
        read_only_fields = fields


class ScheduleSerializer(serializers.Serializer):
    operator = serializers.IntegerField()
    template = serializers.IntegerField()
    period = serializers.CharField(max_length=7)
    file = serializers.FileField(allow_empty_file=True)  # an empty file is the action's refusal (imports.file.empty)
    file_type = serializers.ChoiceField(choices=FileType.choices, required=False)
    run_at = serializers.DateTimeField(required=False, allow_null=True)
    dry_run = serializers.BooleanField(required=False, default=False)
    force = serializers.BooleanField(required=False, default=False)


class ImportJobViewSet(IssuerScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The import queue. `?state=active|pending|running|finished|deleted|all`, `?operator=CODE`, `?period=YYYY-MM`."""

    queryset = ImportJob.objects.all()
    serializer_class = ImportJobSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_queryset(self):
        q = self.request.query_params
        return services.imports_for(self.issuer, q.get("state"), operator=q.get("operator"), period=q.get("period"))

    def get_object(self):
        from django.shortcuts import get_object_or_404

        return get_object_or_404(ImportJob.objects.select_related("job", "operator", "template"), issuer=self.issuer,
                                 pk=self.kwargs["pk"])

    @extend_schema(request={"multipart/form-data": ScheduleSerializer}, responses={201: ImportJobSerializer})
    def create(self, request, issuer_pk=None):
        s = ScheduleSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        operator = services.find_operator(self.issuer, pk=d["operator"])
        imp = actions.schedule_import(
            self.issuer, Actor.from_request(request), operator=operator,
            template=services.find_template(self.issuer, pk=d["template"]), period=d["period"], upload=d["file"],
            file_type=d.get("file_type", ""), run_at=d.get("run_at"), dry_run=d["dry_run"], force=d["force"])
        return Response(ImportJobSerializer(imp).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def cancel(self, request, issuer_pk=None, pk=None):
        imp = actions.cancel_import(self.issuer, Actor.from_request(request), imp=self.get_object())
        return Response(ImportJobSerializer(imp).data)

    def destroy(self, request, issuer_pk=None, pk=None):
        actions.delete_import(self.issuer, Actor.from_request(request), imp=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(parameters=[OpenApiParameter("fmt", str, description="csv (por defecto), xlsx o json")],
                   responses={200: bytes})
    @action(detail=True, methods=["get"], url_path="errors")
    def errors(self, request, issuer_pk=None, pk=None):
        """Error report: the original row plus the error (csv or xlsx); `fmt=json`: the first 1,000 errors as
        `{row, column, header, value, code, message}`."""
        imp = self.get_object()
        if request.query_params.get("fmt") == "json":
            return Response({"import": imp.pk, "rows_invalid": imp.rows_invalid,
                             "errors": services.row_errors(imp, limit=1000)})
        path, filename, content_type = pipeline.error_report(imp, request.query_params.get("fmt", "csv"))
        return FileResponse(open(path, "rb"), as_attachment=True, filename=filename, content_type=content_type)

    @action(detail=True, methods=["get"])
    def reconciliation(self, request, issuer_pk=None, pk=None):
        imp = self.get_object()
        if request.query_params.get("fmt") == "csv":
            response = HttpResponse(pipeline.reconciliation_csv(imp), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="conciliacion-{imp.pk}.csv"'
            return response
        return Response({"import": imp.pk, "status": imp.job.status, **imp.reconciliation})


class LineSerializer(serializers.ModelSerializer):
    import_id = serializers.IntegerField(source="source_import_id", read_only=True)
    amount = Money()
    net_amount = Money(allow_null=True)
    iva_rate = serializers.DecimalField(source="tax_rate", max_digits=7, decimal_places=4, allow_null=True,
                                        read_only=True)
    iva_amount = Money(source="tax_amount", allow_null=True)
    other_tax_amount = Money(allow_null=True)

    class Meta:
        model = Line
        fields = ["id", "import_id", "period", "row_number", "reference", "service_line", "concept", "plan",
                  "cost_center", "quantity", "unit", "minutes", "data_mb", "sms", "kwh", "net_amount", "iva_rate",
                  "iva_amount", "other_tax_rate", "other_tax_amount", "amount", "cut_date", "usage_from", "usage_to",
                  "extra"]


LINE_PARAMS = [OpenApiParameter(name, str) for name in services.LINE_FILTERS] + [
    OpenApiParameter("attr.<nombre>", str, description="Atributo extra igual a este valor")]


class LineViewSet(IssuerScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The typed lines of loaded imports ("Líneas"). Filters: `import_id`, `operator`, `period`, `account`,
    `service_line`, `cost_center`, `concept`, `plan` (account and line accept a trailing `*`), `attr.<name>`.
    `totals/`: count, amounts and usage sums; `export/?fmt=xlsx|csv`: the lines as a spreadsheet."""

    queryset = Line.objects.all()
    serializer_class = LineSerializer

    def _filters(self):
        q = self.request.query_params
        return {k: v for k, v in q.items() if k in services.LINE_FILTERS or k.startswith("attr.")}

    def get_queryset(self):
        return services.lines_for(self.issuer, self._filters())

    @extend_schema(parameters=LINE_PARAMS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(parameters=LINE_PARAMS, responses={200: dict})
    @action(detail=False, methods=["get"])
    def totals(self, request, issuer_pk=None):
        t = services.line_totals(self.get_queryset())
        money = ("amount", "net_amount", "iva_amount", "other_tax_amount")
        out = {"lines": t["lines"]}
        for k in services.LINE_SUMS:
            v = t[k]
            out[k] = None if v is None else (f"{v:.2f}" if k in money else format(v.normalize(), "f"))
        return Response(out)

    @extend_schema(parameters=[*LINE_PARAMS, OpenApiParameter("fmt", str, description="xlsx (por defecto) o csv")],
                   responses={200: bytes})
    @action(detail=False, methods=["get"])
    def export(self, request, issuer_pk=None):
        import tempfile

        from facturador.tabular.sheets import CONTENT_TYPES

        fmt = "csv" if request.query_params.get("fmt") == "csv" else "xlsx"
        tmp = tempfile.NamedTemporaryFile(prefix="facturador-lineas-", suffix="." + fmt)
        services.lines_export(self.get_queryset(), fmt, tmp.name)
        tmp.seek(0)
        return FileResponse(tmp, as_attachment=True, filename=f"lineas.{fmt}", content_type=CONTENT_TYPES[fmt])
