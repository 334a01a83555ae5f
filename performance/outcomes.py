"""Create each signal's outcome rows and evaluate the due ones from stored hourly candles.

An outcome is measured with the candles *of the horizon time*, never today's price: the exit price is
the close of the candle that closes at `due_at`, and the path for MFE/MAE is every hourly candle between
the signal's candle and `due_at`. A worker that was down therefore catches up with the prices of the time.
Nothing is fetched here: when the candles are not stored, the outcome waits for the grace period and is
then marked unavailable with a note naming what is missing.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable

from django.db.models import QuerySet
from django.utils import timezone

from marketdata.models import Candle, Coin
from signals.models import Signal

from .models import HORIZONS, SignalOutcome

INTERVAL = "1h"
HOUR = timedelta(hours=1)
GRACE = timedelta(hours=2)  # how long after due_at a missing candle may still arrive
BTC = "BTCUSDT"
# A candle starting within this much before the signal's candle close belongs to the path: stored close
# times are either the round hour or Binance's hour − 1 ms, and the next candle opens on the hour.
EDGE = timedelta(seconds=1)
WIN_LONG, LOSS_LONG = 5.0, -3.0  # SCORING.md §8; SHORT mirrors them


def classify(direction: str, pnl_pct: float) -> str:
    """SCORING.md §8: LONG WIN if > +5, LOSS if < −3; SHORT WIN if < −5, LOSS if > +3; else NEUTRAL."""
    pnl = round(pnl_pct, 6)  # 105 / 100 must be exactly +5 (NEUTRAL), not 5.000000000000001
    if direction == "SHORT":
        pnl = -pnl
    if pnl > WIN_LONG:
        return SignalOutcome.WIN
    if pnl < LOSS_LONG:
        return SignalOutcome.LOSS
    return SignalOutcome.NEUTRAL


def pct(new: float, old: float) -> float:
    return round((new - old) / old * 100, 6)


def ensure_outcomes(signals: Iterable[Signal]) -> int:
    """One pending outcome per horizon for each signal (existing ones are kept). Returns rows created."""
    rows = [SignalOutcome(signal=s, horizon=h, due_at=s.candle_close_time + delta)
            for s in signals for h, delta in HORIZONS.items()]
    if not rows:
        return 0
    before = SignalOutcome.objects.filter(signal__in={r.signal.pk for r in rows}).count()
    SignalOutcome.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    return SignalOutcome.objects.filter(signal__in={r.signal.pk for r in rows}).count() - before


def signals_without_outcomes() -> QuerySet[Signal]:
    return Signal.objects.filter(outcomes__isnull=True)


def ensure_all_outcomes(batch: int = 2000) -> int:
    """Pick up every signal that has no outcome rows yet (the outbox writes signals in bulk, so no save hook)."""
    created = 0
    while True:
        chunk = list(signals_without_outcomes().order_by("pk")[:batch])
        if not chunk:
            return created
        created += ensure_outcomes(chunk)


def path_candles(coin_id: int, start: datetime, due_at: datetime) -> list[Candle]:
    """The hourly candles after the signal's candle up to the one that closes at due_at, oldest first."""
    return list(Candle.objects.filter(coin_id=coin_id, interval=INTERVAL, open_time__gte=start - EDGE,
                                      open_time__lt=due_at).order_by("open_time"))


def candle_closing_at(coin_id: int, close: datetime) -> Candle | None:
    """The hourly candle whose close is `close` (it opened in the hour before it)."""
    return (Candle.objects.filter(coin_id=coin_id, interval=INTERVAL, open_time__gte=close - HOUR,
                                  open_time__lt=close).order_by("-open_time").first())


def _hour_ceil(at: datetime) -> datetime:
    floor = at.replace(minute=0, second=0, microsecond=0)
    return floor if floor == at else floor + HOUR


def _missing(symbol: str, candles: list[Candle], start: datetime, due_at: datetime, hours: int) -> str | None:
    """None when the path is complete (one candle per hour, the last closing at due_at), else what is missing."""
    if len(candles) >= hours and candles[-1].open_time >= due_at - HOUR:
        return None
    have = {c.open_time for c in candles}
    first = _hour_ceil(start - EDGE)
    gaps = [t for t in (first + i * HOUR for i in range(hours)) if t not in have] or [due_at - HOUR]
    return (f"{symbol} 1h candles not stored: {len(gaps)} of the {hours} up to the horizon, the first opening "
            f"{gaps[0]:%Y-%m-%d %H:%M} UTC (the horizon candle closes {due_at:%Y-%m-%d %H:%M} UTC).")


def _btc_change(btc: Coin | None, signal: Signal, due_at: datetime) -> tuple[float | None, str]:
    if btc is None:
        return None, f"{BTC} is not a stored coin: no BTC-relative return."
    start = candle_closing_at(btc.pk, signal.candle_close_time)
    end = candle_closing_at(btc.pk, due_at)
    if start is None or end is None:
        which = f"{signal.candle_close_time:%Y-%m-%d %H:%M}" if start is None else f"{due_at:%Y-%m-%d %H:%M}"
        return None, f"{BTC} 1h candle closing {which} UTC is not stored: no BTC-relative return."
    return pct(end.close, start.close), ""


def evaluate(outcome: SignalOutcome, now: datetime, btc: Coin | None) -> str:
    """Measure one due pending outcome and save it. Returns the new status (pending when it must wait)."""
    signal = outcome.signal
    late = now - outcome.due_at > GRACE
    if signal.entry_price is None or signal.entry_price <= 0:
        return _close(outcome, now, SignalOutcome.UNAVAILABLE, note="The signal has no entry price.")
    hours = int(HORIZONS[outcome.horizon] / HOUR)
    candles = path_candles(signal.coin_id, signal.candle_close_time, outcome.due_at)
    missing = _missing(signal.coin.symbol, candles, signal.candle_close_time, outcome.due_at, hours)
    btc_pnl, btc_note = _btc_change(btc, signal, outcome.due_at)
    if missing or (btc_pnl is None and btc is not None and not late):
        if not late:
            return SignalOutcome.PENDING  # the candles may still arrive
        if missing:
            return _close(outcome, now, SignalOutcome.UNAVAILABLE, note=missing)
    entry, exit_price = signal.entry_price, candles[-1].close
    pnl = pct(exit_price, entry)
    high, low = max(c.high for c in candles), min(c.low for c in candles)
    if signal.direction == "SHORT":
        mfe, mae = -pct(low, entry), -pct(high, entry)
    else:
        mfe, mae = pct(high, entry), pct(low, entry)
    return _close(outcome, now, SignalOutcome.EVALUATED, exit_price=exit_price, pnl_pct=pnl,
                  outcome=classify(signal.direction, pnl), mfe_pct=mfe, mae_pct=mae, btc_pnl_pct=btc_pnl,
                  relative_pnl_pct=None if btc_pnl is None else round(pnl - btc_pnl, 6), note=btc_note)


def _close(row: SignalOutcome, now: datetime, status: str, **fields) -> str:
    """Write the result only if the row is still pending (another worker may have got there first)."""
    fields.update(status=status, evaluated_at=now)
    if SignalOutcome.objects.filter(pk=row.pk, status=SignalOutcome.PENDING).update(**fields):
        for name, value in fields.items():
            setattr(row, name, value)
    return status


def evaluate_due(now: datetime | None = None, limit: int = 5000) -> dict[str, int]:
    """Evaluate the pending outcomes whose due_at has passed, oldest first. Re-running changes nothing:
    evaluated and unavailable rows are never touched again."""
    now = now or timezone.now()
    btc = Coin.objects.filter(symbol=BTC).first()
    counts = {SignalOutcome.EVALUATED: 0, SignalOutcome.UNAVAILABLE: 0, SignalOutcome.PENDING: 0}
    due = (SignalOutcome.objects.filter(status=SignalOutcome.PENDING, due_at__lte=now)
           .select_related("signal", "signal__coin").order_by("due_at", "pk")[:limit])
    for outcome in due:
        counts[evaluate(outcome, now, btc)] += 1
    return counts
