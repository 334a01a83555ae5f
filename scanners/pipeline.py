"""Scoring one coin with every scanner, and the unified score over them — pure functions.

The live scan, the backtester and the look-ahead check all call `score_coin` on a snapshot
built by `coindata.build_snapshot`, so they cannot drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from signals.unified import ComponentScores, UnifiedResult, unified_score

from .coindata import CoinData, build_snapshot, utc_ms
from .mss import score_mss
from .rsi import score_rsi
from .smart_money import percentile_ranks, score_smart_money
from .snapshot import CoinSnapshot
from .social import score_social
from .whale import score_volume_spike, score_whale

SCANNERS = ("rsi", "smart_money", "mss", "social", "whale", "volume_spike")
MSS_MAX_AGE_HOURS = 168  # MSS scores listings younger than 7 days (SCORING.md §3)


@dataclass(frozen=True)
class Thresholds:
    accumulation: float = 7
    distribution: float = 7
    mss: float = 75
    rsi_oversold: float = 25
    rsi_overbought: float = 75
    rsi_period: int = 14


@dataclass
class ScannerOutput:
    """One scanner's verdict in the shape ScanResult stores."""
    score: float | None
    scores: dict[str, Any]
    signal: str
    direction: str
    reasons: list[str]
    missing: list[str]
    detail: dict[str, Any]


def score_coin(snap: CoinSnapshot, closes: list[float], ranked_count: int | None, t: Thresholds,
               scanners: tuple[str, ...] = SCANNERS) -> dict[str, ScannerOutput]:
    out: dict[str, ScannerOutput] = {}
    if "rsi" in scanners:
        r = score_rsi(snap.symbol, closes, snap.candle_close_time, period=t.rsi_period,
                      oversold=t.rsi_oversold, overbought=t.rsi_overbought)
        out["rsi"] = ScannerOutput(r.score, {"rsi": r.rsi, "technical": r.score}, r.signal or "", r.direction or "",
                                   r.reasons, r.missing, {"candles_used": r.candles_used})
    sm = score_smart_money(snap, t.accumulation, t.distribution)
    if "smart_money" in scanners:
        main = sm.accumulation if sm.state != "distributing" else sm.distribution
        out["smart_money"] = ScannerOutput(
            None if main is None else float(main), {"accumulation": sm.accumulation, "distribution": sm.distribution},
            sm.state or "", sm.direction or "", sm.reasons, sm.missing, {})
    if "mss" in scanners and snap.age_hours is not None and snap.age_hours < MSS_MAX_AGE_HOURS:
        m = score_mss(snap, sm.accumulation, alert_threshold=t.mss)
        out["mss"] = ScannerOutput(m.score, {"mss": m.score, "coverage": m.coverage},
                                   "gem" if m.direction else "", m.direction or "", m.reasons, m.missing,
                                   {"phases_scored": m.phases_scored, "age_hours": round(snap.age_hours, 2)})
    if "social" in scanners:
        s = score_social(snap, ranked_count)
        out["social"] = ScannerOutput(s.momentum, {"momentum": s.momentum, "trending": s.trending,
                                                   "galaxy_score": snap.galaxy_score, "alt_rank": snap.alt_rank},
                                      "trending" if s.trending else "", s.direction or "", s.reasons, s.missing, {})
    if "whale" in scanners:
        w = score_whale(snap)
        out["whale"] = ScannerOutput(None if w.score is None else float(w.score), {"whale": w.score}, "", "",
                                     w.reasons, w.missing, {})
    if "volume_spike" in scanners:
        v = score_volume_spike(snap)
        out["volume_spike"] = ScannerOutput(v.score, {"volume_spike": v.score, "ratio": v.ratio},
                                            "spike" if (v.score or 0) >= 5 else "", "", v.reasons, v.missing, {})
    return out


def components_from(latest: dict[str, dict[str, Any]]) -> ComponentScores:
    """The unified score's inputs from each scanner's stored scores ({scanner: scores})."""
    def pick(scanner: str, key: str) -> float | None:
        value = (latest.get(scanner) or {}).get(key)
        return None if value is None else float(value)
    return ComponentScores(accumulation=pick("smart_money", "accumulation"), mss=pick("mss", "mss"),
                           technical=pick("rsi", "technical"), rsi=pick("rsi", "rsi"),
                           social_momentum=pick("social", "momentum"), whale=pick("whale", "whale"),
                           volume_spike=pick("volume_spike", "volume_spike"))


def risk_level(snap_age_hours: float | None, pct_24h: float | None, coverage: float) -> str:
    """HIGH for listings under 7 days, 24h moves of 15% or more, or under half the score measured;
    MEDIUM for moves of 5% or more or under 80% measured; else LOW (docs/scoring.md)."""
    move = abs(pct_24h) if pct_24h is not None else None
    if (snap_age_hours is not None and snap_age_hours < MSS_MAX_AGE_HOURS) or (move is not None and move >= 15) \
            or coverage < 0.5:
        return "HIGH"
    if (move is not None and move >= 5) or coverage < 0.8 or move is None:
        return "MEDIUM"
    return "LOW"


def unify(latest: dict[str, dict[str, Any]], weights: dict[str, float], tier_thresholds, min_confirmations: int
          ) -> UnifiedResult:
    return unified_score(components_from(latest), weights, tier_thresholds=tier_thresholds,
                         min_confirmations=min_confirmations)


def score_universe(coins: dict[str, CoinData], as_of, t: Thresholds, scanners: tuple[str, ...] = SCANNERS
                   ) -> tuple[dict[str, CoinSnapshot], dict[str, dict[str, ScannerOutput]]]:
    """Snapshots and scores of every coin at `as_of`, from data measured by then. Social activity is
    a percentile within this universe, so every coin's social volume is read first."""
    as_of_ms = utc_ms(as_of)

    def latest(cd: CoinData, name: str) -> float | None:
        point = cd.value_at(name, as_of_ms)
        return point[1] if point else None
    social = percentile_ranks({s: latest(cd, "social_volume_24h") for s, cd in coins.items()})
    snaps, outputs = {}, {}
    for symbol, cd in coins.items():
        snaps[symbol] = snap = build_snapshot(cd, as_of, social.get(symbol))
        closes, _ = cd.closes_until(as_of_ms)
        ranked = latest(cd, "alt_rank_count")
        outputs[symbol] = score_coin(snap, closes, int(ranked) if ranked else None, t, scanners)
    return snaps, outputs
