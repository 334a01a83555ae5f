"""Which django-q2 clusters are alive: one `ClusterHeartbeat` row per `qcluster` process.

A cluster writes its row (`host:pid` of the `qcluster` process) whenever one of its workers
starts (`post_spawn`), before and after every task (`pre_execute` in the worker, `post_execute`
in the monitor), and in the task `beat` that the schedule "cluster heartbeat" (migration
`scanners.0004_heartbeat_schedule`) runs every minute, so an idle cluster still shows life.
`alive_clusters()` lists the rows seen recently. docs/architecture.md, "Workers and clusters".
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import socket
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.dispatch import receiver
from django.utils import timezone
from django_q.signals import post_execute, post_spawn, pre_execute

from scanners.models import ClusterHeartbeat

log = logging.getLogger(__name__)

ALIVE_WITHIN = timedelta(minutes=3)  # three missed beats of the one-minute schedule


def _parent_of(pid: int) -> int | None:
    """The parent pid of `pid` (Linux /proc), or None where that cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return int(stat[stat.rindex(b")") + 2:].split()[1])  # after "pid (comm) state"
    except (OSError, ValueError, IndexError):
        return None


def cluster_pid() -> int:
    """The pid of the `qcluster` process this code runs under. django-q2 runs tasks in a worker
    (and sends post_execute from the monitor) whose parent is the cluster's sentinel, a child of
    the `qcluster` process. Outside a cluster (sync mode, a shell, a test): this process."""
    if multiprocessing.parent_process() is None:
        return os.getpid()
    sentinel = os.getppid()
    return _parent_of(sentinel) or sentinel


def cluster_name() -> str:
    return f"{socket.gethostname()}:{cluster_pid()}"


def record(now: datetime | None = None) -> str:
    """This cluster is alive at `now`: update its row, or create it (started_at = first sight)."""
    now = now or timezone.now()
    host, pid = socket.gethostname(), cluster_pid()
    name = f"{host}:{pid}"
    if not ClusterHeartbeat.objects.filter(name=name).update(last_seen=now):
        try:
            with transaction.atomic():
                ClusterHeartbeat.objects.create(name=name, host=host, pid=pid, started_at=now, last_seen=now)
        except IntegrityError:  # another worker of this cluster wrote it first
            ClusterHeartbeat.objects.filter(name=name).update(last_seen=now)
    return name


def alive_clusters(within: timedelta = ALIVE_WITHIN, now: datetime | None = None) -> QuerySet:
    """The clusters seen within `within` of `now`, by name."""
    now = now or timezone.now()
    return ClusterHeartbeat.objects.filter(last_seen__gte=now - within).order_by("name")


def beat() -> dict:
    """The scheduled task (every minute): proof of life even when nothing else runs."""
    return {"cluster": record()}


@receiver(post_spawn, dispatch_uid="cryptosatx.heartbeat.post_spawn")
@receiver(pre_execute, dispatch_uid="cryptosatx.heartbeat.pre_execute")
@receiver(post_execute, dispatch_uid="cryptosatx.heartbeat.post_execute")
def on_cluster_activity(sender, **kwargs) -> None:
    """django-q2 sends these with Signal.send: an exception here would kill the worker (or the
    monitor), so a heartbeat that cannot be written is only logged."""
    try:
        record()
    except Exception:  # noqa: BLE001 - never let bookkeeping stop a task
        log.warning("could not record the cluster heartbeat", exc_info=True)
