"""Append-only audit log: actions write one entry each, with the actor that performed them."""

from facturador.core.actors import Actor
from facturador.core.models import AuditEntry


def record(action, *, actor: Actor, issuer=None, obj=None, summary=""):
    """Write one audit entry. Never put secrets in `summary`."""
    return AuditEntry.objects.create(
        issuer=issuer,
        user=actor.user,
        actor=actor.name[:150],
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        summary=summary[:500],
        ip=actor.ip,
        channel=actor.channel,
    )
