"""No dashboard page issues more database queries as the data grow: each page's query count with 5
rows equals its count with 50 (a loop over rows that queries per row would show up here)."""
from datetime import timedelta

import pytest
from django.test.utils import CaptureQueriesContext
from django.db import connection

from marketdata.models import Coin
from signals.models import AlertDelivery, Signal, UnifiedScore
from scanners.models import ScanRun
from tests.api_factories import T0, make_coin, make_unified
from tests.outcome_factories import outcome, path
from tests.page_factories import delivery, runs, scored, signals

pytestmark = pytest.mark.django_db


def queries(client, url: str, expect: str) -> int:
    client.get(url)  # warm anything cached per process (content types, the scoring config)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200 and expect in response.content.decode()
    return len(captured.captured_queries)


def wipe() -> None:
    for model in (AlertDelivery, Signal, UnifiedScore, ScanRun, Coin):
        model.objects.all().delete()


def test_the_ranking(client):
    scored(5)
    five = queries(client, "/ranking", "C004USDT")
    wipe()
    scored(50)
    assert queries(client, "/ranking", "C049USDT") == five


def test_the_signals_feed(client):
    signals(5)
    five = queries(client, "/signals", "S004USDT")
    wipe()
    signals(50)
    assert queries(client, "/signals", "S049USDT") == five


def coin_with(n: int) -> None:
    """A coin with n signals (each with outcomes), n hourly candles and n unified scores."""
    coin = make_coin("QQQUSDT")
    path(coin, [100.0 + i for i in range(n)], start=T0 - timedelta(hours=n))
    for i in range(n):
        make_unified(coin, 50.0 + i % 30, "TIER_4", computed_at=T0 - timedelta(hours=n - i), is_latest=i == n - 1,
                     raw={"mss": 50.0 + i % 30})
        s = Signal.objects.create(coin=coin, scanner="mss", kind="gem", direction="LONG", tier=2, score=80,
                                  entry_price=100.0 + i, candle_close_time=T0 - timedelta(hours=n - i))
        outcome(s, "1h")
        outcome(s, "24h", status="pending")


def test_the_coin_page(client):
    coin_with(5)
    five = queries(client, "/coins/QQQUSDT", 'id="price-chart"')
    wipe()
    coin_with(50)
    assert queries(client, "/coins/QQQUSDT", 'id="price-chart"') == five


def test_the_alerts_and_scans_pages(client):
    for s in signals(5, with_outcomes=False):
        delivery(s, AlertDelivery.SENT, message_id=s.pk)
    runs(5)
    five = queries(client, "/alerts", "S004USDT"), queries(client, "/scans", "/api/scans/")
    wipe()
    for s in signals(50, with_outcomes=False):
        delivery(s, AlertDelivery.SENT, message_id=s.pk)
    runs(50)
    assert (queries(client, "/alerts", "S049USDT"), queries(client, "/scans", "/api/scans/")) == five


def test_a_signed_in_user_costs_the_same_fixed_queries(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("alice", password="x"))
    signals(5)
    five = queries(client, "/signals", "Signed in as")
    wipe()
    signals(50)
    assert queries(client, "/signals", "Signed in as") == five
