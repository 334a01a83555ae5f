"""/healthz: 200 when every check is within its limit, 503 naming the one that is not."""
from datetime import timedelta

import pytest
from django.utils import timezone

from marketdata.models import Coin, DataSource
from scanners.models import ScanRun
from signals.models import AlertDelivery, Recipient, Signal

pytestmark = pytest.mark.django_db


def finished_scan(scanner: str, hours_ago: float, parameters: dict | None = None) -> None:
    at = timezone.now() - timedelta(hours=hours_ago)
    run = ScanRun.objects.create(scanner=scanner, status=ScanRun.COMPLETED, parameters=parameters or {})
    ScanRun.objects.filter(pk=run.pk).update(started_at=at, finished_at=at)


def healthy_system() -> None:
    from cryptosatx.heartbeat import record
    record()  # a q cluster showed life just now
    finished_scan("all", 0.5)
    for name in ("binance_spot", "binance_futures", "coingecko", "lunarcrush"):
        DataSource.objects.create(name=name, base_url="http://127.0.0.1:8765", simulated=True,
                                  last_success_at=timezone.now())


def test_a_healthy_system_answers_200_without_login(client):
    healthy_system()
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200 and body["ok"] is True
    assert body["scans"]["mss"]["ok"] and body["sources"]["coingecko"]["simulated"] is True
    assert body["outbox"] == {"ok": True, "backlog": 0, "oldest_age_seconds": None, "limit_seconds": 600.0}


def test_no_scan_yet_is_unhealthy(client):
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["scans"]["smart_money"]["ok"] is False


def test_a_late_scanner_is_named(client, settings):
    healthy_system()
    ScanRun.objects.all().delete()
    finished_scan("all", 3)  # smart money runs hourly: 3 h is past twice its interval
    finished_scan("mss", 3)
    body = client.get("/healthz").json()
    assert body["scans"]["smart_money"]["ok"] is False and body["scans"]["mss"]["ok"] is True


def test_a_scan_of_a_few_coins_does_not_hide_a_stalled_scheduled_scan(client):
    healthy_system()
    ScanRun.objects.all().delete()
    finished_scan("all", 3, {"symbols": [], "scanners": ["rsi"]})  # the last whole-universe scan
    finished_scan("all", 0.1, {"symbols": ["BTCUSDT", "ETHUSDT"]})  # a watchlist's scan just now
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["scans"]["smart_money"]["ok"] is False
    finished_scan("all", 0.1, {"stage_seconds": {}})  # a scheduled (chunked) scan, no symbols key
    assert client.get("/healthz").json()["scans"]["smart_money"]["ok"] is True


def test_a_banned_or_stale_source_is_unhealthy(client):
    healthy_system()
    DataSource.objects.filter(name="binance_spot").update(banned_until=timezone.now() + timedelta(minutes=5))
    DataSource.objects.filter(name="lunarcrush").update(last_success_at=timezone.now() - timedelta(hours=4))
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 503
    assert body["sources"]["binance_spot"]["banned"] is True and body["sources"]["lunarcrush"]["ok"] is False


def test_an_outbox_backlog_older_than_its_limit_is_unhealthy(client):
    healthy_system()
    coin = Coin.objects.create(symbol="XUSDT", base_asset="X", quote_asset="USDT")
    recipient = Recipient.objects.create(name="global", chat_id="-1001")
    signal = Signal.objects.create(coin=coin, scanner="rsi", kind="oversold", direction="LONG", tier=2,
                                   candle_close_time=timezone.now(), created_at=timezone.now() - timedelta(minutes=30))
    AlertDelivery.objects.create(signal=signal, recipient=recipient, next_attempt_at=signal.created_at)
    body = client.get("/healthz").json()
    assert body["outbox"]["backlog"] == 1 and body["outbox"]["ok"] is False
    assert "chat_id" not in str(body) and "-1001" not in str(body)  # nothing secret


def test_no_live_cluster_is_unhealthy(client):
    from scanners.models import ClusterHeartbeat
    healthy_system()
    ClusterHeartbeat.objects.update(last_seen=timezone.now() - timedelta(minutes=10))
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["clusters"]["alive"] == 0


def test_an_unsent_daily_summary_counts_in_the_outbox(client):
    from signals.models import SummaryDelivery
    healthy_system()
    recipient = Recipient.objects.create(name="global", chat_id="-1001")
    row = SummaryDelivery.objects.create(day=timezone.localdate(), recipient=recipient, text="summary",
                                         next_attempt_at=timezone.now())
    assert client.get("/healthz").status_code == 200  # just written: within its limit
    SummaryDelivery.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(minutes=20))
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["outbox"]["backlog"] == 1


def test_a_database_that_does_not_answer_is_503_without_details(client, monkeypatch):
    from django.db import OperationalError, connection

    def refuse(*args, **kwargs):
        raise OperationalError('connection to server at "10.0.0.5", port 5432 failed: password authentication')

    monkeypatch.setattr(connection, "cursor", refuse)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"ok": False, "database": {"ok": False, "error": "OperationalError"}}
