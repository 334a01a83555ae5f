"""Cluster heartbeats: written by django-q2's signals and by the scheduled `beat` task, named after
the `qcluster` process, read by `alive_clusters()`; and a real cluster's own row."""
from __future__ import annotations

import multiprocessing
import os
import socket
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.signals import post_execute, post_spawn, pre_execute

from cryptosatx import heartbeat
from cryptosatx.heartbeat import ALIVE_WITHIN, alive_clusters, beat, cluster_pid, record
from scanners.models import ClusterHeartbeat
from tests.test_two_clusters import QCluster, cluster_env, wait_for
from tests.test_worker_kill import shared_db  # noqa: F401 - a fixture

HERE = f"{socket.gethostname()}:{os.getpid()}"  # outside a cluster the "cluster" is this process


@pytest.mark.django_db
def test_a_heartbeat_is_created_once_then_only_moves_last_seen():
    t0 = timezone.now() - timedelta(minutes=10)
    assert record(t0) == HERE
    assert record(t0 + timedelta(minutes=1)) == HERE
    hb = ClusterHeartbeat.objects.get()
    assert (hb.name, hb.host, hb.pid) == (HERE, socket.gethostname(), os.getpid())
    assert (hb.started_at, hb.last_seen) == (t0, t0 + timedelta(minutes=1))


@pytest.mark.django_db
def test_alive_clusters_are_those_seen_within_three_minutes_by_default():
    now = timezone.now()
    for name, ago in (("a:1", 0), ("b:2", 2.9), ("c:3", 3.1), ("d:4", 60)):
        ClusterHeartbeat.objects.create(name=name, host=name[0], pid=int(name[2]), started_at=now - timedelta(hours=1),
                                        last_seen=now - timedelta(minutes=ago))
    assert ALIVE_WITHIN == timedelta(minutes=3)
    assert [h.name for h in alive_clusters(now=now)] == ["a:1", "b:2"]
    assert [h.name for h in alive_clusters(timedelta(minutes=5), now=now)] == ["a:1", "b:2", "c:3"]
    assert not alive_clusters(now=now + timedelta(hours=2)).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("signal, kwargs", [(pre_execute, {"func": print, "task": {}}),
                                            (post_execute, {"task": {}}),
                                            (post_spawn, {"proc_name": "Process-1"})])
def test_django_q_signals_record_the_heartbeat(signal, kwargs):
    signal.send(sender="django_q", **kwargs)  # as django-q2's worker and monitor send them
    assert list(alive_clusters().values_list("name", flat=True)) == [HERE]


@pytest.mark.django_db
def test_a_heartbeat_that_cannot_be_written_never_stops_the_task(monkeypatch, caplog):
    def broken(now=None):
        raise RuntimeError("database is gone")
    monkeypatch.setattr(heartbeat, "record", broken)
    pre_execute.send(sender="django_q", func=print, task={})  # django-q2 uses send(): it would raise
    assert "could not record the cluster heartbeat" in caplog.text


@pytest.mark.django_db
def test_the_beat_task_is_scheduled_every_minute():
    from django_q.models import Schedule

    s = Schedule.objects.get(name="cluster heartbeat")  # migration scanners.0004_heartbeat_schedule
    assert (s.func, s.schedule_type, s.minutes, s.repeats) == ("cryptosatx.heartbeat.beat", Schedule.MINUTES, 1, -1)
    assert beat() == {"cluster": HERE}
    assert alive_clusters().get().name == HERE


def _report_cluster_pid(out) -> None:
    out.put(cluster_pid())


def _sentinel(out) -> None:  # like django-q2's sentinel: a process that starts the workers
    worker = multiprocessing.get_context("fork").Process(target=_report_cluster_pid, args=(out,))
    worker.start()
    worker.join()


def test_a_worker_two_processes_down_names_the_process_that_started_the_cluster():
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    sentinel = ctx.Process(target=_sentinel, args=(out,))
    sentinel.start()
    sentinel.join(timeout=20)
    assert out.get(timeout=5) == os.getpid()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keep the seeded rows
def test_a_real_cluster_writes_its_own_heartbeat(shared_db, tmp_path):  # noqa: F811 - the imported fixture
    from django_q.models import Task
    from django_q.tasks import async_task

    cluster = QCluster(cluster_env(shared_db), tmp_path / "qcluster.log")
    try:
        # its worker spawned: the row is the qcluster process's, not the worker's
        first = wait_for(lambda: ClusterHeartbeat.objects.filter(name=cluster.name).first(), 25,
                         "the cluster's first heartbeat", [cluster])
        assert (first.host, first.pid) == (socket.gethostname(), cluster.pid)
        task_id = async_task("cryptosatx.heartbeat.beat")  # what the schedule enqueues every minute
        done = wait_for(lambda: Task.objects.filter(id=task_id).first(), 25, "the beat task", [cluster])
        assert done.success, done.result
        assert done.result == {"cluster": cluster.name}
        assert ClusterHeartbeat.objects.get(name=cluster.name).last_seen > first.last_seen
        assert cluster.name in alive_clusters().values_list("name", flat=True)
    finally:
        cluster.stop()
