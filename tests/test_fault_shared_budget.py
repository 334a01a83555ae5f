"""Chunks in two processes share one Binance weight budget.

Two real `qcluster` processes (one worker each) run a 40-coin scan in 10 chunks against a simulator
that allows 60 weight per 2-second window (and publishes it in exchangeInfo) and bans an IP that sends more than 3 requests after a
429. The scan needs 100 weight, so the workers must wait for windows to turn; each starts from the
limit the planner learnt and learns what the other spent only from the usage header
(`X-MBX-USED-WEIGHT-1M`).
The scan must complete with every coin and no ban.
"""
from __future__ import annotations

import httpx
import pytest

from marketdata.simulator.server import SimulatorServer
from scanners.models import ScanRun
from tests.fault_support import QCluster, fault_cluster_env, hard_timeout, wait_until
from tests.test_worker_kill import shared_db  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
WINDOW, LIMIT, COINS = 2, 60, 40


def test_two_worker_processes_stay_inside_one_shared_weight_budget(shared_db, tmp_path):  # noqa: F811
    from django_q.tasks import async_task

    with hard_timeout(150), SimulatorServer(seed=27, coins=60, weight_limit=LIMIT, window_seconds=WINDOW,
                                            ban_after=3, latency_ms=30) as sim:
        env = fault_cluster_env(shared_db, sim.base_url, tmp_path, Q_WORKERS="1", SCAN_MAX_COINS=str(COINS),
                                BINANCE_WEIGHT_WINDOW_SECONDS=str(WINDOW), PARALLEL_MAX_CONCURRENT="4")
        clusters = [QCluster(env, tmp_path / f"qcluster-{n}.log") for n in (1, 2)]
        try:
            async_task("cryptosatx.tasks.scan_task", "all")
            run = wait_until(lambda: ScanRun.objects.exclude(status="running").first(), 120,
                             "the scan's completion", clusters, every=0.1)
        finally:
            for c in clusters:
                c.stop()
        state = httpx.get(f"{sim.base_url}/sim/state").json()

    workers = set(run.chunks.values_list("worker", flat=True))
    spot = run.requests["binance_spot"]
    print(f"spot weight {spot['weight']} in {WINDOW}-s windows of {LIMIT}: statuses {spot['statuses']}, "
          f"{len(workers)} worker processes")
    assert len(workers) == 2, "both processes must have run chunks for the budget to be shared"
    assert spot["weight"] > LIMIT  # more than one window's budget: the processes had to wait
    assert run.parameters["weight_limits"]["binance_spot"] == LIMIT  # learnt by the planner, handed to the chunks
    assert state["status_counts"].get("418", 0) == 0 and not state["bans"], state["status_counts"]
    # Within a window each process sees the other's spending only in the headers of its own answers,
    # so both may have requests in flight at the budget's edge (the 10% margin is for that); a 429
    # then pauses that process for the rest of the window. At most one per process:
    assert spot["statuses"].get("429", 0) <= 2, spot["statuses"]
    assert (run.status, run.scored) == ("completed", COINS), run.errors[:3]
