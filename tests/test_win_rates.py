"""Wilson intervals, the Sharpe ratio, /api/analytics/win-rates, and the tiers' track record."""
import math
from datetime import timedelta

import pytest
from django.utils import timezone as dj_timezone
from rest_framework.test import APIClient

from performance.models import SignalOutcome
from performance.stats import summarise, wilson
from signals.messages import render_alert, tier_track_record
from signals.models import Signal
from tests.api_factories import make_coin, make_unified
from tests.outcome_factories import T, coin, outcome, signal

URL = "/api/analytics/win-rates"
NOW = T + timedelta(days=10)


@pytest.fixture
def now(monkeypatch):
    monkeypatch.setattr(dj_timezone, "now", lambda: NOW)
    return NOW


def test_wilson_against_a_hand_computed_interval():
    low, high = wilson(8, 10)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert wilson(0, 0) is None
    assert wilson(0, 10)[0] == 0 and wilson(10, 10)[1] == 1


def unsaved(returns, direction="LONG"):
    """Evaluated outcomes in memory with these trade returns (days apart, so the span is known)."""
    out = []
    for i, r in enumerate(returns):
        s = Signal(direction=direction, candle_close_time=T + timedelta(days=i))
        pnl = r if direction == "LONG" else -r
        out.append(SignalOutcome(signal=s, horizon="24h", status="evaluated", pnl_pct=pnl,
                                 outcome="WIN" if r > 5 else "LOSS" if r < -3 else "NEUTRAL"))
    return out


def test_sharpe_is_null_below_30_with_a_reason():
    stats = summarise(unsaved([float(i % 7) for i in range(29)]), window_days=30)
    assert stats["sharpe_ratio"] is None and "30" in stats["sharpe_ratio_note"] and stats["n"] == 29


@pytest.mark.parametrize("direction", ["LONG", "SHORT"])
def test_sharpe_at_30_against_a_hand_computation(direction):
    returns = [6.0] * 12 + [-4.0] * 10 + [1.0] * 8  # 30 signals in a 60-day window
    stats = summarise(unsaved(returns, direction), window_days=60)
    mean = (72 - 40 + 8) / 30  # 4/3
    variance = (12 * (6 - mean) ** 2 + 10 * (-4 - mean) ** 2 + 8 * (1 - mean) ** 2) / 29
    expected = mean / math.sqrt(variance) * math.sqrt(30 / 60 * 365)
    assert stats["sharpe_ratio"] == pytest.approx(expected, abs=1e-4) and stats["sharpe_ratio_note"] is None
    assert (stats["wins"], stats["losses"], stats["neutral"]) == (12, 10, 8)
    assert (stats["avg_win"], stats["avg_loss"], stats["median_return"]) == (6, -4, 1)
    assert stats["win_rate"] == 0.4 and stats["win_rate_ci"] == [round(x, 4) for x in wilson(12, 30)]


def test_summarise_counts_only_evaluated_outcomes():
    rows = unsaved([6, -4])
    rows += [SignalOutcome(signal=Signal(direction="LONG", candle_close_time=T), status=s) for s in
             ("pending", "pending", "unavailable")]
    stats = summarise(rows)
    assert (stats["n"], stats["total_signals"], stats["pending"], stats["unavailable"]) == (2, 2, 2, 1)
    assert stats["win_rate"] == 0.5


# ---------------------------------------------------------------- the endpoint

@pytest.fixture
def dataset(db, now):
    c = coin()
    at = NOW - timedelta(days=5)

    # smart money: accumulation 8 (3 wins, 1 loss), accumulation 6 (1 neutral), distribution 7.5 (2 wins)
    for i, (kind, score, direction, result) in enumerate(
            [("accumulating", 8, "LONG", "WIN")] * 3 + [("accumulating", 8, "LONG", "LOSS"),
                                                        ("accumulating", 6, "LONG", "NEUTRAL"),
                                                        ("distributing", 7.5, "SHORT", "WIN"),
                                                        ("distributing", 7.5, "SHORT", "WIN")]):
        pnl = {"WIN": 6.0, "LOSS": -4.0, "NEUTRAL": 1.0}[result] * (-1 if direction == "SHORT" else 1)
        s = signal(c, at=at + timedelta(hours=i), scanner="smart_money", kind=kind, score=score, direction=direction,
                   tier=1 if score >= 7.5 else 2)
        outcome(s, "24h", result=result, pnl=pnl)
    # mss 92 (1 win), 80 (1 loss), pending and unavailable ones, a 4h outcome, and an old signal
    s = signal(c, at=at + timedelta(hours=20), score=92, tier=1)
    outcome(s, "24h", result="WIN", pnl=8.0)
    outcome(s, "4h", result="LOSS", pnl=-9.0)
    outcome(signal(c, at=at + timedelta(hours=21), score=80, tier=2), "24h", result="LOSS", pnl=-5.0)
    outcome(signal(c, at=at + timedelta(hours=22), score=80, tier=2), "24h", status="pending")
    outcome(signal(c, at=at + timedelta(hours=23), score=80, tier=3), "24h", status="unavailable")
    outcome(signal(c, at=NOW - timedelta(days=40), score=95, tier=1), "24h", result="LOSS", pnl=-10.0)
    # rsi 18 oversold (win), 22 (neutral), overbought 80 (loss); social trending (win); unified TIER_3 (neutral)
    for j, (scanner, kind, score, tier, result, pnl) in enumerate([
            ("rsi", "oversold", 18, 1, "WIN", 7.0), ("rsi", "oversold", 22, 2, "NEUTRAL", 0.5),
            ("rsi", "overbought", 80, 3, "LOSS", -6.0), ("social", "trending", 70, 3, "WIN", 9.0),
            ("unified", "unified", 60, 3, "NEUTRAL", 2.0)]):
        direction = "SHORT" if kind == "overbought" else "LONG"
        outcome(signal(c, at=at + timedelta(hours=30 + j), scanner=scanner, kind=kind, score=score, tier=tier,
                       direction=direction), "24h", result=result, pnl=-pnl if direction == "SHORT" else pnl)


def get(params=None):
    response = APIClient().get(URL, params or {})
    assert response.status_code == 200, response.content
    return response.json()


def test_the_structure_and_the_buckets(dataset):
    body = get()
    assert (body["days"], body["horizon"]) == (30, "24h")
    assert set(body) >= {"overall", "by_scanner", "by_tier", "since", "generated_at", "simulated_signals"}
    assert set(body["overall"]) == {"total_signals", "wins", "losses", "neutral", "win_rate", "win_rate_ci", "n",
                                    "avg_win", "avg_loss", "median_return", "sharpe_ratio", "sharpe_ratio_note",
                                    "pending", "unavailable"}
    assert {k: set(v) for k, v in body["by_scanner"].items()} == {
        "smart_money": {"accumulation_7+", "accumulation_5-6", "distribution_7+"},
        "mss": {"score_90+", "score_75-89"},
        "rsi": {"oversold_<20", "oversold_20-25", "overbought_>75"},
        "social": {"all"}, "unified": {"TIER_1", "TIER_2", "TIER_3"}}
    assert set(body["by_tier"]) == {"TIER_1", "TIER_2", "TIER_3"}
    sm = body["by_scanner"]["smart_money"]
    assert (sm["accumulation_7+"]["n"], sm["accumulation_7+"]["wins"], sm["accumulation_7+"]["losses"]) == (4, 3, 1)
    assert sm["accumulation_7+"]["win_rate"] == 0.75
    assert sm["accumulation_7+"]["win_rate_ci"] == [round(x, 4) for x in wilson(3, 4)]
    assert (sm["accumulation_5-6"]["n"], sm["accumulation_5-6"]["neutral"]) == (1, 1)
    assert (sm["distribution_7+"]["n"], sm["distribution_7+"]["wins"], sm["distribution_7+"]["avg_win"]) == (2, 2, 6)
    mss = body["by_scanner"]["mss"]
    assert (mss["score_90+"]["n"], mss["score_90+"]["wins"]) == (1, 1)  # the 40-day-old 95 is outside 30 days
    assert (mss["score_75-89"]["n"], mss["score_75-89"]["losses"], mss["score_75-89"]["pending"],
            mss["score_75-89"]["unavailable"]) == (1, 1, 1, 1)
    rsi = body["by_scanner"]["rsi"]
    assert [rsi[b]["n"] for b in ("oversold_<20", "oversold_20-25", "overbought_>75")] == [1, 1, 1]
    assert rsi["overbought_>75"]["avg_loss"] == -6  # a SHORT's loss when the price rose 6 %
    assert body["by_scanner"]["social"]["all"]["wins"] == 1
    assert body["by_scanner"]["unified"]["TIER_3"]["neutral"] == 1
    overall = body["overall"]
    assert (overall["n"], overall["wins"], overall["losses"], overall["neutral"]) == (14, 8, 3, 3)
    assert (overall["pending"], overall["unavailable"]) == (1, 1)
    assert overall["sharpe_ratio"] is None and overall["sharpe_ratio_note"]


def test_the_numbers_equal_a_count_of_the_rows(dataset):
    body = get({"days": 30, "horizon": "24h"})
    rows = SignalOutcome.objects.filter(horizon="24h", signal__candle_close_time__gte=NOW - timedelta(days=30))
    done = rows.filter(status="evaluated")
    assert body["overall"]["total_signals"] == done.count()
    for result, key in (("WIN", "wins"), ("LOSS", "losses"), ("NEUTRAL", "neutral")):
        assert body["overall"][key] == done.filter(outcome=result).count()
    for tier in (1, 2, 3):
        mine = done.filter(signal__tier=tier)
        stats = body["by_tier"][f"TIER_{tier}"]
        assert (stats["n"], stats["wins"]) == (mine.count(), mine.filter(outcome="WIN").count())
        assert stats["pending"] == rows.filter(signal__tier=tier, status="pending").count()


def test_days_and_horizon_filter(dataset):
    assert get({"days": 60})["by_scanner"]["mss"]["score_90+"]["n"] == 2
    four = get({"horizon": "4h"})
    assert (four["overall"]["n"], four["overall"]["losses"], four["horizon"]) == (1, 1, "4h")
    assert get({"horizon": "7d"})["overall"]["n"] == 0
    assert get({"days": 1})["overall"]["n"] == 0 and get({"days": 1})["overall"]["win_rate"] is None


@pytest.mark.parametrize("params, field, message", [
    ({"days": 0}, "days", "between 1 and 365"), ({"days": 366}, "days", "between 1 and 365"),
    ({"days": "x"}, "days", "between 1 and 365"), ({"horizon": "2h"}, "horizon", "1h, 4h, 24h, 7d, 30d"),
])
def test_bad_parameters_are_400s(db, params, field, message):
    response = APIClient().get(URL, params)
    assert response.status_code == 400
    assert message in response.json()[field][0]


def test_the_schema_documents_the_endpoint(db):
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    op = schema["paths"]["/api/analytics/win-rates"]["get"]
    assert {p["name"] for p in op["parameters"]} == {"days", "horizon"}
    assert set(op["responses"]) == {"200", "400", "401", "403"}  # 401/403: cryptosatx.api.schema_hooks


# ---------------------------------------------------------------- track record

def tier_outcomes(n, wins, tier=1, pnl_win=8.0, pnl_other=-4.0):
    c = coin(f"TIER{tier}USDT")
    for i in range(n):
        s = signal(c, at=NOW - timedelta(days=3, hours=i), tier=tier)
        outcome(s, "24h", result="WIN" if i < wins else "LOSS", pnl=pnl_win if i < wins else pnl_other)


def test_the_track_record_is_none_below_10(db, now):
    tier_outcomes(9, 9)
    outcome(signal(coin(), at=NOW - timedelta(days=1), tier=1), "24h", status="pending")
    assert tier_track_record(1) is None


def test_the_track_record_at_10_and_in_the_alert(db, now):
    tier_outcomes(10, 8)
    outcome(signal(coin(), at=NOW - timedelta(days=100), tier=1), "24h", result="LOSS", pnl=-50)  # too old
    tier_outcomes(10, 0, tier=2)  # another tier
    record = tier_track_record(1)
    assert (record.n, record.horizon, record.win_rate, record.median_pnl_pct) == (10, "24h", 80.0, 8.0)
    assert (round(record.win_rate_low, 2), round(record.win_rate_high, 2)) == (49.02, 94.33)
    text = render_alert(Signal.objects.filter(tier=1).select_related("coin").first())
    assert "Track record (tier 1, n=10, 24h): 80% wins (49–94%), median 8.0%" in text
    assert "not enough history yet" not in text


def test_the_rankings_historical_performance_comes_from_the_track_record(db, now):
    tier_outcomes(10, 8)
    make_unified(make_coin("TOPUSDT"), 90.0, "TIER_1", raw={"mss": 90.0})
    make_unified(make_coin("LOWUSDT"), 60.0, "TIER_3", raw={"mss": 60.0})
    rows = {r["symbol"]: r for r in APIClient().get("/api/scan/unified-ranking").json()["results"]}
    assert rows["TOPUSDT"]["historical_performance"] == {"n": 10, "win_rate": 0.8, "median_return_pct": 8.0}
    assert rows["LOWUSDT"]["historical_performance"] is None


# ---------------------------------------------------------------- the shared, refreshed analytics

def test_the_outcome_task_refreshes_the_hot_windows_so_requests_never_compute_them(db, now):
    from performance.queries import HOT_WINDOWS, TIERS, refresh, tier_record, win_rates
    from performance.tasks import evaluate_outcomes

    tier_outcomes(10, 7)
    took = refresh()
    assert set(took) == ({f"performance:win_rates:{d}:{h}" for d, h in HOT_WINDOWS}
                         | {f"performance:tier_record:{t}" for t in TIERS} | {"performance:dashboard"})
    assert win_rates(30, "24h")["overall"]["n"] == 10 and tier_record(1)["n"] == 10
    tier_outcomes(10, 0, tier=2)  # written after the refresh: readers keep the refreshed answer …
    assert win_rates(30, "24h")["overall"]["n"] == 10 and tier_record(2) is None
    assert "refreshed_seconds" in evaluate_outcomes(NOW)  # … until the next evaluation recomputes it
    assert win_rates(30, "24h")["overall"]["n"] == 20 and tier_record(2)["n"] == 10
