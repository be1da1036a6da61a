"""REST API: /api/v1/issuers/<issuer_pk>/mail-sends/..."""

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from facturador.core import audit
from facturador.core.api import IssuerScopedMixin, JobSerializer
from facturador.core.models import IssuedDocument
from facturador.mailing import engine, exports, services
from facturador.mailing.models import Delivery, MailSend


class RangeSerializer(serializers.Serializer):
    prefix = serializers.CharField(allow_blank=True, max_length=4, default="")
    to = serializers.IntegerField(min_value=0)

    def to_representation(self, value):
        return {"prefix": value.get("prefix", ""), "from": value["from"], "to": value["to"]}

    def to_internal_value(self, data):
        if isinstance(data, str):
            try:
                return services.parse_range(data)
            except services.MailingError as exc:
                raise serializers.ValidationError(exc.message) from exc
        value = super().to_internal_value(data)
        try:
            start = int(data.get("from"))
        except (TypeError, ValueError) as exc:
            raise serializers.ValidationError({"from": "Número inicial requerido."}) from exc
        if value["to"] < start:
            raise serializers.ValidationError("El número final es menor que el inicial.")
        return {"prefix": value["prefix"].upper(), "from": start, "to": value["to"]}


class MailSendSerializer(serializers.ModelSerializer):
    ranges = serializers.ListField(child=RangeSerializer(), min_length=1,
                                   help_text='["FE1-FE500"] o [{"prefix": "FE", "from": 1, "to": 500}]')
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    counts = serializers.SerializerMethodField()

    class Meta:
        model = MailSend
        fields = ["id", "name", "ranges", "date_from", "date_to", "recipients", "selected_customers", "subject", "body",
                  "reply_to", "legally_required", "max_consecutive_failures", "status", "status_display", "stop_reason",
                  "job", "counts", "created_at", "started_at", "finished_at"]
        read_only_fields = ["id", "status", "status_display", "stop_reason", "job", "counts", "created_at", "started_at",
                            "finished_at"]

    def get_counts(self, obj) -> dict:
        return services.counts(obj)

    def validate(self, data):
        for field in ("subject", "body"):
            if field in data:
                try:
                    services.check_template(data[field], field)
                except services.MailingError as exc:
                    raise serializers.ValidationError({field: exc.message}) from exc
        return data

    def create(self, validated):
        view = self.context["view"]
        try:
            return services.register_send(view.issuer, user=self.context["request"].user, **validated)
        except services.MailingError as exc:
            raise serializers.ValidationError({exc.field or "non_field_errors": exc.message}) from exc


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
    email = serializers.EmailField()
    document = serializers.IntegerField(required=False)


class MailSendViewSet(IssuerScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      viewsets.GenericViewSet):
    """Mass email sends of issued invoices: register, preview, test, start/stop/resume, ledger, export."""

    queryset = MailSend.objects.all()
    serializer_class = MailSendSerializer

    def get_object(self):
        return engine.sync_status(super().get_object())

    def perform_create(self, serializer):
        send = serializer.save()
        audit.record("mailsend.create", issuer=self.issuer, obj=send, request=self.request, summary=send.ranges_display)

    def _run(self, request, fn, audit_action):
        send = self.get_object()
        try:
            fn(send)
        except services.MailingError as exc:
            return Response({"detail": exc.message, "code": exc.code}, status=status.HTTP_409_CONFLICT)
        audit.record(audit_action, issuer=self.issuer, obj=send, request=request)
        send.refresh_from_db()
        return Response(MailSendSerializer(send, context=self.get_serializer_context()).data)

    @extend_schema(request=PreviewSerializer, responses={200: dict})
    @action(detail=True, methods=["post"])
    def preview(self, request, issuer_pk=None, pk=None):
        send = self.get_object()
        data = PreviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        subject = data.validated_data.get("subject", send.subject)
        body = data.validated_data.get("body", send.body)
        try:
            services.check_template(subject, "subject")
            services.check_template(body, "body")
        except services.MailingError as exc:
            return Response({exc.field: exc.message, "code": exc.code}, status=status.HTTP_400_BAD_REQUEST)
        rows = Delivery.objects.filter(send=send).select_related("document")
        if data.validated_data.get("document"):
            rows = rows.filter(document_id=data.validated_data["document"])
        row = rows.first()
        if row is None:
            return Response({"detail": "Factura no incluida en el envío."}, status=status.HTTP_404_NOT_FOUND)
        ctx = services.context_for(row.document, self.issuer)
        return Response({"document": row.document_id, "to": row.email, "subject": services.render(subject, ctx),
                         "text": services.render(body, ctx), "html": services.render_html(body, ctx),
                         "attachments": [{"filename": a.filename, "mimetype": a.mimetype, "size": len(a.content)}
                                         for a in services.attachments_for(row.document)]})

    @extend_schema(request=TestSerializer, responses={200: dict})
    @action(detail=True, methods=["post"])
    def test(self, request, issuer_pk=None, pk=None):
        send = self.get_object()
        data = TestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        doc = None
        if data.validated_data.get("document"):
            doc = IssuedDocument.objects.filter(issuer=self.issuer, pk=data.validated_data["document"]).first()
        try:
            mid = services.send_test(send, data.validated_data["email"], doc)
        except services.MailingError as exc:
            return Response({"detail": exc.message, "code": exc.code}, status=status.HTTP_400_BAD_REQUEST)
        except Exception as exc:
            return Response({"detail": f"No se pudo enviar la prueba: {exc}"}, status=status.HTTP_502_BAD_GATEWAY)
        audit.record("mailsend.test", issuer=self.issuer, obj=send, request=request, summary=data.validated_data["email"])
        return Response({"message_id": mid, "to": data.validated_data["email"]})

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def start(self, request, issuer_pk=None, pk=None):
        return self._run(request, lambda s: engine.start(s, request.user), "mailsend.start")

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def stop(self, request, issuer_pk=None, pk=None):
        return self._run(request, engine.stop, "mailsend.stop")

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def resume(self, request, issuer_pk=None, pk=None):
        return self._run(request, lambda s: engine.resume(s, request.user), "mailsend.resume")

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], url_path="resend-failed")
    def resend_failed(self, request, issuer_pk=None, pk=None):
        return self._run(request, lambda s: engine.resend_failed(s, request.user), "mailsend.resend_failed")

    @extend_schema(responses={200: JobSerializer})
    @action(detail=True, methods=["get"])
    def job(self, request, issuer_pk=None, pk=None):
        send = self.get_object()
        if not send.job:
            return Response({"detail": "El envío no se ha iniciado."}, status=status.HTTP_404_NOT_FOUND)
        return Response(JobSerializer(send.job).data)

    @extend_schema(responses={200: DeliverySerializer(many=True)},
                   parameters=[OpenApiParameter("status", str, description="pending, sent, failed, bounced, unknown, excluded")])
    @action(detail=True, methods=["get"])
    def ledger(self, request, issuer_pk=None, pk=None):
        send = self.get_object()
        rows = Delivery.objects.filter(send=send).select_related("document").order_by("id")
        if request.query_params.get("status"):
            rows = rows.filter(status=request.query_params["status"])
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(responses={(200, "text/csv"): bytes})
    @action(detail=True, methods=["get"], url_path=r"export/(?P<fmt>csv|xlsx)")
    def export(self, request, issuer_pk=None, pk=None, fmt="csv"):
        send = self.get_object()
        if fmt == "csv":
            resp = HttpResponse(exports.to_csv(send), content_type="text/csv; charset=utf-8")
        else:
            resp = HttpResponse(exports.to_xlsx(send),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        resp["Content-Disposition"] = f'attachment; filename="envio-{send.pk}-entregas.{fmt}"'
        return resp
