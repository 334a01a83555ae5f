"""/alerts: what happened to each alert (AlertDelivery), grouped by status: delivered with
Telegram's message id, suppressed and held back with their stored reason, failed and possibly
delivered with the error. Each group shows its newest rows and its full count."""
from __future__ import annotations

from django.db.models import Count
from django.shortcuts import render

from signals.models import AlertDelivery as D

SHOWN = 50
# (key, heading, statuses, what the user can do about it)
GROUPS = [
    ("delivered", "Delivered", [D.SENT], ""),
    ("problems", "Failed or possibly delivered", [D.FAILED, D.POSSIBLY_DELIVERED],
     "Nothing is resent automatically; an admin can requeue these (admin → Alert deliveries → "
     "“Requeue (resend)”)."),
    ("suppressed", "Suppressed or summary only", [D.SUPPRESSED, D.SUMMARY_ONLY],
     "Held back on purpose; summary-only alerts appear in the daily summary."),
    ("waiting", "Waiting to be sent", [D.PENDING, D.CLAIMED],
     "The q cluster sends these within the minute (python manage.py qcluster, or make run)."),
]
# docs/alerts.md, "Statuses and reasons", in a line each.
REASONS = {
    "": "sent alone", "digest": "folded into a digest",
    "tier_3_summary_only": "tier 3 goes to the daily summary only (TELEGRAM_TIER_3_ENABLED is off)",
    "tier_1_disabled": "TELEGRAM_TIER_1_ENABLED is off", "tier_2_disabled": "TELEGRAM_TIER_2_ENABLED is off",
    "stale": "more than 3 h after its candle closed: no longer actionable",
    "cooldown": "the same coin, scanner and direction was alerted within ALERT_COOLDOWN_HOURS",
    "tier_1_daily_cap": "TIER_1_MAX_PER_DAY reached", "tier_2_daily_cap": "TIER_2_MAX_PER_DAY reached",
    "hourly_cap": "MAX_ALERTS_PER_HOUR reached",
    "paced": "waiting for the chat's next slot", "rate_limited": "Telegram asked us to slow down (429)",
    "bot_misconfigured": "bad or missing bot token or TELEGRAM_API_URL", "retrying": "retrying after an error",
    "requeued": "requeued by an admin", "max_attempts": "gave up after 5 retryable errors",
    "recipient_disabled": "the chat is disabled (by Telegram refusing it, or in admin)",
    "user_inactive": "the chat's user was deactivated before it was sent",
    "rejected": "Telegram refused the message", "render_error": "the message template failed",
    "maybe_delivered": "the request left but the answer was lost",
    "worker_died_while_sending": "a worker died while sending",
    "unexpected_error": "the transport raised an unexpected error",
}


def alerts_page(request):
    counts = dict(D.objects.values_list("status").annotate(n=Count("pk")).order_by())
    groups = []
    for key, heading, statuses, advice in GROUPS:
        rows = list(D.objects.filter(status__in=statuses).select_related("signal__coin", "recipient")
                    .order_by("-created_at", "-pk")[:SHOWN])
        for row in rows:
            row.reason_text = REASONS.get(row.reason, row.reason)
        groups.append({"key": key, "heading": heading, "rows": rows, "advice": advice,
                       "count": sum(counts.get(s, 0) for s in statuses)})
    return render(request, "alerts/list.html", {"groups": groups, "total": sum(counts.values()), "shown": SHOWN})
