"""The monthly and daily reports (PLAN.md §4.3, definitions in docs/performance-tracking.md).

Every rate comes with its n; only evaluated outcomes enter a rate (pending and unavailable are counted).
Months and days are calendar periods in TIME_ZONE.
"""
from __future__ import annotations

import calendar
import importlib
import json
import logging
import re
from collections import Counter
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from scanners.models import ScanResult, ScanRun
from signals.models import Signal

from .models import HORIZONS, SignalOutcome
from .queries import BUCKETS
from .stats import summarise

logger = logging.getLogger(__name__)

BEST_MIN_N = 10
TOP_SIGNALS = 10
FIRST_YEAR = 2009  # no crypto market before; earlier months are out of range
DAILY_HORIZON = "24h"
RANKED_BY = ("the lower bound of the 95 % Wilson interval of the win rate (a small sample with a high rate "
             "ranks below a large one with a slightly lower rate); ties by n")
NO_OPTIMIZER = "threshold suggestions: not available in this version"

MONTH_RE = re.compile(r"(\d{4})-(\d{2})")
DAY_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


class ReportError(ValueError):
    """A month or day that cannot be reported on; the message says what is allowed."""


def parse_month(text: str | None, today: date | None = None) -> tuple[int, int]:
    """"YYYY-MM" → (year, month); from 2009-01 to the current month, else ReportError."""
    today = today or timezone.localdate()
    match = MONTH_RE.fullmatch((text or "").strip())
    if not match:
        raise ReportError("Must be a month written YYYY-MM, e.g. 2025-11.")
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12:
        raise ReportError("The month must be between 01 and 12.")
    if year < FIRST_YEAR:
        raise ReportError(f"The month must be {FIRST_YEAR}-01 or later.")
    if (year, month) > (today.year, today.month):
        raise ReportError(f"{year:04d}-{month:02d} is in the future; the latest month is "
                          f"{today.year:04d}-{today.month:02d}.")
    return year, month


def parse_day(text: str | None, today: date | None = None) -> date:
    """"YYYY-MM-DD" → a date, from 2009-01-01 to today, else ReportError."""
    today = today or timezone.localdate()
    match = DAY_RE.fullmatch((text or "").strip())
    if not match:
        raise ReportError("Must be a day written YYYY-MM-DD, e.g. 2025-11-14.")
    try:
        day = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise ReportError(f"{text} is not a calendar day.") from None
    if day.year < FIRST_YEAR:
        raise ReportError(f"The day must be {FIRST_YEAR}-01-01 or later.")
    if day > today:
        raise ReportError(f"{day.isoformat()} is in the future; the latest day is {today.isoformat()}.")
    return day


def _local_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    first = date(year, month, 1)
    after = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return _local_start(first), _local_start(after)


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


def threshold_recommendations() -> dict:
    """performance.optimizer.suggest_thresholds() when that module exists (looked up at call time),
    else a statement that there are none in this version. An optimizer that fails is reported, not raised."""
    try:
        module = importlib.import_module("performance.optimizer")
    except ModuleNotFoundError as exc:
        if exc.name != "performance.optimizer":
            raise  # the optimizer exists but imports something missing: a real bug
        module = None
    suggest = getattr(module, "suggest_thresholds", None)
    if not callable(suggest):
        return {"available": False, "note": NO_OPTIMIZER, "suggestions": None}
    try:
        return {"available": True, "note": None, "suggestions": _jsonable(suggest())}
    except Exception as exc:  # noqa: BLE001 - the rest of the report stays readable
        logger.exception("performance.optimizer.suggest_thresholds failed")
        return {"available": False, "note": f"threshold suggestions failed: {type(exc).__name__}: {exc}",
                "suggestions": None}


def _best_performers(rows: list[SignalOutcome], window_days: float) -> dict:
    ranked, too_small = [], []
    for scanner, buckets in BUCKETS.items():
        for name, test in buckets.items():
            stats = summarise([o for o in rows if o.signal.scanner == scanner and test(o.signal)],
                              window_days=window_days)
            entry = {"scanner": scanner, "bucket": name, "n": stats["n"], "wins": stats["wins"],
                     "win_rate": stats["win_rate"], "win_rate_ci": stats["win_rate_ci"],
                     "avg_win": stats["avg_win"], "median_return": stats["median_return"]}
            if stats["n"] >= BEST_MIN_N:
                ranked.append(entry)
            elif stats["n"]:
                too_small.append({"scanner": scanner, "bucket": name, "n": stats["n"]})
    ranked.sort(key=lambda e: (-e["win_rate_ci"][0], -e["n"], e["scanner"], e["bucket"]))
    return {"ranked_by": RANKED_BY, "min_n": BEST_MIN_N, "buckets": ranked, "below_min_n": too_small}


def _signal_row(s: Signal) -> dict:
    return {"signal_id": s.pk, "symbol": s.coin.symbol, "scanner": s.scanner, "kind": s.kind,
            "direction": s.direction, "tier": s.tier, "score": s.score, "score_metric": s.score_metric,
            "candle_close_time": s.candle_close_time, "simulated": s.simulated}


def monthly_report(year: int, month: int, horizon: str = "24h", now: datetime | None = None) -> dict:
    """The month's signals (candle closed in the calendar month, TIME_ZONE) and their outcome at `horizon`."""
    if horizon not in HORIZONS:
        raise ReportError(f"horizon must be one of: {', '.join(HORIZONS)}.")
    start, end = month_bounds(year, month)
    window_days = calendar.monthrange(year, month)[1]
    rows = list(SignalOutcome.objects.filter(horizon=horizon, signal__candle_close_time__gte=start,
                                             signal__candle_close_time__lt=end)
                .select_related("signal__coin").order_by("pk"))
    done = [o for o in rows if o.status == SignalOutcome.EVALUATED]
    top = sorted(done, key=lambda o: (-o.return_pct, o.signal.candle_close_time, o.pk))[:TOP_SIGNALS]
    days = round(HORIZONS[horizon].total_seconds() / 86400, 4)
    return {
        "month": f"{year:04d}-{month:02d}", "horizon": horizon, "since": start, "until": end,
        "window_days": window_days, "generated_at": now or timezone.now(),
        "simulated_signals": sum(1 for o in rows if o.signal.simulated),
        "overall": summarise(rows, window_days=window_days),
        "best_performers": _best_performers(rows, window_days),
        "threshold_recommendations": threshold_recommendations(),
        "top_signals": [{**_signal_row(o.signal), "return_pct": round(o.return_pct, 4), "outcome": o.outcome,
                         "days": days} for o in top],
    }


def daily_report(day: date) -> dict:
    """The day's scans (started that day) and signals (created that day, as the daily summary counts
    them), with their 24h outcomes so far."""
    start, end = _local_start(day), _local_start(day + timedelta(days=1))
    runs = ScanRun.objects.filter(started_at__gte=start, started_at__lt=end)
    statuses = Counter(runs.values_list("status", flat=True))
    coins_scanned = ScanResult.objects.filter(run__in=runs).values("coin_id").distinct().count()
    signals = list(Signal.objects.filter(created_at__gte=start, created_at__lt=end)
                   .select_related("coin").order_by("created_at", "pk"))
    outcomes = {o.signal_id: o for o in SignalOutcome.objects.filter(
        horizon=DAILY_HORIZON, signal__in=[s.pk for s in signals]).select_related("signal")}

    def counts(mine: list[Signal]) -> dict:
        tracked = [outcomes[s.pk] for s in mine if s.pk in outcomes]
        return {"signals": len(mine), **summarise(tracked, window_days=1),
                "not_tracked_yet": len(mine) - len(tracked)}

    listing = []
    for s in signals:
        o = outcomes.get(s.pk)
        done = o is not None and o.status == SignalOutcome.EVALUATED
        listing.append({**_signal_row(s), "created_at": s.created_at, "entry_price": s.entry_price,
                        "outcome_status": o.status if o else None, "outcome": o.outcome if done else None,
                        "return_pct": round(o.return_pct, 4) if done else None,
                        "due_at": o.due_at if o else None})
    return {
        "day": day, "horizon": DAILY_HORIZON, "since": start, "until": end,
        "scans": sum(statuses.values()), "scans_failed": statuses.get(ScanRun.FAILED, 0),
        "scans_partial": statuses.get(ScanRun.PARTIAL, 0), "coins_scanned": coins_scanned,
        "outcomes": counts(signals),
        "tiers": {t: counts([s for s in signals if s.tier == t]) for t in (1, 2, 3)},
        "signals": listing,
    }
