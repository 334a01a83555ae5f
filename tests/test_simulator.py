"""The market simulator over real loopback HTTP: wire format, determinism, history, tickers.

No database: these run with plain pytest. Servers get an injected clock, so time only moves
when a test moves it. Rate limits, latency and the command: test_simulator_limits.py.
"""
from __future__ import annotations

from datetime import datetime, timezone

import httpx
import numpy as np
import pytest

from marketdata.simulator.server import SimulatorServer
from marketdata.simulator.testing import FakeClock

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = datetime(2026, 6, 15, 10, 20, tzinfo=timezone.utc).timestamp()  # 20 minutes into an hour
T0_MS = int(T0 * 1000)
TICKER_FIELDS = {"symbol", "priceChange", "priceChangePercent", "weightedAvgPrice",
                 "prevClosePrice", "lastPrice", "lastQty", "bidPrice", "bidQty", "askPrice",
                 "askQty", "openPrice", "highPrice", "lowPrice", "volume", "quoteVolume",
                 "openTime", "closeTime", "firstId", "lastId", "count"}


def serve(**kw) -> SimulatorServer:
    kw.setdefault("clock", FakeClock(T0))
    kw.setdefault("weight_limit", 10**9)  # the rate-limit tests live in their own file
    return SimulatorServer(**kw).start()


@pytest.fixture(scope="module")
def sim():
    with serve(seed=42, coins=520) as server:
        yield server


@pytest.fixture(scope="module")
def api(sim):
    with httpx.Client(base_url=sim.base_url, timeout=30) as client:
        yield client


def get(client: httpx.Client, path: str, **params) -> httpx.Response:
    return client.get(path, params=params)


def klines(client: httpx.Client, symbol: str, interval: str = "1h", **params) -> list[list]:
    r = get(client, "/api/v3/klines", symbol=symbol, interval=interval, **params)
    assert r.status_code == 200, r.text
    return r.json()


def symbols(client: httpx.Client) -> list[dict]:
    return get(client, "/api/v3/exchangeInfo").json()["symbols"]


# ---- determinism and universe ------------------------------------------------------------
def test_same_seed_and_clock_give_identical_bodies_and_another_seed_differs():
    paths = [("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1h", "limit": 1000}),
             ("/api/v3/klines", {"symbol": "DOGEUSDT", "interval": "1d"}),
             ("/api/v3/exchangeInfo", {}),
             ("/api/v3/ticker/24hr", {"symbols": '["ETHUSDT","SOLUSDT"]'})]
    bodies = []
    for seed in (7, 7, 8):
        with serve(seed=seed, coins=120) as s, httpx.Client(base_url=s.base_url) as c:
            bodies.append([c.get(p, params=q).content for p, q in paths])
    assert bodies[0] == bodies[1]
    assert all(a != b for a, b in zip(bodies[0], bodies[2]))


def test_universe_has_500_trading_usdt_pairs_and_pairs_clients_must_filter_out(api):
    info = symbols(api)
    usdt = [s for s in info if s["quoteAsset"] == "USDT" and s["status"] == "TRADING"
            and s["isSpotTradingAllowed"]]
    assert len(usdt) >= 500
    assert {"BTCUSDT", "ETHUSDT", "SOLUSDT"} <= {s["symbol"] for s in usdt}
    assert any(s["quoteAsset"] != "USDT" for s in info)  # ETHBTC and friends
    assert any(s["quoteAsset"] == "USDT" and s["status"] in ("BREAK", "HALT") for s in info)
    assert len({s["symbol"] for s in info}) == len(info)
    assert all(s["symbol"] == s["baseAsset"] + s["quoteAsset"] for s in info)


def test_every_response_is_json_marked_as_simulated(api):
    for path in ("/api/v3/ping", "/api/v3/time", "/nope", "/sim/health"):
        r = api.get(path)
        assert r.headers["X-CryptoSatX-Simulator"] == "1"
        assert r.headers["Content-Type"] == "application/json"
        r.json()
    assert api.get("/api/v3/time").json() == {"serverTime": T0_MS}
    assert api.get("/nope").status_code == 404 and api.get("/nope").json()["code"] == -1


# ---- klines --------------------------------------------------------------------------------
def test_klines_rows_have_binance_wire_format_and_consistent_ohlc(api):
    rows = klines(api, "SOLUSDT", limit=1000)
    assert len(rows) == 1000
    for row in rows:
        assert len(row) == 12
        assert all(isinstance(row[i], int) for i in (0, 6, 8))
        assert all(isinstance(row[i], str) for i in (1, 2, 3, 4, 5, 7, 9, 10, 11))
        assert row[6] == row[0] + 3_599_999 and row[11] == "0"
        o, h, lo, c, v, q, tb, tq = (float(row[i]) for i in (1, 2, 3, 4, 5, 7, 9, 10))
        assert h >= max(o, c) and 0 < lo <= min(o, c)
        assert 0 <= tb <= v and 0 <= tq <= q
        if v:
            assert lo * 0.999 <= q / v <= h * 1.001  # quote volume = volume x a traded price
    assert all(b[0] - a[0] == HOUR for a, b in zip(rows, rows[1:]))
    assert all(b[1] == a[4] for a, b in zip(rows, rows[1:]))  # open = previous close


def test_newest_row_is_the_open_candle_and_moves_until_its_hour_closes():
    clock = FakeClock(T0)
    with serve(coins=60, clock=clock) as s, httpx.Client(base_url=s.base_url) as c:
        first = klines(c, "ETHUSDT", limit=3)
        assert first[-1][0] <= T0_MS < first[-1][6]
        clock.t += 600
        later = klines(c, "ETHUSDT", limit=3)
        assert later[:2] == first[:2]
        assert later[-1][0] == first[-1][0] and later[-1][1] == first[-1][1]
        assert float(later[-1][5]) > float(first[-1][5]) and later[-1][8] > first[-1][8]
        assert float(get(c, "/api/v3/ticker/24hr", symbol="ETHUSDT").json()["lastPrice"]) \
            == float(later[-1][4])


def test_closed_candles_never_change_when_the_clock_advances():
    clock = FakeClock(T0)
    with serve(coins=60, clock=clock) as s, httpx.Client(base_url=s.base_url) as c:
        before = klines(c, "BNBUSDT", limit=1000)
        clock.t += 3 * 3600 + 1500  # into a new block of hours, past three closes
        after = klines(c, "BNBUSDT", endTime=T0_MS, limit=1000)
        assert after[:-1] == before[:-1]
        assert after[-1][0] == before[-1][0] and after[-1][1] == before[-1][1]
        assert after[-1][6] < clock.t * 1000  # the once-open candle is closed now


def test_pagination_follows_binance_start_end_and_limit_semantics(api):
    start = T0_MS - 300 * HOUR + 123  # mid-hour: the first candle opens at the next hour
    rows = klines(api, "BTCUSDT", startTime=start, limit=50)
    assert len(rows) == 50 and rows[0][0] == (start // HOUR + 1) * HOUR
    end = T0_MS - 100 * HOUR - 1
    rows = klines(api, "BTCUSDT", endTime=end, limit=40)
    assert len(rows) == 40 and rows[-1][0] <= end < rows[-1][0] + HOUR
    both = klines(api, "BTCUSDT", startTime=end - 10 * HOUR, endTime=end, limit=1000)
    assert len(both) == 10 and both == rows[-10:]
    page1 = klines(api, "BTCUSDT", startTime=start, limit=100)
    page2 = klines(api, "BTCUSDT", startTime=page1[-1][0] + 1, limit=100)
    assert page1 + page2 == klines(api, "BTCUSDT", startTime=start, limit=200)
    assert len(klines(api, "BTCUSDT")) == 500  # default limit, newest last
    assert klines(api, "BTCUSDT", startTime=T0_MS + DAY) == []


def test_an_old_coin_has_at_least_90_days_of_hourly_history(api):
    rows, start = [], T0_MS - 91 * DAY
    while True:
        page = klines(api, "ADAUSDT", startTime=start, limit=1000)
        rows += page
        if len(page) < 1000:
            break
        start = page[-1][0] + 1
    closed = [r for r in rows if r[6] < T0_MS]
    assert len(closed) >= 2160
    assert all(b[0] - a[0] == HOUR for a, b in zip(rows, rows[1:]))
    assert klines(api, "ADAUSDT", startTime=0, limit=1)[0][0] < 1_735_689_600_000  # pre-2025


def test_a_new_listing_starts_at_its_listing_candle(api):
    newest = [s["symbol"] for s in symbols(api) if s["status"] == "TRADING"][-1]
    first = klines(api, newest, startTime=0, limit=1)[0]
    assert T0_MS - 90 * DAY <= first[0] <= T0_MS
    assert klines(api, newest, endTime=first[0] - 1) == []
    assert klines(api, newest, startTime=0, limit=5)[0] == first
    day = klines(api, newest, "1d", startTime=0, limit=1)[0]
    assert day[0] == first[0] // DAY * DAY  # daily candles are UTC days, even the first one


def test_new_listings_appear_only_once_their_listing_hour_arrives():
    clock = FakeClock(T0)
    with serve(coins=520, clock=clock) as s, httpx.Client(base_url=s.base_url) as c:
        before = {x["symbol"] for x in symbols(c)}
        clock.t += 2 * 86400
        new = [x["symbol"] for x in symbols(c) if x["symbol"] not in before]
        assert new, "1-3 coins list every day"
        listed_at = {sym: klines(c, sym, startTime=0, limit=1)[0][0] for sym in new}
        assert all(T0_MS < t <= clock.t * 1000 for t in listed_at.values())
        sym, t = next(iter(listed_at.items()))
        clock.t = (t - 1) / 1000
        assert get(c, "/api/v3/klines", symbol=sym, interval="1h").json()["code"] == -1121
        assert sym not in {x["symbol"] for x in symbols(c)}
        clock.t = t / 1000
        rows = klines(c, sym)
        assert len(rows) == 1 and rows[0][0] == t


def _aggregate(hourly: list[list], start: int, width: int) -> tuple:
    part = [r for r in hourly if start <= r[0] < start + width]
    return (part[0][1], max(float(r[2]) for r in part), min(float(r[3]) for r in part),
            part[-1][4], sum(float(r[5]) for r in part), sum(r[8] for r in part),
            sum(float(r[9]) for r in part))


@pytest.mark.parametrize("interval,hours", [("4h", 4), ("1d", 24), ("1w", 168)])
def test_larger_intervals_aggregate_the_hourly_candles(api, interval, hours):
    big = klines(api, "XRPUSDT", interval, limit=5)
    hourly = klines(api, "XRPUSDT", startTime=big[0][0], limit=1000)
    width = hours * HOUR
    for row in big:
        assert row[6] == row[0] + width - 1
        o, h, lo, c, v, n, tb = _aggregate(hourly, row[0], width)
        assert (row[1], float(row[2]), float(row[3]), row[4], row[8]) == (o, h, lo, c, n)
        assert float(row[5]) == pytest.approx(v, rel=1e-9)
        assert float(row[9]) == pytest.approx(tb, rel=1e-9)
    assert big[-1][0] <= T0_MS < big[-1][6]  # the current, still-open bucket
    if interval == "1w":
        assert all(datetime.fromtimestamp(r[0] / 1000, timezone.utc).weekday() == 0 for r in big)


# ---- ticker --------------------------------------------------------------------------------
def test_ticker_24hr_is_the_rolling_day_ending_now(api):
    t = get(api, "/api/v3/ticker/24hr", symbol="LINKUSDT").json()
    assert set(t) == TICKER_FIELDS
    hourly = klines(api, "LINKUSDT", limit=26)
    assert t["lastPrice"] == hourly[-1][4]
    assert (t["openTime"], t["closeTime"]) == (T0_MS - DAY, T0_MS)
    last, first, high, low = (float(t[k]) for k in
                              ("lastPrice", "openPrice", "highPrice", "lowPrice"))
    assert low <= min(first, last) and high >= max(first, last)
    # 23 closed hours + the open hour so far + the last 40 minutes of the hour 24h ago
    inside = sum(float(r[5]) for r in hourly if r[0] >= T0_MS - DAY)
    straddling = next(r for r in hourly if r[0] < T0_MS - DAY < r[6])
    share = (straddling[6] + 1 - (T0_MS - DAY)) / HOUR
    assert float(t["volume"]) == pytest.approx(inside + share * float(straddling[5]), rel=1e-9)
    assert t["count"] == t["lastId"] - t["firstId"] + 1 > 0
    assert float(t["priceChange"]) == pytest.approx(last - first)


def test_ticker_without_symbol_covers_every_listed_pair(api):
    all_tickers = get(api, "/api/v3/ticker/24hr").json()
    assert [t["symbol"] for t in all_tickers] == [s["symbol"] for s in symbols(api)]


@pytest.mark.parametrize("path,params,status,code", [
    ("/api/v3/ticker/24hr", {"symbol": "NOPEUSDT"}, 400, -1121),
    ("/api/v3/klines", {"symbol": "NOPEUSDT", "interval": "1h"}, 400, -1121),
    ("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "7m"}, 400, -1120),
    ("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1h", "limit": "1001"}, 400, -1130),
    ("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1h", "limit": "ten"}, 400, -1100),
    ("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1h", "endTime": "-5"}, 400, -1100),
    ("/api/v3/klines", {"interval": "1h"}, 400, -1102),
    ("/api/v3/exchangeInfo", {"symbols": '["BTCUSDT","NOPEUSDT"]'}, 400, -1121),
    ("/api/v3/exchangeInfo", {"symbols": "BTCUSDT"}, 400, -1100),
])
def test_bad_requests_get_binance_errors(api, path, params, status, code):
    r = api.get(path, params=params)
    assert (r.status_code, r.json()["code"]) == (status, code)
    assert r.json()["msg"]


def test_sub_hour_intervals_are_refused_with_a_clear_message(api):
    assert get(api, "/api/v3/klines", symbol="BTCUSDT", interval="7m").json()["msg"] == \
        "Invalid interval."
    body = get(api, "/api/v3/klines", symbol="BTCUSDT", interval="5m").json()
    assert body["code"] == -1120 and "1h and above" in body["msg"]


def test_the_market_looks_like_crypto(api):
    """BTC-correlated, fat-tailed returns with clustered volatility and balanced taker flow."""
    def returns(sym):
        rows = klines(api, sym, limit=1000) + klines(api, sym, endTime=T0_MS - 1000 * HOUR,
                                                     limit=1000)
        rows.sort()
        closes = np.array([float(r[4]) for r in rows])
        return np.diff(np.log(closes)), rows
    btc, _ = returns("BTCUSDT")
    eth, rows = returns("ETHUSDT")
    assert np.corrcoef(btc, eth)[0, 1] > 0.4
    kurtosis = ((eth - eth.mean()) ** 4).mean() / eth.var() ** 2
    assert kurtosis > 4  # a normal distribution has 3
    absr = np.abs(btc)
    assert np.corrcoef(absr[:-1], absr[1:])[0, 1] > 0.03
    share = sum(float(r[9]) for r in rows) / sum(float(r[5]) for r in rows)
    assert 0.4 < share < 0.6
    assert float(rows[-1][4]) > 100 * float(klines(api, "DOGEUSDT", limit=1)[0][4])
