"""Step 6 of the data flow: claim due AlertDelivery rows, apply anti-spam, pace, send, record.

Claiming is the healthchecks pattern: one conditional UPDATE per row (`filter(id=…, status=…)
.update(…)`), and the row is ours only if exactly one row changed — safe with several workers and
on PostgreSQL. A claim older than LEASE belongs to a worker that died and may be taken over; if
that worker had already started the request, the row becomes possibly_delivered (Telegram has no
idempotency key, so it is never resent automatically).

Every outcome is stored state; docs/alerts.md lists each status and reason.
"""
from __future__ import annotations

import logging
import os
import socket
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from cryptosatx.logcontext import log_context

from .messages import render_alert, render_digest
from .models import AlertDelivery, BotState, Recipient, SummaryDelivery
from .outbox import tier_disabled_reason

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 5
DIGEST_AFTER = 5  # more deliveries than this due for one chat at once → one digest message
BATCH = 200
STALE_AFTER = timedelta(hours=3)  # an alert this long after its candle closed is no longer actionable
PRIVATE_GAP = timedelta(seconds=1)  # Telegram: about 1 message per second per chat
GROUP_GAP = timedelta(seconds=3)  # and 20 per minute per group: one every 3 s keeps both

# reasons (AlertDelivery.reason); the tier ones come from outbox.tier_disabled_reason
COOLDOWN, HOURLY_CAP, STALE = "cooldown", "hourly_cap", "stale"
RECIPIENT_DISABLED, MAX_ATTEMPTS_REACHED, REJECTED = "recipient_disabled", "max_attempts", "rejected"
USER_INACTIVE = "user_inactive"  # the chat's user was deactivated after the row was queued
MAYBE_DELIVERED, WORKER_DIED, UNEXPECTED = "maybe_delivered", "worker_died_while_sending", "unexpected_error"
RENDER_ERROR, PACED, RATE_LIMITED, RETRYING = "render_error", "paced", "rate_limited", "retrying"
DIGEST, REQUEUED, BOT_MISCONFIGURED = "digest", "requeued", "bot_misconfigured"
DEFAULT_RETRY_AFTER = 30.0  # a 429 that did not say how long
CONFIG_PAUSE = timedelta(minutes=5)  # a bad token or API URL: retry after someone had time to fix it
# Telegram's words for "this chat will never accept the bot's messages"
CHAT_GONE = ("chat not found", "bot was blocked", "bot was kicked", "user is deactivated", "bot is not a member",
             "have no rights to send", "not enough rights", "group chat was upgraded", "chat_write_forbidden")


class Transport(Protocol):
    def send(self, chat_id, text: str, *, silent: bool = False, preview: bool = False): ...


def daily_cap_reason(tier: int) -> str:
    return f"tier_{tier}_daily_cap"


def default_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def backoff(attempts: int) -> timedelta:
    """Wait after the n-th retryable failure: 30 s, 1, 2, 4 min … (at most 30 min)."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 1800))


@dataclass
class SendReport:
    claimed: int = 0
    sent: int = 0  # rows sent (a digest sends several rows in one message)
    messages: int = 0
    digests: int = 0
    paced: int = 0
    retrying: int = 0
    suppressed: Counter = field(default_factory=Counter)
    summary_only: Counter = field(default_factory=Counter)
    failed: Counter = field(default_factory=Counter)
    possibly_delivered: int = 0
    paused_until: datetime | None = None
    next_due: datetime | None = None

    def as_dict(self) -> dict:
        d = dict(vars(self))
        for k in ("suppressed", "summary_only", "failed"):
            d[k] = dict(d[k])
        for k in ("paused_until", "next_due"):
            d[k] = d[k].isoformat() if d[k] else None
        return d


# ---------------------------------------------------------------- faults (shared with the summary)

@dataclass
class Fault:
    kind: str  # rate_limited | bot_misconfigured | maybe_delivered | chat_gone | rejected | retryable | unexpected
    message: str
    retry_after: float | None = None


def classify(exc: BaseException) -> Fault:
    """The transport's TransportError (permanent, retry_after, maybe_delivered, code) → what to do.
    Anything else is unexpected: we cannot know whether it reached Telegram."""
    message = str(exc) or exc.__class__.__name__
    permanent = getattr(exc, "permanent", None)
    if permanent is None:
        return Fault("unexpected", f"{exc.__class__.__name__}: {message}")
    retry_after, code = getattr(exc, "retry_after", None), getattr(exc, "code", None)
    if getattr(exc, "maybe_delivered", False):
        return Fault("maybe_delivered", message, retry_after)
    if retry_after is not None or code == 429:
        return Fault("rate_limited", message, float(retry_after if retry_after is not None else DEFAULT_RETRY_AFTER))
    if permanent:
        if code in (401, 404) or code is None:  # bad token or URL: the bot's fault, not this message's
            return Fault("bot_misconfigured", message, CONFIG_PAUSE.total_seconds())
        if code == 403 or any(hint in message.lower() for hint in CHAT_GONE):
            return Fault("chat_gone", message)
        return Fault("rejected", message)
    return Fault("retryable", message)


def pause_bot(now: datetime, retry_after: float, message: str) -> datetime:
    until = now + timedelta(seconds=max(retry_after, 1))
    BotState.get()
    BotState.objects.filter(pk=1).update(last_error=message, last_error_at=now)
    # only ever lengthen the pause: another worker may have just stored a longer one
    BotState.objects.filter(Q(paused_until__isnull=True) | Q(paused_until__lt=until), pk=1).update(paused_until=until)
    return BotState.objects.values_list("paused_until", flat=True).get(pk=1)


def note_error(now: datetime, message: str) -> None:
    BotState.get()
    BotState.objects.filter(pk=1).update(last_error=message, last_error_at=now)


def bot_paused_until(now: datetime) -> datetime | None:
    until = BotState.objects.filter(pk=1).values_list("paused_until", flat=True).first()
    return until if until and until > now else None


def gone_reason(recipient: Recipient) -> str | None:
    """Why a row queued for this chat must not go out any more, or None. Rows are written for active
    recipients only (Recipient.objects.active), but one may wait (paced, 429, retrying) while an admin
    disables the chat or deactivates its user: checked again just before sending. Needs recipient.user loaded."""
    if not recipient.enabled:
        return RECIPIENT_DISABLED
    if recipient.user_id is not None and not recipient.user.is_active:
        return USER_INACTIVE
    return None


def disable_recipient(recipient: Recipient, now: datetime, message: str) -> None:
    """Telegram will never accept this chat: disable it (visible in admin) and fail what waits for it."""
    Recipient.objects.filter(pk=recipient.pk).update(enabled=False, disabled_reason=message, disabled_at=now)
    recipient.enabled, recipient.disabled_reason, recipient.disabled_at = False, message, now
    for model in (AlertDelivery, SummaryDelivery):
        model.objects.filter(recipient=recipient, status__in=[model.PENDING, model.CLAIMED]).update(
            status=model.FAILED, reason=RECIPIENT_DISABLED, last_error=message, claimed_at=None, claimed_by="")
    log.warning("recipient %s (%s) disabled: %s", recipient.name, recipient.chat_id, message)


def reserve_slot(recipient: Recipient, now: datetime) -> datetime | None:
    """Pacing: take the chat's next send slot with a conditional UPDATE. None = taken; else the
    time the chat must wait until, for the caller to park its rows."""
    gap = GROUP_GAP if recipient.is_group else PRIVATE_GAP
    free = Q(next_send_at__isnull=True) | Q(next_send_at__lte=now)
    if Recipient.objects.filter(free, pk=recipient.pk).update(next_send_at=now + gap) == 1:
        return None
    return Recipient.objects.values_list("next_send_at", flat=True).get(pk=recipient.pk) or now + gap


# ---------------------------------------------------------------- claiming (both delivery models)

def _due(model: type[models.Model], now: datetime) -> Q:
    return Q(status=model.PENDING, next_attempt_at__lte=now) | Q(status=model.CLAIMED, claimed_at__lt=now - LEASE)


def due_ids(now: datetime, limit: int = BATCH, model: type[models.Model] = AlertDelivery) -> list[int]:
    """Rows a worker may claim now: due pending rows, and claims whose lease ran out."""
    qs = model.objects.filter(_due(model, now))
    order = ["signal__tier", "next_attempt_at", "pk"] if model is AlertDelivery else ["next_attempt_at", "pk"]
    return list(qs.order_by(*order).values_list("pk", flat=True)[:limit])


def claim(ids: list[int], now: datetime, worker: str, model: type[models.Model] = AlertDelivery) -> list[int]:
    """Claim each row with its own conditional UPDATE; returns the ids this worker now holds.
    A taken-over claim whose request had started becomes possibly_delivered instead."""
    mine = [pk for pk in ids
            if model.objects.filter(_due(model, now), pk=pk).update(
                status=model.CLAIMED, claimed_at=now, claimed_by=worker) == 1]
    died = list(model.objects.filter(pk__in=mine, send_started_at__isnull=False).values_list("pk", flat=True))
    if died:
        model.objects.filter(pk__in=died, claimed_by=worker).update(
            status=model.POSSIBLY_DELIVERED, reason=WORKER_DIED,
            last_error="the worker that was sending this died mid-request; it may have reached Telegram")
    return [pk for pk in mine if pk not in died]


def release(model, ids, worker: str, next_attempt_at: datetime, reason: str = "", **extra) -> int:
    """Back to pending (nothing was sent), due again at next_attempt_at."""
    return model.objects.filter(pk__in=list(ids), claimed_by=worker, status=model.CLAIMED).update(
        status=model.PENDING, claimed_at=None, claimed_by="", send_started_at=None, next_attempt_at=next_attempt_at,
        reason=reason, **extra)


def finish(model, ids, worker: str, status: str, reason: str = "", **extra) -> int:
    return model.objects.filter(pk__in=list(ids), claimed_by=worker, status=model.CLAIMED).update(
        status=status, reason=reason, **extra)


def apply_fault(model, rows: list, recipient: Recipient, fault: Fault, now: datetime, worker: str) -> str:
    """Store a failed send of `rows` (one message) as state. Returns the fault's kind."""
    ids = [r.pk for r in rows]
    if fault.kind in ("rate_limited", "bot_misconfigured"):
        until = pause_bot(now, fault.retry_after or 1, fault.message)
        release(model, ids, worker, until, RATE_LIMITED if fault.kind == "rate_limited" else BOT_MISCONFIGURED,
                last_error=fault.message)
        log.warning("%s: every send paused until %s", fault.message, until.isoformat())
    elif fault.kind in ("maybe_delivered", "unexpected"):
        if fault.retry_after is not None:
            pause_bot(now, fault.retry_after, fault.message)
        reason = MAYBE_DELIVERED if fault.kind == "maybe_delivered" else UNEXPECTED
        finish(model, ids, worker, model.POSSIBLY_DELIVERED, reason, last_error=fault.message)
        if fault.kind == "unexpected":
            log.error("unexpected error sending to %s: %s", recipient.chat_id, fault.message)
    elif fault.kind == "chat_gone":
        finish(model, ids, worker, model.FAILED, RECIPIENT_DISABLED, last_error=fault.message)
        disable_recipient(recipient, now, fault.message)
    elif fault.kind == "rejected":
        finish(model, ids, worker, model.FAILED, REJECTED, last_error=fault.message)
        log.error("Telegram rejected our message to %s (our bug, not retried): %s", recipient.chat_id, fault.message)
    else:  # retryable: back off, and give up after MAX_ATTEMPTS
        for row in rows:
            attempts = row.attempts + 1
            if attempts >= MAX_ATTEMPTS:
                finish(model, [row.pk], worker, model.FAILED, MAX_ATTEMPTS_REACHED, attempts=attempts,
                       last_error=fault.message)
            else:
                release(model, [row.pk], worker, now + backoff(attempts), RETRYING, attempts=attempts,
                        last_error=fault.message)
    if fault.kind not in ("rate_limited", "bot_misconfigured"):
        note_error(now, fault.message)
    return fault.kind


def send_message(model, rows: list, recipient: Recipient, transport: Transport, text: str, silent: bool,
                 now: datetime, worker: str, sent_reason: str = "") -> str:
    """Send one message covering `rows`. Returns "sent", "lost" (not ours any more) or the fault's kind."""
    ids = [r.pk for r in rows]
    if model.objects.filter(pk__in=ids, claimed_by=worker, status=model.CLAIMED).update(send_started_at=now) < len(ids):
        # Our lease ran out (a stalled pass) and another worker took over some of these rows: it sends them.
        release(model, ids, worker, now)  # any still ours go back, due now
        log.warning("%s lost its claim on %s before sending: left to the worker that took them over", worker, ids)
        return "lost"
    try:
        sent = transport.send(recipient.chat_id, text, silent=silent, preview=False)
    except Exception as exc:  # noqa: BLE001 - every failure becomes stored state, never a crashed worker
        return apply_fault(model, rows, recipient, classify(exc), now, worker)
    finish(model, ids, worker, model.SENT, sent_reason, message_id=sent.message_id, sent_at=now, last_error="")
    return "sent"


# ---------------------------------------------------------------- anti-spam

class Budget:
    """What one pass already knows a recipient received: sends from the database (loaded once per
    recipient) plus the rows this pass has accepted."""

    def __init__(self, now: datetime):
        self.now = now
        self.cooldown = timedelta(hours=settings.ALERT_COOLDOWN_HOURS)
        self.day_start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
        self.sent: dict[int, list[tuple]] = {}

    def _history(self, recipient_id: int) -> list[tuple]:
        if recipient_id not in self.sent:
            since = min(self.now - self.cooldown, self.now - timedelta(hours=1), self.day_start)
            self.sent[recipient_id] = list(AlertDelivery.objects.filter(
                recipient_id=recipient_id, status=AlertDelivery.SENT, sent_at__gte=since).values_list(
                "signal__coin_id", "signal__scanner", "signal__direction", "signal__tier", "sent_at"))
        return self.sent[recipient_id]

    def verdict(self, row: AlertDelivery) -> str | None:
        """The suppression reason, or None to send."""
        s, history = row.signal, self._history(row.recipient_id)
        recent = [h for h in history if h[:3] == (s.coin_id, s.scanner, s.direction)
                  and h[4] > self.now - self.cooldown]
        if recent and s.tier >= max(recent, key=lambda h: h[4])[3]:  # not an escalation over the last sent
            return COOLDOWN
        cap = {1: settings.TIER_1_MAX_PER_DAY, 2: settings.TIER_2_MAX_PER_DAY}.get(s.tier)
        if cap is not None and sum(1 for h in history if h[3] == s.tier and h[4] >= self.day_start) >= cap:
            return daily_cap_reason(s.tier)
        if sum(1 for h in history if h[4] > self.now - timedelta(hours=1)) >= settings.MAX_ALERTS_PER_HOUR:
            return HOURLY_CAP
        return None

    def accept(self, row: AlertDelivery) -> None:
        s = row.signal
        self._history(row.recipient_id).append((s.coin_id, s.scanner, s.direction, s.tier, self.now))

    def forget(self, rows: list[AlertDelivery]) -> None:
        """Accepted rows that were not sent after all (paced, 429)."""
        for row in rows:
            s, history = row.signal, self._history(row.recipient_id)
            history.remove((s.coin_id, s.scanner, s.direction, s.tier, self.now))


def screen(row: AlertDelivery, now: datetime, budget: Budget) -> tuple[str, str] | None:
    """(status, reason) for a row that must not go out now, or None to send it."""
    reason = gone_reason(row.recipient)
    if reason:
        return AlertDelivery.FAILED, reason
    reason = tier_disabled_reason(row.signal.tier)
    if reason:
        return AlertDelivery.SUMMARY_ONLY, reason
    anchor = max(row.signal.candle_close_time, row.requeued_at or row.signal.candle_close_time)
    if now - anchor > STALE_AFTER:
        return AlertDelivery.SUPPRESSED, STALE
    reason = budget.verdict(row)
    return (AlertDelivery.SUPPRESSED, reason) if reason else None


# ---------------------------------------------------------------- the pass

def send_pending(transport: Transport, now: datetime | None = None, worker: str | None = None) -> SendReport:
    """One pass over the due deliveries. Call it again (e.g. every few seconds) to drain paced rows."""
    now = now or timezone.now()
    worker = worker or default_worker()
    report = SendReport()
    report.paused_until = bot_paused_until(now)
    if report.paused_until:
        report.next_due = report.paused_until
        return report
    ids = claim(due_ids(now), now, worker)
    report.claimed = len(ids)
    rows = list(AlertDelivery.objects.filter(pk__in=ids).select_related("signal__coin", "recipient__user")
                .order_by("signal__tier", "signal__created_at", "pk"))
    budget = Budget(now)
    accepted: dict[int, list[AlertDelivery]] = defaultdict(list)
    for row in rows:
        verdict = screen(row, now, budget)
        if verdict is None:
            budget.accept(row)
            accepted[row.recipient_id].append(row)
            continue
        status, reason = verdict
        finish(AlertDelivery, [row.pk], worker, status, reason)
        {AlertDelivery.SUPPRESSED: report.suppressed, AlertDelivery.SUMMARY_ONLY: report.summary_only,
         AlertDelivery.FAILED: report.failed}[status][reason] += 1
    paused = False
    for group in accepted.values():
        if paused:  # a 429 pauses every chat, not only the one it came from
            release(AlertDelivery, [r.pk for r in group], worker, report.paused_until, RATE_LIMITED)
            continue
        signal_ids = sorted({r.signal_id for r in group})  # the log lines of this send name its signal(s)
        with log_context(signal_id=signal_ids[0] if len(signal_ids) == 1 else signal_ids):
            outcome = _deliver(transport, group, now, worker, report, budget)
        if outcome == "rate_limited":
            paused = True
            report.paused_until = bot_paused_until(now)
    report.next_due = next_due(now)
    return report


def _deliver(transport: Transport, rows: list[AlertDelivery], now: datetime, worker: str, report: SendReport,
             budget: Budget) -> str:
    recipient = rows[0].recipient
    wait_until = reserve_slot(recipient, now)
    if wait_until is not None:
        release(AlertDelivery, [r.pk for r in rows], worker, wait_until, PACED)
        budget.forget(rows)
        report.paced += len(rows)
        return "paced"
    digest = len(rows) > DIGEST_AFTER
    try:
        if digest:
            text, n = render_digest([r.signal for r in rows])
        else:
            text, n = render_alert(rows[0].signal), 1
    except Exception:  # noqa: BLE001 - a template bug fails these rows, not the worker
        log.exception("could not render alert(s) %s", [r.pk for r in rows])
        finish(AlertDelivery, [r.pk for r in rows], worker, AlertDelivery.FAILED, RENDER_ERROR,
               last_error="rendering failed (see the worker log)")
        report.failed[RENDER_ERROR] += len(rows)
        return "failed"
    batch, rest = rows[:n], rows[n:]
    if rest:  # the chat's next slot
        gap = GROUP_GAP if recipient.is_group else PRIVATE_GAP
        release(AlertDelivery, [r.pk for r in rest], worker, now + gap, PACED)
        budget.forget(rest)
        report.paced += len(rest)
    silent = all(r.signal.tier == 3 for r in batch)
    outcome = send_message(AlertDelivery, batch, recipient, transport, text, silent, now, worker,
                           DIGEST if digest else "")
    if outcome == "sent":
        report.sent += len(batch)
        report.messages += 1
        report.digests += int(digest)
        return outcome
    budget.forget(batch)
    if outcome == "lost":
        return outcome
    if outcome in ("rate_limited", "bot_misconfigured"):
        return "rate_limited"
    if outcome in ("maybe_delivered", "unexpected"):
        report.possibly_delivered += len(batch)
    elif outcome == "retryable":
        failed = AlertDelivery.objects.filter(pk__in=[r.pk for r in batch], status=AlertDelivery.FAILED).count()
        report.failed[MAX_ATTEMPTS_REACHED] += failed
        report.retrying += len(batch) - failed
    else:
        report.failed[RECIPIENT_DISABLED if outcome == "chat_gone" else REJECTED] += len(batch)
    return outcome


def next_due(now: datetime) -> datetime | None:
    """When the next pending row falls due (for a task that keeps draining), or the pause's end."""
    paused = bot_paused_until(now)
    at = AlertDelivery.objects.filter(status=AlertDelivery.PENDING).order_by("next_attempt_at").values_list(
        "next_attempt_at", flat=True).first()
    if at is None:
        return paused
    return max(at, paused) if paused else at


def requeue(queryset) -> int:
    """Admin "resend": failed and possibly_delivered rows become pending again (a person decided)."""
    now = timezone.now()
    return queryset.filter(status__in=[AlertDelivery.FAILED, AlertDelivery.POSSIBLY_DELIVERED]).update(
        status=AlertDelivery.PENDING, reason=REQUEUED, attempts=0, next_attempt_at=now, requeued_at=now,
        claimed_at=None, claimed_by="", send_started_at=None)
