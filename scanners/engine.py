"""The scan engine: plan, gather (scanners.gather), score (scanners.pipeline), store.

`run_scan("all")` fetches what every scanner needs once and scores them all; a single scanner
fetches only its own needs. Per-coin failures are stored on the run and do not fail the scan; a
ban or a failed universe request fails it (status `failed`, with the error).
"""
from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.utils import timezone

from marketdata.archive import store_metrics, sync_coin_facts, update_listings
from marketdata.archive_process import ArchiveWriteError, writer_config
from marketdata.binance_spot import SymbolInfo
from marketdata.cache import smart_cache
from marketdata.errors import HostBannedError, MarketDataError
from marketdata.models import Coin, MetricPoint
from marketdata.session import MarketDataSession

from .bulk import BulkAnswers
from .coindata import CoinData, utc_ms
from .gather import WRITER_BATCH, Gathered, gather
from .models import ScanRun
from .pipeline import SCANNERS, Thresholds, score_universe
from .shortlist import Slots
from .store import prepare_results, result_scorer, save_results

OnScored = Callable[[ScanRun, Gathered, dict, dict], None]
Scored = tuple[dict, dict, tuple]  # score_universe's snapshots and outputs, and prepare_results' rows

log = logging.getLogger(__name__)

# command-line scanner -> the scanners it runs (whale activity and volume spike ride with smart money)
SCAN_GROUPS = {
    "rsi": ("rsi",),
    "smart_money": ("smart_money", "whale", "volume_spike"),
    "mss": ("mss",),
    "social": ("social",),
    "all": SCANNERS,
}
NEEDS = {
    "rsi": {"klines"}, "volume_spike": {"klines"}, "social": {"social"},
    "smart_money": {"klines", "funding", "social"},
    "whale": {"funding", "oi", "shortlist"},
    "mss": {"klines", "funding", "social", "coingecko", "oi", "shortlist"},
}
SERVICES_FOR = {"klines": "binance_spot", "funding": "binance_futures", "oi": "binance_futures",
                "shortlist": "binance_futures", "social": "lunarcrush", "coingecko": "coingecko"}


class UnknownSymbolsError(ValueError):
    def __init__(self, symbols: list[str]):
        super().__init__(f"unknown symbols: {', '.join(symbols)}")
        self.symbols = symbols


# The cyclic garbage collector during a scan: CPython starts a collection every 700 new container
# objects, and a cold scan creates millions (half a million candles, each a JSON row, a parsed row
# and an archive row) while it keeps hundreds of thousands alive, so the default thresholds ran
# ~2,400 collections, 15 of them over the whole heap: ~2 s of a 7.5 s cold scan of 990 coins
# (measured with gc.callbacks). With these, young cycles (asyncio and httpx objects per request)
# are still collected every SCAN_GC_THRESHOLD allocations, full collections wait for the end of
# the scan, and peak memory stays within a few MB of the default's. Disabling the collector
# instead cost 80 MB: a request leaves cyclic garbage behind.
SCAN_GC_THRESHOLD = (10_000, 50, 10)
_gc_lock = threading.Lock()
_gc_depth = 0
_gc_saved: tuple[int, int, int] | None = None


@contextmanager
def scan_gc() -> Iterator[None]:
    """Run the block with the scan's collector thresholds (process-wide, restored when the last
    scan running in this process ends)."""
    global _gc_depth, _gc_saved
    with _gc_lock:
        if _gc_depth == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(*SCAN_GC_THRESHOLD)
        _gc_depth += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0 and _gc_saved is not None:
                gc.set_threshold(*_gc_saved)


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


def _load_coins(universe: list[SymbolInfo], explicit: bool) -> dict[str, CoinData]:
    """CoinData for the universe, with what the archive knows that a scan cannot refetch cheaply:
    listing times and the open interest of about 24 hours ago."""
    coins = sync_coin_facts(universe, universe=not explicit)
    out = {s: CoinData(s, c.id, utc_ms(c.listed_at) if c.listed_at else None, c.has_perpetual)
           for s, c in coins.items()}
    by_id = {cd.coin_id: cd for cd in out.values()}
    now = timezone.now()
    for coin_id, at, value in MetricPoint.objects.filter(
            coin_id__in=by_id, metric="open_interest", at__gte=now - timedelta(hours=25.5),
            at__lte=now - timedelta(hours=22.5)).values_list("coin_id", "at", "value"):
        by_id[coin_id].add_metric("open_interest", utc_ms(at), value)
    return out


def needs_of(scanners: tuple[str, ...]) -> tuple[set[str], tuple[str, ...]]:
    """What the scanners need fetched, and the services that serves it from."""
    needs = set().union(*(NEEDS[s] for s in scanners))
    return needs, tuple(sorted({"binance_spot"} | {SERVICES_FOR[n] for n in needs}))


async def _scan(run: ScanRun, scanners: tuple[str, ...], symbols: list[str] | None, t: Thresholds, chunking=None,
                writer: dict | None = None) -> tuple[Gathered, Scored] | None:
    needs, services = needs_of(scanners)
    async with MarketDataSession(services) as md:
        slots = Slots(settings.PARALLEL_MAX_CONCURRENT)  # every request of the scan in one bound
        answers = BulkAnswers(md, slots)
        try:
            # Stage A's requests need no universe: sent beside the one that learns it (scanners.bulk).
            answers.start(needs)
            info = await smart_cache.get(f"spot-info:{md.spot.http.base_url}",
                                         lambda: slots.run(md.spot.exchange_info(), Slots.BULK),
                                         ttl=settings.CACHE_L2_TTL, max_stale=3600, level="L2")
            universe = _select(info.value, symbols)
            coins = await sync_to_async(_load_coins)(universe, bool(symbols))
            if scanners == ("mss",):  # discovery: listings younger than 7 days only
                coins = {s: cd for s, cd in coins.items()
                         if cd.listed_at_ms and time.time() * 1000 - cd.listed_at_ms < 168 * 3_600_000}
            g = Gathered(coins=coins, universe=[u for u in universe if u.symbol in coins], writer_config=writer,
                         scorer=result_scorer(run.pk, t, scanners))
            run.universe_size = len(coins)
            if chunking is not None and len(coins) > chunking.size:
                # Scale-out (scanners.chunks): the bulk stage here, once; the per-coin stages in chunk tasks.
                await gather(md, g, needs, per_coin=False, slots=slots, answers=answers)
                await sync_to_async(chunking.split)(run, g, md)
                return None
            # Most coins are scored, and their results prepared, as the fetch completes each (the
            # scorer); the rest on a thread (the loop still feeds the writer process) while the
            # writer archives its last candles on another core; its writes are done
            # before anything is stored, and waited for however the fetch or the scoring ends (the
            # loop's end would kill the process mid-batch).
            try:
                await gather(md, g, needs, keep_writer=True, slots=slots, answers=answers)
                started = time.monotonic()
                closing = asyncio.ensure_future(md.close_clients())  # nothing is fetched after gather
                try:
                    scored = await sync_to_async(_score, thread_sensitive=False)(run, g, scanners, t)
                finally:
                    await closing  # not left pending (or its failure unread) if the scoring raises
                g.stage_seconds["score"] = round(time.monotonic() - started, 3)
            finally:
                started = time.monotonic()
                failure = await g.writes_done()
            if failure is not None:
                raise failure
            g.stage_seconds["archive"] = round(g.stage_seconds.get("archive", 0) + time.monotonic() - started, 3)
            return g, scored
        except HostBannedError as exc:
            run.status = ScanRun.FAILED
            run.errors.append({"symbol": "*", "error": str(exc)})
            return None
        finally:
            await answers.abandon()  # what a failure left running (nothing, after a whole fetch)
            run.requests = md.request_stats()
            run.simulated = md.simulated
            rtt = md.median_round_trip()
            requests = sum(s["requests"] for s in run.requests.values())
            if rtt is not None:
                # The latency floor of this run (docs/performance.md): no plan with this many requests
                # at this concurrency could finish sooner. The round trip is measured under load.
                run.parameters["median_round_trip_ms"] = round(rtt * 1000, 1)
                run.parameters["floor_seconds"] = round(requests / settings.PARALLEL_MAX_CONCURRENT * rtt, 3)


def remember_listings(g: Gathered) -> None:
    """Keep what the scan learnt about each coin: whether it has a perpetual and when it listed."""
    changed = []
    for coin_id, symbol, has_perpetual, listed_at in Coin.objects.filter(
            id__in=[cd.coin_id for cd in g.coins.values()]).values_list("id", "symbol", "has_perpetual", "listed_at"):
        cd = g.coins[symbol]
        listed = datetime.fromtimestamp(cd.listed_at_ms / 1000, tz=dt_timezone.utc) if cd.listed_at_ms else None
        if has_perpetual != cd.has_perpetual or (listed and listed_at != listed):
            changed.append((coin_id, cd.has_perpetual, listed or listed_at))
    update_listings(changed)


def _score(run: ScanRun, g: Gathered, scanners: tuple[str, ...], t: Thresholds) -> Scored:
    coins = {s: cd for s, cd in g.coins.items() if s not in g.failed}
    if g.scorer is None:
        snaps, outputs = score_universe(coins, g.as_of, t, scanners)
        return snaps, outputs, prepare_results(run, g, snaps, outputs)
    run.parameters["scored_while_fetching"] = len(g.scorer.outputs)
    snaps, outputs = g.scorer.finish(coins, g.as_of)
    return snaps, outputs, prepare_results(run, g, snaps, outputs, g.scorer.prepared)


def _store(run: ScanRun, g: Gathered, scored: Scored, on_scored: OnScored | None) -> None:
    snaps, outputs, results = scored
    started = time.monotonic()
    remember_listings(g)
    if not g.metrics_archived:  # else the writer process has stored them (gather)
        store_metrics(g.new_metrics[g.metrics_sent:])  # those it was handed, it stored before it closed
    run.scored = save_results(run, g, snaps, outputs, results)
    if on_scored is not None:
        on_scored(run, g, snaps, outputs)
    log.debug("stored scan %s in %.2fs", run.pk, time.monotonic() - started)


def run_scan(scanner: str, symbols: list[str] | None = None, *, thresholds: Thresholds | None = None,
             on_scored: OnScored | None = None, chunking=None) -> ScanRun:
    """Run a scanner (or "all") over the universe (or `symbols`) and store the run with its results.
    `on_scored(run, gathered, snapshots, outputs)` runs after the results are stored (the unified
    score: cryptosatx.scanning wires it in, so this package never imports signals).

    With `chunking` (a scanners.chunks.Chunking) and a universe larger than one chunk, the run is
    only planned here: the bulk data are fetched, the chunks written and enqueued, and the run is
    returned still `running`; chunk tasks and a gathering task finish it (scanners.chunks)."""
    if scanner not in SCAN_GROUPS:
        raise ValueError(f"unknown scanner {scanner!r}; one of {', '.join(SCAN_GROUPS)}")
    scanners = SCAN_GROUPS[scanner]
    t = thresholds or Thresholds.from_settings()
    with scan_gc():
        return _run_scan(scanner, scanners, symbols, t, on_scored, chunking)


def _run_scan(scanner: str, scanners: tuple[str, ...], symbols: list[str] | None, t: Thresholds,
              on_scored: OnScored | None, chunking) -> ScanRun:
    run = ScanRun.objects.create(scanner=scanner, parameters={"symbols": symbols or [], "scanners": list(scanners)})
    try:
        # async_to_sync runs thread-sensitive DB calls back on this thread and its connection.
        # The writer process's access is judged here, on the thread whose connection (and transaction) counts.
        gathered = async_to_sync(_scan)(run, scanners, symbols, t, chunking and chunking.with_thresholds(t),
                                        writer_config(WRITER_BATCH))
    except UnknownSymbolsError:
        run.delete()
        raise
    except (MarketDataError, ArchiveWriteError) as exc:
        # A failed archive write fails the scan too (its coins' candles are fetched again next time:
        # Gathered.archive_failed), with the database's reason.
        gathered = None
        run.status = ScanRun.FAILED
        run.errors.append({"symbol": "*", "error": str(exc)})
    if gathered is None and run.status == ScanRun.RUNNING and "chunks" in run.parameters:
        # Saved by the split; not again: its chunks may already have finished it.
        log.info("scan %s #%s: %s coins in %s chunks, enqueued", scanner, run.pk, run.universe_size,
                 run.parameters["chunks"])
        return run
    if gathered is not None:
        g, scored = gathered
        run.errors.extend(g.errors)
        run.parameters.update({"shortlist": g.shortlist, "data_times": g.data_times, "stage_seconds": g.stage_seconds,
                               "candles_archived_by_process": g.archived_by_process,
                               "metric_points_archived_by_process": g.metric_points_archived_by_process})
        _store(run, g, scored, on_scored)
    if run.status == ScanRun.RUNNING:
        run.status = ScanRun.PARTIAL if run.errors else ScanRun.COMPLETED
    run.finished_at = timezone.now()
    run.save()
    log.info("scan %s #%s: %s, %s/%s coins scored, %s errors", scanner, run.pk, run.status, run.scored,
             run.universe_size, len(run.errors))
    return run
