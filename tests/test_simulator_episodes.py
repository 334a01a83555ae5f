"""Planted whale episodes: the ground truth at /sim/episodes and their marks in the served data.

Accumulation: quiet price, taker buys > 60% of volume, negative funding, top traders long
(position ratio >= 1.5), rising open interest. Distribution: a pump, sell pressure > 55%,
funding above 0.3%. Both are followed by a price move with the documented probability.
"""
from __future__ import annotations

from datetime import datetime, timezone
from statistics import median

import httpx
import pytest

from marketdata.simulator.episodes import DEFAULT_PARAMS
from marketdata.simulator.server import SimulatorServer
from marketdata.simulator.testing import FakeClock

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = datetime(2026, 6, 15, 10, 20, tzinfo=timezone.utc).timestamp()
T0_MS = int(T0 * 1000)
NO_LIMITS = dict(weight_limit=10**9, futures_weight_limit=10**9, futures_data_per_5min=10**9,
                 funding_rate_per_5min=10**9)


def serve(**kw) -> SimulatorServer:
    kw.setdefault("clock", FakeClock(T0))
    return SimulatorServer(**{**NO_LIMITS, **kw}).start()


@pytest.fixture(scope="module")
def big():
    """520 coins, for counting episodes (no candles are generated for that)."""
    with serve(seed=42, coins=520) as s, httpx.Client(base_url=s.base_url, timeout=30) as c:
        yield s, c


@pytest.fixture(scope="module")
def api():
    with serve(seed=42, coins=150) as s, httpx.Client(base_url=s.base_url, timeout=30) as c:
        yield c


def get(c: httpx.Client, path: str, **params):
    r = c.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def episodes(c: httpx.Client, start: int, end: int = T0_MS) -> list[dict]:
    return get(c, "/sim/episodes", start=start, end=end)


def usable(c: httpx.Client, kind: str, n: int = 8, futures: bool = False) -> list[dict]:
    """Episodes of a kind that ran at least a day within the last 25 days (and have a perpetual)."""
    perps = {s["symbol"] for s in get(c, "/fapi/v1/exchangeInfo")["symbols"]}
    listed = {s["symbol"] for s in get(c, "/api/v3/exchangeInfo")["symbols"]}
    out = [e for e in episodes(c, T0_MS - 25 * DAY) if e["kind"] == kind
           and e["start"] >= T0_MS - 25 * DAY and min(e["end"], T0_MS) - e["start"] >= DAY + HOUR
           and e["symbol"] in listed and (not futures or e["symbol"] in perps)]
    assert len(out) >= 3, f"too few {kind} episodes to test"
    return out[:n]


def day_share(c: httpx.Client, path: str, e: dict) -> tuple[float, float]:
    """(taker-buy share of quote volume, price change %) over the episode's last closed 24 h."""
    rows = get(c, path, symbol=e["symbol"], interval="1h", endTime=min(e["end"], T0_MS) - HOUR,
               limit=24)
    assert len(rows) == 24 and rows[0][0] >= e["start"]
    share = sum(float(r[10]) for r in rows) / sum(float(r[7]) for r in rows)
    return share, 100 * (float(rows[-1][4]) / float(rows[0][1]) - 1)


# ---- the ground truth -------------------------------------------------------------------------
def test_episodes_endpoint_format_and_only_started_episodes(big):
    _, c = big
    rows = episodes(c, T0_MS - 10 * DAY, T0_MS + 10 * DAY)
    assert rows and rows == sorted(rows, key=lambda r: (r["start"], r["symbol"]))
    for r in rows:
        assert set(r) == {"symbol", "kind", "start", "end", "follow_through", "move_pct",
                          "follow_through_end"}
        assert r["kind"] in ("accumulation", "distribution") and r["symbol"].endswith("USDT")
        assert r["start"] % HOUR == 0 and 24 * HOUR <= r["end"] - r["start"] <= 72 * HOUR
        assert r["start"] <= T0_MS and r["end"] > T0_MS - 10 * DAY  # started, overlapping
        assert isinstance(r["follow_through"], bool) and isinstance(r["move_pct"], float)
        if not r["follow_through"]:
            assert r["move_pct"] == 0
        elif r["kind"] == "accumulation":
            assert 5 <= r["move_pct"] <= 20
        else:
            assert -20 <= r["move_pct"] <= -5
        assert r["end"] + DAY <= r["follow_through_end"] <= r["end"] + 7 * DAY
    assert "BTCUSDT" not in {r["symbol"] for r in rows}  # BTC is the market, never planted
    assert c.get("/sim/episodes", params={"start": "x"}).status_code == 400


def test_two_to_six_percent_of_coins_are_in_an_episode_and_both_kinds_start_daily(big):
    sim, c = big
    rows = episodes(c, T0_MS - 21 * DAY)
    n = len([x for x in get(c, "/api/v3/exchangeInfo")["symbols"] if x["quoteAsset"] == "USDT"])
    for k in range(0, 20 * 24, 29):
        t = T0_MS - k * HOUR
        active = sum(r["start"] <= t < r["end"] for r in rows)
        assert 0.015 <= active / n <= 0.07, (k, active, n)
    for d in range(20):
        day0 = (T0_MS // DAY - d - 1) * DAY
        kinds = {r["kind"] for r in rows if day0 <= r["start"] < day0 + DAY}
        assert kinds == {"accumulation", "distribution"}, d
    ft = [r["follow_through"] for r in rows]
    assert abs(sum(ft) / len(ft) - DEFAULT_PARAMS.follow_through_prob) < 0.1


def test_episodes_are_deterministic_and_do_not_depend_on_the_clock():
    lists = []
    for seed, t in ((3, T0), (3, T0 + 5 * 86400), (4, T0)):
        with serve(seed=seed, coins=80, clock=FakeClock(t)) as s, \
                httpx.Client(base_url=s.base_url) as c:
            lists.append(episodes(c, T0_MS - 20 * DAY, T0_MS))
    assert lists[0] == lists[1] and lists[0] != lists[2]


# ---- the marks in the data --------------------------------------------------------------------
def test_accumulation_is_quiet_buying_with_negative_funding_and_long_top_traders(api):
    moves = []
    for e in usable(api, "accumulation", futures=True):
        share, move = day_share(api, "/api/v3/klines", e)
        assert share > 0.60, e
        moves.append(abs(move))
        fut_share, _ = day_share(api, "/fapi/v1/klines", e)
        assert fut_share > 0.60, e
        end = min(e["end"], T0_MS) - 1
        funding = get(api, "/fapi/v1/fundingRate", symbol=e["symbol"], startTime=e["start"],
                      endTime=end)
        assert funding and all(float(f["fundingRate"]) < 0 for f in funding), e
        top = get(api, "/futures/data/topLongShortPositionRatio", symbol=e["symbol"],
                  period="1h", startTime=e["start"], endTime=end, limit=100)
        assert top and all(float(r["longShortRatio"]) >= 1.5 for r in top), e
        oi = get(api, "/futures/data/openInterestHist", symbol=e["symbol"], period="1h",
                 startTime=e["start"], endTime=end, limit=100)
        assert float(oi[-1]["sumOpenInterest"]) > float(oi[0]["sumOpenInterest"]), e
    assert median(moves) < 3 and max(moves) < 8  # the price stays quiet


def test_distribution_is_a_pump_into_sell_pressure_with_crowded_funding(api):
    pumps = []
    for e in usable(api, "distribution", futures=True):
        share, _ = day_share(api, "/api/v3/klines", e)
        assert 1 - share > 0.55, e
        end = min(e["end"], T0_MS) - 1
        funding = get(api, "/fapi/v1/fundingRate", symbol=e["symbol"], startTime=e["start"],
                      endTime=end)
        assert funding and all(float(f["fundingRate"]) > 0.003 for f in funding), e
        rows = get(api, "/api/v3/klines", symbol=e["symbol"], interval="1h", startTime=e["start"],
                   endTime=end, limit=100)
        pumps.append(100 * (float(rows[-1][4]) / float(rows[0][1]) - 1))
    assert median(pumps) > 5 and sum(p > 0 for p in pumps) >= 0.75 * len(pumps)


def test_planted_follow_through_shows_up_in_later_prices(api):
    """A 5% move in the planted direction within the window is much likelier with follow-through
    than without (the market moves 5% by itself often enough)."""
    hits: dict[bool, list[bool]] = {True: [], False: []}
    for e in episodes(api, T0_MS - 60 * DAY, T0_MS - 10 * DAY):
        if e["start"] < T0_MS - 60 * DAY:
            continue
        r = api.get("/api/v3/klines", params={"symbol": e["symbol"], "interval": "1h",
                                              "startTime": e["end"] - HOUR,
                                              "endTime": e["follow_through_end"] - 1,
                                              "limit": 1000})
        if r.status_code != 200:  # delisted since
            continue
        rows = r.json()
        base = float(rows[0][4])
        if e["kind"] == "accumulation":
            hit = max(float(x[2]) for x in rows[1:]) >= base * 1.05
        else:
            hit = min(float(x[3]) for x in rows[1:]) <= base * 0.95
        hits[e["follow_through"]].append(hit)
    assert len(hits[True]) >= 20 and len(hits[False]) >= 10
    rate = {k: sum(v) / len(v) for k, v in hits.items()}
    assert rate[True] > 0.85 and rate[True] > rate[False] + 0.1, rate


def test_candles_inside_an_episode_never_change_as_time_passes():
    clock = FakeClock(T0)
    with serve(seed=42, coins=150, clock=clock) as s, httpx.Client(base_url=s.base_url) as c:
        e = next(e for e in episodes(c, T0_MS - 3 * DAY) if e["end"] > T0_MS)
        before = get(c, "/api/v3/klines", symbol=e["symbol"], interval="1h", limit=200)
        fut_before = get(c, "/fapi/v1/klines", symbol=e["symbol"], interval="1h", limit=200) \
            if c.get("/fapi/v1/openInterest", params={"symbol": e["symbol"]}).status_code == 200 \
            else None
        clock.t = (e["follow_through_end"] + DAY) / 1000
        after = get(c, "/api/v3/klines", symbol=e["symbol"], interval="1h", endTime=T0_MS,
                    limit=200)
        assert after[:-1] == before[:-1] and after[-1][:2] == before[-1][:2]
        if fut_before is not None:
            fut_after = get(c, "/fapi/v1/klines", symbol=e["symbol"], interval="1h",
                            endTime=T0_MS, limit=200)
            assert fut_after[:-1] == fut_before[:-1]
