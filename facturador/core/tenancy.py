"""Tenant (issuer) resolution and access rules shared by UI views and the API.

Every query for tenant data goes through `request.issuer`; objects of another issuer are
simply not found (404), never "forbidden", so their existence is not disclosed.
"""

from functools import wraps
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils import timezone

from facturador.core.models import Issuer, Membership, Role

SESSION_KEY = "issuer_id"


def memberships_of(user):
    if not user.is_authenticated:
        return Membership.objects.none()
    return Membership.objects.filter(user=user).select_related("issuer").order_by("issuer__legal_name")


def resolve(request):
    """Return (issuer, membership) for the request's user, honouring the session's choice."""
    members = list(memberships_of(request.user))
    if not members:
        return None, None
    wanted = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    for m in members:
        if m.issuer_id == wanted:
            return m.issuer, m
    return members[0].issuer, members[0]


def issuer_required(view=None, *, roles=None):
    """Login + a current issuer (+ one of `roles`, if given) for a UI view."""

    def decorate(fn):
        @login_required
        @wraps(fn)
        def wrapper(request, *args, **kwargs):
            if request.issuer is None:
                return render(request, "core/no_issuer.html", status=403)
            if roles and request.membership.role not in roles:
                raise PermissionDenied("Su rol no permite esta acción.")
            return fn(request, *args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate


WRITE_ROLES = (Role.ADMIN, Role.BILLING)
ADMIN_ROLES = (Role.ADMIN,)


def activate_issuer_timezone(issuer):
    if issuer is not None:
        timezone.activate(ZoneInfo(issuer.tz))
    else:
        timezone.deactivate()


def issuer_for_user(user, issuer_id) -> Issuer | None:
    return Issuer.objects.filter(pk=issuer_id, memberships__user=user).first()
