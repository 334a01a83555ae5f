"""The scan engine: fetch what a scanner needs concurrently, score each coin, store the run.

Per-coin failures are stored on the run and do not fail the scan; a ban or a failed universe
request fails it (status `failed`, with the error).
"""
from __future__ import annotations

import asyncio
import logging
import time

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.utils import timezone

from marketdata.archive import latest_open_times, store_closed_klines, sync_coins
from marketdata.binance_spot import SymbolInfo, ms_to_dt
from marketdata.errors import HostBannedError, MarketDataError
from marketdata.models import Coin
from marketdata.session import MarketDataSession

from .models import ScanResult, ScanRun
from .rsi import RSI_HISTORY_CANDLES, RsiResult, score_rsi

log = logging.getLogger(__name__)


class UnknownSymbolsError(ValueError):
    def __init__(self, symbols: list[str]):
        super().__init__(f"unknown symbols: {', '.join(symbols)}")
        self.symbols = symbols


def _select(infos: list[SymbolInfo], symbols: list[str] | None) -> list[SymbolInfo]:
    """The USDT trading universe, or exactly the symbols asked for (which must exist)."""
    if symbols:
        by_symbol = {i.symbol: i for i in infos}
        unknown = [s for s in symbols if s not in by_symbol]
        if unknown:
            raise UnknownSymbolsError(unknown)
        return [by_symbol[s] for s in symbols]
    universe = [i for i in infos if i.quote_asset == settings.SCAN_QUOTE_ASSET and i.status == "TRADING" and i.spot_trading]
    return universe[: settings.SCAN_MAX_COINS] if settings.SCAN_MAX_COINS else universe


def _save_result(run: ScanRun, coin: Coin, res: RsiResult, interval: str) -> ScanResult:
    return ScanResult.objects.create(
        run=run, coin=coin, scanner="rsi", score=res.score, scores={"rsi": res.rsi, "technical": res.score},
        signal=res.signal or "", direction=res.direction or "", reasons=res.reasons, missing=res.missing,
        inputs={"closes": {"source": f"binance_spot klines {interval}", "candles": res.candles_used,
                           "as_of": res.candle_close_time.isoformat() if res.candle_close_time else None}},
        data_as_of=res.candle_close_time)


async def _rsi_scan(run: ScanRun, symbols: list[str] | None) -> None:
    interval, period = settings.RSI_TIMEFRAME, settings.RSI_PERIOD
    async with MarketDataSession() as md:
        try:
            universe = _select(await md.spot.exchange_info(), symbols)
            coins = await sync_to_async(sync_coins)(universe, universe=False)
            latest = await sync_to_async(latest_open_times)(interval)
            run.universe_size = len(coins)
            sem = asyncio.Semaphore(settings.PARALLEL_MAX_CONCURRENT)

            async def one(coin: Coin) -> None:
                async with sem:
                    try:
                        klines = await md.spot.latest_klines(coin.symbol, interval, RSI_HISTORY_CANDLES)
                    except HostBannedError:
                        raise
                    except MarketDataError as exc:
                        run.errors.append({"symbol": coin.symbol, "error": str(exc)})
                        return
                now_ms = int(time.time() * 1000)
                closed = [k for k in klines if k.is_closed(now_ms)]
                res = score_rsi(coin.symbol, [k.close for k in closed],
                                ms_to_dt(closed[-1].close_time + 1) if closed else None, period=period,
                                oversold=settings.RSI_OVERSOLD_THRESHOLD, overbought=settings.RSI_OVERBOUGHT_THRESHOLD)
                await sync_to_async(store_closed_klines)(coin, interval, closed, now_ms, latest.get(coin.id))
                await sync_to_async(_save_result)(run, coin, res, interval)
                if res.rsi is not None:
                    run.scored += 1

            await asyncio.gather(*(one(c) for c in coins.values()))
        except HostBannedError as exc:
            run.status = ScanRun.FAILED
            run.errors.append({"symbol": "*", "error": str(exc)})
        finally:
            run.requests = md.request_stats()
            run.simulated = md.simulated


def run_scan(scanner: str, symbols: list[str] | None = None) -> ScanRun:
    """Run one scanner over the universe (or `symbols`) and store the ScanRun with its results."""
    if scanner != "rsi":
        raise ValueError(f"unknown scanner {scanner!r}")
    run = ScanRun.objects.create(scanner=scanner, parameters={"symbols": symbols or [], "timeframe": settings.RSI_TIMEFRAME})
    try:
        # async_to_sync runs thread-sensitive DB calls back on this thread and its connection.
        async_to_sync(_rsi_scan)(run, symbols)
    except UnknownSymbolsError:
        run.delete()
        raise
    except MarketDataError as exc:
        run.status = ScanRun.FAILED
        run.errors.append({"symbol": "*", "error": str(exc)})
    if run.status == ScanRun.RUNNING:
        run.status = ScanRun.PARTIAL if run.errors else ScanRun.COMPLETED
    run.finished_at = timezone.now()
    run.save()
    log.info("scan %s #%s: %s, %s/%s coins scored, %s errors", scanner, run.pk, run.status, run.scored,
             run.universe_size, len(run.errors))
    return run
