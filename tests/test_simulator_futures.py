"""The simulator's Binance USDⓈ-M futures over real loopback HTTP: fields, weights, the two
5-minute caps, the 30-day window of /futures/data and determinism.

No database. Servers get an injected clock so time only moves when a test moves it.
"""
from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest

from marketdata.simulator.server import SimulatorServer
from marketdata.simulator.testing import FakeClock

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = datetime(2026, 6, 15, 10, 20, tzinfo=timezone.utc).timestamp()
T0_MS = int(T0 * 1000)
SERIES = ("openInterestHist", "takerlongshortRatio", "globalLongShortAccountRatio",
          "topLongShortPositionRatio")
NO_LIMITS = dict(weight_limit=10**9, futures_weight_limit=10**9, futures_data_per_5min=10**9,
                 funding_rate_per_5min=10**9)


def serve(**kw) -> SimulatorServer:
    kw.setdefault("clock", FakeClock(T0))
    for k, v in NO_LIMITS.items():
        kw.setdefault(k, v)
    return SimulatorServer(**kw).start()


@pytest.fixture(scope="module")
def sim():
    with serve(seed=42, coins=150) as server:
        yield server


@pytest.fixture(scope="module")
def api(sim):
    with httpx.Client(base_url=sim.base_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def perps(api) -> dict[str, dict]:
    return {s["symbol"]: s for s in api.get("/fapi/v1/exchangeInfo").json()["symbols"]}


def ok(client: httpx.Client, path: str, **params):
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def is_num_str(x) -> bool:
    return isinstance(x, str) and float(x) == float(x)


# ---- listing ---------------------------------------------------------------------------------
def test_exchange_info_lists_perpetuals_for_a_subset_of_spot_coins(api, perps):
    body = api.get("/fapi/v1/exchangeInfo").json()
    assert {"timezone", "serverTime", "rateLimits", "exchangeFilters", "assets",
            "symbols"} <= set(body)
    assert body["exchangeFilters"] == []
    spot = [s for s in api.get("/api/v3/exchangeInfo").json()["symbols"]
            if s["quoteAsset"] == "USDT" and s["status"] == "TRADING"]
    assert {"BTCUSDT", "ETHUSDT", "SOLUSDT", "PEPEUSDT", "AAVEUSDT"} <= set(perps)  # every major
    share = sum(s["symbol"] in perps for s in spot) / len(spot)
    assert 0.4 < share < 0.85
    for s in perps.values():
        assert s["contractType"] == "PERPETUAL" and s["deliveryDate"] == 4133404800000
        assert s["quoteAsset"] == s["marginAsset"] == "USDT" and s["pair"] == s["symbol"]
        assert s["status"] in ("TRADING", "SETTLING") and s["baseAsset"] + "USDT" == s["symbol"]
        assert isinstance(s["onboardDate"], int) and s["onboardDate"] <= T0_MS
        assert isinstance(s["pricePrecision"], int) and isinstance(s["quantityPrecision"], int)


def test_new_listings_are_spot_only_or_onboard_at_or_shortly_after_listing(api, perps):
    spot = [s["symbol"] for s in api.get("/api/v3/exchangeInfo").json()["symbols"]
            if s["quoteAsset"] == "USDT" and s["status"] == "TRADING"]
    first = {sym: ok(api, "/api/v3/klines", symbol=sym, interval="1h", startTime=0, limit=1)[0][0]
             for sym in spot}
    young = [sym for sym, t in first.items() if t > T0_MS - 60 * DAY]
    with_perp = [sym for sym in young if sym in perps]
    assert with_perp and len(with_perp) < len(young)  # some spot-only, some with a perpetual
    gaps = [perps[sym]["onboardDate"] - first[sym] for sym in with_perp]
    assert all(0 <= g <= 48 * HOUR for g in gaps)
    sym = with_perp[0]
    fk = ok(api, "/fapi/v1/klines", symbol=sym, interval="1h", startTime=0, limit=1)[0]
    assert fk[0] == perps[sym]["onboardDate"]  # futures candles start at onboarding


# ---- market endpoints ------------------------------------------------------------------------
def test_premium_index_has_binance_fields_and_funding_near_one_basis_point(api, perps):
    rows = ok(api, "/fapi/v1/premiumIndex")
    assert {r["symbol"] for r in rows} == set(perps)
    for r in rows:
        assert set(r) == {"symbol", "markPrice", "indexPrice", "estimatedSettlePrice",
                          "lastFundingRate", "interestRate", "nextFundingTime", "time"}
        assert all(is_num_str(r[k]) for k in ("markPrice", "indexPrice", "lastFundingRate"))
        assert r["interestRate"] == "0.00010000" and r["time"] == T0_MS
        assert r["nextFundingTime"] == 1781539200000  # 16:00 UTC, the next 8-hour boundary
    rates = [float(r["lastFundingRate"]) for r in rows]
    assert sum(r == 0.0001 for r in rates) > len(rates) / 3  # the usual clamp at 0.01%
    assert len(set(rates)) > 5  # ... but the market moves it
    one = ok(api, "/fapi/v1/premiumIndex", symbol="ETHUSDT")
    assert one == next(r for r in rows if r["symbol"] == "ETHUSDT")
    spot = float(ok(api, "/api/v3/ticker/price", symbol="ETHUSDT")["price"])
    assert float(one["indexPrice"]) == spot
    assert abs(float(one["markPrice"]) / spot - 1) < 0.01


def test_funding_history_settles_every_8_hours(api):
    rows = ok(api, "/fapi/v1/fundingRate", symbol="BTCUSDT")
    assert len(rows) == 100  # the default limit
    assert all(set(r) == {"symbol", "fundingRate", "fundingTime", "markPrice"} for r in rows)
    times = [r["fundingTime"] for r in rows]
    assert all(t % (8 * HOUR) == 0 for t in times) and times[-1] <= T0_MS < times[-1] + 8 * HOUR
    assert all(b - a == 8 * HOUR for a, b in zip(times, times[1:]))
    page = ok(api, "/fapi/v1/fundingRate", symbol="BTCUSDT", startTime=times[10], limit=5)
    assert page == rows[10:15]
    before = ok(api, "/fapi/v1/fundingRate", symbol="BTCUSDT", endTime=times[20], limit=3)
    assert before == rows[18:21]
    assert len(ok(api, "/fapi/v1/fundingRate", symbol="BTCUSDT", limit=1000)) == 1000


def test_open_interest_is_a_smooth_function_of_time(api):
    oi = ok(api, "/fapi/v1/openInterest", symbol="SOLUSDT")
    assert set(oi) == {"openInterest", "symbol", "time"} and oi["time"] == T0_MS
    hist = ok(api, "/futures/data/openInterestHist", symbol="SOLUSDT", period="5m", limit=3)
    assert abs(float(hist[-1]["sumOpenInterest"]) / float(oi["openInterest"]) - 1) < 0.05
    assert float(oi["openInterest"]) > 0


def test_futures_klines_follow_spot_with_a_small_basis_and_more_volume(api):
    spot = ok(api, "/api/v3/klines", symbol="ETHUSDT", interval="1h", limit=200)
    fut = ok(api, "/fapi/v1/klines", symbol="ETHUSDT", interval="1h", limit=200)
    assert [r[0] for r in fut] == [r[0] for r in spot]
    for s, f in zip(spot, fut):
        assert len(f) == 12 and all(isinstance(f[i], str) for i in (1, 2, 3, 4, 5, 7, 9, 10))
        assert abs(float(f[4]) / float(s[4]) - 1) < 0.01
        o, h, lo, c = (float(f[i]) for i in (1, 2, 3, 4))
        assert h >= max(o, c) and lo <= min(o, c)
        assert float(f[5]) > float(s[5])
    assert all(b[1] == a[4] for a, b in zip(fut, fut[1:]))
    assert len(ok(api, "/fapi/v1/klines", symbol="ETHUSDT", interval="4h", limit=1500)) == 1500


def test_futures_ticker_24hr(api, perps):
    t = ok(api, "/fapi/v1/ticker/24hr", symbol="BTCUSDT")
    assert {"symbol", "priceChange", "priceChangePercent", "lastPrice", "openPrice", "highPrice",
            "lowPrice", "volume", "quoteVolume", "openTime", "closeTime", "count"} <= set(t)
    assert (t["openTime"], t["closeTime"]) == (T0_MS - DAY, T0_MS)
    assert float(t["lowPrice"]) <= float(t["lastPrice"]) <= float(t["highPrice"])
    assert len(ok(api, "/fapi/v1/ticker/24hr")) == len(perps)


@pytest.mark.parametrize("endpoint", SERIES)
def test_futures_data_series_fields_and_types(api, endpoint):
    rows = ok(api, f"/futures/data/{endpoint}", symbol="BTCUSDT", period="1h")
    assert len(rows) == 30  # the default limit
    ts = [int(r["timestamp"]) for r in rows]
    assert all(b - a == HOUR for a, b in zip(ts, ts[1:])) and ts[-1] <= T0_MS
    fields = {"openInterestHist": {"symbol", "sumOpenInterest", "sumOpenInterestValue"},
              "takerlongshortRatio": {"buySellRatio", "buyVol", "sellVol"}}.get(
        endpoint, {"symbol", "longShortRatio", "longAccount", "shortAccount"})
    for r in rows:
        assert set(r) == fields | {"timestamp"}
        assert all(is_num_str(r[k]) for k in fields - {"symbol"})
        # openInterestHist sends a number, the other three a string: clients must take both
        assert isinstance(r["timestamp"], int if endpoint == "openInterestHist" else str)
    if endpoint.endswith("Ratio") and endpoint != "takerlongshortRatio":
        r = rows[-1]
        assert float(r["longAccount"]) + float(r["shortAccount"]) == pytest.approx(1)
        assert float(r["longShortRatio"]) == pytest.approx(
            float(r["longAccount"]) / float(r["shortAccount"]), rel=1e-3)


def test_taker_ratio_matches_the_futures_klines(api):
    rows = ok(api, "/futures/data/takerlongshortRatio", symbol="ETHUSDT", period="1h", limit=5)
    kl = ok(api, "/fapi/v1/klines", symbol="ETHUSDT", interval="1h", endTime=T0_MS - HOUR, limit=10)
    by_close = {k[6] + 1: k for k in kl}
    for r in rows:
        k = by_close[int(r["timestamp"])]  # the row covers the hour that ends at its timestamp
        assert float(r["buyVol"]) == pytest.approx(float(k[9]), rel=1e-3)
        assert float(r["sellVol"]) == pytest.approx(float(k[5]) - float(k[9]), rel=1e-3)
    five = ok(api, "/futures/data/takerlongshortRatio", symbol="ETHUSDT", period="5m", limit=24)
    assert len({r["buySellRatio"] for r in five}) > 12  # 5-minute rows differ within an hour


def test_futures_data_serves_only_the_last_30_days(api):
    old = ok(api, "/futures/data/openInterestHist", symbol="BTCUSDT", period="1h",
             startTime=T0_MS - 60 * DAY, limit=500)
    assert T0_MS - 30 * DAY <= old[0]["timestamp"] < T0_MS - 30 * DAY + HOUR
    daily = ok(api, "/futures/data/topLongShortPositionRatio", symbol="BTCUSDT", period="1d",
               limit=500)
    assert len(daily) == 30 and all(int(r["timestamp"]) % DAY == 0 for r in daily)


@pytest.mark.parametrize("path,params,code", [
    ("/fapi/v1/premiumIndex", {"symbol": "NOPEUSDT"}, -1121),
    ("/fapi/v1/openInterest", {"symbol": "NOPEUSDT"}, -1121),
    ("/fapi/v1/klines", {"symbol": "NOPEUSDT", "interval": "1h"}, -1121),
    ("/fapi/v1/klines", {"symbol": "BTCUSDT", "interval": "1h", "limit": "1501"}, -1130),
    ("/fapi/v1/klines", {"symbol": "BTCUSDT", "interval": "7m"}, -1120),
    ("/fapi/v1/fundingRate", {"symbol": "BTCUSDT", "limit": "1001"}, -1130),
    ("/futures/data/openInterestHist", {"symbol": "BTCUSDT", "period": "3m"}, -1120),
    ("/futures/data/takerlongshortRatio", {"symbol": "BTCUSDT", "period": "8h"}, -1120),
    ("/futures/data/globalLongShortAccountRatio", {"symbol": "NOPEUSDT", "period": "1h"}, -1121),
    ("/futures/data/topLongShortPositionRatio", {"symbol": "BTCUSDT", "period": "1h",
                                                 "limit": "501"}, -1130),
    ("/futures/data/openInterestHist", {"period": "1h"}, -1102),
])
def test_bad_futures_requests_get_binance_errors(api, path, params, code):
    r = api.get(path, params=params)
    assert r.status_code == 400 and r.json()["code"] == code and r.json()["msg"]


def test_a_spot_only_coin_is_an_invalid_futures_symbol(api, perps):
    spot_only = next(s["symbol"] for s in api.get("/api/v3/exchangeInfo").json()["symbols"]
                     if s["quoteAsset"] == "USDT" and s["status"] == "TRADING"
                     and s["symbol"] not in perps)
    r = api.get("/fapi/v1/openInterest", params={"symbol": spot_only})
    assert r.status_code == 400 and r.json() == {"code": -1121, "msg": "Invalid symbol."}


def test_futures_data_is_deterministic_per_seed():
    paths = [("/fapi/v1/premiumIndex", {}), ("/fapi/v1/fundingRate", {"symbol": "ETHUSDT"}),
             ("/fapi/v1/klines", {"symbol": "SOLUSDT", "interval": "1h", "limit": 300})] + [
        (f"/futures/data/{e}", {"symbol": "ETHUSDT", "period": "15m", "limit": 100})
        for e in SERIES]
    bodies = []
    for seed in (5, 5, 6):
        with serve(seed=seed, coins=60) as s, httpx.Client(base_url=s.base_url) as c:
            bodies.append([c.get(p, params=q).content for p, q in paths])
    assert bodies[0] == bodies[1]
    assert all(a != b for a, b in zip(bodies[0], bodies[2]))


# ---- limits ----------------------------------------------------------------------------------
def test_futures_weights_follow_binance_and_429_then_418():
    clock = FakeClock(1_800_000_000.5)
    with SimulatorServer(coins=60, clock=clock, futures_weight_limit=80, window_seconds=2,
                         ban_after=2).start() as s, httpx.Client(base_url=s.base_url) as c:
        def used(path, **q):
            r = c.get(path, params=q)
            return r.status_code, int(r.headers["X-MBX-USED-WEIGHT-1M"])
        btc = {"symbol": "BTCUSDT"}
        kl = {**btc, "interval": "1h"}
        steps = [("/fapi/v1/exchangeInfo", {}), ("/fapi/v1/premiumIndex", btc),
                 ("/fapi/v1/premiumIndex", {}), ("/fapi/v1/klines", {**kl, "limit": 99}),
                 ("/fapi/v1/klines", {**kl, "limit": 100}), ("/fapi/v1/klines", kl),
                 ("/fapi/v1/klines", {**kl, "limit": 1500}), ("/fapi/v1/ticker/24hr", btc),
                 ("/fapi/v1/openInterest", btc),
                 ("/futures/data/openInterestHist", {**btc, "period": "1h"}),
                 ("/fapi/v1/fundingRate", btc), ("/fapi/v1/ticker/24hr", {})]
        assert [used(p, **q) for p, q in steps] == [
            (200, 1), (200, 2), (200, 12), (200, 13), (200, 15), (200, 20), (200, 30), (200, 31),
            (200, 32), (200, 32), (200, 32), (200, 72)]
        assert c.get("/api/v3/ping").headers["X-MBX-USED-WEIGHT-1M"] == "1"  # spot is separate
        r = c.get("/fapi/v1/ticker/24hr")
        assert r.status_code == 429 and r.headers["Retry-After"] == "2" and r.json()["code"] == -1003
        assert [c.get("/fapi/v1/ping").status_code for _ in range(3)] == [429, 429, 418]
        clock.t += 6
        assert c.get("/fapi/v1/ping").status_code == 200


@pytest.mark.parametrize("path,params,limit_kw", [
    ("/fapi/v1/fundingRate", {"symbol": "BTCUSDT", "limit": 1}, "funding_rate_per_5min"),
    ("/futures/data/takerlongshortRatio", {"symbol": "BTCUSDT", "period": "1h"},
     "futures_data_per_5min"),
])
def test_the_5_minute_request_caps(path, params, limit_kw):
    clock = FakeClock(1_800_000_000.0)  # the top of a 5 x 2 s window
    with SimulatorServer(coins=60, clock=clock, window_seconds=2, **{limit_kw: 4}).start() as s, \
            httpx.Client(base_url=s.base_url) as c:
        codes = [c.get(path, params=params).status_code for _ in range(5)]
        assert codes == [200] * 4 + [429]
        r = c.get(path, params=params)
        assert r.status_code == 429 and r.headers["Retry-After"] == "10" and r.json()["code"] == -1003
        assert "X-MBX-USED-WEIGHT-1M" in r.headers
        if limit_kw == "futures_data_per_5min":  # the four endpoints share one cap
            other = c.get("/futures/data/openInterestHist", params=params)
            assert other.status_code == 429
        assert c.get("/fapi/v1/openInterest", params={"symbol": "BTCUSDT"}).status_code == 200
        assert c.get("/sim/state").json()["services"]["binance_futures_caps"]
        clock.t += 9.5
        assert c.get(path, params=params).status_code == 429
        clock.t += 0.5
        assert c.get(path, params=params).status_code == 200
