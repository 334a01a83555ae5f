"""Faults from a service become recorded errors with our own types, never crashes."""
import json

import pytest
from asgiref.sync import async_to_sync

from marketdata.errors import MalformedResponseError, PermanentError, RetryableError
from marketdata.models import DataSource
from marketdata.session import MarketDataSession
from tests.conftest import point_spot_at
from tests.httpservers import ScriptedServer

pytestmark = pytest.mark.django_db
JSON = {"Content-Type": "application/json"}
ROW = [1700000000000, "1.0", "2.0", "0.5", "1.5", "10", 1700003599999, "15", 7, "5", "7.5", "0"]


def call_klines(settings, server):
    point_spot_at(settings, server.base_url)

    async def go():
        async with MarketDataSession() as md:
            try:
                return await md.spot.klines("BTCUSDT", "1h"), md.clients["binance_spot"].stats
            except Exception as exc:  # the test inspects which of our errors it was
                return exc, md.clients["binance_spot"].stats
    return async_to_sync(go)()


def script(*answers):
    it = iter(answers)
    return lambda path, params: next(it)


def test_5xx_is_retried_with_backoff_and_then_succeeds(settings):
    with ScriptedServer(script((502, JSON, b'{"code":-1001,"msg":"Internal error"}'),
                               (503, JSON, b"Service Unavailable"), (200, JSON, json.dumps([ROW]).encode()))) as s:
        result, stats = call_klines(settings, s)
    assert [k.close for k in result] == [1.5]
    assert stats.requests == 3 and stats.retries == 2 and stats.errors == 0


def test_persistent_5xx_gives_up_after_three_retries_and_records_the_error(settings):
    with ScriptedServer(lambda p, q: (500, JSON, b'{"code":-1000,"msg":"An unknown error occurred"}')) as s:
        result, stats = call_klines(settings, s)
    assert isinstance(result, RetryableError) and result.status == 500
    assert len(s.seen) == 4 and stats.errors == 1
    source = DataSource.objects.get(name="binance_spot")
    assert "unknown error" in source.last_error and source.last_success_at is None


@pytest.mark.parametrize("body", [b'[[1700000000000, "1.0"', b"<html><body>502 Bad Gateway</body></html>",
                                  b'{"unexpected": "object"}', json.dumps([ROW[:5]]).encode(),
                                  json.dumps([[ROW[0], "abc"] + ROW[2:]]).encode()])
def test_malformed_bodies_become_malformed_response_errors(settings, body):
    with ScriptedServer(lambda p, q: (200, JSON, body)) as s:
        result, stats = call_klines(settings, s)
    assert isinstance(result, MalformedResponseError)
    assert stats.errors == 1


def test_a_4xx_is_permanent_and_not_retried(settings):
    with ScriptedServer(lambda p, q: (400, JSON, b'{"code":-1121,"msg":"Invalid symbol."}')) as s:
        result, stats = call_klines(settings, s)
    assert isinstance(result, PermanentError) and result.code == -1121
    assert len(s.seen) == 1


def test_a_connection_refused_is_retryable(settings):
    settings.HTTP_MAX_RETRIES = 1
    with ScriptedServer(lambda p, q: (200, JSON, b"[]")) as s:
        url = s.base_url
    point_spot_at(settings, url)  # the server is gone: nothing listens there now

    async def go():
        async with MarketDataSession() as md:
            with pytest.raises(RetryableError):
                await md.spot.klines("BTCUSDT", "1h")
    async_to_sync(go)()
