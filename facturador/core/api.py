"""The API of core's resources: issuers, branches, numbering ranges, certificates, jobs (see core.rest for the base)."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from facturador.core import actions, jobs, numbering
from facturador.core.actors import Actor
from facturador.core.models import Branch, Certificate, Issuer, Job, Membership, NumberingRange, Role
from facturador.core.rest import IssuerScopedMixin, JobSerializer, refusal_responses


class IssuerSerializer(serializers.ModelSerializer):
    responsibilities = serializers.ListField(child=serializers.CharField(max_length=10), required=False,
                                             help_text="DIAN fiscal responsibilities, e.g. [\"O-13\", \"O-15\"]")

    class Meta:
        model = Issuer
        fields = [
            "id", "country", "tax_id", "check_digit", "person_type", "legal_name", "trade_name", "fiscal_regime",
            "responsibilities", "address", "municipality_code", "city", "department", "postal_code", "ciiu",
            "phone", "email", "time_zone",
        ]
        read_only_fields = ["id", "time_zone"]

    def get_validators(self):
        return []  # uniqueness of (country, tax_id) is checked by core.actions.create_issuer on the clean tax id


@extend_schema_view(
    create=extend_schema(responses={201: IssuerSerializer, **refusal_responses(400, 403)}),
    update=extend_schema(responses={200: IssuerSerializer, **refusal_responses(400, 403, 404)}),
    partial_update=extend_schema(responses={200: IssuerSerializer, **refusal_responses(400, 403, 404)}),
)
class IssuerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                    mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Issuers the user belongs to. Creating one makes the user its administrator."""

    serializer_class = IssuerSerializer
    queryset = Issuer.objects.none()  # for the schema; the real queryset depends on the user

    def get_queryset(self):
        return Issuer.objects.filter(memberships__user=self.request.user).distinct()

    def perform_create(self, serializer):
        serializer.instance = actions.create_issuer(Actor.from_request(self.request), data=serializer.validated_data)

    def perform_update(self, serializer):
        if not Membership.objects.filter(user=self.request.user, issuer=serializer.instance, role=Role.ADMIN).exists():
            self.permission_denied(self.request, message="Solo un administrador puede modificar el emisor.")
        serializer.instance = actions.update_issuer(serializer.instance, Actor.from_request(self.request),
                                                    data=serializer.validated_data)


class BranchSerializer(serializers.ModelSerializer):
    class Meta:
        model = Branch
        fields = ["id", "code", "name", "address", "municipality_code", "postal_code", "series", "active"]



class BranchViewSet(IssuerScopedMixin, viewsets.ModelViewSet):
    queryset = Branch.objects.all()
    serializer_class = BranchSerializer
    write_roles = (Role.ADMIN,)

    def perform_create(self, serializer):
        serializer.instance = actions.save_branch(self.issuer, Actor.from_request(self.request),
                                                  data=serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = actions.save_branch(self.issuer, Actor.from_request(self.request),
                                                  data=serializer.validated_data, branch=serializer.instance)

    def perform_destroy(self, instance):
        actions.delete_branch(self.issuer, Actor.from_request(self.request), branch=instance)


class NumberingRangeSerializer(serializers.ModelSerializer):
    technical_key = serializers.CharField(write_only=True, required=False, allow_blank=True,
                                          help_text="Se guarda cifrada; nunca se devuelve.")
    has_technical_key = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField()

    class Meta:
        model = NumberingRange
        fields = [
            "id", "document_type", "environment", "prefix", "range_from", "range_to", "next_number", "valid_from",
            "valid_to", "resolution_number", "technical_key", "has_technical_key", "active", "warnings",
        ]
        read_only_fields = ["id", "next_number"]

    def get_has_technical_key(self, obj) -> bool:
        return bool(obj.technical_key)

    def get_warnings(self, obj) -> list[str]:
        return numbering.warnings(obj)



class NumberingRangeViewSet(IssuerScopedMixin, viewsets.ModelViewSet):
    queryset = NumberingRange.objects.all()
    serializer_class = NumberingRangeSerializer
    write_roles = (Role.ADMIN,)

    def _save(self, serializer):
        data = dict(serializer.validated_data)
        key = data.pop("technical_key", "")
        serializer.instance = actions.save_numbering_range(self.issuer, Actor.from_request(self.request), data=data,
                                                           rng=serializer.instance, technical_key=key)

    perform_create = perform_update = _save

    def perform_destroy(self, instance):
        actions.delete_numbering_range(self.issuer, Actor.from_request(self.request), rng=instance)


class CertificateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Certificate
        fields = ["id", "kind", "subject", "serial_number", "certificate_number", "not_before", "not_after", "active",
                  "uploaded_at"]
        read_only_fields = fields


class CertificateUploadSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Certificate.Kind.choices)
    password = serializers.CharField(write_only=True, trim_whitespace=False)
    p12 = serializers.FileField(required=False, write_only=True)
    cer = serializers.FileField(required=False, write_only=True)
    key = serializers.FileField(required=False, write_only=True)


class CertificateViewSet(IssuerScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Certificate metadata; upload with POST (multipart). Key material and passwords are never returned."""

    queryset = Certificate.objects.all()
    serializer_class = CertificateSerializer
    parser_classes = [MultiPartParser, FormParser]
    write_roles = (Role.ADMIN,)

    @extend_schema(request=CertificateUploadSerializer, responses={201: CertificateSerializer})
    def create(self, request, issuer_pk=None):
        upload = CertificateUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        data = upload.validated_data
        cert = actions.upload_certificate(
            self.issuer, Actor.from_request(request), kind=data["kind"], password=data["password"],
            p12=data["p12"].read() if data.get("p12") else None,
            cer=data["cer"].read() if data.get("cer") else None,
            key=data["key"].read() if data.get("key") else None,
        )
        return Response(CertificateSerializer(cert).data, status=status.HTTP_201_CREATED)


class JobViewSet(IssuerScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Job.objects.all()
    serializer_class = JobSerializer

    def get_queryset(self):
        return jobs.filter_jobs(self.issuer, self.request.query_params.get("state"), self.request.query_params.get("kind"))

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def cancel(self, request, issuer_pk=None, pk=None):
        job = actions.cancel_job(self.issuer, Actor.from_request(request), job=self.get_object())
        return Response(JobSerializer(job).data)

    def destroy(self, request, issuer_pk=None, pk=None):
        actions.delete_job(self.issuer, Actor.from_request(request), job=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
