"""Hourly candle paths, generated one 32-day block at a time.

Each (seed, coin, block) has its own RNG stream, so a block is the same whenever and in
whatever order it is generated; the only state carried between blocks is the log price and
the running trade count at the block boundary. That keeps closed candles fixed forever, lets
the cache drop old blocks (they can be regenerated exactly), and makes extension as time
passes consistent with what was already served.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .episodes import DEFAULT_PARAMS, EpisodeParams, effects
from .universe import BLOCK_H, ORIGIN_H, Instrument

T_DF = 4.0  # Student-t degrees of freedom: fat tails like real hourly crypto returns
T_SCALE = math.sqrt((T_DF - 2) / T_DF)  # unit variance
KAPPA = 0.25  # fraction of the log-distance to the long-run level removed per block
BTC_SIGMA = 0.0055  # BTC's typical hourly volatility: the market part of a coin's volatility
FIELDS = ("open", "high", "low", "close", "volume", "quote", "trades", "taker_base",
          "taker_quote", "trade_id")  # trade_id: id of the last trade of the hour


@dataclass(frozen=True)
class Block:
    """Full (closed) hourly candles for hours ORIGIN_H + b*BLOCK_H ... + BLOCK_H - 1."""

    arrays: dict[str, np.ndarray]
    mkt: np.ndarray  # this coin's own hourly noise; BTC's is the market factor
    sigma: np.ndarray  # hourly volatility, used for intra-hour wiggle of the open candle
    end_logp: float
    end_trade_id: int
    # (max log price, its hour, min log price, its hour) over the block's listed hours
    extremes: tuple[float, int, float, int]


def round_tick(x: np.ndarray, tick: float, how: str = "round") -> np.ndarray:
    """Prices on the pair's tick grid, never below one tick (so every price is > 0)."""
    q = x / tick
    q = {"round": np.rint, "ceil": lambda v: np.ceil(v - 1e-7),
         "floor": lambda v: np.floor(v + 1e-7)}[how](q)
    return np.maximum(q, 1.0) * tick


# Blocks start at midnight UTC, so the time-of-day patterns are the same array for every block.
_HOD = np.arange(BLOCK_H) % 24
_VOL_OF_DAY = 1 + 0.15 * np.cos(2 * np.pi * (_HOD - 15) / 24)  # busiest around the US open
_VOLUME_OF_DAY = 1 + 0.3 * np.cos(2 * np.pi * (_HOD - 15) / 24)
_DAY_CENTRES = np.arange(BLOCK_H // 24) * 24 + 11.5
# Daily volatility shocks persist (AR(1), phi=0.75, unit variance) within a block: turbulent
# days come in runs. _AR[k, j] = weight of shock j on day k; shock 0 seeds the stationary start.
_PHI = 0.75
_k = np.arange(BLOCK_H // 24)
_AR = np.where(_k[:, None] >= _k[None, :], _PHI ** np.abs(_k[:, None] - _k[None, :]), 0.0)
_AR[:, 1:] *= math.sqrt(1 - _PHI**2)


def _vol_level(inst: Instrument, h0: int, day_noise: np.ndarray) -> np.ndarray:
    """Volatility clustering without sequential state: slow sinusoids in log-vol plus daily noise.

    The sinusoids (periods of 5+ days) are evaluated once per day and interpolated; that is
    indistinguishable from hourly evaluation and several times cheaper."""
    centres = h0 + _DAY_CENTRES
    waves = sum(amp * np.sin(2 * np.pi * centres / period + phase)
                for amp, period, phase in inst.waves)
    daily = 0.3 * (_AR @ day_noise)
    logv = np.interp(np.arange(BLOCK_H) + 0.0, _DAY_CENTRES, waves) + np.repeat(daily, 24)
    return inst.sigma * np.exp(logv) * _VOL_OF_DAY


def _core(seed: int, inst: Instrument, b: int, mkt: np.ndarray | None, logp0: float,
          params: EpisodeParams = DEFAULT_PARAMS):
    """The draws and series that the block-to-block state depends on (log price, trade count).

    Split out so the history before the cached window can be walked without building candles.
    Planted episodes (episodes.py) reshape the returns and volume here, after every draw, so a
    block without an episode is exactly what it would be without the episode machinery."""
    rng = np.random.default_rng([seed, 1, inst.id, b])
    n = BLOCK_H
    h0 = ORIGIN_H + b * n
    hours = np.arange(h0, h0 + n, dtype=np.float64)
    # Fixed draw order: changing it changes every price, so append new draws at the end.
    day_noise = rng.normal(size=n // 24)
    eps = rng.standard_t(T_DF, size=n) * T_SCALE
    vol_z, trade_z = rng.normal(size=(2, n))

    start = max(0, inst.list_h - h0)  # hours before the listing are never served
    # New listings are wild for their first days (negligible after a month).
    fresh = np.exp(-np.maximum(hours - inst.list_h, 0) / 24.0) if h0 < inst.list_h + 720 else 0.0
    sigma = _vol_level(inst, h0, day_noise) * (1 + 2 * fresh)
    own = sigma * eps
    r = own if mkt is None else inst.beta * mkt + own
    eff = effects(seed, inst, h0, n, params)
    move_sigma = sigma  # the volatility the candles show (wicks, volume surprise)
    if eff is not None:
        scale = eff.scale
        capped = ~np.isnan(eff.vol_cap)
        if capped.any():  # quiet (or trending) whatever the coin's usual volatility
            total = np.sqrt((inst.beta * BTC_SIGMA) ** 2 + sigma**2)
            scale = np.where(capped, np.minimum(scale, eff.vol_cap / total), scale)
        r = r * scale + eff.drift
        move_sigma = sigma * scale
    r = r - KAPPA * (logp0 - math.log(inst.price0)) / n  # gentle pull to the long-run level
    r[:start] = 0.0
    logp = logp0 + np.cumsum(r)
    # Quote volume: lognormal, higher in volatile regimes, on big moves and after listing.
    surprise = np.minimum(np.abs(r) / move_sigma, 4.0)
    quote = (inst.qvol * np.exp(0.45 * vol_z - 0.1) * (sigma / inst.sigma) ** 1.2
             * (1 + 0.5 * surprise) * _VOLUME_OF_DAY * (1 + 4 * fresh))
    if eff is not None:
        quote = quote * eff.volume
    trades = np.rint(quote / inst.trade_size * np.exp(0.3 * trade_z))
    trades = np.maximum(1, trades).astype(np.int64)
    trades[:start] = 0
    return rng, start, move_sigma, own, r, logp, quote, trades, eff


def _extremes(logp: np.ndarray, start: int, h0: int) -> tuple[float, int, float, int]:
    listed = logp[start:] if start < len(logp) else logp[-1:]
    off = min(start, len(logp) - 1)
    i, j = int(np.argmax(listed)), int(np.argmin(listed))
    return float(listed[i]), h0 + off + i, float(listed[j]), h0 + off + j


def block_end_state(seed: int, inst: Instrument, b: int, mkt: np.ndarray | None, logp0: float,
                    trade_id0: int, params: EpisodeParams = DEFAULT_PARAMS
                    ) -> tuple[float, int, np.ndarray, tuple[float, int, float, int]]:
    """(end log price, end trade id, own noise, extremes) of a block, ~2x faster than candles."""
    _, start, _, own, _, logp, _, trades, _ = _core(seed, inst, b, mkt, logp0, params)
    return (float(logp[-1]), trade_id0 + int(trades.sum()), own,
            _extremes(logp, start, ORIGIN_H + b * BLOCK_H))


def generate_block(seed: int, inst: Instrument, b: int, mkt: np.ndarray | None,
                   logp0: float, trade_id0: int, params: EpisodeParams = DEFAULT_PARAMS) -> Block:
    """Generate block b of a coin. mkt is BTC's noise for the block (None when inst is BTC)."""
    rng, start, sigma, own, r, logp, quote_raw, trades, eff = _core(seed, inst, b, mkt, logp0,
                                                                    params)
    n = BLOCK_H
    wick_up, wick_dn, share_z = rng.normal(size=(3, n))
    wick_up, wick_dn = np.abs(wick_up), np.abs(wick_dn)

    tick = inst.tick
    close = round_tick(np.exp(logp), tick)
    open_ = np.empty(n)
    open_[0] = round_tick(np.array([math.exp(logp0)]), tick)[0]
    open_[1:] = close[:-1]
    top, bottom = np.maximum(open_, close), np.minimum(open_, close)
    high = np.maximum(round_tick(top * np.exp(0.5 * sigma * wick_up), tick, "ceil"), top)
    low = np.minimum(round_tick(bottom * np.exp(-0.5 * sigma * wick_dn), tick, "floor"), bottom)

    typical = (high + low + close) / 3
    volume = np.round(quote_raw / typical, 8)
    quote = np.round(volume * typical, 8)
    share = np.clip(0.5 + 0.12 * np.tanh(r / sigma) + 0.05 * share_z, 0.05, 0.95)
    if eff is not None:  # planted whale flow replaces the usual, return-driven taker share
        planted = np.clip(eff.share + params.share_noise * share_z, 0.05, 0.95)
        share = np.where(np.isnan(eff.share), share, planted)
    taker_base = np.round(share * volume, 8)
    taker_quote = np.round(share * quote, 8)
    for arr in (volume, quote, taker_base, taker_quote):
        arr[:start] = 0.0
    trade_id = trade_id0 + np.cumsum(trades)
    arrays = dict(open=open_, high=high, low=low, close=close, volume=volume, quote=quote,
                  trades=trades, taker_base=taker_base, taker_quote=taker_quote, trade_id=trade_id)
    for arr in arrays.values():
        arr.flags.writeable = False  # shared between request threads
    return Block(arrays, own, sigma, float(logp[-1]), int(trade_id[-1]),
                 _extremes(logp, start, ORIGIN_H + b * n))


def partial_candle(row: dict[str, float], sigma: float, f: float, tick: float) -> dict[str, float]:
    """The still-open candle after a fraction f of its hour, from that hour's final candle.

    A deterministic function of f that starts at the open (f=0) and reaches the final candle
    (f=1), so polling clients see a moving price while closed candles never change."""
    o, c = row["open"], row["close"]
    ret = math.log(c / o)
    wiggle = 0.6 * sigma * math.sin(math.pi * f) * math.sin(6 * math.pi * f + row["trades"] % 7)
    close = float(round_tick(np.array([o * math.exp(ret * f + wiggle)]), tick)[0])
    up = (row["high"] / max(o, c)) ** f
    dn = (row["low"] / min(o, c)) ** f
    high = max(float(round_tick(np.array([max(o, close) * up]), tick, "ceil")[0]), o, close)
    low = min(float(round_tick(np.array([min(o, close) * dn]), tick, "floor")[0]), o, close)
    trades = int(row["trades"] * f)
    volume = round(row["volume"] * f, 8)
    quote = round(volume * (high + low + close) / 3, 8)  # priced inside the partial range
    share = row["taker_quote"] / row["quote"] if row["quote"] else 0.5
    return dict(open=o, high=high, low=low, close=close, volume=volume, quote=quote,
                trades=trades, taker_base=round(row["taker_base"] * f, 8),
                taker_quote=round(share * quote, 8),
                trade_id=int(row["trade_id"] - row["trades"] + trades))
