"""The deterministic simulated spot market: hourly paths for every pair, served as Binance does.

Pure Python + numpy (no Django), so it runs inside the simulator's HTTP server, in tests and
in benchmarks. `SimMarket(seed)` answers every query identically for the same clock time; the
clock follows real time by default and can be injected.
"""
from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict
from typing import Callable

import numpy as np

from .episodes import DEFAULT_PARAMS, EpisodeParams
from .klines import CHUNK as KLINE_CHUNK, DAY_MS, SERVED_HOURS, VALID_INTERVALS, KlineBook  # noqa: F401 (re-exported)
from .paths import FIELDS, Block, block_end_state, generate_block, partial_candle
from .universe import BLOCK_H, HOUR_MS, ORIGIN_H, Instrument, Universe, hour_ms, hour_of


class MarketError(Exception):
    """A request the exchange would refuse; code and msg are Binance's."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code, self.msg = code, msg


def _f8(x: float) -> str:
    return f"{x:.8f}"


# hours of hourly spot candles warm() renders ahead: a cold scan's 501 rounded up to whole chunks
WARM_KLINE_HOURS = 512


class SimMarket:
    """Deterministic market of `n_coins` USDT pairs (+ a few cross pairs) for one seed."""

    def __init__(self, seed: int = 42, n_coins: int = 520,
                 clock: Callable[[], float] = time.time, cache_blocks: int | None = None,
                 episodes: EpisodeParams = DEFAULT_PARAMS, cache_mb: float = 256) -> None:
        self.seed, self.n_coins, self.clock = seed, n_coins, clock
        self.params = episodes
        self.universe = Universe(seed, n_coins)
        self._lock = threading.RLock()
        # Recent blocks of every coin fit in the LRU; older ones are regenerated on demand.
        self._cap = cache_blocks or 2 * (n_coins + len(self.universe.cross)) + 64
        self._blocks: OrderedDict[tuple[int, int], Block] = OrderedDict()
        self._states: dict[int, list[tuple[float, int]]] = {}  # per coin, per block since listing
        self._extremes: dict[int, list[tuple[float, int, float, int]]] = {}  # same blocks
        self._mkt: dict[int, np.ndarray] = {}  # BTC's noise per block: the market factor
        self._visible: tuple[int, list[Instrument], dict[str, Instrument]] | None = None
        self._hot_from = 0
        self.kline_book = KlineBook(self, int(cache_mb * (1 << 20)))

    # ---- universe -------------------------------------------------------------------------
    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def instruments(self, now_ms: int | None = None) -> list[Instrument]:
        """Pairs listed in exchangeInfo right now (including BREAK/HALT ones)."""
        return self._universe_at(self.now_ms() if now_ms is None else now_ms)[0]

    def instrument(self, symbol: str, now_ms: int | None = None) -> Instrument | None:
        return self._universe_at(self.now_ms() if now_ms is None else now_ms)[1].get(symbol)

    def _universe_at(self, now_ms: int) -> tuple[list[Instrument], dict[str, Instrument]]:
        now_h = hour_of(now_ms)
        with self._lock:
            if self._visible is None or self._visible[0] != now_h:
                items = self.universe.visible(now_h)
                self._visible = (now_h, items, {x.symbol: x for x in items})
            return self._visible[1], self._visible[2]

    def _require(self, symbol: str, now_ms: int) -> Instrument:
        inst = self.instrument(symbol, now_ms)
        if inst is None:
            raise MarketError(-1121, "Invalid symbol.")
        return inst

    # ---- path storage ---------------------------------------------------------------------
    @staticmethod
    def _block_of(h: int) -> int:
        return (h - ORIGIN_H) // BLOCK_H

    def _state(self, inst: Instrument, b: int) -> tuple[float, int]:
        """Log price and trade id at the start of block b, walking earlier blocks as needed."""
        first = self._block_of(inst.list_h)
        states = self._states.setdefault(inst.id, [(math.log(inst.price0), 0)])
        ext = self._extremes.setdefault(inst.id, [])
        while len(states) <= b - first:
            prev = first + len(states) - 1
            if (inst.id, prev) in self._blocks or prev >= self._hot_from:
                blk = self._generate(inst, prev)
                states.append((blk.end_logp, blk.end_trade_id))
                ext.append(blk.extremes)
            else:  # cold history: only the boundary state is needed, not the candles
                logp, tid, own, extremes = block_end_state(
                    self.seed, inst, prev, self._mkt_for(inst, prev), *states[-1], self.params)
                if inst.id == self.universe.btc().id:
                    self._mkt[prev] = own
                states.append((logp, tid))
                ext.append(extremes)
        return states[b - first]

    def _generate(self, inst: Instrument, b: int) -> Block:
        key = (inst.id, b)
        if key in self._blocks:
            self._blocks.move_to_end(key)
            return self._blocks[key]
        mkt = self._mkt_for(inst, b)
        logp0, tid0 = self._state(inst, b)
        blk = generate_block(self.seed, inst, b, mkt, logp0, tid0, self.params)
        if mkt is None:
            self._mkt[b] = blk.mkt
        if b >= self._hot_from:  # keep only recent blocks; history is cheap to regenerate
            self._blocks[key] = blk
            while len(self._blocks) > self._cap:
                self._blocks.popitem(last=False)
        return blk

    def _mkt_for(self, inst: Instrument, b: int) -> np.ndarray | None:
        """BTC's own noise for block b (the market factor); None when inst is BTC itself."""
        if inst.id == self.universe.btc().id:
            return None
        if b not in self._mkt:
            self._state(self.universe.btc(), b + 1)  # walking BTC past b records its factor
            if b not in self._mkt:
                self._generate(self.universe.btc(), b)
        return self._mkt[b]

    def _hours(self, inst: Instrument, h_lo: int, h_hi: int, now_ms: int) -> dict[str, np.ndarray]:
        """Closed (final) hourly values for hours h_lo..h_hi inclusive, as fresh arrays."""
        parts: dict[str, list[np.ndarray]] = {k: [] for k in FIELDS + ("sigma",)}
        with self._lock:
            self._hot_from = self._block_of(hour_of(now_ms)) - 1
            for b in range(self._block_of(h_lo), self._block_of(h_hi) + 1):
                blk = self._generate(inst, b)
                base = ORIGIN_H + b * BLOCK_H
                s, e = max(h_lo, base) - base, min(h_hi, base + BLOCK_H - 1) - base + 1
                for k in FIELDS:
                    parts[k].append(blk.arrays[k][s:e])
                parts["sigma"].append(blk.sigma[s:e])
        return {k: np.concatenate(v) for k, v in parts.items()}

    def _row(self, inst: Instrument, h: int, now_ms: int) -> dict[str, float]:
        """One closed hour's values, read straight from its block (no array copies)."""
        b = self._block_of(h)
        with self._lock:
            self._hot_from = self._block_of(hour_of(now_ms)) - 1
            blk = self._generate(inst, b)
        i = h - (ORIGIN_H + b * BLOCK_H)
        row = {k: blk.arrays[k][i].item() for k in FIELDS}
        row["sigma"] = blk.sigma[i].item()
        return row

    def _partial(self, inst: Instrument, t_ms: int, now_ms: int) -> dict[str, float]:
        """The candle of the hour containing t_ms as it stood at t_ms."""
        h = hour_of(t_ms)
        row = self._row(inst, h, now_ms)
        return partial_candle(row, row["sigma"], (t_ms - hour_ms(h)) / HOUR_MS, inst.tick)

    @staticmethod
    def open_candle(inst: Instrument, row: dict[str, float], sigma: float,
                    now_ms: int) -> dict[str, float]:
        """The current hour's candle so far, from that hour's final values."""
        return partial_candle(row, sigma, (now_ms - hour_ms(hour_of(now_ms))) / HOUR_MS, inst.tick)

    def extremes(self, inst: Instrument, h_hi: int, now_ms: int
                 ) -> tuple[float, int, float, int] | None:
        """(highest close, its hour, lowest close, its hour) over closed hours list_h..h_hi.

        Older blocks contribute the summary recorded when their state was walked, so this
        never regenerates history."""
        h_hi = min(h_hi, self._last_hour(inst, now_ms))
        if h_hi < inst.list_h:
            return None
        b = self._block_of(h_hi)
        first = self._block_of(inst.list_h)
        with self._lock:
            self._state(inst, b)
            older = list(self._extremes[inst.id][: b - first])
        start = max(inst.list_h, ORIGIN_H + b * BLOCK_H)
        close = self._hours(inst, start, h_hi, now_ms)["close"]
        i, j = int(np.argmax(close)), int(np.argmin(close))
        hi, hi_h, lo, lo_h = math.log(close[i]), start + i, math.log(close[j]), start + j
        for mx, mx_h, mn, mn_h in older:
            if mx > hi:
                hi, hi_h = mx, mx_h
            if mn < lo:
                lo, lo_h = mn, mn_h
        return math.exp(hi), hi_h, math.exp(lo), lo_h

    def instruments_until(self, h: int) -> list[Instrument]:
        """Every pair listed at or before hour h, including since-delisted ones."""
        with self._lock:
            self.universe._extend_listings(h)
            return [x for x in self.universe.old + self.universe.cross
                    + self.universe._listings if x.list_h <= h]

    def warm(self, kline_hours: int = WARM_KLINE_HOURS) -> int:
        """Generate every visible pair's path up to now (the slow part of a cold start), and render
        the closed hourly spot candles of its last `kline_hours` hours into the kline cache: a
        scanner's cold start asks every coin for its last 500, and formatting them on demand was
        most of the simulator's CPU in a benchmark whose scanner shares its cores (a real exchange
        does not build its history per request either)."""
        now = self.now_ms()
        items = self.instruments(now)
        for inst in items:
            h = max(inst.list_h, hour_of(now) - 1000)
            self._hours(inst, h, max(h, self._last_hour(inst, now)), now)
            if kline_hours > 0:
                # From a chunk boundary, so every closed chunk of the span is cached whole (and
                # from the last candle: a delisted pair's are its last ones). Chunks are numbered
                # in hours since the epoch (1h buckets), not in the simulator's own hours.
                first = hour_ms(self._last_hour(inst, now) - kline_hours) // HOUR_MS // KLINE_CHUNK * KLINE_CHUNK
                self.kline_book.body("spot", inst, "1h", first * HOUR_MS, None, 1000, now)
        return len(items)

    @staticmethod
    def _last_hour(inst: Instrument, now_ms: int) -> int:
        cur = hour_of(now_ms)
        return cur if inst.delist_h is None else min(cur, inst.delist_h - 1)

    # ---- Binance answers ------------------------------------------------------------------
    def klines(self, symbol: str, interval: str, start_ms: int | None = None,
               end_ms: int | None = None, limit: int = 500) -> list[list]:
        """Rows of GET /api/v3/klines, with Binance's startTime/endTime/limit semantics."""
        return json.loads(self.klines_json(symbol, interval, start_ms, end_ms, limit))

    def klines_json(self, symbol: str, interval: str, start_ms: int | None = None,
                    end_ms: int | None = None, limit: int = 500) -> bytes:
        """The same rows as serialized JSON (closed rows come from the KlineBook cache)."""
        now = self.now_ms()
        if interval not in SERVED_HOURS:  # Binance checks the interval before the symbol
            self.kline_book.span(self.universe.btc(), interval, None, None, 1, now)  # raises
        inst = self._require(symbol, now)
        return self.kline_book.body("spot", inst, interval, start_ms, end_ms, limit, now)

    def ticker_24h(self, symbol: str, now_ms: int | None = None) -> dict:
        """GET /api/v3/ticker/24hr for one symbol: the rolling 24 hours ending now."""
        now = self.now_ms() if now_ms is None else now_ms
        inst = self._require(symbol, now)
        stop = now if inst.delist_h is None else min(now, hour_ms(inst.delist_h))
        lo = min(max(now - DAY_MS, hour_ms(inst.list_h)), stop)
        first, last = self._partial(inst, lo, now), self._partial(inst, stop, now)
        open_p, last_p = first["close"], last["close"]
        volume = quote = 0.0
        highs, lows = [open_p, last_p], [open_p, last_p]
        if stop > lo:
            h_a, h_b = hour_of(lo), hour_of(stop - 1)
            data = self._hours(inst, h_a, h_b, now)
            starts = hour_ms(h_a) + HOUR_MS * np.arange(h_b - h_a + 1, dtype=np.int64)
            cover = (np.minimum(starts + HOUR_MS, stop) - np.maximum(starts, lo)) / HOUR_MS
            volume = float(np.round(np.dot(cover, data["volume"]), 8))
            quote = float(np.round(np.dot(cover, data["quote"]), 8))
            full = cover >= 1.0
            if full.any():
                highs.append(float(data["high"][full].max()))
                lows.append(float(data["low"][full].min()))
            if lo > starts[0] and h_b > h_a:  # first hour only partly inside: its close is
                highs.append(float(data["close"][0]))
                lows.append(float(data["close"][0]))
            if stop < starts[-1] + HOUR_MS and hour_of(stop) == h_b:  # the open hour so far
                highs.append(last["high"])
                lows.append(last["low"])
        first_id, last_id = first["trade_id"] + 1, last["trade_id"]
        count = max(0, last_id - first_id + 1)
        change = last_p - open_p
        lot = inst.step * max(1, round(inst.trade_size / last_p / inst.step * 0.3))
        return {
            "symbol": inst.symbol,
            "priceChange": _f8(change),
            "priceChangePercent": f"{100 * change / open_p:.3f}",
            "weightedAvgPrice": _f8(quote / volume if volume else last_p),
            "prevClosePrice": _f8(open_p),
            "lastPrice": _f8(last_p),
            "lastQty": _f8(lot),
            "bidPrice": _f8(last_p),
            "bidQty": _f8(lot * 7),
            "askPrice": _f8(last_p + inst.tick),
            "askQty": _f8(lot * 5),
            "openPrice": _f8(open_p),
            "highPrice": _f8(max(highs)),
            "lowPrice": _f8(min(lows)),
            "volume": _f8(volume),
            "quoteVolume": _f8(quote),
            "openTime": lo,
            "closeTime": stop,
            "firstId": first_id if count else -1,
            "lastId": last_id if count else -1,
            "count": count,
        }

    def price(self, symbol: str, now_ms: int | None = None) -> float:
        """The last traded price now (the open candle's close)."""
        now = self.now_ms() if now_ms is None else now_ms
        inst = self._require(symbol, now)
        return self.price_at(inst, now, now)

    def price_at(self, inst: Instrument, t_ms: int, now_ms: int) -> float | None:
        """The last traded price at time t_ms (None before the listing)."""
        if t_ms < hour_ms(inst.list_h):
            return None
        stop = t_ms if inst.delist_h is None else min(t_ms, hour_ms(inst.delist_h))
        return self._partial(inst, stop, now_ms)["close"]
