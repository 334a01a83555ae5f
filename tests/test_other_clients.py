"""Binance futures, CoinGecko and LunarCrush clients against the simulator over loopback HTTP,
each inside its own limits."""
import time

import httpx
import pytest
from asgiref.sync import async_to_sync

from marketdata.binance_futures import SERIES
from marketdata.session import MarketDataSession
from marketdata.simulator.server import SimulatorServer
from tests.conftest import point_all_at

pytestmark = pytest.mark.django_db


def in_session(fn, services=("binance_futures", "coingecko", "lunarcrush")):
    async def go():
        async with MarketDataSession(services) as md:
            return await fn(md), {k: c.stats.as_dict() for k, c in md.clients.items()}
    return async_to_sync(go)()


def state(server):
    return httpx.get(f"{server.base_url}/sim/state").json()


@pytest.fixture
def frozen_sim(settings):
    frozen = time.time() - 1800.5
    with SimulatorServer(seed=3, coins=60, clock=lambda: frozen) as server:
        point_all_at(settings, server.base_url)
        yield server


def test_futures_fields_are_parsed_as_sent(frozen_sim):
    url = frozen_sim.base_url
    raw_info = httpx.get(f"{url}/fapi/v1/exchangeInfo").json()["symbols"]
    raw_premium = {r["symbol"]: r for r in httpx.get(f"{url}/fapi/v1/premiumIndex").json()}

    async def fetch(md):
        perps = await md.futures.perpetuals()
        premium = await md.futures.premium_index_all()
        oi = await md.futures.open_interest("BTCUSDT")
        funding = await md.futures.funding_rates("BTCUSDT", limit=5)
        klines = await md.futures.klines("BTCUSDT", "1h", limit=150)
        series = {name: await md.futures.series(name, "BTCUSDT", "1h", 3) for name in SERIES}
        return perps, premium, oi, funding, klines, series
    (perps, premium, oi, funding, klines, series), stats = in_session(fetch)
    assert {p.symbol for p in perps} == {s["symbol"] for s in raw_info if s["contractType"] == "PERPETUAL"}
    assert all(isinstance(p.onboard_date, int) for p in perps)
    btc = next(p for p in premium if p.symbol == "BTCUSDT")
    assert btc.last_funding_rate == float(raw_premium["BTCUSDT"]["lastFundingRate"])
    assert btc.funding_pct == pytest.approx(100 * btc.last_funding_rate)
    raw_oi = httpx.get(f"{url}/fapi/v1/openInterest", params={"symbol": "BTCUSDT"}).json()
    assert (oi.open_interest, oi.time) == (float(raw_oi["openInterest"]), raw_oi["time"])
    assert len(funding) == 5 and all(f.funding_time % 3_600_000 == 0 for f in funding)
    assert len(klines) == 150
    for name, points in series.items():
        assert len(points) == 3 and all(isinstance(p.timestamp, int) for p in points), name
    assert series["takerlongshortRatio"][0].extra.keys() == {"buyVol", "sellVol"}
    fut = stats["binance_futures"]
    # weights: exchangeInfo 1 + premiumIndex all 10 + openInterest 1 + fundingRate 1 + klines(150) 2 + series 0
    assert fut["weight"] == 15
    assert fut["buckets"] == {"funding": 1, "futures_data": 4}


def test_coingecko_and_lunarcrush_fields_are_parsed_as_sent(frozen_sim):
    url = frozen_sim.base_url
    raw_cg = httpx.get(f"{url}/coingecko/api/v3/coins/markets", params={"vs_currency": "usd", "per_page": 250}).json()
    raw_lc = httpx.get(f"{url}/lunarcrush/api4/public/coins/list/v2", params={"limit": 1000}).json()

    async def fetch(md):
        return await md.coingecko.markets(), await md.lunarcrush.coins()
    (markets, social), _ = in_session(fetch)
    by_id = {m.id: m for m in markets}
    for row in raw_cg:
        m = by_id[row["id"]]
        assert m.fully_diluted_valuation == row["fully_diluted_valuation"]  # None stays None
        assert m.symbol == row["symbol"].upper()
    raw_by_symbol = {r["symbol"]: r for r in raw_lc["data"]}
    assert {c.symbol for c in social.coins} == set(raw_by_symbol)
    for coin in social.coins:
        raw = raw_by_symbol[coin.symbol]
        assert (coin.galaxy_score, coin.alt_rank, coin.alt_rank_previous, coin.sentiment) == (
            raw["galaxy_score"], raw["alt_rank"], raw["alt_rank_previous"], raw["sentiment"])
    assert [c.alt_rank for c in social.coins] == sorted(c.alt_rank for c in social.coins)  # sort=alt_rank
    assert social.total_rows == raw_lc["config"]["total_rows"]


@pytest.mark.parametrize("html", [False, True])
def test_a_coingecko_429_json_or_html_is_waited_out(settings, html):
    settings.COINGECKO_CALLS_PER_MINUTE = 100  # we believe in more than the service allows
    with SimulatorServer(seed=3, coins=30, window_seconds=2, coingecko_per_minute=3, html_429=html) as server:
        point_all_at(settings, server.base_url, window=2)
        time.sleep(2 - time.time() % 2 + 0.05)  # all five calls inside one window, so two must get a 429
        started = time.monotonic()
        pages, stats = in_session(lambda md: _many(md.coingecko.markets, 5), ("coingecko",))
        s = state(server)
    assert len(pages) == 5 and all(pages)
    assert s["status_counts"].get("429", 0) >= 1
    assert stats["coingecko"]["retries"] >= 1 and stats["coingecko"]["errors"] == 0
    assert time.monotonic() - started >= 0.5


def test_lunarcrush_quota_headers_hold_calls_before_any_429(settings):
    settings.LUNARCRUSH_CALLS_PER_MINUTE = 100
    with SimulatorServer(seed=3, coins=30, window_seconds=1, lunarcrush_per_minute=2) as server:
        point_all_at(settings, server.base_url, window=1)
        time.sleep(1 - time.time() % 1 + 0.05)  # start at the beginning of a window
        pages, stats = in_session(lambda md: _sequential(md.lunarcrush.coins, 5), ("lunarcrush",))
        s = state(server)
    assert len(pages) == 5
    assert s["status_counts"].get("429", 0) == 0
    assert stats["lunarcrush"]["requests"] == 5


def test_the_futures_data_cap_is_respected_across_windows(settings):
    settings.BINANCE_FUTURES_DATA_PER_5MIN = 4
    with SimulatorServer(seed=3, coins=30, window_seconds=1, futures_data_per_5min=4) as server:
        point_all_at(settings, server.base_url, window=1)
        time.sleep(5 - time.time() % 5 + 0.05)  # start a fresh 5-window cap, so the fourth call must wait
        started = time.monotonic()
        points, stats = in_session(
            lambda md: _many(lambda: md.futures.series("topLongShortPositionRatio", "BTCUSDT", "1h", 2), 6),
            ("binance_futures",))
        s = state(server)
    assert len(points) == 6
    # 90% of 4 is 3 calls per 5-second window: the fourth waited for the next window, and nothing got a 429.
    assert s["status_counts"].get("429", 0) == 0
    assert time.monotonic() - started >= 1


async def _many(call, n):
    import asyncio
    return await asyncio.gather(*(call() for _ in range(n)))


async def _sequential(call, n):
    return [await call() for _ in range(n)]


def test_a_null_from_coingecko_is_missing_and_a_string_is_an_error(settings):
    import json

    from marketdata.errors import MalformedResponseError
    from tests.httpservers import ScriptedServer
    row = {"id": "newcoin", "symbol": "new", "name": "New", "current_price": 0.1, "market_cap": None,
           "fully_diluted_valuation": None, "total_volume": 5.0, "circulating_supply": 10.0, "total_supply": None,
           "max_supply": None, "last_updated": "2026-11-27T00:00:00.000Z"}
    bodies = iter([[row], [dict(row, fully_diluted_valuation="lots")] * 1])
    with ScriptedServer(lambda p, q: (200, {"Content-Type": "application/json"}, json.dumps(next(bodies)).encode())) as s:
        settings.COINGECKO_URL = s.base_url
        settings.HTTP_MAX_RETRIES = 0
        (market,), _ = in_session(lambda md: md.coingecko.markets(), ("coingecko",))
        assert market.fully_diluted_valuation is None and market.circulating_share_pct is None
        with pytest.raises(MalformedResponseError, match="fully_diluted_valuation"):
            in_session(lambda md: md.coingecko.markets(), ("coingecko",))
