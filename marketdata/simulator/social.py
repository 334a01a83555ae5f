"""Social metrics in the style of LunarCrush, one snapshot per hour for every USDT coin.

A snapshot at hour H uses only candles closed by then (up to hour H-1), smooth per-coin noise
and the planted episodes (accumulation: quiet social, lower Galaxy Score; distribution: FOMO).
Galaxy Score (0-100) follows the recent price trend, sentiment and social activity relative
to the coin's norm; AltRank is the rank (1 = best) of a performance score among all coins of
the snapshot, so it is a permutation of 1..N. Fresh listings often rank well and score high,
by a random per-coin amount. `*_previous` fields come from the snapshot 24 hours earlier.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .coins import coin_info
from .episodes import effects
from .universe import hour_ms, unit_hash

if TYPE_CHECKING:
    from .market import SimMarket

_NOISE_TAG = 29
NOISE_STEP_H = 6  # social noise moves smoothly, through a new random value every 6 hours
LISTING_FADE_H = 72.0  # a listing's hype fades over about three days


@dataclass(frozen=True)
class SocialRow:
    galaxy_score: float
    alt_rank: int
    sentiment: int
    social_volume_24h: int
    interactions_24h: int
    social_dominance: float
    market_dominance: float
    volatility: float


def _smooth(seed: int, cid: int, k: int, h: int) -> float:
    """Unit-variance noise, linear between fresh values every NOISE_STEP_H hours."""
    i, r = divmod(h, NOISE_STEP_H)
    a, b = unit_hash(seed, _NOISE_TAG, cid, k, i), unit_hash(seed, _NOISE_TAG, cid, k, i + 1)
    return (a + (b - a) * r / NOISE_STEP_H - 0.5) * 3.46


class SocialModel:
    def __init__(self, market: "SimMarket") -> None:
        self.market = market
        self._cache: dict[int, dict[int, SocialRow]] = {}
        self._lock = threading.Lock()  # one snapshot build at a time; never held while sleeping

    def snapshot(self, h: int) -> dict[int, SocialRow]:
        """Social rows by instrument id for the coins listed at hour h."""
        with self._lock:
            if h not in self._cache:
                if len(self._cache) > 6:
                    self._cache.pop(min(self._cache))
                self._cache[h] = self._build(h)
            return self._cache[h]

    def _build(self, h: int) -> dict[int, SocialRow]:
        m = self.market
        seed, now = m.seed, m.now_ms()
        coins = [x for x in m.instruments(hour_ms(h)) if x.quote == "USDT"]
        raw = []
        for inst in coins:
            info = coin_info(seed, inst)
            last = min(h - 1, m._last_hour(inst, hour_ms(h)))
            if last >= inst.list_h:
                d = m._hours(inst, max(inst.list_h, last - 168), last, now)
                close, quote = d["close"], d["quote"]
                first = d["open"][0]
                ch24 = 100 * (close[-1] / (close[-25] if len(close) > 24 else first) - 1)
                ch7d = 100 * (close[-1] / (close[-169] if len(close) > 168 else first) - 1)
                rets = np.diff(np.log(np.r_[first, close]))[-24:]
                vol = float(rets.std()) if len(rets) > 1 else 0.0
                q_now, q_before = quote[-24:].sum(), quote[-48:-24].sum()
                vol_change = math.log((q_now + 1) / (q_before + 1)) if len(quote) > 24 else 0.0
                price = float(close[-1])
            else:  # listed within the hour: nothing has closed yet
                ch24 = ch7d = vol = vol_change = 0.0
                price = inst.price0
            eff = effects(seed, inst, h, 1, m.params)
            s_mult, g_delta, sent_delta = (1.0, 0.0, 0.0) if eff is None else (
                float(eff.social[0]), float(eff.galaxy[0]), float(eff.sentiment[0]))
            fresh = math.exp(-(h - inst.list_h) / LISTING_FADE_H) if inst.id >= 200_000 else 0.0
            n = [_smooth(seed, inst.id, k, h) for k in range(5)]
            natural = (info.social_base * (1 + 3 * fresh) * math.exp(0.3 * n[0])
                       * (1 + min(abs(ch24), 30) / 30))
            social = natural * s_mult
            sentiment = min(100.0, max(0.0, info.sentiment_base + 5 * n[2]
                                       + 0.3 * max(-20.0, min(20.0, ch24)) + sent_delta))
            galaxy = (48 + info.galaxy_bias + 12 * math.tanh(ch24 / 8) + 6 * math.tanh(ch7d / 20)
                      + 0.3 * (sentiment - 65) + 6 * math.log(natural / info.social_base)
                      + info.listing_galaxy * fresh + 4 * n[3] + g_delta)
            galaxy = min(100.0, max(0.0, galaxy))
            alt_score = (galaxy + 20 * math.tanh(ch24 / 10) + 10 * math.tanh(ch7d / 25)
                         + 10 * math.tanh(vol_change) + info.listing_alt * fresh + 6 * n[4])
            raw.append((inst, info, galaxy, alt_score, round(sentiment), social,
                        social * info.engagement * math.exp(0.2 * n[1]),
                        price * info.circulating, vol))
        order = sorted(range(len(raw)), key=lambda i: (-raw[i][3], raw[i][0].id))
        ranks = {raw[i][0].id: r + 1 for r, i in enumerate(order)}
        total_social = sum(r[5] for r in raw) or 1.0
        total_cap = sum(r[7] for r in raw) or 1.0
        return {inst.id: SocialRow(
            galaxy_score=round(galaxy, 1), alt_rank=ranks[inst.id], sentiment=sentiment,
            social_volume_24h=int(social), interactions_24h=int(inter),
            social_dominance=round(100 * social / total_social, 6),
            market_dominance=round(100 * cap / total_cap, 6), volatility=round(vol, 6))
            for inst, _, galaxy, _, sentiment, social, inter, cap, vol in raw}
