"""Telegram answers 429 with retry_after 35 s: the sender pauses every chat for 35 s, sends nothing
before then, and afterwards delivers every alert exactly once.

Over real loopback HTTP to the simulator's Telegram, which keeps its own pause on a clock the test
moves (FakeClock); the sender takes the same time as `now=`, so the 35 seconds pass without being
slept. A send inside the pause would be refused by the simulator with another 429, and counted.
(tests/test_alert_faults.py covers the 30-second case against the in-memory transport.)
"""
from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from marketdata.simulator.server import SimulatorServer
from marketdata.simulator.testing import FakeClock
from signals.models import AlertDelivery, BotState
from signals.sender import send_pending
from signals.telegram import TelegramTransport
from tests.fault_support import hard_timeout
from tests.test_alert_support import NOW, alice, bob, make_signal, queue

pytestmark = pytest.mark.django_db
TOKEN = "123456:fault-35"
SYMBOLS = ("ARBUSDT", "OPUSDT", "SUIUSDT")


def test_a_429_with_retry_after_35_s_pauses_every_chat_and_loses_nothing():
    clock = FakeClock(NOW.timestamp())
    with hard_timeout(60), SimulatorServer(seed=41, coins=10, clock=clock) as sim, \
            httpx.Client(base_url=sim.base_url, timeout=5) as api, \
            TelegramTransport(f"{sim.base_url}/telegram", TOKEN, timeout=5) as transport:
        a, b = alice(), bob()
        signals = [make_signal(symbol, tier=1) for symbol in SYMBOLS]
        rows = [queue(signal, who) for signal in signals for who in (a, b)]
        assert api.post("/sim/telegram/faults", json={"retry_after": 35}).status_code == 200

        first = send_pending(transport, now=NOW)
        assert first.paused_until == NOW + timedelta(seconds=35) == BotState.get().paused_until
        assert first.sent == 0 and api.get("/sim/telegram/messages").json() == []
        waiting = AlertDelivery.objects.filter(pk__in=[r.pk for r in rows])
        assert {r.status for r in waiting} == {"pending"}  # none lost, none failed
        # the refused one waits for retry_after; the others were held by pacing, and the bot's pause holds them all
        assert waiting.filter(reason="rate_limited", next_attempt_at=NOW + timedelta(seconds=35)).exists()
        asked = sim.requests

        for seconds in (1, 20, 34, 34.9):  # inside the pause: nothing is claimed, nothing is sent
            clock.t = (NOW + timedelta(seconds=seconds)).timestamp()
            report = send_pending(transport, now=NOW + timedelta(seconds=seconds))
            assert (report.claimed, report.sent) == (0, 0)
        assert sim.requests == asked, "a request reached Telegram during its retry_after"

        at, passes = NOW + timedelta(seconds=35), 0
        while AlertDelivery.objects.filter(status__in=["pending", "claimed"]).exists():
            clock.t = at.timestamp()
            report = send_pending(transport, now=at)
            passes += 1
            assert passes < 60, "the alerts were never all delivered"
            at = max(report.next_due or at, at) + timedelta(seconds=1)
        messages = api.get("/sim/telegram/messages").json()
        refused = sim.status_counts.get("429", 0)

    assert refused == 1, "Telegram refused a send after the pause (sent too early) or twice"
    assert {r.status for r in AlertDelivery.objects.all()} == {"sent"}
    for who in (a, b):  # every alert reached its chat, and nothing else was sent there
        in_chat = {m["message_id"]: m["text"] for m in messages if str(m["chat_id"]) == who.chat_id}
        mine = AlertDelivery.objects.filter(recipient=who)
        assert mine.count() == len(SYMBOLS) and set(mine.values_list("message_id", flat=True)) == set(in_chat)
        for row in mine.select_related("signal__coin"):
            assert row.signal.coin.symbol.removesuffix("USDT") in in_chat[row.message_id]
