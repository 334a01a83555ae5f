"""The django-q2 entry points: thin wrappers that record, send and drain paced rows within the minute."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from signals import tasks
from signals.models import AlertDelivery, SummaryDelivery
from tests.test_alert_support import FakeTransport, alice, make_signal, queue

pytestmark = pytest.mark.django_db


@pytest.fixture
def transport(monkeypatch) -> FakeTransport:
    fake = FakeTransport()
    monkeypatch.setattr(tasks, "_transport", lambda: fake)
    return fake


def test_send_alerts_drains_paced_rows_within_its_run(transport):
    a = alice()
    now = timezone.now()
    for symbol in ("AAAUSDT", "BBBUSDT"):
        queue(make_signal(symbol, candle=now.replace(minute=0, second=0, microsecond=0)), a, at=now)
    result = tasks.send_alerts(drain_seconds=5)
    assert result["sent"] == 2 and result["passes"] >= 2
    assert len(transport.messages) == 2
    assert set(AlertDelivery.objects.values_list("status", flat=True)) == {"sent"}


def test_send_alerts_stops_when_nothing_falls_due_soon(transport):
    a = alice()
    now = timezone.now()
    queue(make_signal(candle=now), a, at=now + timedelta(minutes=10))
    result = tasks.send_alerts(drain_seconds=5)
    assert (result["sent"], result["passes"]) == (0, 1)


def test_the_summary_task_sends_yesterdays_summary(transport):
    alice()
    result = tasks.send_daily_summary_task()
    assert result["sent"] == 1
    assert SummaryDelivery.objects.get().day == timezone.localdate() - timedelta(days=1)


def test_the_schedules_exist_after_migrate():
    from django_q.models import Schedule

    names = dict(Schedule.objects.filter(name__startswith="signals:").values_list("name", "func"))
    assert names == {"signals: send alerts": "signals.tasks.send_alerts",
                     "signals: daily summary": "signals.tasks.send_daily_summary_task"}


def test_each_worker_keeps_one_telegram_transport_until_its_settings_change(settings, monkeypatch):
    monkeypatch.setattr(tasks, "_kept", None)
    settings.TELEGRAM_API_URL, settings.TELEGRAM_BOT_TOKEN = "http://127.0.0.1:9/", "123:abc"
    first = tasks._transport()
    assert tasks._transport() is first  # the next minute's run reuses its connection pool
    settings.TELEGRAM_BOT_TOKEN = "456:def"
    second = tasks._transport()
    assert second is not first and second._token == "456:def"
    assert first._client.is_closed and not second._client.is_closed
    second.close()
