"""Two real `manage.py qcluster` processes on one PostgreSQL database: every schedule slot of a
scanner runs exactly once, however both clusters pick it up.

django-q2 schedules are minute-granular, so the slots are driven at the task level: for each of
60 slots (RSI's 4-hour slots, in the past), `cryptosatx.tasks.scan_task` is enqueued once on
each cluster's own queue with a `now` inside that slot (the two clusters' schedulers firing a
few seconds apart), and the next slot is enqueued when both have finished (`scan_task` also
refuses a slot beside a running scan; lock-step keeps that rule out of this test). The engine is
a stub that writes a ScanRun, so a slot takes a fraction of a second.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from django.db import connection

from cryptosatx.heartbeat import alive_clusters, cluster_pid
from scanners.models import ScanRun, ScanSlot
from tests.test_worker_kill import ROOT, shared_db  # noqa: F401 - shared_db is a fixture

SLOTS = 60
FIRST_SLOT = datetime(2026, 1, 1, tzinfo=timezone.utc)
INTERVAL = timedelta(hours=4)  # RSI_SCREENER_INTERVAL_HOURS' default, passed to the clusters too

# The clusters' settings: the project's, with this cluster's own queue and a short poll.
CLUSTER_SETTINGS = """
import os
from cryptosatx.settings import *  # noqa: F401,F403
from cryptosatx.settings import Q_CLUSTER
Q_CLUSTER = {**Q_CLUSTER, "cluster_name": os.environ["TEST_Q_QUEUE"], "workers": 2, "poll": 0.05}
"""


def fast_scan(scanner: str, symbols=None, **options) -> ScanRun:
    """The engine's stand-in: a ScanRun, written by the cluster that won the slot, 50 ms long."""
    from django.utils import timezone as tz

    run = ScanRun.objects.create(scanner=scanner, parameters={"cluster_pid": cluster_pid()})
    time.sleep(0.05)
    run.status, run.finished_at = ScanRun.COMPLETED, tz.now()
    run.save(update_fields=["status", "finished_at"])
    return run


def scan_task_with_fast_engine(scanner: str, now: datetime) -> dict:
    """The task the clusters run: the real `scan_task`, with `fast_scan` as its engine."""
    from cryptosatx import tasks

    tasks.scan = fast_scan
    return tasks.scan_task(scanner, now)


class QCluster:
    """`manage.py qcluster` in its own process group (its sentinel, workers, monitor and pusher
    are stopped with it)."""

    def __init__(self, env: dict, log: Path):
        self.log = log
        with open(log, "w") as out:
            self.proc = subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.proc.pid
        self.name = f"{socket.gethostname()}:{self.pid}"

    def output(self) -> str:
        return self.log.read_text()[-6000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.pid, signal.SIGTERM)  # django-q2 stops its processes on SIGTERM
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.pid, signal.SIGKILL)  # whatever of the group is left
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)


def cluster_env(database_url: str, **extra: str) -> dict:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "cryptosatx.settings", "DATABASE_URL": database_url,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "Q_WORKERS": "1", **extra}


def wait_for(condition, timeout: float, what: str, clusters=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        for c in clusters:
            if c.proc.poll() is not None:
                pytest.fail(f"qcluster {c.pid} exited ({c.proc.returncode}) while waiting for {what}:\n{c.output()}")
        time.sleep(0.02)
    logs = "\n".join(f"--- qcluster {c.pid}\n{c.output()}" for c in clusters)
    pytest.fail(f"{what} did not happen within {timeout:.0f} s\n{logs}")


@pytest.fixture
def clusters(shared_db, tmp_path):  # noqa: F811 - shared_db is the imported fixture
    (tmp_path / "two_cluster_settings.py").write_text(CLUSTER_SETTINGS)
    started: dict[str, QCluster] = {}
    try:
        for queue in ("alpha", "beta"):
            env = cluster_env(shared_db, DJANGO_SETTINGS_MODULE="two_cluster_settings", TEST_Q_QUEUE=queue,
                              RSI_SCREENER_INTERVAL_HOURS=str(INTERVAL / timedelta(hours=1)))
            env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env["PYTHONPATH"]])
            started[queue] = QCluster(env, tmp_path / f"qcluster-{queue}.log")
        yield started
    finally:
        for c in started.values():
            c.stop()


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="needs PostgreSQL: two clusters writing one SQLite file do not race in a way worth "
                           "testing (SQLite serialises every write)")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keep the seeded rows
def test_two_clusters_scan_each_slot_exactly_once(clusters):
    from django_q.models import Task
    from django_q.tasks import async_task

    both = list(clusters.values())
    # both clusters are up: each worker wrote its cluster's heartbeat when it spawned
    wait_for(lambda: {c.name for c in both} <= set(alive_clusters().values_list("name", flat=True)), 30,
             "both clusters' heartbeats", both)

    func = f"{__name__}.scan_task_with_fast_engine"
    for k in range(SLOTS):
        start = FIRST_SLOT + k * INTERVAL
        offers = [("alpha", start + timedelta(seconds=1)), ("beta", start + timedelta(seconds=7))]
        if k % 2:
            offers.reverse()
        ids = [async_task(func, "rsi", now, cluster=queue, group=f"slot-{k}") for queue, now in offers]
        wait_for(lambda: Task.objects.filter(id__in=ids).count() == 2, 20, f"slot {k} on both clusters", both)

    tasks = list(Task.objects.filter(group__startswith="slot-"))
    failed = [(t.group, t.result) for t in tasks if not t.success]
    assert not failed, failed[:3]
    assert len(tasks) == 2 * SLOTS
    outcomes = Counter((t.group, "run_id" if "run_id" in t.result else t.result["skipped"]) for t in tasks)
    for k in range(SLOTS):
        assert outcomes[(f"slot-{k}", "run_id")] == 1, outcomes
        assert outcomes[(f"slot-{k}", "this slot already ran (another worker or cluster took it)")] == 1, outcomes

    slots = list(ScanSlot.objects.filter(scanner="rsi").order_by("slot_start"))
    assert [s.slot_start for s in slots] == [FIRST_SLOT + k * INTERVAL for k in range(SLOTS)]
    assert all(s.run_id and not s.skipped for s in slots)
    runs = {r.pk: r for r in ScanRun.objects.all()}
    assert len(runs) == SLOTS and {s.run_id for s in slots} == set(runs)
    assert all(r.status == ScanRun.COMPLETED for r in runs.values())
    winners = Counter(r.parameters["cluster_pid"] for r in runs.values())
    assert set(winners) <= {c.pid for c in both}, winners  # each run was written inside one of the clusters
    print(f"slots won: {dict((q, winners[c.pid]) for q, c in clusters.items())}")
