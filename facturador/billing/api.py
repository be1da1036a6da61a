"""REST API of mass billing, under /api/v1/issuers/{issuer_pk}/billing/..."""

from __future__ import annotations

import io
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from facturador.billing import batch as batchmod
from facturador.billing import cartera, invoice_templates, recaudo
from facturador.billing.models import Account, Batch, BillingInvoice, Charge, InvoiceTemplate, PaymentFile
from facturador.billing.selection import SelectionError, require_clean, resolve_references, select_by_filters
from facturador.core import audit, jobs
from facturador.core.api import IssuerScopedMixin, JobSerializer
from facturador.printing.render import TemplateError


class AccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = Account
        fields = ["id", "reference", "holder_name", "id_type", "id_number", "check_digit", "address",
                  "municipality_code", "service_class", "stratum", "email", "phone", "state", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate(self, data):
        from django.core.exceptions import ValidationError

        issuer = self.context["view"].issuer
        merged = {f: getattr(self.instance, f) for f in self.Meta.fields if self.instance and hasattr(self.instance, f)}
        merged.update(data)
        probe = Account(issuer=issuer, **{k: v for k, v in merged.items() if k not in ("id", "created_at")})
        try:
            probe.clean()
        except ValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        data["reference"], data["id_number"], data["check_digit"] = probe.reference, probe.id_number, probe.check_digit
        qs = Account.objects.filter(issuer=issuer, reference=probe.reference)
        if self.instance:
            qs = qs.exclude(pk=self.instance.pk)
        if qs.exists():
            raise serializers.ValidationError({"reference": f"Ya existe una cuenta con la referencia {probe.reference}."})
        return data


class AccountViewSet(IssuerScopedMixin, viewsets.ModelViewSet):
    """Accounts (subscribers). Filters: ?reference=, ?state=, ?q= (reference or holder contains)."""

    queryset = Account.objects.all()
    serializer_class = AccountSerializer

    def get_queryset(self):
        qs = super().get_queryset()
        p = self.request.query_params
        if p.get("reference"):
            qs = qs.filter(reference=p["reference"])
        if p.get("state"):
            qs = qs.filter(state=p["state"])
        if p.get("q"):
            qs = qs.filter(reference__icontains=p["q"]) | qs.filter(holder_name__icontains=p["q"])
        return qs.order_by("reference")

    def perform_destroy(self, instance):
        if instance.charges.exists() or instance.invoices.exists():
            self.permission_denied(self.request, message="La cuenta tiene cargos o facturas; márquela como retirada.")
        instance.delete()


class ChargeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Charge
        fields = ["id", "account", "reference", "period", "concept", "quantity", "unit_price", "amount", "source",
                  "source_import_id", "source_operator", "created_at"]
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
    come back as 400 {"detail", "code": "template_error", "line", "column"}."""

    queryset = InvoiceTemplate.objects.all()
    serializer_class = TemplateSerializer

    def get_queryset(self):
        invoice_templates.ensure_default(self.issuer)
        return super().get_queryset().order_by("name", "-version")

    def create(self, request, issuer_pk=None):
        ser = self.get_serializer(data=request.data)
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        try:
            tpl = invoice_templates.create_version(
                self.issuer, d["name"], d["source"], description=d.get("description", ""),
                make_default=d.get("make_default", False), user=request.user,
                keep_assets_from=invoice_templates.latest(self.issuer, d["name"].strip()))
        except TemplateError as exc:
            return Response({"detail": exc.message, "code": exc.code, "line": exc.line, "column": exc.column},
                            status=status.HTTP_400_BAD_REQUEST)
        audit.record("template.create", issuer=self.issuer, obj=tpl, request=request, summary=str(tpl))
        return Response(TemplateSerializer(tpl).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/pdf"): bytes})
    @action(detail=True, methods=["get"])
    def preview(self, request, issuer_pk=None, pk=None):
        tpl = self.get_object()
        pdf = invoice_templates.preview_pdf(tpl, electronic=request.query_params.get("electronic") == "1")
        return HttpResponse(pdf, content_type="application/pdf")


class BatchSerializer(serializers.ModelSerializer):
    job = JobSerializer(read_only=True)
    template_name = serializers.CharField(source="template.name", read_only=True)

    class Meta:
        model = Batch
        fields = ["id", "periods", "billing_type", "issue_date", "due_date", "template", "template_name",
                  "template_version", "references", "filters", "electronic", "account_count", "status", "invoice_count",
                  "total_amount", "error_list", "job", "created_at", "finished_at"]
        read_only_fields = fields


class BatchCreateSerializer(serializers.Serializer):
    periods = serializers.ListField(child=serializers.CharField(), help_text="AAAA-MM")
    billing_type = serializers.ChoiceField(choices=Batch.BillingType.choices, default=Batch.BillingType.NORMAL)
    issue_date = serializers.DateField()
    due_date = serializers.DateField()
    template = serializers.CharField(required=False, help_text="id o nombre (última versión); vacío: la predeterminada")
    references = serializers.ListField(child=serializers.CharField(), required=False,
                                       help_text="Referencias a facturar; sin ellas se usan los filtros")
    filters = serializers.DictField(required=False, help_text="service_class, stratum, reference, municipality_code")
    electronic = serializers.BooleanField(required=False, default=False,
                                          help_text="Emitir cada factura también como factura electrónica DIAN")


def resolve_template(issuer, value) -> InvoiceTemplate:
    default = invoice_templates.ensure_default(issuer)
    if not value:
        return default
    if str(value).isdigit():
        tpl = InvoiceTemplate.objects.filter(issuer=issuer, pk=int(value)).first()
        if tpl:
            return tpl
    tpl = invoice_templates.latest(issuer, str(value))
    if tpl is None:
        raise batchmod.BatchError(f"No existe la plantilla «{value}».", "template", "template_not_found")
    return tpl


class BatchViewSet(IssuerScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Mass-invoicing batches. POST validates everything (unknown/duplicated references → 400 with
    `problems`), then creates the batch and its background job."""

    queryset = Batch.objects.select_related("job", "template")
    serializer_class = BatchSerializer

    @extend_schema(request=BatchCreateSerializer, responses={201: BatchSerializer})
    def create(self, request, issuer_pk=None):
        ser = BatchCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        try:
            template = resolve_template(self.issuer, d.get("template"))
            if d.get("references"):
                sel = require_clean(resolve_references(self.issuer, list(enumerate(d["references"], start=1))))
                references, filters = sel.references, {}
            else:
                filters = d.get("filters") or {}
                sel = select_by_filters(self.issuer, filters)
                references = []
            batch = batchmod.create(self.issuer, periods=d["periods"], billing_type=d["billing_type"],
                                    issue_date=d["issue_date"], due_date=d["due_date"], template=template,
                                    account_ids=sel.account_ids, references=references, filters=filters,
                                    user=request.user, electronic=d.get("electronic", False))
        except SelectionError as exc:
            return Response({"detail": exc.message, "code": exc.code, "problems": exc.problems[:1000]},
                            status=status.HTTP_400_BAD_REQUEST)
        except batchmod.BatchError as exc:
            return Response({"detail": exc.message, "code": exc.code, "field": exc.field,
                             "problems": exc.problems[:1000]}, status=status.HTTP_400_BAD_REQUEST)
        audit.record("batch.create", issuer=self.issuer, obj=batch, request=request)
        return Response(BatchSerializer(batch).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def cancel(self, request, issuer_pk=None, pk=None):
        batch = self.get_object()
        if not batch.job or not jobs.request_cancel(batch.job):
            return Response({"detail": "El lote ya terminó; no se puede cancelar."}, status=status.HTTP_409_CONFLICT)
        audit.record("batch.cancel", issuer=self.issuer, obj=batch, request=request)
        batch.refresh_from_db()
        return Response(BatchSerializer(batch).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def resume(self, request, issuer_pk=None, pk=None):
        batch = self.get_object()
        try:
            batchmod.resume(batch, user=request.user)
        except batchmod.BatchError as exc:
            return Response({"detail": exc.message}, status=status.HTTP_409_CONFLICT)
        batch.refresh_from_db()
        return Response(BatchSerializer(batch).data)

    @extend_schema(parameters=[OpenApiParameter("file", str, enum=["impresion", "zip"])],
                   responses={(200, "application/octet-stream"): bytes})
    @action(detail=True, methods=["get"])
    def download(self, request, issuer_pk=None, pk=None):
        batch = self.get_object()
        what = request.query_params.get("file", "impresion")
        rel = batch.merged_pdf if what == "impresion" else batch.zip_file if what == "zip" else ""
        path = Path(settings.MEDIA_ROOT) / rel if rel else None
        if not path or not path.is_file():
            raise Http404
        return FileResponse(open(path, "rb"), as_attachment=True, filename=path.name)

    @action(detail=True, methods=["get"])
    def invoices(self, request, issuer_pk=None, pk=None):
        batch = self.get_object()
        rows = BillingInvoice.objects.filter(batch=batch).select_related("account").order_by("number")
        page = self.paginate_queryset(rows)
        data = [{"id": i.pk, "number": i.full_number, "reference": i.account.reference, "total": str(i.total),
                 "status": i.status, "barcode": i.barcode_text, "pdf": bool(i.pdf)} for i in (page or rows)]
        return self.get_paginated_response(data) if page is not None else Response(data)


class TariffSerializer(serializers.ModelSerializer):
    class Meta:
        from facturador.billing.models import Tariff

        model = Tariff
        fields = ["id", "period", "concept", "service_class", "stratum", "kind", "value", "created_at"]
        read_only_fields = ["id", "created_at"]


class TariffViewSet(IssuerScopedMixin, viewsets.ModelViewSet):
    """Tariffs; POST {period} to `apply/` (re)generates the tariff charges of that period."""

    from facturador.billing.models import Tariff

    queryset = Tariff.objects.all()
    serializer_class = TariffSerializer

    @extend_schema(request=None, parameters=[OpenApiParameter("period", str)])
    @action(detail=False, methods=["post"])
    def apply(self, request, issuer_pk=None):
        from facturador.billing.models import PERIOD_RE
        from facturador.billing.tariffs import apply_tariffs

        period = str(request.data.get("period") or request.query_params.get("period") or "")
        if not PERIOD_RE.match(period):
            return Response({"detail": "Indique el periodo (AAAA-MM)."}, status=status.HTTP_400_BAD_REQUEST)
        n = apply_tariffs(self.issuer, period)
        audit.record("tariffs.apply", issuer=self.issuer, request=request, summary=f"{period}: {n} cargos")
        return Response({"period": period, "charges": n})


class PaymentFileSerializer(serializers.ModelSerializer):
    class Meta:
        model = PaymentFile
        fields = ["id", "name", "collection_date", "bank_code", "payment_count", "total", "matched_count", "unmatched",
                  "created_at"]
        read_only_fields = fields


class PaymentUploadSerializer(serializers.Serializer):
    file = serializers.FileField()


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
        try:
            result = recaudo.import_file(self.issuer, f.read(), name=f.name, user=request.user)
        except recaudo.PaymentImportError as exc:
            return Response({"detail": exc.message, "code": exc.code, "line": exc.line_no, "field": exc.field},
                            status=status.HTTP_400_BAD_REQUEST)
        audit.record("payments.import", issuer=self.issuer, obj=result.payment_file, request=request)
        return Response(PaymentFileSerializer(result.payment_file).data, status=status.HTTP_201_CREATED)


class CarteraViewSet(IssuerScopedMixin, viewsets.ViewSet):
    """Portfolio with aging buckets. Query: periods=2026-09,2026-10, as_of=YYYY-MM-DD, service_class,
    stratum, state, reference, only_with_balance=1, export=xlsx."""

    queryset = Account.objects.none()

    @extend_schema(responses={200: dict})
    def list(self, request, issuer_pk=None):
        import datetime as dt

        p = request.query_params
        try:
            periods = batchmod.parse_periods(p["periods"]) if p.get("periods") else None
            as_of = dt.date.fromisoformat(p["as_of"]) if p.get("as_of") else None
        except (batchmod.BatchError, ValueError) as exc:
            return Response({"detail": getattr(exc, "message", "Fecha de corte no válida (AAAA-MM-DD).")},
                            status=status.HTTP_400_BAD_REQUEST)
        report = cartera.compute(self.issuer, as_of=as_of, periods=periods,
                                 only_with_balance=p.get("only_with_balance") == "1",
                                 service_class=p.get("service_class"), stratum=p.get("stratum"), state=p.get("state"),
                                 reference=p.get("reference"))
        if p.get("export") == "xlsx":
            buf = io.BytesIO()
            cartera.export_xlsx(report, buf, issuer=self.issuer)
            resp = HttpResponse(buf.getvalue(),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            resp["Content-Disposition"] = f'attachment; filename="cartera-{report.as_of:%Y%m%d}.xlsx"'
            return resp
        return Response({
            "as_of": report.as_of, "periods": report.periods,
            "totals": {k: str(v) for k, v in report.totals.items()},
            "rows": [{"account": r.account_id, "reference": r.reference, "holder_name": r.holder_name,
                      "charged": str(r.charged), "paid": str(r.paid), "balance": str(r.balance),
                      "buckets": {k: str(v) for k, v in r.buckets.items()}} for r in report.rows],
        })
