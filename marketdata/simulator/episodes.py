"""Planted whale episodes: the simulator's ground truth for scanner precision and recall.

An *accumulation* episode is quiet buying: the price barely moves while takers buy 65-85% of
the volume, open interest climbs, funding turns negative, top traders lean long and social
activity is low. A *distribution* episode is selling into a pump: the price rises 8-25%,
takers sell 60-80%, funding is crowded (0.3-0.8% per 8 h) and social activity is FOMO-high.
After an episode the price follows through (accumulation up, distribution down) with
probability `follow_through_prob`; otherwise nothing special happens.

Episodes are a pure function of (seed, coin id, hour): each coin's timeline is cut into cells
of `cell_hours` (with a per-coin phase so that cells of different coins do not line up), and
each cell holds at most one episode, placed so that the episode *and* its follow-through
window fit inside the cell. Nothing depends on when or in which order anything is asked, so
the paths built from these effects keep the rule that closed candles never change.
Every effect size lives in `EpisodeParams`; docs/simulator.md lists the same numbers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .universe import ORIGIN_H, Instrument

_EP_TAG, _PHASE_TAG = 19, 20
ACCUMULATION, DISTRIBUTION = "accumulation", "distribution"
KIND_CODE = {ACCUMULATION: 1, DISTRIBUTION: 2}  # Effects.kind: 0 = no episode in that hour


@dataclass(frozen=True)
class EpisodeParams:
    """Effect sizes of the planted episodes (ranges are drawn uniformly per episode)."""

    cell_hours: int = 288  # one candidate episode per coin per 12 days
    probability: float = 0.24  # share of cells holding an episode: ~4% of coins in one at a time
    accumulation_share: float = 0.5  # the rest are distributions
    hours: tuple[int, int] = (24, 72)  # episode length
    listing_gap_hours: int = 24  # no episode in a coin's first day of trading
    follow_through_prob: float = 0.65
    follow_through_pct: tuple[float, float] = (5.0, 20.0)  # size of the move after the episode
    follow_through_hours: tuple[int, int] = (24, 168)  # ... spread over 1-7 days
    share_noise: float = 0.04  # hourly noise (sd) of the taker-buy share around its level
    # accumulation: quiet price, heavy taker buying, OI up, negative funding, low social
    acc_buy_share: tuple[float, float] = (0.65, 0.85)
    acc_noise_scale: float = 0.35  # hourly returns scaled down ...
    acc_max_hourly_vol: float = 0.003  # ... and capped at this hourly volatility
    acc_volume_mult: float = 1.2
    acc_funding: tuple[float, float] = (-0.0005, -0.00005)  # rate per 8 h (-0.05% .. -0.005%)
    acc_oi_growth: tuple[float, float] = (0.2, 0.8)  # OI rises by this fraction over the episode
    acc_top_ratio: tuple[float, float] = (1.5, 2.5)  # top-trader long/short position ratio
    acc_global_mult: float = 0.8  # retail account ratio leans short
    acc_social_mult: float = 0.45  # social volume x this
    acc_galaxy_delta: float = -15.0
    acc_sentiment_delta: float = 0.0
    # distribution: pump, heavy taker selling, crowded funding, social FOMO
    dist_pump_pct: tuple[float, float] = (8.0, 25.0)  # price rise over the episode (drift)
    dist_buy_share: tuple[float, float] = (0.20, 0.40)
    dist_noise_scale: float = 0.6
    dist_max_hourly_vol: float = 0.006  # a pump is a trend: noise stays below the drift
    dist_volume_mult: float = 2.0
    dist_funding: tuple[float, float] = (0.003, 0.008)  # 0.3% .. 0.8% per 8 h
    dist_oi_growth: tuple[float, float] = (0.05, 0.3)
    dist_top_ratio: tuple[float, float] = (0.6, 0.95)  # top traders are the ones selling
    dist_global_mult: float = 1.4  # retail piles in long
    dist_social_mult: float = 3.0
    dist_galaxy_delta: float = 20.0
    dist_sentiment_delta: float = 12.0
    oi_decay_hours: int = 48  # after the episode OI drifts back to normal over this long

    def __post_init__(self) -> None:
        longest = self.hours[1] + max(self.follow_through_hours[1], self.oi_decay_hours)
        if longest > self.cell_hours:
            raise ValueError("an episode and its follow-through must fit in cell_hours")
        if not (0 <= self.probability <= 1 and 0 <= self.follow_through_prob <= 1):
            raise ValueError("probabilities must be in [0, 1]")


DEFAULT_PARAMS = EpisodeParams()


@dataclass(frozen=True)
class Episode:
    coin_id: int
    kind: str
    start_h: int
    end_h: int  # exclusive: the first hour after the episode
    follow_through: bool
    move_pct: float  # planted follow-through move, signed (+ after accumulation); 0 if none
    ft_end_h: int  # exclusive end of the follow-through window
    buy_share: float  # taker-buy share of volume during the episode
    funding: float  # funding rate level during the episode
    oi_growth: float
    top_ratio: float
    pump_pct: float  # distribution only

    def as_json(self, symbol: str) -> dict:
        from .universe import hour_ms
        return {"symbol": symbol, "kind": self.kind, "start": hour_ms(self.start_h),
                "end": hour_ms(self.end_h), "follow_through": self.follow_through,
                "move_pct": round(self.move_pct, 2),
                "follow_through_end": hour_ms(self.ft_end_h)}


def _between(u: float, lo_hi: tuple[float, float]) -> float:
    return lo_hi[0] + u * (lo_hi[1] - lo_hi[0])


@lru_cache(maxsize=4096)
def _phase(seed: int, coin_id: int, cell_hours: int) -> int:
    return int(np.random.default_rng([seed, _PHASE_TAG, coin_id]).integers(0, cell_hours))


@lru_cache(maxsize=1 << 17)
def _cell(seed: int, coin_id: int, c: int, p: EpisodeParams) -> Episode | None:
    """The episode of cell c of a coin, before listing/delisting checks (None: a quiet cell)."""
    u = np.random.default_rng([seed, _EP_TAG, coin_id, c]).random(12)
    if u[0] >= p.probability:
        return None
    kind = ACCUMULATION if u[1] < p.accumulation_share else DISTRIBUTION
    dur = p.hours[0] + int(u[2] * (p.hours[1] - p.hours[0] + 1))
    ft_h = p.follow_through_hours[0] + int(
        u[3] * (p.follow_through_hours[1] - p.follow_through_hours[0] + 1))
    room = p.cell_hours - p.hours[1] - max(p.follow_through_hours[1], p.oi_decay_hours)
    start = ORIGIN_H - _phase(seed, coin_id, p.cell_hours) + c * p.cell_hours \
        + int(u[4] * (room + 1))
    ft = bool(u[5] < p.follow_through_prob)
    size = _between(u[6], p.follow_through_pct)
    acc = kind == ACCUMULATION
    return Episode(
        coin_id=coin_id, kind=kind, start_h=start, end_h=start + dur, follow_through=ft,
        move_pct=(size if acc else -size) if ft else 0.0, ft_end_h=start + dur + ft_h,
        buy_share=_between(u[7], p.acc_buy_share if acc else p.dist_buy_share),
        funding=_between(u[8], p.acc_funding if acc else p.dist_funding),
        oi_growth=_between(u[9], p.acc_oi_growth if acc else p.dist_oi_growth),
        # the level sits inside the range so that hourly noise rarely needs clipping
        top_ratio=_between(0.1 + 0.8 * u[10], p.acc_top_ratio if acc else p.dist_top_ratio),
        pump_pct=0.0 if acc else _between(u[11], p.dist_pump_pct),
    )


def eligible(inst: Instrument) -> bool:
    """USDT coins that trade normally; BTC is the market factor and stays unplanted."""
    return inst.quote == "USDT" and inst.fixed_status == "TRADING" and inst.id != 0


def coin_episodes(seed: int, inst: Instrument, h_lo: int, h_hi: int,
                  p: EpisodeParams = DEFAULT_PARAMS) -> list[Episode]:
    """Episodes of a coin whose episode or after-effects touch hours h_lo..h_hi (inclusive)."""
    if not eligible(inst) or p.probability <= 0:
        return []
    L = p.cell_hours
    phase = _phase(seed, inst.id, L)
    c_lo = max(0, (h_lo - ORIGIN_H + phase) // L - 1)
    c_hi = (h_hi - ORIGIN_H + phase) // L
    out = []
    for c in range(c_lo, c_hi + 1):
        ep = _cell(seed, inst.id, c, p)
        if ep is None or ep.start_h < max(ORIGIN_H, inst.list_h + p.listing_gap_hours):
            continue
        tail = max(ep.ft_end_h, ep.end_h + p.oi_decay_hours)
        if inst.delist_h is not None and tail > inst.delist_h:
            continue
        if ep.start_h <= h_hi and tail > h_lo:
            out.append(ep)
    return out


@dataclass
class Effects:
    """Per-hour effects over hours h0 .. h0+n-1 (arrays of length n)."""

    kind: np.ndarray  # 0 none, 1 accumulation, 2 distribution (the episode proper)
    vol_cap: np.ndarray  # cap on hourly volatility (nan: none)
    scale: np.ndarray  # multiplier of the hourly return noise
    drift: np.ndarray  # added log return (pump, follow-through)
    volume: np.ndarray  # multiplier of quote volume
    share: np.ndarray  # taker-buy share level (nan: the normal share)
    funding: np.ndarray  # funding rate level (nan: the normal funding)
    oi: np.ndarray  # multiplier of open interest
    top: np.ndarray  # top-trader position ratio level (nan: normal)
    glob: np.ndarray  # multiplier of the global account long/short ratio
    social: np.ndarray  # multiplier of social volume
    galaxy: np.ndarray  # added to the Galaxy Score
    sentiment: np.ndarray  # added to sentiment


def effects(seed: int, inst: Instrument, h0: int, n: int,
            p: EpisodeParams = DEFAULT_PARAMS) -> Effects | None:
    """The episodes' effects on hours h0..h0+n-1, or None when no episode touches them."""
    eps = coin_episodes(seed, inst, h0, h0 + n - 1, p)
    if not eps:
        return None
    nan = np.full(n, np.nan)
    e = Effects(kind=np.zeros(n, np.int8), vol_cap=nan.copy(), scale=np.ones(n),
                drift=np.zeros(n), volume=np.ones(n), share=nan, funding=nan.copy(),
                oi=np.ones(n), top=nan.copy(), glob=np.ones(n), social=np.ones(n),
                galaxy=np.zeros(n), sentiment=np.zeros(n))
    hours = np.arange(h0, h0 + n)
    for ep in eps:
        acc = ep.kind == ACCUMULATION
        s, t = max(ep.start_h - h0, 0), max(min(ep.end_h - h0, n), 0)
        if s < t:
            sl = slice(s, t)
            e.kind[sl] = KIND_CODE[ep.kind]
            e.vol_cap[sl] = p.acc_max_hourly_vol if acc else p.dist_max_hourly_vol
            e.scale[sl] = p.acc_noise_scale if acc else p.dist_noise_scale
            if not acc:
                e.drift[sl] = math.log1p(ep.pump_pct / 100) / (ep.end_h - ep.start_h)
            e.volume[sl] = p.acc_volume_mult if acc else p.dist_volume_mult
            e.share[sl] = ep.buy_share
            e.funding[sl] = ep.funding
            e.top[sl] = ep.top_ratio
            e.glob[sl] = p.acc_global_mult if acc else p.dist_global_mult
            e.social[sl] = p.acc_social_mult if acc else p.dist_social_mult
            e.galaxy[sl] = p.acc_galaxy_delta if acc else p.dist_galaxy_delta
            e.sentiment[sl] = p.acc_sentiment_delta if acc else p.dist_sentiment_delta
        if ep.follow_through:
            a, b = max(ep.end_h - h0, 0), max(min(ep.ft_end_h - h0, n), 0)
            if a < b:
                e.drift[a:b] += math.log1p(ep.move_pct / 100) / (ep.ft_end_h - ep.end_h)
        # OI builds up linearly during the episode and unwinds linearly afterwards.
        dur = ep.end_h - ep.start_h
        up = np.clip((hours - ep.start_h + 1) / dur, 0, 1)
        down = np.clip(1 - (hours - ep.end_h + 1) / p.oi_decay_hours, 0, 1)
        ramp = np.where(hours < ep.end_h, up, down) * (hours >= ep.start_h)
        e.oi *= 1 + ep.oi_growth * ramp
    return e
