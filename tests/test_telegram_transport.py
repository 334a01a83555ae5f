"""TelegramTransport against the simulator over loopback HTTP: every outcome becomes a `Sent` or
a TransportError that says whether to retry and whether the message may have arrived, and the
bot token never shows up in an error or a log line."""
from __future__ import annotations

import logging
import random
import socket
import threading
import time

import httpcore
import httpx
import pytest

from marketdata.simulator.server import SimulatorServer
from marketdata.simulator.telegram import parse_html
from marketdata.simulator.testing import FakeClock
from signals.telegram import MAX_MESSAGE_LENGTH, Sent, TelegramTransport, TransportError, escape

T0 = 1_800_000_040.0
TOKEN = "7654321:AAHsecret-token_value"
ALICE, BOB, CHARLIE, GROUP = 1001, 1002, 1003, -2001  # bob blocked the bot; charlie is unknown


@pytest.fixture
def clock():
    return FakeClock(T0)


@pytest.fixture
def sim(clock):
    with SimulatorServer(coins=60, clock=clock, timeout_seconds=1.0, telegram_blocked=(BOB,),
                         telegram_unknown=(CHARLIE,)) as server:
        yield server


@pytest.fixture
def bot(sim):
    with TelegramTransport(f"{sim.base_url}/telegram", TOKEN, timeout=2.0) as transport:
        yield transport


def arm(sim, **faults):
    httpx.post(f"{sim.base_url}/sim/telegram/faults", json=faults).raise_for_status()


def inbox(sim, **params):
    return httpx.get(f"{sim.base_url}/sim/telegram/messages", params=params).json()


def failure(send, caplog) -> TransportError:
    """The TransportError `send()` raises, checked for the token in every place it could leak."""
    caplog.set_level(logging.DEBUG)
    with pytest.raises(TransportError) as info:
        send()
    exc = info.value
    assert exc.__cause__ is None and exc.__context__ is None  # no httpx exception rides along
    for shown in (str(exc), repr(exc), exc.message, caplog.text,
                  *(r.getMessage() for r in caplog.records)):
        assert TOKEN not in shown and TOKEN.split(":")[1] not in shown
    return exc


def test_a_sent_message_returns_its_message_id(bot, sim, clock):
    assert bot.send(ALICE, "<b>BTC</b> accumulation") == Sent(1, ALICE, int(T0))
    assert bot.send(GROUP, "group") == Sent(1, GROUP, int(T0))
    clock.advance(1)
    assert bot.send(ALICE, "again", silent=True, preview=True).message_id == 2
    first, _, again = inbox(sim)
    assert first["parse_mode"] == "HTML" and first["plain_text"] == "BTC accumulation"
    assert not first["disable_notification"] and first["link_preview_disabled"]
    assert again["disable_notification"] and not again["link_preview_disabled"]


def test_429_carries_retry_after(bot, sim, caplog):
    arm(sim, retry_after=35)
    exc = failure(lambda: bot.send(ALICE, "x"), caplog)
    assert (exc.permanent, exc.retry_after, exc.maybe_delivered, exc.code) == (False, 35, False,
                                                                                429)
    assert "retry after 35" in str(exc)


def test_per_chat_pacing_is_a_429_of_one_second(bot, caplog):
    bot.send(ALICE, "one")
    exc = failure(lambda: bot.send(ALICE, "two"), caplog)
    assert not exc.permanent and exc.retry_after == 1


def test_a_blocked_chat_is_permanent(bot, caplog):
    exc = failure(lambda: bot.send(BOB, "x"), caplog)
    assert exc.permanent and exc.code == 403 and not exc.maybe_delivered
    assert "bot was blocked by the user" in str(exc) and str(BOB) in str(exc)


def test_chat_not_found_is_permanent(bot, caplog):
    exc = failure(lambda: bot.send(CHARLIE, "x"), caplog)
    assert exc.permanent and exc.code == 400 and "chat not found" in str(exc)


def test_html_telegram_cannot_parse_is_our_bug_and_permanent(bot, caplog):
    exc = failure(lambda: bot.send(ALICE, "Q&A <b>unclosed"), caplog)
    assert exc.permanent and exc.code == 400
    assert "can't parse entities" in str(exc) and "bug" in str(exc)


def test_other_400s_are_permanent(bot, caplog):
    exc = failure(lambda: bot.send(ALICE, "x" * (MAX_MESSAGE_LENGTH + 1)), caplog)
    assert exc.permanent and "message is too long" in str(exc)


def test_a_bad_token_is_permanent_and_not_shown(sim, caplog):
    with TelegramTransport(f"{sim.base_url}/telegram", "not-a-token", timeout=2) as bad:
        with pytest.raises(TransportError) as info:
            bad.send(ALICE, "x")
    assert info.value.permanent and info.value.code == 401 and "bad bot token" in str(info.value)
    assert "not-a-token" not in str(info.value) and "not-a-token" not in caplog.text
    with TelegramTransport(f"{sim.base_url}/telegram", "", timeout=2) as empty:
        with pytest.raises(TransportError) as info:
            empty.send(ALICE, "x")
    assert info.value.permanent and "TELEGRAM_BOT_TOKEN" in str(info.value)
    assert inbox(sim) == []


def test_a_502_is_retryable(bot, sim, caplog):
    arm(sim, server_error=1)
    exc = failure(lambda: bot.send(ALICE, "x"), caplog)
    assert (exc.permanent, exc.maybe_delivered, exc.code) == (False, False, 502)
    assert "Bad Gateway" in str(exc)
    assert bot.send(ALICE, "x").message_id == 1  # and the retry goes through


def test_connection_refused_is_retryable_and_nothing_was_sent(caplog):
    with socket.socket() as s:  # a port that was free a moment ago: nobody listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with TelegramTransport(f"http://127.0.0.1:{port}/telegram", TOKEN, timeout=2) as bot:
        exc = failure(lambda: bot.send(ALICE, "x"), caplog)
    assert not exc.permanent and not exc.maybe_delivered
    assert "did not reach Telegram" in str(exc)


def test_a_timeout_after_accept_may_have_been_delivered(sim, caplog):
    arm(sim, timeout_after_accept=1)
    with TelegramTransport(f"{sim.base_url}/telegram", TOKEN, timeout=0.2) as bot:
        exc = failure(lambda: bot.send(ALICE, "did it arrive?"), caplog)
    assert not exc.permanent and exc.maybe_delivered and exc.retry_after is None
    assert "may have been delivered" in str(exc)
    assert [m["text"] for m in inbox(sim)] == ["did it arrive?"]  # it did: never resend blindly


def test_a_connection_dropped_before_the_request_was_sent_is_retryable(sim, caplog, monkeypatch):
    """The simulator resets the next connection before reading it. A client that writes at
    once usually has its request on the wire by then (so it cannot know); this one takes 100 ms
    between connecting and writing, so the reset is there first and nothing was sent."""
    connect = httpcore.SyncBackend.connect_tcp

    def slow_connect(self, *args, **kwargs):
        stream = connect(self, *args, **kwargs)
        time.sleep(0.1)
        return stream

    arm(sim, drop_connection=1)
    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", slow_connect)
    with TelegramTransport(f"{sim.base_url}/telegram", TOKEN, timeout=2) as bot:
        exc = failure(lambda: bot.send(ALICE, "x"), caplog)
    monkeypatch.undo()
    assert not exc.permanent and not exc.maybe_delivered
    assert inbox(sim) == []


def test_a_connection_dropped_after_the_request_was_sent_may_have_been_delivered(caplog):
    """A server that reads the whole request and hangs up without answering."""
    listener = socket.create_server(("127.0.0.1", 0))

    def read_then_hang_up():
        conn, _ = listener.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, body = data.split(b"\r\n\r\n", 1)
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            while len(body) < length:
                body += conn.recv(65536)

    server = threading.Thread(target=read_then_hang_up, daemon=True)
    server.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/telegram"
    try:
        with TelegramTransport(url, TOKEN, timeout=2) as bot:
            exc = failure(lambda: bot.send(ALICE, "x"), caplog)
    finally:
        server.join(timeout=2)
        listener.close()
    assert not exc.permanent and exc.maybe_delivered
    assert "connection lost after the request was sent" in str(exc)


def test_a_200_that_is_not_telegrams_json_may_have_been_delivered(caplog):
    with SimulatorServer(coins=60, malformed_rate=1.0) as sim:
        with TelegramTransport(f"{sim.base_url}/telegram", TOKEN, timeout=2) as bot:
            exc = failure(lambda: bot.send(ALICE, "x"), caplog)
        assert not exc.permanent and exc.maybe_delivered and exc.code == 200
        assert len(inbox(sim)) == 1


def test_the_token_stays_out_of_httpx_log_lines(bot, caplog):
    caplog.set_level(logging.INFO, logger="httpx")  # settings keep httpx at WARNING; not always
    bot.send(ALICE, "x")
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert lines and all(TOKEN not in line and "/bot<token>/sendMessage" in line
                         for line in lines)


def test_escape_round_trips_through_telegrams_html_parser(bot, sim, clock):
    nasty = 'a < b && c > d; <b>not bold</b> &amp; "q" \'s\' &#65; 😀 <a href="x">'
    bot.send(ALICE, escape(nasty))
    assert inbox(sim)[0]["plain_text"] == nasty
    assert bot.send(GROUP, f"<b>{escape('R&D <lab>')}</b>").message_id == 1
    rng = random.Random(7)
    alphabet = "<>&;#x/\"' abcAB1😀é"
    for _ in range(500):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert parse_html(escape(s)) == (s, [])


def test_from_settings_reads_the_telegram_settings(settings, sim):
    settings.TELEGRAM_API_URL = f"{sim.base_url}/telegram"
    settings.TELEGRAM_BOT_TOKEN = TOKEN
    with TelegramTransport.from_settings() as bot:
        assert bot.send(ALICE, "configured").message_id == 1


def test_a_caller_supplied_client_is_used_and_left_open(sim):
    with httpx.Client() as client:
        bot = TelegramTransport(f"{sim.base_url}/telegram/", TOKEN, client=client)
        assert bot.send(ALICE, "pooled").message_id == 1
        bot.close()
        assert not client.is_closed
