"""`manage.py benchmark backtest`: the backtester's trade-simulation kernel on 1,000 coins × 8,760 hourly
bars (a year), generated here: an RSI-threshold entry (RSI(14) < 30, the scanner's own `wilder_rsi`) with
take-profit, stop-loss and time-limit exits, fees, slippage and cash-limited sizing.

The kernel is timed cold (first call) and warm (the median of the next runs: the figure the target is
about), in wall-clock and in CPU seconds (the machine is shared: the load average is printed too).
The floor is one read of the four price arrays (a comparison per element): no engine that looks at
every bar can beat it. The reference is the plain Python loop the tests check the kernel against
(backtest/reference.py), run once on the same data; it must make the same trades. Nothing touches the database: this measures the numpy kernel alone.
"""
from __future__ import annotations

import os
import resource
import statistics
import sys
import time

import numpy as np

from backtest.kernel import KernelParams, simulate
from backtest.metrics import metrics
from backtest.reference import reference
from scanners.rsi import wilder_rsi

TARGET_SECONDS = 0.5


def generate(coins: int, bars: int, seed: int = 7) -> tuple[np.ndarray, ...]:
    """Random-walk candles with volatility clustering per coin and gaps between bars."""
    rng = np.random.default_rng(seed)
    vol = 0.006 + 0.012 * rng.random((coins, 1)) * (1 + np.abs(np.sin(np.arange(bars) / rng.uniform(50, 400))))
    close = 10 ** rng.uniform(-2, 4, (coins, 1)) * np.exp(np.cumsum(rng.standard_normal((coins, bars)) * vol, axis=1))
    open_ = np.empty_like(close)
    open_[:, 0] = close[:, 0]
    open_[:, 1:] = close[:, :-1] * np.exp(rng.standard_normal((coins, bars - 1)) * vol[:, 1:] * 0.2)
    wick = np.abs(rng.standard_normal((2, coins, bars))) * vol * 0.6
    high = np.maximum(open_, close) * np.exp(wick[0])
    low = np.minimum(open_, close) * np.exp(-wick[1])
    return open_, high, low, close


def run(coins: int = 1000, bars: int = 8760, repeats: int = 5) -> dict:
    t0 = time.perf_counter()
    o, h, l, c = generate(coins, bars)
    generated = time.perf_counter() - t0

    t = time.perf_counter()
    entries = np.zeros((coins, bars), bool)
    for i in range(coins):
        with np.errstate(invalid="ignore"):
            entries[i] = wilder_rsi(c[i], 14) < 30
    signal_seconds = time.perf_counter() - t

    params = KernelParams(take_profit=0.05, stop_loss=0.03, time_limit=48, fee=0.001, slippage=0.0005,
                          initial_cash=250_000.0, position_size=1_000.0)
    timings, cpu = [], []
    for _ in range(repeats + 1):
        t, t_cpu = time.perf_counter(), time.process_time()
        result = simulate(o, h, l, c, entries, params)
        timings.append(time.perf_counter() - t)
        cpu.append(time.process_time() - t_cpu)
    cold, warm, warm_cpu = timings[0], statistics.median(timings[1:]), statistics.median(cpu[1:])

    t = time.perf_counter()
    m = metrics(result, days=bars / 24, initial_cash=params.initial_cash)
    metrics_seconds = time.perf_counter() - t

    floors = []
    for _ in range(3):
        t = time.perf_counter()
        for a in (o, h, l, c):
            np.count_nonzero(a > 1.0)
        floors.append(time.perf_counter() - t)
    floor = min(floors)

    # The same-run reference: the rules as a plain Python loop (backtest/reference.py) on the same data,
    # timed once (it is slow), in CPU seconds beside the kernel's. The trades must be the same.
    t = time.process_time()
    ref_trades, _ = reference(o, h, l, c, entries, params)
    reference_cpu = time.process_time() - t
    same = [(r["coin"], r["entry_bar"], r["exit_bar"]) for r in ref_trades] == list(
        zip(result.coin.tolist(), result.entry_bar.tolist(), result.exit_bar.tolist()))

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_rss_mb = rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024
    total = generated + signal_seconds + cold + metrics_seconds
    return {
        "coins": coins, "bars": coins * bars, "bars_per_coin": bars,
        "strategy": {"entry": "RSI(14) < 30 at a bar's close, enter at the next open", "take_profit": 0.05,
                     "stop_loss": 0.03, "time_limit_bars": 48, "fee": 0.001, "slippage": 0.0005,
                     "position_size_usdt": 1000, "initial_cash": 250_000},
        "trades": m["total_trades"], "candidates": m["candidates"], "skipped_for_cash": m["skipped_for_cash"],
        "win_rate": m["win_rate"], "exits": m["exits"],
        "kernel_seconds": round(warm, 4), "kernel_cold_seconds": round(cold, 4),
        "kernel_cpu_seconds": round(warm_cpu, 4),  # what contention from other processes does not inflate
        "kernel_runs": [round(x, 4) for x in timings],
        "generate_seconds": round(generated, 3), "signal_seconds": round(signal_seconds, 3),
        "metrics_seconds": round(metrics_seconds, 4),
        "total_seconds": round(total, 3),
        "bars_per_second": round(coins * bars / warm),
        "floor_seconds": round(floor, 4), "kernel_vs_floor": round(warm / floor, 1),
        "reference": {"plain_loop_cpu_seconds": round(reference_cpu, 3),
                      "speedup_cpu": round(reference_cpu / warm_cpu, 1), "same_trades": same},
        "target_seconds": TARGET_SECONDS, "within_target": warm < TARGET_SECONDS,
        "peak_rss_mb": round(peak_rss_mb, 1),
        "load_average_1m": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
    }
