"""The Telegram bot token is part of every Bot API URL: after sends that succeed and sends that fail
every way the transport knows (5xx, 429, 401, refused connection, bad URL), the token is in no log
line (any logger, DEBUG included), no stored error, no admin page and no health or inbox page."""
from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import quote

import httpx
import pytest
from django.urls import reverse
from django.utils import timezone

from cryptosatx import deadman
from cryptosatx.models import DeadmanState
from marketdata.simulator.server import SimulatorServer
from scanners.models import ScanRun
from signals.models import AlertDelivery, BotState, Recipient
from signals.sender import send_pending
from signals.telegram import TelegramTransport
from tests.test_alert_support import alice, make_signal, queue

pytestmark = pytest.mark.django_db
TOKEN = "5550123:AAH-very_secret-token"
SECRET_PART = "very_secret"


@pytest.fixture
def tg(settings):
    with SimulatorServer(coins=20) as server:
        settings.TELEGRAM_API_URL = f"{server.base_url}/telegram"
        settings.TELEGRAM_BOT_TOKEN = TOKEN
        settings.TELEGRAM_CHAT_ID = "1001"
        yield server


def arm(server, **faults) -> None:
    httpx.post(f"{server.base_url}/sim/telegram/faults", json=faults).raise_for_status()


def send_one(transport) -> AlertDelivery:
    """Queue one fresh alert and run the sender over it (the bot's pause and the chat's pacing lifted first)."""
    BotState.objects.update(paused_until=None)
    Recipient.objects.update(next_send_at=None)
    now = timezone.now()
    row = queue(make_signal(f"T{AlertDelivery.objects.count()}USDT", candle=now), alice() if not
                AlertDelivery.objects.exists() else AlertDelivery.objects.first().recipient, at=now)
    send_pending(transport, now=now)
    return AlertDelivery.objects.get(pk=row.pk)


def test_the_token_is_never_logged_stored_or_rendered(tg, admin_client, caplog, settings):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # its request lines carry the URL
    seen: list[str] = []
    with TelegramTransport(settings.TELEGRAM_API_URL, TOKEN, timeout=3) as bot:
        assert send_one(bot).status == AlertDelivery.SENT
        arm(tg, server_error=1)
        seen.append(send_one(bot).last_error)
        arm(tg, retry_after=3, count=1)
        seen.append(send_one(bot).last_error)
    with TelegramTransport(f"{tg.base_url}/telegram", "not-a-token", timeout=3) as bad_token:  # 401
        seen.append(send_one(bad_token).last_error)
    for url in ("http://127.0.0.1:9/telegram", f"ftp://127.0.0.1/{TOKEN}/telegram"):  # refused; bad URL
        with TelegramTransport(url, TOKEN, timeout=3) as unreachable:
            seen.append(send_one(unreachable).last_error)
    assert all(seen), [(r.status, r.reason) for r in AlertDelivery.objects.all()]
    assert any("bad bot token" in s for s in seen), seen

    # The dead-man check through the same transport, with a send that fails.
    finished = ScanRun.objects.create(scanner="all", status=ScanRun.COMPLETED)
    ScanRun.objects.filter(pk=finished.pk).update(finished_at=timezone.now() - timedelta(hours=5))
    BotState.objects.update(paused_until=None)
    with TelegramTransport("http://127.0.0.1:9/telegram", TOKEN, timeout=3) as unreachable:
        deadman.check(unreachable)
    assert DeadmanState.objects.get().last_error

    pages = [reverse("healthz"), "/simulator/telegram", "/admin/", "/admin/signals/botstate/",
             reverse("admin:signals_botstate_change", args=[1]), "/admin/signals/alertdelivery/",
             "/admin/signals/recipient/", "/admin/cryptosatx/deadmanstate/",
             reverse("admin:cryptosatx_deadmanstate_change", args=[1])]
    pages += [reverse("admin:signals_alertdelivery_change", args=[pk])
              for pk in AlertDelivery.objects.values_list("pk", flat=True)]
    rendered = {}
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code in (200, 503), page
        rendered[page] = response.content.decode()

    stored = [str(list(model.objects.values())) for model in (AlertDelivery, BotState, DeadmanState)]
    logged = [caplog.text, *(r.getMessage() for r in caplog.records)]
    for where, text in [*(("stored", s) for s in stored), *(("logged", s) for s in logged),
                        *rendered.items(), *(("error", s) for s in seen)]:
        for form in (TOKEN, quote(TOKEN, safe=""), SECRET_PART):
            assert form not in text, f"the bot token shows in {where}"
    assert any("HTTP Request" in r.getMessage() and "<token>" in r.getMessage() for r in caplog.records)
