"""A real worker process dies (SIGKILL) or stalls between claiming an alert and marking it sent;
the alert still reaches the simulator's Telegram exactly once, or is left possibly_delivered
when it may have arrived (never resent blindly).

Each child is `python -c CHILD`: it runs `signals.sender.send_pending` against the same
database and the simulator, with a hook monkeypatched in (only in the child) that stops it at
the moment under test. The test process then plays the next worker with a 1-second lease.
The database is the suite's: PostgreSQL as it is, or SQLite's in-memory test database copied
to a file that this process then uses too (a child cannot open an in-memory database).
"""
from __future__ import annotations

import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from django.db import connection
from django.utils import timezone

from marketdata.simulator.server import SimulatorServer
from signals import sender
from signals.models import AlertDelivery
from signals.telegram import TelegramTransport
from tests.test_alert_support import alice, make_signal, queue as queue_delivery

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keep the seeded rows

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:worker-kill"
CHAT = 1001  # alice's private chat
SHORT_LEASE = timedelta(seconds=1)

# The child worker. argv: mode [go-file]. It prints one line at the moment under test.
CHILD = r"""
import json, os, sys, time
import django
django.setup()
from signals import sender
from signals.telegram import TelegramTransport

mode = sys.argv[1]
if mode == "stop-after-claim":  # claimed, then hangs until killed: nothing was sent
    real_claim = sender.claim
    def claim(*args, **kwargs):
        mine = real_claim(*args, **kwargs)
        print("claimed", *mine, flush=True)
        time.sleep(600)
        return mine
    sender.claim = claim
elif mode == "stall-before-send":  # slot reserved, message rendered; stalls until the go-file exists
    real_send_message = sender.send_message
    def send_message(*args, **kwargs):
        print("about-to-send", flush=True)
        deadline = time.monotonic() + 60
        while not os.path.exists(sys.argv[2]) and time.monotonic() < deadline:
            time.sleep(0.05)
        return real_send_message(*args, **kwargs)
    sender.send_message = send_message
report = sender.send_pending(TelegramTransport.from_settings())
print("report", json.dumps(report.as_dict()), flush=True)
"""


# ---------------------------------------------------------------- a database children can open

def database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = quote(s["USER"] or "", safe="") + (f":{quote(s['PASSWORD'], safe='')}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{quote(s['NAME'], safe='')}"


@pytest.fixture
def shared_db(transactional_db, tmp_path):
    """The suite's test database, reachable from child processes; yields its DATABASE_URL.
    SQLite: the in-memory test database (migrated, seeded) is copied to a file and this process
    switches to it until the test ends; the in-memory one is left as it was."""
    if connection.vendor != "sqlite" or not connection.is_in_memory_db():
        yield database_url()
        return
    connection.ensure_connection()
    memory, name = connection.connection, connection.settings_dict["NAME"]
    disk = sqlite3.connect(tmp_path / "shared.sqlite3")
    memory.backup(disk)
    disk.close()
    connection.connection = None  # the in-memory connection is kept aside, not closed (that would drop it)
    connection.settings_dict["NAME"] = str(tmp_path / "shared.sqlite3")
    try:
        yield database_url()
    finally:
        connection.close()
        connection.settings_dict["NAME"] = name
        connection.connection = memory


# ---------------------------------------------------------------- child processes

class Child:
    """A child process whose stdout lines can be awaited; stderr goes to a file for failures."""

    def __init__(self, argv: list[str], env: dict, log: Path):
        self.log = log
        with open(log, "w") as err:
            self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def expect(self, prefix: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                pytest.fail(f"the child exited ({self.proc.wait()}) before printing {prefix!r}:\n{self.stderr()}")
            if line.startswith(prefix):
                return line
        pytest.fail(f"the child did not print {prefix!r} within {timeout:.0f} s:\n{self.stderr()}")

    def stderr(self) -> str:
        return self.log.read_text()[-4000:]

    def kill(self) -> int:
        self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        self.proc.stdout.close()


@pytest.fixture
def sim():
    with SimulatorServer(seed=5, coins=10) as server:
        yield server


@pytest.fixture
def spawn(shared_db, sim, tmp_path):
    """spawn(*argv) → a running child worker on the shared database and the simulator."""
    children: list[Child] = []
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cryptosatx.settings", "DATABASE_URL": shared_db,
           "TELEGRAM_API_URL": f"{sim.base_url}/telegram", "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_CHAT_ID": "",
           "HTTP_TIMEOUT_SECONDS": "60", "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                                                     os.environ.get("PYTHONPATH")]))}

    def start(*argv: str) -> Child:
        child = Child([sys.executable, "-c", CHILD, *argv], env, tmp_path / f"child-{len(children)}.log")
        children.append(child)
        return child

    yield start
    for child in children:
        child.stop()


@pytest.fixture
def api(sim):
    with httpx.Client(base_url=sim.base_url, timeout=5) as client:
        yield client


def inbox(api) -> list[dict]:
    return api.get("/sim/telegram/messages", params={"chat_id": CHAT}).json()


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"{what} did not happen within {timeout:.0f} s")


def one_due_alert() -> AlertDelivery:
    """A tier-2 alert for alice, due now, on a candle that closed two minutes ago."""
    now = timezone.now()
    signal_ = make_signal("ARBUSDT", tier=2, candle=now.replace(microsecond=0) - timedelta(minutes=2))
    return queue_delivery(signal_, alice(), at=now)


def survivor_pass(sim, monkeypatch, claimed_at) -> sender.SendReport:
    """The next worker (this process), once the dead worker's lease (1 s here) has run out."""
    monkeypatch.setattr(sender, "LEASE", SHORT_LEASE)
    time.sleep(max(0.0, (claimed_at + SHORT_LEASE - timezone.now()).total_seconds()) + 0.05)
    with TelegramTransport(f"{sim.base_url}/telegram", TOKEN, timeout=10) as transport:
        return sender.send_pending(transport, worker="survivor")


def row(pk: int) -> AlertDelivery:
    return AlertDelivery.objects.get(pk=pk)


# ---------------------------------------------------------------- the tests

def test_a_worker_killed_after_claiming_leaves_the_alert_to_the_next_worker_which_sends_it_once(
        spawn, sim, api, monkeypatch):
    alert = one_due_alert()
    child = spawn("stop-after-claim")
    assert child.expect("claimed").split()[1:] == [str(alert.pk)]
    claimed = row(alert.pk)
    assert (claimed.status, claimed.claimed_by) == ("claimed", f"{socket.gethostname()}:{child.pid}")
    assert claimed.send_started_at is None  # killed before the request
    assert child.kill() == -signal.SIGKILL
    assert inbox(api) == []

    report = survivor_pass(sim, monkeypatch, claimed.claimed_at)
    assert (report.claimed, report.sent) == (1, 1)
    messages = inbox(api)
    assert len(messages) == 1 and "ARBUSDT" in messages[0]["text"]
    sent = row(alert.pk)
    assert (sent.status, sent.claimed_by, sent.message_id) == ("sent", "survivor", messages[0]["message_id"])

    again = survivor_pass(sim, monkeypatch, timezone.now())  # nothing is due any more
    assert again.claimed == 0 and len(inbox(api)) == 1


def test_a_worker_killed_while_its_request_is_in_flight_leaves_the_alert_possibly_delivered(
        spawn, sim, api, monkeypatch):
    alert = one_due_alert()
    # Telegram accepts the next message, then holds its answer: the child waits for it ...
    assert api.post("/sim/telegram/faults", json={"timeout_after_accept": 1, "hold_seconds": 6}).status_code == 200
    child = spawn("send")
    messages = wait_for(lambda: inbox(api), 20, "the child's message reaching Telegram")
    started = row(alert.pk)
    assert child.proc.poll() is None, "the child was no longer waiting for Telegram's answer"
    assert (started.status, started.claimed_by) == ("claimed", f"{socket.gethostname()}:{child.pid}")
    assert started.send_started_at is not None
    assert child.kill() == -signal.SIGKILL  # ... and dies before it hears that the message arrived

    report = survivor_pass(sim, monkeypatch, started.claimed_at)
    assert (report.claimed, report.sent) == (0, 0)
    after = row(alert.pk)
    assert (after.status, after.reason) == ("possibly_delivered", "worker_died_while_sending")
    assert after.message_id is None
    assert inbox(api) == messages  # delivered once, never resent
    again = survivor_pass(sim, monkeypatch, timezone.now())
    assert again.claimed == 0 and inbox(api) == messages


def test_a_worker_stalled_past_its_lease_does_not_send_what_the_next_worker_took_over(
        spawn, sim, api, monkeypatch, tmp_path):
    alert = one_due_alert()
    go = tmp_path / "go"
    child = spawn("stall-before-send", str(go))
    child.expect("about-to-send")  # claimed, chat slot reserved, message rendered: then it stalls
    stalled = row(alert.pk)
    assert stalled.claimed_by == f"{socket.gethostname()}:{child.pid}"

    report = survivor_pass(sim, monkeypatch, stalled.claimed_at)  # its lease ran out: taken over
    assert (report.claimed, report.sent) == (1, 1)
    messages = inbox(api)
    assert len(messages) == 1
    time.sleep(1.1)  # past the simulated chat's 1-message-per-second window, so a resend would land

    go.touch()  # the stalled worker wakes up ...
    child.expect("report", timeout=20)
    assert child.proc.wait(timeout=10) == 0, child.stderr()
    assert inbox(api) == messages  # ... and must not send the alert again
    sent = row(alert.pk)
    assert (sent.status, sent.claimed_by, sent.message_id) == ("sent", "survivor", messages[0]["message_id"])
