"""The django-q2 job that runs one backtest. It takes the run's id, re-reads the row, and is safe to run
twice: a run another worker is running is left alone, and one left `running` by a worker that died
(older than the cluster's timeout) is started again."""
from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from . import engine
from .models import BacktestRun
from .strategy import StrategyError, check_data, parse_strategy

log = logging.getLogger(__name__)


def enqueue(run: BacktestRun) -> None:
    from django_q.tasks import async_task
    async_task("backtest.tasks.run_backtest", run.pk, task_name=f"backtest-{run.pk}", group="backtests")


def run_backtest(run_id: int) -> dict:
    now = timezone.now()
    stale = now - timedelta(seconds=settings.Q_CLUSTER.get("timeout", 600))
    claimed = BacktestRun.objects.filter(pk=run_id).filter(
        Q(status=BacktestRun.QUEUED) | Q(status=BacktestRun.RUNNING, started_at__lt=stale)
    ).update(status=BacktestRun.RUNNING, started_at=now, progress=1, error="")
    if not claimed:
        return {"run_id": run_id, "skipped": "gone, finished or running elsewhere"}
    run = BacktestRun.objects.get(pk=run_id)
    last = [1]

    def progress(pct: int) -> None:
        pct = max(1, min(99, pct))
        if pct != last[0]:
            last[0] = pct
            BacktestRun.objects.filter(pk=run_id, status=BacktestRun.RUNNING).update(progress=pct)
    try:
        strategy = parse_strategy(run.strategy)
        check_data(strategy)
        results = engine.run(strategy, progress)
    except StrategyError as exc:  # the data changed since it was accepted (e.g. candles pruned)
        return _fail(run_id, str(exc))
    except Exception as exc:  # stored on the run for its owner; the worker lives on
        log.exception("backtest %s failed", run_id)
        return _fail(run_id, f"{type(exc).__name__}: {exc}")
    BacktestRun.objects.filter(pk=run_id).update(status=BacktestRun.DONE, progress=100, results=results,
                                                 finished_at=timezone.now())
    return {"run_id": run_id, "status": BacktestRun.DONE, "trades": results["metrics"]["total_trades"]}


def reap_stale(runs) -> int:
    """Mark failed the runs left `running` past the cluster's timeout (a worker killed or timed out),
    so that their owner sees why instead of a progress bar that never moves."""
    limit = timezone.now() - timedelta(seconds=settings.Q_CLUSTER.get("timeout", 600) + 60)
    return runs.filter(status=BacktestRun.RUNNING, started_at__lt=limit).update(
        status=BacktestRun.FAILED, finished_at=timezone.now(),
        error="The job did not finish within the q cluster's timeout (its worker was stopped or killed). "
              "Try fewer coins, a shorter range or a larger signal_step_hours.")


def _fail(run_id: int, error: str) -> dict:
    BacktestRun.objects.filter(pk=run_id).update(status=BacktestRun.FAILED, error=error[:2000],
                                                 finished_at=timezone.now())
    return {"run_id": run_id, "status": BacktestRun.FAILED, "error": error}
