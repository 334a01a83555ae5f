"""The report pages (PLAN.md §4.3): the monthly report and the day's report the daily summary links to.
They read performance.reports, as the API does, so the page and /api/reports/monthly cannot disagree.
A bad month, day or horizon is a 400 page saying what is allowed, never a 500."""
from __future__ import annotations

from datetime import timedelta

from django.shortcuts import redirect, render
from django.utils import timezone

from performance.models import HORIZONS
from performance.reports import ReportError, daily_report, monthly_report, parse_day, parse_month


def monthly_page(request):
    today = timezone.localdate()
    month_text = request.GET.get("month") or f"{today.year:04d}-{today.month:02d}"
    horizon = request.GET.get("horizon") or "24h"
    context = {"month_text": month_text, "horizon": horizon, "horizons": list(HORIZONS), "report": None,
               "error": ""}
    try:
        if horizon not in HORIZONS:
            raise ReportError(f"horizon must be one of: {', '.join(HORIZONS)}.")
        year, month = parse_month(month_text, today)
    except ReportError as exc:
        context["error"] = f"Bad month or horizon “{month_text}”, “{horizon}”: {exc}"
        return render(request, "reports/monthly.html", context, status=400)
    context["report"] = monthly_report(year, month, horizon)
    return render(request, "reports/monthly.html", context)


def daily_page(request, day: str):
    try:
        parsed = parse_day(day)
    except ReportError as exc:
        return render(request, "reports/daily.html", {"report": None, "error": f"Bad day “{day}”: {exc}"},
                      status=400)
    report = daily_report(parsed)
    return render(request, "reports/daily.html", {
        "report": report, "error": "", "previous": parsed - timedelta(days=1),
        "next": parsed + timedelta(days=1) if parsed < timezone.localdate() else None,
        "month": f"{parsed.year:04d}-{parsed.month:02d}"})


def daily_latest(request):
    """/reports/daily → yesterday's report (the day the latest daily summary covers)."""
    yesterday = timezone.localdate() - timedelta(days=1)
    return redirect("report-daily", day=yesterday.isoformat())
