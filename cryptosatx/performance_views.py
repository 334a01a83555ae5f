"""/performance: the performance dashboard (PLAN.md §4.3). Every number comes from the functions behind the
API — win_rates (/api/analytics/win-rates), calibration (/api/analytics/calibration), thresholds_report
(/api/analytics/thresholds) and, per month, the same rows and `summarise` call as monthly_report's `overall`
(/api/reports/monthly) — so the page and the API cannot disagree. The parameters are validated by the same
fields as the API's; a bad one is a 400 page saying what is allowed."""
from __future__ import annotations

import calendar
from datetime import date, datetime

from django.conf import settings
from django.shortcuts import render
from django.utils import timezone
from rest_framework import serializers

from performance.calibration import calibration
from performance.models import HORIZONS, SignalOutcome
from performance.optimizer import HORIZON as THRESHOLD_HORIZON
from performance.optimizer import thresholds_report
from performance.queries import win_rates
from performance.reports import month_bounds
from performance.stats import summarise

from .api.serializers.analytics import days_field, horizon_field

DEFAULT_DAYS = 90
LISTED = 10  # best and worst signals shown


class PerformanceParams(serializers.Serializer):
    days = days_field(DEFAULT_DAYS)
    horizon = horizon_field()


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


def pct(x: float | None) -> float | None:
    """A 0–1 rate as percent (display only; the rate itself is the API's)."""
    return None if x is None else round(100 * x, 2)


def ci(pair: list[float] | None) -> list[float] | None:
    return None if pair is None else [pct(pair[0]), pct(pair[1])]


def percented(stats: dict, rate: str = "win_rate", interval: str = "win_rate_ci") -> dict:
    """The stats with `pct` and `ci_pct` added for the template (Django's filters cannot multiply)."""
    return {**stats, "pct": pct(stats[rate]), "ci_pct": ci(stats[interval])}


def _bucket_rows(rates: dict) -> list[dict]:
    return [percented({"scanner": scanner, "bucket": name, **stats})
            for scanner, buckets in rates["by_scanner"].items() for name, stats in buckets.items()]


def _threshold_rows(report: dict) -> list[dict]:
    return [{**entry, "name": name, **{k: percented(entry[k]) for k in ("in_sample", "out_of_sample",
                                                                         "current_in_sample")}}
            for name, entry in report["scanners"].items()]


def chart_data(rates: dict, trend: list[dict], cal: dict) -> dict:
    """What static/js/performance.js draws: percent values, 95 % intervals and n, nothing recomputed."""
    return {
        "horizon": rates["horizon"],
        "buckets": [{"label": f"{r['scanner']} {r['bucket']}", "n": r["n"], "win_rate": pct(r["win_rate"]),
                     "ci": ci(r["win_rate_ci"])} for r in _bucket_rows(rates)],
        "trend": [{"month": m["month"], "n": m["n"], "win_rate": pct(m["win_rate"]), "ci": ci(m["win_rate_ci"])}
                  for m in trend],
        "calibration": [{"label": b["label"], "midpoint": (b["low"] + b["high"]) / 2, "n": b["n"],
                         "win_probability": pct(b["win_probability"]), "ci": ci(b["win_probability_ci"])}
                        for b in cal["buckets"]],
    }


def performance_page(request):
    # An empty field in the form means the default, as leaving it out does.
    params = PerformanceParams(data={k: v for k, v in request.GET.items() if k in ("days", "horizon") and v})
    context = {"horizons": list(HORIZONS), "days": request.GET.get("days", ""),
               "horizon": request.GET.get("horizon", ""), "errors": {}, "rates": None}
    if not params.is_valid():
        context["errors"] = {name: " ".join(str(m) for m in messages) for name, messages in params.errors.items()}
        return render(request, "performance/dashboard.html", context, status=400)
    days, horizon = params.validated_data["days"], params.validated_data["horizon"]
    now = timezone.now()
    rates = win_rates(days, horizon, now=now)
    cal = calibration(days, horizon, now=now)
    trend, signals = trend_and_signals(days, horizon, rates["since"], now)
    thresholds = thresholds_report(days, now=now)
    context.update({
        "days": days, "horizon": horizon, "rates": rates, "overall": percented(rates["overall"]),
        "tiers": [{"tier": t, **percented(s)} for t, s in rates["by_tier"].items()],
        "buckets": _bucket_rows(rates), "trend": [percented(m) for m in trend], "signals": signals,
        "calibration": cal, "calibration_rows": [percented(b, "win_probability", "win_probability_ci")
                                                 for b in cal["buckets"]],
        "thresholds": thresholds, "threshold_rows": _threshold_rows(thresholds),
        "threshold_horizon": THRESHOLD_HORIZON, "time_zone": settings.TIME_ZONE, "charts": chart_data(rates, trend, cal),
        "empty": rates["overall"]["n"] == 0,
    })
    return render(request, "performance/dashboard.html", context)
