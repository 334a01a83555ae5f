"""The dead-man alert, against the simulator's Telegram over loopback: one message when scans stop,
none while they stay stopped, one when they resume; a 429 delays it without losing it."""
from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from cryptosatx import deadman
from cryptosatx.models import DeadmanState
from marketdata.simulator.server import SimulatorServer
from marketdata.simulator.testing import FakeClock
from scanners.models import ScanRun
from signals.models import BotState
from signals.telegram import TelegramTransport

pytestmark = pytest.mark.django_db
TOKEN = "4242:deadman-test_token"
CHAT = "1001"


@pytest.fixture(scope="module")
def clock():
    return FakeClock(timezone.now().timestamp())


@pytest.fixture(scope="module")
def tg_sim(clock):
    with SimulatorServer(coins=20, clock=clock) as server:
        yield server


@pytest.fixture
def run(bot, clock):
    """One scheduled check at `now`, with the simulator's Telegram clock (its limits) at `now` too."""
    def at(now, transport=None):
        clock.t = now.timestamp()
        return deadman.check(transport or bot, now=now)
    return at


@pytest.fixture
def bot(tg_sim, settings):
    settings.TELEGRAM_API_URL = f"{tg_sim.base_url}/telegram"
    settings.TELEGRAM_BOT_TOKEN = TOKEN
    settings.TELEGRAM_CHAT_ID = CHAT
    settings.AUTO_SCAN_ENABLED = True
    httpx.delete(f"{tg_sim.base_url}/sim/telegram/messages").raise_for_status()
    httpx.post(f"{tg_sim.base_url}/sim/telegram/faults", json={"clear": True}).raise_for_status()
    with TelegramTransport(settings.TELEGRAM_API_URL, TOKEN, timeout=5) as transport:
        yield transport


def inbox(tg_sim) -> list[str]:
    return [m["plain_text"] for m in httpx.get(f"{tg_sim.base_url}/sim/telegram/messages").json()]


def scan_finished(scanner: str, at) -> None:
    run = ScanRun.objects.create(scanner=scanner, status=ScanRun.COMPLETED)
    ScanRun.objects.filter(pk=run.pk).update(started_at=at, finished_at=at)


def test_told_once_when_scans_stop_and_once_when_they_resume(run, tg_sim):
    t0 = timezone.now()
    scan_finished("all", t0)
    assert run(t0 + timedelta(minutes=30)) == {"late": [], "sent": 0}
    assert inbox(tg_sim) == []

    # smart money scans hourly: 2 h 1 min without a completed scan is past twice its interval.
    down_at = t0 + timedelta(hours=2, minutes=1)
    result = run(down_at)
    assert result["late"] == ["smart_money"] and result["sent"] == 1
    (message,) = inbox(tg_sim)
    assert "scans have stopped" in message and "smart_money: last completed scan 2 h 01 min ago" in message

    for minute in range(1, 6):  # still down: nothing more
        assert run(down_at + timedelta(minutes=minute))["sent"] == 0
    assert len(inbox(tg_sim)) == 1

    # social (every 2 h) becomes late too: one more message, naming both
    social_late = t0 + timedelta(hours=4, minutes=1)
    assert run(social_late)["late"] == ["smart_money", "social"]
    assert len(inbox(tg_sim)) == 2 and "social: last completed scan 4 h 01 min ago" in inbox(tg_sim)[1]

    back = t0 + timedelta(hours=4, minutes=10)
    scan_finished("all", back)
    result = run(back + timedelta(minutes=1))
    assert result["late"] == [] and result["sent"] == 1
    assert "scans resumed after 2 h 10 min" in inbox(tg_sim)[2]
    assert run(back + timedelta(minutes=2))["sent"] == 0
    assert len(inbox(tg_sim)) == 3
    assert TOKEN not in str(DeadmanState.objects.values().get())


def test_a_scanner_that_never_completed_counts_from_the_first_check(run, tg_sim):
    t0 = timezone.now()
    assert run(t0)["late"] == []  # just installed: not late yet
    assert run(t0 + timedelta(hours=1, minutes=59))["sent"] == 0
    result = run(t0 + timedelta(hours=2, minutes=1))
    assert result["late"] == ["smart_money"] and "smart_money: no completed scan yet" in inbox(tg_sim)[0]


def test_a_429_pauses_the_message_without_losing_it(run, tg_sim):
    t0 = timezone.now()
    scan_finished("all", t0 - timedelta(hours=3))
    DeadmanState.objects.create(pk=1)
    httpx.post(f"{tg_sim.base_url}/sim/telegram/faults", json={"retry_after": 35, "count": 1}).raise_for_status()
    result = run(t0)
    assert (result["sent"], result["outcome"]) == (0, "paused") and inbox(tg_sim) == []
    paused_until = BotState.objects.get().paused_until
    assert paused_until >= t0 + timedelta(seconds=34)
    state = DeadmanState.objects.get()
    assert state.pending_kind == "down" and state.pending_to == [CHAT] and "Too Many Requests" in state.last_error

    assert run(t0 + timedelta(seconds=20))["sent"] == 0  # still paused: kept
    assert run(t0 + timedelta(seconds=40))["sent"] == 1
    assert len(inbox(tg_sim)) == 1 and DeadmanState.objects.get().pending_text == ""


def test_a_stop_that_ends_before_anyone_was_told_sends_nothing(run, tg_sim, settings):
    t0 = timezone.now()
    scan_finished("all", t0 - timedelta(hours=3))
    settings.TELEGRAM_API_URL = "http://127.0.0.1:9/telegram"  # nothing listens: the send fails, retryable
    with TelegramTransport(settings.TELEGRAM_API_URL, TOKEN, timeout=2) as down:
        result = run(t0, down)
    assert (result["sent"], result["outcome"], result["pending_to"]) == (0, "retrying", 1)
    scan_finished("all", t0)
    assert run(t0 + timedelta(minutes=1)) == {"late": [], "sent": 0}
    assert inbox(tg_sim) == [] and DeadmanState.objects.get().pending_text == ""


def test_setup_schedules_adds_the_check_every_minute(settings):
    call_command("setup_schedules", stdout=open("/dev/null", "w"))
    schedule = Schedule.objects.get(name="dead-man check")
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == ("cryptosatx.deadman.check_task", "I", 1)
