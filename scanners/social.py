"""Social trending from LunarCrush (SCORING.md §4): social momentum 0–100 and a trending flag.

momentum = 0.6 × Galaxy Score + 0.4 × AltRank percentile, with
AltRank percentile = 100 × (1 − (alt_rank − 1) / N), N = number of coins ranked (universe
context, passed in). With one of the two parts missing the weights renormalise over the part
present (``coverage`` says how much weight was present); with both missing momentum is None.

Trending (Galaxy Score rose ≥ 10, or AltRank improved by half or more) is three-valued: True
when either test passes, False when both were decided and failed, None when it cannot be told.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from scanners.snapshot import CoinSnapshot, ResultMixin, fmt, round_score


@dataclass
class SocialResult(ResultMixin):
    momentum: float | None  # 0–100, rounded to 0.1
    trending: bool | None
    direction: str | None  # "LONG" when momentum ≥ buy threshold
    alt_rank_percentile: float | None = None
    galaxy_change: float | None = None  # galaxy_score − galaxy_score_previous
    alt_rank_improvement_pct: float | None = None  # (previous − now) ÷ previous × 100
    coverage: float = 0.0  # share of momentum weight present
    reasons: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def alt_rank_percentile(alt_rank: float, ranked_count: int) -> float:
    """100 × (1 − (alt_rank − 1) / N), clamped to 0–100 (a rank past N, from a stale N, is 0)."""
    if ranked_count <= 0:
        raise ValueError(f"ranked_count must be positive, got {ranked_count}")
    if alt_rank < 1:
        raise ValueError(f"AltRank starts at 1, got {alt_rank}")
    return min(100.0, max(0.0, 100 * (1 - (alt_rank - 1) / ranked_count)))


def _trending(s: CoinSnapshot, rise: float, improvement: float, out: SocialResult) -> bool | None:
    tests: list[bool | None] = [None, None]
    if s.galaxy_score is not None and s.galaxy_score_previous is not None:
        out.galaxy_change = s.galaxy_score - s.galaxy_score_previous
        tests[0] = out.galaxy_change >= rise
        if tests[0]:
            out.reasons.append(f"trending: Galaxy Score {fmt(s.galaxy_score_previous)} → "
                               f"{fmt(s.galaxy_score)} rose {fmt(out.galaxy_change)} ≥ {fmt(rise)}")
    if s.alt_rank is not None and s.alt_rank_previous is not None and s.alt_rank_previous > 0:
        share = (s.alt_rank_previous - s.alt_rank) / s.alt_rank_previous
        out.alt_rank_improvement_pct = 100 * share
        tests[1] = share >= improvement
        if tests[1]:
            out.reasons.append(f"trending: AltRank {fmt(s.alt_rank_previous)} → {fmt(s.alt_rank)} improved "
                               f"{fmt(100 * share, 1)}% ≥ {fmt(100 * improvement)}%")
    if any(tests):
        return True
    return None if None in tests else False


def score_social(
    snap: CoinSnapshot,
    ranked_count: int | None,
    *,
    galaxy_weight: float = 0.6,
    alt_rank_weight: float = 0.4,
    galaxy_rise: float = 10,
    alt_rank_improvement: float = 0.5,
    buy_threshold: float = 70,
) -> SocialResult:
    """Social momentum and trending of one coin; ``ranked_count`` is N, the coins LunarCrush
    ranked in this pull (None when unknown, which leaves the AltRank part missing)."""
    out = SocialResult(None, None, None)
    for name in ("galaxy_score", "alt_rank", "galaxy_score_previous", "alt_rank_previous"):
        if getattr(snap, name) is None:
            out.missing.append(name)
    parts: list[tuple[float, float]] = []  # (value, weight)
    if snap.galaxy_score is not None:
        parts.append((snap.galaxy_score, galaxy_weight))
        out.reasons.append(f"Galaxy Score {fmt(snap.galaxy_score)} × {fmt(galaxy_weight)}")
    if snap.alt_rank is not None:
        if ranked_count is None:
            out.missing.append("ranked_count")
        else:
            out.alt_rank_percentile = alt_rank_percentile(snap.alt_rank, ranked_count)
            parts.append((out.alt_rank_percentile, alt_rank_weight))
            out.reasons.append(f"AltRank {fmt(snap.alt_rank)} of {ranked_count} → percentile "
                               f"{fmt(out.alt_rank_percentile, 1)} × {fmt(alt_rank_weight)}")
    used = sum(w for _, w in parts)
    out.coverage = round(used / (galaxy_weight + alt_rank_weight), 4)
    if parts and used > 0:
        out.momentum = round_score(sum(v * w for v, w in parts) / used)
        note = "" if out.coverage == 1 else f" (renormalised over {fmt(out.coverage * 100, 1)}% of the weight)"
        out.reasons.append(f"social momentum {fmt(out.momentum, 1)}{note}")
        if out.momentum >= buy_threshold:
            out.direction = "LONG"
            out.reasons.append(f"social momentum {fmt(out.momentum, 1)} ≥ {fmt(buy_threshold)} → LONG")
    out.trending = _trending(snap, galaxy_rise, alt_rank_improvement, out)
    return out
