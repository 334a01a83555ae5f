"""django-q2 task entry points: thin; they re-read settings, claim the slot, and call the engine."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from django.conf import settings
from django.db import IntegrityError, transaction

from scanners.models import ScanRun, ScanSlot

from .scanning import assemble_scan, scan, scan_chunk

INTERVAL_KEYS = {"smart_money": "SMART_MONEY_INTERVAL_HOURS", "mss": "MSS_DISCOVERY_INTERVAL_HOURS",
                 "rsi": "RSI_SCREENER_INTERVAL_HOURS", "social": "LUNARCRUSH_INTERVAL_HOURS",
                 "all": "SMART_MONEY_INTERVAL_HOURS"}


def slot_start(scanner: str, now: datetime) -> datetime:
    """The start of the schedule slot `now` falls in (slots are aligned to the epoch)."""
    seconds = max(60, int(getattr(settings, INTERVAL_KEYS[scanner]) * 3600))
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=timezone.utc)


def reap_dead_runs(now: datetime) -> int:
    """Runs still 'running' past the q cluster's timeout belong to a worker that died: mark them.
    A chunked run is given its chunks' retries too (a chunk whose worker died runs again after
    Q_CLUSTER["retry"], up to max_attempts times) before it counts as dead."""
    q = settings.Q_CLUSTER
    cutoff = now - timedelta(seconds=q["timeout"])
    chunked_cutoff = now - timedelta(seconds=q["timeout"] + q["retry"] * max(1, q.get("max_attempts") or 1))
    running = ScanRun.objects.filter(status=ScanRun.RUNNING)
    return (running.filter(started_at__lt=cutoff).exclude(parameters__has_key="chunks")
            .update(status=ScanRun.FAILED, finished_at=now)
            + running.filter(started_at__lt=chunked_cutoff, parameters__has_key="chunks")
            .update(status=ScanRun.FAILED, finished_at=now))


def chunk_size() -> int:
    return settings.SCAN_CHUNK_SIZE


def scan_task(scanner: str, now: datetime | None = None) -> dict:
    """Run one scheduled slot of `scanner`: at most once per slot, never beside a running scan of it."""
    if not settings.AUTO_SCAN_ENABLED:
        return {"skipped": "AUTO_SCAN_ENABLED is false"}
    now = now or datetime.now(timezone.utc)
    reap_dead_runs(now)
    try:
        with transaction.atomic():
            slot = ScanSlot.objects.create(scanner=scanner, slot_start=slot_start(scanner, now))
    except IntegrityError:
        return {"skipped": "this slot already ran (another worker or cluster took it)"}
    if ScanRun.objects.filter(scanner=scanner, status=ScanRun.RUNNING).exists():
        slot.skipped = "the previous scan of this scanner is still running"
        slot.save(update_fields=["skipped"])
        return {"skipped": slot.skipped}
    run = scan(scanner, chunk_size=chunk_size())
    slot.run = run
    slot.save(update_fields=["run"])
    out = {"run_id": run.pk, "status": run.status, "scored": run.scored, "universe": run.universe_size}
    if "chunks" in run.parameters:
        out["chunks"] = run.parameters["chunks"]
    return out


def scan_chunk_task(run_id: int, index: int) -> dict:
    """One chunk of a chunked scan (any cluster may run it; safe to run twice)."""
    return scan_chunk(run_id, index)


def assemble_scan_task(run_id: int) -> dict:
    """Finish a chunked scan once all its chunks are done: status, coverage, signals (exactly once)."""
    return assemble_scan(run_id)
