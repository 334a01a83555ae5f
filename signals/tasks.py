"""django-q2 entry points: thin; they take primary keys, re-fetch, and call outbox/sender/summary."""
from __future__ import annotations

import logging
import time

from django.utils import timezone

from scanners.models import ScanRun

from .outbox import record_signals, unprocessed_runs
from .sender import send_pending
from .summary import send_daily_summary, send_due_summaries

log = logging.getLogger(__name__)

DRAIN_SECONDS = 50  # a pass per second or so while rows fall due within the minute between runs


def _transport():
    from .telegram import TelegramTransport  # imported late: the transport is its own module

    return TelegramTransport.from_settings()


def record_signals_for_run(run_id: int) -> dict:
    run = ScanRun.objects.filter(pk=run_id).first()
    if run is None:
        return {"skipped": f"scan run {run_id} is gone"}
    return {"run_id": run_id, "signals": len(record_signals(run))}


def record_new_runs() -> dict:
    """Record the signals of finished runs nobody recorded yet (a scan task that did not chain)."""
    runs = unprocessed_runs(timezone.now())
    return {"runs": len(runs), "signals": sum(len(record_signals(run)) for run in runs)}


def send_alerts(drain_seconds: float = DRAIN_SECONDS) -> dict:
    """Every minute: catch up on unrecorded runs, then send due deliveries; keep going while paced
    rows fall due within `drain_seconds`, so a burst does not wait for the next schedule. Last, a daily
    summary that had to wait (paced behind an alert, a 429, a retry) goes out."""
    recorded = record_new_runs()
    transport = _transport()
    deadline = time.monotonic() + drain_seconds
    totals: dict = {"recorded": recorded, "passes": 0, "sent": 0, "messages": 0}
    while True:
        report = send_pending(transport)
        totals["passes"] += 1
        totals["sent"] += report.sent
        totals["messages"] += report.messages
        totals["last"] = report.as_dict()
        if report.next_due is None:
            break
        wait = (report.next_due - timezone.now()).total_seconds()
        if time.monotonic() + max(wait, 0) > deadline:
            break
        time.sleep(min(max(wait, 0.2), 5))
    totals["summaries"] = send_due_summaries(transport)
    return totals


def send_daily_summary_task() -> dict:
    return send_daily_summary(_transport())
