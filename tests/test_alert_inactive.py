"""A user deactivated after their alerts and daily summary were queued gets neither: the sender checks
the recipient again just before sending (new signals already skip inactive users, Recipient.objects.active).

Over real loopback HTTP to the simulator's Telegram. The rows are written while the user is active and held
back by a 429 (retry_after 35 s), as a burst waiting for its pacing slot or a retry would be; the user is
deactivated during the pause. The simulator's clock is moved (FakeClock) with the sender's `now=`.
"""
from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from django.contrib.auth import get_user_model

from marketdata.simulator.server import SimulatorServer
from marketdata.simulator.testing import FakeClock
from signals.models import AlertDelivery, Recipient, SummaryDelivery
from signals.sender import send_pending
from signals.summary import send_daily_summary, send_due_summaries
from signals.telegram import TelegramTransport
from tests.fault_support import hard_timeout
from tests.test_alert_support import NOW, alice, make_signal, queue

pytestmark = pytest.mark.django_db
TOKEN = "123456:inactive"


def in_chat(api: httpx.Client, chat_id: str) -> list[dict]:
    return [m for m in api.get("/sim/telegram/messages").json() if str(m["chat_id"]) == chat_id]


def test_alerts_and_the_summary_queued_before_a_user_is_deactivated_are_not_sent():
    clock = FakeClock(NOW.timestamp())
    with hard_timeout(60), SimulatorServer(seed=43, coins=10, clock=clock) as sim, \
            httpx.Client(base_url=sim.base_url, timeout=5) as api, \
            TelegramTransport(f"{sim.base_url}/telegram", TOKEN, timeout=5) as transport:
        dave = get_user_model().objects.create_user("dave", password="x")
        mine = Recipient.objects.create(name="dave", chat_id="4004", kind=Recipient.USER, user=dave)
        shared = alice()
        signals = [make_signal(symbol, tier=1) for symbol in ("ARBUSDT", "OPUSDT")]
        rows = {who.pk: [queue(s, who) for s in signals] for who in (mine, shared)}

        # A 429 holds every row (alerts, then the summary written while dave is still active).
        assert api.post("/sim/telegram/faults", json={"retry_after": 35}).status_code == 200
        assert send_pending(transport, now=NOW).paused_until == NOW + timedelta(seconds=35)
        assert send_daily_summary(transport, now=NOW)["paused_until"]
        assert SummaryDelivery.objects.filter(status="pending").count() == 2
        get_user_model().objects.filter(pk=dave.pk).update(is_active=False)

        at = NOW + timedelta(seconds=35)
        clock.t = at.timestamp()
        first = send_pending(transport, now=at)
        assert first.failed == {"user_inactive": 2} and first.sent == 1  # alice's second waits for her slot
        later = at + timedelta(seconds=1)
        clock.t = later.timestamp()
        assert send_pending(transport, now=later).sent == 1
        clock.t = (later + timedelta(seconds=1)).timestamp()
        summaries = send_due_summaries(transport, now=later + timedelta(seconds=1))
        assert summaries == {"sent": 1, "user_inactive": 1}
        assert in_chat(api, mine.chat_id) == []
        assert len(in_chat(api, shared.chat_id)) == 3  # two alerts and the summary

    for row in rows[mine.pk]:
        row.refresh_from_db()
        assert (row.status, row.reason, row.message_id) == ("failed", "user_inactive", None)
    assert {r.status for r in AlertDelivery.objects.filter(recipient=shared)} == {"sent"}
    summary = {r.recipient_id: (r.status, r.reason) for r in SummaryDelivery.objects.all()}
    assert summary == {mine.pk: ("failed", "user_inactive"), shared.pk: ("sent", "")}
    assert send_pending(transport, now=later + timedelta(minutes=5)).claimed == 0  # final: never picked up again


def test_a_summary_for_a_chat_disabled_after_it_was_written_is_not_sent():
    clock = FakeClock(NOW.timestamp())
    with hard_timeout(60), SimulatorServer(seed=44, coins=10, clock=clock) as sim, \
            httpx.Client(base_url=sim.base_url, timeout=5) as api, \
            TelegramTransport(f"{sim.base_url}/telegram", TOKEN, timeout=5) as transport:
        chat = alice()
        assert api.post("/sim/telegram/faults", json={"retry_after": 35}).status_code == 200
        assert send_daily_summary(transport, now=NOW)["rate_limited"] == 1  # written, held by the 429
        Recipient.objects.filter(pk=chat.pk).update(enabled=False)  # an admin turned the chat off
        clock.t = (NOW + timedelta(seconds=35)).timestamp()
        assert send_due_summaries(transport, now=NOW + timedelta(seconds=35)) == {"sent": 0, "recipient_disabled": 1}
        assert in_chat(api, chat.chat_id) == []
    assert SummaryDelivery.objects.values_list("status", "reason").get() == ("failed", "recipient_disabled")
