"""API: received documents (list with the inbox's filters, detail, files, upload) and arrivals."""

from django.http import FileResponse, Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from facturador.core.actors import Actor
from facturador.core.rest import IssuerScopedMixin, Money
from facturador.reception import actions, services
from facturador.reception.models import Intake, ReceivedDocument
from facturador.reception.views import FILES


class ReceivedDocumentSerializer(serializers.ModelSerializer):
    subtotal = Money(read_only=True)
    tax_total = Money(read_only=True)
    withholding_total = Money(read_only=True)
    total = Money(read_only=True)
    has_pdf = serializers.SerializerMethodField()

    class Meta:
        model = ReceivedDocument
        fields = ["id", "country", "kind", "type_code", "status", "set_aside_reason", "supplier_tax_id",
                  "supplier_check_digit", "supplier_name", "supplier_email", "buyer_tax_id", "buyer_name", "series",
                  "number", "issue_date", "issue_time", "due_date", "currency", "subtotal", "tax_total",
                  "withholding_total", "total", "uuid", "uuid_scheme", "environment", "verification", "findings",
                  "dian_validation", "dian_response_code", "dian_rules", "dian_state", "sat_state", "sat_cancellable",
                  "sat_cancellation_status", "source", "intake", "received_at", "arrivals", "has_pdf"]
        read_only_fields = fields

    def get_has_pdf(self, obj) -> bool:
        return bool(obj.pdf)


class IntakeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Intake
        fields = ["id", "source", "status", "original_name", "size", "message_id", "mail_from", "subject", "documents",
                  "duplicates", "set_aside", "errors", "error_code", "error_message", "results", "received_at",
                  "processed_at"]
        read_only_fields = fields


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="AttachedDocument xml/zip, CFDI xml or an email .eml")


FILTERS = ("supplier", "state", "country", "date_from", "date_to", "q")


class ReceivedDocumentViewSet(IssuerScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                              viewsets.GenericViewSet):
    """Suppliers' documents received by the issuer. POST a file (multipart, field `file`) to receive it."""

    queryset = ReceivedDocument.objects.all()
    serializer_class = ReceivedDocumentSerializer
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(parameters=[OpenApiParameter(name, str, required=False) for name in FILTERS])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        if self.action == "list":
            p = self.request.query_params
            return services.filter_documents(self.issuer, **{k: p.get(k) for k in FILTERS if p.get(k)})
        return super().get_queryset()

    @extend_schema(request={"multipart/form-data": UploadSerializer}, responses={201: IntakeSerializer})
    def create(self, request, issuer_pk=None):
        s = UploadSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        intake = actions.import_file(self.issuer, Actor.from_request(request), upload=s.validated_data["file"])
        return Response(IntakeSerializer(intake).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: OpenApiResponse(description="file")})
    @action(detail=True, methods=["get"], url_path=r"files/(?P<what>(?:xml|respuesta|pdf|contenedor))")
    def files(self, request, issuer_pk=None, pk=None, what=None):
        doc = self.get_object()
        attr, mime = FILES[what]
        f = getattr(doc, attr)
        if not f:
            raise Http404
        return FileResponse(f.open("rb"), as_attachment=True, filename=f.name.rsplit("/", 1)[-1], content_type=mime)


class IntakeViewSet(IssuerScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Every arrival (file, email) and what became of each document in it."""

    queryset = Intake.objects.all()
    serializer_class = IntakeSerializer
