"""Stage by stage, the data one scan needs, fetched at the rate limits' floor.

The request plan (docs/performance.md has the counts):
  A. bulk, a handful of requests for the whole universe: spot and futures exchangeInfo, the
     futures premium index (funding of every perpetual), LunarCrush's coin list, CoinGecko's
     markets — the slow-changing ones through the SmartCache;
  B. one request per coin: the klines it lacks (cold: the last 500 hours; warm: the hours since
     the last scan) and, per perpetual, an open-interest snapshot (archived by us, so the 24h
     change needs no capped call once we have a day of snapshots);
  C. the capped `/futures/data` endpoints (1,000 calls per 5 minutes) only for a shortlist chosen
     from stages A–B: listings under 7 days, and coins whose smart-money or volume-spike scores
     already stand out.
Every request goes through the governed, pooled clients; failures are recorded per coin.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from django.conf import settings

from asgiref.sync import sync_to_async

from marketdata.archive import column_rows, write_candle_rows
from marketdata.binance_spot import SymbolInfo
from marketdata.cache import smart_cache
from marketdata.errors import HostBannedError, MarketDataError
from marketdata.session import MarketDataSession

from .rsi import RSI_HISTORY_CANDLES
from .coindata import DAY_MS, HOUR_MS, OI_LOOKBACK_TOLERANCE_MS, CoinData, build_snapshot
from .smart_money import score_smart_money
from .whale import score_volume_spike

COLD_CANDLES = RSI_HISTORY_CANDLES  # also covers the 8 days the volume spike needs
KEEP_CANDLES = COLD_CANDLES + 10  # per coin in memory between scans: RSI's 500 and a few hours' margin
SHORTLIST_SCORE = 5  # accumulation, distribution or volume spike at least this → worth the capped calls
CAPPED_CALLS_PER_COIN = 3
ARCHIVE_BATCH = 20_000  # candle rows per archive write: few commits, and writes overlap the fetching


@dataclass
class Gathered:
    coins: dict[str, CoinData]
    universe: list[SymbolInfo]
    new_metrics: list[tuple[int, str, int, float, str]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    candle_rows: list[tuple] = field(default_factory=list)  # closed candles waiting to be archived
    flushing: bool = False
    failed: set[str] = field(default_factory=set)  # coins whose candles could not be had
    shortlist: list[str] = field(default_factory=list)
    ranked_count: int | None = None
    data_times: dict[str, str] = field(default_factory=dict)  # source -> when its data were measured
    stage_seconds: dict[str, float] = field(default_factory=dict)
    as_of: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def metric(self, cd: CoinData, name: str, at_ms: int, value: float | None, source: str) -> None:
        if value is None or cd.coin_id is None:
            return
        cd.add_metric(name, at_ms, value)
        self.new_metrics.append((cd.coin_id, name, at_ms, value, source))

    async def archive(self, rows: list[tuple]) -> None:
        """Buffer candle rows; write when a batch is full. If the writes fall behind the fetching,
        wait (back-pressure) rather than let the buffer, and the memory, grow without bound."""
        self.candle_rows.extend(rows)
        if len(self.candle_rows) >= ARCHIVE_BATCH and not self.flushing:
            await self.flush_candles()
        while self.flushing and len(self.candle_rows) >= 3 * ARCHIVE_BATCH:
            await asyncio.sleep(0.01)

    async def flush_candles(self) -> None:
        """Archive the buffered candles. The rows are taken first, so coins fetched meanwhile (the
        write runs on the caller's thread while the loop goes on) start a new buffer. One write at a
        time: queued writes would each hold a batch in memory."""
        if self.flushing:
            return
        self.flushing = True
        try:
            while self.candle_rows:
                rows, self.candle_rows = self.candle_rows, []
                await sync_to_async(write_candle_rows)(rows)
        finally:
            self.flushing = False

    def fail(self, symbol: str, exc: Exception, what: str) -> None:
        self.errors.append({"symbol": symbol, "error": f"{what}: {exc}"})


# Candles kept between scans in this process (cache level 1 for indicator inputs), per spot URL
# and symbol. A process without them (a new worker) fetches the last 500 hours instead: the same
# one request per coin as a warm scan, so the archive is never read back on the live path.
_candle_book: dict[tuple[str, str], list[tuple[int, float, float, float]]] = {}


def forget_candles() -> None:
    _candle_book.clear()


async def _perpetuals(md: MarketDataSession, g: Gathered) -> None:
    perps = await smart_cache.get(f"fut-info:{md.futures.http.base_url}", md.futures.perpetuals,
                                  ttl=settings.CACHE_L2_TTL, max_stale=3600, level="L2")
    by_base = {p.base_asset: p for p in perps.value if p.quote_asset == "USDT" and p.status == "TRADING"}
    for info in g.universe:
        cd = g.coins[info.symbol]
        perp = by_base.get(info.base_asset)
        cd.has_perpetual = perp is not None and perp.symbol == info.symbol
        if cd.has_perpetual and perp.onboard_date is not None:
            # Listing time: the earlier of the first spot candle and the perpetual's onboarding.
            cd.listed_at_ms = min(cd.listed_at_ms or perp.onboard_date, perp.onboard_date)


async def _funding(md: MarketDataSession, g: Gathered, perps_known: asyncio.Task) -> None:
    ttl = settings.CACHE_L1_TTL
    premium = await smart_cache.get(f"premium:{md.futures.http.base_url}", md.futures.premium_index_all,
                                    ttl=ttl, max_stale=max(ttl, settings.CACHE_L2_TTL))
    await perps_known
    for p in premium.value:
        cd = g.coins.get(p.symbol)
        if cd and cd.has_perpetual:
            g.metric(cd, "funding_pct", p.time, p.funding_pct, "binance_futures")
    g.data_times["funding"] = _iso(premium.fetched_at)


async def _social(md: MarketDataSession, g: Gathered) -> None:
    page = await smart_cache.get(f"lunarcrush:{md.lunarcrush.http.base_url}", md.lunarcrush.all_coins,
                                 ttl=settings.CACHE_L2_TTL, max_stale=3 * 3600, level="L2")
    at = int(page.fetched_at * 1000)
    g.ranked_count = page.value.total_rows or len(page.value.coins)
    by_symbol = {c.symbol: c for c in page.value.coins}
    for info in g.universe:
        sc, cd = by_symbol.get(info.base_asset), g.coins[info.symbol]
        if sc is None:
            continue
        for name in ("galaxy_score", "galaxy_score_previous", "alt_rank", "alt_rank_previous", "sentiment",
                     "social_volume_24h"):
            g.metric(cd, name, at, sc.values.get(name), "lunarcrush")
        g.metric(cd, "alt_rank_count", at, float(g.ranked_count), "lunarcrush")  # N of the AltRank percentile
    g.data_times["social"] = _iso(page.fetched_at)


async def _coingecko(md: MarketDataSession, g: Gathered) -> None:
    pages = max(1, len(g.universe) // 250 + 1)  # markets by cap: the traded coins sit in the first pages

    async def fetch_all():
        results = await asyncio.gather(*(md.coingecko.markets(page=p) for p in range(1, pages + 1)))
        return [m for page in results for m in page]
    markets = await smart_cache.get(f"coingecko:{md.coingecko.http.base_url}:{pages}", fetch_all,
                                    ttl=settings.CACHE_L2_TTL, max_stale=6 * 3600, level="L2")
    at = int(markets.fetched_at * 1000)
    by_symbol: dict = {}
    for m in markets.value:  # ordered by market cap: the first coin of a ticker is the one traded
        by_symbol.setdefault(m.symbol, m)
    for info in g.universe:
        m, cd = by_symbol.get(info.base_asset), g.coins[info.symbol]
        if m is not None:
            g.metric(cd, "fdv", at, m.fully_diluted_valuation, "coingecko")
            g.metric(cd, "circulating_share_pct", at, m.circulating_share_pct, "coingecko")
    g.data_times["coingecko"] = _iso(markets.fetched_at)


async def _guarded(g: Gathered, coro, what: str) -> None:
    """A bulk request that fails leaves its inputs missing for every coin; a ban stops the scan."""
    try:
        await coro
    except HostBannedError:
        raise
    except MarketDataError as exc:
        g.fail("*", exc, what)


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=timezone.utc).isoformat()


async def _klines(md: MarketDataSession, g: Gathered, cd: CoinData, now_ms: int) -> None:
    key = (md.spot.http.base_url, cd.symbol)
    book = _candle_book.get(key) or cd.candles
    try:
        # As columns (KlineColumns): a cold scan parses, archives and keeps ~500 candles per coin.
        if book:
            fresh = await md.spot.klines_since(cd.symbol, "1h", book[-1][0] + HOUR_MS, columns=True)
        else:
            fresh = await md.spot.latest_klines(cd.symbol, "1h", COLD_CANDLES + 1, columns=True)
    except HostBannedError:
        raise
    except MarketDataError as exc:
        g.failed.add(cd.symbol)
        g.fail(cd.symbol, exc, "klines")
        return
    if not book and len(fresh) and len(fresh) <= COLD_CANDLES:
        # A shorter history than asked for starts at the listing: its first candle is the listing time.
        cd.listed_at_ms = min(cd.listed_at_ms or fresh.open_time[0], fresh.open_time[0])
    closed = fresh.closed(now_ms)
    await g.archive(column_rows(cd.coin_id, "1h", closed))
    new = zip(closed.open_time, closed.close, closed.quote_volume, closed.taker_buy_quote_volume)
    if book:
        last = book[-1][0]
        new = (c for c in new if c[0] > last)
    merged = book + list(new)
    cd.candles = merged[-KEEP_CANDLES:]
    _candle_book[key] = cd.candles


async def _open_interest(md: MarketDataSession, g: Gathered, cd: CoinData) -> None:
    try:
        oi = await md.futures.open_interest(cd.symbol)
        g.metric(cd, "open_interest", oi.time, oi.open_interest, "binance_futures")
    except HostBannedError:
        raise
    except MarketDataError as exc:
        g.fail(cd.symbol, exc, "openInterest")


def choose_shortlist(g: Gathered, budget: int) -> list[str]:
    """Perpetuals worth the capped calls, most promising first, within `budget` calls."""
    ranked = []
    for symbol, cd in g.coins.items():
        if not cd.has_perpetual or symbol in g.failed:
            continue
        snap = build_snapshot(cd, g.as_of)
        sm, vol = score_smart_money(snap), score_volume_spike(snap)
        young = snap.age_hours is not None and snap.age_hours < 168
        best = max(sm.accumulation or 0, sm.distribution or 0, vol.score or 0)
        if young or best >= SHORTLIST_SCORE:
            ranked.append((young, best, symbol))
    ranked.sort(reverse=True)
    return [s for _, _, s in ranked[: max(0, budget // CAPPED_CALLS_PER_COIN)]]


async def _capped(md: MarketDataSession, g: Gathered, cd: CoinData, now_ms: int) -> None:
    """The capped calls of one shortlisted coin, all at once."""
    calls = [md.futures.series("topLongShortPositionRatio", cd.symbol, "1h", 2),
             md.futures.series("takerlongshortRatio", cd.symbol, "1h", 24)]
    need_oi = not cd.value_at("open_interest", now_ms - DAY_MS, OI_LOOKBACK_TOLERANCE_MS)
    if need_oi:  # no snapshot of our own from a day ago yet
        calls.append(md.futures.series("openInterestHist", cd.symbol, "1h", 25))
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, HostBannedError):
            raise result
        if isinstance(result, MarketDataError):
            g.fail(cd.symbol, result, "futures data")
        elif isinstance(result, BaseException):
            raise result
    top, taker = results[0], results[1]
    if not isinstance(top, BaseException):
        for p in top:
            g.metric(cd, "top_position_ratio", p.timestamp, p.value, "binance_futures")
    if not isinstance(taker, BaseException):
        for p in taker:
            g.metric(cd, "futures_taker_buy_vol", p.timestamp, p.extra.get("buyVol"), "binance_futures")
            g.metric(cd, "futures_taker_sell_vol", p.timestamp, p.extra.get("sellVol"), "binance_futures")
    if need_oi and not isinstance(results[2], BaseException):
        for p in results[2]:
            g.metric(cd, "open_interest", p.timestamp, p.value, "binance_futures")


async def gather(md: MarketDataSession, g: Gathered, needs: set[str], *, bulk: bool = True,
                 per_coin: bool = True, shortlist_budget: int | None = None) -> None:
    """Run stages A–C for the coins in `g`, filling each CoinData.

    A chunked scan (scanners.chunks) splits this: its coordinator runs stage A alone (`per_coin=False`)
    once for the whole universe, and each chunk runs stages B–C (`bulk=False`) on its coins with the
    bulk data already in their CoinData and its share of the capped calls (`shortlist_budget`)."""
    now_ms = int(time.time() * 1000)
    clock = time.monotonic()

    def lap(stage: str) -> None:
        nonlocal clock
        g.stage_seconds[stage] = round(time.monotonic() - clock, 3)
        clock = time.monotonic()

    sem = asyncio.Semaphore(settings.PARALLEL_MAX_CONCURRENT)

    async def bounded(coro):
        async with sem:
            await coro

    # Stages A and B overlap: the bulk requests, every coin's klines and (once the perpetuals are
    # known) every open-interest snapshot are all in flight together, under one concurrency bound.
    jobs = []
    perps = None
    if bulk and needs & {"funding", "oi"}:
        perps = asyncio.ensure_future(_guarded(g, _perpetuals(md, g), "futures exchangeInfo"))
        jobs.append(perps)
        if "funding" in needs:
            jobs.append(_guarded(g, _funding(md, g, perps), "premiumIndex"))
    if bulk and "social" in needs:
        jobs.append(_guarded(g, _social(md, g), "LunarCrush coins list"))
    if bulk and "coingecko" in needs:
        jobs.append(_guarded(g, _coingecko(md, g), "CoinGecko markets"))
    if per_coin and "klines" in needs:
        jobs += [bounded(_klines(md, g, cd, now_ms)) for cd in g.coins.values()]

    async def open_interest_snapshots() -> None:
        if perps is not None:
            await perps
        await asyncio.gather(*(bounded(_open_interest(md, g, cd)) for cd in g.coins.values() if cd.has_perpetual))
    if per_coin and "oi" in needs:
        jobs.append(open_interest_snapshots())
    # Every job runs to its end before a failure is raised: after a ban the rest fail at once
    # without sending (the governor refuses), and none is left running on a closed session.
    outcomes = await asyncio.gather(*jobs, return_exceptions=True)
    failure = next((o for o in outcomes if isinstance(o, HostBannedError)), None) or \
        next((o for o in outcomes if isinstance(o, BaseException)), None)
    if failure is not None:
        raise failure
    lap("bulk_and_per_coin" if per_coin else "bulk")
    if per_coin and "shortlist" in needs:
        bucket = md.futures.http.governor.buckets["futures_data"]
        bucket.roll(time.time())
        budget = (bucket.budget or 0) - bucket.used
        if shortlist_budget is not None:  # a chunk's share of the scan's capped calls
            budget = min(budget, shortlist_budget)
        g.as_of = datetime.now(timezone.utc)  # the shortlist reads what stages A-B just fetched
        g.shortlist = choose_shortlist(g, budget)
        lap("choose_shortlist")
        await asyncio.gather(*(bounded(_capped(md, g, g.coins[s], now_ms)) for s in g.shortlist))
        lap("shortlist")
    await g.flush_candles()
    lap("archive")
    await smart_cache.drain()
    # Score as of the end of the fetch: every point fetched was measured by then.
    g.as_of = datetime.now(timezone.utc)
