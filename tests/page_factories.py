"""Rows for the dashboard page tests: signals with outcomes, alert deliveries, scan runs."""
from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from marketdata.models import Coin
from scanners.models import ScanRun
from signals.models import AlertDelivery, Recipient, Signal
from tests.api_factories import make_coin, make_unified
from tests.outcome_factories import outcome


def signals(n: int, *, symbol_prefix: str = "S", with_outcomes: bool = True) -> list[Signal]:
    """`n` signals on `n` coins, alternating LONG/SHORT and tiers 1–3, an hour apart, newest last,
    each with an evaluated 1h and a pending 24h outcome."""
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    made = []
    for i in range(n):
        coin = make_coin(f"{symbol_prefix}{i:03d}USDT")
        at = now - timedelta(hours=n - i)
        s = Signal.objects.create(coin=coin, scanner="smart_money" if i % 2 else "mss", kind="accumulating",
                                  direction="SHORT" if i % 2 else "LONG", tier=1 + i % 3, score=7.5,
                                  score_metric="accumulation", entry_price=100.0 + i, candle_close_time=at,
                                  created_at=at)
        if with_outcomes:
            outcome(s, "1h", result="WIN", pnl=-2.0 if i % 2 else 2.0)
            outcome(s, "24h", status="pending")
        made.append(s)
    return made


def scored(n: int) -> list[Coin]:
    coins = []
    for i in range(n):
        coin = make_coin(f"C{i:03d}USDT")
        make_unified(coin, 40.0 + i, "TIER_3" if 40 + i >= 55 else "TIER_4", computed_at=timezone.now(),
                     raw={"accumulation": 4.0 + (i % 6), "technical": 5.0, "mss": 30.0 + i})
        coins.append(coin)
    return coins


def recipient() -> Recipient:
    return Recipient.objects.get_or_create(chat_id="-1001", defaults={"name": "Main chat"})[0]


def delivery(s: Signal, status: str, **fields) -> AlertDelivery:
    return AlertDelivery.objects.create(signal=s, recipient=recipient(), status=status,
                                        next_attempt_at=timezone.now(), **fields)


def runs(n: int, **fields) -> list[ScanRun]:
    now = timezone.now()
    made = []
    for i in range(n):
        run = ScanRun.objects.create(**{
            "scanner": "rsi", "status": ScanRun.COMPLETED, "finished_at": now, "universe_size": 10, "scored": 10,
            "requests": {"binance_spot": {"requests": 11, "weight": 22, "errors": 0}}, **fields})
        made.append(run)
    return made
