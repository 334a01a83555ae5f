"""Smart money (SCORING.md §2) and the snapshot helpers that feed it. Plain pytest, no DB."""
import json
import math
from datetime import datetime, timedelta, timezone

import pytest

from scanners.smart_money import SmartMoneyRules, percentile_rank, percentile_ranks, score_smart_money
from scanners.snapshot import (CoinSnapshot, HourlyCandle, Tiers, buy_pressure_pct, closed_candles,
                               pct_change, quote_volumes, round_score, snapshot_from_candles)

T0 = datetime(2025, 3, 1, tzinfo=timezone.utc)
H = timedelta(hours=1)


def snap(**kw):
    return CoinSnapshot(symbol="ABCUSDT", as_of=T0, **kw)


def hourly(closes, qv=100.0, tb=60.0, start=T0):
    return [HourlyCandle(start + i * H, c, qv, tb) for i, c in enumerate(closes)]


# ------------------------------------------------------------------ accumulation rules

@pytest.mark.parametrize("bp, points", [(80.01, 3), (80, 2), (65.01, 2), (65, 1), (55.01, 1), (55, 0)])
def test_buy_pressure_tiers_are_strict(bp, points):
    assert score_smart_money(snap(buy_pressure_pct=bp)).accumulation == points


@pytest.mark.parametrize("funding, acc, dist", [
    (-0.0001, 2, 0), (0, 1, 0), (0.0999, 1, 0), (0.1, 0, 0),
    (0.3, 0, 0), (0.3001, 0, 1), (0.5, 0, 1), (0.5001, 0, 2),
])
def test_funding_tiers(funding, acc, dist):
    r = score_smart_money(snap(funding_pct=funding))
    assert (r.accumulation, r.distribution) == (acc, dist)


@pytest.mark.parametrize("social, acc, dist", [
    (29.9, 2, 0), (30, 1, 0), (44.9, 1, 0), (45, 0, 0), (55, 0, 0), (55.1, 0, 1), (70, 0, 1), (70.1, 0, 2),
])
def test_social_activity_tiers(social, acc, dist):
    r = score_smart_money(snap(social_activity_pct=social))
    assert (r.accumulation, r.distribution) == (acc, dist)


@pytest.mark.parametrize("p4, p24, acc", [
    (1.49, 2.99, 2 + 1),  # quiet (2) and 0 < 24h < 5 (1)
    (1.5, 2.99, 1 + 1),  # |4h| not < 1.5 → calm (1)
    (1.49, 3.0, 1 + 1),  # |24h| not < 3 → calm (1)
    (-1.49, -2.99, 2),  # quiet, but 24h not > 0
    (2.99, 10, 1),  # calm only
    (3.0, 0, 0),  # |4h| not < 3 and 24h not > 0
    (-3.5, 4.99, 1),  # drift only
    (0, 5, 1),  # |24h| 5 not < 3 → calm (1); 5 not < 5 → no drift
])
def test_price_rules(p4, p24, acc):
    assert score_smart_money(snap(pct_4h=p4, pct_24h=p24)).accumulation == acc


def test_half_decidable_rule_awards_what_is_certain():
    # pct_24h missing: |4h| 1.0 < 3 earns +1 whatever pct_24h is; the +2 cannot be decided.
    r = score_smart_money(snap(pct_4h=1.0))
    assert r.accumulation == 1 and "pct_24h" in r.missing
    # pct_4h missing: only the drift rule can be decided.
    r = score_smart_money(snap(pct_24h=2))
    assert r.accumulation == 1 and "pct_4h" in r.missing


@pytest.mark.parametrize("bp, points", [(19.99, 3), (20, 2), (35, 1), (34.99, 2), (45, 0), (44.99, 1)])
def test_sell_pressure_tiers_are_strict(bp, points):
    assert score_smart_money(snap(buy_pressure_pct=bp)).distribution == points


@pytest.mark.parametrize("p24, dist", [(15.01, 2), (15, 1), (8.01, 1), (8, 0)])
def test_pump_tiers(p24, dist):
    assert score_smart_money(snap(pct_24h=p24)).distribution == dist


@pytest.mark.parametrize("p24, p4, dist", [(5.01, -0.01, 1), (5, -0.01, 0), (5.01, 0, 0)])
def test_fading_pump(p24, p4, dist):
    assert score_smart_money(snap(pct_24h=p24, pct_4h=p4)).distribution == dist


# ------------------------------------------------------------------ state, missing, worked examples

def test_worked_example_accumulating():
    # bp 83.1 > 80 → 3; funding −0.01 < 0 → 2; social 20 < 30 → 2;
    # |4h| 0.5 < 1.5 and |24h| 1.2 < 3 → 2; 0 < 1.2 < 5 → 1: accumulation 10.
    # Distribution: sell 16.9 → 0, nothing else → 0.
    r = score_smart_money(snap(buy_pressure_pct=83.1, funding_pct=-0.01, social_activity_pct=20,
                               pct_4h=0.5, pct_24h=1.2))
    assert (r.accumulation, r.distribution, r.state, r.direction) == (10, 0, "accumulating", "LONG")
    assert "accumulation: buy pressure 83.1% > 80 → +3" in r.reasons
    assert r.missing == []


def test_worked_example_distributing():
    # sell 85 > 80 → 3; funding 0.6 > 0.5 → 2; social 80 > 70 → 2; 24h 20 > 15 → 2;
    # 24h > 5 and 4h −1 < 0 → 1: distribution 10. Accumulation: |4h| 1 < 3 → 1.
    r = score_smart_money(snap(buy_pressure_pct=15, funding_pct=0.6, social_activity_pct=80,
                               pct_4h=-1, pct_24h=20))
    assert (r.accumulation, r.distribution, r.state, r.direction) == (1, 10, "distributing", "SHORT")


def test_state_needs_threshold_reached():
    # accumulation 7 exactly: 3 (bp 81) + 2 (funding −0.1) + 2 (social 10)
    s = snap(buy_pressure_pct=81, funding_pct=-0.1, social_activity_pct=10)
    assert score_smart_money(s).state == "accumulating"
    assert score_smart_money(s, accumulation_threshold=8).state is None


def test_state_needs_to_exceed_the_other_score():
    # accumulation: quiet price 2; distribution: social 71 → 2. A tie is neither.
    r = score_smart_money(snap(pct_4h=0.5, pct_24h=-1, social_activity_pct=71),
                          accumulation_threshold=2, distribution_threshold=2)
    assert (r.accumulation, r.distribution, r.state, r.direction) == (2, 2, None, None)


def test_missing_inputs_are_listed_not_read_as_zero():
    # Funding 0 would earn +1 (< 0.1) and social 0 would earn +2 (< 30): missing earns nothing.
    r = score_smart_money(snap(buy_pressure_pct=60))
    assert r.accumulation == 1
    assert r.missing == ["funding_pct", "social_activity_pct", "pct_4h", "pct_24h"]


def test_all_inputs_missing_gives_no_score():
    r = score_smart_money(snap())
    assert (r.accumulation, r.distribution, r.state) == (None, None, None)
    assert len(r.missing) == 5


def test_nan_input_is_missing_and_strings_are_refused():
    assert snap(funding_pct=math.nan).funding_pct is None
    with pytest.raises(TypeError, match="funding_pct"):
        snap(funding_pct="0.01")
    with pytest.raises(ValueError, match="as_of"):
        CoinSnapshot(symbol="X", as_of=datetime(2025, 1, 1))


def test_custom_rules_and_json():
    rules = SmartMoneyRules(buy_pressure=Tiers(">", ((90, 3),)))
    r = score_smart_money(snap(buy_pressure_pct=85), rules=rules)
    assert r.accumulation == 0
    assert json.loads(json.dumps(r.to_dict()))["missing"][0] == "funding_pct"


# ------------------------------------------------------------------ percentile rank

def test_percentile_rank_counts_ties_half():
    assert percentile_rank(10, [10, 20, 30, 40]) == 12.5
    assert percentile_rank(40, [10, 20, 30, 40]) == 87.5
    assert percentile_rank(0, [0, 0, 0, 10]) == 37.5  # (0 below + 3/2 equal) / 4
    assert percentile_rank(5, [5, 5, 5]) == 50
    assert percentile_rank(25, [10, 20, 30, None, 40]) == 50  # None ignored, value not in population


def test_percentile_rank_needs_a_population():
    with pytest.raises(ValueError):
        percentile_rank(1, [None])


def test_percentile_ranks_of_a_universe():
    assert percentile_ranks({"A": 1, "B": 2, "C": None}) == {"A": 25.0, "B": 75.0, "C": None}


# ------------------------------------------------------------------ candle helpers

def test_only_closed_candles_are_used():
    candles = hourly([100, 101, 102])
    assert len(closed_candles(candles, T0 + 3 * H)) == 3  # the third closed exactly at as_of
    assert len(closed_candles(candles, T0 + 3 * H - timedelta(seconds=1))) == 2


def test_pct_change_needs_n_plus_one_closes_without_gaps():
    candles = hourly([100, 101, 102, 103, 110])
    assert pct_change(candles, T0 + 5 * H, 4) == pytest.approx(10.0)  # 110 / 100 − 1
    assert pct_change(candles[1:], T0 + 5 * H, 4) is None  # four closes only
    gappy = candles[:2] + [c._replace(open_time=c.open_time + H) for c in candles[2:]]
    assert pct_change(gappy, T0 + 6 * H, 4) is None
    assert pct_change(candles, T0 + 5 * H - timedelta(seconds=1), 4) is None  # last still open


def test_buy_pressure_over_24_closed_candles():
    candles = hourly([1.0] * 24, qv=200.0, tb=120.0)
    assert buy_pressure_pct(candles, T0 + 24 * H) == pytest.approx(60.0)
    assert buy_pressure_pct(candles, T0 + 23 * H) is None  # 23 closed
    assert buy_pressure_pct(hourly([1.0] * 24, qv=0.0, tb=0.0), T0 + 24 * H) is None


def test_quote_volumes_need_eight_full_days():
    candles = [HourlyCandle(T0 + i * H, 1.0, 10.0 if i < 168 else 50.0, 5.0) for i in range(192)]
    vol24, avg7 = quote_volumes(candles, T0 + 192 * H)
    assert (vol24, avg7) == (1200.0, 240.0)  # 24 × 50; 168 × 10 / 7
    assert quote_volumes(candles[1:], T0 + 192 * H) == (1200.0, None)


def test_snapshot_from_candles_accepts_tuples_in_epoch_ms():
    ms = int(T0.timestamp() * 1000)
    rows = [(ms + i * 3_600_000, 100 + i, 100.0, 70.0) for i in range(25)]
    s = snapshot_from_candles("ABCUSDT", T0 + 25 * H, rows, funding_pct=0.01, pct_4h=1.5)
    assert s.pct_24h == pytest.approx(24.0)  # 124 / 100 − 1
    assert s.buy_pressure_pct == pytest.approx(70.0)
    assert s.pct_4h == 1.5  # an explicit input wins over the derived one
    assert s.last_close == 124 and s.candle_close_time == T0 + 25 * H
    assert s.avg_daily_quote_volume_7d is None
    json.dumps(s.to_dict())


def test_round_score_is_half_up_without_float_noise():
    assert round_score(84.95) == 85.0
    assert round_score(84.99999999999) == 85.0
    assert round_score(2.675, 2) == 2.68
