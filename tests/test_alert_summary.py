"""The daily summary: every number counted from that day's rows; sent once per recipient and day."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from django.db import connection

from scanners.models import ScanRun
from signals.models import BotState, Recipient, SummaryDelivery
from signals.summary import daily_summary, send_daily_summary
from tests.api_factories import make_result, make_run
from tests.test_alert_claims import run_in_threads
from tests.test_alert_support import NOW, FakeTransport, alice, bob, coin, make_signal, queue, too_many_requests

DAY = date(2025, 11, 14)  # NOW is 08:02 on the 15th: the summary covers the 14th
NOON = datetime(2025, 11, 14, 12, tzinfo=timezone.utc)


def inputs(**values) -> dict:
    return {name: {"value": v, "as_of": NOON.isoformat()} for name, v in values.items()}


def a_day_of_scans() -> None:
    """Three runs on the 14th (one failed), one on each neighbouring day that must not count."""
    full = make_run(scanner="all", started_at=NOON, finished_at=NOON + timedelta(minutes=2), simulated=True)
    hourly = make_run(scanner="smart_money", started_at=NOON + timedelta(hours=1),
                      finished_at=NOON + timedelta(hours=1, minutes=1))
    make_run(scanner="rsi", status=ScanRun.FAILED, started_at=NOON + timedelta(hours=2))
    before = make_run(scanner="all", started_at=NOON - timedelta(days=1))
    after = make_run(scanner="all", started_at=NOON + timedelta(days=1))

    def sm(run, symbol, acc, dist, state="", **values):
        make_result(run, coin(symbol), "smart_money", score=acc, scores={"accumulation": acc, "distribution": dist},
                    signal=state, inputs=inputs(**values))

    sm(full, "ARBUSDT", 9, 1, "accumulating", buy_pressure_pct=87.0, funding_pct=-0.08)
    sm(hourly, "ARBUSDT", 8, 1, "accumulating", buy_pressure_pct=70.0)  # ARB's best of the day stays 9
    sm(full, "MATICUSDT", 8, 2, "accumulating", funding_pct=-0.02)
    sm(full, "ATOMUSDT", 7, 0, "accumulating")
    sm(full, "INJUSDT", 7, 1, "accumulating")  # fourth: left out of the top 3 (ties by name)
    sm(full, "DOGEUSDT", 1, 9, "distributing", buy_pressure_pct=20.0, pct_24h=18.0)
    sm(full, "SHIBUSDT", 2, 8, "distributing", funding_pct=0.82)
    sm(hourly, "BTCUSDT", 3, 2)
    sm(before, "PEPEUSDT", 10, 0, "accumulating")
    sm(after, "WIFUSDT", 10, 0, "accumulating")
    for symbol, mss, fdv, age in (("NEWUSDT", 88, 4e6, 18), ("TOKEN2USDT", 79, 8.2e6, 36), ("LOWUSDT", 70, 2e6, 5)):
        make_result(full, coin(symbol), "mss", score=mss, scores={"mss": mss}, signal="gem",
                    inputs=inputs(fdv=fdv, age_hours=age))

    a = alice()
    for i, tier in enumerate((1, 1, 2, 2, 2)):
        make_signal(f"S{i}USDT", tier=tier, created_at=NOON)
    watch = make_signal("WATCHUSDT", tier=3, scanner="rsi", kind="oversold", score=27.5, score_metric="rsi",
                        created_at=NOON)
    queue(watch, a, status="summary_only", reason="tier_3_summary_only")
    sent3 = make_signal("LOUDUSDT", tier=3, created_at=NOON)  # tier 3 enabled for it: not a summary-only item
    queue(sent3, a, status="sent", sent_at=NOON)
    make_signal("NEXTDAYUSDT", tier=1, created_at=NOON + timedelta(days=1))


@pytest.mark.django_db
def test_the_summary_counts_the_days_rows():
    a_day_of_scans()
    text = daily_summary(DAY)
    lines = text.splitlines()
    assert lines[0] == "📊 <b>DAILY SCAN SUMMARY - Nov 14, 2025</b>"
    assert "🧪 <i>Simulated market" in lines[1]
    assert "🔍 Coins Scanned: 10" in lines  # ARB MATIC ATOM INJ DOGE SHIB BTC NEW TOKEN2 LOW, not PEPE, WIF
    assert "⏱️ Total Scans: 3 (1 failed)" in lines
    assert "✅ TIER 1 SIGNALS (Must Buy): 2" in lines
    assert "⭐ TIER 2 SIGNALS (Strong Buy): 3" in lines
    assert "📋 TIER 3 SIGNALS (Watchlist): 2" in lines
    top = lines[lines.index("🟢 <b>Top Accumulation:</b>") + 1:][:4]
    assert top == ["1. ARBUSDT - Score 9 (buy pressure 87%, funding -0.080%)",
                   "2. MATICUSDT - Score 8 (funding -0.020%)", "3. ATOMUSDT - Score 7", ""]
    dist = lines[lines.index("🔴 <b>Top Distribution:</b>") + 1:][:2]
    assert dist == ["1. DOGEUSDT - Score 9 (sell pressure 80%, 24h +18.0%)", "2. SHIBUSDT - Score 8 (funding 0.820%)"]
    gems = lines[lines.index("💎 <b>New Gems (MSS ≥75):</b>") + 1:][:3]
    assert gems == ["1. NEWUSDT - MSS 88 ($4.0M FDV, 18h old)", "2. TOKEN2USDT - MSS 79 ($8.2M FDV, 36h old)", ""]
    watch = lines[lines.index("📋 <b>Watchlist (tier 3, summary only):</b>") + 1:][:2]
    assert watch == ["• WATCHUSDT - RSI · Oversold (LONG) · unified n/a · RSI 27.5", ""]
    assert "not enough history yet" in lines  # no outcome has been measured for that day
    assert "PEPEUSDT" not in text and "WIFUSDT" not in text and "LOUDUSDT" not in text
    assert len(text.encode("utf-16-le")) // 2 <= 4096


def a_crowded_watchlist() -> None:
    """ARBUSDT raises tier-3 signals on four scanners in three hourly runs; BTCUSDT one with the best unified
    score of the day but a weak raw RSI; DOGEUSDT one without a unified score. Raw scores (accumulation out of
    10, MSS out of 100, an RSI where lower is stronger) put MSS first and repeat ARBUSDT line after line."""
    a = alice()

    def watch(symbol, scanner, kind, score, metric, unified, hour, **fields):
        s = make_signal(symbol, tier=3, scanner=scanner, kind=kind, score=score, score_metric=metric,
                        unified_score=unified, candle=NOON + timedelta(hours=hour), created_at=NOON + timedelta(hours=hour),
                        **fields)
        queue(s, a, status="summary_only", reason="tier_3_summary_only")
        return s

    watch("ARBUSDT", "smart_money", "accumulating", 6, "accumulation", 58, 0)
    watch("ARBUSDT", "rsi", "oversold", 27, "rsi", 58, 0)
    watch("BTCUSDT", "rsi", "oversold", 29.5, "rsi", 70, 0)
    watch("ARBUSDT", "smart_money", "accumulating", 5, "accumulation", 61, 1)
    watch("ARBUSDT", "mss", "gem", 62, "mss", 61, 1)
    watch("ARBUSDT", "smart_money", "accumulating", 6, "accumulation", 61, 2)  # ties 61: the later one stands
    watch("ARBUSDT", "unified", "unified", 61, "unified_score", 61, 2,
          scores={"unified_score": 61, "tier": "TIER_3", "label": "WATCHLIST"})
    watch("DOGEUSDT", "smart_money", "accumulating", 6, "accumulation", None, 2)
    loud = make_signal("ARBUSDT", tier=3, score=6, score_metric="accumulation", unified_score=80,
                       candle=NOON + timedelta(hours=3), created_at=NOON + timedelta(hours=3))
    queue(loud, a, status="sent", sent_at=NOON + timedelta(hours=3))  # sent: not a summary-only item


@pytest.mark.django_db
def test_the_watchlist_has_one_line_per_coin_and_scanner_ordered_by_unified_score(monkeypatch):
    a_crowded_watchlist()
    lines = daily_summary(DAY).splitlines()
    assert "📋 TIER 3 SIGNALS (Watchlist): 9" in lines  # every signal still counts in the tier line
    watch = lines[lines.index("📋 <b>Watchlist (tier 3, summary only):</b>") + 1:][:7]
    assert watch == ["• BTCUSDT - RSI · Oversold (LONG) · unified 70/100 · RSI 29.5",
                     "• ARBUSDT - MSS Discovery · New listing (LONG) · unified 61/100 · 62/100 (MSS)",
                     "• ARBUSDT - Smart Money · Accumulation (LONG) · unified 61/100 · 6/10 (accumulation)",
                     "• ARBUSDT - Unified Score · TIER_3 (WATCHLIST) (LONG) · unified 61/100",
                     "• ARBUSDT - RSI · Oversold (LONG) · unified 58/100 · RSI 27.0",
                     "• DOGEUSDT - Smart Money · Accumulation (LONG) · unified n/a · 6/10 (accumulation)", ""]
    monkeypatch.setattr("signals.summary.WATCHLIST", 4)
    lines = daily_summary(DAY).splitlines()
    watch = lines[lines.index("📋 <b>Watchlist (tier 3, summary only):</b>") + 1:][:6]
    assert watch[3:] == ["• ARBUSDT - Unified Score · TIER_3 (WATCHLIST) (LONG) · unified 61/100",
                         "… and 2 more", ""]  # pairs, not signals


@pytest.mark.django_db
def test_an_empty_day_says_none_rather_than_inventing():
    text = daily_summary(DAY)
    assert "🔍 Coins Scanned: 0" in text and "⏱️ Total Scans: 0" in text
    assert text.count("\nnone\n") == 4 and "Simulated" not in text


@pytest.mark.django_db
def test_symbols_in_the_summary_are_escaped():
    run = make_run(scanner="smart_money", started_at=NOON, finished_at=NOON)
    make_result(run, coin("X<&>USDT"), "smart_money", score=9, scores={"accumulation": 9, "distribution": 0},
                signal="accumulating")
    assert "X&lt;&amp;&gt;USDT" in daily_summary(DAY)


@pytest.mark.django_db
def test_it_is_sent_once_per_recipient_and_day_however_often_it_runs():
    a_day_of_scans()
    bob()
    Recipient.objects.create(name="no summaries", chat_id="777", wants_daily_summary=False)
    first, second = FakeTransport(), FakeTransport()
    assert send_daily_summary(first, now=NOW, worker="a") == {"day": "2025-11-14", "sent": 2}
    assert send_daily_summary(second, now=NOW + timedelta(minutes=1), worker="b")["sent"] == 0
    assert sorted(m.chat_id for m in first.messages) == ["-100200", "1001"] and not second.messages
    assert SummaryDelivery.objects.filter(day=DAY, status="sent").count() == 2
    assert first.messages[0].text == daily_summary(DAY)


@pytest.mark.django_db
def test_a_429_on_the_summary_keeps_it_for_later():
    alice()
    transport = FakeTransport(too_many_requests(60))
    send_daily_summary(transport, now=NOW)
    row = SummaryDelivery.objects.get()
    assert (row.status, row.next_attempt_at) == ("pending", NOW + timedelta(seconds=60))
    assert send_daily_summary(transport, now=NOW + timedelta(seconds=30))["paused_until"]
    assert send_daily_summary(transport, now=NOW + timedelta(seconds=60))["sent"] == 1
    assert BotState.get().paused_until == NOW + timedelta(seconds=60)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="threads with separate connections need a server database")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_at_once_on_postgres_send_it_once():
    alice()
    bob()
    transports = [FakeTransport() for _ in range(3)]
    run_in_threads(3, lambda i: send_daily_summary(transports[i], now=NOW, worker=f"w{i}"))
    assert sorted(m.chat_id for t in transports for m in t.messages) == ["-100200", "1001"]
    assert SummaryDelivery.objects.count() == 2


@pytest.mark.django_db
def test_yesterdays_performance_comes_from_the_measured_outcomes():
    from datetime import datetime as dt

    from tests.outcome_factories import coin as a_coin, outcome, signal
    day = date(2025, 11, 1)
    noon = dt(2025, 11, 1, 12, tzinfo=timezone.utc)
    wins = [signal(a_coin(f"W{i}USDT"), tier=1, at=noon) for i in range(3)]
    for s, pnl in zip(wins, (6.0, 12.0, 9.0)):
        outcome(s, result="WIN", pnl=pnl)
    outcome(signal(a_coin("LOSSUSDT"), tier=1, at=noon), result="LOSS", pnl=-4.0)
    outcome(signal(a_coin("WAITUSDT"), tier=2, at=noon), status="pending")
    text = daily_summary(day)
    assert "TIER 1 signals: 3 wins, 1 loss of 4 (75% win rate)" in text
    assert "Average gain of the wins: 9%" in text  # (6 + 12 + 9) / 3
    assert "Best performer: 12% (W1USDT)" in text
    assert "1 still waiting for their 24h mark" in text
