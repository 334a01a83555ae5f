"""The reads behind /api/analytics/win-rates, the alerts' track record and the ranking's
historical_performance. Only evaluated outcomes enter a rate; pending and unavailable ones are counted."""
from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from typing import Callable

from django.core.cache import cache
from django.db.models import Case, Count, F, FloatField, Q, When
from django.utils import timezone

from signals.models import Signal

from .models import SignalOutcome
from .stats import summarise, wilson

# PLAN.md §4.2's buckets: (scanner, bucket) → does a signal belong in it. `score` is the scanner's headline
# number (smart_money: accumulation or distribution; mss: MSS; rsi: RSI; unified: the unified score).
Test = Callable[[Signal], bool]


def _score(s: Signal) -> float:
    return s.score if s.score is not None else float("nan")  # NaN fails every comparison: in no bucket


BUCKETS: dict[str, dict[str, Test]] = {
    "smart_money": {
        "accumulation_7+": lambda s: s.kind == "accumulating" and _score(s) >= 7,
        "accumulation_5-6": lambda s: s.kind == "accumulating" and 5 <= _score(s) < 7,
        "distribution_7+": lambda s: s.kind == "distributing" and _score(s) >= 7,
    },
    "mss": {
        "score_90+": lambda s: _score(s) >= 90,
        "score_75-89": lambda s: 75 <= _score(s) < 90,
    },
    "rsi": {
        "oversold_<20": lambda s: s.kind == "oversold" and _score(s) < 20,
        "oversold_20-25": lambda s: s.kind == "oversold" and 20 <= _score(s) < 25,
        "overbought_>75": lambda s: s.kind == "overbought" and _score(s) > 75,
    },
    "social": {
        "all": lambda s: True,
    },
    "unified": {f"TIER_{t}": (lambda s, t=t: s.tier == t) for t in (1, 2, 3)},
}
TIERS = (1, 2, 3)
TRACK_HORIZON, TRACK_DAYS, TRACK_MIN_N = "24h", 90, 10


class _Signal:
    """The signal fields the rates and buckets read (a plain object: no model instance per row)."""

    __slots__ = ("candle_close_time", "direction", "scanner", "kind", "score", "tier", "simulated")

    def __init__(self, *values) -> None:
        for name, value in zip(self.__slots__, values):
            setattr(self, name, value)


class _Outcome:
    """SignalOutcome's fields the rates read (`status`, `outcome`, `return_pct`, `signal`)."""

    __slots__ = ("status", "outcome", "pnl_pct", "signal")

    def __init__(self, status, outcome, pnl_pct, signal: _Signal) -> None:
        self.status, self.outcome, self.pnl_pct, self.signal = status, outcome, pnl_pct, signal

    return_pct = SignalOutcome.return_pct


def window_outcomes(horizon: str, since: datetime) -> list[_Outcome]:
    """The outcomes at `horizon` of the signals whose candle closed at or after `since`, as plain rows
    (read as tuples: at 1,000,000 signals a month is 80,000 rows, and model instances cost seconds)."""
    rows = (SignalOutcome.objects.filter(horizon=horizon, signal__candle_close_time__gte=since).order_by("pk")
            .values_list("status", "outcome", "pnl_pct", *(f"signal__{f}" for f in _Signal.__slots__)))
    return [_Outcome(status, outcome, pnl, _Signal(*rest)) for status, outcome, pnl, *rest in rows]


# The analytics read every outcome of their window (80,000 rows a month at 1,000,000 signals): an
# answer is kept CACHE_SECONDS (5 min) in Django's cache (shared through Redis when REDIS_URL is set) and says
# when it was computed (`generated_at`). Calls with an explicit `now` are never cached.
CACHE_SECONDS = 300


def _cached(key: str, compute: Callable[[], object]):
    hit = cache.get(key)
    if hit is not None:
        return hit[0]
    value = compute()
    cache.set(key, (value,), CACHE_SECONDS)
    return value


# The windows every reader asks for: the API's default (30 days at 24h), the performance page's (90 days)
# and each tier's record (the ranking and the coin pages). `refresh` recomputes them after every outcome
# evaluation (a django-q2 task, every 15 minutes) and keeps them REFRESHED_SECONDS, past the next
# evaluation, so while the cluster runs no request computes them (with Redis, every process shares them).
HOT_WINDOWS = ((30, "24h"), (90, "24h"))
REFRESHED_SECONDS = 45 * 60


def refresh(now: datetime | None = None) -> dict[str, float]:
    """Recompute the hot analytics into the shared cache; returns the seconds each took."""
    import time

    now, took = now or timezone.now(), {}
    for key, compute in ([(f"performance:win_rates:{d}:{h}", lambda d=d, h=h: win_rates(d, h, now))
                          for d, h in HOT_WINDOWS]
                         + [(f"performance:tier_record:{t}", lambda t=t: tier_record(t, now)) for t in TIERS]):
        started = time.perf_counter()
        cache.set(key, (compute(),), REFRESHED_SECONDS)
        took[key] = round(time.perf_counter() - started, 3)
    from .dashboard import refresh as refresh_dashboard  # it reads these functions: imported here, not above

    started = time.perf_counter()
    refresh_dashboard(now)
    took["performance:dashboard"] = round(time.perf_counter() - started, 3)
    return took


def win_rates(days: int, horizon: str, now: datetime | None = None) -> dict:
    if now is None:
        return _cached(f"performance:win_rates:{days}:{horizon}", lambda: win_rates(days, horizon, timezone.now()))
    since = now - timedelta(days=days)
    rows = window_outcomes(horizon, since)

    def of(test: Callable[[SignalOutcome], bool]) -> dict:
        return summarise([o for o in rows if test(o)], window_days=days)

    return {
        "days": days, "horizon": horizon, "since": since, "generated_at": now,
        "simulated_signals": sum(1 for o in rows if o.signal.simulated),
        "overall": of(lambda o: True),
        "by_scanner": {scanner: {name: of(lambda o, scanner=scanner, test=test: o.signal.scanner == scanner
                                          and test(o.signal))
                                 for name, test in buckets.items()}
                       for scanner, buckets in BUCKETS.items()},
        "by_tier": {f"TIER_{t}": of(lambda o, t=t: o.signal.tier == t) for t in TIERS},
    }


def tier_record(tier: int, now: datetime | None = None) -> dict | None:
    """The alert tier's measured record at 24h over the last 90 days, or None below 10 evaluated outcomes:
    {n, win_rate (0–1), win_rate_low, win_rate_high, median_return_pct (the trade's, direction-aware)}."""
    if now is None:
        return _cached(f"performance:tier_record:{tier}", lambda: tier_record(tier, timezone.now()))
    # Counted and ordered in the database: 90 days of a tier at 1,000,000 signals is ~100,000 rows.
    done = SignalOutcome.objects.filter(
        horizon=TRACK_HORIZON, status=SignalOutcome.EVALUATED, signal__tier=tier,
        signal__candle_close_time__gte=now - timedelta(days=TRACK_DAYS))
    counts = done.aggregate(n=Count("id"), wins=Count("id", filter=Q(outcome=SignalOutcome.WIN)))
    n, wins = counts["n"], counts["wins"]
    if n < TRACK_MIN_N:
        return None
    low, high = wilson(wins, n)
    trade_return = Case(When(signal__direction="LONG", then=F("pnl_pct")), default=-F("pnl_pct"),
                        output_field=FloatField())
    ordered = done.annotate(r=trade_return).order_by("r").values_list("r", flat=True)
    middle = list(ordered[(n - 1) // 2: n // 2 + 1])  # one value (n odd) or the two around the middle
    return {"n": n, "horizon": TRACK_HORIZON, "win_rate": round(wins / n, 4), "win_rate_low": round(low, 4),
            "win_rate_high": round(high, 4), "median_return_pct": round(statistics.fmean(middle), 4)}


def day_record(start: datetime, end: datetime) -> dict:
    """The 24h outcomes of the signals whose candle closed in [start, end), for the daily summary:
    per alert tier wins / losses / neutral, the average winning return and the best signal, with
    how many are still pending (a signal from late in the day has no 24h outcome by morning)."""
    rows = list(SignalOutcome.objects.filter(horizon=TRACK_HORIZON, signal__candle_close_time__gte=start,
                                             signal__candle_close_time__lt=end)
                .select_related("signal__coin"))
    done = [o for o in rows if o.status == SignalOutcome.EVALUATED]
    tiers = {}
    for tier in (1, 2, 3):
        mine = [o for o in done if o.signal.tier == tier]
        if mine:
            wins = sum(o.outcome == SignalOutcome.WIN for o in mine)
            tiers[tier] = {"n": len(mine), "wins": wins, "losses": sum(o.outcome == SignalOutcome.LOSS for o in mine),
                           "win_rate_pct": round(100 * wins / len(mine), 1)}
    gains = [o.return_pct for o in done if o.outcome == SignalOutcome.WIN]
    best = max(done, key=lambda o: o.return_pct, default=None)
    return {"horizon": TRACK_HORIZON, "evaluated": len(done),
            "pending": sum(o.status == SignalOutcome.PENDING for o in rows),
            "unavailable": sum(o.status == SignalOutcome.UNAVAILABLE for o in rows), "tiers": tiers,
            "avg_gain_pct": round(statistics.fmean(gains), 2) if gains else None,
            "best": {"symbol": best.signal.coin.symbol, "return_pct": round(best.return_pct, 2)} if best else None}
