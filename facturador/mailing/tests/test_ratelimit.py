"""The global rate limiter's admission rule, per second and per hour, for both backends."""

import uuid

import pytest

from facturador.mailing.ratelimit import (
    DatabaseRateLimiter,
    RedisRateLimiter,
    get_limiter,
)

REDIS_URL = "redis://127.0.0.1:6379/15"


def redis_limiter(per_second, per_hour):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    return RedisRateLimiter(per_second, per_hour, REDIS_URL, namespace=f"test:mailing:{uuid.uuid4().hex}")


@pytest.mark.django_db
@pytest.mark.parametrize("make", [DatabaseRateLimiter, redis_limiter], ids=["database", "redis"])
def test_hourly_quota_is_enforced(make):
    limiter = make(0, 3)
    admitted = [limiter.try_acquire() for _ in range(5)]
    assert [slot is not None for slot, _ in admitted] == [True, True, True, False, False]
    wait = admitted[3][1]
    assert 0 < wait <= 3600  # until the next hour window


@pytest.mark.django_db
@pytest.mark.parametrize("make", [DatabaseRateLimiter, redis_limiter], ids=["database", "redis"])
def test_per_second_quota_and_window_ids(make):
    limiter = make(2, 0)
    results = [limiter.try_acquire() for _ in range(3)]
    slots = [s for s, _ in results if s]
    if len(slots) == 3:  # the clock crossed into the next second between calls
        assert len(set(slots)) == 2
    else:
        assert results[2][0] is None and 0 < results[2][1] <= 1
    assert all(s.startswith("s") for s in slots)


def test_backend_choice(settings):
    settings.MAILING_RATE_PER_SECOND = 0
    settings.MAILING_RATE_PER_HOUR = 0
    assert get_limiter().backend == "none"
    settings.MAILING_RATE_PER_SECOND = 5
    settings.REDIS_URL = REDIS_URL
    assert get_limiter().backend == "redis"
