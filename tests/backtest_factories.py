"""Hand-made hourly candles in the database, for the backtester's tests."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np

from marketdata.models import Candle, Coin

HOUR = timedelta(hours=1)
START = datetime(2026, 9, 1, tzinfo=timezone.utc)


def add_candles(symbol: str, first_open: datetime, bars) -> Coin:
    """`bars`: (open, high, low, close) per hour from `first_open`."""
    coin, _ = Coin.objects.get_or_create(symbol=symbol, defaults={"base_asset": symbol.removesuffix("USDT"),
                                                                  "quote_asset": "USDT"})
    Candle.objects.bulk_create([
        Candle(coin=coin, interval="1h", open_time=first_open + i * HOUR, close_time=first_open + (i + 1) * HOUR,
               open=o, high=h, low=l, close=c, volume=1000, quote_volume=1000 * c, trades=100,
               taker_buy_base_volume=500, taker_buy_quote_volume=500 * c)
        for i, (o, h, l, c) in enumerate(bars)])
    return coin


def random_walk(seed: int, hours: int, vol: float = 0.02, price: float = 100.0) -> list[tuple]:
    rng = np.random.default_rng(seed)
    close = price * np.exp(np.cumsum(rng.normal(0, vol, hours)))
    open_ = np.concatenate([[price], close[:-1]]) * np.exp(rng.normal(0, vol / 4, hours))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, vol / 2, hours)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, vol / 2, hours)))
    return [tuple(float(x) for x in row) for row in zip(open_, high, low, close)]


def strategy(**overrides) -> dict:
    s = {"scanners": ["rsi"], "entry_rules": {"min_unified_score": 70, "min_confirmations": 0},
         "exit_rules": {"take_profit": 5, "stop_loss": 3, "time_limit_hours": 48},
         "position_size": 1000, "initial_capital": 10_000, "fees": 0.1, "slippage": 0.05,
         "start": START.isoformat(), "end": (START + timedelta(days=10)).isoformat(), "coins": ["AAAUSDT"]}
    s.update(overrides)
    return s
