"""The walk-forward threshold optimizer, /api/analytics/thresholds and the admin action that applies it."""
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone as dj_timezone
from rest_framework.test import APIClient

from performance.optimizer import SPECS, Row, block_bounds, choose, thresholds_report
from performance.stats import wilson
from signals.models import ScoringConfig
from tests.outcome_factories import T, coin, outcome, signal

URL = "/api/analytics/thresholds"
NOW = T + timedelta(days=60)


@pytest.fixture
def now(monkeypatch):
    monkeypatch.setattr(dj_timezone, "now", lambda: NOW)
    return NOW


def planted(days: int, *, edge: float = 8, scores=(6, 7, 8, 9)) -> None:
    """One smart-money LONG signal per score per day, days apart, oldest first: a score ≥ edge WINs (+6 %),
    a lower one LOSEs (−4 %) — the edge holds in every period."""
    start = NOW - timedelta(days=days + 1)
    for d in range(days):
        for score in scores:
            s = signal(coin(f"S{int(score)}USDT"), scanner="smart_money", kind="accumulating", score=score,
                       at=start + timedelta(days=d))
            win = score >= edge
            outcome(s, "24h", result="WIN" if win else "LOSS", pnl=6.0 if win else -4.0)


def noise() -> None:
    """Rows the optimizer must ignore: pending, another horizon, SHORT, unavailable."""
    at = NOW - timedelta(days=2, hours=5)
    outcome(signal(coin("N1USDT"), scanner="smart_money", score=9, at=at), status="pending")
    outcome(signal(coin("N2USDT"), scanner="smart_money", score=9, at=at), "4h", result="LOSS", pnl=-9)
    outcome(signal(coin("N3USDT"), scanner="smart_money", score=9, at=at, direction="SHORT"), result="LOSS", pnl=9)
    outcome(signal(coin("N4USDT"), scanner="smart_money", score=9, at=at), status="unavailable")


def test_blocks_and_choice_rules():
    assert block_bounds(20) == [0, 4, 8, 12, 16, 20] and block_bounds(7) == [0, 1, 3, 4, 6, 7]
    sm, rsi = SPECS["smart_money"], SPECS["rsi"]
    # fewer than 10 passing: no candidate
    assert choose(sm, [Row(9, 6, True)] * 9) is None
    # the best mean among candidates with ≥ 10; ties (same signals) go to the stricter threshold
    rows = [Row(9, 6, True)] * 10 + [Row(6, -4, False)] * 10
    assert choose(sm, rows) == 9.0
    # RSI oversold passes below the threshold: stricter is lower
    rows = [Row(15, 6, True)] * 10 + [Row(30, -4, False)] * 10
    assert choose(rsi, rows) == 17.5


def test_small_planted_edge_matches_a_hand_count_and_refuses_below_30(db, now):
    planted(5)  # 20 outcomes, 5 blocks of 4 (one day each)
    noise()
    sm = thresholds_report(days=90)["scanners"]["smart_money"]
    assert sm["outcomes"] == 20 and sm["current_threshold"] == 7
    # fold 1 (fit 4) and 2 (fit 8): no candidate has 10 in-sample outcomes → nothing traded
    # fold 3 (fit 12): only t ≤ 6 passes ≥ 10 (all 12, mean 1) → 6.0; test day 4: all four, 2 wins, +4 in all
    # fold 4 (fit 16): t = 7 passes 12, mean (8·6 − 4·4)/12 = 2.67 > 1 → 7.0; test day 5: 7, 8, 9, 2 wins, +8
    assert [f["threshold"] for f in sm["folds"]] == [None, None, 6.0, 7.0]
    assert [f["out_of_sample"]["n"] for f in sm["folds"]] == [0, 0, 4, 3]
    assert sm["folds"][3]["in_sample"] == {"n": 12, "wins": 8, "win_rate": 0.6667,
                                           "win_rate_ci": [round(x, 4) for x in wilson(8, 12)],
                                           "expectancy": 2.6667}
    assert sm["out_of_sample"] == {"n": 7, "wins": 4, "win_rate": 0.5714,
                                   "win_rate_ci": [round(x, 4) for x in wilson(4, 7)], "expectancy": 1.7143}
    # the whole window: t = 8 passes 10 (scores 8 and 9), all wins, mean 6
    assert sm["suggested_threshold"] == 8.0
    assert sm["in_sample"] == {"n": 10, "wins": 10, "win_rate": 1.0,
                               "win_rate_ci": [round(x, 4) for x in wilson(10, 10)], "expectancy": 6.0}
    assert sm["current_in_sample"]["n"] == 15 and sm["current_in_sample"]["expectancy"] == 2.6667
    assert sm["recommendation"] is None
    assert sm["recommendation_note"] == "fewer than 30 out-of-sample outcomes: n=7"
    # the other scanners have nothing
    for name in ("mss", "rsi"):
        other = thresholds_report(days=90)["scanners"][name]
        assert other["outcomes"] == 0 and other["suggested_threshold"] is None and other["recommendation"] is None
        assert other["recommendation_note"] == "fewer than 30 out-of-sample outcomes: n=0"


def test_large_planted_edge_is_recommended(db, now):
    planted(50)  # 200 outcomes, blocks of 40; every fit window already shows the edge at 8
    sm = thresholds_report(days=90)["scanners"]["smart_money"]
    assert [f["threshold"] for f in sm["folds"]] == [8.0] * 4
    assert sm["out_of_sample"]["n"] == 80 and sm["out_of_sample"]["wins"] == 80  # 4 blocks × 10 days × 2
    assert sm["out_of_sample"]["expectancy"] == 6.0 and sm["in_sample"]["n"] == 100
    assert sm["recommendation"] == {"field": "accumulation_threshold", "current": 7.0, "suggested": 8.0}
    assert sm["recommendation_note"] is None
    assert ScoringConfig.current().accumulation_threshold == 7  # a report changes nothing


def test_no_recommendation_when_the_suggestion_is_the_current_threshold(db, now):
    planted(50, edge=7)
    sm = thresholds_report(days=90)["scanners"]["smart_money"]
    assert sm["suggested_threshold"] == 7.0 and sm["recommendation"] is None
    assert "equals the current threshold" in sm["recommendation_note"]


def test_endpoint(db, now):
    planted(50)
    response = APIClient().get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["days"] == 180 and set(body["scanners"]) == {"smart_money", "mss", "rsi"}
    assert body["scanners"]["smart_money"]["recommendation"]["suggested"] == 8.0
    assert body["scanners"]["rsi"]["current_threshold"] == 25
    # a 10-day window holds 9 days (36 outcomes): out-of-sample too small
    short = APIClient().get(URL, {"days": 10}).json()["scanners"]["smart_money"]
    assert short["outcomes"] == 36 and short["recommendation"] is None


@pytest.mark.parametrize("days", ["0", "366", "x", "1.5"])
def test_bad_days_is_400(db, days):
    response = APIClient().get(URL, {"days": days})
    assert response.status_code == 400 and "days" in response.json()


# ---------------------------------------------------------------- the admin action

@pytest.fixture
def alice(client):
    get_user_model().objects.create_superuser("alice", "", "pw-alice-123")
    client.login(username="alice", password="pw-alice-123")
    return client


def run_action(client):
    config = ScoringConfig.current()
    response = client.post("/admin/signals/scoringconfig/", {
        "action": "apply_suggested_threshold", "_selected_action": [config.pk]}, follow=True)
    assert response.status_code == 200
    config.refresh_from_db()
    return config, [str(m) for m in response.context["messages"]]


def test_admin_action_applies_a_recommendation(db, now, alice):
    planted(50)
    config, msgs = run_action(alice)
    assert config.accumulation_threshold == 8.0
    assert (config.mss_threshold, config.rsi_oversold) == (75, 25)
    assert any(m.startswith("Changed: accumulation_threshold: 7 → 8 (smart_money; out-of-sample n=80")
               for m in msgs), msgs
    assert any("Not changed" in m and "mss" in m for m in msgs)


def test_admin_action_refuses_without_a_recommendation(db, now, alice):
    planted(5)
    config, msgs = run_action(alice)
    assert config.accumulation_threshold == 7
    assert len(msgs) == 1 and msgs[0].startswith("No threshold changed")
    assert "fewer than 30 out-of-sample outcomes: n=7" in msgs[0]
