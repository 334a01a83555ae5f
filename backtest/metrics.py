"""The plan's backtest metrics from the kernel's trades and equity curve (definitions: docs/users.md)."""
from __future__ import annotations

import math

import numpy as np

from .kernel import EXIT_REASONS, KernelResult

DAYS_PER_YEAR = 365  # crypto trades every day


def _num(x: float | None, digits: int = 4) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), digits)


def sharpe_ratio(returns: np.ndarray, days: float) -> float | None:
    """Per-trade Sharpe: mean ÷ standard deviation (n − 1) of the trades' returns on their cost, times
    √(trades per year) with trades per year = n ÷ (days ÷ 365). None below 2 trades or without spread."""
    n = len(returns)
    if n < 2 or days <= 0:
        return None
    sd = float(np.std(returns, ddof=1))
    if sd <= 0:
        return None
    return float(np.mean(returns)) / sd * math.sqrt(n / (days / DAYS_PER_YEAR))


def max_drawdown(equity: np.ndarray, initial_cash: float) -> float:
    """The largest fall from a running peak of the bar-close equity, in percent of that peak."""
    curve = np.concatenate([[initial_cash], equity])
    peak = np.maximum.accumulate(curve)
    return float(np.max((peak - curve) / peak) * 100) if len(curve) else 0.0


def metrics(r: KernelResult, days: float, initial_cash: float) -> dict:
    pnl = r.pnl
    n = len(pnl)
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    returns = pnl / r.cost if n else pnl
    final = float(r.equity[-1]) if len(r.equity) else initial_cash
    return {
        "total_trades": n,
        "wins": len(wins),
        "losses": len(losses),  # a trade that exactly breaks even after fees is neither
        "win_rate": _num(100 * len(wins) / n, 2) if n else None,
        "total_pnl": _num(pnl.sum(), 2) if n else 0.0,
        "total_return_pct": _num(100 * (final / initial_cash - 1), 3),
        "sharpe_ratio": _num(sharpe_ratio(returns, days), 3),
        "max_drawdown": _num(max_drawdown(r.equity, initial_cash), 3),
        "avg_win": _num(wins.mean(), 2) if len(wins) else None,
        "avg_loss": _num(losses.mean(), 2) if len(losses) else None,
        "avg_return_pct": _num(100 * returns.mean(), 3) if n else None,
        "avg_bars_held": _num((r.exit_bar - r.entry_bar + 1).mean(), 2) if n else None,
        "exits": {name: int((r.reason == i).sum()) for i, name in enumerate(EXIT_REASONS)},
        "fees_paid": _num((r.cost - r.qty * r.entry_price).sum() + (r.qty * r.exit_price - r.proceeds).sum(), 2),
        "initial_equity": _num(initial_cash, 2),
        "final_equity": _num(final, 2),
        "skipped_for_cash": int(r.skipped_for_cash),
        "candidates": int(r.candidates),
    }
