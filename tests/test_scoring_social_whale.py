"""Social trending (SCORING.md §4), whale activity and volume spike (§5). Plain pytest, no DB."""
import json
from datetime import datetime, timezone

import pytest

from scanners.snapshot import CoinSnapshot
from scanners.social import alt_rank_percentile, score_social
from scanners.whale import score_volume_spike, score_whale

T0 = datetime(2025, 3, 1, tzinfo=timezone.utc)


def snap(**kw):
    return CoinSnapshot(symbol="ABCUSDT", as_of=T0, **kw)


# ------------------------------------------------------------------ social momentum

@pytest.mark.parametrize("rank, n, pct", [(1, 100, 100), (100, 100, 1), (51, 100, 50), (150, 100, 0)])
def test_alt_rank_percentile(rank, n, pct):
    assert alt_rank_percentile(rank, n) == pytest.approx(pct)


def test_alt_rank_percentile_refuses_nonsense():
    with pytest.raises(ValueError):
        alt_rank_percentile(5, 0)
    with pytest.raises(ValueError):
        alt_rank_percentile(0, 100)


def test_worked_example_momentum():
    # 0.6 × 80 + 0.4 × 100 (rank 1 of 100) = 88
    r = score_social(snap(galaxy_score=80, alt_rank=1), ranked_count=100)
    assert (r.momentum, r.coverage, r.direction) == (88.0, 1.0, "LONG")
    json.dumps(r.to_dict())


def test_one_part_missing_renormalises():
    # AltRank 51 of 100 → 100 × (1 − 50/100) = 50: momentum 50 from 0.4 of the weight
    r = score_social(snap(alt_rank=51), ranked_count=100)
    assert (r.momentum, r.coverage) == (50.0, 0.4)
    assert "galaxy_score" in r.missing
    r = score_social(snap(galaxy_score=64, alt_rank=3), ranked_count=None)
    assert (r.momentum, r.coverage) == (64.0, 0.6)
    assert "ranked_count" in r.missing


def test_no_social_data_is_none_not_zero():
    r = score_social(snap(), ranked_count=100)
    assert (r.momentum, r.trending, r.direction, r.coverage) == (None, None, None, 0.0)
    assert r.missing == ["galaxy_score", "alt_rank", "galaxy_score_previous", "alt_rank_previous"]


@pytest.mark.parametrize("galaxy, direction", [(70, "LONG"), (69.9, None)])
def test_momentum_buy_threshold_is_inclusive(galaxy, direction):
    assert score_social(snap(galaxy_score=galaxy), ranked_count=None).direction == direction


@pytest.mark.parametrize("kw, trending", [
    (dict(galaxy_score=60, galaxy_score_previous=50, alt_rank=10, alt_rank_previous=10), True),  # +10
    (dict(galaxy_score=59.9, galaxy_score_previous=50, alt_rank=10, alt_rank_previous=10), False),
    (dict(galaxy_score=50, galaxy_score_previous=50, alt_rank=100, alt_rank_previous=200), True),  # halved
    (dict(galaxy_score=50, galaxy_score_previous=50, alt_rank=101, alt_rank_previous=200), False),  # 49.5%
    (dict(galaxy_score=60, galaxy_score_previous=50), True),  # one test passes: enough
    (dict(galaxy_score=55, galaxy_score_previous=50), None),  # one fails, other unknown: can't tell
    (dict(alt_rank=10, alt_rank_previous=15), None),
    (dict(galaxy_score=55, alt_rank=10), None),
])
def test_trending_is_three_valued(kw, trending):
    assert score_social(snap(**kw), ranked_count=500).trending is trending


def test_trending_records_the_changes():
    r = score_social(snap(galaxy_score=62, galaxy_score_previous=50, alt_rank=40, alt_rank_previous=100),
                     ranked_count=500)
    assert r.galaxy_change == 12 and r.alt_rank_improvement_pct == 60
    assert sum("trending:" in reason for reason in r.reasons) == 2


# ------------------------------------------------------------------ whale activity

@pytest.mark.parametrize("kw, score", [
    (dict(oi_change_24h_pct=20), 4), (dict(oi_change_24h_pct=19.99), 2),
    (dict(oi_change_24h_pct=10), 2), (dict(oi_change_24h_pct=9.99), 0),
    (dict(top_trader_position_ratio=1.5), 3), (dict(top_trader_position_ratio=2.5), 3),
    (dict(top_trader_position_ratio=1.49), 0), (dict(top_trader_position_ratio=2.51), 0),
    (dict(futures_taker_buy_share_pct=55), 0), (dict(futures_taker_buy_share_pct=55.01), 3),
])
def test_whale_boundaries(kw, score):
    assert score_whale(snap(**kw)).score == score


def test_whale_worked_example():
    # OI +35% → 4, ratio 2.0 → 3, taker-buy 58% → 3 = 10
    r = score_whale(snap(oi_change_24h_pct=35, top_trader_position_ratio=2.0, futures_taker_buy_share_pct=58))
    assert (r.score, r.missing, r.direction) == (10, [], None)
    assert "OI change 24h 35% ≥ 20 → +4" in r.reasons


def test_whale_missing_inputs():
    r = score_whale(snap(oi_change_24h_pct=12))
    assert r.score == 2
    assert r.missing == ["top_trader_position_ratio", "futures_taker_buy_share_pct"]
    assert score_whale(snap()).score is None  # spot-only: no whale score at all, not 0


# ------------------------------------------------------------------ volume spike

@pytest.mark.parametrize("vol, score", [(100, 0), (50, 0), (130, 0.75), (300, 5), (500, 10), (900, 10)])
def test_volume_spike_formula(vol, score):
    # average daily volume 100: score = min(10, max(0, 2.5 × (vol/100 − 1)))
    r = score_volume_spike(snap(quote_volume_24h=vol, avg_daily_quote_volume_7d=100))
    assert r.score == score and r.ratio == vol / 100


def test_volume_spike_missing_or_undefined():
    r = score_volume_spike(snap(quote_volume_24h=500))
    assert r.score is None and r.missing == ["avg_daily_quote_volume_7d"]
    r = score_volume_spike(snap(quote_volume_24h=500, avg_daily_quote_volume_7d=0))
    assert r.score is None and r.ratio is None and "avg_daily_quote_volume_7d" in r.missing
    json.dumps(r.to_dict())
