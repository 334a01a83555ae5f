"""The sender's anti-spam, pacing and digests: every suppression stored with its reason."""
from __future__ import annotations

from datetime import timedelta

import pytest

from signals.models import AlertDelivery
from signals.outbox import record_signals
from signals.sender import send_pending
from tests.test_alert_support import (CANDLE, NOW, FakeTransport, alice, bob, fresh, make_signal, queue,
                                      sent_before)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def budgets(settings):
    settings.ALERT_COOLDOWN_HOURS = 4
    settings.MAX_ALERTS_PER_HOUR = 10
    settings.TIER_1_MAX_PER_DAY = 20
    settings.TIER_2_MAX_PER_DAY = 50
    settings.TELEGRAM_TIER_3_ENABLED = False


def test_it_sends_a_due_alert_and_stores_the_message_id():
    row = queue(make_signal(tier=1, score=9), alice())
    transport = FakeTransport()
    report = send_pending(transport, now=NOW, worker="w1")
    row = fresh(row)
    assert (row.status, row.message_id, row.sent_at, row.reason) == ("sent", 1000, NOW, "")
    assert (report.sent, report.messages) == (1, 1)
    [message] = transport.messages
    assert message.chat_id == "1001" and not message.silent
    assert message.text.startswith("🚨 <b>TIER 1 - MUST BUY</b>")
    assert "Symbol: <b>ARBUSDT</b>" in message.text


def test_it_sends_nothing_that_is_not_due_yet():
    queue(make_signal(), alice(), at=NOW + timedelta(seconds=10))
    transport = FakeTransport()
    assert send_pending(transport, now=NOW).claimed == 0 and transport.calls == 0


def test_cooldown_holds_the_same_coin_scanner_and_direction_then_escalation_passes():
    a = alice()
    sent_before(make_signal(tier=2, candle=CANDLE - timedelta(hours=1)), a, at=NOW - timedelta(hours=1))
    held = queue(make_signal(tier=2), a)
    send_pending(FakeTransport(), now=NOW)
    assert (fresh(held).status, fresh(held).reason) == ("suppressed", "cooldown")

    escalated = queue(make_signal(tier=1, candle=CANDLE + timedelta(hours=1)), a, at=NOW + timedelta(hours=1))
    send_pending(FakeTransport(), now=NOW + timedelta(hours=1))
    assert fresh(escalated).status == "sent"  # tier 1 after a tier 2: an escalation

    again = queue(make_signal(tier=1, candle=CANDLE + timedelta(hours=2)), a, at=NOW + timedelta(hours=2))
    send_pending(FakeTransport(), now=NOW + timedelta(hours=2))
    assert (fresh(again).status, fresh(again).reason) == ("suppressed", "cooldown")  # tier 1 after tier 1


def test_cooldown_is_per_direction_and_per_scanner_and_ends():
    a = alice()
    sent_before(make_signal(tier=2, candle=CANDLE - timedelta(hours=1)), a, at=NOW - timedelta(hours=1))
    short = queue(make_signal(tier=2, direction="SHORT", kind="distributing"), a)
    other = queue(make_signal(tier=2, scanner="unified", kind="unified"), a, at=NOW)
    send_pending(FakeTransport(), now=NOW)
    send_pending(FakeTransport(), now=NOW + timedelta(seconds=1))  # pacing: one message per second
    assert fresh(short).status == fresh(other).status == "sent"
    late = queue(make_signal(tier=2, candle=CANDLE + timedelta(hours=3, minutes=1)), a,
                 at=NOW + timedelta(hours=3, minutes=1))
    send_pending(FakeTransport(), now=NOW + timedelta(hours=3, minutes=1))  # 4h after the first send
    assert fresh(late).status == "sent"


def test_the_hourly_cap_per_recipient(settings):
    settings.MAX_ALERTS_PER_HOUR = 2
    a, b = alice(), bob()
    for i, symbol in enumerate(("AAAUSDT", "BBBUSDT")):
        sent_before(make_signal(symbol), a, at=NOW - timedelta(minutes=30 + i))
    sent_before(make_signal("OLDUSDT"), a, at=NOW - timedelta(minutes=61))  # outside the hour
    ccc = make_signal("CCCUSDT")
    capped, other_chat = queue(ccc, a), queue(ccc, b)
    send_pending(FakeTransport(), now=NOW)
    assert (fresh(capped).status, fresh(capped).reason) == ("suppressed", "hourly_cap")
    assert fresh(other_chat).status == "sent"


@pytest.mark.parametrize("tier, key", [(1, "TIER_1_MAX_PER_DAY"), (2, "TIER_2_MAX_PER_DAY")])
def test_the_daily_cap_of_each_tier(settings, tier, key):
    setattr(settings, key, 2)
    a = alice()
    sent_before(make_signal("YESTUSDT", tier=tier), a, at=NOW - timedelta(hours=9))  # yesterday: 23:02
    for symbol in ("AAAUSDT", "BBBUSDT"):
        sent_before(make_signal(symbol, tier=tier), a, at=NOW - timedelta(hours=2))
    other_tier = queue(make_signal("LOWUSDT", tier=3 - tier), a)
    capped = queue(make_signal("CCCUSDT", tier=tier), a)
    report = send_pending(FakeTransport(), now=NOW)
    assert (fresh(capped).status, fresh(capped).reason) == ("suppressed", f"tier_{tier}_daily_cap")
    assert fresh(other_tier).status == "sent"
    assert report.suppressed == {f"tier_{tier}_daily_cap": 1}


def test_tier_3_goes_to_the_summary_only_unless_enabled(settings):
    from tests.test_signals_outbox import scan

    a = alice()
    record_signals(scan(), now=NOW)
    eth = AlertDelivery.objects.get(signal__coin__symbol="ETHUSDT", recipient=a)
    assert (eth.status, eth.reason) == ("summary_only", "tier_3_summary_only")
    transport = FakeTransport()
    for i in range(6):
        send_pending(transport, now=NOW + timedelta(seconds=i))
    assert fresh(eth).status == "summary_only"
    assert all("ETHUSDT" not in m.text for m in transport.messages)

    settings.TELEGRAM_TIER_3_ENABLED = True
    quiet = queue(make_signal("XRPUSDT", tier=3, scanner="rsi", kind="oversold", score=27, score_metric="rsi"), a,
                  at=NOW + timedelta(seconds=10))
    send_pending(transport, now=NOW + timedelta(seconds=10))
    assert fresh(quiet).status == "sent"
    assert transport.messages[-1].silent and "RSI 27.0" in transport.messages[-1].text


def test_a_tier_switched_off_after_the_rows_were_written_is_not_sent(settings):
    row = queue(make_signal(tier=2), alice())
    settings.TELEGRAM_TIER_2_ENABLED = False
    send_pending(FakeTransport(), now=NOW)
    assert (fresh(row).status, fresh(row).reason) == ("summary_only", "tier_2_disabled")


def test_an_alert_hours_after_its_candle_is_stale():
    row = queue(make_signal(candle=CANDLE - timedelta(hours=4)), alice())
    send_pending(FakeTransport(), now=NOW)
    assert (fresh(row).status, fresh(row).reason) == ("suppressed", "stale")


def test_pacing_keeps_rows_pending_with_their_next_attempt():
    a, b = alice(), bob()
    aaa, bbb = make_signal("AAAUSDT", tier=1), make_signal("BBBUSDT")
    first, second, g1, g2 = queue(aaa, a), queue(bbb, a), queue(aaa, b), queue(bbb, b)
    report = send_pending(FakeTransport(), now=NOW)
    assert fresh(first).status == fresh(g1).status == "sent"
    assert (fresh(second).status, fresh(second).reason, fresh(second).next_attempt_at) == \
        ("pending", "paced", NOW + timedelta(seconds=1))
    assert (fresh(g2).status, fresh(g2).next_attempt_at) == ("pending", NOW + timedelta(seconds=3))  # 20/min group
    assert report.paced == 2 and not report.suppressed
    send_pending(FakeTransport(), now=NOW + timedelta(seconds=1))
    assert fresh(second).status == "sent" and fresh(g2).status == "pending"
    send_pending(FakeTransport(), now=NOW + timedelta(seconds=3))
    assert fresh(g2).status == "sent"


def test_a_second_pass_within_the_second_waits_for_the_chats_slot():
    a = alice()
    send_pending(FakeTransport(), now=NOW - timedelta(seconds=1))  # nothing yet
    queue(make_signal("AAAUSDT"), a, at=NOW - timedelta(milliseconds=500))
    send_pending(FakeTransport(), now=NOW - timedelta(milliseconds=500))
    late = queue(make_signal("BBBUSDT"), a)
    send_pending(FakeTransport(), now=NOW)
    assert (fresh(late).status, fresh(late).next_attempt_at) == ("pending", NOW + timedelta(milliseconds=500))


def test_a_burst_for_one_chat_is_folded_into_one_digest():
    a = alice()
    rows = [queue(make_signal(f"C{i}USDT", tier=1 if i < 2 else 2), a) for i in range(7)]
    single = queue(make_signal("SOLOUSDT"), bob())
    transport = FakeTransport()
    report = send_pending(transport, now=NOW)
    assert (report.messages, report.digests, report.sent) == (2, 1, 8)
    digest = next(m for m in transport.messages if m.chat_id == "1001")
    assert digest.text.startswith("🔔 <b>7 alerts</b> · 🚨 tier 1: 2 · ⚠️ tier 2: 5")
    assert all(f"C{i}USDT" in digest.text for i in range(7)) and not digest.silent
    rows = [fresh(r) for r in rows]
    assert {(r.status, r.reason, r.message_id) for r in rows} == {("sent", "digest", rows[0].message_id)}
    assert fresh(single).reason == ""


def test_five_due_for_one_chat_are_paced_not_folded():
    a = alice()
    rows = [queue(make_signal(f"C{i}USDT"), a) for i in range(5)]
    report = send_pending(FakeTransport(), now=NOW)
    assert (report.sent, report.digests, report.paced) == (1, 0, 4)
    assert [fresh(r).status for r in rows].count("pending") == 4


def test_a_digest_too_long_for_one_message_leaves_the_rest_for_the_next(settings):
    settings.MAX_ALERTS_PER_HOUR = 500
    settings.TIER_2_MAX_PER_DAY = 500
    a = alice()
    rows = [queue(make_signal(f"LONGNAME{i:03d}USDT"), a) for i in range(120)]
    transport = FakeTransport()
    report = send_pending(transport, now=NOW)
    [message] = transport.messages
    assert len(message.text.encode("utf-16-le")) // 2 <= 4096
    statuses = [fresh(r).status for r in rows]
    assert report.sent == statuses.count("sent") < 120
    assert statuses.count("pending") == 120 - report.sent == report.paced
    assert f"<b>{report.sent} alerts</b>" in message.text
