"""Chunked scans: one scan of N coins split into chunk tasks that any q cluster may run.

1. The coordinator (`run_scan(..., chunking=Chunking(...))`, in the scheduled scan task) fetches
   the universe and the bulk stage (exchangeInfo, premium index, LunarCrush, CoinGecko) once,
   and in ONE transaction writes the chunks — each with its coins' bulk data and its share of the
   capped `/futures/data` calls — and their queue entries (the ORM broker's queue is a table, so
   either every chunk is enqueued or none is).
2. `run_chunk` fetches stages B–C for its coins, scores them, and in one transaction claims the
   chunk (`finished_at` from NULL: a conditional UPDATE, the first statement, so a second attempt
   waits for the first and then finds it done) and writes its results and unified scores.
   A worker that dies mid-chunk leaves no result and an unacknowledged task, which the broker
   hands out again after Q_CLUSTER["retry"]; nothing of the dead attempt was committed but
   archived candles and metric points, which are written ignoring duplicates.
3. After its commit a chunk that sees every chunk finished enqueues `assemble`; dying between
   the commit and the enqueue leaves the chunk task unacknowledged, and its retry (which finds
   the chunk done) enqueues it then. `assemble` claims the run (`status` running → final, again a
   conditional UPDATE first) and records its signals and their outbox rows in the same
   transaction: exactly once, however many times it is enqueued.

The rate-limit budgets are shared the way the services let us: the bulk calls (the tightest
budgets: CoinGecko, LunarCrush) are spent once by the coordinator, the capped calls are divided
between the chunks, and Binance's weight is shared through its usage header (each process's
governor trusts the IP-wide count the header reports, and probes first in each window).
"""
from __future__ import annotations

import logging
import os
import socket
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from typing import Callable

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone as djtz

from marketdata.archive import store_metrics
from marketdata.archive_process import writer_config
from marketdata.errors import HostBannedError
from marketdata.session import MarketDataSession

from .coindata import CoinData, utc_ms
from .engine import needs_of, remember_listings, scan_gc
from .gather import WRITER_BATCH, Gathered, gather
from .shortlist import CAPPED_CALLS_PER_COIN
from .models import ScanChunk, ScanRun
from .pipeline import Thresholds, social_ranks
from .store import prepare_results, result_scorer, save_results

log = logging.getLogger(__name__)

Enqueue = Callable[[int, int], None]  # (run id, chunk index): put the chunk task on the queue


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Chunking:
    size: int
    enqueue: Enqueue
    thresholds: Thresholds | None = None

    def with_thresholds(self, t: Thresholds) -> "Chunking":
        return replace(self, thresholds=t)

    def split(self, run: ScanRun, g: Gathered, md: MarketDataSession) -> None:
        """Write the run's chunks and enqueue them, all in one transaction."""
        symbols = list(g.coins)
        slices = [symbols[i:i + self.size] for i in range(0, len(symbols), self.size)]
        budget = 0
        if md.futures is not None:
            bucket = md.futures.http.governor.buckets["futures_data"]
            bucket.roll(djtz.now().timestamp())
            budget = max(0, (bucket.budget or 0) - bucket.used)
        store_metrics(g.new_metrics)  # the bulk stage's points, archived once
        g.new_metrics = []
        run.errors.extend(g.errors)
        # Everything the planner knows is saved here, before the chunks can run: once they are
        # enqueued the run belongs to them and the gather task (the planner must not save it again).
        run.requests, run.simulated = md.request_stats(), md.simulated
        # The weight limits the services published (exchangeInfo): each chunk's governor starts from them.
        run.parameters["weight_limits"] = {name: c.governor.weight.limit for name, c in md.clients.items()
                                           if c.governor.weight.limit}
        run.parameters.update({
            "chunks": len(slices), "chunk_size": self.size, "thresholds": asdict(self.thresholds or Thresholds()),
            "data_times": g.data_times, "stage_seconds": g.stage_seconds})
        # Social activity is a percentile within the whole universe (SCORING.md §1), as an
        # in-process scan ranks it: ranked here, where every coin's social volume is, not per chunk.
        social = social_ranks(g.coins, utc_ms(g.as_of))
        with transaction.atomic():
            run.save()
            ScanChunk.objects.bulk_create([
                ScanChunk(run=run, index=i, symbols=part, bulk={s: _bulk_of(g.coins[s], social.get(s)) for s in part},
                          # whole coins' worth of calls, shared in proportion to the chunk's size
                          shortlist_budget=budget * len(part) // len(symbols) // CAPPED_CALLS_PER_COIN
                          * CAPPED_CALLS_PER_COIN)
                for i, part in enumerate(slices)])
            for i in range(len(slices)):
                self.enqueue(run.pk, i)


def _bulk_of(cd: CoinData, social_pct: float | None = None) -> dict:
    return {"id": cd.coin_id, "listed": cd.listed_at_ms, "perp": cd.has_perpetual, "social_pct": social_pct,
            "metrics": {name: [list(p) for p in series] for name, series in cd.metrics.items()}}


def _coin_from(symbol: str, d: dict) -> CoinData:
    return CoinData(symbol, d["id"], d["listed"], d["perp"],
                    metrics={name: [tuple(p) for p in series] for name, series in d["metrics"].items()})


def run_chunk(run_id: int, index: int, on_scored=None) -> dict:
    """Fetch, score and store one chunk (idempotent). Returns what happened and whether every
    chunk of the run is now finished (then the caller enqueues `assemble`)."""
    chunk = ScanChunk.objects.select_related("run").get(run_id=run_id, index=index)
    run = chunk.run
    if chunk.finished_at is None and run.status == ScanRun.RUNNING:
        ScanChunk.objects.filter(pk=chunk.pk).update(attempts=F("attempts") + 1, worker=worker_name(),
                                                     started_at=djtz.now())
        with scan_gc():
            outcome = _fetch_score_store(run, chunk, on_scored)
    elif chunk.finished_at is not None:
        outcome = "already finished"
    else:
        outcome = f"run is {run.status}"
    left = ScanChunk.objects.filter(run_id=run_id, finished_at__isnull=True).count()
    return {"run_id": run_id, "chunk": index, "outcome": outcome, "chunks_left": left}


def _fetch_score_store(run: ScanRun, chunk: ScanChunk, on_scored) -> str:
    scanners = tuple(run.parameters["scanners"])
    needs, services = needs_of(scanners)
    t = Thresholds(**run.parameters["thresholds"])
    # The universe's social ranks, from the planner; a chunk planned without them (by an earlier
    # version) ranks its own coins, as chunks did then.
    social = ({s: chunk.bulk[s]["social_pct"] for s in chunk.symbols}
              if all("social_pct" in chunk.bulk[s] for s in chunk.symbols) else None)
    # Each coin scored as the chunk's fetch completes it, as in an in-process scan (scanners.engine).
    scorer = result_scorer(run.pk, t, scanners, social)
    # A cold chunk archives its candles from a writer process too (marketdata.archive_process).
    g = Gathered(coins={s: _coin_from(s, chunk.bulk[s]) for s in chunk.symbols}, universe=[],
                 writer_config=writer_config(WRITER_BATCH), scorer=scorer)

    async def fetch() -> MarketDataSession:
        async with MarketDataSession(services) as md:
            for name, limit in run.parameters.get("weight_limits", {}).items():
                if name in md.clients:
                    md.clients[name].governor.learn_limit(limit)  # only ever lowers the limit
            try:
                await gather(md, g, needs, bulk=False, shortlist_budget=chunk.shortlist_budget)
            except HostBannedError as exc:
                # Nothing more is sent to a banned host: the coins it could not fetch fail with the ban.
                for symbol, cd in g.coins.items():
                    if "klines" in needs and not cd.candles and symbol not in g.failed:
                        g.failed.add(symbol)
                        g.fail(symbol, exc, "banned")
                await g.flush_candles()
                g.as_of = datetime.now(timezone.utc)  # the rest scored as of now, with what was fetched
        return md
    md = async_to_sync(fetch)()
    snaps, outputs = scorer.finish({s: cd for s, cd in g.coins.items() if s not in g.failed}, g.as_of)
    prepared = prepare_results(run, g, snaps, outputs, scorer.prepared)
    rtt = md.median_round_trip()
    with transaction.atomic():
        # The claim comes first: a concurrent attempt of this chunk waits here, then finds it taken.
        claimed = ScanChunk.objects.filter(pk=chunk.pk, finished_at__isnull=True).update(
            finished_at=djtz.now(), errors=g.errors, requests=md.request_stats(),
            parameters={"stage_seconds": g.stage_seconds, "shortlist": g.shortlist,
                        "median_round_trip_ms": round(rtt * 1000, 1) if rtt else None, "worker": worker_name(),
                        "candles_archived_by_process": g.archived_by_process})
        if not claimed:
            return "already finished (by another attempt)"
        remember_listings(g)
        store_metrics(g.new_metrics)
        scored = save_results(run, g, snaps, outputs, prepared)
        ScanChunk.objects.filter(pk=chunk.pk).update(scored=scored)
        if on_scored is not None:
            on_scored(run, g, snaps, outputs)
    return f"scored {scored} of {len(chunk.symbols)}"


def _merge_requests(parts: list[dict]) -> dict:
    out: dict[str, dict] = {}
    for part in parts:
        for service, stats in (part or {}).items():
            into = out.setdefault(service, {"requests": 0, "weight": 0, "retries": 0, "errors": 0,
                                            "statuses": {}, "buckets": {}})
            for key in ("requests", "weight", "retries", "errors"):
                into[key] += stats.get(key, 0)
            for key in ("statuses", "buckets"):
                for k, n in (stats.get(key) or {}).items():
                    into[key][k] = into[key].get(k, 0) + n
    return out


def assemble(run_id: int, on_assembled=None) -> dict:
    """Finish a chunked run once every chunk is done: status, coverage, errors, requests, then
    `on_assembled(run)` (its signals) — in one transaction, at most once."""
    now = djtz.now()
    with transaction.atomic():
        # The claim first (see the module's docstring); undone below when chunks are still running.
        if not ScanRun.objects.filter(pk=run_id, status=ScanRun.RUNNING, finished_at__isnull=True
                                      ).update(finished_at=now):
            return {"run_id": run_id, "outcome": "already assembled (or no longer running)"}
        chunks = list(ScanChunk.objects.filter(run_id=run_id).order_by("index"))
        left = [c.index for c in chunks if c.finished_at is None]
        if left:
            transaction.set_rollback(True)
            return {"run_id": run_id, "outcome": f"waiting for chunks {left}"}
        run = ScanRun.objects.get(pk=run_id)
        run.errors = run.errors + [e for c in chunks for e in c.errors]
        run.scored = sum(c.scored for c in chunks)
        run.requests = _merge_requests([run.requests] + [c.requests for c in chunks])
        trips = sorted(c.parameters["median_round_trip_ms"] for c in chunks if c.parameters.get("median_round_trip_ms"))
        requests = sum(s["requests"] for s in run.requests.values())
        if trips:
            rtt_ms = trips[len(trips) // 2]
            run.parameters["median_round_trip_ms"] = rtt_ms
            run.parameters["floor_seconds"] = round(requests / settings.PARALLEL_MAX_CONCURRENT * rtt_ms / 1000, 3)
        run.parameters["shortlist"] = [s for c in chunks for s in c.parameters.get("shortlist", [])]
        run.parameters["chunk_workers"] = sorted({c.worker for c in chunks})
        run.parameters["chunk_attempts"] = sum(c.attempts for c in chunks)
        run.status = ScanRun.PARTIAL if run.errors else ScanRun.COMPLETED
        run.save()
        if on_assembled is not None:
            on_assembled(run)
    log.info("scan %s #%s assembled from %s chunks: %s, %s/%s coins scored, %s errors", run.scanner, run.pk,
             len(chunks), run.status, run.scored, run.universe_size, len(run.errors))
    return {"run_id": run_id, "outcome": "assembled", "status": run.status, "scored": run.scored,
            "universe": run.universe_size}


def chunk_progress(run_id: int) -> tuple[int, int]:
    """(finished chunks, chunks) of a run."""
    total = ScanChunk.objects.filter(run_id=run_id).count()
    return total - ScanChunk.objects.filter(run_id=run_id, finished_at__isnull=True).count(), total

