"""Enablement API, mounted under /api/v1/issuers/<issuer_pk>/habilitacion/."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from facturador.core.api import IssuerScopedMixin, JobSerializer
from facturador.core.models import Role
from facturador.habilitacion import services
from facturador.habilitacion.models import TestSetDocument, TestSetRun


def _error(exc: services.HabilitacionError, code=status.HTTP_400_BAD_REQUEST):
    return Response({"detail": exc.message, "code": exc.code, "field": exc.field}, status=code)


class EnablementSerializer(serializers.Serializer):
    state = serializers.CharField()
    state_display = serializers.CharField(source="get_state_display")
    reception_email = serializers.EmailField()
    registered_on = serializers.DateField()
    enabled_on = serializers.DateField()
    production_start = serializers.DateField()
    production_confirmed_at = serializers.DateTimeField()
    billing_type = serializers.CharField()
    numbering_synced_at = serializers.DateTimeField()
    prefix_associated_on = serializers.DateField()
    s2_acknowledged_on = serializers.DateField()


def enablement_data(issuer) -> dict:
    en = services.enablement_for(issuer)
    data = EnablementSerializer(en).data
    mode = services.current_mode(issuer)
    data["operation_mode"] = None if mode is None else {
        "id": mode.pk, "mode": mode.mode, "software_name": mode.software_name, "software_id": mode.software_id,
        "pin": mode.pin_masked, "test_set_id": mode.test_set_id, "environment": mode.environment, "state": mode.state,
        "url": mode.url,
    }
    data["steps"] = services.step_status(issuer)
    data["next_step"] = services.first_open_step(issuer)
    data["production_ready"] = services.production_ready(issuer)
    data["s2_reminder"] = ("Actualice el RUT con la responsabilidad 52 «Facturador electrónico»."
                           if en.state == en.State.PRODUCTION and not en.s2_acknowledged_on else "")
    return data


class RegisterInput(serializers.Serializer):
    reception_email = serializers.EmailField()
    registered_on = serializers.DateField(required=False)


class ModeInput(serializers.Serializer):
    software_id = serializers.CharField(max_length=64)
    pin = serializers.CharField(required=False, write_only=True)
    test_set_id = serializers.CharField(required=False)
    mode = serializers.ChoiceField(choices=["own", "provider"], default="own")
    software_name = serializers.CharField(required=False, default="")
    provider_name = serializers.CharField(required=False, default="")
    provider_nit = serializers.CharField(required=False, default="")
    endpoint = serializers.URLField(required=False)


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


class EnablementViewSet(IssuerScopedMixin, viewsets.ViewSet):
    """The issuer's DIAN enablement: state, steps, and the actions that move it forward."""

    write_roles = (Role.ADMIN,)

    def _check_co(self):
        if self.issuer.country != "CO":
            raise serializers.ValidationError({"detail": "La habilitación DIAN es para emisores de Colombia."})

    def _run(self, serializer_class, fn):
        self._check_co()
        ser = serializer_class(data=self.request.data)
        ser.is_valid(raise_exception=True)
        try:
            extra = fn(**ser.validated_data)
        except services.HabilitacionError as exc:
            return _error(exc, status.HTTP_409_CONFLICT if exc.code in ("immutable", "busy", "not_enabled", "environment")
                          else status.HTTP_400_BAD_REQUEST)
        data = enablement_data(self.issuer)
        if isinstance(extra, dict):
            data.update(extra)
        return Response(data)

    @extend_schema(responses=EnablementSerializer)
    def list(self, request, issuer_pk=None):
        self._check_co()
        return Response(enablement_data(self.issuer))

    @extend_schema(request=RegisterInput, responses=EnablementSerializer)
    @action(detail=False, methods=["post"])
    def register(self, request, issuer_pk=None):
        return self._run(RegisterInput, lambda **d: services.register(self.issuer, **d, user=request.user, channel="api"))

    @extend_schema(request=ModeInput, responses=EnablementSerializer)
    @action(detail=False, methods=["post"], url_path="operation-mode")
    def operation_mode(self, request, issuer_pk=None):
        return self._run(ModeInput, lambda **d: services.save_mode(self.issuer, **d, user=request.user, channel="api"))

    @extend_schema(request=TestNumberingInput, responses=EnablementSerializer)
    @action(detail=False, methods=["post"], url_path="test-numbering")
    def test_numbering(self, request, issuer_pk=None):
        def do(**d):
            ranges = services.save_test_ranges(self.issuer, **d, user=request.user, channel="api")
            return {"test_ranges": {k: {"id": r.pk, "prefix": r.prefix, "range_from": r.range_from,
                                        "range_to": r.range_to} for k, r in ranges.items()}}
        return self._run(TestNumberingInput, do)

    @extend_schema(request=ProductionInput, responses=EnablementSerializer)
    @action(detail=False, methods=["post"])
    def production(self, request, issuer_pk=None):
        return self._run(ProductionInput, lambda **d: services.switch_to_production(
            self.issuer, **d, user=request.user, channel="api"))

    @extend_schema(request=ResolutionInput, responses=EnablementSerializer)
    @action(detail=False, methods=["post"])
    def resolution(self, request, issuer_pk=None):
        def do(**d):
            rng = services.register_resolution(self.issuer, **d, user=request.user, channel="api")
            return {"range": {"id": rng.pk, "prefix": rng.prefix, "range_from": rng.range_from, "range_to": rng.range_to}}
        return self._run(ResolutionInput, do)

    @extend_schema(request=None, responses=EnablementSerializer)
    @action(detail=False, methods=["post"], url_path="sync-numbering")
    def sync_numbering(self, request, issuer_pk=None):
        def do():
            ranges, message = services.sync_numbering(self.issuer, user=request.user, channel="api")
            return {"message": message, "synced": [{"id": r.pk, "prefix": r.prefix, "range_from": r.range_from,
                                                    "range_to": r.range_to} for r in ranges]}
        return self._run(serializers.Serializer, do)

    @extend_schema(request=PrefixInput, responses=EnablementSerializer)
    @action(detail=False, methods=["post"], url_path="prefix-association")
    def prefix_association(self, request, issuer_pk=None):
        return self._run(PrefixInput, lambda **d: services.associate_prefix(
            self.issuer, d.get("associated_on"), user=request.user, channel="api"))


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
    outcome_display = serializers.CharField(source="get_outcome_display", read_only=True)

    class Meta:
        model = TestSetRun
        fields = ["id", "test_set_id", "invoices", "credit_notes", "debit_notes", "outcome", "outcome_display",
                  "dian_message", "accepted_at", "created_at", "job", "summary"]
        read_only_fields = fields

    def get_summary(self, obj) -> dict:
        return services.summary(obj)


class RunInput(serializers.Serializer):
    test_set_id = serializers.CharField(required=False)
    invoices = serializers.IntegerField(required=False, min_value=1, max_value=services.MAX_COUNT)
    credit_notes = serializers.IntegerField(required=False, min_value=0, max_value=services.MAX_COUNT)
    debit_notes = serializers.IntegerField(required=False, min_value=0, max_value=services.MAX_COUNT)


class RunViewSet(IssuerScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Test-set runs ("Generar comprobantes"): create one, follow it, list its documents."""

    queryset = TestSetRun.objects.select_related("job")
    serializer_class = RunSerializer

    @extend_schema(request=RunInput, responses={201: RunSerializer})
    def create(self, request, issuer_pk=None):
        ser = RunInput(data=request.data)
        ser.is_valid(raise_exception=True)
        try:
            run = services.start_run(self.issuer, **ser.validated_data, user=request.user, channel="api")
        except services.HabilitacionError as exc:
            return _error(exc, status.HTTP_409_CONFLICT if exc.code == "busy" else status.HTTP_400_BAD_REQUEST)
        return Response(RunSerializer(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=RunDocumentSerializer(many=True))
    @action(detail=True, methods=["get"])
    def documents(self, request, issuer_pk=None, pk=None):
        run = self.get_object()
        qs = TestSetDocument.objects.filter(run=run).select_related("document").order_by("kind", "slot", "-active")
        return Response(RunDocumentSerializer(qs, many=True).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def resume(self, request, issuer_pk=None, pk=None):
        run = self.get_object()
        try:
            services.resume_run(run, user=request.user)
        except services.HabilitacionError as exc:
            return _error(exc, status.HTTP_409_CONFLICT)
        run.refresh_from_db()
        return Response(RunSerializer(run).data)
