"""Unified score, tiers, cross-validation (SCORING.md §6) and alert tiers (§7). No DB."""
import json
import math

import pytest

from signals.unified import (AlertThresholds, ComponentScores, VoteThresholds, alert_tier, classify_tier,
                             cross_validate, unified_score)

ALL = dict(accumulation=8, mss=80, technical=6, social_momentum=60, whale=7, volume_spike=4)


def test_worked_example_with_every_component():
    # 0.30 × 80 + 0.25 × 80 + 0.15 × 60 + 0.15 × 60 + 0.10 × 70 + 0.05 × 40 = 24 + 20 + 9 + 9 + 7 + 2 = 71
    r = unified_score(ComponentScores(**ALL))
    assert (r.unified_score, r.tier, r.label, r.coverage) == (71.0, "TIER_2", "STRONG BUY", 1.0)
    assert r.breakdown["whale"].normalised == 70 and r.breakdown["whale"].points == 7.0
    assert r.breakdown["accumulation"].weight == 0.30
    assert r.missing == []
    # votes: accumulation 8 ≥ 7, MSS 80 ≥ 75; social 60 < 70; no RSI → 2 → BUY, 75 × 1.0
    cv = r.cross_validation
    assert (cv.confirmations, cv.action, cv.confidence) == (2, "BUY", 75.0)
    assert cv.votes == {"smart_money": True, "mss": True, "technical": None, "social": False}
    json.loads(json.dumps(r.to_dict()))


def test_missing_components_renormalise_and_lower_coverage():
    # (0.30 × 80 + 0.25 × 80) / 0.55 = 80; coverage 0.55
    r = unified_score(ComponentScores(accumulation=8, mss=80))
    assert (r.unified_score, r.coverage) == (80.0, 0.55)
    assert r.breakdown["accumulation"].points == 43.64  # 80 × 0.30 / 0.55
    assert r.breakdown["mss"].points == 36.36  # 80 × 0.25 / 0.55
    assert r.breakdown["technical"].raw is None and r.breakdown["technical"].points is None
    assert r.missing == ["technical", "social_momentum", "whale", "volume_spike"]
    # both vote BUY: 75 × 0.55 = 41.25 → 41.3 (half up)
    assert r.cross_validation.confidence == 41.3


def test_a_missing_component_is_not_a_zero():
    with_zero = unified_score(ComponentScores(mss=80, volume_spike=0)).unified_score
    without = unified_score(ComponentScores(mss=80)).unified_score
    assert without == 80.0 and with_zero == pytest.approx(66.7)  # 0.25 × 80 / 0.30


def test_nothing_present_gives_no_score():
    r = unified_score(ComponentScores(rsi=25))
    assert (r.unified_score, r.tier, r.label, r.coverage) == (None, None, None, 0.0)
    assert r.cross_validation.confirmations == 1 and r.cross_validation.confidence == 0.0
    json.dumps(r.to_dict())


@pytest.mark.parametrize("mss, tier, label", [
    (85, "TIER_1", "MUST BUY"), (84.9, "TIER_2", "STRONG BUY"), (70, "TIER_2", "STRONG BUY"),
    (69.9, "TIER_3", "WATCHLIST"), (55, "TIER_3", "WATCHLIST"), (54.9, "TIER_4", "NEUTRAL"), (0, "TIER_4", "NEUTRAL"),
])
def test_tier_boundaries(mss, tier, label):
    # MSS alone → unified = MSS; RSI 25 adds the second BUY vote so TIER_1 is not demoted
    r = unified_score(ComponentScores(mss=mss, rsi=25))
    assert (r.unified_score, r.tier, r.label, r.tier_demoted) == (mss, tier, label, False)


def test_tier_is_read_from_the_rounded_score():
    assert unified_score(ComponentScores(mss=84.96, rsi=25)).tier == "TIER_1"  # shows as 85.0
    assert classify_tier(84.96) == "TIER_2"


def test_tier_1_needs_confirmations():
    r = unified_score(ComponentScores(mss=90))  # one BUY vote (MSS)
    assert (r.unified_score, r.tier, r.label, r.tier_demoted) == (90.0, "TIER_2", "STRONG BUY", True)
    assert any("→ TIER_2" in reason for reason in r.reasons)
    assert unified_score(ComponentScores(mss=90), min_confirmations=1).tier == "TIER_1"
    assert unified_score(ComponentScores(mss=90, rsi=25), min_confirmations=3).tier == "TIER_2"


@pytest.mark.parametrize("kw, votes", [
    (dict(accumulation=7), 1), (dict(accumulation=6.99), 0),
    (dict(mss=75), 1), (dict(mss=74.9), 0),
    (dict(rsi=29.99), 1), (dict(rsi=30), 0),
    (dict(social_momentum=70), 1), (dict(social_momentum=69.9), 0),
])
def test_vote_boundaries(kw, votes):
    assert cross_validate(ComponentScores(**kw), coverage=1).confirmations == votes


@pytest.mark.parametrize("kw, action, confidence", [
    (dict(accumulation=9, mss=80, rsi=20, social_momentum=75), "STRONG_BUY", 85),
    (dict(accumulation=9, mss=80, rsi=20), "STRONG_BUY", 85),
    (dict(accumulation=9, mss=80), "BUY", 75),
    (dict(accumulation=9), "WATCH", 60),
    (dict(), "WATCH", 60),
])
def test_cross_validation_actions(kw, action, confidence):
    cv = cross_validate(ComponentScores(**kw), coverage=1)
    assert (cv.action, cv.base_confidence, cv.confidence) == (action, confidence, confidence)
    assert cv.agreeing_scanners == [k for k, v in cv.votes.items() if v]


def test_confidence_scales_with_coverage():
    assert cross_validate(ComponentScores(accumulation=9, mss=80, rsi=20), coverage=0.5).confidence == 42.5
    assert cross_validate(ComponentScores(), coverage=0.3).confidence == 18.0


def test_custom_vote_thresholds():
    assert cross_validate(ComponentScores(mss=70), 1, VoteThresholds(mss=70)).confirmations == 1


def test_weights_are_configurable_and_checked():
    # only accumulation and MSS weigh: (0.5 × 80 + 0.5 × 60) / 1.0 = 70; technical present but weighs 0
    r = unified_score(ComponentScores(accumulation=8, mss=60, technical=10), {"accumulation": 1, "mss": 1})
    assert (r.unified_score, r.coverage) == (70.0, 1.0)
    assert r.breakdown["technical"].points == 0
    for bad in ({"accumulation": -0.1, "mss": 1}, {"hype": 1}, {"mss": 0}):
        with pytest.raises(ValueError):
            unified_score(ComponentScores(mss=60), bad)


@pytest.mark.parametrize("kw", [dict(accumulation=10.5), dict(mss=101), dict(whale=-1), dict(rsi=math.nan)])
def test_out_of_range_components_are_refused(kw):
    with pytest.raises(ValueError):
        ComponentScores(**kw)


# ------------------------------------------------------------------ alert tiers

@pytest.mark.parametrize("kw, tier", [
    (dict(mss=90), 1), (dict(mss=89.9), 2), (dict(mss=75), 2), (dict(mss=74.9), 3), (dict(mss=60), 3),
    (dict(mss=59.9), None),
    (dict(accumulation=9), 1), (dict(accumulation=8), 2), (dict(accumulation=7), 2),
    (dict(accumulation=6), 3), (dict(accumulation=5), 3), (dict(accumulation=4), None),
    (dict(distribution=7), 2), (dict(distribution=10), 2), (dict(distribution=6), None),
    (dict(rsi=19.9, accumulation=7), 1), (dict(rsi=20, accumulation=7), 2), (dict(rsi=19.9, accumulation=6), 2),
    (dict(rsi=24.9), 2), (dict(rsi=25), 3), (dict(rsi=29.9), 3), (dict(rsi=30), None),
    (dict(unified_tier="TIER_1"), 1), (dict(unified_tier="TIER_2"), 2), (dict(unified_tier="TIER_3"), 3),
    (dict(unified_tier="TIER_4"), None), (dict(), None),
])
def test_alert_tier_boundaries(kw, tier):
    assert alert_tier(**kw).tier == tier


def test_highest_tier_wins_and_lists_its_rules():
    r = alert_tier(mss=95, accumulation=6, rsi=19, unified_tier="TIER_2")
    assert (r.tier, r.rules) == (1, ["MSS ≥ 90"])
    r = alert_tier(mss=80, distribution=8, rsi=24, unified_tier="TIER_2")
    assert (r.tier, r.rules) == (2, ["MSS ≥ 75", "distribution ≥ 7", "RSI < 25", "unified TIER_2"])
    r = alert_tier(rsi=19, accumulation=7)
    assert r.rules == ["RSI < 20 and accumulation ≥ 7"]
    json.dumps(r.to_dict())


def test_alert_thresholds_are_arguments():
    assert alert_tier(mss=85, thresholds=AlertThresholds(t1_mss=85)).tier == 1
