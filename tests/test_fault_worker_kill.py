"""SIGKILL of a real q worker at 10%, 50% and 90% of a chunked scan.

Two real `manage.py qcluster` processes (one worker each, one queue) run a scheduled `scan all` of
40 coins in 10 chunks against the simulator (150 ms answers, 2 requests at a time, so a chunk
takes about a second). When the k-th chunk to start (k = 1, 5, 9 of 10) is mid-way, its worker
is SIGKILLed. The cluster replaces the worker; the chunk's task, never acknowledged, is handed out
again after Q_RETRY (10 s here) to whichever cluster polls first. The scan must complete with every
coin scored, the killed chunk run twice, and no result, unified score or signal written twice.
Runs on SQLite (a file both clusters open) and on PostgreSQL.
"""
from __future__ import annotations

import math
import os
import signal
import time
from collections import Counter

import pytest

from marketdata.simulator.server import SimulatorServer
from scanners.models import ScanChunk, ScanResult, ScanRun
from signals.models import AlertDelivery, ProcessedRun, Signal, UnifiedScore
from tests.fault_support import QCluster, fault_cluster_env, hard_timeout, wait_until
from tests.test_worker_kill import shared_db  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keep the seeded rows
COINS, CHUNK = 40, 4


@pytest.fixture
def slow_sim():
    with SimulatorServer(seed=21, coins=60, latency_ms=150, jitter_ms=20) as server:
        yield server


@pytest.fixture
def clusters(shared_db, slow_sim, tmp_path):  # noqa: F811
    env = fault_cluster_env(shared_db, slow_sim.base_url, tmp_path, Q_WORKERS="1", SCAN_MAX_COINS=str(COINS),
                            FAULT_SCAN_CHUNK_SIZE=str(CHUNK))
    started = []
    try:
        for name in ("east", "west"):
            started.append(QCluster(env, tmp_path / f"qcluster-{name}.log"))
        yield started
    finally:
        for c in started:
            c.stop()


def assert_nothing_doubled(run: ScanRun) -> None:
    results = Counter(ScanResult.objects.filter(run=run).values_list("coin_id", "scanner"))
    assert results and max(results.values()) == 1, results.most_common(3)
    scores = Counter(UnifiedScore.objects.filter(run=run).values_list("coin_id", flat=True))
    assert len(scores) == COINS and max(scores.values()) == 1, scores.most_common(3)
    signals = Counter(Signal.objects.values_list("coin_id", "scanner", "direction", "candle_close_time"))
    assert not signals or max(signals.values()) == 1
    assert ProcessedRun.objects.get(run=run).signals == Signal.objects.filter(run=run).count()
    deliveries = Counter(AlertDelivery.objects.values_list("signal_id", "recipient_id"))
    assert not deliveries or max(deliveries.values()) == 1


@pytest.mark.parametrize("share", [0.1, 0.5, 0.9])
def test_a_worker_killed_mid_chunk_loses_nothing_and_doubles_nothing(share, clusters):
    from django_q.tasks import async_task

    with hard_timeout(150):
        async_task("cryptosatx.tasks.scan_task", "all")
        run = wait_until(lambda: ScanRun.objects.filter(parameters__has_key="chunks").first(), 60,
                         "the scan's chunks", clusters)
        total = run.parameters["chunks"]
        assert total == math.ceil(COINS / CHUNK) == 10
        k = max(1, round(share * total))  # the k-th chunk to start is the one whose worker dies

        def kth_started_and_running():
            started = list(ScanChunk.objects.filter(run=run, started_at__isnull=False).order_by("started_at"))
            if len(started) < k:
                return None
            chunk = started[k - 1]
            if chunk.finished_at is not None:
                pytest.fail(f"chunk {chunk.index} finished before it could be killed")
            # a fifth of a second into its fetch
            return chunk if time.time() - chunk.started_at.timestamp() > 0.2 else None
        victim = wait_until(kth_started_and_running, 60, f"the {k}th chunk mid-way", clusters, every=0.01)
        pid = int(victim.worker.rsplit(":", 1)[1])
        assert pid not in {c.pid for c in clusters}  # a worker, not the cluster itself
        finished_when_killed = ScanChunk.objects.filter(run=run, finished_at__isnull=False).count()
        os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()

        done = wait_until(lambda: ScanRun.objects.filter(pk=run.pk).exclude(status="running").first(), 90,
                          "the scan's completion", clusters)
        recovered_after = time.monotonic() - killed_at
        assert all(c.proc.poll() is None for c in clusters), "a cluster died with its worker"

    print(f"killed chunk {victim.index} (the {k}th to start) with {finished_when_killed}/{total} chunks done; "
          f"scan completed {recovered_after:.1f} s later")
    assert (done.status, done.scored, done.universe_size) == ("completed", COINS, COINS), done.errors[:3]
    chunks = {c.index: c for c in ScanChunk.objects.filter(run=run)}
    assert all(c.finished_at for c in chunks.values())
    assert chunks[victim.index].attempts == 2  # run again after the broker's retry ...
    assert chunks[victim.index].worker != victim.worker  # ... by another worker
    assert_nothing_doubled(done)
