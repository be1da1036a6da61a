"""REST API base: token auth, issuer-scoped viewsets, and the core resources.

URLs are nested under the issuer: /api/v1/issuers/{issuer_pk}/<resource>/. A user who is not a
member of that issuer gets 404, exactly as if it did not exist.
"""

from django.db import transaction
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from facturador.core import audit, certificates, jobs, numbering
from facturador.core.errors import Refusal
from facturador.core.forms import clean_tax_id, range_errors, validate_prefix
from facturador.core.models import Branch, Certificate, Issuer, Job, Membership, NumberingRange, Role
from facturador.taxid import TaxIdError


def exception_handler(exc, context):
    """The API channel's translation of refusals (settings.REST_FRAMEWORK["EXCEPTION_HANDLER"]).

    A `core.errors.Refusal` answers `{"code", "detail", "field", "details"}` with its status (400, 403, 404,
    409); everything else is DRF's usual answer.
    """
    if isinstance(exc, Refusal):
        return Response(exc.as_dict(), status=exc.status)
    return drf_exception_handler(exc, context)


class IssuerScopedMixin:
    """Resolves `self.issuer` from the URL and the user's membership; 404 when not a member."""

    write_roles = (Role.ADMIN, Role.BILLING)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        membership = (
            Membership.objects.select_related("issuer")
            .filter(user=request.user, issuer_id=kwargs.get("issuer_pk"))
            .first()
        )
        if membership is None:
            raise Http404
        self.issuer = membership.issuer
        self.membership = membership
        if request.method not in permissions.SAFE_METHODS and membership.role not in self.write_roles:
            self.permission_denied(request, message="Su rol no permite modificar datos de este emisor.")

    def get_queryset(self):
        return self.queryset.filter(issuer=self.issuer)

    def perform_create(self, serializer):
        obj = serializer.save(issuer=self.issuer)
        audit.record(f"{obj._meta.model_name}.create", issuer=self.issuer, obj=obj, request=self.request, summary=str(obj))


class IssuerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Issuer
        fields = [
            "id", "country", "tax_id", "check_digit", "person_type", "legal_name", "trade_name", "fiscal_regime",
            "responsibilities", "address", "municipality_code", "city", "department", "postal_code", "phone",
            "email", "time_zone",
        ]
        read_only_fields = ["id", "time_zone"]

    def validate(self, data):
        country = data.get("country") or getattr(self.instance, "country", None)
        if self.instance is not None and "country" in data and data["country"] != self.instance.country:
            raise serializers.ValidationError({"country": "El país de un emisor no se puede cambiar."})
        if "tax_id" in data:
            try:
                data["tax_id"], data["check_digit"] = clean_tax_id(country, data["tax_id"], data.get("check_digit", ""))
            except TaxIdError as exc:
                raise serializers.ValidationError({"tax_id": exc.message}) from exc
        return data


class IssuerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                    mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Issuers the user belongs to. Creating one makes the user its administrator."""

    serializer_class = IssuerSerializer
    queryset = Issuer.objects.none()  # for the schema; the real queryset depends on the user

    def get_queryset(self):
        return Issuer.objects.filter(memberships__user=self.request.user).distinct()

    def perform_create(self, serializer):
        with transaction.atomic():
            issuer = serializer.save()
            Membership.objects.create(user=self.request.user, issuer=issuer, role=Role.ADMIN)
            audit.record("issuer.create", issuer=issuer, obj=issuer, request=self.request, summary=issuer.legal_name)

    def perform_update(self, serializer):
        if not Membership.objects.filter(user=self.request.user, issuer=serializer.instance, role=Role.ADMIN).exists():
            self.permission_denied(self.request, message="Solo un administrador puede modificar el emisor.")
        issuer = serializer.save()
        audit.record("issuer.update", issuer=issuer, obj=issuer, request=self.request)


class BranchSerializer(serializers.ModelSerializer):
    class Meta:
        model = Branch
        fields = ["id", "code", "name", "address", "municipality_code", "postal_code", "series", "active"]

    def validate_code(self, code):
        issuer = self.context["view"].issuer
        qs = Branch.objects.filter(issuer=issuer, code=code)
        if self.instance:
            qs = qs.exclude(pk=self.instance.pk)
        if qs.exists():
            raise serializers.ValidationError(f"Ya existe una sucursal con el código {code}.")
        return code


class BranchViewSet(IssuerScopedMixin, viewsets.ModelViewSet):
    queryset = Branch.objects.all()
    serializer_class = BranchSerializer
    write_roles = (Role.ADMIN,)


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

    def validate_prefix(self, prefix):
        try:
            return validate_prefix(prefix.strip().upper())
        except Exception as exc:
            raise serializers.ValidationError(exc.messages[0]) from exc

    def validate(self, data):
        merged = {f: getattr(self.instance, f) for f in self.Meta.fields if self.instance and hasattr(self.instance, f)}
        merged.update(data)
        errors = {}
        for field, message in range_errors(self.context["view"].issuer, merged, getattr(self.instance, "pk", None)):
            errors.setdefault(field, []).append(str(message))
        if errors:
            raise serializers.ValidationError(errors)
        return data

    def create(self, validated):
        validated["next_number"] = validated["range_from"]
        return super().create(validated)


class NumberingRangeViewSet(IssuerScopedMixin, viewsets.ModelViewSet):
    queryset = NumberingRange.objects.all()
    serializer_class = NumberingRangeSerializer
    write_roles = (Role.ADMIN,)

    def perform_destroy(self, instance):
        if instance.next_number != instance.range_from:
            self.permission_denied(self.request, message="La numeración ya tiene números usados; desactívela en lugar de borrarla.")
        instance.delete()


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
        try:
            cert = certificates.store(
                self.issuer, kind=data["kind"], password=data["password"],
                p12=data["p12"].read() if data.get("p12") else None,
                cer=data["cer"].read() if data.get("cer") else None,
                key=data["key"].read() if data.get("key") else None,
                user=request.user, request=request,
            )
        except certificates.CertificateError as exc:
            return Response({"detail": exc.message, "code": exc.code}, status=status.HTTP_400_BAD_REQUEST)
        except TypeError:
            return Response({"detail": "Adjunte los archivos del certificado."}, status=status.HTTP_400_BAD_REQUEST)
        return Response(CertificateSerializer(cert).data, status=status.HTTP_201_CREATED)


class JobSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)

    class Meta:
        model = Job
        fields = ["id", "kind", "title", "status", "status_display", "done", "total", "errors", "percent", "message",
                  "error", "result", "cancel_requested", "attempts", "created_at", "started_at", "finished_at"]
        read_only_fields = fields


class JobViewSet(IssuerScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Job.objects.all()
    serializer_class = JobSerializer

    def get_queryset(self):
        return jobs.filter_jobs(self.issuer, self.request.query_params.get("state"), self.request.query_params.get("kind"))

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def cancel(self, request, issuer_pk=None, pk=None):
        job = self.get_object()
        if not jobs.request_cancel(job):
            return Response({"detail": "La tarea ya terminó; no se puede cancelar."}, status=status.HTTP_409_CONFLICT)
        audit.record("job.cancel", issuer=self.issuer, obj=job, request=request)
        return Response(JobSerializer(job).data)

    def destroy(self, request, issuer_pk=None, pk=None):
        job = self.get_object()
        if not jobs.delete_pending(job):
            return Response({"detail": "Solo se pueden eliminar tareas pendientes."}, status=status.HTTP_409_CONFLICT)
        audit.record("job.delete", issuer=self.issuer, obj=job, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)
