"""The backtester over stored candles: the real RSI scanner point in time, entries at the next open,
exits, strategy validation, and no look-ahead (a backtest over data cut at a day makes the same trades)."""
from datetime import timedelta

import numpy as np
import pytest

from backtest import engine
from backtest.strategy import StrategyError, check_data, parse_strategy
from backtest.tasks import run_backtest
from marketdata.models import Candle
from scanners.rsi import technical_score, wilder_rsi
from tests.backtest_factories import HOUR, START, add_candles, random_walk, strategy

pytestmark = pytest.mark.django_db


def errors_of(data, *, db=False) -> dict:
    with pytest.raises(StrategyError) as exc:
        s = parse_strategy(data)
        if db:
            check_data(s)
    return exc.value.errors


def test_the_first_oversold_close_enters_at_the_next_open_and_exits_at_the_take_profit():
    # 30 calm hours before the range, then a slide: RSI falls with it, and the take-profit is hit later.
    calm = [(100, 100.5, 99.5, 100 + (0.3 if i % 2 else -0.3)) for i in range(60)]
    slide = []
    price = 100.0
    for _ in range(20):
        slide.append((price, price * 1.002, price * 0.985, price * 0.99))
        price *= 0.99
    rebound = [(price, price * 1.5, price * 0.999, price * 1.4)] + [(price * 1.4,) * 4] * 20
    add_candles("AAAUSDT", START - 60 * HOUR, calm + slide + rebound)
    result = engine.run(parse_strategy(strategy(
        end=(START + 40 * HOUR).isoformat(), fees=0, slippage=0,
        exit_rules={"take_profit": 10, "stop_loss": 50, "time_limit_hours": None})))

    closes = [b[3] for b in calm + slide + rebound]
    scores = [technical_score(r) * 10 for r in wilder_rsi(closes)]
    first = next(i for i in range(60, len(closes)) if scores[i] >= 70)  # index in the candle list
    trade = result["trades"][0]
    entry_bar = first + 1
    assert trade["entry_time"] == (START + (entry_bar - 60) * HOUR).isoformat().replace("+00:00", "Z")
    assert trade["entry_price"] == (calm + slide + rebound)[entry_bar][0]
    assert trade["exit_reason"] == "take_profit"
    assert trade["exit_price"] == pytest.approx(trade["entry_price"] * 1.10)
    assert result["metrics"]["total_trades"] == 1 and result["metrics"]["wins"] == 1
    assert result["data"]["evaluations"] > 30 and result["data"]["candles"] == {"AAAUSDT": 40}


def test_fees_slippage_and_cash_reach_the_stored_results():
    for i, symbol in enumerate(["AAAUSDT", "BBBUSDT", "CCCUSDT"]):
        add_candles(symbol, START - 100 * HOUR, random_walk(i, 100 + 24 * 10, vol=0.03))
    s = parse_strategy(strategy(coins=["AAAUSDT", "BBBUSDT", "CCCUSDT"], initial_capital=1500,
                                position_size=1000, entry_rules={"min_unified_score": 55}))
    result = engine.run(s)
    m = result["metrics"]
    assert m["total_trades"] > 0 and m["skipped_for_cash"] > 0
    for t in result["trades"]:
        assert t["cost"] == pytest.approx(1000)  # the position size pays the entry fee
        assert t["quantity"] == pytest.approx(1000 / 1.001 / t["entry_price"])
        assert t["proceeds"] == pytest.approx(t["quantity"] * t["exit_price"] * 0.999, rel=1e-6)
    # Never more than one 1,000 USDT position at a time with 1,500 USDT.
    spans = sorted((t["entry_time"], t["exit_time"]) for t in result["trades"])
    assert all(b[0] >= a[1] for a, b in zip(spans, spans[1:]))
    assert m["final_equity"] == pytest.approx(1500 + sum(t["pnl"] for t in result["trades"]), abs=0.05)
    assert m["wins"] + m["losses"] <= m["total_trades"] and 0 <= m["max_drawdown"] <= 100
    assert len(result["equity_curve"]) == 240


def test_a_backtest_over_data_cut_at_a_day_makes_the_same_trades_up_to_that_day():
    symbols = ["AAAUSDT", "BBBUSDT", "CCCUSDT", "DDDUSDT"]
    for i, symbol in enumerate(symbols):
        add_candles(symbol, START - 120 * HOUR, random_walk(10 + i, 120 + 24 * 10, vol=0.025))
    # Frequent entries and tight exits put trades at every cut; sizing by equity with a cash limit makes
    # every trade depend on all the ones before it.
    params = dict(coins=symbols, position_sizing="percent_of_equity", position_size=40,
                  entry_rules={"min_unified_score": 55}, exit_rules={"take_profit": 1.5, "stop_loss": 1.5,
                                                                     "time_limit_hours": 6})
    full = engine.run(parse_strategy(strategy(**params, end=(START + timedelta(days=10)).isoformat())))
    curve = {p["time"]: p["equity"] for p in full["equity_curve"]}
    whole = parse_strategy(strategy(**params, end=(START + timedelta(days=10)).isoformat()))
    full_entries = engine.entry_signals(whole, symbols, lambda _: None)[0]
    for cut_day in (START + timedelta(days=8, hours=5), START + timedelta(days=5, hours=14)):
        Candle.objects.filter(open_time__gte=cut_day).delete()  # the data as they were then
        cut = engine.run(parse_strategy(strategy(**params, end=cut_day.isoformat())))
        day = cut_day.isoformat().replace("+00:00", "Z")
        before = [t for t in full["trades"] if t["exit_time"] <= day]  # closed by the cut's last close
        assert len(before) >= 20 and [t for t in cut["trades"] if t["exit_reason"] != "end"] == before
        # A trade still open at the cut is the full run's trade, entered the same way.
        key = ("symbol", "entry_time", "entry_price", "quantity")
        open_at_cut = [[t[k] for k in key] for t in full["trades"] if t["entry_time"] < day < t["exit_time"]]
        assert [[t[k] for k in key] for t in cut["trades"] if t["exit_reason"] == "end"] == open_at_cut
        for p in cut["equity_curve"][:-1]:
            assert p["equity"] == pytest.approx(curve[p["time"]])
        # Signal for signal, up to the cut's last close (a signal that peeked at the next candle would differ).
        cut_entries = engine.entry_signals(parse_strategy(strategy(**params, end=day)), symbols, lambda _: None)[0]
        assert cut_entries.sum() > 20
        assert (cut_entries == full_entries[:, :cut_entries.shape[1]]).all()


def test_the_strategy_is_checked_field_by_field():
    assert "scanners" in errors_of(strategy(scanners=["rsi", "astrology"]))
    assert "Unknown scanner(s): astrology" in errors_of(strategy(scanners=["astrology"]))["scanners"][0]
    assert "exit_rules.take_profit" in errors_of(strategy(exit_rules={"take_profit": 0, "stop_loss": 3}))
    assert "exit_rules.stop_loss" in errors_of(strategy(exit_rules={"take_profit": 5, "stop_loss": -1}))
    assert "exit_rules.take_profit" in errors_of(strategy(exit_rules={"take_profit": "lots", "stop_loss": 3}))
    assert errors_of(strategy(end=START.isoformat()))["end"] == ["Must be after start."]
    assert "start" in errors_of(strategy(start="yesterday"))
    assert "entry_rules.min_unified_score" in errors_of(strategy(entry_rules={"min_unified_score": 101}))
    assert "entry_rules.min_confirmations" in errors_of(strategy(entry_rules={"min_unified_score": 50,
                                                                              "min_confirmations": 1.5}))
    assert "position_size" in errors_of(strategy(position_size=0))
    assert "position_size" in errors_of(strategy(position_sizing="percent_of_equity", position_size=150))
    assert "position_sizing" in errors_of(strategy(position_sizing="all-in"))
    assert "fees" in errors_of(strategy(fees=float("nan")))
    assert "coins" in errors_of(strategy(coins=[]))
    assert "Unknown field(s): leverage" in errors_of(strategy(leverage=100))["non_field_errors"][0]
    assert "coins" in errors_of(strategy(coins=[f"C{i}USDT" for i in range(100)],
                                         end=(START + timedelta(days=300)).isoformat()))
    assert errors_of([1, 2]) == {"non_field_errors": ["The strategy must be a JSON object."]}


def test_unknown_coins_and_a_range_without_candles_are_refused():
    add_candles("AAAUSDT", START, random_walk(1, 48))
    assert "Unknown coin(s): NOPEUSDT" in errors_of(strategy(coins=["AAAUSDT", "NOPEUSDT"]), db=True)["coins"][0]
    later = strategy(start=(START + timedelta(days=30)).isoformat(), end=(START + timedelta(days=31)).isoformat())
    assert "No stored hourly candles" in errors_of(later, db=True)["start"][0]
    check_data(parse_strategy(strategy()))  # the range with candles passes


def test_a_smart_money_strategy_runs_whale_and_volume_spike_too():
    s = parse_strategy(strategy(scanners=["smart_money", "mss"]))
    assert s.scanner_functions == ("smart_money", "whale", "volume_spike", "mss")


def test_the_job_stores_results_and_a_second_delivery_does_nothing(django_user_model):
    from backtest.models import BacktestRun

    add_candles("AAAUSDT", START - 100 * HOUR, random_walk(3, 100 + 48, vol=0.03))
    alice = django_user_model.objects.create_user("alice")
    run = BacktestRun.objects.create(owner=alice, strategy=strategy(end=(START + 48 * HOUR).isoformat()))
    assert run_backtest(run.pk)["status"] == "done"
    run.refresh_from_db()
    assert run.status == "done" and run.progress == 100 and run.finished_at >= run.started_at
    assert set(run.results) >= {"metrics", "equity_curve", "trades", "data"}
    assert len(run.results["equity_curve"]) == 48
    assert "skipped" in run_backtest(run.pk)


def test_a_job_whose_data_are_gone_fails_with_the_reason(django_user_model):
    from backtest.models import BacktestRun

    alice = django_user_model.objects.create_user("alice")
    run = BacktestRun.objects.create(owner=alice, strategy=strategy())
    assert run_backtest(run.pk)["status"] == "failed"
    run.refresh_from_db()
    assert run.status == "failed" and "Unknown coin(s): AAAUSDT" in run.error and run.results is None


def test_the_equity_curve_keeps_at_most_a_thousand_points_and_the_last_bar():
    points = engine.equity_points(START, np.arange(5000, dtype=float))
    assert len(points) == 1000 and points[-1]["equity"] == 4999 and points[0]["equity"] == 0
