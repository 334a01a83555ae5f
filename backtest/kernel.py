"""The trade-simulation kernel: numpy over a (coins × bars) grid of candles and an entry mask.

Rules (docs/users.md, "Backtests", says the same to users):
- `entries[c, t]` means "the strategy wants coin c at the close of bar t"; the trade opens at the
  open of bar t + 1, long only, one position per coin at a time.
- Fills pay `slippage` on both sides (buy at open × (1 + s), sell at the exit price × (1 − s)) and
  `fee` on both sides (of the notional bought and of the proceeds sold).
- Take-profit and stop-loss are measured from the entry fill. Inside a bar the open comes first: an
  open at or beyond a level fills at the open (a gap through the stop fills worse than the stop, a
  gap through the take-profit better). Otherwise, when the bar's low reaches the stop and its high
  the take-profit, the stop is taken (we cannot know which came first, so assume the worse).
- The time limit N closes the trade at the close of its N-th bar (bar entry + N − 1); a position
  still open at the final bar is closed there at the coin's last close (reason "end").
- Cash: a trade costs its position size, the entry fee included (it buys size ÷ (1 + fee) worth of
  the coin), so 10,000 USDT hold ten 1,000 USDT positions. Entries at one bar are funded in priority
  order (the strongest signal first, ties by coin order); one that does not fit in the cash left is
  skipped and counted. Cash from an exit is available from the next bar's open.

The work is split so that Python never loops per trade: (1) for every possible entry (a signal with
a candle after it) the exit is found by looking ahead from all of them together through windows of
8, 16, 32 … bars, in coin order so that neighbouring candidates read neighbouring memory; (2) a loop over the bars that
have candidates decides, a dozen whole-array steps per bar, which of them the one-position rule and the
cash allow; (3) the mark-to-market equity curve is summed from the bars each trade was held.
`tests/test_backtest_kernel.py` checks it trade for trade against a plain Python loop.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STOP_LOSS, TAKE_PROFIT, TIME_LIMIT, END = 0, 1, 2, 3
EXIT_REASONS = ("stop_loss", "take_profit", "time_limit", "end")
FIXED, EQUITY = "fixed", "equity"
CASH_EPS = 1e-9  # relative slack when comparing cash with a cost, so rounding never decides a trade


@dataclass(frozen=True)
class KernelParams:
    take_profit: float  # fraction of the entry fill, e.g. 0.05
    stop_loss: float  # fraction of the entry fill, 0 < stop_loss < 1
    time_limit: int | None  # bars a trade is held at most; None: until TP, SL or the end of the data
    fee: float = 0.0  # fraction per side
    slippage: float = 0.0  # fraction per side
    initial_cash: float = 10_000.0
    position_size: float = 1_000.0  # cash per trade, fee included: USDT (FIXED) or a fraction of equity (EQUITY)
    sizing: str = FIXED


@dataclass
class KernelResult:
    coin: np.ndarray  # per trade, in entry order (bar, then funding order)
    entry_bar: np.ndarray
    exit_bar: np.ndarray
    entry_price: np.ndarray  # fills, slippage included
    exit_price: np.ndarray
    qty: np.ndarray
    cost: np.ndarray  # cash paid: the position size (notional + entry fee)
    proceeds: np.ndarray  # cash received: exit value − exit fee
    reason: np.ndarray  # index into EXIT_REASONS
    equity: np.ndarray  # (bars,) cash + positions marked at each bar's close
    skipped_for_cash: int  # wanted entries that the cash left could not fund
    candidates: int  # possible entries (signal, next bar has a candle)

    @property
    def pnl(self) -> np.ndarray:
        return self.proceeds - self.cost


def _rows(flat_values: np.ndarray, windows, start: np.ndarray, width: int) -> np.ndarray:
    """values[start + j] for j < width, one row per start (rows running past the array's end repeat its
    last value; the caller masks bars past each coin's end anyway)."""
    last = flat_values.size - width
    rows = np.minimum(start, last)
    out = windows[rows]
    clipped = np.flatnonzero(rows != start)
    if clipped.size:  # only the last coin's final bars
        out[clipped] = flat_values[np.minimum(start[clipped, None] + np.arange(width), flat_values.size - 1)]
    return out


def find_exits(o: np.ndarray, h: np.ndarray, l: np.ndarray, c: np.ndarray, coin: np.ndarray,
               entry_bar: np.ndarray, p: KernelParams, last_valid: np.ndarray):
    """Entry fill, exit bar, exit fill and reason of a trade entered at the open of `entry_bar`, for each
    candidate. All look ahead together through windows of bars (8, then 16, 32, …: most trades end in
    the first); a row's first bar that reaches a level (or the time limit) ends it, and only the
    unresolved go on to the next window."""
    n, bars = len(coin), o.shape[1]
    of, hf, lf, cf = o.ravel(), h.ravel(), l.ravel(), c.ravel()
    start = coin.astype(np.int64) * bars + entry_bar
    entry_px = of[start] * (1 + p.slippage)
    exit_bar = np.empty(n, np.int64)
    trigger = np.empty(n)
    reason = np.empty(n, np.int8)
    timeout_k = p.time_limit - 1 if p.time_limit else None
    idx, flat, left = np.arange(n), start, bars - 1 - entry_bar  # left: bars after this one in the data
    sl, tp = entry_px * (1 - p.stop_loss), entry_px * (1 + p.take_profit)
    k0, width = 0, 8
    while idx.size:
        width = min(width, bars)

        def window(values: np.ndarray) -> np.ndarray:
            return _rows(values, np.lib.stride_tricks.sliding_window_view(values, width), flat, width)
        hit = window(lf) <= sl[:, None]
        hit |= window(hf) >= tp[:, None]
        if timeout_k is not None and k0 + width - 1 >= timeout_k:
            j0 = max(0, timeout_k - k0)  # from the time limit on, the first bar with a candle closes it
            cl = window(cf)[:, j0:]
            hit[:, j0:] |= cl == cl
        if int(left.min()) < width:  # some rows run past the end of the data
            hit &= np.arange(width) <= left[:, None]
        first = hit.argmax(axis=1)
        found = hit[np.arange(idx.size), first]
        r = np.flatnonzero(found)
        if r.size:
            ids, fd, dsl_px, dtp_px = idx[r], flat[r] + first[r], sl[r], tp[r]
            dop = of[fd]
            dsl, dtp = lf[fd] <= dsl_px, hf[fd] >= dtp_px
            gap_sl, gap_tp = dop <= dsl_px, dop >= dtp_px
            # The open first (a gap fills there), then the stop before the take-profit, then the time limit.
            trigger[ids] = np.where(gap_sl | gap_tp, dop, np.where(dsl, dsl_px, np.where(dtp, dtp_px, cf[fd])))
            reason[ids] = np.where(gap_sl, STOP_LOSS, np.where(gap_tp, TAKE_PROFIT, np.where(
                dsl, STOP_LOSS, np.where(dtp, TAKE_PROFIT, TIME_LIMIT))))
            exit_bar[ids] = entry_bar[ids] + k0 + first[r]
        ended = ~found & (left < width)
        if ended.any():  # still open at the final bar: closed there at the coin's last close
            ids = idx[ended]
            exit_bar[ids] = bars - 1
            trigger[ids] = cf[coin[ids].astype(np.int64) * bars + last_valid[coin[ids]]]
            reason[ids] = END
            found |= ended
        keep = np.flatnonzero(~found)
        idx, flat, left, sl, tp = idx[keep], flat[keep] + width, left[keep] - width, sl[keep], tp[keep]
        k0 += width
        width *= 2
    return entry_px, exit_bar, trigger * (1 - p.slippage), reason


def _ffill(close: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Each bar without a candle holds the coin's last close (0 before its first)."""
    if valid.all():
        return close
    bars = close.shape[1]
    last = np.where(valid, np.arange(bars), -1)
    np.maximum.accumulate(last, axis=1, out=last)
    return np.where(last >= 0, np.take_along_axis(close, np.maximum(last, 0), axis=1), 0.0)


def simulate(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, entries: np.ndarray,
             p: KernelParams, priority: np.ndarray | None = None) -> KernelResult:
    """Trades and the equity curve of `entries` (coins × bars, True = signal at that bar's close)."""
    coins, bars = open_.shape
    valid = ~np.isnan(open_)
    # Candidates in coin order, then bar order: a signal at bar s with a candle at s + 1 to enter on.
    cand_coin, s = np.nonzero(entries[:, :-1] & valid[:, 1:])
    last_valid = np.where(valid.any(axis=1), bars - 1 - np.argmax(valid[:, ::-1], axis=1), 0)
    entry_px, exit_bar, exit_px, reason = find_exits(open_, high, low, close, cand_coin, s + 1, p, last_valid)
    # The funding loop reads them bar by bar (a stable sort keeps coin order within a bar).
    order = np.argsort(s.astype(np.int16) if bars < 2 ** 15 else s, kind="stable")
    cand_coin, cand_bar, entry_px, exit_bar, exit_px, reason = (
        cand_coin[order], s[order] + 1, entry_px[order], exit_bar[order], exit_px[order], reason[order])
    prio = priority[cand_coin, cand_bar - 1] if priority is not None else None
    closes = _ffill(close, valid)
    taken, notionals, skipped = _fund(cand_coin, cand_bar, entry_px, exit_bar, exit_px, prio, closes, p)

    coin, e, x = cand_coin[taken], cand_bar[taken], exit_bar[taken]
    qty = notionals / entry_px[taken]
    cost = notionals * (1 + p.fee)
    proceeds = qty * exit_px[taken] * (1 - p.fee)
    return KernelResult(coin, e, x, entry_px[taken], exit_px[taken], qty, cost, proceeds, reason[taken],
                        equity_curve(closes, coin, e, x, qty, cost, proceeds, p.initial_cash),
                        skipped, len(cand_coin))


def _fund(cand_coin, cand_bar, entry_px, exit_bar, exit_px, prio, closes, p: KernelParams):
    """Which candidates (in bar order) the one-position rule and the cash allow, and their notionals."""
    n, (coins, bars) = len(cand_coin), closes.shape
    starts = np.searchsorted(cand_bar, np.arange(bars + 1)).tolist()
    # Cash comes back at the exit bar, spendable from the next one: proceeds laid out in exit-bar order.
    by_exit = np.argsort(exit_bar, kind="stable")
    slot = np.empty(n, np.int64)
    slot[by_exit] = np.arange(n)
    exit_starts = np.searchsorted(exit_bar[by_exit], np.arange(bars + 1)).tolist()
    returned = np.zeros(n)
    back_per_notional = exit_px / entry_px * (1 - p.fee)
    next_free = exit_bar + 1
    free_at = np.zeros(coins, np.int64)  # first bar a coin may enter again
    equity_sizing = p.sizing == EQUITY
    held_qty, held_exit = np.zeros(coins), np.full(coins, -1, np.int64)
    cash, released, skipped = float(p.initial_cash), 0, 0
    chosen: list[np.ndarray] = []
    sizes: list[float] = []
    for t in np.flatnonzero(np.diff(starts)).tolist():
        cash += float(returned[exit_starts[released]:exit_starts[t]].sum())
        released = t
        a = starts[t]
        cc = cand_coin[a:starts[t + 1]]
        ids = (free_at[cc] <= t).nonzero()[0]
        if not ids.size:
            continue
        ids += a
        if prio is not None and ids.size > 1:
            ids = ids[np.argsort(-prio[ids], kind="stable")]
        if equity_sizing:
            held = (held_exit >= t).nonzero()[0]  # positions open at the close of t − 1
            unit = p.position_size * (cash + float(held_qty[held] @ closes[held, t - 1]))
        else:
            unit = p.position_size
        notional = unit / (1 + p.fee)
        fits = int((cash + CASH_EPS * unit) // unit) if unit > 0 else 0
        if fits < ids.size:
            skipped += ids.size - fits
            if not fits:
                continue
            ids = ids[:fits]
        cash -= unit * ids.size
        c = cand_coin[ids]
        free_at[c] = next_free[ids]
        returned[slot[ids]] = notional * back_per_notional[ids]
        if equity_sizing:
            held_qty[c], held_exit[c] = notional / entry_px[ids], exit_bar[ids]
        chosen.append(ids)
        sizes.append(notional)
    if not chosen:
        return np.zeros(0, np.int64), np.zeros(0), skipped
    return np.concatenate(chosen), np.repeat(sizes, [len(c) for c in chosen]), skipped


def equity_curve(closes: np.ndarray, coin, entry_bar, exit_bar, qty, cost, proceeds, initial_cash: float) -> np.ndarray:
    """Cash plus every open position at each bar's close (`closes`: coins × bars, gaps filled). A trade
    is held at the closes of bars entry … exit − 1; at its exit bar it is cash."""
    bars = closes.shape[1]
    cash = (initial_cash - np.cumsum(np.bincount(entry_bar, cost, minlength=bars))
            + np.cumsum(np.bincount(exit_bar, proceeds, minlength=bars)))
    held = exit_bar - entry_bar
    total = int(held.sum())
    if not total:
        return cash
    offsets = np.arange(total) - np.repeat(np.cumsum(held) - held, held)
    bar = np.repeat(entry_bar, held) + offsets
    value = np.repeat(qty, held) * closes.ravel()[np.repeat(coin.astype(np.int64) * bars, held) + bar]
    return cash + np.bincount(bar, value, minlength=bars)
