"""MSS (SCORING.md §3): every tier boundary, phase renormalisation, partial phases. No DB."""
import json
from datetime import datetime, timezone

import pytest

from scanners.mss import score_mss
from scanners.snapshot import CoinSnapshot

T0 = datetime(2025, 3, 1, tzinfo=timezone.utc)
FUTURES = dict(oi_change_24h_pct=60, funding_pct=0.02, top_trader_position_ratio=1.3)
SPOT = dict(fdv=8e6, age_hours=30, circulating_share_pct=35,
            alt_rank=150, galaxy_score=68, sentiment=62, volume_change_24h_pct=120)


def snap(**kw):
    return CoinSnapshot(symbol="NEWUSDT", as_of=T0, **kw)


def phase_points(field, value, phase):
    return score_mss(snap(**{field: value})).phases[phase].points


@pytest.mark.parametrize("field, value, points", [
    ("fdv", 5e6, 15), ("fdv", 5e6 + 1, 13), ("fdv", 10e6, 13), ("fdv", 10e6 + 1, 10),
    ("fdv", 25e6, 10), ("fdv", 50e6, 6), ("fdv", 50e6 + 1, 2),
    ("age_hours", 24, 12), ("age_hours", 24.01, 10), ("age_hours", 48, 10), ("age_hours", 72, 7),
    ("age_hours", 72.5, 4), ("age_hours", 168, 4), ("age_hours", 168.1, 1),
    ("circulating_share_pct", 20, 8), ("circulating_share_pct", 20.1, 6), ("circulating_share_pct", 40, 6),
    ("circulating_share_pct", 60, 4), ("circulating_share_pct", 60.1, 2),
])
def test_discovery_tiers_are_inclusive(field, value, points):
    assert phase_points(field, value, "discovery") == points


@pytest.mark.parametrize("field, value, points", [
    ("alt_rank", 50, 10), ("alt_rank", 51, 8), ("alt_rank", 100, 8), ("alt_rank", 200, 5),
    ("alt_rank", 500, 3), ("alt_rank", 501, 1),
    ("galaxy_score", 75, 8), ("galaxy_score", 74.9, 6), ("galaxy_score", 65, 6), ("galaxy_score", 50, 4),
    ("galaxy_score", 49.9, 1),
    ("sentiment", 70, 6), ("sentiment", 69.9, 4.5), ("sentiment", 60, 4.5), ("sentiment", 50, 3),
    ("sentiment", 49.9, 1),
    ("volume_change_24h_pct", 200, 6), ("volume_change_24h_pct", 199.9, 5), ("volume_change_24h_pct", 100, 5),
    ("volume_change_24h_pct", 50, 3.5), ("volume_change_24h_pct", 25, 2), ("volume_change_24h_pct", 24.9, 0.5),
])
def test_social_tiers_are_inclusive(field, value, points):
    assert phase_points(field, value, "social") == points


@pytest.mark.parametrize("field, value, points", [
    ("oi_change_24h_pct", 200, 12), ("oi_change_24h_pct", 100, 10), ("oi_change_24h_pct", 99.9, 7),
    ("oi_change_24h_pct", 50, 7), ("oi_change_24h_pct", 25, 4), ("oi_change_24h_pct", 0, 1),
    ("oi_change_24h_pct", -0.1, 0),
    # funding band 0.01–0.04 inclusive → 8, above → 4, in (0, 0.01) → 5, ≤ 0 → 1
    ("funding_pct", 0.01, 8), ("funding_pct", 0.04, 8), ("funding_pct", 0.0401, 4), ("funding_pct", 0.5, 4),
    ("funding_pct", 0.0099, 5), ("funding_pct", 0.0001, 5), ("funding_pct", 0, 1), ("funding_pct", -0.02, 1),
    # ratio band 1.5–2.5 inclusive → 10, above → 5, [1.2, 1.5) → 7, [1.0, 1.2) → 4, below → 1
    ("top_trader_position_ratio", 1.5, 10), ("top_trader_position_ratio", 2.5, 10),
    ("top_trader_position_ratio", 2.51, 5), ("top_trader_position_ratio", 1.49, 7),
    ("top_trader_position_ratio", 1.2, 7), ("top_trader_position_ratio", 1.19, 4),
    ("top_trader_position_ratio", 1.0, 4), ("top_trader_position_ratio", 0.99, 1),
])
def test_validation_tiers(field, value, points):
    assert phase_points(field, value, "validation") == points


@pytest.mark.parametrize("accumulation, bonus", [(7, 5), (10, 5), (6, 0), (6.99, 0)])
def test_accumulation_bonus(accumulation, bonus):
    r = score_mss(snap(oi_change_24h_pct=-5), accumulation)  # OI < 0 → 0 points, so points = bonus
    assert r.phases["validation"].points == bonus
    assert r.phases["validation"].max_points == 12 + 5


def test_worked_example_with_every_input():
    # discovery: FDV 8M → 13, age 30h → 10, circulating 35% → 6 = 29/35 → 82.86
    # social: AltRank 150 → 5, Galaxy 68 → 6, sentiment 62 → 4.5, volume +120% → 5 = 20.5/30 → 68.33
    # validation: OI +60% → 7, funding 0.02 → 8, ratio 1.3 → 7, accumulation 8 → 5 = 27/35 → 77.14
    # MSS = 0.35 × 82.857 + 0.30 × 68.333 + 0.35 × 77.143 = 29 + 20.5 + 27 = 76.5
    r = score_mss(snap(**SPOT, **FUTURES), accumulation=8)
    assert r.score == 76.5 and r.direction == "LONG"
    assert r.phases_scored == ["discovery", "social", "validation"]
    assert {p: v.normalised for p, v in r.phases.items()} == {"discovery": 82.9, "social": 68.3, "validation": 77.1}
    assert r.coverage == 1.0 and r.missing == []
    assert "discovery: FDV $8M ≤ $10M → +13" in r.reasons
    json.dumps(r.to_dict())


def test_spot_only_listing_has_no_validation_phase():
    # (0.35 × 82.857 + 0.30 × 68.333) / 0.65 = 49.5 / 0.65 = 76.15
    r = score_mss(snap(**SPOT), accumulation=8)
    assert r.phases_scored == ["discovery", "social"]
    assert r.score == 76.2
    assert r.coverage == 0.65
    assert set(r.missing) == set(FUTURES)
    assert any("accumulation 8 unused" in reason for reason in r.reasons)


def test_a_partial_phase_is_normalised_by_its_full_maximum():
    # Discovery without circulating share: (13 + 10) / 35 = 65.71; the missing share earns nothing.
    r = score_mss(snap(fdv=8e6, age_hours=30))
    assert r.phases["discovery"].max_points == 27 and r.phases["discovery"].full_max == 35
    assert r.phases["discovery"].normalised == 65.7
    assert r.score == 65.7
    assert r.coverage == 0.27  # 0.35 × 27/35
    assert "circulating_share_pct" in r.missing


def test_a_missing_accumulation_earns_no_bonus_but_keeps_the_validation_maximum():
    # OI 7 + funding 8 + ratio 7 = 22 of 35 (the bonus's 5 cannot be earned) → 62.86
    r = score_mss(snap(**FUTURES))
    assert r.phases["validation"].max_points == 30 and r.phases["validation"].full_max == 35
    assert r.phases["validation"].normalised == 62.9
    assert "accumulation" in r.missing
    assert r.coverage == 0.3  # 0.35 × 30/35


def test_nothing_to_score():
    r = score_mss(snap(), accumulation=9)
    assert (r.score, r.direction, r.phases_scored, r.coverage) == (None, None, [], 0.0)
    assert len(r.missing) == 10


def test_direction_follows_the_alert_threshold():
    r = score_mss(snap(fdv=4e6, age_hours=10, circulating_share_pct=15))  # 15 + 12 + 8 = 35/35 → 100
    assert r.score == 100 and r.direction == "LONG"
    assert score_mss(snap(fdv=4e6, age_hours=10, circulating_share_pct=15), alert_threshold=100.1).direction is None
    assert score_mss(snap(fdv=4e6)).direction is None  # 15/35 → 42.9: one good input is not a gem


def test_custom_weights_and_bad_weights():
    # discovery: FDV 4M → 15/35 = 42.86; social: AltRank 600 → 1/30 = 3.33
    r = score_mss(snap(fdv=4e6, alt_rank=600), weights={"discovery": 0.5, "social": 0.5})
    assert r.score == 23.1  # (0.5 × 42.857 + 0.5 × 3.333) / 1.0 = 23.10
    with pytest.raises(ValueError):
        score_mss(snap(fdv=4e6), weights={"discovery": -1})
    with pytest.raises(ValueError):
        score_mss(snap(fdv=4e6), weights={"hype": 0.2})
