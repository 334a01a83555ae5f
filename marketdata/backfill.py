"""Load candle history for the universe into the archive (`manage.py backfill`)."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings

from .archive import latest_open_times, store_closed_klines, sync_coins
from .binance_spot import INTERVAL_MS, ms_to_dt
from .errors import HostBannedError, MarketDataError
from .models import Coin
from .session import MarketDataSession

log = logging.getLogger(__name__)


@dataclass
class BackfillReport:
    coins: int = 0
    candles: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    requests: dict = field(default_factory=dict)
    seconds: float = 0.0
    simulated: bool = False


async def _backfill(days: float, interval: str, symbols: list[str] | None, report: BackfillReport) -> None:
    async with MarketDataSession() as md:
        universe = await md.spot.universe(settings.SCAN_QUOTE_ASSET)
        if symbols:
            wanted = set(symbols)
            universe = [s for s in universe if s.symbol in wanted]
            for unknown in sorted(wanted - {s.symbol for s in universe}):
                report.errors[unknown] = f"not a trading {settings.SCAN_QUOTE_ASSET} spot pair on the exchange"
        coins = await sync_to_async(sync_coins)(universe, universe=not symbols)
        latest = await sync_to_async(latest_open_times)(interval)
        now_ms = int(time.time() * 1000)
        start_ms = now_ms - int(days * 86_400_000)
        step = INTERVAL_MS[interval]
        sem = asyncio.Semaphore(settings.PARALLEL_MAX_CONCURRENT)
        report.coins = len(coins)

        async def one(coin: Coin) -> None:
            last = latest.get(coin.id)
            since = max(start_ms, int(last.timestamp() * 1000) + step) if last else start_ms
            async with sem:
                try:
                    if coin.listed_at is None:
                        first = await md.spot.first_candle_time(coin.symbol, interval)
                        if first is not None:
                            coin.listed_at = ms_to_dt(first)
                            await sync_to_async(coin.save)(update_fields=["listed_at"])
                    klines = await md.spot.klines_since(coin.symbol, interval, since)
                except HostBannedError:
                    raise
                except MarketDataError as exc:
                    report.errors[coin.symbol] = str(exc)
                    return
            stored = await sync_to_async(store_closed_klines)(coin, interval, klines, now_ms, last)
            report.candles += stored  # not `+= await ...`: that would read the total before the await

        try:
            await asyncio.gather(*(one(c) for c in coins.values()))
        except HostBannedError as exc:
            report.errors["*"] = str(exc)
        report.requests = md.request_stats()
        report.simulated = md.simulated


def backfill(days: float = 90, interval: str = "1h", symbols: list[str] | None = None) -> BackfillReport:
    report = BackfillReport()
    started = time.monotonic()
    async_to_sync(_backfill)(days, interval, symbols, report)
    report.seconds = round(time.monotonic() - started, 2)
    log.info("backfill: %s coins, %s candles, %s errors in %ss", report.coins, report.candles,
             len(report.errors), report.seconds)
    return report
