"""`evaluate-scanners`: the replayed scanners measured against the simulator's planted episodes.
Pure parts on synthetic data; the command end to end against a simulator on loopback."""
import json
import socket
import time
from io import StringIO

import httpx
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from marketdata.models import DataSource
from marketdata.simulator.server import SimulatorServer
from scanners.coindata import DAY_MS, HOUR_MS
from scanners.evaluation import (Call, CallEvent, Episode, Replay, evaluate, merge_calls, mss_outcome, overlaps,
                                 rate, wilson)
from scanners.pipeline import Thresholds
from tests.conftest import point_all_at

T = 1_780_000_000_000 // HOUR_MS * HOUR_MS  # a whole hour


# ---- Wilson interval ------------------------------------------------------------------------------
def test_wilson_matches_a_hand_computed_interval():
    # 8 of 10, z = 1.96: centre (0.8 + 1.96²/20) / (1 + 1.96²/10) = 0.716738,
    # half-width 1.96 · √(0.8·0.2/10 + 1.96²/400) / 1.38415 = 0.226581
    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(0.490157, abs=1e-5) and hi == pytest.approx(0.943319, abs=1e-5)


def test_wilson_edges_and_empty_samples():
    assert wilson(0, 0) is None
    lo, hi = wilson(0, 20)
    assert lo == 0 and hi == pytest.approx(0.1611, abs=1e-4)  # 1.96² / (20 + 1.96²)
    assert wilson(20, 20)[1] == 1
    assert rate(0, 0) == {"k": 0, "n": 0, "rate": None, "ci95": None}  # no sample: null, not 0
    assert rate(3, 4)["rate"] == 0.75
    with pytest.raises(ValueError):
        wilson(5, 4)


# ---- merging calls into events, and the overlap rule -----------------------------------------------
def test_consecutive_hourly_calls_of_a_coin_merge_into_one_event():
    calls = [Call("AUSDT", "accumulation", T + h * HOUR_MS, s) for h, s in ((0, 7), (1, 8), (2, 7), (5, 9))]
    calls += [Call("AUSDT", "distribution", T + 3 * HOUR_MS, 7), Call("BUSDT", "accumulation", T + HOUR_MS, 7)]
    events = merge_calls(reversed(calls), HOUR_MS)  # order of arrival does not matter
    acc_a = [e for e in events if e.symbol == "AUSDT" and e.kind == "accumulation"]
    assert [(e.first_ms - T, e.last_ms - T, e.calls, e.peak) for e in acc_a] == [
        (0, 2 * HOUR_MS, 3, 8), (5 * HOUR_MS, 5 * HOUR_MS, 1, 9)]  # a gap starts a new event
    assert len(events) == 4  # the other kind and the other coin are events of their own


def test_with_a_longer_step_consecutive_means_one_step_apart():
    step = 6 * HOUR_MS
    calls = [Call("AUSDT", "accumulation", T + k * step, 7) for k in (0, 1, 3)]
    assert [e.calls for e in merge_calls(calls, step)] == [2, 1]


def test_an_event_is_about_the_hours_its_calls_read():
    ep = Episode("AUSDT", "accumulation", T, T + 24 * HOUR_MS)

    def event(first_h: int, last_h: int, symbol="AUSDT", kind="accumulation") -> CallEvent:
        return CallEvent(symbol, kind, T + first_h * HOUR_MS, T + last_h * HOUR_MS, 1, 7)
    assert not overlaps(event(-5, 0), ep)  # a call at the start saw only the hour before it
    assert overlaps(event(-5, 1), ep)  # ... an hour later it has read the episode's first hour
    assert overlaps(event(24, 30), ep)  # a call at the end has read its last hour
    assert not overlaps(event(25, 30), ep)  # a call starting after that is about later hours
    assert not overlaps(event(3, 4, kind="distribution"), ep)
    assert not overlaps(event(3, 4, symbol="BUSDT"), ep)


# ---- MSS outcomes ---------------------------------------------------------------------------------
def candles(closes: list[float], first_open: int) -> list[tuple[int, float, float, float]]:
    return [(first_open + i * HOUR_MS, c, 1.0, 0.5) for i, c in enumerate(closes)]


def test_mss_hit_miss_pending_and_no_data():
    entry = T + HOUR_MS  # scored at T + 1h on the candle that opened at T
    week = 7 * 24
    flat = [100.0] * (week + 1)
    now = entry + 8 * DAY_MS
    up = flat.copy()
    up[100] = 105.01  # above +5% at one close in the week
    assert mss_outcome(candles(up, T), entry, now)["outcome"] == "hit"
    at5 = flat.copy()
    at5[50] = 105.0  # exactly +5% is no WIN (SCORING.md §8: > +5)
    assert mss_outcome(candles(at5, T), entry, now) == {"outcome": "miss", "entry_close": 100.0,
                                                         "max_close_pct": 5.0}
    late = flat + [200.0]  # the close after the 7 days does not count
    assert mss_outcome(candles(late, T), entry, now)["outcome"] == "miss"
    # The week is not over: pending, even when it has already risen (no early verdicts either way).
    assert mss_outcome(candles(up[:120], T), entry, entry + 5 * DAY_MS)["outcome"] == "pending"
    assert mss_outcome(candles(flat[:120], T), entry, entry + 5 * DAY_MS)["outcome"] == "pending"
    assert mss_outcome(candles(flat[:120], T), entry, now)["outcome"] == "no_data"  # over, but candles stop


def test_mss_hit_rate_counts_only_decided_listings():
    week_h = 7 * 24
    now = T + 20 * DAY_MS
    hist = {
        "HITUSDT": candles([100.0] * 10 + [110.0] * week_h, T),
        "MISSUSDT": candles([100.0] * (week_h + 10), T),
        "NEWUSDT": candles([100.0] * 30 + [120.0], now - 31 * HOUR_MS),
    }
    from scanners.coindata import CoinData
    history = {s: CoinData(s, i, None, False, c) for i, (s, c) in enumerate(hist.items())}
    rp = Replay([T + HOUR_MS], HOUR_MS)
    rp.mss_first = {"HITUSDT": {"at_ms": T + HOUR_MS, "mss": 80, "coverage": 1, "phases": []},
                    "MISSUSDT": {"at_ms": T + HOUR_MS, "mss": 76, "coverage": 1, "phases": []},
                    "NEWUSDT": {"at_ms": now - 30 * HOUR_MS, "mss": 90, "coverage": 1, "phases": []}}
    rp.mss_scored = set(rp.mss_first)
    report = evaluate(history, rp, [], Thresholds(), now)["mss"]
    assert report["hit_rate"]["k"] == 1 and report["hit_rate"]["n"] == 2 and report["pending"] == 1
    assert {x["symbol"]: x["outcome"] for x in report["listings"]} == {
        "HITUSDT": "hit", "MISSUSDT": "miss", "NEWUSDT": "pending"}


# ---- precision and recall on a synthetic replay ---------------------------------------------------
def test_precision_recall_and_base_rate_on_synthetic_calls():
    from scanners.coindata import CoinData
    times = [T + h * HOUR_MS for h in range(1, 101)]  # data hours T .. T+99h
    rp = Replay(times, HOUR_MS, coin_hours=200)
    rp.live = {"AUSDT": set(times), "BUSDT": set(times)}
    # AUSDT: a true event inside its episode and a false one later; BUSDT: a false event.
    rp.calls = [Call("AUSDT", "accumulation", T + h * HOUR_MS, 7) for h in (11, 12, 13, 60)]
    rp.calls += [Call("BUSDT", "accumulation", T + 30 * HOUR_MS, 8)]
    episodes = [Episode("AUSDT", "accumulation", T + 10 * HOUR_MS, T + 20 * HOUR_MS),
                Episode("BUSDT", "accumulation", T + 70 * HOUR_MS, T + 90 * HOUR_MS),
                Episode("BUSDT", "distribution", T + 40 * HOUR_MS, T + 45 * HOUR_MS),
                Episode("CUSDT", "accumulation", T + 10 * HOUR_MS, T + 20 * HOUR_MS),  # coin not evaluated
                Episode("AUSDT", "accumulation", T + 200 * HOUR_MS, T + 220 * HOUR_MS)]  # outside the range
    history = {s: CoinData(s, i, None, False) for i, s in enumerate(("AUSDT", "BUSDT"))}
    report = evaluate(history, rp, episodes, Thresholds(), T + 200 * HOUR_MS)
    acc = report["accumulation"]
    assert (acc["events"], acc["true_positive_events"], acc["episodes"], acc["episodes_hit"]) == (3, 1, 2, 1)
    assert acc["precision"]["rate"] == pytest.approx(1 / 3) and acc["recall"]["rate"] == 0.5
    assert acc["base_rate"] == {**acc["base_rate"], "k": 30, "n": 200}  # 10 + 20 active coin-hours
    assert acc["precision_coin_hours"]["k"] == 3 and acc["precision_coin_hours"]["n"] == 5
    assert acc["lift"] == pytest.approx(round((3 / 5) / (30 / 200), 2))
    dist = report["distribution"]
    assert dist["events"] == 0 and dist["precision"]["rate"] is None and dist["precision"]["n"] == 0
    assert dist["episodes"] == 1 and dist["recall"] == {"k": 0, "n": 1, "rate": 0.0, "ci95": dist["recall"]["ci95"]}


# ---- the command against the simulator ------------------------------------------------------------
def rates_in(node, path=""):
    """Every {"k", "n", "rate", "ci95"} in the report."""
    if isinstance(node, dict):
        if set(node) == {"k", "n", "rate", "ci95"}:
            yield path, node
        for k, v in node.items():
            yield from rates_in(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from rates_in(v, f"{path}[{i}]")


@pytest.fixture(scope="module")
def sim120():
    with SimulatorServer(seed=21, coins=120) as server:
        yield server


def planted_coins(base_url: str) -> tuple[list[str], list[dict]]:
    """Perpetuals with an episode that had at least a day of closed hours in the last 10 days (the
    scanners read 24-hour windows): up to four of each kind."""
    now = int(time.time() * 1000)
    start = now - 10 * DAY_MS
    with httpx.Client(base_url=base_url) as c:
        episodes = c.get("/sim/episodes", params={"start": start, "end": now}).json()
        perps = {s["symbol"] for s in c.get("/fapi/v1/exchangeInfo").json()["symbols"] if s["status"] == "TRADING"}
        spot = {s["symbol"] for s in c.get("/api/v3/exchangeInfo").json()["symbols"] if s["status"] == "TRADING"}
    usable = [e for e in episodes if e["symbol"] in perps & spot
              and min(e["end"], now) - max(e["start"], start) >= DAY_MS + HOUR_MS]
    chosen: list[str] = []
    for kind in ("accumulation", "distribution"):
        chosen += sorted({e["symbol"] for e in usable if e["kind"] == kind} - set(chosen))[:4]
    assert chosen, "no usable episode in the last 10 days"
    return chosen, episodes


@pytest.mark.django_db
def test_evaluate_scanners_against_the_planted_episodes(settings, sim120):
    point_all_at(settings, sim120.base_url)
    settings.SIMULATOR_URL = sim120.base_url
    coins, _ = planted_coins(sim120.base_url)
    call_command("backfill", "--days", "12", "--coins", ",".join(coins), stdout=StringIO())
    call_command("backfill", "--metrics-days", "10", "--coins", ",".join(coins), stdout=StringIO())
    out = StringIO()
    call_command("evaluate-scanners", "--days", "10", "--json", stdout=out)
    report = json.loads(out.getvalue())

    assert report["coins"]["evaluated"] == len(coins) == report["coins"]["with_futures_metrics"]
    assert report["range"]["evaluations"] in (240, 241) and report["range"]["step_hours"] == 1
    assert report["simulator"]["seed"] == 21 and report["simulator"]["candles_checked"] >= 1
    assert report["simulator"]["planted_params"] == {"follow_through_prob": 0.65}
    assert report["missing_inputs_share"]["social_activity_pct"] == 1.0  # no social history: missing
    assert "funding_pct" not in report["missing_inputs_share"] or report["missing_inputs_share"]["funding_pct"] < 0.05
    for kind in ("accumulation", "distribution"):
        k = report[kind]
        assert 0 <= k["true_positive_events"] <= k["events"]
        assert 0 <= k["episodes_hit"] <= k["episodes"]
        assert k["precision"]["k"] == k["true_positive_events"] and k["precision"]["n"] == k["events"]
        assert k["recall"]["k"] == k["episodes_hit"] and k["recall"]["n"] == k["episodes"]
        assert k["base_rate"]["n"] == report["coins"]["coin_hours"]
        assert len(k["missed_episodes"]) == min(25, k["episodes"] - k["episodes_hit"])
    for path, r in rates_in(report):
        assert 0 <= r["k"] <= r["n"], path
        if r["n"] == 0:
            assert r["rate"] is None and r["ci95"] is None, path
        else:
            assert r["rate"] == r["k"] / r["n"], path
            assert r["ci95"][0] <= r["rate"] + 1e-4 and r["rate"] - 1e-4 <= r["ci95"][1], path
    assert report["episodes_in_scope"] == report["accumulation"]["episodes"] + report["distribution"]["episodes"]
    assert set(report["mss"]) >= {"threshold", "reached", "hit_rate", "pending", "listings"}
    # The scanners, unchanged, call at least one of the planted episodes.
    assert report["accumulation"]["episodes_hit"] + report["distribution"]["episodes_hit"] >= 1, report


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.mark.django_db
def test_no_simulator_means_no_ground_truth(settings):
    settings.SIMULATOR_URL = url = dead_url()
    DataSource.objects.create(name="binance_spot", base_url=url, simulated=True, last_success_at=timezone.now())
    with pytest.raises(CommandError, match="does not answer.*only for simulated markets"):
        call_command("evaluate-scanners", "--days", "1", stdout=StringIO())


@pytest.mark.django_db
def test_a_real_market_has_no_ground_truth(settings, sim120):
    settings.SIMULATOR_URL = sim120.base_url
    DataSource.objects.create(name="binance_spot", base_url="https://api.binance.com", simulated=False,
                              last_success_at=timezone.now())
    with pytest.raises(CommandError, match="not the simulator.*only for simulated markets"):
        call_command("evaluate-scanners", "--days", "1", stdout=StringIO())
