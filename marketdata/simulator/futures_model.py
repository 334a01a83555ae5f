"""USDⓈ-M perpetuals on top of the spot paths: which coins have one, and their hourly funding,
basis, open interest and long/short ratios.

Everything is a *knot* per hour h: the state at time hour_ms(h), computed only from candles
closed by then (plus noise from a per-(coin, block) RNG stream and the planted episodes), so
every value is a pure function of seed, coin and hour and nothing served ever changes.
Funding follows Binance's formula F = P + clamp(0.01% - P, ±0.05%) with the premium P driven
by the coin's 24 h return, which leaves most coins at exactly 0.0100% most of the time.
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .episodes import effects
from .market import MarketError, SimMarket
from .paths import round_tick
from .universe import BLOCK_H, HOUR_MS, MAJORS, ORIGIN_H, Instrument, hour_ms, hour_of

FUT_TAG = 23
INTEREST = 0.0001  # interest rate per 8 h, Binance's 0.01%
FUNDING_HOURS = 8  # settlements at 00:00, 08:00 and 16:00 UTC
PREMIUM_PER_RETURN = 0.01  # premium index per unit of 24 h log return
PREMIUM_NOISE = 0.00015
FUNDING_CAP = 0.003  # outside episodes funding stays within +-0.3% per 8 h


@dataclass(frozen=True)
class Perp:
    """A coin's perpetual and the constants of its derived series."""

    onboard_h: int | None  # None: spot only
    volume_mult: float  # futures volume / spot volume
    oi_coins: float  # typical open interest in coins
    top_base: float  # typical top-trader position long/short ratio
    glob_base: float  # typical global account long/short ratio
    waves: tuple[tuple[float, float], ...]  # (period_h, phase) for OI, top ratio, global ratio


class FuturesModel:
    def __init__(self, market: SimMarket) -> None:
        self.market, self.seed, self.params = market, market.seed, market.params
        self._perps: dict[int, Perp] = {}
        self._noise: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._listed: tuple[int, list[tuple[Instrument, Perp]], dict] | None = None
        self._lock = threading.Lock()

    # ---- listing ------------------------------------------------------------------------------
    def perp(self, inst: Instrument) -> Perp:
        got = self._perps.get(inst.id)
        if got is None:
            got = self._perps[inst.id] = self._make(inst)
        return got

    def _make(self, inst: Instrument) -> Perp:
        u = np.random.default_rng([self.seed, FUT_TAG, inst.id]).random(13)
        onboard = None
        if inst.quote == "USDT" and inst.fixed_status == "TRADING":
            if inst.id < len(MAJORS):  # every major has a perpetual
                onboard = inst.list_h
            elif inst.id < 100_000 and u[0] < 0.6:  # older coins: a perpetual for ~60%
                onboard = inst.list_h + int(u[1] * 14 * 24)
            elif inst.id >= 200_000 and u[0] < 0.5:  # new listings: at or a little after spot
                onboard = inst.list_h if u[1] < 0.4 else inst.list_h + 1 + int(u[2] * 47)
        mult = math.exp(math.log(1.5) + u[3] * math.log(4 / 1.5))
        oi_usd = inst.qvol * 24 * mult * (0.15 + 0.45 * u[4])
        waves = tuple((24 * (6 + 14 * u[5 + i]), 2 * math.pi * u[8 + i]) for i in range(3))
        return Perp(onboard, mult, oi_usd / inst.price0, math.exp(-0.16 + 0.46 * u[12] ** 2),
                    1.0 + 1.6 * u[11], waves)

    def listed(self, now_ms: int) -> list[tuple[Instrument, Perp]]:
        """Perpetuals in exchangeInfo now: the spot pair is listed and onboarding has come."""
        return self._listed_at(now_ms)[1]

    def _listed_at(self, now_ms: int) -> tuple[int, list[tuple[Instrument, Perp]], dict]:
        now_h = hour_of(now_ms)
        with self._lock:
            cached = self._listed
        if cached is None or cached[0] != now_h:
            items = [(x, self.perp(x)) for x in self.market.instruments(now_ms)]
            items = [(x, p) for x, p in items if p.onboard_h is not None and p.onboard_h <= now_h]
            cached = (now_h, items, {x.symbol: (x, p) for x, p in items})
            with self._lock:
                self._listed = cached
        return cached

    def require(self, symbol: str, now_ms: int) -> tuple[Instrument, Perp]:
        got = self._listed_at(now_ms)[2].get(symbol)
        if got is None:
            raise MarketError(-1121, "Invalid symbol.")
        return got

    @staticmethod
    def status(inst: Instrument, now_h: int) -> str:
        return "TRADING" if inst.status(now_h) == "TRADING" else "SETTLING"

    def last_knot(self, inst: Instrument, now_ms: int) -> int:
        """The newest knot: the current hour, or the delisting hour of a delisted coin."""
        return min(hour_of(now_ms), self.market._last_hour(inst, now_ms) + 1)

    # ---- hourly knots -----------------------------------------------------------------------
    def _z(self, inst: Instrument, h_lo: int, h_hi: int) -> np.ndarray:
        """Standard normal noise (5 rows) for hours h_lo..h_hi, one RNG stream per block."""
        parts = []
        for b in range((h_lo - ORIGIN_H) // BLOCK_H, (h_hi - ORIGIN_H) // BLOCK_H + 1):
            key = (inst.id, b)
            with self._lock:
                arr = self._noise.get(key)
            if arr is None:
                arr = np.random.default_rng([self.seed, FUT_TAG, inst.id, b]).normal(
                    size=(5, BLOCK_H))
                with self._lock:
                    self._noise[key] = arr
                    while len(self._noise) > 4 * max(64, self.market.n_coins):
                        self._noise.popitem(last=False)
            base = ORIGIN_H + b * BLOCK_H
            parts.append(arr[:, max(h_lo, base) - base:min(h_hi, base + BLOCK_H - 1) - base + 1])
        return np.concatenate(parts, axis=1)

    def funding(self, inst: Instrument, h_lo: int, h_hi: int, now_ms: int) -> dict[str, np.ndarray]:
        """Funding rate, basis and previous close (the index price) at knots h_lo..h_hi."""
        a = max(inst.list_h, h_lo - 25)
        b = max(a, h_hi - 1)
        d = self.market._hours(inst, a, b, now_ms)
        logc, first = np.log(d["close"]), math.log(d["open"][0])
        hours = np.arange(h_lo, h_hi + 1)

        def log_close(h: np.ndarray) -> np.ndarray:  # before the listing: the listing price
            i = h - a
            return np.where(i < 0, first, logc[np.clip(i, 0, len(logc) - 1)])

        z = self._z(inst, h_lo, h_hi)
        prev = log_close(hours - 1)
        prem = PREMIUM_PER_RETURN * (prev - log_close(hours - 25)) + PREMIUM_NOISE * z[0]
        rate = np.clip(prem + np.clip(INTEREST - prem, -0.0005, 0.0005), -FUNDING_CAP, FUNDING_CAP)
        basis = prem.copy()
        eff = effects(self.seed, inst, h_lo, len(hours), self.params)
        if eff is not None and (eff.kind > 0).any():
            p = self.params
            level = eff.funding * (1 + 0.1 * z[1])
            acc, dist = eff.kind == 1, eff.kind == 2
            rate[acc] = np.clip(level[acc], *p.acc_funding)
            rate[dist] = np.clip(level[dist], *p.dist_funding)
            basis[acc | dist] = rate[acc | dist]  # the crowded side pays: the mark moves with it
        return {"rate": np.round(rate, 8), "basis": basis, "index": np.exp(prev)}

    def positions(self, inst: Instrument, h_lo: int, h_hi: int) -> dict[str, np.ndarray]:
        """Open interest (coins), top-trader position ratio and global account ratio at knots."""
        perp = self.perp(inst)
        hours = np.arange(h_lo, h_hi + 1)
        z = self._z(inst, h_lo, h_hi)
        (p0, f0), (p1, f1), (p2, f2) = perp.waves
        oi = perp.oi_coins * np.exp(0.08 * np.sin(2 * np.pi * hours / p0 + f0) + 0.02 * z[2])
        top = perp.top_base * np.exp(0.08 * np.sin(2 * np.pi * hours / p1 + f1) + 0.04 * z[3])
        glob = perp.glob_base * np.exp(0.12 * np.sin(2 * np.pi * hours / p2 + f2) + 0.04 * z[4])
        eff = effects(self.seed, inst, h_lo, len(hours), self.params)
        if eff is not None:
            oi = oi * eff.oi
            glob = glob * eff.glob
            p = self.params
            level = eff.top * (1 + 0.03 * z[3])
            acc, dist = eff.kind == 1, eff.kind == 2
            top[acc] = np.clip(level[acc], *p.acc_top_ratio)
            top[dist] = np.clip(level[dist], *p.dist_top_ratio)
        return {"oi": oi, "top": top, "glob": glob}

    def open_interest(self, inst: Instrument, t_ms: int) -> float:
        """Open interest at any instant: linear between the hourly knots."""
        h = hour_of(t_ms)
        oi = self.positions(inst, h, h + 1)["oi"]
        f = (t_ms - hour_ms(h)) / HOUR_MS
        return float(oi[0] + (oi[1] - oi[0]) * f)

    # ---- futures candles ----------------------------------------------------------------------
    def transform(self, inst: Instrument, data: dict, h_lo: int, h_hi: int, now_ms: int) -> None:
        """Turn spot hourly candles into futures ones: basis on prices, more volume."""
        k_lo = max(inst.list_h, h_lo - 1)
        f = 1 + self.funding(inst, k_lo, h_hi, now_ms)["basis"]
        f_prev = f[:-1] if k_lo < h_lo else np.r_[f[0], f[:-1]]
        f_cur = f[h_lo - k_lo:]
        tick = inst.tick
        open_ = round_tick(data["open"] * f_prev, tick)
        close = round_tick(data["close"] * f_cur, tick)
        high = np.maximum(round_tick(data["high"] * f_cur, tick, "ceil"), np.maximum(open_, close))
        low = np.minimum(round_tick(data["low"] * f_cur, tick, "floor"), np.minimum(open_, close))
        data.update(open=open_, close=close, high=high, low=low)
        mult = self.perp(inst).volume_mult
        for k in ("volume", "taker_base"):
            data[k] = np.round(data[k] * mult, 8)
        for k in ("quote", "taker_quote"):
            data[k] = np.round(data[k] * mult * f_cur, 8)
        data["trades"] = np.rint(data["trades"] * mult).astype(np.int64)
