"""Starting a backtest, shared by the API and the page: validate, store, queue the job."""
from __future__ import annotations

from django.db import transaction

from .models import BacktestRun
from .strategy import check_data, parse_strategy
from .tasks import enqueue

MAX_UNFINISHED_PER_USER = 3  # the q cluster has two workers; more queued runs would only wait


class TooManyRunning(Exception):
    pass


def start_backtest(user, data) -> BacktestRun:
    """The queued run, or StrategyError (bad strategy, unknown coins, no candles) / TooManyRunning."""
    strategy = parse_strategy(data)
    check_data(strategy)
    unfinished = BacktestRun.objects.filter(owner=user, status__in=[BacktestRun.QUEUED, BacktestRun.RUNNING])
    if unfinished.count() >= MAX_UNFINISHED_PER_USER:
        raise TooManyRunning(f"You have {MAX_UNFINISHED_PER_USER} backtests queued or running; wait for one to "
                             f"finish.")
    run = BacktestRun.objects.create(owner=user, name=strategy.name, strategy=strategy.to_json())
    transaction.on_commit(lambda: enqueue(run))
    return run
