"""The simulator's CoinGecko and LunarCrush over real loopback HTTP: fields and types, the
listing of every USDT coin (new listings too), rate limits with their headers and 429 bodies,
authentication, determinism, and the planted episodes' social marks.
"""
from __future__ import annotations

from datetime import datetime, timezone
from statistics import median

import httpx
import pytest

from marketdata.simulator.server import SimulatorServer
from marketdata.simulator.testing import FakeClock

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = datetime(2026, 6, 15, 10, 20, tzinfo=timezone.utc).timestamp()
T0_MS = int(T0 * 1000)
CG = "/coingecko/api/v3"
LC = "/lunarcrush/api4/public/coins/list/v2"
MARKET_FIELDS = {"id", "symbol", "name", "image", "current_price", "market_cap", "market_cap_rank",
                 "fully_diluted_valuation", "total_volume", "high_24h", "low_24h",
                 "price_change_24h", "price_change_percentage_24h", "market_cap_change_24h",
                 "market_cap_change_percentage_24h", "circulating_supply", "total_supply",
                 "max_supply", "ath", "ath_change_percentage", "ath_date", "atl",
                 "atl_change_percentage", "atl_date", "roi", "last_updated"}
LC_FIELDS = {"id", "symbol", "name", "price", "volume_24h", "volatility", "circulating_supply",
             "max_supply", "percent_change_1h", "percent_change_24h", "percent_change_7d",
             "market_cap", "market_cap_rank", "interactions_24h", "social_volume_24h",
             "social_dominance", "market_dominance", "galaxy_score", "galaxy_score_previous",
             "alt_rank", "alt_rank_previous", "sentiment", "categories", "last_updated_price"}
FREE = dict(coingecko_per_minute=10**6, lunarcrush_per_minute=10**6, lunarcrush_per_day=10**6)


def serve(**kw) -> SimulatorServer:
    kw.setdefault("clock", FakeClock(T0))
    return SimulatorServer(**{"coins": 150, **FREE, **kw}).start()


@pytest.fixture(scope="module")
def sim():
    with serve(seed=42) as s:
        yield s


@pytest.fixture(scope="module")
def api(sim):
    with httpx.Client(base_url=sim.base_url, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def usdt(api) -> dict[str, dict]:
    return {s["baseAsset"]: s for s in api.get("/api/v3/exchangeInfo").json()["symbols"]
            if s["quoteAsset"] == "USDT"}


@pytest.fixture(scope="module")
def markets(api) -> list[dict]:
    rows = []
    for page in (1, 2):
        r = api.get(CG + "/coins/markets", params={"vs_currency": "usd", "order": "market_cap_desc",
                                                   "per_page": 100, "page": page,
                                                   "price_change_percentage": "1h,24h,7d"})
        assert r.status_code == 200, r.text
        rows += r.json()
    return rows


@pytest.fixture(scope="module")
def lunar(api) -> dict:
    r = api.get(LC, params={"sort": "alt_rank", "limit": 1000, "page": 0, "desc": "false"},
                headers={"Authorization": "Bearer any-key"})
    assert r.status_code == 200, r.text
    return r.json()


def nums(row: dict, *keys: str) -> bool:
    return all(row[k] is None or (isinstance(row[k], (int, float)) and not isinstance(row[k], bool))
               for k in keys)


# ---- CoinGecko ---------------------------------------------------------------------------------
def test_markets_cover_every_usdt_coin_by_market_cap(markets, usdt):
    assert {r["symbol"].upper() for r in markets} == set(usdt)
    assert [r["market_cap_rank"] for r in markets] == list(range(1, len(markets) + 1))
    caps = [r["market_cap"] for r in markets]
    assert caps == sorted(caps, reverse=True) and markets[0]["id"] == "bitcoin"
    for r in markets:
        assert set(r) >= MARKET_FIELDS and r["roi"] is None
        assert r["symbol"] == r["symbol"].lower() and isinstance(r["id"], str)
        assert nums(r, *(MARKET_FIELDS - {"id", "symbol", "name", "image", "roi", "ath_date",
                                          "atl_date", "last_updated"}))
        assert r["last_updated"] == "2026-06-15T10:20:00.000Z"
        datetime.fromisoformat(r["ath_date"].replace("Z", "+00:00"))
        assert r["low_24h"] <= r["current_price"] <= r["high_24h"]
        assert r["atl"] <= r["current_price"] <= r["ath"]
        assert r["market_cap"] == pytest.approx(r["current_price"] * r["circulating_supply"],
                                                rel=1e-6, abs=1)
        if r["total_supply"] is None:
            assert r["fully_diluted_valuation"] is None
        else:
            assert r["fully_diluted_valuation"] == pytest.approx(
                r["current_price"] * r["total_supply"], rel=1e-6, abs=1)
            assert r["circulating_supply"] <= r["total_supply"] * 1.000001
        assert "price_change_percentage_7d_in_currency" in r
    assert any(r["fully_diluted_valuation"] is None for r in markets)  # null means missing
    btc = markets[0]
    assert btc["max_supply"] == 21_000_000 and btc["symbol"] == "btc"
    assert len({r["id"] for r in markets}) == len(markets)


def test_new_listings_are_small_with_a_minority_of_supply_circulating(api, markets, usdt):
    young = []
    for r in markets:
        sym = r["symbol"].upper() + "USDT"
        first = api.get("/api/v3/klines", params={"symbol": sym, "interval": "1h",
                                                  "startTime": 0, "limit": 1}).json()[0][0]
        if first > T0_MS - 7 * DAY and r["fully_diluted_valuation"] is not None:
            young.append(r)
    assert young, "new listings must be on CoinGecko"
    fdv = [r["fully_diluted_valuation"] for r in young]
    assert median(fdv) < 40e6 and min(fdv) > 0.1e6
    shares = [r["circulating_supply"] / r["total_supply"] for r in young]
    assert all(0.04 <= s <= 0.61 for s in shares)


def test_prices_match_the_spot_market(api, markets):
    eth = next(r for r in markets if r["id"] == "ethereum")
    spot = float(api.get("/api/v3/ticker/price", params={"symbol": "ETHUSDT"}).json()["price"])
    assert eth["current_price"] == pytest.approx(spot, rel=1e-6)


def test_coins_list_and_paging(api, markets):
    ids = api.get(CG + "/coins/list").json()
    assert {r["id"] for r in ids} == {r["id"] for r in markets}
    assert all(set(r) == {"id", "symbol", "name"} for r in ids)
    page = api.get(CG + "/coins/markets", params={"vs_currency": "usd", "per_page": 10,
                                                  "page": 3}).json()
    assert [r["id"] for r in page] == [r["id"] for r in markets[20:30]]
    assert api.get(CG + "/coins/markets", params={"vs_currency": "usd", "page": 99}).json() == []
    assert api.get(CG + "/coins/markets").status_code == 400  # vs_currency is required


@pytest.mark.parametrize("html", [False, True])
def test_coingecko_rate_limit_429_json_or_html(html):
    clock = FakeClock(1_800_000_000.0 + 0.25)
    with SimulatorServer(coins=60, clock=clock, window_seconds=1, coingecko_per_minute=3,
                         html_429=html).start() as s, httpx.Client(base_url=s.base_url) as c:
        codes = [c.get(CG + "/coins/list").status_code for _ in range(3)]
        r = c.get(CG + "/coins/list")
        assert codes == [200] * 3 and r.status_code == 429
        assert ("retry-after", "1") in [(k.decode(), v.decode()) for k, v in r.headers.raw]
        if html:
            assert r.headers["content-type"].startswith("text/html") and b"<html" in r.content
        else:
            assert r.json() == {"status": {"error_code": 429, "error_message": (
                "You've exceeded the Rate Limit. Please visit https://www.coingecko.com/en/api/"
                "pricing to subscribe to our API plans for higher rate limits.")}}
        assert [c.get(CG + "/ping").status_code for _ in range(5)] == [429] * 5  # never a 418
        clock.t += 1
        assert c.get(CG + "/coins/list").status_code == 200


# ---- LunarCrush --------------------------------------------------------------------------------
def test_lunarcrush_lists_every_usdt_coin_with_consistent_ranks(lunar, usdt):
    config, data = lunar["config"], lunar["data"]
    assert config == {"sort": "alt_rank", "desc": False, "limit": 1000, "page": 0,
                      "total_rows": len(data), "generated": int(T0)}
    assert {d["symbol"] for d in data} == set(usdt)
    assert [d["alt_rank"] for d in data] == list(range(1, len(data) + 1))  # a permutation
    for d in data:
        assert set(d) == LC_FIELDS and d["symbol"] == d["symbol"].upper()
        assert nums(d, *(LC_FIELDS - {"symbol", "name", "categories"}))
        assert 0 <= d["galaxy_score"] <= 100 and 0 <= d["sentiment"] <= 100
        assert d["social_volume_24h"] >= 0 and d["interactions_24h"] >= d["social_volume_24h"]
    assert sum(d["social_dominance"] for d in data) == pytest.approx(100, abs=0.01)
    prev = [d["alt_rank_previous"] for d in data if d["alt_rank_previous"] is not None]
    assert len(set(prev)) == len(prev)


def test_lunarcrush_previous_values_are_the_values_24h_earlier():
    clock = FakeClock(T0 - 86400)
    with serve(clock=clock) as s, httpx.Client(base_url=s.base_url) as c:
        before = {d["symbol"]: d for d in c.get(LC, params={"limit": 1000}).json()["data"]}
        clock.t = T0
        now = c.get(LC, params={"limit": 1000}).json()["data"]
    both = [d for d in now if d["symbol"] in before]
    assert all(d["galaxy_score_previous"] == before[d["symbol"]]["galaxy_score"] for d in both)
    assert all(d["alt_rank_previous"] == before[d["symbol"]]["alt_rank"] for d in both)
    fresh = [d for d in now if d["symbol"] not in before]
    assert all(d["galaxy_score_previous"] is None for d in fresh)


def test_new_listings_often_rank_well(lunar, api):
    first = {}
    for d in lunar["data"]:
        r = api.get("/api/v3/klines", params={"symbol": d["symbol"] + "USDT", "interval": "1h",
                                              "startTime": 0, "limit": 1}).json()
        first[d["symbol"]] = r[0][0]
    fresh = [d for d in lunar["data"] if first[d["symbol"]] > T0_MS - 7 * DAY]
    old = [d for d in lunar["data"] if first[d["symbol"]] < T0_MS - 60 * DAY]
    assert fresh
    assert median(d["alt_rank"] for d in fresh) < median(d["alt_rank"] for d in old)
    assert len({round(d["galaxy_score"]) for d in fresh}) > 1  # varied, not one fixed value


def test_sorting_paging_and_determinism(api, lunar):
    page = api.get(LC, params={"sort": "galaxy_score", "desc": "true", "limit": 7,
                               "page": 1}).json()["data"]
    scores = sorted((d["galaxy_score"] for d in lunar["data"]), reverse=True)
    assert [d["galaxy_score"] for d in page] == scores[7:14]
    assert api.get(LC, params={"sort": "nope"}).status_code == 400
    with serve(seed=42) as s, httpx.Client(base_url=s.base_url) as c:
        again = c.get(LC, params={"sort": "alt_rank", "limit": 1000, "page": 0,
                                  "desc": "false"}).json()
    assert again == lunar


def test_lunarcrush_quota_headers_and_429():
    clock = FakeClock(1_800_000_000.0 + 0.25)
    with SimulatorServer(coins=60, clock=clock, window_seconds=1, lunarcrush_per_minute=3,
                         lunarcrush_per_day=5).start() as s, httpx.Client(base_url=s.base_url) as c:
        heads = [c.get(LC).headers for _ in range(3)]
        assert [h["x-rate-limit-minute-remaining"] for h in heads] == ["2", "1", "0"]
        assert [h["x-rate-limit-day-remaining"] for h in heads] == ["4", "3", "2"]
        assert all(h["x-rate-limit-minute-reset"] == "1800000001" for h in heads)
        r = c.get(LC)
        assert r.status_code == 429 and r.json() == {"error": "Too Many Requests"}
        assert r.headers["retry-after"] == "1" and r.headers["x-rate-limit-minute-remaining"] == "0"
        clock.t += 1
        assert [c.get(LC).status_code for _ in range(3)] == [200, 200, 429]  # the day is used up
        r = c.get(LC)
        assert r.headers["x-rate-limit-day-remaining"] == "0"
        assert int(r.headers["retry-after"]) > 60  # until the end of the (1440-window) day


def test_keys_are_optional_unless_required():
    with SimulatorServer(coins=60, clock=FakeClock(T0), require_keys=True).start() as s, \
            httpx.Client(base_url=s.base_url) as c:
        r = c.get(LC)
        assert r.status_code == 401 and r.json() == {"error": "Unauthorized"}
        assert c.get(LC, headers={"Authorization": "Bearer"}).status_code == 401
        assert c.get(LC, headers={"Authorization": "Bearer k"}).status_code == 200


# ---- episodes in social data -------------------------------------------------------------------
def test_accumulation_is_socially_quiet_and_distribution_is_fomo():
    clock = FakeClock(T0)
    with serve(clock=clock) as s, httpx.Client(base_url=s.base_url) as c:
        eps = [e for e in c.get("/sim/episodes", params={"start": T0_MS - 20 * DAY}).json()
               if e["start"] > T0_MS - 20 * DAY and e["end"] < T0_MS]
        ratio: dict[str, list[float]] = {"accumulation": [], "distribution": []}
        delta: dict[str, list[float]] = {"accumulation": [], "distribution": []}
        for e in sorted(eps, key=lambda e: e["start"])[-14:]:  # the clock only moves forward
            def at(t: int) -> dict | None:
                clock.t = t / 1000
                rows = c.get(LC, params={"limit": 1000}).json()["data"]
                return next((d for d in rows if d["symbol"] + "USDT" == e["symbol"]), None)
            during, before = at(e["start"] + 12 * HOUR), at(e["start"] - 36 * HOUR)
            if during and before:
                ratio[e["kind"]].append(during["social_volume_24h"] / before["social_volume_24h"])
                delta[e["kind"]].append(during["galaxy_score"] - before["galaxy_score"])
    assert len(ratio["accumulation"]) >= 4 and len(ratio["distribution"]) >= 4
    assert median(ratio["accumulation"]) < 0.8 and median(delta["accumulation"]) < -5
    assert median(ratio["distribution"]) > 1.5 and median(delta["distribution"]) > 5
