"""The simulator's start-up warm-up renders the hourly candles a cold scan asks for, so serving them
costs a join of cached rows, and the answers are the ones it would have built on demand."""
from marketdata.simulator.market import SimMarket

NOW = 1_790_000_000.0  # a fixed clock: both markets see the same hour


def test_warm_renders_a_cold_scans_candles_and_changes_no_answer():
    warmed, lazy = SimMarket(n_coins=12, clock=lambda: NOW), SimMarket(n_coins=12, clock=lambda: NOW)
    warmed.warm()
    lazy.warm(kline_hours=0)
    symbols = [i.symbol for i in warmed.instruments()]
    assert len(symbols) >= 12
    before = warmed.kline_book.stats()
    for symbol in symbols:
        assert warmed.klines_json(symbol, "1h", limit=501) == lazy.klines_json(symbol, "1h", limit=501)
    after = warmed.kline_book.stats()
    # Every closed chunk came from the cache; only the still-open chunk of each coin was built.
    assert after["hits"] - before["hits"] >= 7 * len(symbols)
    assert after["misses"] == before["misses"]
    assert lazy.kline_book.stats()["hits"] == 0
