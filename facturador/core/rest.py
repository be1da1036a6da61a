"""The REST API channel's base: the refusal translator and the issuer-scoped viewset mixin.

API modules (`<app>/api.py`) build on these; URL configuration mounts them under
/api/v1/issuers/{issuer_pk}/<resource>/. A user who is not a member of that issuer gets 404, exactly as if it
did not exist.
"""

import re
from decimal import ROUND_HALF_UP

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse
from rest_framework import permissions, serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from facturador.core import audit
from facturador.core.actors import Actor
from facturador.core.errors import Refusal
from facturador.core.models import Job, Membership, Role
from facturador.printing.money import quantize


def exception_handler(exc, context):
    """The API channel's translation of refusals (settings.REST_FRAMEWORK["EXCEPTION_HANDLER"]).

    A `core.errors.Refusal` answers `{"code", "detail", "field", "details"}` with its status (400, 403, 404,
    409); everything else is DRF's usual answer.
    """
    if isinstance(exc, Refusal):
        return Response(exc.as_dict(), status=exc.status)
    return drf_exception_handler(exc, context)


class RefusalSerializer(serializers.Serializer):
    """The body of an API error: a refusal's `{"code", "detail", "field", "details"}`. DRF's own answers carry
    only `detail` (authentication, permission, a missing object), and a request that does not validate answers
    `{"<field>": ["message", ...]}` instead."""

    code = serializers.CharField(required=False, help_text="Stable, machine-readable, e.g. billing.batch.no_accounts")
    detail = serializers.CharField(required=False, help_text="The message for people (Spanish)")
    field = serializers.CharField(required=False, allow_null=True, help_text="The input field at fault, if one")
    details = serializers.DictField(required=False, help_text="Facts of the refusal (row, column, limits...)")


def refusal_responses(*statuses: int) -> dict:
    """`extend_schema(responses={200: ..., **refusal_responses(400, 409)})`: the error shape for those statuses."""
    text = {400: "Invalid input", 403: "Not allowed", 404: "Not found", 409: "Conflicts with the current state"}
    return {code: OpenApiResponse(RefusalSerializer, description=text.get(code, "Refused")) for code in statuses}


class Money(serializers.DecimalField):
    """An amount in the API: a plain decimal string with two decimals, rounded half-up — ``"34540.96"``, never
    ``"0E-10"`` or ``"34540.9600000000"`` (people read formatted amounts on pages; programs read these)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", None)
        kwargs.setdefault("decimal_places", 2)
        kwargs["coerce_to_string"] = True
        kwargs.setdefault("rounding", ROUND_HALF_UP)
        super().__init__(**kwargs)


def money_string(value) -> str | None:
    """The API's string for an amount built by hand (a dict, not a serializer): ``"34540.96"``; None stays None."""
    q = quantize(value)
    return None if q is None else f"{q:f}"


class IssuerScopedMixin:
    """Resolves `self.issuer` from the URL and the user's membership; 404 when not a member."""

    write_roles = (Role.ADMIN, Role.BILLING)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        lookup = kwargs.get(getattr(self, "lookup_url_kwarg", None) or getattr(self, "lookup_field", "pk"))
        if lookup is not None and not re.fullmatch(r"[0-9]{1,18}", str(lookup)):
            raise Http404  # ids are integers: anything else names nothing (not a server error in a lookup)
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
        audit.record(f"{obj._meta.model_name}.create", actor=Actor.from_request(self.request), issuer=self.issuer,
                     obj=obj, summary=str(obj))


class JobSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)

    class Meta:
        model = Job
        fields = ["id", "kind", "title", "status", "status_display", "done", "total", "errors", "percent", "message",
                  "error", "result", "cancel_requested", "attempts", "created_at", "started_at", "finished_at"]
        read_only_fields = fields


class Pagination(LimitOffsetPagination):
    """`?limit=&offset=` with a ceiling: at most 1,000 rows a page, and numbers a database can hold (a huge
    offset on PostgreSQL would otherwise be a server error)."""

    max_limit = 1000
    MAX_OFFSET = 2**62

    def get_offset(self, request):
        return min(super().get_offset(request), self.MAX_OFFSET)
