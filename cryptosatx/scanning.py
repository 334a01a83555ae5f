"""The wiring of a scan: the scanners package fetches and scores, signals turns the scores into
unified scores. Commands and tasks call `scan` here, so each package keeps its one-way imports
(marketdata <- scanners <- signals).

The scheduled scan task passes `chunk_size`: a universe larger than one chunk is then split into
chunk tasks that any q cluster may run (scanners.chunks; docs/architecture.md, "Scale-out")."""
from __future__ import annotations

from contextvars import ContextVar

from django.db.models.signals import post_save
from django.dispatch import receiver

from scanners import chunks
from scanners.engine import run_scan, scan_gc
from scanners.models import ScanRun
from scanners.pipeline import Thresholds
from signals.models import ScoringConfig
from signals.outbox import record_signals
from signals.ranking import update_unified

from .logcontext import bind, log_context

CHUNK_TASK = "cryptosatx.tasks.scan_chunk_task"
ASSEMBLE_TASK = "cryptosatx.tasks.assemble_scan_task"


def current_thresholds() -> Thresholds:
    """The scanner thresholds as edited in admin (ScoringConfig, created from .env on first use)."""
    c = ScoringConfig.current()
    return Thresholds(c.accumulation_threshold, c.distribution_threshold, c.mss_threshold, c.rsi_oversold,
                      c.rsi_overbought, Thresholds.from_settings().rsi_period)


def enqueue_chunk(run_id: int, index: int) -> None:
    from django_q.tasks import async_task

    async_task(CHUNK_TASK, run_id, index, group=f"scan-{run_id}", task_name=f"scan-{run_id}-chunk-{index}")


def enqueue_assemble(run_id: int) -> None:
    from django_q.tasks import async_task

    async_task(ASSEMBLE_TASK, run_id, group=f"scan-{run_id}")


def scan(scanner: str, symbols: list[str] | None = None, *, chunk_size: int | None = None) -> ScanRun:
    """Run a scan with the admin's thresholds, store its results and the coins' unified scores, and
    write the signals it raised with their alert deliveries (the outbox the sender task drains).
    With `chunk_size` and a bigger universe the run is returned `running`, its chunks enqueued."""
    chunking = chunks.Chunking(chunk_size, enqueue_chunk) if chunk_size else None
    # Every log line of the scan carries its run id (bound when the engine creates the run, below).
    with log_context(task=f"scan {scanner}", run_id=None), scan_gc():  # scan_gc: recording the signals too
        awaiting = _awaiting_run.set(True)
        try:
            run = run_scan(scanner, symbols, thresholds=current_thresholds(), on_scored=update_unified,
                           chunking=chunking)
        finally:
            _awaiting_run.reset(awaiting)
        if run.status not in (ScanRun.FAILED, ScanRun.RUNNING):
            record_signals(run)
    return run


_awaiting_run: ContextVar[bool] = ContextVar("cryptosatx_awaiting_run", default=False)


@receiver(post_save, sender=ScanRun, dispatch_uid="cryptosatx.scanning.bind_run_id")
def _bind_run_id(sender, instance: ScanRun, created: bool, **kwargs) -> None:
    if created and _awaiting_run.get():
        _awaiting_run.set(False)
        bind(run_id=instance.pk)


def scan_chunk(run_id: int, index: int) -> dict:
    """One chunk; the chunk that finds every chunk finished enqueues the assembly (maybe twice:
    assembling is idempotent)."""
    with log_context(task=f"scan chunk {index}", run_id=run_id):
        result = chunks.run_chunk(run_id, index, on_scored=update_unified)
        if result["chunks_left"] == 0:
            enqueue_assemble(run_id)
    return result


def assemble_scan(run_id: int) -> dict:
    with log_context(task="scan assembly", run_id=run_id):
        return chunks.assemble(run_id, on_assembled=record_signals)
