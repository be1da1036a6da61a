"""REST API: /api/v1/issuers/<issuer_pk>/mail-sends/..."""

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from facturador.core.actors import Actor
from facturador.core.rest import IssuerScopedMixin, JobSerializer
from facturador.core.errors import NotFound
from facturador.mailing import actions, services
from facturador.mailing.models import Delivery, MailSend


@extend_schema_field({"oneOf": [{"type": "string", "example": "FE1-FE500"},
                                {"type": "object", "properties": {"prefix": {"type": "string"}, "from": {"type": "integer"},
                                                                  "to": {"type": "integer"}}}]})
class RangeField(serializers.Field):
    """A range as text ("FE1-FE500") or {"prefix", "from", "to"}; the action checks it (mailing.range.*)."""

    def to_representation(self, value):
        return {"prefix": value.get("prefix", ""), "from": value["from"], "to": value["to"]}

    def to_internal_value(self, data):
        return data


class MailSendSerializer(serializers.ModelSerializer):
    ranges = serializers.ListField(child=RangeField(), min_length=1,
                                   help_text='["FE1-FE500"] o [{"prefix": "FE", "from": 1, "to": 500}]')
    status = serializers.ChoiceField(choices=MailSend.Status.choices, read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    stop_reason = serializers.CharField(read_only=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)
    counts = serializers.SerializerMethodField()

    class Meta:
        model = MailSend
        fields = ["id", "name", "ranges", "date_from", "date_to", "recipients", "selected_customers", "subject", "body",
                  "reply_to", "legally_required", "max_consecutive_failures", "status", "status_display", "stop_reason",
                  "job", "counts", "created_at", "started_at", "finished_at"]
        read_only_fields = ["id", "job", "counts", "created_at", "started_at"]

    def get_counts(self, obj) -> dict:
        return services.counts(obj)


class DeliverySerializer(serializers.ModelSerializer):
    document_number = serializers.CharField(source="document.full_number", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)

    class Meta:
        model = Delivery
        fields = ["id", "document", "document_number", "customer_name", "email", "status", "status_display", "exclusion",
                  "message_id", "attempts", "sent_at", "smtp_code", "smtp_response", "bounced_at", "bounce_detail"]
        read_only_fields = fields


class PreviewSerializer(serializers.Serializer):
    document = serializers.IntegerField(required=False, help_text="Factura de muestra; por defecto la primera")
    subject = serializers.CharField(required=False)
    body = serializers.CharField(required=False)


class TestSerializer(serializers.Serializer):
    email = serializers.CharField(help_text="Correo al que se envía la prueba")
    document = serializers.IntegerField(required=False, help_text="Factura de muestra; por defecto la primera")


class TestRecipientsSerializer(serializers.Serializer):
    emails = serializers.ListField(child=serializers.CharField(allow_blank=True), allow_empty=True,
                                   help_text="Correos a los que se pueden enviar pruebas (además del propio de cada usuario)")


class ResolveUnknownSerializer(serializers.Serializer):
    deliveries = serializers.ListField(child=serializers.IntegerField(), help_text="Entregas sin confirmar")
    decision = serializers.ChoiceField(choices=actions.UNKNOWN_DECISIONS,
                                       help_text="confirm: llegó; resend: reenviar con el mismo Message-ID")


class MailSendViewSet(IssuerScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      viewsets.GenericViewSet):
    """Mass email sends of issued invoices: register, preview, test, start/stop/resume, ledger, export."""

    queryset = MailSend.objects.all()
    serializer_class = MailSendSerializer

    def get_queryset(self):
        return super().get_queryset().select_related("job")

    def perform_create(self, serializer):
        serializer.instance = actions.register_send(self.issuer, Actor.from_request(self.request),
                                                    **serializer.validated_data)

    def _answer(self, send):
        send.refresh_from_db()
        return Response(MailSendSerializer(send, context=self.get_serializer_context()).data)

    @extend_schema(request=PreviewSerializer, responses={200: dict})
    @action(detail=True, methods=["post"])
    def preview(self, request, issuer_pk=None, pk=None):
        data = PreviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(actions.preview(self.issuer, Actor.from_request(request), send=self.get_object(),
                                        **data.validated_data))

    @extend_schema(request=TestSerializer, responses={200: dict})
    @action(detail=True, methods=["post"])
    def test(self, request, issuer_pk=None, pk=None):
        data = TestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        mid = actions.send_test(self.issuer, Actor.from_request(request), send=self.get_object(), **data.validated_data)
        return Response({"message_id": mid, "to": data.validated_data["email"]})

    @extend_schema(request=TestRecipientsSerializer, responses={200: TestRecipientsSerializer})
    @action(detail=False, methods=["get", "put"], url_path="test-recipients")
    def test_recipients(self, request, issuer_pk=None):
        """The issuer's test recipients; PUT replaces the list (administrators only)."""
        if request.method == "GET":
            return Response({"emails": services.allowed_test_recipients(self.issuer)})
        data = TestRecipientsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response({"emails": actions.set_test_recipients(self.issuer, Actor.from_request(request),
                                                                **data.validated_data)})

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def start(self, request, issuer_pk=None, pk=None):
        return self._answer(actions.start(self.issuer, Actor.from_request(request), send=self.get_object()))

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def stop(self, request, issuer_pk=None, pk=None):
        return self._answer(actions.stop(self.issuer, Actor.from_request(request), send=self.get_object()))

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def resume(self, request, issuer_pk=None, pk=None):
        return self._answer(actions.resume(self.issuer, Actor.from_request(request), send=self.get_object()))

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], url_path="resend-failed")
    def resend_failed(self, request, issuer_pk=None, pk=None):
        send = self.get_object()
        actions.resend_failed(self.issuer, Actor.from_request(request), send=send)
        return self._answer(send)

    @extend_schema(request=ResolveUnknownSerializer, responses={200: dict})
    @action(detail=True, methods=["post"], url_path="resolve-unknown")
    def resolve_unknown(self, request, issuer_pk=None, pk=None):
        data = ResolveUnknownSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        n = actions.resolve_unknown(self.issuer, Actor.from_request(request), send=self.get_object(),
                                    **data.validated_data)
        return Response({"updated": n})

    @extend_schema(responses={200: JobSerializer})
    @action(detail=True, methods=["get"])
    def job(self, request, issuer_pk=None, pk=None):
        send = self.get_object()
        if not send.job:
            raise NotFound("mailing.send.not_started", "El envío no se ha iniciado.")
        return Response(JobSerializer(send.job).data)

    @extend_schema(responses={200: DeliverySerializer(many=True)},
                   parameters=[OpenApiParameter("status", str, description="pending, sent, failed, bounced, unknown, excluded")])
    @action(detail=True, methods=["get"])
    def ledger(self, request, issuer_pk=None, pk=None):
        page = self.paginate_queryset(services.ledger(self.get_object(), request.query_params.get("status", "")))
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(responses={(200, "text/csv"): bytes})
    @action(detail=True, methods=["get"], url_path=r"export/(?P<fmt>(?:csv|xlsx))")
    def export(self, request, issuer_pk=None, pk=None, fmt="csv"):
        content, content_type, filename = actions.export_ledger(self.issuer, Actor.from_request(request),
                                                                send=self.get_object(), fmt=fmt)
        resp = HttpResponse(content, content_type=content_type)
        resp["Content-Disposition"] = f'attachment; filename="{filename}"'
        return resp
