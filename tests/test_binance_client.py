"""The Binance spot client against the simulator over real loopback HTTP."""
import time

import httpx
import pytest
from asgiref.sync import async_to_sync

from marketdata.binance_spot import INTERVAL_MS
from marketdata.session import MarketDataSession
from marketdata.simulator.server import SimulatorServer
from tests.conftest import point_spot_at

pytestmark = pytest.mark.django_db


def with_session(fn):
    """Run `await fn(session)` inside a market-data session; returns (result, session)."""
    async def go():
        async with MarketDataSession() as md:
            return await fn(md), md
    return async_to_sync(go)()


def test_it_reads_the_usdt_universe_from_exchange_info(sim_settings):
    universe, md = with_session(lambda md: md.spot.universe("USDT"))
    assert len(universe) >= 500
    assert all(s.quote_asset == "USDT" and s.status == "TRADING" and s.spot_trading for s in universe)
    raw = httpx.get(f"{sim_settings.BINANCE_SPOT_URL}/api/v3/exchangeInfo").json()["symbols"]
    excluded = [s for s in raw if s["quoteAsset"] != "USDT" or s["status"] != "TRADING"]
    assert excluded, "the simulator lists pairs the universe must leave out"
    assert not {s["symbol"] for s in excluded} & {s.symbol for s in universe}
    assert md.simulated and md.request_stats()["binance_spot"]["weight"] == 20


def test_it_parses_every_kline_field_as_sent(sim_settings):
    end = int(time.time() * 1000) - 2 * 3_600_000  # closed candles only: the open one moves between calls
    raw = httpx.get(f"{sim_settings.BINANCE_SPOT_URL}/api/v3/klines",
                    params={"symbol": "ETHUSDT", "interval": "1h", "limit": 5, "endTime": end}).json()
    klines, _ = with_session(lambda md: md.spot.klines("ETHUSDT", "1h", end_time=end, limit=5))
    assert len(klines) == 5
    for row, k in zip(raw, klines):
        assert (k.open_time, k.close_time, k.trades) == (row[0], row[6], row[8])
        assert (k.open, k.high, k.low, k.close, k.volume) == tuple(float(x) for x in row[1:6])
        assert (k.quote_volume, k.taker_buy_base_volume, k.taker_buy_quote_volume) == \
               (float(row[7]), float(row[9]), float(row[10]))


def test_it_parses_every_ticker_field_as_sent(settings):
    frozen = time.time() - 3600.5  # a stopped clock, so the rolling 24h window is the same for both calls
    with SimulatorServer(seed=42, coins=60, clock=lambda: frozen) as server:
        point_spot_at(settings, server.base_url)
        t, _ = with_session(lambda md: md.spot.ticker_24h("BTCUSDT"))
        raw = httpx.get(f"{server.base_url}/api/v3/ticker/24hr", params={"symbol": "BTCUSDT"}).json()
        tickers, _ = with_session(lambda md: md.spot.tickers_24h())
    assert t.symbol == "BTCUSDT"
    assert (t.last_price, t.price_change_percent, t.open_price, t.high_price, t.low_price) == tuple(
        float(raw[k]) for k in ("lastPrice", "priceChangePercent", "openPrice", "highPrice", "lowPrice"))
    assert (t.volume, t.quote_volume, t.open_time, t.close_time, t.count) == (
        float(raw["volume"]), float(raw["quoteVolume"]), raw["openTime"], raw["closeTime"], raw["count"])
    assert len(tickers) >= 50 and t in tickers


def test_it_pages_backwards_and_forwards_through_history(sim_settings):
    hour = INTERVAL_MS["1h"]
    latest, md = with_session(lambda md: md.spot.latest_klines("BTCUSDT", "1h", 2500))
    assert len(latest) == 2500
    assert all(b.open_time - a.open_time == hour for a, b in zip(latest, latest[1:]))
    assert latest[-1].close_time > time.time() * 1000  # the newest is the candle still open
    assert md.request_stats()["binance_spot"]["requests"] == 3
    start = latest[0].open_time
    forward, _ = with_session(lambda md: md.spot.klines_since("BTCUSDT", "1h", start))
    assert [k.open_time for k in forward[:2500]] == [k.open_time for k in latest]
    assert [k.close for k in forward[:2499]] == [k.close for k in latest[:2499]]


def test_it_finds_the_listing_time_from_the_first_candle(sim_settings):
    first, _ = with_session(lambda md: md.spot.first_candle_time("BTCUSDT"))
    raw = httpx.get(f"{sim_settings.BINANCE_SPOT_URL}/api/v3/klines",
                    params={"symbol": "BTCUSDT", "interval": "1h", "startTime": 0, "limit": 1}).json()
    assert first == raw[0][0]


def test_an_unknown_symbol_is_a_permanent_error_with_the_vendors_message(sim_settings):
    from marketdata.errors import PermanentError

    with pytest.raises(PermanentError) as err:
        with_session(lambda md: md.spot.klines("NOPEUSDT", "1h"))
    assert err.value.code == -1121 and "Invalid symbol" in str(err.value)
