"""Append-only audit log helpers."""

from facturador.core.models import AuditEntry


def client_ip(request):
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record(action, *, issuer=None, user=None, obj=None, summary="", request=None, channel=None):
    """Write one audit entry. Never put secrets in `summary`."""
    if request is not None:
        user = user or (request.user if request.user.is_authenticated else None)
        channel = channel or ("api" if request.path.startswith("/api/") else "web")
    return AuditEntry.objects.create(
        issuer=issuer,
        user=user,
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        summary=summary[:500],
        ip=client_ip(request),
        channel=channel or "cli",
    )
