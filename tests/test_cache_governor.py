"""SmartCache levels and staleness, and the governor's buckets and quotas, on a fake clock."""
import asyncio

import pytest

from marketdata.cache import SmartCache
from marketdata.errors import HostBannedError
from marketdata.governor import Governor, Limits


class Clock:
    def __init__(self, t=1_000_000.0):
        self.t = t

    def __call__(self):
        return self.t


def run(coro_fn):
    return asyncio.run(coro_fn())


def acquire_on_clock(gov, clock, counts, weight=1, bucket=None) -> list[list[float]]:
    """Acquire `counts[i]` times for each phase i, asyncio.sleep advancing the fake clock; returns
    the sleeps of each phase."""
    phases: list[list[float]] = []

    async def fake_sleep(seconds):
        phases[-1].append(seconds)
        clock.t += seconds

    async def go():
        original = asyncio.sleep
        asyncio.sleep = fake_sleep
        try:
            for n in counts:
                phases.append([])
                for _ in range(n):
                    await gov.acquire(weight, bucket)
        finally:
            asyncio.sleep = original
    run(go)
    return phases


def counter():
    calls = {"n": 0}

    async def fetch():
        calls["n"] += 1
        return f"v{calls['n']}"
    return calls, fetch


def test_a_fresh_value_is_served_from_l1_without_fetching():
    clock, (calls, fetch) = Clock(), counter()
    cache = SmartCache(clock=clock)

    async def go():
        first = await cache.get("k", fetch, ttl=60, max_stale=300)
        clock.t += 30
        second = await cache.get("k", fetch, ttl=60, max_stale=300)
        return first, second
    first, second = run(go)
    assert (first.value, first.level, first.fresh) == ("v1", "origin", True)
    assert (second.value, second.level, second.fresh) == ("v1", "L1", True)
    assert calls["n"] == 1


def test_a_stale_value_is_served_marked_stale_while_one_refresh_runs():
    clock, (calls, fetch) = Clock(), counter()
    cache = SmartCache(clock=clock)

    async def go():
        await cache.get("k", fetch, ttl=60, max_stale=300)
        clock.t += 120
        stale = [await cache.get("k", fetch, ttl=60, max_stale=300) for _ in range(3)]
        await cache.drain()
        after = await cache.get("k", fetch, ttl=60, max_stale=300)
        return stale, after
    stale, after = run(go)
    assert all(s.value == "v1" and not s.fresh for s in stale)
    assert calls["n"] == 2  # one background refresh, not three
    assert after.value == "v2" and after.fresh


def test_a_value_past_its_staleness_limit_is_never_served():
    clock, (calls, fetch) = Clock(), counter()
    cache = SmartCache(clock=clock)

    async def go():
        await cache.get("k", fetch, ttl=60, max_stale=300)
        clock.t += 301
        return await cache.get("k", fetch, ttl=60, max_stale=300)
    got = run(go)
    assert got.value == "v2" and got.fresh and got.level == "origin"


@pytest.mark.django_db
def test_l2_shares_a_value_between_processes():
    clock, (calls, fetch) = Clock(), counter()
    one, other = SmartCache(clock=clock), SmartCache(clock=clock)  # two processes' L1s, one Django cache

    async def go():
        await one.get("shared", fetch, ttl=60, max_stale=300, level="L2")
        return await other.get("shared", fetch, ttl=60, max_stale=300, level="L2")
    got = run(go)
    assert got.value == "v1" and got.level == "L2" and calls["n"] == 1


def test_a_request_bucket_holds_requests_until_its_window_refills():
    clock = Clock(3000.0)  # a window boundary
    gov = Governor("fut", Limits(2400, 60, buckets=(("futures_data", 10, 300),), safety=1.0), clock=clock)
    [slept] = acquire_on_clock(gov, clock, [12], weight=0, bucket="futures_data")
    assert gov.buckets["futures_data"].used == 2  # ten in the first window, two in the next
    assert sum(slept) == pytest.approx(300, abs=0.1)


def test_a_quota_at_zero_pauses_until_its_reset():
    clock = Clock()
    gov = Governor("lc", Limits(10, 60), clock=clock)
    gov.observe_quota(0, clock.t + 42)
    assert gov.paused_until == clock.t + 42
    gov.observe_quota(3, clock.t + 99)  # calls left: no pause
    assert gov.paused_until == clock.t + 42


def test_a_ban_refuses_without_sending():
    clock = Clock()
    gov = Governor("spot", Limits(6000, 60), clock=clock)
    gov.ban(120)
    with pytest.raises(HostBannedError):
        run(lambda: gov.acquire(1))
    clock.t += 121
    run(lambda: gov.acquire(1))
    assert gov.used == 1


def redis_cache():
    """A Redis-backed Django cache on the local server, or a skip that says why."""
    import socket

    from django.core.cache.backends.redis import RedisCache
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        pytest.skip("needs Redis at 127.0.0.1:6379 (CI starts it): not reachable here")
    cache = RedisCache("redis://127.0.0.1:6379/15", {"KEY_PREFIX": "cryptosatx-test"})
    cache.clear()
    return cache


def test_l2_on_redis_shares_a_value_between_processes():
    shared = redis_cache()
    clock, (calls, fetch) = Clock(), counter()
    one, other = SmartCache(clock=clock, shared=shared), SmartCache(clock=clock, shared=shared)

    async def go():
        await one.get("tickers", fetch, ttl=60, max_stale=300, level="L2")
        return await other.get("tickers", fetch, ttl=60, max_stale=300, level="L2")
    got = run(go)
    assert got.value == "v1" and got.level == "L2" and calls["n"] == 1
    assert shared.get("smartcache:tickers")[0] == "v1"
    shared.clear()


def test_the_start_rate_ceiling_lets_bursts_go_then_paces_the_rest():
    """RATE_LIMIT_PER_SECOND batches of PARALLEL_MAX_CONCURRENT a second, as the plan paces them."""
    clock = Clock(3000.0)
    gov = Governor("cg", Limits(None, 60, starts_per_second=100, burst=50), clock=clock)
    burst, rest = acquire_on_clock(gov, clock, [50, 200])
    assert burst == []  # the first burst goes at once
    assert sum(rest) == pytest.approx(2.0, abs=0.01)  # 200 more starts at 100 a second


def test_the_session_paces_every_service_from_the_plan_keys(settings):
    from marketdata.session import _service_config

    settings.RATE_LIMIT_PER_SECOND, settings.PARALLEL_MAX_CONCURRENT = 2, 7
    for service, (_, limits, _) in _service_config().items():
        assert (limits.starts_per_second, limits.burst) == (14, 7), service
