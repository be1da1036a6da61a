from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from facturador.cfdi.pdf import cfdi_pdf
from facturador.core import audit
from facturador.core.api import IssuerScopedMixin
from facturador.portal import services, tickets as ticket_rules
from facturador.portal.models import Cfdi, Ticket


class TicketSerializer(serializers.ModelSerializer):
    branch = serializers.CharField(source="branch.code")

    class Meta:
        model = Ticket
        fields = ["id", "branch", "ticket_number", "order_number", "short_code", "sold_at", "subtotal", "tax", "total",
                  "iva_rate", "payment_form", "status", "lines"]
        read_only_fields = fields


class TicketInputSerializer(serializers.Serializer):
    branch = serializers.CharField(help_text="Código de la sucursal")
    ticket_number = serializers.CharField()
    order_number = serializers.CharField(required=False)
    short_code = serializers.CharField(required=False)
    sold_at = serializers.CharField(help_text="AAAA-MM-DD HH:MM[:SS], hora de la sucursal")
    subtotal = serializers.DecimalField(max_digits=14, decimal_places=2)
    tax = serializers.DecimalField(max_digits=14, decimal_places=2)
    total = serializers.DecimalField(max_digits=14, decimal_places=2)
    iva_rate = serializers.CharField(required=False)
    payment_form = serializers.CharField(required=False)
    lines = serializers.ListField(child=serializers.DictField(), required=False)


class TicketViewSet(IssuerScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Sales from the point of sale. POST one ticket or a list; resending the same ticket is harmless."""

    queryset = Ticket.objects.select_related("branch")
    serializer_class = TicketSerializer

    @extend_schema(request=TicketInputSerializer(many=True), responses={201: None})
    def create(self, request, issuer_pk=None):
        rows = request.data if isinstance(request.data, list) else [request.data]
        try:
            created, known = ticket_rules.save_tickets(self.issuer, rows)
        except ticket_rules.TicketRowError as exc:
            return Response({"detail": exc.message, "row": exc.row, "field": exc.field}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"created": created, "already_known": known}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def block(self, request, issuer_pk=None, pk=None):
        ticket = self.get_object()
        n = Ticket.objects.filter(pk=ticket.pk, status=Ticket.Status.AVAILABLE).update(status=Ticket.Status.BLOCKED)
        if not n:
            return Response({"detail": "Solo se pueden bloquear tickets disponibles."}, status=status.HTTP_409_CONFLICT)
        return Response(TicketSerializer(Ticket.objects.get(pk=ticket.pk)).data)


class CfdiSerializer(serializers.ModelSerializer):
    class Meta:
        model = Cfdi
        fields = ["id", "kind", "serie", "folio", "uuid", "issued_at", "receptor_rfc", "receptor_name", "total", "status",
                  "cancel_motive", "substitute_uuid", "period"]
        read_only_fields = fields


class CancelSerializer(serializers.Serializer):
    motive = serializers.ChoiceField(choices=["01", "02", "03", "04"])
    substitute_uuid = serializers.CharField(required=False, allow_blank=True)


class CfdiViewSet(IssuerScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Cfdi.objects.all()
    serializer_class = CfdiSerializer

    @extend_schema(request=CancelSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, issuer_pk=None, pk=None):
        cfdi = self.get_object()
        data = CancelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            services.cancel(cfdi, data.validated_data["motive"], data.validated_data.get("substitute_uuid", ""), user=request.user)
        except services.PortalError as exc:
            return Response({"detail": exc.message, "code": exc.code}, status=status.HTTP_400_BAD_REQUEST)
        audit.record("portal.cancel", issuer=self.issuer, obj=cfdi, request=request)
        return Response(CfdiSerializer(cfdi).data)

    @action(detail=True, methods=["get"], url_path=r"files/(?P<what>xml|pdf)")
    def files(self, request, issuer_pk=None, pk=None, what=None):
        cfdi = self.get_object()
        content = bytes(cfdi.xml) if what == "xml" else cfdi_pdf(bytes(cfdi.xml))
        return HttpResponse(content, content_type="application/xml" if what == "xml" else "application/pdf")
