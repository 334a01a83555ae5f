from django.shortcuts import render

from .models import ScanRun


def home(request):
    """The latest RSI screener results, extremes first."""
    run = ScanRun.objects.filter(scanner__in=["rsi", "all"]).exclude(status=ScanRun.RUNNING).first()
    results = []
    if run is not None:
        results = sorted(run.results.filter(scanner="rsi").select_related("coin"),
                         key=lambda r: (r.scores.get("rsi") is None, r.scores.get("rsi") or 0))
    return render(request, "scanners/home.html", {"run": run, "results": results,
                                                  "signals": [r for r in results if r.signal]})
