"""/api/analytics/calibration: unified-score buckets, their observed WIN probability and Wilson interval."""
from datetime import timedelta

import pytest
from django.utils import timezone as dj_timezone
from rest_framework.test import APIClient

from performance.calibration import bucket_of, calibration
from performance.stats import wilson
from tests.outcome_factories import T, coin, outcome, signal

URL = "/api/analytics/calibration"
NOW = T + timedelta(days=10)


@pytest.fixture
def now(monkeypatch):
    monkeypatch.setattr(dj_timezone, "now", lambda: NOW)
    return NOW


def test_bucket_edges():
    assert [bucket_of(x) for x in (0, 54.99, 55, 69.9, 70, 85, 100, None, 100.5, -1)] == [
        0, 0, 1, 1, 2, 3, 3, None, None, None]


@pytest.fixture
def dataset(db, now):
    """Hand-built rows; `expected` is the count by bucket of (wins, n, scores)."""
    made = iter(range(1000))

    def add(unified, result="WIN", *, horizon="24h", status="evaluated", days_ago=1, pnl=6.0):
        s = signal(coin(f"C{next(made)}USDT"), at=NOW - timedelta(days=days_ago), unified_score=unified)
        return outcome(s, horizon, result=result, pnl=pnl, status=status)

    # 0–55: 1 win of 3
    add(10, "WIN"); add(40, "LOSS", pnl=-4); add(54.5, "NEUTRAL", pnl=1)
    # 55–70: none evaluated (a pending and an unavailable one only)
    add(60, status="pending"); add(65, status="unavailable")
    # 70–85: 3 wins of 4
    add(70, "WIN"); add(75, "WIN"); add(80, "WIN"); add(84, "LOSS", pnl=-5)
    # 85–100: 2 of 2, including exactly 100
    add(85, "WIN"); add(100, "WIN")
    # left out: other horizon, too old, no unified score
    add(90, "LOSS", horizon="4h", pnl=-4); add(90, "LOSS", days_ago=200, pnl=-4); add(None, "LOSS", pnl=-4)
    return {"0-55": (1, 3, [10, 40, 54.5]), "55-70": (0, 0, []), "70-85": (3, 4, [70, 75, 80, 84]),
            "85-100": (2, 2, [85, 100])}


def test_bucket_counts_and_rates_equal_the_rows(dataset):
    report = calibration(90, "24h")
    assert [b["label"] for b in report["buckets"]] == list(dataset)
    for b in report["buckets"]:
        wins, n, scores = dataset[b["label"]]
        assert (b["wins"], b["n"]) == (wins, n)
        if n:
            assert b["win_probability"] == round(wins / n, 4)
            assert b["win_probability_ci"] == [round(x, 4) for x in wilson(wins, n)]
            assert b["mean_unified_score"] == pytest.approx(sum(scores) / n, abs=1e-4)
        else:
            assert b["win_probability"] is None and b["win_probability_ci"] is None
            assert b["mean_unified_score"] is None


def test_wilson_values_in_the_report(dataset):
    b = {b["label"]: b for b in calibration(90, "24h")["buckets"]}
    assert b["70-85"]["win_probability_ci"] == [0.3006, 0.9544]  # 3 of 4, by hand
    assert b["85-100"]["win_probability_ci"] == [0.3424, 1.0]    # 2 of 2
    assert b["0-55"]["win_probability"] == 0.3333


def test_endpoint_matches_and_defaults(dataset):
    response = APIClient().get(URL)
    assert response.status_code == 200
    body = response.json()
    assert (body["days"], body["horizon"]) == (90, "24h")
    assert [(b["label"], b["n"], b["wins"]) for b in body["buckets"]] == [
        (label, n, wins) for label, (wins, n, _) in dataset.items()]
    four_hour = APIClient().get(URL, {"horizon": "4h", "days": 30}).json()
    assert [b["n"] for b in four_hour["buckets"]] == [0, 0, 0, 1]


@pytest.mark.parametrize("params, field", [({"days": "0"}, "days"), ({"days": "366"}, "days"),
                                           ({"days": "abc"}, "days"), ({"horizon": "2h"}, "horizon")])
def test_bad_parameters_are_400(db, params, field):
    response = APIClient().get(URL, params)
    assert response.status_code == 400 and field in response.json()


def test_schema_documents_both_endpoints(db):
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    for path in ("/api/analytics/calibration", "/api/analytics/thresholds"):
        assert "400" in schema["paths"][path]["get"]["responses"]
