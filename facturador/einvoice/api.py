from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from facturador.core.actors import Actor
from facturador.core.rest import IssuerScopedMixin, Money
from facturador.einvoice import actions, files, services
from facturador.einvoice.models import DianDocument, OperationMode


class DianDocumentSerializer(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    number = serializers.CharField(source="full_number", read_only=True)
    total = Money(read_only=True)

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

    @extend_schema(parameters=[OpenApiParameter(name, str, required=False) for name in services.FILTERS])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        if self.action == "list":
            return services.documents_filtered(self.issuer, self.request.query_params)
        return super().get_queryset()

    @extend_schema(request=DocumentInputSerializer, responses={201: DianDocumentSerializer})
    def create(self, request, issuer_pk=None):
        DocumentInputSerializer(data=request.data).is_valid(raise_exception=True)
        payload = dict(request.data)
        send = payload.pop("send", True)
        doc = actions.issue_document(self.issuer, Actor.from_request(request), payload=payload, send=bool(send))
        return Response(DianDocumentSerializer(doc).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def retry(self, request, issuer_pk=None, pk=None):
        doc = actions.retry_document(self.issuer, Actor.from_request(request), document=self.get_object())
        return Response(DianDocumentSerializer(doc).data)

    @extend_schema(responses={200: OpenApiResponse(description="file")})
    @action(detail=True, methods=["get"], url_path=r"files/(?P<what>(?:xml|pdf|zip|response|attached))")
    def files(self, request, issuer_pk=None, pk=None, what=None):
        content, filename, mime = files.download(self.get_object(), what)
        resp = HttpResponse(content, content_type=mime)
        resp["Content-Disposition"] = f'attachment; filename="{filename}"'
        return resp


class AcquirerSerializer(serializers.Serializer):
    id_type = serializers.CharField()
    number = serializers.CharField()
    name = serializers.CharField()
    email = serializers.CharField(allow_blank=True)


class AcquirerView(IssuerScopedMixin, APIView):
    """A buyer's name and reception e-mail as DIAN has them (GetAcquirer), by identification type (DIAN's code:
    13 cédula, 31 NIT, ...) and number. A query: any member may ask (read-only roles too); nothing is written
    or audited. 404 ``einvoice.acquirer.not_found`` when DIAN does not know the buyer, 503
    ``einvoice.acquirer.unavailable`` when DIAN cannot be reached."""

    @extend_schema(parameters=[OpenApiParameter("id_type", str, required=True),
                               OpenApiParameter("number", str, required=True)],
                   responses={200: AcquirerSerializer})
    def get(self, request, issuer_pk=None):
        params = request.query_params
        found = services.acquirer_lookup(self.issuer, params.get("id_type"), params.get("number"))
        return Response(AcquirerSerializer(found.as_dict()).data)


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

    def perform_create(self, serializer):
        serializer.instance = actions.save_operation_mode(self.issuer, Actor.from_request(self.request),
                                                          **self._action_input(serializer))

    def perform_update(self, serializer):
        serializer.instance = actions.save_operation_mode(self.issuer, Actor.from_request(self.request),
                                                          mode=serializer.instance, **self._action_input(serializer))

    def perform_destroy(self, instance):
        actions.delete_operation_mode(self.issuer, Actor.from_request(self.request), mode=instance)

    @staticmethod
    def _action_input(serializer) -> dict:
        values = dict(serializer.validated_data)
        return {"values": values, "pin": values.pop("software_pin", None)}
