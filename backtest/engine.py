"""A backtest from stored candles: the real scanners replayed point in time make the entry mask, the
kernel trades it, and the result is the plan's metrics with the equity curve and the trade list.

Signals: at the close of each hourly bar (every `signal_step_hours`), `scanners.pipeline.score_universe`
— the live scan's own function — scores every coin from what was known then (`load_history` +
`build_snapshot`: candles closed by then, metric points measured by then), `signals.ranking.unify` turns
the chosen scanners' scores into the unified score and its BUY confirmations, and a coin whose candle
closed at that hour and meets the entry rules is marked. The kernel (backtest.kernel) enters at the next
bar's open. Nothing from after a bar's close can reach its signal; tests/test_backtest_engine.py checks
that a backtest over data cut at a day makes the same trades up to that day.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Callable

import numpy as np

from cryptosatx.scanning import current_thresholds
from marketdata.models import Candle, Coin, data_is_simulated
from scanners.history import load_history
from scanners.pipeline import score_universe
from signals.models import ScoringConfig
from signals.ranking import unify

from .kernel import EXIT_REASONS, KernelResult, simulate
from .metrics import metrics
from .strategy import Strategy

HOUR = timedelta(hours=1)
MAX_CURVE_POINTS = 1000
MAX_TRADES_STORED = 10_000
Progress = Callable[[int], None]


def load_grid(strategy: Strategy) -> tuple[list[str], np.ndarray, dict[str, int]]:
    """OHLC per coin and hour of the range (coins × bars × 4, NaN where no candle), and candles per coin."""
    symbols = sorted(strategy.coins)  # ties between equal signals go to the first symbol
    ids = dict(Coin.objects.filter(symbol__in=symbols).values_list("id", "symbol"))
    row = {s: i for i, s in enumerate(symbols)}
    grid = np.full((len(symbols), strategy.hours, 4), np.nan)
    counts = dict.fromkeys(symbols, 0)
    start_s = strategy.start.timestamp()
    rows = (Candle.objects.filter(coin_id__in=ids, interval="1h", open_time__gte=strategy.start,
                                  open_time__lt=strategy.end)
            .values_list("coin_id", "open_time", "open", "high", "low", "close"))
    for coin_id, open_time, o, h, l, c in rows.iterator(chunk_size=20_000):
        bar = int((open_time.timestamp() - start_s) // 3600)
        symbol = ids[coin_id]
        grid[row[symbol], bar] = (o, h, l, c)
        counts[symbol] += 1
    return symbols, grid, counts


def entry_signals(strategy: Strategy, symbols: list[str], progress: Progress) -> tuple[np.ndarray, np.ndarray, dict]:
    """The entry mask (coins × bars: the rules met at that bar's close) and each entry's unified score."""
    bars = strategy.hours
    entries = np.zeros((len(symbols), bars), bool)
    priority = np.zeros((len(symbols), bars))
    history = load_history(strategy.start, strategy.end, symbols)
    thresholds, config = current_thresholds(), ScoringConfig.current()
    scanners = strategy.scanner_functions
    row = {s: i for i, s in enumerate(symbols)}
    # The last bar's signal has no bar to enter on; it is evaluated anyway, so that a backtest over data cut
    # there can be compared signal for signal with a longer one (tests/test_backtest_engine.py).
    times = list(range(0, bars, strategy.signal_step_hours))
    evaluated = scored = 0
    for n, t in enumerate(times):
        as_of = strategy.start + (t + 1) * HOUR
        snaps, outputs = score_universe(history, as_of, thresholds, scanners)
        for symbol, per_scanner in outputs.items():
            if snaps[symbol].candle_close_time != as_of:
                continue  # no candle closed at this hour: nothing to act on
            evaluated += 1
            result = unify({name: o.scores for name, o in per_scanner.items()}, config.weights,
                           config.tier_thresholds, config.min_confirmations_tier1)
            if result.unified_score is None:
                continue
            scored += 1
            if (result.unified_score >= strategy.min_unified_score
                    and result.cross_validation.confirmations >= strategy.min_confirmations):
                entries[row[symbol], t] = True
                priority[row[symbol], t] = result.unified_score
        if n % 24 == 0:
            progress(5 + int(85 * (n + 1) / len(times)))
    info = {"evaluations": evaluated, "scored": scored, "signal_times": len(times),
            "thresholds": vars(thresholds), "weights": config.weights,
            "min_confirmations_tier1": config.min_confirmations_tier1, "scanners_run": list(scanners)}
    return entries, priority, info


def run(strategy: Strategy, progress: Progress = lambda pct: None) -> dict:
    t0 = time.perf_counter()
    symbols, grid, counts = load_grid(strategy)
    progress(5)
    t1 = time.perf_counter()
    entries, priority, info = entry_signals(strategy, symbols, progress)
    t2 = time.perf_counter()
    o, h, l, c = (np.ascontiguousarray(grid[..., i]) for i in range(4))
    result = simulate(o, h, l, c, entries, strategy.kernel_params(), priority)
    t3 = time.perf_counter()
    days = strategy.hours / 24
    return {
        "metrics": metrics(result, days, strategy.initial_capital),
        "equity_curve": equity_points(strategy.start, result.equity),
        "trades": trade_list(strategy.start, symbols, result, priority)[:MAX_TRADES_STORED],
        "trades_stored": min(len(result.coin), MAX_TRADES_STORED),
        "data": {"bars": strategy.hours, "days": round(days, 3), "signals": int(entries.sum()),
                 "candles": counts, "simulated": data_is_simulated(), **info},
        "seconds": {"load": round(t1 - t0, 3), "signals": round(t2 - t1, 3), "kernel": round(t3 - t2, 4)},
    }


def _iso(start: datetime, bar: int, close: bool = False) -> str:
    return (start + (int(bar) + close) * HOUR).astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def equity_points(start: datetime, equity: np.ndarray) -> list[dict]:
    """The bar-close equity, at most MAX_CURVE_POINTS evenly spaced bars (the last always among them)."""
    bars = len(equity)
    picks = np.unique(np.linspace(0, bars - 1, min(bars, MAX_CURVE_POINTS)).round().astype(int)) if bars else []
    return [{"time": _iso(start, i, close=True), "equity": round(float(equity[i]), 2)} for i in picks]


def trade_list(start: datetime, symbols: list[str], r: KernelResult, priority: np.ndarray) -> list[dict]:
    order = np.lexsort((r.coin, r.entry_bar))
    pnl = r.pnl
    return [{
        "symbol": symbols[r.coin[i]],
        "entry_time": _iso(start, r.entry_bar[i]),  # the open of the entry bar
        "entry_price": float(r.entry_price[i]),
        "exit_time": _iso(start, r.exit_bar[i], close=True),  # by the close of the exit bar
        "exit_price": float(r.exit_price[i]),
        "exit_reason": EXIT_REASONS[r.reason[i]],
        "quantity": float(r.qty[i]),
        "cost": round(float(r.cost[i]), 4),
        "proceeds": round(float(r.proceeds[i]), 4),
        "pnl": round(float(pnl[i]), 4),
        "return_pct": round(float(100 * pnl[i] / r.cost[i]), 4),
        "bars_held": int(r.exit_bar[i] - r.entry_bar[i] + 1),
        "entry_score": round(float(priority[r.coin[i], r.entry_bar[i] - 1]), 2),
    } for i in order]
