"""Scoring one coin with every scanner, and the unified score over them — pure functions.

The live scan, the backtester and the look-ahead check all call `score_coin` on a snapshot
built by `coindata.build_snapshot`, so they cannot drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

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

    @classmethod
    def from_settings(cls) -> "Thresholds":
        """The .env defaults (the database's ScoringConfig overrides them: cryptosatx.scanning)."""
        from django.conf import settings
        return cls(settings.ACCUMULATION_ALERT_THRESHOLD, settings.DISTRIBUTION_ALERT_THRESHOLD,
                   settings.MSS_ALERT_THRESHOLD, settings.RSI_OVERSOLD_THRESHOLD, settings.RSI_OVERBOUGHT_THRESHOLD,
                   settings.RSI_PERIOD)


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


def social_ranks(coins: dict[str, CoinData], as_of_ms: int) -> dict[str, float | None]:
    """Each coin's social volume as a percentile within the universe (SCORING.md §1)."""
    return percentile_ranks({s: _latest(cd, "social_volume_24h", as_of_ms) for s, cd in coins.items()})


def _latest(cd: CoinData, name: str, as_of_ms: int) -> float | None:
    point = cd.value_at(name, as_of_ms)
    return point[1] if point else None


def _score_one(cd: CoinData, as_of, social_pct: float | None, t: Thresholds, scanners: tuple[str, ...],
               snap: CoinSnapshot | None = None) -> tuple[CoinSnapshot, dict[str, ScannerOutput]]:
    """`snap`: build_snapshot's for the same arguments, if the caller has it already."""
    as_of_ms = utc_ms(as_of)
    if snap is None:
        snap = build_snapshot(cd, as_of, social_pct)
    closes, _ = cd.closes_until(as_of_ms)
    ranked = _latest(cd, "alt_rank_count", as_of_ms)
    return snap, score_coin(snap, closes, int(ranked) if ranked else None, t, scanners)


def score_universe(coins: dict[str, CoinData], as_of, t: Thresholds, scanners: tuple[str, ...] = SCANNERS
                   ) -> tuple[dict[str, CoinSnapshot], dict[str, dict[str, ScannerOutput]]]:
    """Snapshots and scores of every coin at `as_of`, from data measured by then. Social activity is
    a percentile within this universe, so every coin's social volume is read first."""
    social = social_ranks(coins, utc_ms(as_of))
    snaps, outputs = {}, {}
    for symbol, cd in coins.items():
        snaps[symbol], outputs[symbol] = _score_one(cd, as_of, social.get(symbol), t, scanners)
    return snaps, outputs


class StreamScorer:
    """A live scan's scoring, coin by coin as the fetch completes each (scanners.gather): a coin is
    scored as of the moment its last datum arrived, from data measured by then, like
    `score_universe` at that moment. Social activity is ranked within the universe once every
    coin's social volume is in (the bulk stage, before any coin is complete)."""

    def __init__(self, t: Thresholds, scanners: tuple[str, ...],
                 prepare: Callable[[CoinData, CoinSnapshot, dict[str, ScannerOutput]], Any] | None = None,
                 social: dict[str, float | None] | None = None):
        """`social`: the coins' social activity percentiles, ranked already within a universe larger
        than the coins this scores (a chunk's: scanners.chunks); `rank_social` then keeps them."""
        self.t, self.scanners, self.prepare = t, scanners, prepare
        self.social, self.social_given = social, social is not None
        self.snaps: dict[str, CoinSnapshot] = {}
        self.outputs: dict[str, dict[str, ScannerOutput]] = {}
        self.prepared: dict[str, Any] = {}  # what `prepare(coin, snapshot, outputs)` made of each, if given

    def rank_social(self, coins: dict[str, CoinData], as_of) -> None:
        if not self.social_given:
            self.social = social_ranks(coins, utc_ms(as_of))

    def snapshot(self, cd: CoinData, as_of) -> CoinSnapshot:
        """The snapshot `score` would score the coin from at `as_of` (built once: the shortlist's
        judgement reads it too)."""
        if self.social is None:
            raise RuntimeError("a coin scored before the universe's social volumes were ranked")
        return build_snapshot(cd, as_of, self.social.get(cd.symbol))

    def score(self, cd: CoinData, as_of, snap: CoinSnapshot | None = None) -> None:
        """Score the coin at `as_of` (`snap`: what `snapshot` gave for it at `as_of`, if at hand)."""
        if snap is None:
            snap = self.snapshot(cd, as_of)
        snap, outputs = self.snaps[cd.symbol], self.outputs[cd.symbol] = _score_one(
            cd, as_of, snap.social_activity_pct, self.t, self.scanners, snap)
        if self.prepare is not None:
            self.prepared[cd.symbol] = self.prepare(cd, snap, outputs)

    def finish(self, coins: dict[str, CoinData], as_of) -> tuple[dict[str, CoinSnapshot],
                                                                  dict[str, dict[str, ScannerOutput]]]:
        """Every coin of `coins` scored, in their order: those not scored yet at `as_of` (ranked
        then, if the universe's social volumes never were), the others as they were."""
        if self.social is None:
            self.rank_social(coins, as_of)
        snaps, outputs = {}, {}
        for symbol, cd in coins.items():
            if symbol not in self.outputs:
                self.score(cd, as_of)
            snaps[symbol], outputs[symbol] = self.snaps[symbol], self.outputs[symbol]
        return snaps, outputs
