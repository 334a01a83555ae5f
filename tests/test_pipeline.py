"""Engine choices documented in docs/scoring.md: risk level, scanner scope and staleness."""
from datetime import datetime, timezone

import pytest

from scanners.coindata import HOUR_MS, CoinData, build_snapshot
from scanners.pipeline import Thresholds, score_coin
from signals.ranking import risk_level

AS_OF = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
AS_OF_MS = int(AS_OF.timestamp() * 1000)


@pytest.mark.parametrize("age, move, coverage, expected", [
    (100, 1, 1.0, "HIGH"),     # a listing under 7 days
    (None, 15, 1.0, "HIGH"),   # a 15% move
    (None, -16, 1.0, "HIGH"),
    (None, 1, 0.49, "HIGH"),   # under half the score measured
    (None, 5, 1.0, "MEDIUM"),
    (None, None, 1.0, "MEDIUM"),
    (None, 1, 0.79, "MEDIUM"),
    (None, 4.9, 0.8, "LOW"),
    (168, 1, 1.0, "LOW"),      # 7 days old is no longer a new listing
])
def test_risk_level(age, move, coverage, expected):
    assert risk_level(age, move, coverage) == expected


def coin(listed_hours_ago: float | None) -> CoinData:
    cd = CoinData("XUSDT", 1, None if listed_hours_ago is None else AS_OF_MS - int(listed_hours_ago * HOUR_MS), True)
    start = AS_OF_MS - 300 * HOUR_MS
    cd.candles = [(start + i * HOUR_MS, 100 + (i % 7), 1000.0, 600.0) for i in range(300)]
    return cd


def test_mss_scores_only_listings_younger_than_a_week():
    young, old, unknown = coin(30), coin(200), coin(None)
    out = {name: score_coin(build_snapshot(cd, AS_OF), [c[1] for c in cd.candles], None, Thresholds())
           for name, cd in (("young", young), ("old", old), ("unknown", unknown))}
    assert "mss" in out["young"] and out["young"]["mss"].detail["age_hours"] == 30
    assert "mss" not in out["old"] and "mss" not in out["unknown"]


def test_a_point_older_than_its_staleness_limit_is_missing_not_stale():
    cd = coin(None)
    cd.add_metric("funding_pct", AS_OF_MS - 8 * HOUR_MS, -0.02)
    assert build_snapshot(cd, AS_OF).funding_pct == -0.02
    cd.metrics["funding_pct"] = [(AS_OF_MS - 10 * HOUR_MS, -0.02)]  # past the 9 h limit
    assert build_snapshot(cd, AS_OF).funding_pct is None
    cd.metrics["funding_pct"] = [(AS_OF_MS + 1, -0.02)]  # measured after as_of: never seen
    assert build_snapshot(cd, AS_OF).funding_pct is None


def test_open_interest_change_needs_a_point_about_a_day_earlier():
    cd = coin(None)
    cd.add_metric("open_interest", AS_OF_MS - 24 * HOUR_MS, 100.0)
    cd.add_metric("open_interest", AS_OF_MS - HOUR_MS // 2, 130.0)
    assert build_snapshot(cd, AS_OF).oi_change_24h_pct == pytest.approx(30.0)
    cd.metrics["open_interest"] = [(AS_OF_MS - 30 * HOUR_MS, 100.0), (AS_OF_MS - HOUR_MS // 2, 130.0)]
    assert build_snapshot(cd, AS_OF).oi_change_24h_pct is None  # 30 h back is not "24 h"
