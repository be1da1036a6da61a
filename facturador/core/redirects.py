"""Where to send the user after an action: a `next` URL only when it points to this site."""

from __future__ import annotations

from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request, url: str | None, default: str) -> str:
    """`url` when it is a page of this site (a path, or an absolute URL to this host; https only when the request
    is secure), else `default`. Refuses `//other.host/...`, other schemes (javascript:, data:) and other hosts."""
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
        return url
    return default
