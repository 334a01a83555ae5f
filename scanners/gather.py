"""Stage by stage, the data one scan needs, fetched at the rate limits' floor.

The request plan (docs/performance.md has the counts):
  A. bulk, a handful of requests for the whole universe: spot and futures exchangeInfo, the
     futures premium index (funding of every perpetual), LunarCrush's coin list, CoinGecko's
     markets — the slow-changing ones through the SmartCache (scanners.bulk: started beside the
     request that learns the universe, which none of them needs);
  B. one request per coin: the klines it lacks (cold: the last 500 hours; warm: the hours since
     the last scan) and, per perpetual, an open-interest snapshot (archived by us, so the 24h
     change needs no capped call once we have a day of snapshots);
  C. the capped `/futures/data` endpoints (1,000 calls per 5 minutes) only for a shortlist chosen
     from stages A–B: listings under 7 days, and coins whose smart-money or volume-spike scores
     already stand out.
Every request goes through the governed, pooled clients, and takes a slot of one concurrency bound
(`Slots`, PARALLEL_MAX_CONCURRENT); failures are recorded per coin.

Stage C overlaps stage B: scanners.shortlist says how (and docs/performance.md, "The shortlist,
streamed"). A bulk answer is applied to the coins as soon as it is parsed, before the SmartCache's
L2 write (scanners.bulk): that write is a sync call on the thread the archive's candle writes hold,
and waiting for it delayed the perpetuals (and so every open-interest request and every judgement)
by seconds in a cold scan.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from django.conf import settings
from django.db import DatabaseError

from asgiref.sync import sync_to_async

from marketdata.archive import column_rows, write_candle_rows
from marketdata.archive_process import ArchiveWriteError, CandleWriter
from marketdata.binance_spot import KlineColumns, SymbolInfo
from marketdata.cache import smart_cache
from marketdata.errors import HostBannedError, MarketDataError
from marketdata.session import MarketDataSession

from . import bulk as stage_a
from .bulk import BulkAnswers
from .rsi import RSI_HISTORY_CANDLES
from .shortlist import Shortlister, Slots, first_failure, futures_data_left
from .coindata import HOUR_MS, CoinData
from .pipeline import StreamScorer

COLD_CANDLES = RSI_HISTORY_CANDLES  # also covers the 8 days the volume spike needs
KEEP_CANDLES = COLD_CANDLES + 10  # per coin in memory between scans: RSI's 500 and a few hours' margin
ARCHIVE_BATCH = 20_000  # candle rows per archive write: few commits, and writes overlap the fetching
# The writer process's batch: smaller, because what it has not written when the fetch ends is waited
# for before the results are stored (the coins are scored during the fetch, so nothing else runs
# then). In runs alternated under the benchmark lock that wait was 0.04 s at 495 coins and
# 0.12–0.15 s at 990 with 20,000-row batches (the batch in progress and the last partial one), and
# 0.005–0.03 s with 5,000, at no more CPU in the writer (docs/performance.md).
WRITER_BATCH = 5_000

log = logging.getLogger(__name__)


@dataclass
class Gathered:
    coins: dict[str, CoinData]
    universe: list[SymbolInfo]
    new_metrics: list[tuple[int, str, int, float, str]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    candle_rows: list[tuple] = field(default_factory=list)  # closed candles waiting to be archived
    flusher: asyncio.Future | None = field(default=None, repr=False, compare=False)  # the archive's writes under way
    room: asyncio.Event | None = field(default=None, repr=False, compare=False)  # set when a flush makes room
    failed: set[str] = field(default_factory=set)  # coins whose candles could not be had
    shortlist: list[str] = field(default_factory=list)  # every coin that got capped calls, most promising first
    streamed: list[str] = field(default_factory=list)  # those whose calls were sent during the fetch, in order
    # How a writer process reaches the database (marketdata.archive_process.writer_config), where one may be used
    writer_config: dict | None = field(default=None, repr=False, compare=False)
    writer: CandleWriter | None = field(default=None, repr=False, compare=False)  # this fetch's, if started
    writer_starting: asyncio.Future | None = field(default=None, repr=False, compare=False)
    archived_by_process: int = 0  # candle rows the writer process archived
    metrics_archived: bool = False  # new_metrics handed to the writer process (stored once it is done)
    metrics_sent: int = 0  # how many of new_metrics, from the first, the writer process has been handed
    metric_points_archived_by_process: int = 0
    spot_url: str = ""  # whose candles (the candle book's key), set by gather
    ranked_count: int | None = None
    # Scores each coin as its data complete (scanners.pipeline.StreamScorer), if the caller wants that
    scorer: StreamScorer | None = field(default=None, repr=False, compare=False)
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
        if self.flusher is not None and self.flusher.done():
            flusher, self.flusher = self.flusher, None
            flusher.result()  # a failed write fails this coin's job, and with it the fetch
        if len(self.candle_rows) >= ARCHIVE_BATCH and self.flusher is None:
            # In a task of its own: a run of writes may last most of a cold fetch, and the coin whose
            # rows filled the batch would hold its concurrency slot all that time.
            self.flusher = asyncio.ensure_future(self._write_buffered())
        while self.flusher is not None and not self.flusher.done() and len(self.candle_rows) >= 3 * ARCHIVE_BATCH:
            # Woken when the writes take the buffer or end; not polled (polling every 10 ms, the
            # coins waiting here woke ~10,000 times in a cold scan of 990 coins).
            if self.room is None:
                self.room = asyncio.Event()
            await self.room.wait()

    def start_writer(self, cold_coins: int) -> None:
        """Start a writer process for this fetch's candles, if it is cold enough to be worth one and
        one may be used here. It starts while the first klines are fetched; if it cannot (no
        process, no database connection), the scan writes its candles itself."""
        if self.writer_config is not None and cold_coins >= settings.ARCHIVE_WRITER_MIN_COINS:
            self.writer_starting = asyncio.ensure_future(CandleWriter.start(self.writer_config))

    async def _writer_ready(self) -> None:
        """Wait for the writer process being started, if any (every caller waits for the same one)."""
        if self.writer_starting is None:
            return
        try:
            writer = await self.writer_starting
        except (OSError, ArchiveWriteError) as exc:
            if self.writer_starting is not None:
                self.writer_starting = None
                log.warning("%s; the scan writes its candles itself", exc)
            return
        if self.writer_starting is not None:
            self.writer, self.writer_starting = writer, None

    async def archive_klines(self, coin_id: int, interval: str, k: KlineColumns) -> None:
        """Archive a coin's closed candles: through the writer process when there is one."""
        if not len(k):
            return
        await self._writer_ready()
        try:
            sent = self.writer is not None and await self.writer.send(coin_id, interval, k)
        except Exception:
            self.archive_failed()
            raise
        if not sent:
            await self.archive(column_rows(coin_id, interval, k))

    def archive_failed(self) -> None:
        """Some of these coins' candles may not be in the archive: forget what this process keeps of
        them, so that its next scan fetches them cold again (the archive skips those it has) instead
        of only the hours after them, which would leave a hole in the archive."""
        for symbol in self.coins:
            _candle_book.pop((self.spot_url, symbol), None)

    async def flush_candles(self) -> None:
        """Archive every buffered candle: wait for the writes under way (their failure is raised
        here), then write what is left."""
        failure = await self.writes_done()
        if failure is not None:
            raise failure
        await self._write_buffered()

    async def writes_done(self) -> BaseException | None:
        """Wait for the writes running in their own task and in the writer process, if any; the
        first failure, returned."""
        flusher, self.flusher = self.flusher, None
        await self._writer_ready()
        writer, self.writer = self.writer, None
        failure = None
        if flusher is not None:
            try:
                await flusher
            except Exception as exc:  # noqa: BLE001 - handed to the caller, which raises it
                failure = exc
        if writer is not None:
            try:
                self.archived_by_process += await writer.close()
                self.metric_points_archived_by_process += writer.metric_rows
            except Exception as exc:  # noqa: BLE001 - as above
                failure = failure or exc
        if failure is not None:
            self.archive_failed()
        return failure

    async def _write_buffered(self) -> None:
        """The buffered candles, batch by batch. The rows are taken first, so coins fetched meanwhile
        (the write runs on the caller's thread while the loop goes on) start a new buffer. One write
        at a time: queued writes would each hold a batch in memory."""
        try:
            while self.candle_rows:
                rows, self.candle_rows = self.candle_rows, []
                self._made_room()
                await sync_to_async(write_candle_rows)(rows)
        except DatabaseError as exc:
            self.archive_failed()
            raise ArchiveWriteError(f"the candle archive: {exc}") from exc
        except Exception:
            self.archive_failed()
            raise
        finally:
            self._made_room()

    def _made_room(self) -> None:
        if self.room is not None:
            self.room.set()
            self.room = None

    async def send_metrics(self) -> None:
        """Hand the writer process the metric points not handed to it yet, if there is one."""
        await self._writer_ready()
        if self.writer is not None:
            points, self.metrics_sent = self.new_metrics[self.metrics_sent:], len(self.new_metrics)
            await self.writer.send_metrics(points)

    def fail(self, symbol: str, exc: Exception, what: str) -> None:
        self.errors.append({"symbol": symbol, "error": f"{what}: {exc}"})


# Candles kept between scans in this process (cache level 1 for indicator inputs), per spot URL
# and symbol. A process without them (a new worker) fetches the last 500 hours instead: the same
# one request per coin as a warm scan, so the archive is never read back on the live path.
_candle_book: dict[tuple[str, str], list[tuple[int, float, float, float]]] = {}


def forget_candles() -> None:
    _candle_book.clear()


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
    await g.archive_klines(cd.coin_id, "1h", closed)
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


async def gather(md: MarketDataSession, g: Gathered, needs: set[str], *, bulk: bool = True,
                 per_coin: bool = True, shortlist_budget: int | None = None, keep_writer: bool = False,
                 slots: Slots | None = None, answers: BulkAnswers | None = None) -> None:
    """Run stages A–C for the coins in `g`, filling each CoinData.

    A chunked scan (scanners.chunks) splits this: its coordinator runs stage A alone (`per_coin=False`)
    once for the whole universe, and each chunk runs stages B–C (`bulk=False`) on its coins with the
    bulk data already in their CoinData and its share of the capped calls (`shortlist_budget`).

    Stage seconds: `bulk_and_per_coin` (or `bulk`) until every stage A–B request is answered (the
    capped calls streamed meanwhile ride in it), `choose_shortlist` ranking the qualifiers left for
    the rest of the budget, `shortlist` the capped calls still in flight or sent after the fetch.
    With `keep_writer`, a writer process still archiving is left running for the caller, who waits
    for it with `g.writes_done()`. `slots`: the scan's concurrency bound, if its caller has sent
    requests in it already; `answers`: the bulk requests it has started (scanners.bulk)."""
    slots = slots or Slots(settings.PARALLEL_MAX_CONCURRENT)
    answers = answers or BulkAnswers(md, slots)
    try:
        await _gather(md, g, needs, bulk, per_coin, shortlist_budget, keep_writer, slots, answers)
    except BaseException:
        await answers.abandon()  # nothing left running on a failed fetch
        raise


async def _gather(md: MarketDataSession, g: Gathered, needs: set[str], bulk: bool, per_coin: bool,
                  shortlist_budget: int | None, keep_writer: bool, slots: Slots, answers: BulkAnswers) -> None:
    now_ms = int(time.time() * 1000)
    clock = time.monotonic()

    def lap(stage: str) -> None:
        nonlocal clock
        g.stage_seconds[stage] = round(time.monotonic() - clock, 3)
        clock = time.monotonic()

    short = None
    if per_coin and "shortlist" in needs:
        budget = futures_data_left(md)
        if shortlist_budget is not None:  # a chunk's share of the scan's capped calls
            budget = min(budget, shortlist_budget)
        short = Shortlister(md, g, needs, slots, now_ms, budget)
    arrived = short.arrived if short is not None else None

    # Stages A and B overlap: the bulk requests, every coin's klines and (once the perpetuals are
    # known) every open-interest snapshot are all in flight together, under one concurrency bound;
    # stage C joins them coin by coin (Shortlister) once every bulk answer is applied.
    jobs = []
    applied: list[asyncio.Event] = []  # one per bulk request: its data are in the coins (or it failed)

    def bulk_job(coro, what: str, event: asyncio.Event | None = None):
        event = event or asyncio.Event()
        applied.append(event)

        async def job():
            try:
                await stage_a.guarded(g, coro(event), what)
            except HostBannedError:
                slots.banned = True
                raise
            finally:
                event.set()
        jobs.append(job())
    perps_known = asyncio.Event()
    perps_pending = bulk and bool(needs & {"funding", "oi"})
    if perps_pending:
        bulk_job(lambda e: stage_a.perpetuals(answers, g, e), "futures exchangeInfo", perps_known)
        if "funding" in needs:
            bulk_job(lambda e: stage_a.funding(answers, g, perps_known, e), "premiumIndex")
    else:
        perps_known.set()
    if bulk and "social" in needs:
        bulk_job(lambda e: stage_a.social(answers, g, e), "LunarCrush coins list")
    if bulk and "coingecko" in needs:
        bulk_job(lambda e: stage_a.coingecko(answers, g, e), "CoinGecko markets")

    async def bulk_applied() -> None:
        if perps_pending:
            await perps_known.wait()
            slots.regroup()  # klines waiting move behind the perpetuals' requests
        for event in applied:
            await event.wait()
        short.bulk_arrived(banned=slots.banned)
        if keep_writer:
            # Most metric points are the bulk answers' (~8,700 of ~11,000 at 990 coins): handed to the
            # writer now, to write while the fetch goes on (~0.04 s of its time, traced), not at the
            # end of the fetch, when the scan waits for whatever the writer still has to do.
            await g.send_metrics()
    if short is not None:
        jobs.append(bulk_applied())

    def klines_lane(cd: CoinData) -> int:
        # Until the perpetuals are known every coin may be one (regrouped then); without a shortlist, one lane.
        if short is None or not perps_known.is_set() or cd.has_perpetual:
            return Slots.PERP_KLINES
        return Slots.OTHER_KLINES
    if per_coin and "klines" in needs:
        g.spot_url = base = md.spot.http.base_url
        g.start_writer(sum(1 for cd in g.coins.values() if not (_candle_book.get((base, cd.symbol)) or cd.candles)))
        jobs += [slots.run(_klines(md, g, cd, now_ms), klines_lane(cd), cd, arrived and (lambda cd=cd: arrived(cd)))
                 for cd in g.coins.values()]

    async def open_interest_snapshots() -> None:
        await perps_known.wait()
        failure = first_failure(await asyncio.gather(
            *(slots.run(_open_interest(md, g, cd), Slots.OI, cd, arrived and (lambda cd=cd: arrived(cd)))
              for cd in g.coins.values() if cd.has_perpetual), return_exceptions=True))
        if failure is not None:
            raise failure
    if per_coin and "oi" in needs:
        jobs.append(open_interest_snapshots())
    # Every job runs to its end before a failure is raised: after a ban the rest fail at once
    # without sending (the governor refuses), and none is left running on a closed session.
    failure = first_failure(await asyncio.gather(*jobs, return_exceptions=True))
    if failure is not None:
        if short is not None:
            short.stopped = True
            failure = first_failure([failure, await short.settle()])
        raise first_failure([failure, await g.writes_done()])  # nothing left running on a failed fetch
    lap("bulk_and_per_coin" if per_coin else "bulk")
    if short is not None:
        short.send_the_rest(futures_data_left(md))
        lap("choose_shortlist")
        failure = await short.settle()
        if failure is not None:
            raise first_failure([failure, await g.writes_done()])
        lap("shortlist")
    if keep_writer and g.writer is not None:
        # The caller scores while the writer process archives what it still has, then waits for it
        # (`writes_done`); the scan's own buffer holds only what the writer could not take. The
        # metric points go to the writer too (~10,000 at 990 coins: ~0.06 s of the serial tail).
        await g._write_buffered()
        await g.send_metrics()
        g.metrics_archived = True
        # The end of its input: it writes its last, partial, batch now, while the caller scores what
        # the fetch left unscored, rather than only once the caller waits for it (`writes_done`).
        g.writer.end_input()
    else:
        await g.flush_candles()
    lap("archive")
    await answers.finish()
    await smart_cache.drain()
    # Score as of the end of the fetch: every point fetched was measured by then.
    g.as_of = datetime.now(timezone.utc)
