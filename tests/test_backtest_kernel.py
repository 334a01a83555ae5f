"""The trade-simulation kernel on hand-made candles, and trade for trade against a plain Python loop."""

import numpy as np
import pytest

from backtest.kernel import EQUITY, EXIT_REASONS, FIXED, KernelParams, simulate
from backtest.metrics import metrics
from backtest.reference import reference

NAN = float("nan")


def grid(*coins):
    """Each coin a list of (open, high, low, close) bars, or None for a bar without a candle."""
    arr = np.array([[b if b is not None else (NAN,) * 4 for b in bars] for bars in coins], dtype=float)
    return arr[..., 0], arr[..., 1], arr[..., 2], arr[..., 3]


def run(coins, signal_bars, **kw):
    o, h, l, c = grid(*coins)
    entries = np.zeros(o.shape, bool)
    for coin, bar in signal_bars:
        entries[coin, bar] = True
    params = dict(take_profit=0.10, stop_loss=0.05, time_limit=None, fee=0.0, slippage=0.0,
                  initial_cash=10_000.0, position_size=1_000.0)
    params.update(kw)
    return simulate(o, h, l, c, entries, KernelParams(**params))


FLAT = (100, 101, 99, 100)


def test_take_profit_inside_a_bar_fills_at_the_level():
    r = run([[FLAT, (100, 104, 98, 103), (103, 112, 102, 108), FLAT]], [(0, 0)])
    assert list(r.entry_bar) == [1] and list(r.exit_bar) == [2]
    assert EXIT_REASONS[r.reason[0]] == "take_profit"
    assert r.entry_price[0] == 100 and r.exit_price[0] == pytest.approx(110)
    assert r.pnl[0] == pytest.approx(100)  # 10 units × 10


def test_stop_loss_inside_a_bar_fills_at_the_level():
    r = run([[FLAT, (100, 103, 97, 98), (98, 99, 94, 95), FLAT]], [(0, 0)])
    assert EXIT_REASONS[r.reason[0]] == "stop_loss" and r.exit_bar[0] == 2
    assert r.exit_price[0] == pytest.approx(95) and r.pnl[0] == pytest.approx(-50)


def test_when_one_bar_touches_both_the_stop_is_taken():
    r = run([[FLAT, (100, 101, 99, 100), (100, 115, 90, 105), FLAT]], [(0, 0)])
    assert EXIT_REASONS[r.reason[0]] == "stop_loss" and r.exit_price[0] == pytest.approx(95)


def test_a_gap_through_the_stop_fills_at_the_open_worse_than_the_stop():
    r = run([[FLAT, (100, 101, 99, 100), (90, 92, 88, 91), FLAT]], [(0, 0)])
    assert EXIT_REASONS[r.reason[0]] == "stop_loss" and r.exit_price[0] == 90 < 95
    assert r.pnl[0] == pytest.approx(-100)


def test_a_gap_through_the_take_profit_fills_at_the_open():
    r = run([[FLAT, (100, 101, 99, 100), (120, 121, 80, 100), FLAT]], [(0, 0)])
    assert EXIT_REASONS[r.reason[0]] == "take_profit" and r.exit_price[0] == 120


def test_the_entry_bar_itself_can_stop_out():
    r = run([[FLAT, (100, 101, 94, 96), FLAT]], [(0, 0)])
    assert r.entry_bar[0] == r.exit_bar[0] == 1 and EXIT_REASONS[r.reason[0]] == "stop_loss"


def test_the_time_limit_closes_at_the_close_of_the_nth_bar_held():
    r = run([[FLAT, FLAT, (100, 102, 98, 101), (101, 102, 100, 102), FLAT]], [(0, 0)], time_limit=3)
    assert list(r.exit_bar) == [3] and EXIT_REASONS[r.reason[0]] == "time_limit" and r.exit_price[0] == 102


def test_a_position_open_when_the_data_end_closes_at_the_last_close():
    r = run([[FLAT, FLAT, (100, 102, 98, 101), None]], [(0, 0)])
    assert list(r.exit_bar) == [3] and EXIT_REASONS[r.reason[0]] == "end" and r.exit_price[0] == 101


def test_fees_and_slippage_are_paid_on_both_sides():
    r = run([[FLAT, (100, 104, 98, 103), (103, 112, 102, 108), FLAT]], [(0, 0)], fee=0.001, slippage=0.002)
    entry = 100 * 1.002
    assert r.entry_price[0] == pytest.approx(entry)
    assert r.exit_price[0] == pytest.approx(entry * 1.10 * 0.998)
    qty = 1000 / 1.001 / entry  # the 1,000 USDT pay the entry fee too
    assert r.qty[0] == pytest.approx(qty) and r.cost[0] == pytest.approx(1000)
    assert r.proceeds[0] == pytest.approx(qty * entry * 1.10 * 0.998 * 0.999)
    assert r.equity[-1] == pytest.approx(10_000 + r.pnl[0])


def test_a_round_trip_at_one_price_loses_exactly_the_fees():
    r = run([[FLAT, FLAT, FLAT, FLAT]], [(0, 0)], fee=0.001, time_limit=1)
    assert r.pnl[0] == pytest.approx(1000 * 0.999 / 1.001 - 1000)  # both fees, nothing else
    assert metrics(r, days=1, initial_cash=10_000)["losses"] == 1


def test_never_more_is_spent_than_the_cash_there_is():
    coins = [[FLAT, FLAT, FLAT, FLAT] for _ in range(5)]
    r = run(coins, [(i, 0) for i in range(5)], initial_cash=2_500.0, position_size=1_000.0)
    assert list(r.coin) == [0, 1] and r.skipped_for_cash == 3
    assert r.equity.min() >= 0 and r.cost.sum() <= 2_500


def test_the_strongest_signal_is_funded_first():
    o, h, l, c = grid(*[[FLAT, FLAT, FLAT] for _ in range(3)])
    entries = np.zeros(o.shape, bool)
    entries[:, 0] = True
    priority = np.array([[50.0] * 3, [90.0] * 3, [70.0] * 3])
    r = simulate(o, h, l, c, entries, KernelParams(0.1, 0.05, None, initial_cash=1_500, position_size=1_000),
                 priority)
    assert list(r.coin) == [1] and r.skipped_for_cash == 2


def test_cash_from_an_exit_is_spent_from_the_next_bar():
    coins = [[FLAT, (100, 101, 90, 95), FLAT, FLAT], [FLAT, FLAT, FLAT, FLAT]]
    # Coin 0 stops out in bar 1; coin 1's signals at bars 0 and 1 wait for that cash.
    r = run(coins, [(0, 0), (1, 0), (1, 1)], initial_cash=1_000.0, position_size=900.0)
    assert [(int(c), int(e)) for c, e in zip(r.coin, r.entry_bar)] == [(0, 1), (1, 2)]
    assert r.skipped_for_cash == 1


def test_one_position_per_coin_at_a_time():
    r = run([[FLAT, FLAT, FLAT, FLAT, FLAT]], [(0, 0), (0, 1), (0, 2), (0, 3)], time_limit=2)
    assert [(int(e), int(x)) for e, x in zip(r.entry_bar, r.exit_bar)] == [(1, 2), (3, 4)]


def test_equity_sizing_uses_the_equity_marked_at_the_last_close():
    coins = [[FLAT, (100, 120, 100, 120), (120, 121, 119, 120), FLAT], [FLAT, FLAT, FLAT, FLAT]]
    r = run(coins, [(0, 0), (1, 1)], sizing=EQUITY, position_size=0.4, take_profit=1.0, stop_loss=0.5)
    # coin 0: 40 units bought at 100 with 4,000; marked at 120 → equity 10,800 → coin 1 gets 4,320.
    assert r.cost[0] == pytest.approx(4_000) and r.cost[1] == pytest.approx(4_320)


def test_the_equity_curve_marks_open_positions_at_each_close():
    r = run([[FLAT, (100, 104, 98, 103), (103, 106, 101, 104), (104, 105, 103, 104)]], [(0, 0)])
    assert list(r.equity) == pytest.approx([10_000, 10_030, 10_040, 10_040])


def test_no_signal_no_trade_and_a_flat_equity_curve():
    r = run([[FLAT, FLAT, FLAT], [None, None, None]], [])
    assert len(r.coin) == 0 and r.candidates == 0 and list(r.equity) == [10_000] * 3
    assert metrics(r, days=1, initial_cash=10_000)["sharpe_ratio"] is None


def test_a_signal_on_the_last_bar_or_before_a_missing_candle_opens_nothing():
    r = run([[FLAT, None, FLAT, FLAT]], [(0, 0), (0, 3)])
    assert len(r.coin) == 0 and r.candidates == 0


# --- against a plain Python loop (backtest/reference.py) ---

def random_case(rng):
    coins, bars = int(rng.integers(1, 7)), int(rng.integers(2, 60))
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.03, (coins, bars)), axis=1))
    open_ = close * np.exp(rng.normal(0, 0.02, (coins, bars)))  # gaps between bars
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.02, (coins, bars))))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.02, (coins, bars))))
    holes = rng.random((coins, bars)) < 0.05  # coins without a candle in some hours
    holes[:, :int(rng.integers(0, 3))] |= rng.random() < 0.3  # late listings
    for a in (open_, high, low, close):
        a[holes] = np.nan
    entries = rng.random((coins, bars)) < rng.uniform(0.05, 0.6)
    sizing = FIXED if rng.random() < 0.5 else EQUITY
    p = KernelParams(take_profit=float(rng.uniform(0.01, 0.15)), stop_loss=float(rng.uniform(0.01, 0.15)),
                     time_limit=None if rng.random() < 0.3 else int(rng.integers(1, 12)),
                     fee=float(rng.choice([0, 0.001, 0.01])), slippage=float(rng.choice([0, 0.0005, 0.005])),
                     initial_cash=float(rng.uniform(500, 5_000)),
                     position_size=float(rng.uniform(100, 2_000)) if sizing == FIXED else float(rng.uniform(0.05, 0.6)),
                     sizing=sizing)
    priority = rng.integers(0, 4, (coins, bars)).astype(float) if rng.random() < 0.5 else None
    return open_, high, low, close, entries, p, priority


@pytest.mark.parametrize("seed", range(400))
def test_the_kernel_makes_the_same_trades_as_a_plain_loop(seed):
    rng = np.random.default_rng(seed)
    o, h, l, c, entries, p, priority = random_case(rng)
    got = simulate(o, h, l, c, entries, p, priority)
    want, skipped = reference(o, h, l, c, entries, p, priority)
    assert len(got.coin) == len(want)
    for i, w in enumerate(want):
        assert (int(got.coin[i]), int(got.entry_bar[i]), int(got.exit_bar[i]), EXIT_REASONS[got.reason[i]]) == \
            (w["coin"], w["entry_bar"], w["exit_bar"], w["reason"]), f"trade {i}"
        assert got.entry_price[i] == pytest.approx(w["entry_price"], rel=1e-12)
        assert got.exit_price[i] == pytest.approx(w["exit_price"], rel=1e-12)
        assert got.qty[i] == pytest.approx(w["qty"], rel=1e-9)
        assert got.proceeds[i] == pytest.approx(w["proceeds"], rel=1e-9)
    assert got.skipped_for_cash == skipped
    final = p.initial_cash + sum(w["proceeds"] - w["cost"] for w in want)
    assert got.equity[-1] == pytest.approx(final, rel=1e-9)


def test_the_random_cases_cover_every_exit_reason_and_cash_skips():
    seen, skipped = set(), 0
    for seed in range(400):
        r = simulate(*random_case(np.random.default_rng(seed))[:5], *random_case(np.random.default_rng(seed))[5:])
        seen |= {EXIT_REASONS[x] for x in r.reason}
        skipped += r.skipped_for_cash
    assert seen == set(EXIT_REASONS) and skipped > 0
