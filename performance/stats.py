"""Statistics of outcomes, each with its n (DESIGN.md "Honesty"; definitions in docs/performance-tracking.md)."""
from __future__ import annotations

import math
import statistics
from typing import Iterable

from .models import SignalOutcome

SHARPE_MIN_N = 30
DAYS_PER_YEAR = 365


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """The Wilson score interval of k successes in n trials (95 % for z = 1.96); None when n = 0."""
    if n <= 0:
        return None
    p = k / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def sharpe(returns: list[float], window_days: float) -> tuple[float | None, str | None]:
    """mean ÷ sample standard deviation of the per-signal returns, × sqrt(signals per year), where signals
    per year = n ÷ window_days × 365. Returns (value, None) or (None, the reason it is not shown)."""
    n = len(returns)
    if n < SHARPE_MIN_N:
        return None, f"needs at least {SHARPE_MIN_N} evaluated outcomes (n={n})"
    sd = statistics.stdev(returns)
    if sd == 0:
        return None, "every return is the same (standard deviation 0)"
    if window_days <= 0:
        return None, "the window has no length"
    return statistics.fmean(returns) / sd * math.sqrt(n / window_days * DAYS_PER_YEAR), None


def _r(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(x, digits)


def summarise(outcomes: Iterable[SignalOutcome], window_days: float | None = None) -> dict:
    """Counts and rates of the evaluated outcomes; pending and unavailable ones are only counted.

    Returns are the trade's (direction-aware, SignalOutcome.return_pct), in percent. `window_days` is the
    length of the period the signals come from (the Sharpe ratio's annualisation); without it, the span
    between the first and last signal (at least one day)."""
    outcomes = list(outcomes)
    done = [o for o in outcomes if o.status == SignalOutcome.EVALUATED]
    wins = [o for o in done if o.outcome == SignalOutcome.WIN]
    losses = [o for o in done if o.outcome == SignalOutcome.LOSS]
    returns = [o.return_pct for o in done]
    n = len(done)
    interval = wilson(len(wins), n)
    if window_days is None:
        times = [o.signal.candle_close_time for o in done]
        window_days = max(1.0, (max(times) - min(times)).total_seconds() / 86400) if times else 1.0
    ratio, reason = sharpe(returns, window_days)
    return {
        "total_signals": n,
        "wins": len(wins),
        "losses": len(losses),
        "neutral": n - len(wins) - len(losses),
        "win_rate": _r(len(wins) / n) if n else None,
        "win_rate_ci": [_r(interval[0]), _r(interval[1])] if interval else None,
        "n": n,
        "avg_win": _r(statistics.fmean(o.return_pct for o in wins)) if wins else None,
        "avg_loss": _r(statistics.fmean(o.return_pct for o in losses)) if losses else None,
        "median_return": _r(statistics.median(returns)) if returns else None,
        "sharpe_ratio": _r(ratio),
        "sharpe_ratio_note": reason,
        "pending": sum(1 for o in outcomes if o.status == SignalOutcome.PENDING),
        "unavailable": sum(1 for o in outcomes if o.status == SignalOutcome.UNAVAILABLE),
    }
