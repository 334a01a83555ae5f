"""RSI against a worked textbook example and against a plain re-implementation of Wilder's method."""
import math
from datetime import datetime, timezone

import numpy as np
import pytest

from scanners.rsi import RSI_HISTORY_CANDLES, score_rsi, technical_score, wilder_rsi

# The 14-period RSI worked example published by StockCharts (ChartSchool, "Relative Strength
# Index"), computed there by hand in a spreadsheet: closes and the RSI printed beside each.
CLOSES = [44.3389, 44.0902, 44.1497, 43.6124, 44.3278, 44.8264, 45.0955, 45.4245, 45.8433, 46.0826, 45.8931,
          46.0328, 45.6140, 46.2820, 46.2820, 46.0028, 46.0328, 46.4116, 46.2222, 45.6439, 46.2122, 46.2521,
          45.7137, 46.4515, 45.7835, 45.3548, 44.0288, 44.1783, 44.2181, 44.5672, 43.4205, 42.6628, 43.1314]
PUBLISHED = [70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93, 63.26, 56.06, 62.38, 54.71, 50.42, 39.99,
             41.46, 41.87, 45.46, 37.30, 33.08, 37.77]


def hand_rsi(closes, period=14):
    """Wilder's RSI written out step by step: seed with simple averages, then smooth by 1/period."""
    changes = [b - a for a, b in zip(closes, closes[1:])]
    gains = [max(c, 0.0) for c in changes]
    losses = [max(-c, 0.0) for c in changes]
    avg_gain = sum(gains[:period]) / period
    avg_loss = sum(losses[:period]) / period
    out = [100 - 100 / (1 + avg_gain / avg_loss)]
    for g, l in zip(gains[period:], losses[period:]):
        avg_gain = (avg_gain * (period - 1) + g) / period
        avg_loss = (avg_loss * (period - 1) + l) / period
        out.append(100 - 100 / (1 + avg_gain / avg_loss))
    return out


def test_it_matches_the_published_worked_example_to_two_decimals():
    rsi = wilder_rsi(CLOSES)
    assert all(math.isnan(v) for v in rsi[:14])
    assert [round(v, 2) for v in rsi[14:]] == pytest.approx(PUBLISHED, abs=0.011)


def test_it_agrees_with_wilders_method_written_by_hand_to_1e_6():
    assert list(wilder_rsi(CLOSES)[14:]) == pytest.approx(hand_rsi(CLOSES), abs=1e-6)


def test_the_scans_500_candles_give_the_rsi_of_the_whole_history_within_0_01():
    # A long random walk: the value from the last 500 closes must match the value from all of them.
    rng = np.random.default_rng(7)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, 20_000)))
    full = wilder_rsi(closes)[-1]
    assert abs(wilder_rsi(closes[-RSI_HISTORY_CANDLES:])[-1] - full) < 0.01


def test_technical_score_is_linear_between_20_and_80():
    assert technical_score(10) == 10
    assert technical_score(20) == 10
    assert technical_score(50) == pytest.approx(5)
    assert technical_score(80) == 0
    assert technical_score(95) == 0


def test_it_flags_oversold_below_and_overbought_above_the_thresholds():
    t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    falling = [100 - i for i in range(30)]
    res = score_rsi("XUSDT", falling, t)
    assert res.rsi == 0 and res.signal == "oversold" and res.direction == "LONG" and res.score == 10
    rising = [100 + i for i in range(30)]
    res = score_rsi("XUSDT", rising, t)
    assert res.rsi == 100 and res.signal == "overbought" and res.direction == "SHORT" and res.score == 0
    res = score_rsi("XUSDT", CLOSES, t, oversold=25, overbought=75)
    assert res.signal is None and res.direction is None and res.rsi == pytest.approx(37.77, abs=0.01)
    assert res.candle_close_time == t and res.candles_used == len(CLOSES)
    assert any("37.77" in r for r in res.reasons)


def test_too_little_history_is_missing_not_zero():
    res = score_rsi("NEWUSDT", [1.0] * 10, None)
    assert res.rsi is None and res.score is None and res.signal is None
    assert res.missing == ["closes"]
