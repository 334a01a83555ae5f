"""`scan all` end to end against the simulator: the request plan, storage, warm scans, faults."""
import json
from io import StringIO

import httpx
import pytest
from django.core.management import call_command

from cryptosatx.scanning import scan as run_scan
from scanners.models import ScanResult, ScanRun
from signals.models import UnifiedScore
from marketdata.models import MetricPoint
from marketdata.simulator.server import SimulatorServer
from tests.conftest import point_all_at

pytestmark = pytest.mark.django_db
SCANNERS = {"rsi", "smart_money", "social", "whale", "volume_spike"}


@pytest.fixture(scope="module")
def small_sim():
    with SimulatorServer(seed=11, coins=60) as server:
        yield server


def test_scan_all_scores_every_coin_with_every_scanner_and_unifies(settings, small_sim):
    point_all_at(settings, small_sim.base_url)
    run = run_scan("all")
    assert run.status == "completed", run.errors
    assert run.coverage == 1.0 and run.scored == run.universe_size >= 55
    per_coin = {}
    for r in ScanResult.objects.filter(run=run).select_related("coin"):
        per_coin.setdefault(r.coin.symbol, set()).add(r.scanner)
    assert len(per_coin) == run.universe_size
    assert all(SCANNERS <= s for s in per_coin.values())
    # MSS scores only listings younger than 7 days.
    young = ScanResult.objects.filter(run=run, scanner="mss")
    assert all(r.inputs["age_hours"]["value"] < 168 for r in young)
    # One latest unified score per coin, with its breakdown and coverage.
    latest = UnifiedScore.objects.filter(is_latest=True)
    assert latest.count() == run.universe_size
    btc = latest.get(coin__symbol="BTCUSDT")
    assert btc.unified_score is not None and 0 <= btc.unified_score <= 100
    assert set(btc.breakdown) == {"accumulation", "mss", "technical", "social_momentum", "whale", "volume_spike"}
    assert btc.breakdown["mss"]["raw"] is None and "mss" in btc.missing  # BTC is no new listing
    assert 0 < btc.coverage < 1


def test_the_request_plan_uses_bulk_endpoints_and_one_request_per_coin(settings, small_sim):
    point_all_at(settings, small_sim.base_url)
    run = run_scan("all")
    n = run.universe_size
    spot, fut = run.requests["binance_spot"], run.requests["binance_futures"]
    assert spot["requests"] == 1 + n  # exchangeInfo + one klines page per coin
    perps = MetricPoint.objects.filter(metric="open_interest").values("coin").distinct().count()
    shortlist = len(run.parameters["shortlist"])
    # exchangeInfo + premiumIndex for all + one openInterest per perpetual + capped calls for the shortlist
    assert fut["requests"] - 2 - perps == fut["buckets"].get("futures_data", 0)
    assert fut["buckets"].get("futures_data", 0) <= 3 * shortlist
    assert run.requests["lunarcrush"]["requests"] == 1 and run.requests["coingecko"]["requests"] == 1
    total = sum(s["requests"] for s in run.requests.values())
    assert run.parameters["floor_seconds"] == pytest.approx(
        total / settings.PARALLEL_MAX_CONCURRENT * run.parameters["median_round_trip_ms"] / 1000, rel=0.01)
    assert run.duration_seconds >= run.parameters["floor_seconds"]


def test_inputs_carry_their_data_times_and_missing_inputs_are_listed(settings, small_sim):
    point_all_at(settings, small_sim.base_url)
    run = run_scan("all")
    r = ScanResult.objects.get(run=run, coin__symbol="ETHUSDT", scanner="smart_money")
    for name in ("buy_pressure_pct", "funding_pct", "social_activity_pct", "pct_4h", "pct_24h"):
        assert r.inputs[name]["value"] is not None and r.inputs[name]["as_of"], name
    assert r.missing == []
    assert r.scores["accumulation"] is not None and r.scores["distribution"] is not None


def test_a_warm_scan_fetches_only_what_is_new(settings, small_sim):
    point_all_at(settings, small_sim.base_url)
    run_scan("all")
    warm = run_scan("all")
    assert warm.status == "completed"
    assert warm.requests["binance_spot"]["requests"] == warm.universe_size  # exchangeInfo comes from the cache
    assert "lunarcrush" not in warm.requests and "coingecko" not in warm.requests  # still fresh in L1/L2
    assert UnifiedScore.objects.filter(is_latest=True).count() == warm.universe_size


def test_a_single_scanner_keeps_the_other_components_of_the_unified_score(settings, small_sim):
    point_all_at(settings, small_sim.base_url)
    run_scan("all")
    before = UnifiedScore.objects.get(is_latest=True, coin__symbol="BTCUSDT")
    run = run_scan("rsi", ["BTCUSDT"])
    after = UnifiedScore.objects.get(is_latest=True, coin__symbol="BTCUSDT")
    assert after.pk != before.pk and after.run_id == run.pk
    assert after.components["smart_money"] == before.components["smart_money"]
    assert after.components["rsi"]["run"] == run.pk
    assert run.requests.keys() == {"binance_spot"}  # RSI needs candles only


def test_scan_all_json_lists_each_coins_results(settings, small_sim):
    point_all_at(settings, small_sim.base_url)
    out = StringIO()
    call_command("scan", "all", "--coins", "BTCUSDT,ETHUSDT", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert {r["symbol"] for r in report["results"]} == {"BTCUSDT", "ETHUSDT"}
    btc = next(r for r in report["results"] if r["symbol"] == "BTCUSDT")
    assert set(btc["scanners"]) >= SCANNERS and btc["unified"]["unified_score"] is not None


def test_a_faulty_market_gives_partial_coverage_with_every_failure_recorded(settings):
    settings.HTTP_TIMEOUT_SECONDS = 0.5
    settings.HTTP_MAX_RETRIES = 1
    with SimulatorServer(seed=5, coins=60, error_rate=0.2, timeout_rate=0.05, timeout_seconds=2,
                         malformed_rate=0.05, html_429=True) as server:
        point_all_at(settings, server.base_url)
        run = run_scan("all")
        state = httpx.get(f"{server.base_url}/sim/state").json()
    assert run.status == "partial" and run.coverage < 1
    failed = {e["symbol"] for e in run.errors}
    assert failed and all(e["error"] for e in run.errors)
    assert all(":" in e["error"] for e in run.errors)  # the reason, e.g. "klines: ... (HTTP 502)"
    assert state["status_counts"].get("418", 0) == 0
    assert sum(state["faults"].values()) > 0
    scored = set(ScanResult.objects.filter(run=run).values_list("coin__symbol", flat=True))
    klines_failed = {e["symbol"] for e in run.errors if e["error"].startswith("klines")}
    assert not scored & klines_failed  # a coin without candles is not scored from nothing
    assert ScanRun.objects.get(pk=run.pk).errors == run.errors


def test_mss_on_an_old_coin_says_it_scores_new_listings_only(settings, small_sim):
    from django.core.management import CommandError
    point_all_at(settings, small_sim.base_url)
    with pytest.raises(CommandError, match="younger than 7 days"):
        call_command("scan", "mss", "--coins", "BTCUSDT", stdout=StringIO())
