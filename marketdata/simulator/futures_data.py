"""Binance's `/futures/data/...` series: open-interest history, taker buy/sell volume and the
global and top-trader long/short ratios.

Rows sit on the period grid (timestamps that are multiples of the period, days at 00:00 UTC)
up to now and no further back than 30 days. Snapshot series (open interest, ratios) give the
state at the timestamp; the taker series gives the volume of the period that *ends* there, so
every row served is final. `timestamp` is a number in openInterestHist and a string in the
other three, as Binance's own examples show (clients must accept both).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .futures_model import FuturesModel
from .market import MarketError
from .universe import HOUR_MS, Instrument, hour_ms, hour_of

PERIOD_MS = {"5m": 300_000, "15m": 900_000, "30m": 1_800_000, "1h": HOUR_MS, "2h": 2 * HOUR_MS,
             "4h": 4 * HOUR_MS, "6h": 6 * HOUR_MS, "12h": 12 * HOUR_MS, "1d": 24 * HOUR_MS}
HISTORY_MS = 30 * 24 * HOUR_MS  # Binance keeps these series for 30 days
MAX_LIMIT = 500
ENDPOINTS = ("openInterestHist", "takerlongshortRatio", "globalLongShortAccountRatio",
             "topLongShortPositionRatio")


def grid(k_lo: int, k_hi: int, start: int | None, end: int | None, limit: int,
         step: int) -> tuple[int, int] | None:
    """Indexes k (times k*step) chosen by startTime/endTime/limit, as Binance does for klines:
    from startTime forwards when it is given, else the newest `limit` up to endTime."""
    if start is not None:
        k_lo = max(k_lo, -(-start // step))
    if end is not None:
        k_hi = min(k_hi, end // step)
    if start is not None:
        k_hi = min(k_hi, k_lo + limit - 1)
    else:
        k_lo = max(k_lo, k_hi - limit + 1)
    return (k_lo, k_hi) if k_lo <= k_hi else None


class FuturesData:
    def __init__(self, model: FuturesModel) -> None:
        self.model, self.market = model, model.market

    def series(self, endpoint: str, symbol: str, period: str, start: int | None, end: int | None,
               limit: int) -> list[dict]:
        if period not in PERIOD_MS:
            raise MarketError(-1120, "Invalid period.")
        now = self.market.now_ms()
        inst, perp = self.model.require(symbol, now)
        step = PERIOD_MS[period]
        first = hour_ms(perp.onboard_h) + (step if endpoint == "takerlongshortRatio" else 0)
        first = max(first, now - HISTORY_MS)
        last = min(now, hour_ms(self.model.last_knot(inst, now)))
        span = grid(-(-first // step), last // step, start, end, limit, step)
        if span is None:
            return []
        ts = np.arange(span[0], span[1] + 1, dtype=np.int64) * step
        build: Callable = getattr(self, "_" + endpoint)
        return build(inst, ts, step, now)

    # ---- the four series ----------------------------------------------------------------------
    def _openInterestHist(self, inst: Instrument, ts: np.ndarray, step: int, now: int) -> list:
        oi = self._interp_oi(inst, ts)
        price = self._prices(inst, ts, now)
        return [{"symbol": inst.symbol, "sumOpenInterest": f"{o:.8f}",
                 "sumOpenInterestValue": f"{o * p:.8f}", "timestamp": t}
                for t, o, p in zip(ts.tolist(), oi.tolist(), price.tolist())]

    def _takerlongshortRatio(self, inst: Instrument, ts: np.ndarray, step: int,
                             now: int) -> list:
        h_a, h_b = hour_of(int(ts[0]) - step), hour_of(int(ts[-1]) - 1)
        data = self.market._hours(inst, h_a, h_b, now)
        mult = self.model.perp(inst).volume_mult
        vol, buy = data["volume"] * mult, data["taker_base"] * mult

        # Inside an hour the buy share swings around the hour's share (a sine with a phase per
        # hour, zero on average), so 5m rows differ while every hour keeps its exact total.
        share = np.where(vol > 0, buy / np.maximum(vol, 1e-300), 0.5)
        amp = 0.25 * np.minimum(share, 1 - share)
        phase = (np.arange(h_a, h_b + 1) * 2.39996) % (2 * np.pi)

        def cumulative(t: np.ndarray, buys: bool) -> np.ndarray:
            """Volume (or taker buys) from the start of hour h_a up to time t."""
            x = buy if buys else vol
            cum = np.r_[0.0, np.cumsum(x)]
            i = np.minimum((t - hour_ms(h_a)) // HOUR_MS, len(x))
            j = np.minimum(i, len(x) - 1)
            f = np.where(i < len(x), ((t - hour_ms(h_a)) % HOUR_MS) / HOUR_MS, 0.0)
            if not buys:
                return cum[i] + vol[j] * f
            swing = amp[j] * (np.cos(phase[j]) - np.cos(2 * np.pi * f + phase[j])) / (2 * np.pi)
            return cum[i] + vol[j] * (share[j] * f + swing)

        total = cumulative(ts, False) - cumulative(ts - step, False)
        bought = cumulative(ts, True) - cumulative(ts - step, True)
        sold = np.maximum(total - bought, 0.0)
        ratio = bought / np.maximum(sold, 1e-12)
        return [{"buySellRatio": f"{r:.4f}", "buyVol": f"{b:.4f}", "sellVol": f"{s:.4f}",
                 "timestamp": str(t)}
                for t, r, b, s in zip(ts.tolist(), ratio.tolist(), bought.tolist(), sold.tolist())]

    def _globalLongShortAccountRatio(self, inst: Instrument, ts: np.ndarray, step: int,
                                     now: int) -> list:
        return self._ratio_rows(inst, ts, "glob")

    def _topLongShortPositionRatio(self, inst: Instrument, ts: np.ndarray, step: int,
                                   now: int) -> list:
        return self._ratio_rows(inst, ts, "top")

    # ---- helpers ------------------------------------------------------------------------------
    def _ratio_rows(self, inst: Instrument, ts: np.ndarray, which: str) -> list:
        """Ratios hold for the hour (the knot at the timestamp's hour)."""
        hours = (ts - hour_ms(0)) // HOUR_MS
        knots = self.model.positions(inst, int(hours[0]), int(hours[-1]))[which]
        ratio = knots[hours - hours[0]]
        long = np.round(ratio / (1 + ratio), 4)
        out = []
        for t, lg in zip(ts.tolist(), long.tolist()):
            short = round(1 - lg, 4)
            out.append({"symbol": inst.symbol, "longShortRatio": f"{lg / short:.4f}",
                        "longAccount": f"{lg:.4f}", "shortAccount": f"{short:.4f}",
                        "timestamp": str(t)})
        return out

    def _interp_oi(self, inst: Instrument, ts: np.ndarray) -> np.ndarray:
        h0 = hour_of(int(ts[0]))
        knots = self.model.positions(inst, h0, hour_of(int(ts[-1])) + 1)["oi"]
        times = hour_ms(h0) + HOUR_MS * np.arange(len(knots), dtype=np.int64)
        return np.interp(ts, times, knots)

    def _prices(self, inst: Instrument, ts: np.ndarray, now: int) -> np.ndarray:
        """Spot price at each timestamp: hourly closes (log-linear inside closed hours) and the
        live candle inside the current hour."""
        cur = hour_ms(hour_of(now))
        a = max(inst.list_h, hour_of(int(ts[0])) - 1)
        b = max(a, min(hour_of(int(ts[-1])), hour_of(now) - 1, self.market._last_hour(inst, now)))
        d = self.market._hours(inst, a, b, now)
        times = np.r_[hour_ms(a), hour_ms(a) + HOUR_MS * np.arange(1, b - a + 2, dtype=np.int64)]
        logs = np.log(np.r_[d["open"][0], d["close"]])
        out = np.exp(np.interp(ts, times, logs))
        for i in np.flatnonzero(ts > cur):
            out[i] = self.market.price_at(inst, int(ts[i]), now)
        return out
