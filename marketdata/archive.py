"""Writing what the clients fetched into the database archive (Coin, Candle)."""
from __future__ import annotations

from datetime import datetime

from django.db.models import Max
from django.utils import timezone

from .binance_spot import INTERVAL_MS, Kline, SymbolInfo, ms_to_dt
from .models import Candle, Coin


def sync_coins(infos: list[SymbolInfo], *, universe: bool = True) -> dict[str, Coin]:
    """Create coins seen for the first time, refresh their assets; with `universe`, coins that
    left the listing are marked inactive (their history stays)."""
    existing = {c.symbol: c for c in Coin.objects.all()}
    new, changed = [], []
    for info in infos:
        coin = existing.get(info.symbol)
        if coin is None:
            new.append(Coin(symbol=info.symbol, base_asset=info.base_asset, quote_asset=info.quote_asset,
                            has_spot=True, active=info.status == "TRADING"))
        elif (coin.base_asset, coin.quote_asset, coin.active) != (info.base_asset, info.quote_asset, info.status == "TRADING"):
            coin.base_asset, coin.quote_asset, coin.active = info.base_asset, info.quote_asset, info.status == "TRADING"
            changed.append(coin)
    Coin.objects.bulk_create(new, ignore_conflicts=True)
    if changed:
        Coin.objects.bulk_update(changed, ["base_asset", "quote_asset", "active"])
    if universe:
        seen = {i.symbol for i in infos}
        Coin.objects.filter(active=True, quote_asset__in={i.quote_asset for i in infos}).exclude(symbol__in=seen).update(active=False)
    return {c.symbol: c for c in Coin.objects.filter(symbol__in=[i.symbol for i in infos])}


def latest_open_times(interval: str) -> dict[int, datetime]:
    """coin id → open time of its newest stored candle, in one query."""
    rows = Candle.objects.filter(interval=interval).values("coin_id").annotate(last=Max("open_time"))
    return {r["coin_id"]: r["last"] for r in rows}


def store_closed_klines(coin: Coin, interval: str, klines: list[Kline], now_ms: int | None = None,
                        after: datetime | None = None) -> int:
    """Bulk-write the closed klines (newer than `after`); an open candle would still change, so it
    is never stored. Returns the number of rows offered to the database."""
    now_ms = now_ms if now_ms is not None else int(timezone.now().timestamp() * 1000)
    rows = [
        Candle(coin=coin, interval=interval, open_time=ms_to_dt(k.open_time), close_time=ms_to_dt(k.close_time),
               open=k.open, high=k.high, low=k.low, close=k.close, volume=k.volume, quote_volume=k.quote_volume,
               trades=k.trades, taker_buy_base_volume=k.taker_buy_base_volume,
               taker_buy_quote_volume=k.taker_buy_quote_volume)
        for k in klines
        if k.is_closed(now_ms) and (after is None or ms_to_dt(k.open_time) > after)
    ]
    Candle.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    return len(rows)


def interval_ms(interval: str) -> int:
    return INTERVAL_MS[interval]
