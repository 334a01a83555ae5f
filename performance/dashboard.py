"""The numbers of the /performance page (cryptosatx/performance_views.py), computed together with one
`now` so its charts agree with each other and with the API: win rates, calibration, the monthly trend
with the best and worst signals, and the threshold suggestions.

Computed from every outcome of the window, which at a million signals takes seconds, so they are kept
like the API's analytics (performance.queries): CACHE_SECONDS (5 min) in Django's cache, shared through
Redis when REDIS_URL is set, and the page's default window is recomputed after each outcome evaluation
(`refresh`, called by performance.queries.refresh) so no reader waits for it. The key carries the
scoring configuration's thresholds, so a threshold applied in the admin shows at once. The page says
when its numbers were computed (`generated_at`).
"""
from __future__ import annotations

import calendar
import hashlib
from datetime import date, datetime

from django.core.cache import cache
from django.utils import timezone

from signals.models import ScoringConfig

from .calibration import calibration
from .models import SignalOutcome
from .optimizer import thresholds_report
from .queries import CACHE_SECONDS, REFRESHED_SECONDS, win_rates
from .reports import month_bounds
from .stats import summarise

DEFAULT_DAYS = 90
DEFAULT_HORIZON = "24h"
LISTED = 10  # best and worst signals shown


def _months(first: date, last: date) -> list[tuple[int, int]]:
    months, (y, m) = [], (first.year, first.month)
    while (y, m) <= (last.year, last.month):
        months.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


def trend_and_signals(days: int, horizon: str, since: datetime, now: datetime) -> tuple[list[dict], dict]:
    """The calendar months from the one holding `since` to the current one, each summarised exactly as
    monthly_report's `overall` (the month's outcomes at `horizon`, window = the month's days); and the best
    and worst evaluated signals of the window (candle closed at or after `since`). One query."""
    months = _months(timezone.localtime(since).date(), timezone.localdate(now))
    start, end = month_bounds(*months[0])[0], month_bounds(*months[-1])[1]
    rows = list(SignalOutcome.objects.filter(horizon=horizon, signal__candle_close_time__gte=start,
                                             signal__candle_close_time__lt=end)
                .select_related("signal__coin").order_by("pk"))
    trend = []
    for year, month in months:
        low, high = month_bounds(year, month)
        mine = [o for o in rows if low <= o.signal.candle_close_time < high]
        trend.append({"month": f"{year:04d}-{month:02d}", "simulated_signals": sum(1 for o in mine if o.signal.simulated),
                      **summarise(mine, window_days=calendar.monthrange(year, month)[1])})
    done = [o for o in rows if o.status == SignalOutcome.EVALUATED and o.pnl_pct is not None
            and o.signal.candle_close_time >= since]
    ranked = sorted(done, key=lambda o: (-o.return_pct, o.signal.candle_close_time, o.pk))
    best = ranked[:LISTED]
    worst = [o for o in reversed(ranked[LISTED:])][:LISTED]  # disjoint from the best when n < 20
    return trend, {"best": [_row(o) for o in best], "worst": [_row(o) for o in worst], "evaluated": len(done)}


def _row(o: SignalOutcome) -> dict:
    s = o.signal
    return {"signal_id": s.pk, "symbol": s.coin.symbol, "scanner": s.scanner, "kind": s.kind, "tier": s.tier,
            "direction": s.direction, "score": s.score, "score_metric": s.score_metric,
            "candle_close_time": s.candle_close_time, "simulated": s.simulated, "outcome": o.outcome,
            "return_pct": round(o.return_pct, 4), "horizon": o.horizon}


def numbers(days: int, horizon: str, now: datetime, config: ScoringConfig | None = None) -> dict:
    """Everything the page shows, as of `now`."""
    rates = win_rates(days, horizon, now=now)
    trend, signals = trend_and_signals(days, horizon, rates["since"], now)
    return {"rates": rates, "calibration": calibration(days, horizon, now=now), "trend": trend,
            "signals": signals, "thresholds": thresholds_report(days, now=now, config=config)}


def _key(days: int, horizon: str, config: ScoringConfig) -> str:
    # Each value as its field stores it: a config just created holds its defaults as given (85, not 85.0).
    values = {f.name: f.to_python(getattr(config, f.attname)) for f in config._meta.concrete_fields}
    thresholds = hashlib.sha256(repr(sorted(values.items())).encode()).hexdigest()[:16]
    return f"performance:dashboard:{days}:{horizon}:{thresholds}"


def cached_numbers(days: int, horizon: str) -> dict:
    config = ScoringConfig.current()
    key = _key(days, horizon, config)
    hit = cache.get(key)
    if hit is not None:
        return hit[0]
    value = numbers(days, horizon, timezone.now(), config)
    cache.set(key, (value,), CACHE_SECONDS)
    return value


def refresh(now: datetime) -> None:
    """Recompute the default page into the shared cache, kept past the next evaluation."""
    config = ScoringConfig.current()
    cache.set(_key(DEFAULT_DAYS, DEFAULT_HORIZON, config),
              (numbers(DEFAULT_DAYS, DEFAULT_HORIZON, now, config),), REFRESHED_SECONDS)
