"""The backtest rules as a plain Python loop, bar by bar and coin by coin, as a person would apply them
by hand (the rules: backtest/kernel.py's docstring). Far too slow to use; it is the oracle that
tests/test_backtest_kernel.py checks the kernel against, trade for trade, and the same-run reference
of `manage.py benchmark backtest`."""
from __future__ import annotations

import math

from .kernel import EQUITY, KernelParams


def reference(o, h, l, c, entries, p: KernelParams, priority=None):
    """Bar by bar, coin by coin: the rules as a person would apply them by hand."""
    coins, bars = o.shape
    cash, pending, skipped, trades, pos, last_close = p.initial_cash, 0.0, 0, [], {}, [0.0] * coins
    last_valid = [max([t for t in range(bars) if not math.isnan(o[k, t])], default=0) for k in range(coins)]
    for t in range(bars):
        cash += pending
        pending = 0.0
        if t > 0:
            wanted = [k for k in range(coins) if entries[k, t - 1] and not math.isnan(o[k, t]) and k not in pos]
            if priority is not None:
                wanted.sort(key=lambda k: (-priority[k, t - 1], k))
            equity = cash + sum(q["qty"] * last_close[k] for k, q in pos.items())
            unit = p.position_size * equity if p.sizing == EQUITY else p.position_size
            notional = unit / (1 + p.fee)  # the position size pays the entry fee too
            for k in wanted:
                if unit > 0 and cash + 1e-9 * unit >= unit:
                    cash -= unit
                    px = o[k, t] * (1 + p.slippage)
                    pos[k] = {"coin": k, "entry_bar": t, "entry_price": px, "qty": notional / px, "cost": unit,
                              "sl": px * (1 - p.stop_loss), "tp": px * (1 + p.take_profit)}
                else:
                    skipped += 1
        for k in sorted(pos):
            q = pos[k]
            if math.isnan(o[k, t]):
                continue
            exit_at = why = None
            if o[k, t] <= q["sl"]:
                exit_at, why = o[k, t], "stop_loss"
            elif o[k, t] >= q["tp"]:
                exit_at, why = o[k, t], "take_profit"
            elif l[k, t] <= q["sl"]:
                exit_at, why = q["sl"], "stop_loss"
            elif h[k, t] >= q["tp"]:
                exit_at, why = q["tp"], "take_profit"
            elif p.time_limit and t >= q["entry_bar"] + p.time_limit - 1:
                exit_at, why = c[k, t], "time_limit"
            if exit_at is not None:
                fill = exit_at * (1 - p.slippage)
                proceeds = q["qty"] * fill * (1 - p.fee)
                pending += proceeds
                trades.append({**q, "exit_bar": t, "exit_price": fill, "reason": why, "proceeds": proceeds})
                del pos[k]
        for k in range(coins):
            if not math.isnan(c[k, t]):
                last_close[k] = c[k, t]
    for k, q in sorted(pos.items()):
        fill = c[k, last_valid[k]] * (1 - p.slippage)
        trades.append({**q, "exit_bar": bars - 1, "exit_price": fill, "reason": "end",
                       "proceeds": q["qty"] * fill * (1 - p.fee)})
    return sorted(trades, key=lambda r: (r["entry_bar"], -(priority[r["coin"], r["entry_bar"] - 1]
                                                           if priority is not None else 0), r["coin"])), skipped
