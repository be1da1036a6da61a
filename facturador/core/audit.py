"""Append-only audit log: actions write one entry each, with the actor that performed them."""

from facturador.core.actors import Actor
from facturador.core.models import AuditEntry


def record(action, *, actor: Actor = None, issuer=None, obj=None, summary="", request=None, user=None, channel=None):
    """Write one audit entry. Never put secrets in `summary`."""
    # TRANSITIONAL(request/user/channel): removed once every caller passes an Actor.
    if actor is None:
        if request is not None:
            actor = Actor.from_request(request)
        elif channel == "cli" or channel is None and user is None:
            actor = Actor.cli(user) if channel == "cli" else Actor(user=user, channel=channel or "cli",
                                                                   name=user.get_username() if user else "")
        else:
            actor = Actor(user=user, channel=channel or "worker", name=user.get_username() if user else channel or "")
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
