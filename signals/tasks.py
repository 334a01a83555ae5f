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


# One transport per worker process, kept between runs: its pooled HTTPS connection to Telegram is
# reused by every minute's run instead of a new client (and TLS handshake, ~0.1 s) each time, and no
# client is left for the garbage collector to close. A new one when the settings it was made from change.
_kept: tuple[tuple, object] | None = None


def _transport():
    from django.conf import settings

    from .telegram import TelegramTransport  # imported late: the transport is its own module

    global _kept
    made_from = (settings.TELEGRAM_API_URL, settings.TELEGRAM_BOT_TOKEN, getattr(settings, "HTTP_TIMEOUT_SECONDS", 10.0))
    if _kept is None or _kept[0] != made_from:
        if _kept is not None:
            _kept[1].close()
        _kept = (made_from, TelegramTransport.from_settings())
    return _kept[1]


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
