"""Load history into the archive (`manage.py backfill`): candles for the universe (`--days`) and,
for perpetuals, the futures metrics Binance keeps for 30 days only (`--metrics-days`)."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings

from .archive import latest_open_times, store_closed_klines, store_metrics, sync_coins
from .binance_futures import FUTURES_DATA_BUCKET, SERIES, SERVICE as FUTURES, RatioPoint, _list, _obj
from .binance_spot import INTERVAL_MS, SymbolInfo, _int, _num, ms_to_dt
from .errors import HostBannedError, MarketDataError
from .models import Coin, MetricPoint
from .session import MarketDataSession

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000
MAX_METRICS_DAYS = 30  # Binance serves open interest and the long/short ratios for 30 days only
SERIES_PAGE = 500  # rows per /futures/data request (the endpoint's maximum)
# The metric names of the live scan (scanners/gather.py), so replayed snapshots read them alike.
METRICS = ("funding_pct", "open_interest", "top_position_ratio", "futures_taker_buy_vol", "futures_taker_sell_vol")
SOCIAL_HISTORY_NOTE = ("Social metrics are not backfilled: LunarCrush has no history endpoint (APIS.md lists only "
                       "the current coins list), so scores replayed over this history lack social inputs "
                       "(missing, not 0).")


@dataclass
class MetricsReport:
    days: float
    coins: int = 0  # perpetuals whose metrics were fetched
    spot_only: int = 0  # coins without a perpetual: nothing to fetch
    points: int = 0  # points fetched and offered to the archive
    new_points: int = 0  # of which were not stored yet
    by_metric: dict[str, int] = field(default_factory=lambda: {m: 0 for m in METRICS})
    social: str = SOCIAL_HISTORY_NOTE


@dataclass
class BackfillReport:
    coins: int = 0
    candles: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    requests: dict = field(default_factory=dict)
    seconds: float = 0.0
    simulated: bool = False
    metrics: MetricsReport | None = None

    def error(self, symbol: str, message: str) -> None:
        self.errors[symbol] = f"{self.errors[symbol]}; {message}" if symbol in self.errors else message


async def _candles(md: MarketDataSession, coins: dict[str, Coin], days: float, interval: str,
                   report: BackfillReport) -> None:
    latest = await sync_to_async(latest_open_times)(interval)
    now_ms = int(time.time() * 1000)
    start_ms = now_ms - int(days * 86_400_000)
    step = INTERVAL_MS[interval]
    sem = asyncio.Semaphore(settings.PARALLEL_MAX_CONCURRENT)

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
                report.error(coin.symbol, str(exc))
                return
        stored = await sync_to_async(store_closed_klines)(coin, interval, klines, now_ms, last)
        report.candles += stored  # not `+= await ...`: that would read the total before the await

    await asyncio.gather(*(one(c) for c in coins.values()))


async def _series_page(md: MarketDataSession, endpoint: str, symbol: str, start_ms: int, end_ms: int
                       ) -> list[RatioPoint]:
    """One 1h page of a `/futures/data` series between two times. `BinanceFutures.series` asks for
    the newest rows only; history needs startTime/endTime. Same bucket, weight and parsing."""
    value_field, extras = SERIES[endpoint]

    def parse(body: Any) -> list[RatioPoint]:
        rows = (_obj(x, f"{endpoint} row") for x in _list(body, endpoint))
        return sorted((RatioPoint(_int(r.get("timestamp"), "timestamp", FUTURES),
                                  _num(r.get(value_field), value_field, FUTURES),
                                  {k: _num(r.get(k), k, FUTURES) for k in extras if k in r}) for r in rows),
                      key=lambda p: p.timestamp)
    params = {"symbol": symbol, "period": "1h", "startTime": start_ms, "endTime": end_ms, "limit": SERIES_PAGE}
    return await md.futures.http.get_json(f"/futures/data/{endpoint}", params, weight=0, parse=parse,
                                          bucket=FUTURES_DATA_BUCKET)


def _windows(start_ms: int, end_ms: int) -> list[tuple[int, int]]:
    """Hour-grid pages of at most SERIES_PAGE rows covering [start_ms, end_ms]."""
    first = -(-start_ms // HOUR_MS) * HOUR_MS
    return [(t, min(end_ms, t + (SERIES_PAGE - 1) * HOUR_MS))
            for t in range(first, end_ms + 1, SERIES_PAGE * HOUR_MS)]


async def _coin_metrics(md: MarketDataSession, coin: Coin, start_ms: int, now_ms: int,
                        sem: asyncio.Semaphore) -> tuple[list[tuple[int, str, int, float, str]], list[str]]:
    """Every metric point of one perpetual since `start_ms`, and the requests that failed."""
    async def bounded(coro):
        async with sem:
            return await coro
    jobs: list[tuple[str, Any]] = [("fundingRate", md.futures.funding_rates(coin.symbol, start_time=start_ms,
                                                                           limit=1000))]
    for endpoint in ("openInterestHist", "topLongShortPositionRatio", "takerlongshortRatio"):
        jobs += [(endpoint, _series_page(md, endpoint, coin.symbol, a, b)) for a, b in _windows(start_ms, now_ms)]
    results = await asyncio.gather(*(bounded(c) for _, c in jobs), return_exceptions=True)
    points, errors = [], []

    def add(metric: str, at_ms: int, value: float | None) -> None:
        if value is not None and start_ms <= at_ms <= now_ms:
            points.append((coin.id, metric, at_ms, value, FUTURES))
    for (what, _), result in zip(jobs, results):
        if isinstance(result, HostBannedError):
            raise result
        if isinstance(result, MarketDataError):
            errors.append(f"{what}: {result}")
            continue
        if isinstance(result, BaseException):
            raise result
        for p in result:
            if what == "fundingRate":
                add("funding_pct", p.funding_time, p.funding_rate * 100)  # percent, as premiumIndex's is stored
            elif what == "openInterestHist":
                add("open_interest", p.timestamp, p.value)  # sumOpenInterest
            elif what == "topLongShortPositionRatio":
                add("top_position_ratio", p.timestamp, p.value)
            else:
                add("futures_taker_buy_vol", p.timestamp, p.extra.get("buyVol"))
                add("futures_taker_sell_vol", p.timestamp, p.extra.get("sellVol"))
    return points, errors


def _remember_perpetuals(coins: dict[str, Coin], perps: dict[str, Any]) -> None:
    """Keep whether each coin has a perpetual, and its listing time as the live scan does: the
    earlier of the first spot candle and the perpetual's onboarding (when the first is known)."""
    changed = []
    for symbol, coin in coins.items():
        perp = perps.get(symbol)
        listed = coin.listed_at
        if perp is not None and perp.onboard_date is not None and listed is not None:
            listed = min(listed, ms_to_dt(perp.onboard_date))
        if coin.has_perpetual != (perp is not None) or listed != coin.listed_at:
            coin.has_perpetual, coin.listed_at = perp is not None, listed
            changed.append(coin)
    Coin.objects.bulk_update(changed, ["has_perpetual", "listed_at"], batch_size=500)


def _count_points(coin_ids: list[int]) -> int:
    return MetricPoint.objects.filter(coin_id__in=coin_ids, metric__in=METRICS).count()


async def _metrics(md: MarketDataSession, coins: dict[str, Coin], universe: list[SymbolInfo], days: float,
                   report: BackfillReport) -> None:
    mr = report.metrics = MetricsReport(days=days)
    # Perpetuals matched to the spot pairs as the live scan does: same base asset, USDT, trading.
    by_base = {p.base_asset: p for p in await md.futures.perpetuals()
               if p.quote_asset == settings.SCAN_QUOTE_ASSET and p.status == "TRADING"}
    perps = {}
    for info in universe:
        perp = by_base.get(info.base_asset)
        if info.symbol in coins and perp is not None and perp.symbol == info.symbol:
            perps[info.symbol] = perp
    await sync_to_async(_remember_perpetuals)(coins, perps)
    mr.coins, mr.spot_only = len(perps), len(coins) - len(perps)
    ids = [coins[s].id for s in perps]
    before = await sync_to_async(_count_points)(ids)
    now_ms = int(time.time() * 1000)
    start_ms = now_ms - int(days * 86_400_000)
    sem = asyncio.Semaphore(settings.PARALLEL_MAX_CONCURRENT)

    async def one(coin: Coin) -> None:
        points, errors = await _coin_metrics(md, coin, start_ms, now_ms, sem)
        for message in errors:
            report.error(coin.symbol, message)
        for _, metric, _, _, _ in points:
            mr.by_metric[metric] += 1
        stored = await sync_to_async(store_metrics)(points)
        mr.points += stored  # not `+= await ...` (see _candles)
    await asyncio.gather(*(one(coins[s]) for s in perps))
    mr.new_points = await sync_to_async(_count_points)(ids) - before


async def _backfill(days: float | None, interval: str, symbols: list[str] | None, report: BackfillReport,
                    metrics_days: float | None = None, limit_coins: int | None = None) -> None:
    services = ("binance_spot", "binance_futures") if metrics_days else ("binance_spot",)
    async with MarketDataSession(services) as md:
        try:
            universe = await md.spot.universe(settings.SCAN_QUOTE_ASSET)
            if symbols:
                wanted = set(symbols)
                universe = [s for s in universe if s.symbol in wanted]
                for unknown in sorted(wanted - {s.symbol for s in universe}):
                    report.errors[unknown] = f"not a trading {settings.SCAN_QUOTE_ASSET} spot pair on the exchange"
            if limit_coins:
                universe = sorted(universe, key=lambda s: s.symbol)[:limit_coins]
            coins = await sync_to_async(sync_coins)(universe, universe=not symbols and not limit_coins)
            report.coins = len(coins)
            if days:
                await _candles(md, coins, days, interval, report)
            if metrics_days:
                await _metrics(md, coins, universe, metrics_days, report)
        except HostBannedError as exc:
            report.errors["*"] = str(exc)
        finally:
            report.requests = md.request_stats()
            report.simulated = md.simulated


def backfill(days: float | None = 90, interval: str = "1h", symbols: list[str] | None = None, *,
             metrics_days: float | None = None, limit_coins: int | None = None) -> BackfillReport:
    """Candles of the last `days` (None: none) and, with `metrics_days` (≤ 30), the futures metrics
    of the perpetuals among the coins; `limit_coins` keeps the first N coins by symbol."""
    if metrics_days is not None and not 0 < metrics_days <= MAX_METRICS_DAYS:
        raise ValueError(f"metrics_days must be in (0, {MAX_METRICS_DAYS}]: Binance keeps these series 30 days")
    report = BackfillReport()
    started = time.monotonic()
    async_to_sync(_backfill)(days, interval, symbols, report, metrics_days, limit_coins)
    report.seconds = round(time.monotonic() - started, 2)
    log.info("backfill: %s coins, %s candles, %s metric points, %s errors in %ss", report.coins, report.candles,
             report.metrics.points if report.metrics else 0, len(report.errors), report.seconds)
    return report
