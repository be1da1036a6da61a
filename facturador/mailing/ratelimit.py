"""Global send rate limit (messages per second and per hour) shared by every worker.

Fixed windows: a message is admitted in window `s<epoch second>` if fewer than `per_second` messages
were admitted in that second AND fewer than `per_hour` in the current hour. Two backends:

* Redis (when settings.REDIS_URL is set): one Lua script, atomic on the server, using the Redis
  server's clock (TIME) so workers with skewed clocks still share the same windows.
* Database (otherwise): two `RateWindow` rows updated under a row lock (SELECT ... FOR UPDATE on
  PostgreSQL; SQLite serialises writers with BEGIN IMMEDIATE).

`acquire()` blocks until admitted and returns the window id (`acquire_within()` gives up after a while: the
test email, sent while a person waits, goes through the same windows); 0 means "no limit" for either value
(settings MAILING_RATE_PER_SECOND and MAILING_RATE_PER_HOUR, read when a limiter is made).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import IntegrityError, transaction

from facturador.mailing.models import RateWindow

_LUA = """
local t = redis.call('TIME')
local sec = tonumber(t[1])
local hour = math.floor(sec / 3600)
local ps = tonumber(ARGV[1])
local ph = tonumber(ARGV[2])
local ks = ARGV[3] .. ':s:' .. sec
local kh = ARGV[3] .. ':h:' .. hour
local s = tonumber(redis.call('GET', ks) or '0')
local h = tonumber(redis.call('GET', kh) or '0')
local usec = tonumber(t[2])
if ps > 0 and s >= ps then return {1, 1000000 - usec, sec} end
if ph > 0 and h >= ph then return {2, (hour + 1) * 3600 - sec, sec} end
redis.call('INCR', ks)
redis.call('EXPIRE', ks, 5)
redis.call('INCR', kh)
redis.call('EXPIRE', kh, 3700)
return {0, 0, sec}
"""


class RateLimiter:
    backend = "none"

    def __init__(self, per_second: int, per_hour: int):
        self.per_second = per_second
        self.per_hour = per_hour

    def try_acquire(self) -> tuple[str | None, float]:
        """(window id, 0) when admitted, or (None, seconds to wait)."""
        return f"s{int(time.time())}", 0.0

    def acquire_within(self, seconds: float) -> tuple[str | None, float]:
        """Like `acquire`, but gives up when admission is more than `seconds` away (a person is waiting,
        e.g. the test email): (window id, 0) when admitted, else (None, seconds until the limit frees up)."""
        deadline = time.monotonic() + seconds
        while True:
            slot, wait = self.try_acquire()
            if slot is not None or time.monotonic() + wait > deadline:
                return slot, wait
            time.sleep(max(wait, 0.005))

    def acquire(self, check_cancel=None, max_sleep: float = 1.0) -> str:
        while True:
            slot, wait = self.try_acquire()
            if slot is not None:
                return slot
            if check_cancel:
                check_cancel()
            time.sleep(min(max(wait, 0.005), max_sleep))


class RedisRateLimiter(RateLimiter):
    backend = "redis"

    def __init__(self, per_second, per_hour, url, namespace="facturador:mailing:rate"):
        super().__init__(per_second, per_hour)
        import redis

        self.client = redis.Redis.from_url(url)
        self.script = self.client.register_script(_LUA)
        self.namespace = namespace

    def try_acquire(self):
        status, wait, sec = self.script(args=[self.per_second, self.per_hour, self.namespace])
        if status == 0:
            return f"s{sec}", 0.0
        return None, (wait / 1_000_000 if status == 1 else float(wait))


class DatabaseRateLimiter(RateLimiter):
    backend = "database"

    def __init__(self, per_second, per_hour):
        super().__init__(per_second, per_hour)
        for name in ("second", "hour"):
            try:
                with transaction.atomic():
                    RateWindow.objects.get_or_create(name=name)
            except IntegrityError:  # another worker created it at the same moment
                pass

    def try_acquire(self):
        now = time.time()
        sec, hour = int(now), int(now // 3600)
        with transaction.atomic():
            rows = {r.name: r for r in RateWindow.objects.select_for_update().filter(name__in=("second", "hour"))}
            s, h = rows["second"], rows["hour"]
            sec, hour = max(sec, s.window), max(hour, h.window)  # never step back on a skewed clock
            if s.window != sec:
                s.window, s.count = sec, 0
            if h.window != hour:
                h.window, h.count = hour, 0
            if self.per_second and s.count >= self.per_second:
                return None, max(sec + 1 - now, 0.005)
            if self.per_hour and h.count >= self.per_hour:
                return None, max((hour + 1) * 3600 - now, 0.005)
            RateWindow.objects.filter(pk=s.pk).update(window=sec, count=s.count + 1)
            RateWindow.objects.filter(pk=h.pk).update(window=hour, count=h.count + 1)
        return f"s{sec}", 0.0


def get_limiter() -> RateLimiter:
    per_second = settings.MAILING_RATE_PER_SECOND
    per_hour = settings.MAILING_RATE_PER_HOUR
    if not per_second and not per_hour:
        return RateLimiter(0, 0)
    url = settings.REDIS_URL
    if url:
        return RedisRateLimiter(per_second, per_hour, url)
    return DatabaseRateLimiter(per_second, per_hour)
