from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from facturador.core import audit
from facturador.core.api import IssuerScopedMixin
from facturador.einvoice import services
from facturador.einvoice.models import DianDocument, OperationMode


class DianDocumentSerializer(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    number = serializers.CharField(source="full_number", read_only=True)

    class Meta:
        model = DianDocument
        fields = ["id", "kind", "type_code", "environment", "number", "prefix", "status", "status_display", "issue_date",
                  "customer_name", "customer_id", "customer_email", "total", "cufe", "dian_status_code", "dian_message",
                  "rules", "referenced", "test_set", "job", "created_at", "sent_at", "answered_at"]
        read_only_fields = fields


class DocumentInputSerializer(serializers.Serializer):
    """The document as JSON: kind, customer, lines, payment, withholdings, reference (notes). See docs/dian-json.md."""

    kind = serializers.ChoiceField(choices=DianDocument.Kind.choices)
    type_code = serializers.CharField(required=False, allow_blank=True)
    customer = serializers.JSONField(help_text="An object, or \"consumidor_final\"")
    lines = serializers.ListField(child=serializers.DictField(), allow_empty=False)
    payment = serializers.DictField(required=False)
    withholdings = serializers.ListField(child=serializers.DictField(), required=False)
    reference = serializers.DictField(required=False)
    concept = serializers.CharField(required=False)
    notes = serializers.ListField(child=serializers.CharField(), required=False)
    send = serializers.BooleanField(default=True)


class DianDocumentViewSet(IssuerScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """DIAN invoices and notes of the issuer. Creating one numbers, validates, signs and queues it for sending."""

    queryset = DianDocument.objects.all()
    serializer_class = DianDocumentSerializer

    def get_queryset(self):
        qs = super().get_queryset()
        for param in ("kind", "status", "environment"):
            if self.request.query_params.get(param):
                qs = qs.filter(**{param: self.request.query_params[param]})
        return qs

    @extend_schema(request=DocumentInputSerializer, responses={201: DianDocumentSerializer})
    def create(self, request, issuer_pk=None):
        data = DocumentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payload = dict(request.data)
        send = payload.pop("send", True)
        try:
            doc = services.issue(self.issuer, payload, user=request.user, send=bool(send))
        except services.EinvoiceError as exc:
            return Response({"detail": exc.message, "rule": exc.code, "field": exc.field}, status=status.HTTP_400_BAD_REQUEST)
        audit.record("einvoice.issue", issuer=self.issuer, obj=doc, request=request, summary=str(doc))
        return Response(DianDocumentSerializer(doc).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def retry(self, request, issuer_pk=None, pk=None):
        doc = self.get_object()
        if not services.schedule_send(doc, user=request.user):
            return Response({"detail": "El documento ya tiene respuesta definitiva de la DIAN."}, status=status.HTTP_409_CONFLICT)
        return Response(DianDocumentSerializer(doc).data)

    @extend_schema(responses={200: OpenApiResponse(description="file")})
    @action(detail=True, methods=["get"], url_path=r"files/(?P<what>xml|pdf|zip|response|attached)")
    def files(self, request, issuer_pk=None, pk=None, what=None):
        doc = self.get_object()
        try:
            content, filename, mime = services.download(doc, what)
        except services.EinvoiceError as exc:
            return Response({"detail": exc.message}, status=status.HTTP_404_NOT_FOUND)
        resp = HttpResponse(content, content_type=mime)
        resp["Content-Disposition"] = f'attachment; filename="{filename}"'
        return resp


class OperationModeSerializer(serializers.ModelSerializer):
    software_pin = serializers.CharField(write_only=True, required=False)
    pin_masked = serializers.CharField(read_only=True)

    class Meta:
        model = OperationMode
        fields = ["id", "mode", "software_name", "software_id", "software_pin", "pin_masked", "provider_name",
                  "provider_nit", "test_set_id", "environment", "endpoint", "state", "active", "created_at"]
        read_only_fields = ["id", "state", "created_at"]


class OperationModeViewSet(IssuerScopedMixin, viewsets.ModelViewSet):
    queryset = OperationMode.objects.all()
    serializer_class = OperationModeSerializer
