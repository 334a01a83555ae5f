"""Rebuilding CoinData from the archive, for the look-ahead check and the backtester."""
from __future__ import annotations

from datetime import datetime, timedelta

from marketdata.models import Candle, Coin, MetricPoint

from .coindata import CoinData, utc_ms

WARMUP = timedelta(hours=600)  # RSI's 500 candles and the 8 days of volume, with margin


def load_history(start: datetime, end: datetime, symbols: list[str] | None = None,
                 limit: int | None = None) -> dict[str, CoinData]:
    """Every archived candle and metric point of the coins from `start - WARMUP` to `end`."""
    coins = Coin.objects.filter(symbol__in=symbols) if symbols else Coin.objects.filter(active=True)
    coins = list(coins.order_by("symbol")[:limit] if limit else coins.order_by("symbol"))
    out = {c.symbol: CoinData(c.symbol, c.id, utc_ms(c.listed_at) if c.listed_at else None, c.has_perpetual)
           for c in coins}
    by_id = {cd.coin_id: cd for cd in out.values()}
    rows = (Candle.objects.filter(coin_id__in=by_id, interval="1h", open_time__gte=start - WARMUP, open_time__lt=end)
            .order_by("coin_id", "open_time")
            .values_list("coin_id", "open_time", "close", "quote_volume", "taker_buy_quote_volume"))
    for coin_id, open_time, close, qv, tbq in rows.iterator(chunk_size=20_000):
        by_id[coin_id].candles.append((utc_ms(open_time), close, qv, tbq))
    points = (MetricPoint.objects.filter(coin_id__in=by_id, at__gte=start - timedelta(days=2), at__lte=end)
              .order_by("coin_id", "metric", "at").values_list("coin_id", "metric", "at", "value"))
    for coin_id, metric, at, value in points.iterator(chunk_size=20_000):
        by_id[coin_id].metrics.setdefault(metric, []).append((utc_ms(at), value))
    return out
