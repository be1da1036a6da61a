from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from facturador.core.actors import Actor
from facturador.core.rest import IssuerScopedMixin, Money
from facturador.portal import actions, services
from facturador.portal.models import Cfdi, Ticket


class TicketSerializer(serializers.ModelSerializer):
    branch = serializers.CharField(source="branch.code")
    subtotal = Money(read_only=True)
    tax = Money(read_only=True)
    total = Money(read_only=True)

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
    """Sales from the point of sale. POST one ticket or a list; resending the same ticket is harmless.
    The list accepts ``q`` (ticket or order number) and ``status``, like the back office."""

    queryset = Ticket.objects.select_related("branch")
    serializer_class = TicketSerializer

    def get_queryset(self):
        p = self.request.query_params
        return services.tickets_for(self.issuer, q=p.get("q", ""), status=p.get("status", ""))

    @extend_schema(request=TicketInputSerializer(many=True), responses={201: None})
    def create(self, request, issuer_pk=None):
        created, known = actions.import_tickets(self.issuer, Actor.from_request(request), rows=request.data, source="API")
        return Response({"created": created, "already_known": known}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def block(self, request, issuer_pk=None, pk=None):
        ticket = actions.block_ticket(self.issuer, Actor.from_request(request), ticket=self.get_object())
        return Response(TicketSerializer(ticket).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def unblock(self, request, issuer_pk=None, pk=None):
        ticket = actions.unblock_ticket(self.issuer, Actor.from_request(request), ticket=self.get_object())
        return Response(TicketSerializer(ticket).data)


class CfdiSerializer(serializers.ModelSerializer):
    total = Money(read_only=True)

    class Meta:
        model = Cfdi
        fields = ["id", "kind", "serie", "folio", "uuid", "issued_at", "receptor_rfc", "receptor_name", "total", "status",
                  "cancel_motive", "substitute_uuid", "period"]
        read_only_fields = fields


class CancelSerializer(serializers.Serializer):
    motive = serializers.CharField(help_text="Motivo SAT: 01, 02, 03 o 04")
    substitute_uuid = serializers.CharField(required=False, allow_blank=True, help_text="UUID que sustituye (motivo 01)")


class GlobalInvoiceSerializer(serializers.Serializer):
    period = serializers.CharField(help_text="AAAA-MM")


class CfdiViewSet(IssuerScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Stamped CFDI. The list accepts ``kind`` (I, E, G)."""

    queryset = Cfdi.objects.all()
    serializer_class = CfdiSerializer

    def get_queryset(self):
        return services.cfdis_for(self.issuer, kind=self.request.query_params.get("kind", ""))

    @extend_schema(request=CancelSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, issuer_pk=None, pk=None):
        data = CancelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        cfdi = actions.cancel_cfdi(self.issuer, Actor.from_request(request), cfdi=self.get_object(),
                                   motive=data.validated_data["motive"],
                                   substitute_uuid=data.validated_data.get("substitute_uuid", ""))
        return Response(CfdiSerializer(cfdi).data)

    @extend_schema(request=GlobalInvoiceSerializer, responses={202: None})
    @action(detail=False, methods=["post"], url_path="global")
    def global_invoice(self, request, issuer_pk=None):
        """Issue the global invoice of a period now (a job; follow it at /api/v1/issuers/<issuer>/jobs/<id>/)."""
        data = GlobalInvoiceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = actions.request_global_invoice(self.issuer, Actor.from_request(request), period=data.validated_data["period"])
        return Response({"job": job.pk, "status": job.status}, status=status.HTTP_202_ACCEPTED)

    @action(detail=True, methods=["get"], url_path=r"files/(?P<what>(?:xml|pdf))")
    def files(self, request, issuer_pk=None, pk=None, what=None):
        content, content_type = services.cfdi_file(self.get_object(), what)
        return HttpResponse(content, content_type=content_type)
