"""REST API of mass billing, under /api/v1/issuers/{issuer_pk}/billing/...

Views parse their input and call `billing.actions`; refusals are answered by `core.api.exception_handler`
as `{"code", "detail", "field", "details"}` with their status.
"""

from __future__ import annotations

import io

from django.http import Http404, HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from facturador.billing import accounts_import, actions, cartera, invoice_templates, outputs, services
from facturador.billing.models import (Account, Batch, BatchPart, BillingInvoice, BillingSettings, Charge, InvoiceTemplate,
                                       PaymentFile, Tariff)
from facturador.core.actors import Actor
from facturador.core.errors import Invalid
from facturador.core.rest import IssuerScopedMixin, JobSerializer, Money, money_string, refusal_responses


class AccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = Account
        fields = ["id", "reference", "holder_name", "id_type", "id_number", "check_digit", "address",
                  "municipality_code", "service_class", "stratum", "email", "phone", "state", "created_at"]
        read_only_fields = ["id", "created_at"]


class AccountsImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="xlsx, xls, ods o csv con una fila de encabezados")
    dry_run = serializers.BooleanField(required=False, default=False, help_text="Solo revisar; no guardar nada")
    valid_only = serializers.BooleanField(required=False, default=False,
                                          help_text="Importar las filas válidas aunque otras tengan errores")
    opening_period = serializers.CharField(required=False, allow_blank=True,
                                           help_text="AAAA-MM de los saldos anteriores (por defecto el mes pasado)")


class AccountViewSet(IssuerScopedMixin, viewsets.ModelViewSet):
    """Accounts (subscribers). Filters: ?reference=, ?state=, ?q= (reference or holder contains)."""

    queryset = Account.objects.all()
    serializer_class = AccountSerializer

    def get_queryset(self):
        p = self.request.query_params
        return services.accounts(self.issuer, q=p.get("q", ""), state=p.get("state", ""),
                                 reference=p.get("reference", ""))

    def perform_create(self, serializer):
        serializer.instance = actions.create_account(self.issuer, Actor.from_request(self.request),
                                                     **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = actions.update_account(self.issuer, Actor.from_request(self.request),
                                                     serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        actions.delete_account(self.issuer, Actor.from_request(self.request), instance)

    @extend_schema(request=AccountsImportSerializer, responses={200: dict, 201: dict, **refusal_responses(400)})
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser])
    def import_file(self, request, issuer_pk=None):
        """The accounts register (xlsx, xls, ods, csv; multipart `file`). Answers the report: rows_read, rows_valid,
        errors [{row, column, header, value, code, message}], totals (decimal strings), created, updated...
        — 200 for a dry run, 201 once imported. A file with errors imports nothing (400
        `billing.accounts_file.invalid_rows`, the report in `details`) unless `valid_only`."""
        ser = AccountsImportSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        token = accounts_import.store_upload(self.issuer, d["file"], d["file"].name)
        try:
            report = actions.import_accounts(
                self.issuer, Actor.from_request(request), path=accounts_import.stored_upload(self.issuer, token),
                filename=d["file"].name, dry_run=d["dry_run"], valid_only=d["valid_only"],
                opening_period=d.get("opening_period") or None)
        finally:
            accounts_import.discard_upload(self.issuer, token)
        return Response(report.to_dict(), status=status.HTTP_200_OK if d["dry_run"] else status.HTTP_201_CREATED)


class ChargeSerializer(serializers.ModelSerializer):
    amount = Money(read_only=True, help_text="The total (net + taxes when the charge carries them)")
    net_amount = Money(read_only=True, allow_null=True, help_text="Net before IVA; null: no tax information")
    tax_amount = Money(read_only=True, allow_null=True, help_text="IVA value; null: no tax information")
    tax_rate = serializers.DecimalField(max_digits=7, decimal_places=2, read_only=True, allow_null=True,
                                        coerce_to_string=True, help_text="IVA rate (%) as the source gave it")

    class Meta:
        model = Charge
        fields = ["id", "account", "reference", "period", "concept", "quantity", "unit_price", "amount", "net_amount",
                  "tax_rate", "tax_amount", "source", "source_import_id", "source_operator", "created_at"]
        read_only_fields = fields


class ChargeViewSet(IssuerScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Charges (read only). Filters: ?period=, ?reference=, ?source=, ?source_import_id=, ?unmatched=1."""

    queryset = Charge.objects.all()
    serializer_class = ChargeSerializer

    def get_queryset(self):
        qs = super().get_queryset()
        p = self.request.query_params
        for f in ("period", "reference", "source", "source_import_id"):
            if p.get(f):
                qs = qs.filter(**{f: p[f]})
        if p.get("unmatched") == "1":
            qs = qs.filter(account__isnull=True)
        return qs.order_by("period", "reference", "id")


class TemplateSerializer(serializers.ModelSerializer):
    make_default = serializers.BooleanField(write_only=True, required=False, default=False)

    class Meta:
        model = InvoiceTemplate
        fields = ["id", "name", "version", "source", "description", "is_default", "created_at", "make_default"]
        read_only_fields = ["id", "version", "is_default", "created_at"]


class TemplateViewSet(IssuerScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      viewsets.GenericViewSet):
    """Invoice templates. POST creates a new version (validated by rendering sample data); errors
    come back as 400 {"code": "billing.template.invalid", "detail", "field", "details": {"line", "column", ...}}."""

    queryset = InvoiceTemplate.objects.all()
    serializer_class = TemplateSerializer

    def get_queryset(self):
        invoice_templates.ensure_default(self.issuer)
        return super().get_queryset().order_by("name", "-version")

    def create(self, request, issuer_pk=None):
        ser = self.get_serializer(data=request.data)
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        tpl = actions.upload_template(self.issuer, Actor.from_request(request), name=d["name"], source=d["source"],
                                      description=d.get("description", ""), make_default=d.get("make_default", False))
        return Response(TemplateSerializer(tpl).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/pdf"): bytes})
    @action(detail=True, methods=["get"])
    def preview(self, request, issuer_pk=None, pk=None):
        tpl = self.get_object()
        pdf = services.preview_template(tpl, electronic=request.query_params.get("electronic") == "1")
        return HttpResponse(pdf, content_type="application/pdf")


class BatchSerializer(serializers.ModelSerializer):
    job = JobSerializer(read_only=True)
    status = serializers.ChoiceField(choices=Batch.Status.choices, read_only=True, help_text="El estado de su tarea")
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    outcome = serializers.CharField(read_only=True, help_text="Selected = generated + omitted + with error, "
                                                              "reasons grouped (Spanish)")
    template_name = serializers.CharField(source="template.name", read_only=True)
    total_amount = Money(read_only=True)

    class Meta:
        model = Batch
        fields = ["id", "periods", "billing_type", "issue_date", "due_date", "template", "template_name",
                  "template_version", "references", "filters", "electronic", "account_count", "status", "status_display",
                  "invoice_count", "total_amount", "outcome", "error_list", "job", "created_at", "finished_at"]
        read_only_fields = fields


class BatchPartSerializer(serializers.ModelSerializer):
    ready = serializers.SerializerMethodField()
    file = serializers.SerializerMethodField(help_text="value of ?file= for the download")

    class Meta:
        model = BatchPart
        fields = ["index", "seq_from", "seq_to", "first_number", "last_number", "ready", "pages", "size", "file",
                  "built_at"]
        read_only_fields = fields

    def get_ready(self, obj) -> bool:
        return bool(obj.pdf)

    def get_file(self, obj) -> str:
        return f"parte-{obj.index}"


class BatchFiltersSerializer(serializers.Serializer):
    service_class = serializers.CharField(required=False, allow_blank=True)
    stratum = serializers.CharField(required=False, allow_blank=True)
    state = serializers.CharField(required=False, allow_blank=True, help_text="active o suspended")
    reference = serializers.CharField(required=False, allow_blank=True, help_text="la referencia contiene")
    municipality_code = serializers.CharField(required=False, allow_blank=True)


class BatchCreateSerializer(serializers.Serializer):
    """The inputs of `billing.actions.create_batch` (the same as the web form and `facturador batch create`)."""

    periods = serializers.ListField(child=serializers.CharField(), help_text="AAAA-MM")
    billing_type = serializers.ChoiceField(choices=Batch.BillingType.choices, default=Batch.BillingType.NORMAL)
    issue_date = serializers.DateField()
    due_date = serializers.DateField()
    template = serializers.CharField(required=False, help_text="id o nombre (última versión); vacío: la predeterminada")
    references = serializers.ListField(child=serializers.CharField(), required=False,
                                       help_text="Referencias a facturar; sin ellas se usan los filtros")
    filters = BatchFiltersSerializer(required=False)
    electronic = serializers.BooleanField(required=False, default=False,
                                          help_text="Emitir cada factura también como factura electrónica DIAN")


class BatchViewSet(IssuerScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Mass-invoicing batches. POST validates everything (unknown/duplicated references → 400
    `billing.references.invalid` with `details.problems`), then creates the batch and its background job."""

    queryset = Batch.objects.select_related("job", "template")
    serializer_class = BatchSerializer

    @extend_schema(request=BatchCreateSerializer, responses={201: BatchSerializer})
    def create(self, request, issuer_pk=None):
        ser = BatchCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        batch = actions.create_batch(
            self.issuer, Actor.from_request(request), periods=d["periods"], references=d.get("references") or None,
            billing_type=d["billing_type"], issue_date=d["issue_date"], due_date=d["due_date"],
            template=d.get("template"), electronic=d.get("electronic", False), **d.get("filters", {}))
        return Response(BatchSerializer(batch).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def cancel(self, request, issuer_pk=None, pk=None):
        batch = actions.cancel_batch(self.issuer, Actor.from_request(request), self.get_object())
        batch.refresh_from_db()
        return Response(BatchSerializer(batch).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def resume(self, request, issuer_pk=None, pk=None):
        batch = actions.resume_batch(self.issuer, Actor.from_request(request), self.get_object())
        batch.refresh_from_db()
        return Response(BatchSerializer(batch).data)

    @extend_schema(parameters=[OpenApiParameter("file", str, description="impresion (batch of a single part), "
                                                "parte-<n>, manifiesto (CSV) or zip (everything, streamed)")],
                   responses={(200, "application/octet-stream"): bytes})
    @action(detail=True, methods=["get"])
    def download(self, request, issuer_pk=None, pk=None):
        dl = outputs.download(self.get_object(), request.query_params.get("file", "impresion"))
        if dl is None:
            raise Http404
        return outputs.http_response(dl)

    @extend_schema(responses={200: BatchPartSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def parts(self, request, issuer_pk=None, pk=None):
        return Response(BatchPartSerializer(outputs.parts(self.get_object()), many=True).data)

    @action(detail=True, methods=["get"])
    def invoices(self, request, issuer_pk=None, pk=None):
        batch = self.get_object()
        rows = BillingInvoice.objects.filter(batch=batch).select_related("account").order_by("number")
        page = self.paginate_queryset(rows)
        data = [{"id": i.pk, "number": i.full_number, "reference": i.account.reference,
                 "total": money_string(i.total), "paid_amount": money_string(i.paid_amount),
                 "balance": money_string(i.balance),
                 "status": i.status, "barcode": i.barcode_text, "pdf": bool(i.pdf)} for i in (page or rows)]
        return self.get_paginated_response(data) if page is not None else Response(data)


class TariffSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tariff
        fields = ["id", "period", "concept", "service_class", "stratum", "kind", "value", "created_at"]
        read_only_fields = ["id", "created_at"]


class TariffApplyInput(serializers.Serializer):
    period = serializers.CharField(required=False, help_text="AAAA-MM")


class TariffApplyResult(serializers.Serializer):
    period = serializers.CharField()
    charges = serializers.IntegerField(help_text="Charges (re)generated for the period")


class TariffViewSet(IssuerScopedMixin, viewsets.ModelViewSet):
    """Tariffs; POST {period} to `apply/` (re)generates the tariff charges of that period."""

    queryset = Tariff.objects.all()
    serializer_class = TariffSerializer

    def perform_create(self, serializer):
        serializer.instance = actions.create_tariff(self.issuer, Actor.from_request(self.request),
                                                    **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = actions.update_tariff(self.issuer, Actor.from_request(self.request),
                                                    serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        actions.delete_tariff(self.issuer, Actor.from_request(self.request), instance)

    @extend_schema(
        request=TariffApplyInput,
        parameters=[OpenApiParameter("period", str, description="AAAA-MM, when it is not in the body")],
        responses={200: TariffApplyResult, **refusal_responses(400)})
    @action(detail=False, methods=["post"])
    def apply(self, request, issuer_pk=None):
        body = request.data if isinstance(request.data, dict) else {}
        period = str(body.get("period") or request.query_params.get("period") or "").strip()
        n = actions.apply_tariffs(self.issuer, Actor.from_request(request), period=period)
        return Response({"period": period, "charges": n})


class PaymentFileSerializer(serializers.ModelSerializer):
    total = Money(read_only=True)

    class Meta:
        model = PaymentFile
        fields = ["id", "name", "collection_date", "bank_code", "payment_count", "total", "matched_count", "unmatched",
                  "created_at"]
        read_only_fields = fields


class PaymentUploadSerializer(serializers.Serializer):
    # An empty file is refused by the action, with the refusal's code like any other bad file.
    file = serializers.FileField(allow_empty_file=True, help_text="Archivo Asobancaria 2001")


class PaymentFileViewSet(IssuerScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Recaudo files. POST (multipart `file`): Asobancaria 2001, applied at once if its control totals match."""

    queryset = PaymentFile.objects.all()
    serializer_class = PaymentFileSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(request=PaymentUploadSerializer, responses={201: PaymentFileSerializer})
    def create(self, request, issuer_pk=None):
        ser = PaymentUploadSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        f = ser.validated_data["file"]
        result = actions.import_payments(self.issuer, Actor.from_request(request), upload=f, name=f.name)
        return Response(PaymentFileSerializer(result.payment_file).data, status=status.HTTP_201_CREATED)


class CarteraViewSet(IssuerScopedMixin, viewsets.ViewSet):
    """Portfolio with aging buckets. Query: periods=2026-09,2026-10, as_of=YYYY-MM-DD, service_class,
    stratum, state, reference, only_with_balance=1, export=xlsx."""

    queryset = Account.objects.none()

    @extend_schema(responses={200: dict})
    def list(self, request, issuer_pk=None):
        p = request.query_params
        report = services.cartera_report(self.issuer, periods=p.get("periods"), as_of=p.get("as_of"),
                                         only_with_balance=p.get("only_with_balance") == "1",
                                         service_class=p.get("service_class", ""), stratum=p.get("stratum", ""),
                                         state=p.get("state", ""), reference=p.get("reference", ""))
        if p.get("export") == "xlsx":
            buf = io.BytesIO()
            cartera.export_xlsx(report, buf, issuer=self.issuer)
            resp = HttpResponse(buf.getvalue(),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            resp["Content-Disposition"] = f'attachment; filename="cartera-{report.as_of:%Y%m%d}.xlsx"'
            return resp
        return Response({
            "as_of": report.as_of, "periods": report.periods,
            "totals": {k: money_string(v) for k, v in report.totals.items()},
            "rows": [{"account": r.account_id, "reference": r.reference, "holder_name": r.holder_name,
                      "charged": money_string(r.charged), "paid": money_string(r.paid),
                      "balance": money_string(r.balance),
                      "buckets": {k: money_string(v) for k, v in r.buckets.items()}} for r in report.rows],
        })


class BillingSettingsSerializer(serializers.Serializer):
    """The issuer's billing settings (`billing.services.SETTINGS_FIELDS`); PATCH any subset of them."""

    gln = serializers.CharField(required=False, help_text="GLN del convenio de recaudo (13 dígitos, AI 415)")
    extra_glns = serializers.ListField(child=serializers.CharField(), required=False,
                                       help_text="Otros GLN cuyos archivos de recaudo se aceptan")
    payment_tolerance = Money(required=False, help_text="Una factura queda pagada si lo que falta no supera este valor")
    due_days = serializers.IntegerField(required=False, help_text="Fecha límite propuesta: expedición + días")
    ref_width = serializers.IntegerField(required=False)
    amount_width = serializers.IntegerField(required=False)
    numbering_prefix = serializers.CharField(required=False, allow_blank=True)
    numbering_environment = serializers.CharField(required=False, help_text="production o test")
    monthly_interest_rate = serializers.DecimalField(max_digits=6, decimal_places=3, coerce_to_string=True,
                                                     required=False, help_text="Interés de mora mensual (%)")
    document_title = serializers.CharField(required=False)
    notes = serializers.CharField(required=False, allow_blank=True)


class BillingSettingsView(IssuerScopedMixin, APIView):
    """GET the issuer's billing settings; PATCH changes the fields given (`billing.actions.save_settings`, the
    same rules as the settings page and `facturador billing settings set`). A refusal names the first bad field
    and lists every bad field in `details.errors` ([{field, code, message}])."""

    @extend_schema(responses={200: BillingSettingsSerializer})
    def get(self, request, issuer_pk=None):
        return Response(services.settings_dict(BillingSettings.for_issuer(self.issuer)))

    @extend_schema(request=BillingSettingsSerializer, responses={200: BillingSettingsSerializer, **refusal_responses(400)})
    def patch(self, request, issuer_pk=None):
        body = request.data.dict() if hasattr(request.data, "dict") else request.data
        if not isinstance(body, dict):
            raise Invalid("billing.settings.invalid", "Envíe un objeto JSON con las opciones a cambiar.")
        # Raw values: the action checks every field and names the bad ones with stable codes.
        conf = actions.save_settings(self.issuer, Actor.from_request(request), **dict(body))
        return Response(services.settings_dict(conf))
