"""Whale activity (0–10) and volume spike (0–10) (SCORING.md §5).

Both are components of the unified score, not signals of their own: a volume spike happens in
dumps as in pumps, so neither has a direction (``direction`` is always None, kept so every
scanner result has the same shape).

Whale activity, like smart money, is not renormalised: missing inputs earn nothing (the score
is a lower bound) and it is None only when all three inputs are missing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from scanners.snapshot import CoinSnapshot, ResultMixin, Tiers, fmt, pts, round_score

WHALE_INPUTS = ("oi_change_24h_pct", "top_trader_position_ratio", "futures_taker_buy_share_pct")


@dataclass
class WhaleResult(ResultMixin):
    score: int | None  # 0–10
    direction: None = None
    reasons: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


@dataclass
class VolumeSpikeResult(ResultMixin):
    score: float | None  # 0–10, rounded to 0.01
    ratio: float | None  # last 24h quote volume ÷ average daily quote volume of the 7 days before
    direction: None = None
    reasons: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def score_whale(
    snap: CoinSnapshot,
    *,
    oi_change: Tiers = Tiers("≥", ((20, 4), (10, 2))),
    ratio_band: tuple[float, float] = (1.5, 2.5),
    ratio_points: int = 3,
    taker_buy_share: float = 55,
    taker_points: int = 3,
) -> WhaleResult:
    """OI change ≥ 20% → 4, ≥ 10% → 2; top-trader long/short ratio in 1.5–2.5 (inclusive) → 3;
    futures taker-buy share > 55% → 3."""
    out = WhaleResult(None)
    out.missing = [name for name in WHALE_INPUTS if getattr(snap, name) is None]
    if len(out.missing) == len(WHALE_INPUTS):
        return out
    score = 0
    if snap.oi_change_24h_pct is not None:
        hit = oi_change.score(snap.oi_change_24h_pct)
        if hit:
            score += int(hit[0])
            out.reasons.append(f"OI change 24h {fmt(snap.oi_change_24h_pct)}% {hit[1]} → {pts(hit[0])}")
    ratio = snap.top_trader_position_ratio
    lo, hi = ratio_band
    if ratio is not None and lo <= ratio <= hi:
        score += ratio_points
        out.reasons.append(f"top-trader long/short {fmt(ratio)} in {fmt(lo)}–{fmt(hi)} → {pts(ratio_points)}")
    share = snap.futures_taker_buy_share_pct
    if share is not None and share > taker_buy_share:
        score += taker_points
        out.reasons.append(f"futures taker-buy share {fmt(share)}% > {fmt(taker_buy_share)} → {pts(taker_points)}")
    out.score = score
    return out


def score_volume_spike(snap: CoinSnapshot, *, slope: float = 2.5, cap: float = 10) -> VolumeSpikeResult:
    """r = quote_volume_24h ÷ avg_daily_quote_volume_7d; score = min(10, max(0, 2.5 × (r − 1)))."""
    out = VolumeSpikeResult(None, None)
    out.missing = [n for n in ("quote_volume_24h", "avg_daily_quote_volume_7d") if getattr(snap, n) is None]
    if out.missing:
        return out
    vol, avg = snap.quote_volume_24h, snap.avg_daily_quote_volume_7d
    assert vol is not None and avg is not None
    if avg <= 0:
        # No trading in the 7 days before: the ratio is undefined (not infinite), so unknown.
        out.missing.append("avg_daily_quote_volume_7d")
        out.reasons.append("no quote volume in the 7 days before: volume ratio undefined")
        return out
    out.ratio = round(vol / avg, 4)
    out.score = round_score(min(cap, max(0.0, slope * (vol / avg - 1))), 2)
    out.reasons.append(f"volume 24h {fmt(vol / avg)}× the 7-day daily average → "
                       f"min({fmt(cap)}, {fmt(slope)} × ({fmt(vol / avg)} − 1)) = {fmt(out.score)}")
    return out
