"""Calibration of the unified score: in each unified-score bucket, how often did the signal WIN at the
horizon? (PLAN.md §4.3; definitions in docs/performance-tracking.md "Calibration".)"""
from __future__ import annotations

import statistics
from datetime import datetime, timedelta

from django.utils import timezone

from .models import SignalOutcome
from .stats import _r, wilson

# [low, high) on the signal's unified score; the last bucket includes 100.
UNIFIED_BUCKETS: tuple[tuple[float, float], ...] = ((0, 55), (55, 70), (70, 85), (85, 100))


def bucket_of(score: float | None) -> int | None:
    """The index of the bucket holding `score`, or None (no unified score, or outside 0–100)."""
    if score is None:
        return None
    for i, (low, high) in enumerate(UNIFIED_BUCKETS):
        if low <= score < high or (i == len(UNIFIED_BUCKETS) - 1 and score == high):
            return i
    return None


def calibration(days: int, horizon: str, now: datetime | None = None) -> dict:
    """Per bucket: n (evaluated outcomes at `horizon` of signals whose candle closed in the last `days` days
    and that have a unified score), wins, the observed WIN probability with its 95 % Wilson interval, and the
    bucket's mean unified score. Pending and unavailable outcomes are not counted; n = 0 gives null rates."""
    now = now or timezone.now()
    since = now - timedelta(days=days)
    rows = (SignalOutcome.objects.filter(horizon=horizon, status=SignalOutcome.EVALUATED,
                                         signal__candle_close_time__gte=since, signal__unified_score__isnull=False)
            .values_list("outcome", "signal__unified_score"))
    groups: list[list[tuple[str, float]]] = [[] for _ in UNIFIED_BUCKETS]
    unbucketed = 0
    for result, score in rows:
        i = bucket_of(score)
        if i is None:
            unbucketed += 1
        else:
            groups[i].append((result, score))
    buckets = []
    for (low, high), members in zip(UNIFIED_BUCKETS, groups):
        n = len(members)
        wins = sum(1 for result, _ in members if result == SignalOutcome.WIN)
        interval = wilson(wins, n)
        buckets.append({
            "label": f"{low:g}-{high:g}", "low": low, "high": high, "n": n, "wins": wins,
            "win_probability": _r(wins / n) if n else None,
            "win_probability_ci": [_r(interval[0]), _r(interval[1])] if interval else None,
            "mean_unified_score": _r(statistics.fmean(s for _, s in members)) if n else None,
        })
    return {"days": days, "horizon": horizon, "since": since, "generated_at": now, "buckets": buckets,
            "outside_buckets": unbucketed}
