"""The dead-man alert: a Telegram message when a scanner has completed no scan for twice its
interval, and one when scans resume — told once each, not every minute.

The schedule "dead-man check" (setup_schedules) runs `check_task` every minute. The decision and
the message to send are stored in `DeadmanState` (one row) before anything is sent; a send that
fails (Telegram down, 429) stays pending and is retried on the next run, to the chats it has not
reached yet. It goes to the global recipients (TELEGRAM_CHAT_ID and the global chats in admin),
through the alert sender's transport, pause (a 429 pauses every send) and pacing.
A scanner that never completed a scan counts from the first check (`watching_since`), so a fresh
install is not late before its first scheduled scans had their chance.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from signals.models import Recipient
from signals.sender import Transport, bot_paused_until, classify, note_error, pause_bot
from signals.telegram import escape

from .health import SCAN_INTERVALS, last_finished_scans
from .logcontext import log_context
from .models import DeadmanState

log = logging.getLogger(__name__)
SEND_LEASE = timedelta(seconds=60)  # a worker that died mid-send leaves the message to the next run


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours < 48 else f"{hours // 24} days {hours % 24} h"


def late_scanners(now: datetime, watching_since: datetime) -> dict[str, datetime | None]:
    """scanner -> its last completed scan (None: never), for each scanner past twice its interval."""
    if not settings.AUTO_SCAN_ENABLED:
        return {}
    late = {}
    for scanner, last in last_finished_scans().items():
        limit = timedelta(hours=2 * getattr(settings, SCAN_INTERVALS[scanner]))
        if now - (last or watching_since) > limit:
            late[scanner] = last
    return late


def down_text(late: dict[str, datetime | None], now: datetime) -> str:
    lines = ["⚠️ <b>CryptoSatX: scans have stopped</b>"]
    for scanner, last in sorted(late.items()):
        hours = getattr(settings, SCAN_INTERVALS[scanner])
        when = f"last completed scan {_duration(now - last)} ago" if last else "no completed scan yet"
        lines.append(f"• {escape(scanner)}: {when} (runs every {hours:g} h)")
    lines.append(f"Check the q cluster and {escape(settings.SITE_URL.rstrip('/'))}/healthz")
    return "\n".join(lines)


def recovered_text(since: datetime | None, now: datetime) -> str:
    outage = f" after {_duration(now - since)}" if since else ""
    return f"✅ <b>CryptoSatX: scans resumed</b>{outage}. Every scanner completed a scan within twice its interval."


def decide(now: datetime) -> DeadmanState:
    """Compare the scanners with what was announced; store a message to send when that changed."""
    with transaction.atomic():
        DeadmanState.objects.get_or_create(pk=1)
        state = DeadmanState.objects.select_for_update().get(pk=1)
        late = late_scanners(now, state.watching_since)
        announced = set(state.late)
        if set(late) - announced:  # a scanner newly late: one message naming all the late ones
            state.since = state.since or now
            _queue(state, "down", down_text(late, now))
        elif announced and not late:
            told = state.last_sent_at is not None and state.since is not None and state.last_sent_at >= state.since
            if told:
                _queue(state, "recovered", recovered_text(state.since, now))
            else:  # over before anyone was told: nothing to tell
                state.pending_text, state.pending_kind, state.pending_to = "", "", []
            state.since = None
        state.late = sorted(late)
        state.save()
    return state


def _queue(state: DeadmanState, kind: str, text: str) -> None:
    Recipient.ensure_from_settings()
    chats = list(Recipient.objects.filter(kind=Recipient.GLOBAL, enabled=True).order_by("pk")
                 .values_list("chat_id", flat=True))
    if not chats:
        log.warning("dead-man: %s, but there is no Telegram chat to tell (set TELEGRAM_CHAT_ID)", kind)
    state.pending_text, state.pending_kind, state.pending_to = text, kind, chats


def deliver(transport: Transport, now: datetime) -> dict:
    """Send the pending message to the chats it has not reached; returns what happened."""
    free = Q(sending_until__isnull=True) | Q(sending_until__lte=now)
    if not DeadmanState.objects.filter(free, pk=1).exclude(pending_text="").update(sending_until=now + SEND_LEASE):
        return {"sent": 0}  # nothing pending, or another worker is sending it
    state = DeadmanState.objects.get(pk=1)
    sent, outcome = 0, "sent"
    try:
        for chat_id in list(state.pending_to):
            if bot_paused_until(now):
                outcome = "paused"
                break
            try:
                transport.send(chat_id, state.pending_text)
            except Exception as exc:  # noqa: BLE001 - every failure is stored state, never a crashed task
                fault = classify(exc)
                state.last_error = fault.message
                if fault.kind in ("rate_limited", "bot_misconfigured"):
                    pause_bot(now, fault.retry_after or 1, fault.message)
                    outcome = "paused"
                    break
                note_error(now, fault.message)
                if fault.kind == "retryable":
                    outcome = "retrying"
                    continue  # the next run tries this chat again
                # Permanent for this chat (blocked, rejected) or possibly delivered: not resent.
                log.warning("dead-man message to %s not resent: %s", chat_id, fault.message)
            else:
                sent += 1
                state.last_sent_at = now
            state.pending_to.remove(chat_id)
        if not state.pending_to:
            log.info("dead-man: %s message delivered", state.pending_kind)
            state.pending_text, state.pending_kind = "", ""
    finally:
        DeadmanState.objects.filter(pk=1).update(
            pending_text=state.pending_text, pending_kind=state.pending_kind, pending_to=state.pending_to,
            sending_until=None, last_sent_at=state.last_sent_at, last_error=state.last_error)
    return {"sent": sent, "outcome": outcome, "pending_to": len(state.pending_to)}


def check(transport: Transport, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    with log_context(task="dead-man check"):
        state = decide(now)
        result = deliver(transport, now) if state.pending_text else {"sent": 0}
    return {"late": state.late, **result}


def check_task() -> dict:
    """The django-q2 entry point (every minute)."""
    from signals.telegram import TelegramTransport

    with TelegramTransport.from_settings() as transport:
        return check(transport)
