"""simulate-day: a day of the real tasks in accelerated time over loopback, and the trace that checks every
number of its daily summary against the rows (cryptosatx.speedrun, cryptosatx.daytrace)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import httpx
import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count
from django_q.models import Schedule

from cryptosatx.daytrace import trace_summary
from cryptosatx.speedrun import CHAT_ID, VirtualClock, check_day, plan, run_day, summary_time
from marketdata.simulator.server import SimulatorServer
from marketdata.simulator.telegram import parse_html
from performance.models import SignalOutcome
from scanners.models import ScanResult, ScanRun, ScanSlot
from signals.models import Signal, SummaryDelivery
from signals.summary import daily_summary
from tests.test_alert_summary import DAY, NOON, a_crowded_watchlist, a_day_of_scans

DAY_RUN = date(2026, 11, 20)  # in the past: nothing is left "in the future" after the test


def plain(html: str) -> str:
    """The text as Telegram shows it (the simulator's tdlib-style parser)."""
    return parse_html(html)[0]


@pytest.fixture
def short_day(settings):
    """A short day: few scans, the sender every 10 minutes and outcomes every 30 (as edited in admin), the
    summary at 03:00."""
    settings.SMART_MONEY_INTERVAL_HOURS = 3
    settings.RSI_SCREENER_INTERVAL_HOURS = 6
    settings.MSS_DISCOVERY_INTERVAL_HOURS = 12
    settings.LUNARCRUSH_INTERVAL_HOURS = 12
    settings.DAILY_SUMMARY_TIME = "03:00"
    settings.TIME_ZONE = "UTC"
    settings.HTTP_BACKOFF_SECONDS = 0.01
    Schedule.objects.filter(func="signals.tasks.send_alerts").update(minutes=10)
    Schedule.objects.filter(func="performance.tasks.evaluate_outcomes").update(minutes=30)


@pytest.mark.django_db
def test_the_plan_follows_the_schedules(short_day, settings):
    tasks = plan(DAY_RUN)
    start, end = datetime(2026, 11, 20, tzinfo=timezone.utc), datetime(2026, 11, 21, 3, tzinfo=timezone.utc)
    summary = next(i for i, t in enumerate(tasks) if t.kind == "summary")
    assert tasks[0].at == start and tasks[summary].at == end
    # after the summary only the sender, for 10 minutes: a summary paced behind an alert goes out then
    assert [(t.at, t.kind) for t in tasks[summary + 1:]] == [(end + timedelta(minutes=10), "send")]
    smart = [t.at for t in tasks if t.name == "scan smart_money"]
    assert smart == [start + timedelta(hours=3 * i) for i in range(10)]  # 00:00 … 03:00 next day
    assert len([t for t in tasks if t.kind == "send"]) == 27 * 6 + 2
    assert len([t for t in tasks if t.kind == "outcomes"]) == 27 * 2 + 1
    at_end = [t.name for t in tasks if t.at == end]  # one instant: scans, sender, outcomes, then the summary
    assert at_end == ["scan smart_money", "send", "outcomes", "summary"]
    settings.TIME_ZONE = "Europe/Berlin"
    settings.DAILY_SUMMARY_TIME = "08:00"
    assert summary_time(DAY_RUN) == datetime(2026, 11, 21, 7, tzinfo=timezone.utc)  # 08:00 CET


def test_the_virtual_clock_waits_a_gap_at_speed_and_never_goes_back():
    start = datetime(2026, 11, 20, tzinfo=timezone.utc)
    with VirtualClock(start, speed=36_000) as clock:
        clock.wait_until(start + timedelta(hours=1))  # 0.1 s of real time
        at = datetime.now(timezone.utc)
        assert start + timedelta(hours=1) <= at < start + timedelta(hours=1, seconds=30)
        assert clock.waited == pytest.approx(0.1, abs=0.01)
        clock.wait_until(start)  # behind us: no wait, no jump back
        assert datetime.now(timezone.utc) >= at and clock.waited == pytest.approx(0.1, abs=0.01)
    assert datetime.now(timezone.utc) > datetime(2026, 11, 27, tzinfo=timezone.utc)  # real time again


@pytest.mark.django_db
def test_a_day_in_accelerated_time_traces_every_summary_number_to_rows(short_day):
    with SimulatorServer(seed=7, coins=30) as sim:
        run = run_day(DAY_RUN, speed=1_000_000, coins=30, sim=sim)
        inbox = httpx.get(f"{sim.base_url}/sim/telegram/messages", params={"chat_id": CHAT_ID}).json()
    result = check_day(run)
    assert result["ok"], result["problems"]

    # Telegram got the summary exactly once, and it is the stored row's text as sent.
    summaries = [m for m in inbox if "DAILY SCAN SUMMARY" in m["plain_text"]]
    row = SummaryDelivery.objects.get()
    assert len(summaries) == 1 and row.day == DAY_RUN and row.status == "sent"
    assert (summaries[0]["message_id"], summaries[0]["text"]) == (row.message_id, row.text)
    assert timedelta(0) <= row.created_at - datetime(2026, 11, 21, 3, tzinfo=timezone.utc) < timedelta(seconds=60)

    # The real tasks ran at their virtual times: one scan per slot, every row inside the simulated hours.
    slots = dict(ScanSlot.objects.values_list("scanner").annotate(n=Count("id")))
    assert slots == {"smart_money": 10, "rsi": 5, "mss": 3, "social": 3}
    start, end = datetime(2026, 11, 20, tzinfo=timezone.utc), datetime(2026, 11, 21, 3, 5, tzinfo=timezone.utc)
    assert all(start <= t < end for t in ScanRun.objects.values_list("started_at", flat=True))
    assert all(start <= t < end for t in Signal.objects.values_list("created_at", flat=True))
    assert ScanResult.objects.exists() and Signal.objects.exists() and SignalOutcome.objects.exists()

    # Every number was checked, and a recount here (ORM, a third way) agrees with the text too.
    trace = result["trace"]
    items = {c.item for c in trace.checks}
    assert {"Coins Scanned", "Total Scans", "TIER 1 signals", "TIER 2 signals", "TIER 3 signals",
            "Top Accumulation: coins listed", "Top Distribution: coins listed", "New Gems: coins listed",
            "New Gems: MSS floor", "Watchlist: coin and scanner pairs", "Performance: waiting for 24h"} <= items
    text = summaries[0]["plain_text"]
    day_runs = ScanRun.objects.filter(started_at__date=DAY_RUN)
    assert f"Total Scans: {day_runs.count()}" in text
    assert f"Coins Scanned: {ScanResult.objects.filter(run__in=day_runs).values('coin').distinct().count()}" in text
    for tier in (1, 2, 3):
        n = Signal.objects.filter(created_at__date=DAY_RUN, tier=tier).count()
        assert f"TIER {tier} SIGNALS" in text and f"): {n}" in text.split(f"TIER {tier} SIGNALS")[1].splitlines()[0]

    # The check can fail: a number off by one in the text, or a row changed since, is caught.
    coins = next(c for c in trace.checks if c.item == "Coins Scanned")
    wrong = trace_summary(DAY_RUN, text.replace(f"Coins Scanned: {coins.shown}",
                                                f"Coins Scanned: {int(coins.shown) + 1}"), row.created_at)
    assert [c.item for c in wrong.checks if not c.ok] == ["Coins Scanned"]
    day_runs.order_by("pk").first().delete()
    assert not trace_summary(DAY_RUN, text, row.created_at).ok


@pytest.mark.django_db
def test_the_trace_checks_tops_gems_watchlist_and_performance():
    """Hand-built rows whose summary lists every section (a short simulated day may leave some empty)."""
    from tests.outcome_factories import coin, outcome, signal

    a_day_of_scans()
    wins = [signal(coin(f"W{i}USDT"), tier=1, at=NOON) for i in range(3)]
    for s, pnl in zip(wins, (6.0, 12.5, 9.25)):
        outcome(s, result="WIN", pnl=pnl)
    outcome(signal(coin("LOSSUSDT"), tier=2, at=NOON, direction="SHORT"), result="LOSS", pnl=4.0)
    later = outcome(signal(coin("WAITUSDT"), tier=2, at=NOON), status="pending")
    SignalOutcome.objects.filter(status="evaluated").update(evaluated_at=NOON + timedelta(days=1))
    as_of = NOON + timedelta(days=1, hours=1)
    text = plain(daily_summary(DAY))
    trace = trace_summary(DAY, text, as_of)
    assert trace.ok, [c for c in trace.checks if not c.ok]
    shown = {c.item: c.shown for c in trace.checks}
    assert shown["Top Accumulation 1: ARBUSDT score"] == "ARBUSDT 9"
    assert shown["Top Accumulation 1: ARBUSDT details"] == "buy pressure 87%, funding -0.080%"
    assert shown["Top Distribution 1: DOGEUSDT details"] == "sell pressure 80%, 24h +18.0%"
    assert shown["New Gems 1: NEWUSDT details"] == "$4.0M FDV, 18h old"
    assert shown["Watchlist 1"] == "WATCHUSDT RSI LONG unified n/a · 27.5"
    assert shown["Performance: TIER 1"] == "3 wins, 0 losses of 3, 100%"
    assert shown["Performance: best performer"] == "12.50 W1USDT"

    # Settled after the text was written: it was waiting then, and the trace still agrees.
    SignalOutcome.objects.filter(pk=later.pk).update(status="evaluated", outcome="WIN", pnl_pct=30.0,
                                                     evaluated_at=as_of + timedelta(hours=2))
    assert trace_summary(DAY, text, as_of).ok
    # A row changed so that the text no longer matches it: each affected number is flagged.
    ScanResult.objects.filter(coin__symbol="ARBUSDT", scores__accumulation=9).update(
        scores={"accumulation": 9.6, "distribution": 1})
    SignalOutcome.objects.filter(signal__coin__symbol="W2USDT").update(pnl_pct=9.0)
    bad = {c.item for c in trace_summary(DAY, text, as_of).checks if not c.ok}
    assert bad == {"Top Accumulation 1: ARBUSDT score", "Performance: average gain of the wins"}


@pytest.mark.django_db
def test_the_trace_recounts_the_watchlist_per_coin_and_scanner():
    """One coin's tier-3 signals on several scanners: the recount picks each pair's strongest and orders by
    unified score, as the text does; a line out of that order, or a pick changed afterwards, is flagged."""
    a_crowded_watchlist()
    as_of = NOON + timedelta(days=1)
    text = plain(daily_summary(DAY))
    trace = trace_summary(DAY, text, as_of)
    assert trace.ok, [c for c in trace.checks if not c.ok]
    checks = {c.item: c for c in trace.checks}
    assert (checks["Watchlist: coin and scanner pairs"].shown, checks["Watchlist: coin and scanner pairs"].recount) \
        == ("6", "6")
    assert checks["Watchlist 3"].recount == "ARBUSDT smart_money LONG unified 61 · 6"
    assert checks["Watchlist 6"].recount == "DOGEUSDT smart_money LONG unified n/a · 6"

    lines = text.splitlines()
    first, second = (next(ln for ln in lines if ln.startswith(f"• {s}")) for s in ("BTCUSDT", "ARBUSDT"))
    swapped = text.replace(first, "@@").replace(second, first).replace("@@", second)
    assert {c.item for c in trace_summary(DAY, swapped, as_of).checks if not c.ok} == {"Watchlist 1", "Watchlist 2"}
    # The later of ARBUSDT's two smart-money signals at unified 61 was listed; lift the other one above it.
    Signal.objects.filter(coin__symbol="ARBUSDT", scanner="smart_money", score=5).update(unified_score=61.2)
    assert {c.item for c in trace_summary(DAY, text, as_of).checks if not c.ok} == {"Watchlist 2", "Watchlist 3"}


@pytest.mark.django_db
def test_simulate_day_refuses_a_database_that_already_has_rows(short_day):
    ScanRun.objects.create(scanner="rsi")
    with pytest.raises(CommandError, match="needs an empty database"):
        call_command("simulate-day", "--this-database", "--day", "2026-11-20")
    with pytest.raises(CommandError, match="--speed"):
        call_command("simulate-day", "--speed", "0")
    with pytest.raises(CommandError, match="not a date"):
        call_command("simulate-day", "--day", "yesterday")


@pytest.mark.django_db
def test_a_summary_paced_behind_an_alert_goes_out_with_the_next_sender_pass(monkeypatch):
    """Found while building simulate-day: the 08:00 scan's alert takes the chat's pacing slot, the summary
    written a moment later must wait for it, and the minute's sender sends it (before: the next day's run)."""
    import time_machine

    from signals import tasks
    from signals.models import Recipient
    from signals.summary import send_daily_summary
    from tests.test_alert_support import FakeTransport, alice

    fake = FakeTransport()
    monkeypatch.setattr(tasks, "_transport", lambda: fake)
    now = datetime(2026, 11, 21, 8, 0, 1, tzinfo=timezone.utc)
    chat = alice()
    Recipient.objects.filter(pk=chat.pk).update(next_send_at=now + timedelta(seconds=1))  # an alert just went out
    assert send_daily_summary(fake, now=now)["paced"] == 1 and not fake.messages
    with time_machine.travel(now + timedelta(minutes=1), tick=False):
        result = tasks.send_alerts(drain_seconds=0)
    assert result["summaries"]["sent"] == 1 and len(fake.messages) == 1
    assert SummaryDelivery.objects.get().status == "sent"
    with time_machine.travel(now + timedelta(minutes=2), tick=False):
        assert tasks.send_alerts(drain_seconds=0)["summaries"]["sent"] == 0  # sent once
