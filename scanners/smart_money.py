"""Smart money: accumulation (quiet buying) and distribution (selling into strength), 0–10 each
(SCORING.md §2).

Missing inputs earn nothing and are listed; the scores are *not* renormalised, so with inputs
missing they are lower bounds. They are None only when every input is missing. A two-input rule
with one input missing still awards the part that can be decided (|pct_4h| < 3 → +1 without
pct_24h), because that point is earned whatever pct_24h turns out to be.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from scanners.snapshot import CoinSnapshot, ResultMixin, Tiers, fmt, pts

INPUTS = ("buy_pressure_pct", "funding_pct", "social_activity_pct", "pct_4h", "pct_24h")


@dataclass(frozen=True)
class SmartMoneyRules:
    """The rule tables of §2; the defaults are SCORING.md's, the database may supply others."""

    buy_pressure: Tiers = Tiers(">", ((80, 3), (65, 2), (55, 1)))
    funding_low: Tiers = Tiers("<", ((0, 2), (0.1, 1)))
    social_low: Tiers = Tiers("<", ((30, 2), (45, 1)))
    quiet_4h: float = 1.5  # |pct_4h| < this and |pct_24h| < quiet_24h → quiet_points
    quiet_24h: float = 3
    quiet_points: int = 2
    calm_4h: float = 3  # else |pct_4h| < this → calm_points
    calm_points: int = 1
    drift_24h: tuple[float, float] = (0, 5)  # lo < pct_24h < hi → +1
    sell_pressure: Tiers = Tiers(">", ((80, 3), (65, 2), (55, 1)))
    funding_high: Tiers = Tiers(">", ((0.5, 2), (0.3, 1)))
    social_high: Tiers = Tiers(">", ((70, 2), (55, 1)))
    pump_24h: Tiers = Tiers(">", ((15, 2), (8, 1)))
    fade: tuple[float, float] = (5, 0)  # pct_24h > a and pct_4h < b → +1


@dataclass
class SmartMoneyResult(ResultMixin):
    accumulation: int | None
    distribution: int | None
    state: str | None  # "accumulating" | "distributing" | None
    direction: str | None  # "LONG" | "SHORT" | None
    reasons: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def percentile_rank(value: float, population: Iterable[float | None]) -> float:
    """Percentile rank (0–100) of ``value`` in ``population`` (None entries ignored). Ties count
    half: (below + ½·equal) ÷ n × 100, so a universe where every coin has the same social
    volume ranks them all 50, not 0 or 100."""
    pop = sorted(v for v in population if v is not None)
    if not pop:
        raise ValueError("percentile_rank needs a non-empty population")
    return _rank(value, pop)


def percentile_ranks(values: Mapping[str, float | None]) -> dict[str, float | None]:
    """percentile_rank of every symbol's value within all values, sorting once (None stays None)."""
    pop = sorted(v for v in values.values() if v is not None)
    return {k: None if v is None else _rank(v, pop) for k, v in values.items()}


def _rank(value: float, pop: list[float]) -> float:
    below = bisect_left(pop, value)
    equal = bisect_right(pop, value) - below
    return 100 * (below + 0.5 * equal) / len(pop)


def _tier(rule: Tiers, value: float | None, label: str, unit: str, out: list[str], side: str) -> int:
    if value is None:
        return 0
    hit = rule.score(value)
    if hit is None:
        return 0
    out.append(f"{side}: {label} {fmt(value, 4 if 'funding' in label else 2)}{unit} {hit[1]} → {pts(hit[0])}")
    return int(hit[0])


def _accumulation(s: CoinSnapshot, r: SmartMoneyRules, out: list[str]) -> int:
    a = "accumulation"
    score = _tier(r.buy_pressure, s.buy_pressure_pct, "buy pressure", "%", out, a)
    score += _tier(r.funding_low, s.funding_pct, "funding", "%", out, a)
    score += _tier(r.social_low, s.social_activity_pct, "social activity pct", "", out, a)
    p4, p24 = s.pct_4h, s.pct_24h
    if p4 is not None:
        if p24 is not None and abs(p4) < r.quiet_4h and abs(p24) < r.quiet_24h:
            score += r.quiet_points
            out.append(f"{a}: quiet price |4h| {fmt(abs(p4))}% < {fmt(r.quiet_4h)} and "
                       f"|24h| {fmt(abs(p24))}% < {fmt(r.quiet_24h)} → {pts(r.quiet_points)}")
        elif abs(p4) < r.calm_4h:
            score += r.calm_points
            out.append(f"{a}: calm price |4h| {fmt(abs(p4))}% < {fmt(r.calm_4h)} → {pts(r.calm_points)}")
    lo, hi = r.drift_24h
    if p24 is not None and lo < p24 < hi:
        score += 1
        out.append(f"{a}: 24h change {fmt(lo)} < {fmt(p24)}% < {fmt(hi)} → +1")
    return score


def _distribution(s: CoinSnapshot, r: SmartMoneyRules, out: list[str]) -> int:
    d = "distribution"
    sell = None if s.buy_pressure_pct is None else 100 - s.buy_pressure_pct
    score = _tier(r.sell_pressure, sell, "sell pressure", "%", out, d)
    score += _tier(r.funding_high, s.funding_pct, "funding", "%", out, d)
    score += _tier(r.social_high, s.social_activity_pct, "social activity pct", "", out, d)
    score += _tier(r.pump_24h, s.pct_24h, "24h change", "%", out, d)
    up, down = r.fade
    if s.pct_24h is not None and s.pct_4h is not None and s.pct_24h > up and s.pct_4h < down:
        score += 1
        out.append(f"{d}: fading pump 24h {fmt(s.pct_24h)}% > {fmt(up)} and "
                   f"4h {fmt(s.pct_4h)}% < {fmt(down)} → +1")
    return score


def score_smart_money(
    snap: CoinSnapshot,
    accumulation_threshold: float = 7,
    distribution_threshold: float = 7,
    rules: SmartMoneyRules = SmartMoneyRules(),
) -> SmartMoneyResult:
    """Accumulation and distribution scores of one coin, and its state: accumulating (LONG) when
    accumulation ≥ its threshold and > distribution; distributing (SHORT) the other way round."""
    missing = [name for name in INPUTS if getattr(snap, name) is None]
    if len(missing) == len(INPUTS):
        return SmartMoneyResult(None, None, None, None, [], missing)
    reasons: list[str] = []
    acc = _accumulation(snap, rules, reasons)
    dist = _distribution(snap, rules, reasons)
    state = direction = None
    if acc >= accumulation_threshold and acc > dist:
        state, direction = "accumulating", "LONG"
        reasons.append(f"accumulating: {acc} ≥ {fmt(accumulation_threshold)} and > distribution {dist}")
    elif dist >= distribution_threshold and dist > acc:
        state, direction = "distributing", "SHORT"
        reasons.append(f"distributing: {dist} ≥ {fmt(distribution_threshold)} and > accumulation {acc}")
    return SmartMoneyResult(acc, dist, state, direction, reasons, missing)
