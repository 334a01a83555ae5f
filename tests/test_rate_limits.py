"""The governor against the simulator's real limits: 429 waits, 418 stops every call."""
import asyncio
import time

import httpx
import pytest
from asgiref.sync import async_to_sync

from marketdata.errors import HostBannedError
from marketdata.models import DataSource
from marketdata.session import MarketDataSession
from marketdata.simulator.server import SimulatorServer
from tests.conftest import point_spot_at

pytestmark = pytest.mark.django_db
WINDOW = 3  # seconds: a compressed "minute" so the test runs quickly, long enough for a loaded machine
LIMIT = 40  # weight per window: 20 klines requests


@pytest.fixture
def tight_sim(settings):
    with SimulatorServer(seed=7, coins=60, weight_limit=LIMIT, window_seconds=WINDOW, ban_after=10) as server:
        point_spot_at(settings, server.base_url, window=WINDOW)
        yield server


def state(server):
    return httpx.get(f"{server.base_url}/sim/state").json()


def burn_window(server, symbol="BTCUSDT"):
    """Another client on our IP spends the whole window's weight, up to but not past the limit."""
    while True:
        r = httpx.get(f"{server.base_url}/api/v3/klines", params={"symbol": symbol, "interval": "1h", "limit": 1})
        assert r.status_code == 200
        if int(r.headers["x-mbx-used-weight-1m"]) + 2 > LIMIT:
            return


def fetch_many(n):
    async def go():
        async with MarketDataSession() as md:
            await md.spot.exchange_info()  # learns the published weight limit
            pages = await asyncio.gather(*(md.spot.klines("BTCUSDT", "1h", limit=3) for _ in range(n)))
            return pages, md.request_stats()["binance_spot"]
    return async_to_sync(go)()


def test_a_burst_past_the_budget_waits_for_the_window_and_is_never_banned(tight_sim):
    started = time.monotonic()
    pages, stats = fetch_many(60)  # 120 weight: three windows' worth
    assert len(pages) == 60 and all(len(p) == 3 for p in pages)
    assert time.monotonic() - started >= WINDOW  # it had to wait for later windows
    s = state(tight_sim)
    assert s["status_counts"].get("418", 0) == 0 and not s["bans"]


def test_a_429_is_waited_out_for_retry_after_and_nothing_is_lost(tight_sim):
    # Let the window start fresh, so the burn and our burst share the same window.
    time.sleep(WINDOW - time.time() % WINDOW + 0.05)
    burn_window(tight_sim)
    started = time.monotonic()
    pages, stats = fetch_many(30)
    assert len(pages) == 30 and all(len(p) == 3 for p in pages)
    s = state(tight_sim)
    assert s["status_counts"].get("429", 0) >= 1, "the exhausted window must have answered 429"
    assert s["status_counts"].get("418", 0) == 0 and not s["bans"]
    assert stats["retries"] >= 1 and stats["errors"] == 0
    # The probe took one 429, the rest of the burst waited instead of piling on.
    assert s["status_counts"]["429"] <= 2
    assert time.monotonic() - started >= 0.5


def test_a_418_stops_every_call_to_that_host_until_it_expires(tight_sim, settings):
    # Someone on our IP ignores the 429s and gets it banned (from the top of a window, so the
    # burst does not straddle two windows).
    time.sleep(WINDOW - time.time() % WINDOW + 0.05)
    codes = [httpx.get(f"{tight_sim.base_url}/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1h"}).status_code
             for _ in range(LIMIT // 2 + 15)]
    assert codes[-1] == 418
    sent_before = state(tight_sim)["requests"]

    async def two_calls():
        async with MarketDataSession() as md:
            errors = []
            for _ in range(2):
                try:
                    await md.spot.klines("BTCUSDT", "1h", limit=1)
                except HostBannedError as exc:
                    errors.append(exc)
            return errors
    errors = async_to_sync(two_calls)()
    assert len(errors) == 2 and errors[0].banned_until > time.time()
    assert state(tight_sim)["requests"] == sent_before + 1, "only the call that learned of the ban was sent"
    source = DataSource.objects.get(name="binance_spot")
    assert source.banned_until is not None and "banned" in source.last_error

    # A new process (no governor memory) reads the ban from the database and sends nothing.
    from marketdata.governor import reset_governors
    reset_governors()
    assert len(async_to_sync(two_calls)()) == 2
    assert state(tight_sim)["requests"] == sent_before + 1

    # After the ban expires, calls go through again.
    time.sleep(max(0.0, source.banned_until.timestamp() - time.time()) + WINDOW + 0.1)
    assert async_to_sync(two_calls)() == []


def test_two_concurrent_scans_stay_inside_one_shared_budget(settings):
    """Two scans in one process draw on the same governor, so together they never exceed the limit."""
    with SimulatorServer(seed=7, coins=60, weight_limit=LIMIT, window_seconds=WINDOW, ban_after=10) as server:
        point_spot_at(settings, server.base_url, window=WINDOW)
        symbols = [s["symbol"] for s in httpx.get(f"{server.base_url}/api/v3/exchangeInfo").json()["symbols"]
                   if s["quoteAsset"] == "USDT" and s["status"] == "TRADING"][:15]
        time.sleep(WINDOW - time.time() % WINDOW + 0.05)  # that exchangeInfo call is in another window now

        async def one_scan():
            async with MarketDataSession() as md:
                await md.spot.exchange_info()
                return await asyncio.gather(*(md.spot.klines(s, "1h", limit=2) for s in symbols))

        async def two_scans():
            return await asyncio.gather(one_scan(), one_scan())
        started = time.monotonic()
        first, second = async_to_sync(two_scans)()
        s = state(server)
    assert len(first) == len(second) == 15 and all(first) and all(second)
    # 2 × (20 + 15 × 2) = 100 weight against 40 per window: at least two window changes, and no 429.
    assert time.monotonic() - started >= WINDOW
    assert s["status_counts"].get("429", 0) == 0 and s["status_counts"].get("418", 0) == 0
