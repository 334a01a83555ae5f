"""Chunked scans in one process: the scheduled task splits a big universe into chunk tasks on the
real ORM broker queue; this test plays the workers by taking the queued tasks and running them
(twice, out of order, before their time) and checks the run is assembled once, with nothing doubled.
Real worker processes and SIGKILLs are tests/test_fault_worker_kill.py."""
from __future__ import annotations

import pydoc
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from django.core.management import call_command
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from cryptosatx.scanning import ASSEMBLE_TASK, CHUNK_TASK
from cryptosatx.tasks import reap_dead_runs, scan_task
from marketdata.simulator.server import SimulatorServer
from marketdata.models import MetricPoint
from scanners.models import ScanChunk, ScanResult, ScanRun
from scanners.smart_money import percentile_ranks
from signals.models import AlertDelivery, AlertRule, ProcessedRun, Signal, UnifiedScore
from tests.conftest import point_all_at

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def chunk_sim():
    with SimulatorServer(seed=11, coins=40) as server:
        yield server


@pytest.fixture
def chunked(settings, chunk_sim):
    point_all_at(settings, chunk_sim.base_url)
    settings.SCAN_MAX_COINS = 10
    settings.SCAN_CHUNK_SIZE = 4
    # every smart-money result with any accumulation raises a signal, so there is something to double
    AlertRule.objects.all().delete()
    AlertRule.objects.create(scanner="smart_money", metric="accumulation", comparison="gte", threshold=0, tier=2,
                             direction="LONG", kind="accumulating", enabled=True, name="any accumulation")
    return settings


def queued() -> list[tuple[OrmQ, dict]]:
    return [(row, SignedPackage.loads(row.payload)) for row in OrmQ.objects.order_by("id")]


def execute(task: dict):
    return pydoc.locate(task["func"])(*task["args"], **task["kwargs"])


def drain(twice: bool = False) -> list[dict]:
    """Run every queued task (each twice with `twice`: a worker died after the work, before the
    broker's acknowledgement) until the queue is empty, as the workers would."""
    results = []
    while rows := queued():
        for row, task in rows:
            results.append(execute(task))
            if twice:
                results.append(execute(task))
            row.delete()  # acknowledged
    return results


def no_duplicates(run: ScanRun) -> None:
    per_result = Counter(ScanResult.objects.filter(run=run).values_list("coin_id", "scanner"))
    assert per_result and max(per_result.values()) == 1
    per_score = Counter(UnifiedScore.objects.filter(run=run).values_list("coin_id", flat=True))
    assert per_score and max(per_score.values()) == 1
    assert UnifiedScore.objects.filter(is_latest=True).count() == len(per_score)
    per_signal = Counter(Signal.objects.values_list("coin_id", "scanner", "direction", "candle_close_time"))
    assert not per_signal or max(per_signal.values()) == 1
    deliveries = Counter(AlertDelivery.objects.values_list("signal_id", "recipient_id"))
    assert not deliveries or max(deliveries.values()) == 1


def test_a_universe_bigger_than_a_chunk_is_scanned_in_chunk_tasks_and_assembled_once(chunked):
    started = scan_task("all", datetime.now(timezone.utc))
    assert (started["status"], started["chunks"], started["universe"]) == ("running", 3, 10)
    run = ScanRun.objects.get(pk=started["run_id"])
    assert [len(c.symbols) for c in run.chunks.all()] == [4, 4, 2]
    assert [t["func"] for _, t in queued()] == [CHUNK_TASK] * 3
    assert not ScanResult.objects.exists()  # the coordinator fetched the bulk data and scored nothing

    results = drain()
    assert Counter(r["outcome"] for r in results if "chunk" in r) == Counter(
        {"scored 4 of 4": 2, "scored 2 of 2": 1})
    assembled = [r for r in results if r.get("outcome") == "assembled"]
    assert len(assembled) == 1 and assembled[0]["status"] == "completed"
    run.refresh_from_db()
    assert (run.status, run.scored, run.universe_size, run.coverage) == ("completed", 10, 10, 1.0)
    assert run.finished_at and run.parameters["chunk_attempts"] == 3
    # the request plan is the in-process scan's: the bulk calls once, one klines request per coin
    spot = run.requests["binance_spot"]
    assert spot["requests"] == 1 + 10 or spot["requests"] == 10  # exchangeInfo may come from the cache
    assert run.requests["lunarcrush"]["requests"] >= 1 and run.requests["coingecko"]["requests"] >= 1
    no_duplicates(run)
    assert ScanResult.objects.filter(run=run).values("coin_id").distinct().count() == 10
    assert ProcessedRun.objects.filter(run=run).exists()
    assert Signal.objects.filter(run=run).exists(), "the rule matches every accumulation score"


def social_activity(run: ScanRun) -> dict[str, float | None]:
    """Each coin's social activity percentile as its smart-money result stored it."""
    return {symbol: inputs["social_activity_pct"]["value"] for symbol, inputs in ScanResult.objects.filter(
        run=run, scanner="smart_money").values_list("coin__symbol", "inputs")}


def universe_ranks(run: ScanRun) -> dict[str, float | None]:
    """The percentile of each coin's social volume within the whole universe the run scanned."""
    symbols = list(ScanResult.objects.filter(run=run).values_list("coin__symbol", flat=True).distinct())
    volumes = dict.fromkeys(symbols)
    for symbol, value in MetricPoint.objects.filter(coin__symbol__in=symbols, metric="social_volume_24h").order_by(
            "at").values_list("coin__symbol", "value"):
        volumes[symbol] = value
    return percentile_ranks(volumes)


def test_social_activity_is_ranked_within_the_whole_universe_not_each_chunk(chunked):
    started = scan_task("all", datetime.now(timezone.utc))
    run = ScanRun.objects.get(pk=started["run_id"])
    assert started["chunks"] == 3 and all(c.bulk[s]["social_pct"] is not None
                                          for c in run.chunks.all() for s in c.symbols)
    drain()
    stored, expected = social_activity(run), universe_ranks(run)
    assert len(stored) == 10 and sum(v is not None for v in expected.values()) >= 6
    assert stored == pytest.approx(expected)  # ranked per chunk, all ten differed


def test_a_chunk_planned_without_the_universes_ranks_ranks_its_own_coins(chunked):
    """Chunks enqueued by a version that did not plan the ranks still score (within the chunk)."""
    started = scan_task("all", datetime.now(timezone.utc))
    run = ScanRun.objects.get(pk=started["run_id"])
    chunk = run.chunks.get(index=0)
    chunk.bulk = {s: {k: v for k, v in b.items() if k != "social_pct"} for s, b in chunk.bulk.items()}
    chunk.save()
    drain()
    run.refresh_from_db()
    assert run.status == "completed" and run.scored == 10
    stored = social_activity(run)
    within = percentile_ranks({s: (MetricPoint.objects.filter(coin__symbol=s, metric="social_volume_24h")
                                   .order_by("at").values_list("value", flat=True).last()) for s in chunk.symbols})
    assert sum(v is not None for v in within.values()) >= 2
    assert {s: stored[s] for s in chunk.symbols} == pytest.approx(within)


def test_every_task_run_twice_writes_everything_once(chunked):
    run_id = scan_task("all", datetime.now(timezone.utc))["run_id"]
    results = drain(twice=True)
    chunk_outcomes = Counter(r["outcome"] for r in results if "chunk" in r)
    assert chunk_outcomes["already finished"] == 3
    assert sum(1 for r in results if r.get("outcome") == "assembled") == 1
    run = ScanRun.objects.get(pk=run_id)
    assert run.status == "completed" and run.scored == 10
    signals = Signal.objects.filter(run=run).count()
    assert signals and ProcessedRun.objects.get(run=run).signals == signals
    no_duplicates(run)


def test_the_run_is_not_assembled_while_a_chunk_is_unfinished(chunked):
    run_id = scan_task("all", datetime.now(timezone.utc))["run_id"]
    rows = queued()
    execute(rows[0][1])
    execute(rows[2][1])
    from cryptosatx.tasks import assemble_scan_task

    assert assemble_scan_task(run_id)["outcome"] == "waiting for chunks [1]"
    run = ScanRun.objects.get(pk=run_id)
    assert (run.status, run.finished_at) == ("running", None) and not Signal.objects.exists()
    execute(rows[1][1])  # the last chunk finds all done and enqueues the assembly
    assert [t["func"] for _, t in queued()][-1] == ASSEMBLE_TASK
    for row, _ in rows:
        row.delete()
    drain()
    assert ScanRun.objects.get(pk=run_id).status == "completed"


def test_a_small_universe_is_scanned_in_the_task_itself(chunked):
    chunked.SCAN_CHUNK_SIZE = 10
    result = scan_task("all", datetime.now(timezone.utc))
    assert result["status"] == "completed" and "chunks" not in result
    assert not OrmQ.objects.exists() and not ScanChunk.objects.exists()


def test_a_chunked_run_is_given_its_chunks_retries_before_it_is_reaped(chunked, settings):
    run_id = scan_task("all", datetime.now(timezone.utc))["run_id"]
    q = settings.Q_CLUSTER
    started = ScanRun.objects.get(pk=run_id).started_at
    assert reap_dead_runs(started + timedelta(seconds=q["timeout"] + q["retry"])) == 0  # a retry may be due
    assert reap_dead_runs(started + timedelta(seconds=q["timeout"] + q["retry"] * q["max_attempts"] + 1)) == 1
    assert ScanRun.objects.get(pk=run_id).status == "failed"
    results = drain()  # chunks that turn up after that write nothing
    assert {r["outcome"] for r in results if "chunk" in r} == {"run is failed"}
    assert not ScanResult.objects.exists() and not Signal.objects.exists()
def test_scan_chunk_size_is_validated_naming_the_key(settings):
    settings.SCAN_CHUNK_SIZE = 0
    from cryptosatx.checks import check_configuration

    assert any("SCAN_CHUNK_SIZE" in e.msg for e in check_configuration())
    settings.SCAN_CHUNK_SIZE = 250
    assert not any("SCAN_CHUNK_SIZE" in e.msg for e in check_configuration())
    call_command("check")  # the project's checks pass with the default


@pytest.mark.parametrize("value, says", [("0", "SCAN_CHUNK_SIZE=0 must lie between 1 and 100000"),
                                         ("many", "SCAN_CHUNK_SIZE='many' is not a valid int")])
def test_a_bad_scan_chunk_size_in_the_environment_stops_start_up_naming_the_key(value, says):
    import os
    import subprocess
    import sys

    from tests.test_worker_kill import ROOT

    out = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "SCAN_CHUNK_SIZE": value}, timeout=120)
    assert out.returncode != 0 and says in out.stderr, out.stderr[-2000:]


def test_the_planner_never_overwrites_a_run_its_chunks_have_already_finished(chunked):
    """The fastest possible workers: every chunk and the gather task run while the planner is still
    enqueueing. The run they finished must stay finished when the planner returns."""
    from scanners.chunks import Chunking, assemble, run_chunk
    from scanners.engine import run_scan
    from signals.ranking import update_unified

    def enqueue_and_run_at_once(run_id: int, index: int) -> None:
        if index == 2:  # the last chunk is enqueued: run them all, and the gather task, right now
            for i in range(3):
                run_chunk(run_id, i, on_scored=update_unified)
            assert assemble(run_id)["outcome"] == "assembled"

    run = run_scan("all", chunking=Chunking(4, enqueue_and_run_at_once), on_scored=update_unified)
    stored = ScanRun.objects.get(pk=run.pk)
    assert (stored.status, stored.scored, stored.universe_size) == ("completed", 10, 10)
    assert stored.requests["lunarcrush"]["requests"] >= 1  # the planner's own requests were kept
