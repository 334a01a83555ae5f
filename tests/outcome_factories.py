"""Hand-built coins, hourly candles, signals and outcomes for the outcome and win-rate tests."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from marketdata.models import Candle, Coin
from performance.models import HORIZONS, SignalOutcome
from signals.models import Signal

T = datetime(2025, 11, 1, 0, 0, tzinfo=timezone.utc)  # the signal's candle closes here
HOUR = timedelta(hours=1)
MS = timedelta(milliseconds=1)


def coin(symbol: str = "AAAUSDT") -> Coin:
    return Coin.objects.get_or_create(symbol=symbol, defaults={"base_asset": symbol[:-4], "quote_asset": "USDT"})[0]


def candle(c: Coin, open_time: datetime, close: float, *, high: float | None = None, low: float | None = None) -> Candle:
    return Candle.objects.create(coin=c, interval="1h", open_time=open_time, close_time=open_time + HOUR - MS,
                                 open=close, high=close if high is None else high, low=close if low is None else low,
                                 close=close, volume=1, quote_volume=1, trades=1, taker_buy_base_volume=0,
                                 taker_buy_quote_volume=0)


def path(c: Coin, closes: list[float], *, start: datetime = T, **kw: Any) -> None:
    """Candles opening at start, start + 1h, … with these closes (the path after the signal's candle)."""
    for i, close in enumerate(closes):
        candle(c, start + i * HOUR, close, **kw)


def signal(c: Coin | None = None, *, direction: str = "LONG", entry: float | None = 100.0, at: datetime = T,
           scanner: str = "mss", kind: str = "gem", tier: int = 2, score: float | None = 80.0, **kw: Any) -> Signal:
    return Signal.objects.create(coin=c or coin(), scanner=scanner, kind=kind, direction=direction, tier=tier,
                                 score=score, entry_price=entry, candle_close_time=at, **kw)


def outcome(s: Signal, horizon: str = "24h", *, result: str = "WIN", pnl: float = 6.0,
            status: str = SignalOutcome.EVALUATED) -> SignalOutcome:
    """An outcome row as the evaluator would leave it (for the analytics tests)."""
    done = status == SignalOutcome.EVALUATED
    return SignalOutcome.objects.create(signal=s, horizon=horizon, due_at=s.candle_close_time + HORIZONS[horizon],
                                        status=status, outcome=result if done else "", pnl_pct=pnl if done else None)
