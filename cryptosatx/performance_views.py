"""/performance: the performance dashboard (PLAN.md §4.3). Every number comes (through
performance.dashboard, which computes them together and keeps them 5 minutes) from the functions behind the
API — win_rates (/api/analytics/win-rates), calibration (/api/analytics/calibration), thresholds_report
(/api/analytics/thresholds) and, per month, the same rows and `summarise` call as monthly_report's `overall`
(/api/reports/monthly) — so the page and the API cannot disagree. The parameters are validated by the same
fields as the API's; a bad one is a 400 page saying what is allowed."""
from __future__ import annotations

from django.conf import settings
from django.shortcuts import render
from rest_framework import serializers

from performance.dashboard import DEFAULT_DAYS, cached_numbers
from performance.models import HORIZONS
from performance.optimizer import HORIZON as THRESHOLD_HORIZON

from .api.serializers.analytics import days_field, horizon_field


class PerformanceParams(serializers.Serializer):
    days = days_field(DEFAULT_DAYS)
    horizon = horizon_field()


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
    numbers = cached_numbers(days, horizon)  # one `now` for all of them; kept 5 min (performance.dashboard)
    rates, cal, trend = numbers["rates"], numbers["calibration"], numbers["trend"]
    signals, thresholds = numbers["signals"], numbers["thresholds"]
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
