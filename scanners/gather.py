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

Stage C overlaps stage B (docs/performance.md, "The shortlist, streamed"). A perpetual is judged
as soon as all its stage A–B inputs are in — every bulk request answered (or failed), its klines
and its open-interest snapshot — from the same snapshot and rule as the end-of-fetch choice
(`choose_shortlist`), and a coin that qualifies gets its capped calls at once, while the calls
streamed so far stay within STREAM_SHARE of the budget (in whole coins of CAPPED_CALLS_PER_COIN).
The qualifiers past that share are ranked when the fetch ends, most promising first (young
listings, then the highest score), for what is left of the budget. So a budget that does not bind
picks exactly the coins the end-of-fetch choice would; one that binds spends its first half on
early qualifiers in arrival order and the rest on the best of the others. `Gathered.shortlist`
lists every coin that got capped calls, ranked; `Gathered.streamed` those sent during the fetch.
Young listings cannot be judged before their klines: the listing time is the earlier of the
perpetual's onboarding and the first spot candle, so a recent onboarding does not make a coin
young (its spot market may be older), and a coin whose klines failed is not shortlisted.

The concurrency bound (`_Slots`, PARALLEL_MAX_CONCURRENT at once) hands a freed slot to the most
urgent waiting request: a qualifier's capped calls first, then the klines and open-interest
snapshots of perpetuals (alternately, so coins complete all through the fetch), and the klines of
coins without a perpetual last — no capped call waits for those, so the fetch does not end on a
qualifier whose capped calls still have a round trip to go. A bulk answer is applied to the coins
as soon as it is parsed, before the SmartCache's L2 write (`_bulk`): that write is a sync call on
the thread the archive's candle writes hold, and waiting for it delayed the perpetuals (and so
every open-interest request and every judgement) by seconds in a cold scan.
"""
from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import count

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
STREAM_SHARE = 0.5  # of the shortlist's budget, what may be spent on coins as they qualify during the fetch
ARCHIVE_BATCH = 20_000  # candle rows per archive write: few commits, and writes overlap the fetching


@dataclass
class Gathered:
    coins: dict[str, CoinData]
    universe: list[SymbolInfo]
    new_metrics: list[tuple[int, str, int, float, str]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    candle_rows: list[tuple] = field(default_factory=list)  # closed candles waiting to be archived
    flushing: bool = False
    room: asyncio.Event | None = field(default=None, repr=False, compare=False)  # set when a flush makes room
    failed: set[str] = field(default_factory=set)  # coins whose candles could not be had
    shortlist: list[str] = field(default_factory=list)  # every coin that got capped calls, most promising first
    streamed: list[str] = field(default_factory=list)  # those whose calls were sent during the fetch, in order
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
            # Woken when the flush takes the buffer or ends; not polled (polling every 10 ms, the
            # coins waiting here woke ~10,000 times in a cold scan of 990 coins).
            if self.room is None:
                self.room = asyncio.Event()
            await self.room.wait()

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
                self._made_room()
                await sync_to_async(write_candle_rows)(rows)
        finally:
            self.flushing = False
            self._made_room()

    def _made_room(self) -> None:
        if self.room is not None:
            self.room.set()
            self.room = None

    def fail(self, symbol: str, exc: Exception, what: str) -> None:
        self.errors.append({"symbol": symbol, "error": f"{what}: {exc}"})


# Candles kept between scans in this process (cache level 1 for indicator inputs), per spot URL
# and symbol. A process without them (a new worker) fetches the last 500 hours instead: the same
# one request per coin as a warm scan, so the archive is never read back on the live path.
_candle_book: dict[tuple[str, str], list[tuple[int, float, float, float]]] = {}


def forget_candles() -> None:
    _candle_book.clear()


async def _bulk(key: str, fetch, apply, *, ttl: float, max_stale: float, level: str = "L1") -> None:
    """A bulk request through the SmartCache, its value applied to the coins (`apply(value,
    fetched_at)`) as soon as it is had: a value fetched from the service before the cache stores it
    (the L2 write is a thread-sensitive sync call, which waits while the archive writes candles on
    that thread — seconds in a cold scan), a cached one when the cache answers. Applied once: a
    background refresh after a stale answer only refreshes the cache."""
    state = {"applied": False, "answered": False}

    async def fetch_then_apply():
        value = await fetch()
        if not state["answered"]:
            state["applied"] = True
            apply(value, time.time())
        return value
    cached = await smart_cache.get(key, fetch_then_apply, ttl=ttl, max_stale=max_stale, level=level)
    state["answered"] = True
    if not state["applied"]:
        apply(cached.value, cached.fetched_at)


async def _perpetuals(md: MarketDataSession, g: Gathered, known: asyncio.Event) -> None:
    def apply(perps, fetched_at: float) -> None:
        by_base = {p.base_asset: p for p in perps if p.quote_asset == "USDT" and p.status == "TRADING"}
        for info in g.universe:
            cd = g.coins[info.symbol]
            perp = by_base.get(info.base_asset)
            cd.has_perpetual = perp is not None and perp.symbol == info.symbol
            if cd.has_perpetual and perp.onboard_date is not None:
                # Listing time: the earlier of the first spot candle and the perpetual's onboarding.
                cd.listed_at_ms = min(cd.listed_at_ms or perp.onboard_date, perp.onboard_date)
        known.set()
    await _bulk(f"fut-info:{md.futures.http.base_url}", md.futures.perpetuals, apply,
                ttl=settings.CACHE_L2_TTL, max_stale=3600, level="L2")


async def _funding(md: MarketDataSession, g: Gathered, perps_known: asyncio.Event, applied: asyncio.Event) -> None:
    ttl = settings.CACHE_L1_TTL
    premium = await smart_cache.get(f"premium:{md.futures.http.base_url}", md.futures.premium_index_all,
                                    ttl=ttl, max_stale=max(ttl, settings.CACHE_L2_TTL))
    await perps_known.wait()
    for p in premium.value:
        cd = g.coins.get(p.symbol)
        if cd and cd.has_perpetual:
            g.metric(cd, "funding_pct", p.time, p.funding_pct, "binance_futures")
    g.data_times["funding"] = _iso(premium.fetched_at)
    applied.set()


async def _social(md: MarketDataSession, g: Gathered, applied: asyncio.Event) -> None:
    def apply(page, fetched_at: float) -> None:
        at = int(fetched_at * 1000)
        g.ranked_count = page.total_rows or len(page.coins)
        by_symbol = {c.symbol: c for c in page.coins}
        for info in g.universe:
            sc, cd = by_symbol.get(info.base_asset), g.coins[info.symbol]
            if sc is None:
                continue
            for name in ("galaxy_score", "galaxy_score_previous", "alt_rank", "alt_rank_previous", "sentiment",
                         "social_volume_24h"):
                g.metric(cd, name, at, sc.values.get(name), "lunarcrush")
            g.metric(cd, "alt_rank_count", at, float(g.ranked_count), "lunarcrush")  # N of the AltRank percentile
        g.data_times["social"] = _iso(fetched_at)
        applied.set()
    await _bulk(f"lunarcrush:{md.lunarcrush.http.base_url}", md.lunarcrush.all_coins, apply,
                ttl=settings.CACHE_L2_TTL, max_stale=3 * 3600, level="L2")


async def _coingecko(md: MarketDataSession, g: Gathered, applied: asyncio.Event) -> None:
    pages = max(1, len(g.universe) // 250 + 1)  # markets by cap: the traded coins sit in the first pages

    async def fetch_all():
        results = await asyncio.gather(*(md.coingecko.markets(page=p) for p in range(1, pages + 1)))
        return [m for page in results for m in page]

    def apply(markets, fetched_at: float) -> None:
        at = int(fetched_at * 1000)
        by_symbol: dict = {}
        for m in markets:  # ordered by market cap: the first coin of a ticker is the one traded
            by_symbol.setdefault(m.symbol, m)
        for info in g.universe:
            m, cd = by_symbol.get(info.base_asset), g.coins[info.symbol]
            if m is not None:
                g.metric(cd, "fdv", at, m.fully_diluted_valuation, "coingecko")
                g.metric(cd, "circulating_share_pct", at, m.circulating_share_pct, "coingecko")
        g.data_times["coingecko"] = _iso(fetched_at)
        applied.set()
    await _bulk(f"coingecko:{md.coingecko.http.base_url}:{pages}", fetch_all, apply,
                ttl=settings.CACHE_L2_TTL, max_stale=6 * 3600, level="L2")


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


def _rank(cd: CoinData, as_of: datetime) -> tuple[bool, float, str] | None:
    """(young, best score, symbol) of a perpetual worth the capped calls (sorting these in reverse
    puts the most promising first), or None."""
    snap = build_snapshot(cd, as_of)
    sm, vol = score_smart_money(snap), score_volume_spike(snap)
    young = snap.age_hours is not None and snap.age_hours < 168
    best = max(sm.accumulation or 0, sm.distribution or 0, vol.score or 0)
    return (young, best, cd.symbol) if young or best >= SHORTLIST_SCORE else None


def choose_shortlist(g: Gathered, budget: int) -> list[str]:
    """Perpetuals worth the capped calls, most promising first, within `budget` calls, chosen from
    every coin's data at g.as_of (what the streamed choice in `gather` reproduces when the budget
    does not bind)."""
    ranked = [r for symbol, cd in g.coins.items()
              if cd.has_perpetual and symbol not in g.failed and (r := _rank(cd, g.as_of)) is not None]
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


class _Slots:
    """The scan's concurrency bound: at most `limit` requests (a coin's capped calls count as one)
    in flight, like asyncio.Semaphore, except that a freed slot goes to the longest-waiting request
    of the most urgent lane: CAPPED, then PERP_KLINES and OI taking turns, then OTHER_KLINES."""

    CAPPED, PERP_KLINES, OI, OTHER_KLINES = range(4)

    def __init__(self, limit: int):
        self.free = limit
        self.lanes: list[deque] = [deque() for _ in range(4)]  # of (sequence, future, CoinData or None)
        self.seq = count()
        self.oi_turn = False
        self.banned = False  # a request met a ban: no capped call is streamed or begun after it

    async def run(self, coro, lane: int, cd: CoinData | None = None, then=None):
        """Run `coro` in a slot and return its result, then `then()` (not after an exception)."""
        if self.free:
            self.free -= 1
        else:
            fut = asyncio.get_running_loop().create_future()
            self.lanes[lane].append((next(self.seq), fut, cd))
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self._release()  # handed the slot as we were cancelled: pass it on
                coro.close()
                raise
        try:
            result = await coro
        except HostBannedError:
            self.banned = True
            raise
        finally:
            self._release()
        if then is not None:
            then()
        return result

    def _next(self):
        lanes = self.lanes
        if lanes[self.CAPPED]:
            return lanes[self.CAPPED].popleft()
        klines, oi = lanes[self.PERP_KLINES], lanes[self.OI]
        if klines and oi:
            self.oi_turn = not self.oi_turn
            return (oi if self.oi_turn else klines).popleft()
        for lane in (klines, oi, lanes[self.OTHER_KLINES]):
            if lane:
                return lane.popleft()
        return None

    def _release(self) -> None:
        while (entry := self._next()) is not None:
            if not entry[1].done():  # else its waiter was cancelled
                entry[1].set_result(None)
                return
        self.free += 1

    def regroup(self) -> None:
        """The perpetuals are known: waiting klines move to their coin's lane, in their order."""
        waiting = sorted([*self.lanes[self.PERP_KLINES], *self.lanes[self.OTHER_KLINES]], key=lambda e: e[0])
        self.lanes[self.PERP_KLINES] = deque(e for e in waiting if e[2].has_perpetual)
        self.lanes[self.OTHER_KLINES] = deque(e for e in waiting if not e[2].has_perpetual)


class _Shortlister:
    """Stage C streamed over stage B (the module's docstring): judges each perpetual once its stage
    A–B inputs are in, sends a qualifier's capped calls while within the streaming share, and ranks
    the other qualifiers for what is left when the fetch ends."""

    def __init__(self, md: MarketDataSession, g: Gathered, needs: set[str], slots: _Slots, now_ms: int,
                 budget: int):
        self.md, self.g, self.slots, self.now_ms = md, g, slots, now_ms
        self.per_coin_inputs = ("klines" in needs, "oi" in needs)
        self.coins = max(0, budget // CAPPED_CALLS_PER_COIN)  # the budget, in whole coins
        self.stream_coins = int(self.coins * STREAM_SHARE)
        self.inputs_in: dict[str, int] = {}
        self.bulk_in = False
        self.stopped = False
        self.ranks: dict[str, tuple[bool, float, str]] = {}  # every qualifier
        self.sent: list[str] = []
        self.calls: list[asyncio.Future] = []

    def _complete(self, cd: CoinData) -> bool:
        klines, oi = self.per_coin_inputs
        return self.inputs_in.get(cd.symbol, 0) == klines + (oi and cd.has_perpetual)

    def arrived(self, cd: CoinData) -> None:
        """One of the coin's per-coin inputs (klines, open-interest snapshot) is in, or failed."""
        self.inputs_in[cd.symbol] = self.inputs_in.get(cd.symbol, 0) + 1
        if self.bulk_in and cd.has_perpetual and self._complete(cd):
            self._judge(cd)

    def bulk_arrived(self, banned: bool) -> None:
        """Every bulk request is answered (or failed): judge the coins already complete."""
        self.bulk_in, self.stopped = True, self.stopped or banned
        for cd in self.g.coins.values():
            if cd.has_perpetual and self._complete(cd):
                self._judge(cd)

    def _judge(self, cd: CoinData) -> None:
        if self.stopped or self.slots.banned or cd.symbol in self.g.failed:
            return
        rank = _rank(cd, datetime.now(timezone.utc))
        if rank is None:
            return
        self.ranks[cd.symbol] = rank
        if len(self.sent) < self.stream_coins:
            self.g.streamed.append(cd.symbol)
            self._send(cd)

    def _send(self, cd: CoinData) -> None:
        self.sent.append(cd.symbol)
        self.calls.append(asyncio.ensure_future(self.slots.run(self._call(cd), _Slots.CAPPED)))

    async def _call(self, cd: CoinData) -> bool:
        """A coin's capped calls, unless a ban came while they waited for a slot (False: not sent)."""
        if self.slots.banned:
            return False
        try:
            self.md.futures.http.governor.check_not_banned()
        except HostBannedError:
            return False
        await _capped(self.md, self.g, cd, self.now_ms)
        return True

    def send_the_rest(self, left_now: int) -> list[str]:
        """The fetch has ended: the best qualifiers not yet sent, for what is left of the budget."""
        room = min(self.coins - len(self.sent), max(0, left_now) // CAPPED_CALLS_PER_COIN)
        sent = set(self.sent)
        rest = sorted((r for s, r in self.ranks.items() if s not in sent), reverse=True)[: max(0, room)]
        for _, _, symbol in rest:
            self._send(self.g.coins[symbol])
        return [s for _, _, s in rest]

    async def settle(self) -> BaseException | None:
        """Wait for every capped call sent; the shortlist, ranked; the first failure (a ban first)."""
        outcomes = await asyncio.gather(*self.calls, return_exceptions=True)
        called = [s for s, outcome in zip(self.sent, outcomes) if outcome is not False]  # False: a ban came first
        self.g.shortlist = sorted(called, key=self.ranks.__getitem__, reverse=True)
        return _first_failure(outcomes)


def _first_failure(outcomes) -> BaseException | None:
    return next((o for o in outcomes if isinstance(o, HostBannedError)), None) or \
        next((o for o in outcomes if isinstance(o, BaseException)), None)


def _futures_data_left(md: MarketDataSession) -> int:
    bucket = md.futures.http.governor.buckets["futures_data"]
    bucket.roll(time.time())
    return (bucket.budget or 0) - bucket.used


async def gather(md: MarketDataSession, g: Gathered, needs: set[str], *, bulk: bool = True,
                 per_coin: bool = True, shortlist_budget: int | None = None) -> None:
    """Run stages A–C for the coins in `g`, filling each CoinData.

    A chunked scan (scanners.chunks) splits this: its coordinator runs stage A alone (`per_coin=False`)
    once for the whole universe, and each chunk runs stages B–C (`bulk=False`) on its coins with the
    bulk data already in their CoinData and its share of the capped calls (`shortlist_budget`).

    Stage seconds: `bulk_and_per_coin` (or `bulk`) until every stage A–B request is answered (the
    capped calls streamed meanwhile ride in it), `choose_shortlist` ranking the qualifiers left for
    the rest of the budget, `shortlist` the capped calls still in flight or sent after the fetch."""
    now_ms = int(time.time() * 1000)
    clock = time.monotonic()

    def lap(stage: str) -> None:
        nonlocal clock
        g.stage_seconds[stage] = round(time.monotonic() - clock, 3)
        clock = time.monotonic()

    slots = _Slots(settings.PARALLEL_MAX_CONCURRENT)
    short = None
    if per_coin and "shortlist" in needs:
        budget = _futures_data_left(md)
        if shortlist_budget is not None:  # a chunk's share of the scan's capped calls
            budget = min(budget, shortlist_budget)
        short = _Shortlister(md, g, needs, slots, now_ms, budget)
    arrived = short.arrived if short is not None else None

    # Stages A and B overlap: the bulk requests, every coin's klines and (once the perpetuals are
    # known) every open-interest snapshot are all in flight together, under one concurrency bound;
    # stage C joins them coin by coin (_Shortlister) once every bulk answer is applied.
    jobs = []
    applied: list[asyncio.Event] = []  # one per bulk request: its data are in the coins (or it failed)

    def bulk_job(coro, what: str, event: asyncio.Event | None = None):
        event = event or asyncio.Event()
        applied.append(event)

        async def job():
            try:
                await _guarded(g, coro(event), what)
            except HostBannedError:
                slots.banned = True
                raise
            finally:
                event.set()
        jobs.append(job())
    perps_known = asyncio.Event()
    perps_pending = bulk and bool(needs & {"funding", "oi"})
    if perps_pending:
        bulk_job(lambda e: _perpetuals(md, g, e), "futures exchangeInfo", perps_known)
        if "funding" in needs:
            bulk_job(lambda e: _funding(md, g, perps_known, e), "premiumIndex")
    else:
        perps_known.set()
    if bulk and "social" in needs:
        bulk_job(lambda e: _social(md, g, e), "LunarCrush coins list")
    if bulk and "coingecko" in needs:
        bulk_job(lambda e: _coingecko(md, g, e), "CoinGecko markets")

    async def bulk_applied() -> None:
        if perps_pending:
            await perps_known.wait()
            slots.regroup()  # klines waiting move behind the perpetuals' requests
        for event in applied:
            await event.wait()
        short.bulk_arrived(banned=slots.banned)
    if short is not None:
        jobs.append(bulk_applied())

    def klines_lane(cd: CoinData) -> int:
        # Until the perpetuals are known every coin may be one (regrouped then); without a shortlist, one lane.
        if short is None or not perps_known.is_set() or cd.has_perpetual:
            return _Slots.PERP_KLINES
        return _Slots.OTHER_KLINES
    if per_coin and "klines" in needs:
        jobs += [slots.run(_klines(md, g, cd, now_ms), klines_lane(cd), cd, arrived and (lambda cd=cd: arrived(cd)))
                 for cd in g.coins.values()]

    async def open_interest_snapshots() -> None:
        await perps_known.wait()
        failure = _first_failure(await asyncio.gather(
            *(slots.run(_open_interest(md, g, cd), _Slots.OI, cd, arrived and (lambda cd=cd: arrived(cd)))
              for cd in g.coins.values() if cd.has_perpetual), return_exceptions=True))
        if failure is not None:
            raise failure
    if per_coin and "oi" in needs:
        jobs.append(open_interest_snapshots())
    # Every job runs to its end before a failure is raised: after a ban the rest fail at once
    # without sending (the governor refuses), and none is left running on a closed session.
    failure = _first_failure(await asyncio.gather(*jobs, return_exceptions=True))
    if failure is not None:
        if short is not None:
            short.stopped = True
            failure = _first_failure([failure, await short.settle()])
        raise failure
    lap("bulk_and_per_coin" if per_coin else "bulk")
    if short is not None:
        short.send_the_rest(_futures_data_left(md))
        lap("choose_shortlist")
        failure = await short.settle()
        if failure is not None:
            raise failure
        lap("shortlist")
    await g.flush_candles()
    lap("archive")
    await smart_cache.drain()
    # Score as of the end of the fetch: every point fetched was measured by then.
    g.as_of = datetime.now(timezone.utc)
