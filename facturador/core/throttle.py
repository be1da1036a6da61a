"""Fixed-window attempt counters in the cache, for throttles of every channel (portal, staff password reset...).

The cache is Redis when REDIS_URL is set, so every process shares the counts; a per-process memory cache
otherwise (one web process on one machine). `cache.add` and `cache.incr` are atomic, so parallel requests
cannot all pass.
"""

from django.core.cache import cache
from django.utils import timezone

from facturador.core.errors import Throttled

TOO_MANY = "Demasiados intentos, espere unos minutos y vuelva a intentarlo."


def count(name: str, key: str, *, seconds: int) -> int:
    """One more attempt of kind `name` by `key` (a client address, an account) in the current window; the count."""
    window = int(timezone.now().timestamp()) // seconds
    bucket = f"throttle:{name}:{key}:{window}"
    if cache.add(bucket, 1, seconds + 5):
        return 1
    try:
        return cache.incr(bucket)
    except ValueError:  # expired between add and incr
        cache.add(bucket, 1, seconds + 5)
        return 1


def throttle(name: str, key: str, *, limit: int, seconds: int, code: str, message: str = TOO_MANY) -> None:
    """Count one attempt and refuse (`Throttled`, HTTP 429) past `limit` attempts in `seconds`."""
    if count(name, key, seconds=seconds) > limit:
        raise Throttled(code, message, details={"retry_after": seconds})
