"""Every fault of the transport becomes stored state: pause, retry, disable, fail, possibly delivered."""
from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from signals.models import AlertDelivery, BotState, Recipient
from signals.sender import requeue, send_pending
from signals.telegram import TransportError
from tests.test_alert_support import (NOW, FakeTransport, alice, bad_html, blocked, bob, chat_not_found, fresh,
                                      make_signal, queue, server_error, timed_out_after_sending, too_many_requests)

pytestmark = pytest.mark.django_db


def test_a_429_pauses_every_send_until_retry_after_and_the_next_call_honours_it():
    a, b = alice(), bob()
    signal = make_signal(tier=1)
    first, other = queue(signal, a), queue(signal, b)
    transport = FakeTransport(too_many_requests(30))
    report = send_pending(transport, now=NOW)
    assert transport.calls == 1 and report.paused_until == NOW + timedelta(seconds=30)
    assert BotState.get().paused_until == NOW + timedelta(seconds=30)
    for row in (fresh(first), fresh(other)):  # the chat that got the 429 and the one not tried yet
        assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, NOW + timedelta(seconds=30))
    assert fresh(first).reason == "rate_limited"

    report = send_pending(transport, now=NOW + timedelta(seconds=10))
    assert transport.calls == 1 and report.claimed == 0 and report.next_due == NOW + timedelta(seconds=30)

    send_pending(transport, now=NOW + timedelta(seconds=30))
    assert fresh(first).status == "sent"


def test_a_429_without_retry_after_still_pauses():
    row = queue(make_signal(), alice())
    send_pending(FakeTransport(TransportError("Too Many Requests", permanent=False, code=429)), now=NOW)
    assert BotState.get().paused_until == NOW + timedelta(seconds=30)
    assert fresh(row).status == "pending"


def test_a_retryable_error_backs_off_then_fails_after_5_attempts():
    row = queue(make_signal(), alice())
    transport = FakeTransport(*[server_error()] * 5)
    at, waits = NOW, []
    for attempt in range(1, 5):
        send_pending(transport, now=at)
        r = fresh(row)
        assert (r.status, r.attempts, r.reason) == ("pending", attempt, "retrying")
        waits.append((r.next_attempt_at - at).total_seconds())
        assert send_pending(transport, now=r.next_attempt_at - timedelta(seconds=1)).claimed == 0
        at = r.next_attempt_at
    assert waits == [30, 60, 120, 240]
    report = send_pending(transport, now=at)
    r = fresh(row)
    assert (r.status, r.attempts, r.reason) == ("failed", 5, "max_attempts")
    assert "Bad Gateway" in r.last_error and report.failed == {"max_attempts": 1}
    assert transport.calls == 5


def test_a_blocked_bot_disables_the_recipient_and_fails_its_waiting_rows():
    a, b = alice(), bob()
    signal = make_signal(tier=1)
    row, later = queue(signal, a), queue(make_signal("OTHERUSDT"), a, at=NOW + timedelta(minutes=5))
    bobs = queue(signal, b)
    send_pending(FakeTransport(blocked(), None), now=NOW)
    a.refresh_from_db()
    assert not a.enabled and "bot was blocked" in a.disabled_reason and a.disabled_at == NOW
    assert (fresh(row).status, fresh(row).reason) == ("failed", "recipient_disabled")
    assert (fresh(later).status, fresh(later).reason) == ("failed", "recipient_disabled")
    assert fresh(bobs).status == "sent"


def test_chat_not_found_disables_the_recipient_too():
    row = queue(make_signal(), alice())
    send_pending(FakeTransport(chat_not_found()), now=NOW)
    assert not Recipient.objects.get(name="alice").enabled
    assert fresh(row).reason == "recipient_disabled"


def test_a_disabled_recipient_gets_no_new_deliveries():
    from signals.outbox import record_signals
    from tests.test_signals_outbox import scan

    alice(enabled=False, disabled_reason="Forbidden: bot was blocked by the user")
    record_signals(scan(), now=NOW)
    assert not AlertDelivery.objects.exists()


def test_unparsable_html_fails_the_row_as_our_bug_and_keeps_the_recipient(caplog):
    row = queue(make_signal(), alice())
    with caplog.at_level(logging.ERROR, logger="signals.sender"):
        report = send_pending(FakeTransport(bad_html()), now=NOW)
    assert (fresh(row).status, fresh(row).reason) == ("failed", "rejected")
    assert "can't parse entities" in fresh(row).last_error
    assert Recipient.objects.get(name="alice").enabled
    assert "our bug" in caplog.text and report.failed == {"rejected": 1}


def test_a_bad_token_pauses_the_bot_and_fails_nothing():
    row = queue(make_signal(), alice())
    error = TransportError("Telegram sendMessage: bad bot token (Unauthorized)", permanent=True, code=401)
    send_pending(FakeTransport(error), now=NOW)
    assert (fresh(row).status, fresh(row).reason) == ("pending", "bot_misconfigured")
    state = BotState.get()
    assert state.paused_until == NOW + timedelta(minutes=5) and "bad bot token" in state.last_error


def test_possibly_delivered_is_never_resent_until_someone_requeues_it():
    row = queue(make_signal(tier=1), alice())
    transport = FakeTransport(timed_out_after_sending())
    report = send_pending(transport, now=NOW)
    r = fresh(row)
    assert (r.status, r.reason, report.possibly_delivered) == ("possibly_delivered", "maybe_delivered", 1)
    for minutes in (1, 10, 60):
        send_pending(transport, now=NOW + timedelta(minutes=minutes))
    assert transport.calls == 1 and fresh(row).status == "possibly_delivered"

    assert requeue(AlertDelivery.objects.all()) == 1  # the admin action "resend"
    r = fresh(row)
    assert (r.status, r.reason, r.attempts) == ("pending", "requeued", 0)
    send_pending(transport, now=r.next_attempt_at)
    assert fresh(row).status == "sent" and transport.calls == 2


def test_requeue_leaves_sent_and_pending_rows_alone():
    a = alice()
    sent = queue(make_signal("AAAUSDT"), a, status="sent", sent_at=NOW)
    pending = queue(make_signal("BBBUSDT"), a)
    assert requeue(AlertDelivery.objects.all()) == 0
    assert fresh(sent).status == "sent" and fresh(pending).reason == ""


def test_an_unexpected_exception_is_stored_not_raised():
    row = queue(make_signal(), alice())

    class Broken(FakeTransport):
        def send(self, chat_id, text, *, silent=False, preview=False):
            raise ValueError("bug in the transport")
    send_pending(Broken(), now=NOW)
    r = fresh(row)
    assert (r.status, r.reason) == ("possibly_delivered", "unexpected_error")
    assert "ValueError: bug in the transport" in r.last_error


def test_the_admin_requeue_action(admin_client):
    row = queue(make_signal(), alice(), status="failed", reason="max_attempts")
    response = admin_client.post("/admin/signals/alertdelivery/", {
        "action": "requeue_deliveries", "_selected_action": [row.pk]}, follow=True)
    assert response.status_code == 200 and "1 delivery(ies) requeued" in response.content.decode()
    assert fresh(row).status == "pending"
