"""Outcome rows: created for every signal, evaluated from the stored candles of the horizon time."""
from datetime import timedelta

import pytest

from performance.models import SignalOutcome
from performance.outcomes import GRACE, classify, ensure_outcomes, evaluate_due
from performance.tasks import evaluate_outcomes
from signals.models import Signal
from tests.outcome_factories import HOUR, MS, T, candle, coin, path, signal

pytestmark = pytest.mark.django_db
LATER = T + timedelta(days=40)  # long after every horizon: the worker catches up


def row(s: Signal, horizon: str) -> SignalOutcome:
    return SignalOutcome.objects.get(signal=s, horizon=horizon)


def test_every_signal_gets_one_pending_outcome_per_horizon():
    s = signal()
    assert ensure_outcomes([s]) == 5
    assert ensure_outcomes([s]) == 0  # idempotent
    rows = {o.horizon: o for o in s.outcomes.all()}
    assert {h: o.due_at - T for h, o in rows.items()} == {
        "1h": HOUR, "4h": 4 * HOUR, "24h": 24 * HOUR, "7d": timedelta(days=7), "30d": timedelta(days=30)}
    assert {o.status for o in rows.values()} == {"pending"}


@pytest.mark.parametrize("direction, exit_price, expected", [
    ("LONG", 105.0, "NEUTRAL"), ("LONG", 105.01, "WIN"), ("LONG", 97.0, "NEUTRAL"), ("LONG", 96.99, "LOSS"),
    ("LONG", 100.0, "NEUTRAL"),
    ("SHORT", 95.0, "NEUTRAL"), ("SHORT", 94.99, "WIN"), ("SHORT", 103.0, "NEUTRAL"), ("SHORT", 103.01, "LOSS"),
    ("SHORT", 100.0, "NEUTRAL"),
])
def test_win_loss_neutral_at_every_boundary(direction, exit_price, expected):
    c = coin()
    s = signal(c, direction=direction)
    ensure_outcomes([s])
    path(c, [exit_price])
    evaluate_due(T + HOUR)
    o = row(s, "1h")
    assert (o.status, o.outcome, o.exit_price) == ("evaluated", expected, exit_price)
    assert o.pnl_pct == pytest.approx(exit_price - 100.0)


def test_classify_follows_scoring_8():
    assert [classify("LONG", p) for p in (5.000001, 5, -3, -3.000001)] == ["WIN", "NEUTRAL", "NEUTRAL", "LOSS"]
    assert [classify("SHORT", p) for p in (-5.000001, -5, 3, 3.000001)] == ["WIN", "NEUTRAL", "NEUTRAL", "LOSS"]


def test_the_exit_is_the_candle_at_the_horizon_even_when_evaluated_much_later():
    c = coin()
    s = signal(c)
    ensure_outcomes([s])
    path(c, [101, 102, 103, 110])  # the 4h horizon candle closes at 110
    path(c, [200.0] * 30, start=T + 4 * HOUR)  # today's price is far away
    evaluate_due(LATER)
    o = row(s, "4h")
    assert (o.exit_price, o.pnl_pct, o.outcome) == (110, 10, "WIN")
    assert o.mfe_pct == 10 and o.mae_pct == 1  # the later candles are not on the path
    assert row(s, "1h").exit_price == 101
    assert row(s, "24h").exit_price == 200


def test_binance_close_times_one_millisecond_before_the_hour_work_too():
    c = coin()
    s = signal(c, at=T - MS)  # Binance's close_time of the candle opening T − 1h
    ensure_outcomes([s])
    path(c, [101, 102, 103, 104])
    evaluate_due(LATER)
    assert row(s, "4h").exit_price == 104 and row(s, "1h").exit_price == 101


def test_mfe_and_mae_over_the_path_for_long_and_short():
    c = coin()
    long, short = signal(c, direction="LONG"), signal(c, direction="SHORT", scanner="smart_money", kind="distributing")
    ensure_outcomes([long, short])
    candle(c, T, 100, high=112, low=99)
    candle(c, T + HOUR, 100, high=101, low=92)
    candle(c, T + 2 * HOUR, 100, high=104, low=96)
    candle(c, T + 3 * HOUR, 102, high=103, low=101)
    evaluate_due(T + 4 * HOUR)
    lo, sh = row(long, "4h"), row(short, "4h")
    assert (lo.mfe_pct, lo.mae_pct) == (12, -8)  # highest high, lowest low
    assert (sh.mfe_pct, sh.mae_pct) == (8, -12)  # a SHORT gains on the low, loses on the high
    assert lo.pnl_pct == sh.pnl_pct == 2 and (lo.outcome, sh.outcome) == ("NEUTRAL", "NEUTRAL")


def test_the_return_relative_to_btc_uses_the_same_window():
    c, btc = coin(), coin("BTCUSDT")
    s = signal(c)
    ensure_outcomes([s])
    candle(btc, T - HOUR, 50_000)  # BTC's candle closing with the signal's
    path(btc, [50_500, 51_000, 51_500, 52_000])  # +4 % at 4h
    path(btc, [90_000] * 10, start=T + 4 * HOUR)  # later BTC prices are ignored
    path(c, [101, 102, 103, 110])
    evaluate_due(LATER)
    o = row(s, "4h")
    assert o.btc_pnl_pct == pytest.approx(4) and o.relative_pnl_pct == pytest.approx(6)
    assert o.note == ""


def test_a_missing_candle_waits_for_the_grace_period_then_is_unavailable_with_a_note():
    c = coin()
    s = signal(c)
    ensure_outcomes([s])
    path(c, [101, 102])  # the 3rd and 4th hours are not stored
    due = T + 4 * HOUR
    assert evaluate_due(due + GRACE)["pending"] >= 1
    o = row(s, "4h")
    assert (o.status, o.exit_price, o.evaluated_at) == ("pending", None, None)
    evaluate_due(due + GRACE + timedelta(minutes=1))
    o = row(s, "4h")
    assert o.status == "unavailable" and o.outcome == "" and o.exit_price is None
    assert "AAAUSDT 1h candles not stored: 2 of the 4" in o.note and "2025-11-01 02:00 UTC" in o.note
    assert row(s, "1h").status == "evaluated"
    path(c, [103, 104], start=T + 2 * HOUR)  # arriving afterwards changes nothing
    evaluate_due(LATER)
    assert row(s, "4h").status == "unavailable"


def test_an_outcome_not_yet_due_is_left_alone():
    c = coin()
    s = signal(c)
    ensure_outcomes([s])
    path(c, [101])
    evaluate_due(T + HOUR - timedelta(seconds=1))
    assert set(s.outcomes.values_list("status", flat=True)) == {"pending"}


def test_a_signal_without_an_entry_price_is_unavailable():
    c = coin()
    s = signal(c, entry=None)
    ensure_outcomes([s])
    path(c, [101])
    evaluate_due(T + HOUR)
    o = row(s, "1h")
    assert o.status == "unavailable" and "no entry price" in o.note


def test_rerunning_the_evaluation_changes_nothing():
    c, btc = coin(), coin("BTCUSDT")
    s = signal(c)
    ensure_outcomes([s])
    candle(btc, T - HOUR, 100)
    path(btc, [100] * 24)
    path(c, [103] * 24)
    first = evaluate_due(T + 25 * HOUR)
    fields = ["status", "exit_price", "pnl_pct", "outcome", "mfe_pct", "mae_pct", "btc_pnl_pct", "relative_pnl_pct",
              "evaluated_at", "note"]
    before = list(SignalOutcome.objects.order_by("pk").values(*fields))
    second = evaluate_due(T + 26 * HOUR)
    Signal.objects.filter(pk=s.pk).update(entry_price=50)  # even if the inputs changed afterwards
    evaluate_due(LATER)
    assert first["evaluated"] == 3 and second["evaluated"] == 0
    after = list(SignalOutcome.objects.order_by("pk").values(*fields))
    assert after[:3] == before[:3]


def test_the_task_creates_missing_outcomes_and_evaluates_them(settings):
    c = coin()
    s = signal(c)
    path(c, [106])
    result = evaluate_outcomes(T + HOUR)
    assert result["created"] == 5 and result["evaluated"] == 1
    assert row(s, "1h").outcome == "WIN"


def test_the_task_does_nothing_when_auto_outcome_tracking_is_off(settings):
    settings.AUTO_OUTCOME_TRACKING = False
    c = coin()
    signal(c)
    path(c, [106])
    assert "skipped" in evaluate_outcomes(T + HOUR)
    assert SignalOutcome.objects.count() == 0


def test_a_schedule_runs_the_task_every_15_minutes():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(func="performance.tasks.evaluate_outcomes")
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == ("I", 15, -1)
