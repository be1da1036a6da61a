"""Who performs an action: a person through the web UI, the API or the CLI, or the platform's workers.

Every action (``<app>.actions``) takes an :class:`Actor` as its second argument; the audit log records it
the same way whatever the channel. Channels build it once: ``Actor.from_request(request)`` in views and API
views, ``Actor.cli(...)`` in management commands (the OS user, or ``--as USER``), ``Actor.worker()`` in jobs.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import Any

WEB, API, CLI, WORKER = "web", "api", "cli", "worker"


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or the first address of the header a trusted reverse proxy sets
    (settings.FACTURADOR_TRUSTED_PROXY_HEADER, e.g. HTTP_X_FORWARDED_FOR) when the deployment names one.
    Used by the audit log and by every throttle (staff login, portal), so a client cannot choose its address."""
    from django.conf import settings

    header = settings.FACTURADOR_TRUSTED_PROXY_HEADER
    if header and request.META.get(header):
        return request.META[header].split(",")[0].strip() or None
    return request.META.get("REMOTE_ADDR") or None


@dataclass(frozen=True)
class Actor:
    user: Any = None  # a django.contrib.auth user, or None (OS user on the CLI, a worker)
    channel: str = WORKER
    ip: str | None = None
    name: str = ""  # who, as written in the audit log

    @classmethod
    def from_request(cls, request) -> "Actor":
        user = request.user if getattr(request, "user", None) is not None and request.user.is_authenticated else None
        channel = API if request.path.startswith("/api/") else WEB
        return cls(user=user, channel=channel, ip=client_ip(request),
                   name=user.get_username() if user is not None else "")

    @classmethod
    def cli(cls, user=None) -> "Actor":
        """The CLI's actor: a platform user given with ``--as``, else the operating-system user."""
        if user is not None:
            return cls(user=user, channel=CLI, name=user.get_username())
        try:
            os_user = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (some containers)
            os_user = "unknown"
        return cls(user=None, channel=CLI, name=f"os:{os_user}")

    @classmethod
    def worker(cls) -> "Actor":
        return cls(user=None, channel=WORKER, name="worker")

    def __str__(self):
        return f"{self.name or '-'} ({self.channel})"
