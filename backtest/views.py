"""/backtests (your runs and the form to start one) and /backtests/<id> (progress that refreshes itself
with htmx until the job is done, then the metrics, the equity chart and the trades)."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models.fields.json import KeyTransform
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from cryptosatx.heartbeat import alive_clusters

from .forms import BacktestForm, default_initial
from .models import BacktestRun
from .service import TooManyRunning, start_backtest
from .tasks import reap_stale
from .strategy import StrategyError

LISTED = 50
TRADES_SHOWN = 500  # a page of 10,000 table rows helps nobody; the API has them all
GROUPS = [("Coins and dates", ["name", "coins", "start", "end"]),
          ("Entry", ["scanners", "min_unified_score", "min_confirmations", "signal_step_hours"]),
          ("Exit", ["take_profit", "stop_loss", "time_limit_hours"]),
          ("Size and costs", ["position_size", "position_sizing", "initial_capital", "fees", "slippage"])]


def _own(request: HttpRequest, pk: int) -> BacktestRun:
    reap_stale(BacktestRun.objects.filter(pk=pk, owner=request.user) if pk < 2**63 else BacktestRun.objects.none())
    # Larger ids cannot exist, and SQLite cannot even bind them.
    run = BacktestRun.objects.filter(pk=pk, owner=request.user).first() if pk < 2**63 else None
    if run is None:
        raise Http404("No such backtest.")
    return run


@login_required
def backtests_page(request: HttpRequest) -> HttpResponse:
    status = 200
    if request.method == "POST":
        form = BacktestForm(request.POST)
        if form.is_valid():
            try:
                with transaction.atomic():
                    run = start_backtest(request.user, form.strategy())
                return redirect("backtest", pk=run.pk)
            except StrategyError as exc:
                form.add_strategy_errors(exc.errors)
            except TooManyRunning as exc:
                form.add_error(None, str(exc))
        status = 400
    else:
        form = BacktestForm(initial=default_initial())
    no_candles = not form["end"].value()
    reap_stale(BacktestRun.objects.filter(owner=request.user))
    # Only the metrics of each run: the trade lists can be large.
    runs = (BacktestRun.objects.filter(owner=request.user).annotate(metrics=KeyTransform("metrics", "results"))
            .values("pk", "name", "status", "progress", "created_at", "metrics")[:LISTED])
    groups = [(title, [form[name] for name in names]) for title, names in GROUPS]
    return render(request, "backtest/list.html", {"form": form, "runs": runs, "groups": groups,
                                                       "no_candles": no_candles}, status=status)


@login_required
def backtest_page(request: HttpRequest, pk: int) -> HttpResponse:
    run = _own(request, pk)
    return render(request, "backtest/detail.html", {"run": run, "no_cluster": _no_cluster(run), **_results(run)})


@login_required
def backtest_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress block htmx polls; once the job has finished the page reloads itself with the results."""
    run = _own(request, pk)
    response = render(request, "backtest/_progress.html", {"run": run, "no_cluster": _no_cluster(run)})
    if run.finished:
        response["HX-Refresh"] = "true"
    return response


def _no_cluster(run: BacktestRun) -> bool:
    """A queued run with no q cluster alive to pick it up (heartbeats: docs/architecture.md) would wait forever."""
    return run.status == BacktestRun.QUEUED and not alive_clusters().exists()


def _results(run: BacktestRun) -> dict:
    results = run.results or {}
    metrics = results.get("metrics") or {}
    curve = results.get("equity_curve") or []
    trades = results.get("trades") or []
    return {"metrics": metrics, "trades": trades[:TRADES_SHOWN], "trades_stored": len(trades),
            "data": results.get("data") or {},
            "chart": {"labels": [p["time"] for p in curve], "equity": [p["equity"] for p in curve],
                      "initial": metrics.get("initial_equity")},
            "strategy": run.strategy}
