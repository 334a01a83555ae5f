"""`backfill --metrics-days`: the perpetuals' futures metrics of the last N days, archived under the
live scan's metric names, through the governed clients, against a real simulator on loopback."""
import json
from collections import Counter
from io import StringIO

import httpx
import pytest
from django.core.management import CommandError, call_command

from marketdata.models import Coin, MetricPoint
from marketdata.simulator.server import SimulatorServer
from tests.conftest import point_all_at

pytestmark = pytest.mark.django_db
HOURLY = ("open_interest", "top_position_ratio", "futures_taker_buy_vol", "futures_taker_sell_vol")


@pytest.fixture(scope="module")
def sim40():
    with SimulatorServer(seed=3, coins=40) as server:
        yield server


@pytest.fixture
def markets(settings, sim40):
    """(three perpetuals, one spot-only coin) of the simulated exchange."""
    point_all_at(settings, sim40.base_url)
    with httpx.Client(base_url=sim40.base_url) as c:
        perps = {s["symbol"] for s in c.get("/fapi/v1/exchangeInfo").json()["symbols"] if s["status"] == "TRADING"}
        spot = [s["symbol"] for s in c.get("/api/v3/exchangeInfo").json()["symbols"]
                if s["status"] == "TRADING" and s["quoteAsset"] == "USDT"]
    three = ["BTCUSDT", "ETHUSDT"] + sorted(perps - {"BTCUSDT", "ETHUSDT"} & set(spot))[:1]
    spot_only = sorted(set(spot) - perps)[0]
    return three, spot_only


def backfill_json(*args: str) -> dict:
    out = StringIO()
    call_command("backfill", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_three_days_of_metrics_for_three_perpetuals(settings, sim40, markets):
    three, _ = markets
    report = backfill_json("--metrics-days", "3", "--coins", ",".join(three))
    assert report["candles"] == 0 and not report["errors"]  # metrics alone load no candles
    m = report["metrics"]
    assert m["coins"] == 3 and m["spot_only"] == 0 and m["points"] == m["new_points"] == MetricPoint.objects.count()
    per = Counter(MetricPoint.objects.values_list("coin__symbol", "metric"))
    for symbol in three:
        for metric in HOURLY:
            assert 71 <= per[(symbol, metric)] <= 73, (symbol, metric)  # one an hour
        assert 8 <= per[(symbol, "funding_pct")] <= 10  # settled every 8 hours
    assert set(MetricPoint.objects.values_list("source", flat=True)) == {"binance_futures"}
    # Every request went through the governed client: the capped buckets are counted.
    futures = report["requests"]["binance_futures"]
    assert futures["buckets"] == {"futures_data": 3 * 3, "funding": 3}  # 72 rows: one page per series
    assert futures["requests"] == 1 + 9 + 3  # + exchangeInfo
    assert Coin.objects.filter(symbol__in=three, has_perpetual=True).count() == 3


def test_units_match_the_live_scan(settings, sim40, markets):
    three, _ = markets
    symbol = three[2]
    backfill_json("--metrics-days", "3", "--coins", symbol)
    with httpx.Client(base_url=sim40.base_url) as c:
        rates = c.get("/fapi/v1/fundingRate", params={"symbol": symbol, "limit": 3}).json()
        taker = c.get("/futures/data/takerlongshortRatio", params={"symbol": symbol, "period": "1h", "limit": 2}).json()
        oi = c.get("/futures/data/openInterestHist", params={"symbol": symbol, "period": "1h", "limit": 2}).json()
    stored = {(m, int(at.timestamp() * 1000)): v for m, at, v in
              MetricPoint.objects.filter(coin__symbol=symbol).values_list("metric", "at", "value")}
    for r in rates:  # funding in percent: fundingRate × 100, at fundingTime
        assert stored[("funding_pct", r["fundingTime"])] == pytest.approx(float(r["fundingRate"]) * 100)
        assert abs(stored[("funding_pct", r["fundingTime"])]) < 1  # percent, not a raw rate times 1e4
    for r in taker:
        assert stored[("futures_taker_buy_vol", int(r["timestamp"]))] == pytest.approx(float(r["buyVol"]))
        assert stored[("futures_taker_sell_vol", int(r["timestamp"]))] == pytest.approx(float(r["sellVol"]))
    for r in oi:
        assert stored[("open_interest", int(r["timestamp"]))] == pytest.approx(float(r["sumOpenInterest"]))


def test_a_second_run_stores_no_duplicates(settings, sim40, markets):
    three, _ = markets
    first = backfill_json("--metrics-days", "3", "--coins", ",".join(three))
    count = MetricPoint.objects.count()
    second = backfill_json("--metrics-days", "3", "--coins", ",".join(three))
    assert second["metrics"]["points"] >= first["metrics"]["points"] - 15  # fetched again
    assert MetricPoint.objects.count() - count == second["metrics"]["new_points"] <= 15  # an hour may pass
    keys = MetricPoint.objects.values_list("coin_id", "metric", "at")
    assert len(set(keys)) == len(keys)


def test_long_ranges_page_through_the_series(settings, sim40, markets):
    three, _ = markets
    report = backfill_json("--metrics-days", "25", "--coins", three[0])  # 600 hours: two pages of ≤ 500
    assert report["requests"]["binance_futures"]["buckets"]["futures_data"] == 3 * 2
    times = sorted(MetricPoint.objects.filter(metric="top_position_ratio").values_list("at", flat=True))
    assert 599 <= len(times) <= 601
    assert all((b - a).total_seconds() == 3600 for a, b in zip(times, times[1:]))  # no gap between the pages


def test_spot_only_coins_are_skipped_and_candles_can_come_along(settings, sim40, markets):
    three, spot_only = markets
    out = StringIO()
    call_command("backfill", "--days", "1", "--metrics-days", "1", "--coins", f"{three[0]},{spot_only}", stdout=out)
    text = out.getvalue()
    assert "1 perpetuals (1 spot-only coins skipped)" in text
    assert "LunarCrush has no history endpoint" in text and "missing, not 0" in text
    assert "futures_data 3" in text
    assert not MetricPoint.objects.filter(coin__symbol=spot_only).exists()
    assert Coin.objects.get(symbol=spot_only).has_perpetual is False
    assert Coin.objects.get(symbol=three[0]).candles.count() >= 23


def test_limit_coins_caps_the_work(settings, sim40, markets):
    report = backfill_json("--metrics-days", "1", "--limit-coins", "2")
    assert report["coins"] == 2 == Coin.objects.count()
    assert report["metrics"]["coins"] + report["metrics"]["spot_only"] == 2


def test_more_than_thirty_days_is_refused(settings, sim40, markets):
    with pytest.raises(CommandError, match="30 days"):
        call_command("backfill", "--metrics-days", "31", stdout=StringIO())
