"""Enablement API, mounted under /api/v1/issuers/<issuer_pk>/habilitacion/: thin adapters over
`habilitacion.actions`. Refusals are answered by `core.api.exception_handler` ({"code", "detail", "field",
"details"} with 400/404/409)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from facturador.core.actors import Actor
from facturador.core.models import Role
from facturador.core.rest import IssuerScopedMixin, JobSerializer
from facturador.habilitacion import actions, selectors, services
from facturador.habilitacion.models import TestSetDocument, TestSetRun


@extend_schema_serializer(many=False)  # the enablement is one object, also in the viewset's `list`
class EnablementSerializer(serializers.Serializer):
    """The answer of every enablement endpoint (`selectors.enablement_data`); actions may add their results."""

    state = serializers.CharField()
    state_display = serializers.CharField(source="get_state_display")
    reception_email = serializers.CharField(help_text="E-mail address, empty until registered")
    registered_on = serializers.DateField(allow_null=True)
    enabled_on = serializers.DateField(allow_null=True)
    production_start = serializers.DateField(allow_null=True)
    production_confirmed_at = serializers.DateTimeField(allow_null=True)
    billing_type = serializers.CharField()
    numbering_synced_at = serializers.DateTimeField(allow_null=True)
    prefix_associated_on = serializers.DateField(allow_null=True)
    production_ranges = serializers.ListField(child=serializers.DictField(), help_text="Authorised ranges: id, "
                                              "prefix, numbers, resolution, synced, associated_software_id/_on")
    s2_acknowledged_on = serializers.DateField(allow_null=True)
    operation_mode = serializers.DictField(allow_null=True, help_text="id, mode, software_name, software_id, pin "
                                           "(masked), test_set_id, environment, state, url; null without one")
    steps = serializers.DictField(child=serializers.BooleanField(), help_text="Step key: done")
    next_step = serializers.CharField()
    production_ready = serializers.BooleanField()
    s2_reminder = serializers.CharField()


class RegisterInput(serializers.Serializer):
    reception_email = serializers.EmailField()
    registered_on = serializers.DateField(required=False)


class ModeInput(serializers.Serializer):
    """Fields left out keep what is stored (a new software needs its PIN)."""

    software_id = serializers.CharField(max_length=64)
    pin = serializers.CharField(required=False, write_only=True)
    test_set_id = serializers.CharField(required=False)
    mode = serializers.ChoiceField(choices=["own", "provider"], required=False)
    software_name = serializers.CharField(required=False)
    provider_name = serializers.CharField(required=False, allow_blank=True)
    provider_nit = serializers.CharField(required=False)
    endpoint = serializers.URLField(required=False, allow_blank=True)


class TestNumberingInput(serializers.Serializer):
    prefix = serializers.CharField(max_length=4)
    range_from = serializers.IntegerField(min_value=1)
    range_to = serializers.IntegerField(min_value=1)
    resolution_number = serializers.CharField(max_length=40)
    valid_from = serializers.DateField()
    valid_to = serializers.DateField()
    technical_key = serializers.CharField(required=False, allow_blank=True)
    credit_prefix = serializers.CharField(max_length=4, default="NCP")
    debit_prefix = serializers.CharField(max_length=4, default="NDP")


class ProductionInput(serializers.Serializer):
    start_date = serializers.DateField()
    endpoint = serializers.URLField(required=False)


class ResolutionInput(serializers.Serializer):
    resolution_number = serializers.CharField(max_length=40)
    billing_type = serializers.ChoiceField(choices=[k for k, _ in services.BILLING_TYPES], default="electronica")
    prefix = serializers.CharField(max_length=4)
    range_from = serializers.IntegerField(min_value=1)
    range_to = serializers.IntegerField(min_value=1)
    valid_from = serializers.DateField()
    valid_to = serializers.DateField()


class PrefixInput(serializers.Serializer):
    associated_on = serializers.DateField(required=False)
    numbering_range = serializers.IntegerField(required=False, help_text="Id of the authorised range (default: the "
                                               "last one registered); it is associated with the active software")


class EnablementViewSet(IssuerScopedMixin, viewsets.ViewSet):
    """The issuer's DIAN enablement: state, steps, and the actions that move it forward."""

    write_roles = (Role.ADMIN,)

    def _input(self, serializer_class) -> dict:
        ser = serializer_class(data=self.request.data)
        ser.is_valid(raise_exception=True)
        return ser.validated_data

    def _answer(self, **extra):
        """Every action answers with the enablement's state (plus what the action returned)."""
        return Response({**selectors.enablement_data(self.issuer), **extra})

    @extend_schema(responses=EnablementSerializer)
    def list(self, request, issuer_pk=None):
        services.require_colombia(self.issuer)
        return Response(selectors.enablement_data(self.issuer))

    @extend_schema(request=RegisterInput, responses=EnablementSerializer)
    @action(detail=False, methods=["post"])
    def register(self, request, issuer_pk=None):
        actions.register(self.issuer, Actor.from_request(request), **self._input(RegisterInput))
        return self._answer()

    @extend_schema(request=ModeInput, responses=EnablementSerializer)
    @action(detail=False, methods=["post"], url_path="operation-mode")
    def operation_mode(self, request, issuer_pk=None):
        actions.save_operation_mode(self.issuer, Actor.from_request(request), **self._input(ModeInput))
        return self._answer()

    @extend_schema(request=TestNumberingInput, responses=EnablementSerializer)
    @action(detail=False, methods=["post"], url_path="test-numbering")
    def test_numbering(self, request, issuer_pk=None):
        ranges = actions.save_test_numbering(self.issuer, Actor.from_request(request), **self._input(TestNumberingInput))
        return self._answer(test_ranges={k: _range(r) for k, r in ranges.items()})

    @extend_schema(request=ProductionInput, responses=EnablementSerializer)
    @action(detail=False, methods=["post"])
    def production(self, request, issuer_pk=None):
        actions.switch_to_production(self.issuer, Actor.from_request(request), **self._input(ProductionInput))
        return self._answer()

    @extend_schema(request=ResolutionInput, responses=EnablementSerializer)
    @action(detail=False, methods=["post"])
    def resolution(self, request, issuer_pk=None):
        rng = actions.register_resolution(self.issuer, Actor.from_request(request), **self._input(ResolutionInput))
        return self._answer(range=_range(rng))

    @extend_schema(request=None, responses=EnablementSerializer)
    @action(detail=False, methods=["post"], url_path="sync-numbering")
    def sync_numbering(self, request, issuer_pk=None):
        ranges, message = actions.sync_numbering(self.issuer, Actor.from_request(request))
        return self._answer(message=message, synced=[_range(r) for r in ranges])

    @extend_schema(request=PrefixInput, responses=EnablementSerializer)
    @action(detail=False, methods=["post"], url_path="prefix-association")
    def prefix_association(self, request, issuer_pk=None):
        data = self._input(PrefixInput)
        actions.associate_prefix(self.issuer, Actor.from_request(request), on=data.get("associated_on"),
                                 numbering_range=selectors.production_range(self.issuer, pk=data.get("numbering_range")))
        return self._answer()

    @extend_schema(request=None, responses=EnablementSerializer)
    @action(detail=False, methods=["post"], url_path="s2-acknowledgement")
    def s2_acknowledgement(self, request, issuer_pk=None):
        """The issuer updated its RUT with responsibility 52 («Facturador electrónico»)."""
        actions.acknowledge_s2(self.issuer, Actor.from_request(request))
        return self._answer()


def _range(rng) -> dict:
    return {"id": rng.pk, "prefix": rng.prefix, "range_from": rng.range_from, "range_to": rng.range_to}


class RunDocumentSerializer(serializers.ModelSerializer):
    number = serializers.CharField(source="document.full_number")
    status = serializers.CharField(source="document.status")
    state = serializers.SerializerMethodField()
    customer = serializers.CharField(source="document.customer_name")
    issue_date = serializers.DateField(source="document.issue_date")
    total = serializers.DecimalField(source="document.total", max_digits=18, decimal_places=2)
    rules = serializers.JSONField(source="document.rules")
    document_id = serializers.IntegerField(source="document.pk")

    class Meta:
        model = TestSetDocument
        fields = ["id", "kind", "slot", "active", "document_id", "number", "status", "state", "customer", "issue_date",
                  "total", "rules", "replaces"]

    def get_state(self, obj) -> str:
        return services.STATE_LABELS.get(obj.document.status, obj.document.status)


class RunSerializer(serializers.ModelSerializer):
    job = JobSerializer(read_only=True)
    summary = serializers.SerializerMethodField()
    status = serializers.CharField(read_only=True, allow_null=True, help_text="The state of the run's job.")
    outcome = serializers.ChoiceField(choices=TestSetRun.Outcome.choices, read_only=True,
                                      help_text="DIAN's acceptance of the set, else what the job says.")
    outcome_display = serializers.CharField(source="get_outcome_display", read_only=True)

    class Meta:
        model = TestSetRun
        fields = ["id", "test_set_id", "invoices", "credit_notes", "debit_notes", "status", "outcome",
                  "outcome_display", "dian_message", "accepted_at", "created_at", "job", "summary"]
        read_only_fields = fields

    def get_summary(self, obj) -> dict:
        return services.summary(obj)


DOCUMENT_FILTERS = {
    "documento": "invoice, credit_note or debit_note",
    "cliente": "part of the customer's name, or its identification",
    "numeracion": "prefix and/or number, e.g. SETP990000001",
    "estado": "document status (draft, signed, sent, pending, accepted, rejected, error)",
    "aceptacion": "aceptado, rechazado or sin_respuesta",
    "desde": "issued on or after (AAAA-MM-DD)",
    "hasta": "issued on or before (AAAA-MM-DD)",
    "vigentes": "1: only the documents in force (not replaced by a correction)",
}


class RunInput(serializers.Serializer):
    test_set_id = serializers.CharField(required=False)
    invoices = serializers.IntegerField(required=False, min_value=1, max_value=services.MAX_COUNT)
    credit_notes = serializers.IntegerField(required=False, min_value=0, max_value=services.MAX_COUNT)
    debit_notes = serializers.IntegerField(required=False, min_value=0, max_value=services.MAX_COUNT)


class CorrectionInput(serializers.Serializer):
    """What changes in the replacement of a rejected document; what is left out keeps the rejected one's value."""

    customer_name = serializers.CharField(required=False, allow_blank=True, max_length=300)
    customer_id = serializers.CharField(required=False, allow_blank=True, max_length=20)
    description = serializers.CharField(required=False, max_length=300)
    quantity = serializers.DecimalField(required=False, min_value=0, max_digits=18, decimal_places=4)
    unit_price = serializers.DecimalField(required=False, min_value=0, max_digits=18, decimal_places=2)
    iva = serializers.ChoiceField(choices=["19", "5", "0", ""], required=False, allow_blank=True,
                                  help_text='IVA rate of the first line; "" without IVA.')


class RunViewSet(IssuerScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Test-set runs ("Generar comprobantes"): create one, follow it, list its documents."""

    queryset = TestSetRun.objects.select_related("job")
    serializer_class = RunSerializer

    @extend_schema(request=RunInput, responses={201: RunSerializer})
    def create(self, request, issuer_pk=None):
        ser = RunInput(data=request.data)
        ser.is_valid(raise_exception=True)
        run = actions.start_run(self.issuer, Actor.from_request(request), **ser.validated_data)
        return Response(RunSerializer(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=RunDocumentSerializer(many=True), parameters=[
        OpenApiParameter(name, str, description=text) for name, text in DOCUMENT_FILTERS.items()])
    @action(detail=True, methods=["get"], pagination_class=None)  # a test set's few documents, all at once
    def documents(self, request, issuer_pk=None, pk=None):
        """The run's documents (replaced ones included), with the run page's filters."""
        run = self.get_object()
        qs = selectors.run_documents(run, request.query_params).order_by("kind", "slot", "-active")
        return Response(RunDocumentSerializer(qs, many=True).data)

    @extend_schema(request=CorrectionInput, responses={201: RunDocumentSerializer})
    @action(detail=True, methods=["post"], url_path=r"documents/(?P<entry_pk>[0-9]+)/correct")
    def correct(self, request, issuer_pk=None, pk=None, entry_pk=None):
        """Correct and resend a rejected document: a replacement with the next number takes its place."""
        run = self.get_object()
        entry = TestSetDocument.objects.select_related("document", "run__job").filter(run=run, pk=entry_pk).first()
        ser = CorrectionInput(data=request.data)
        ser.is_valid(raise_exception=True)
        new = actions.correct_document(self.issuer, Actor.from_request(request), entry=entry, **ser.validated_data)
        return Response(RunDocumentSerializer(new).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def resume(self, request, issuer_pk=None, pk=None):
        run = self.get_object()
        actions.resume_run(self.issuer, Actor.from_request(request), run=run)
        run = TestSetRun.objects.select_related("job").get(pk=run.pk)
        return Response(RunSerializer(run).data)
