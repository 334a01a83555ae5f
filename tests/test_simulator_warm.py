"""The simulator's start-up warm-up renders the hourly candles a cold scan asks for, so serving them
costs a join of cached rows, and the answers are the ones it would have built on demand."""
import json

import pytest

from marketdata.simulator.klines import CHUNK, KlineBook
from marketdata.simulator.market import SimMarket

NOW = 1_790_000_000.0  # a fixed clock: both markets see the same hour


@pytest.mark.parametrize("now", [NOW, NOW + 17 * 3600, NOW + 40 * 3600])  # chunks start at other hours
def test_warm_renders_a_cold_scans_candles_and_changes_no_answer(now, monkeypatch):
    warmed, lazy = SimMarket(n_coins=12, clock=lambda: now), SimMarket(n_coins=12, clock=lambda: now)
    warmed.warm()
    lazy.warm(kline_hours=0)
    symbols = [i.symbol for i in warmed.instruments()]
    assert len(symbols) >= 12
    built = []
    rows = KlineBook.rows

    def counting(book, inst, sp, lo, hi, *args):
        if book is warmed.kline_book:
            built.append((inst.symbol, lo, hi))
        return rows(book, inst, sp, lo, hi, *args)
    monkeypatch.setattr(KlineBook, "rows", counting)
    before = warmed.kline_book.stats()
    for symbol in symbols:
        assert warmed.klines_json(symbol, "1h", limit=500) == lazy.klines_json(symbol, "1h", limit=500)
    after = warmed.kline_book.stats()
    # Every closed chunk came from the cache; only the still-open chunk of each coin was built, once
    # (its rows: from the chunk's first hour to the open one; none for a pair no longer trading)
    assert after["hits"] - before["hits"] >= 7 * len(symbols)
    assert after["misses"] == before["misses"]
    assert len({s for s, _, _ in built}) == len(built) >= len(symbols) - 2
    assert all(lo % CHUNK == 0 and hi - lo < CHUNK for _, lo, hi in built)
    assert lazy.kline_book.stats()["hits"] == 0


def test_the_servers_warm_up_builds_what_the_bulk_answers_read_and_changes_none_of_them():
    """SimulatorServer.warm also builds the hour's perpetuals, funding knots, social snapshots and
    market table: the bulk answers then build nothing, and say what an unwarmed server says."""
    from marketdata.simulator.server import Request, SimulatorServer

    def server():  # no socket is served: handle() is called directly
        return SimulatorServer(seed=5, coins=40, clock=lambda: NOW, require_keys=False)
    warmed, lazy = server(), server()
    warmed.warm()
    social = warmed.social
    built = dict(social._cache)
    assert len(built) == 2  # this hour and a day before (the coins list's 24h change)
    assert lazy.social._cache == {}  # the unwarmed one builds them on the first request
    answers = {}
    for name, sim in (("warmed", warmed), ("lazy", lazy)):
        answers[name] = [sim.handle(Request("GET", path, params, b"", "127.0.0.1", {})) for path, params in (
            ("/fapi/v1/premiumIndex", {}), ("/lunarcrush/api4/public/coins/list/v2", {"limit": "100"}),
            ("/api/v3/exchangeInfo", {}), ("/api/v3/exchangeInfo", {"symbol": "BTCUSDT"}),
            ("/coingecko/api/v3/coins/markets", {"vs_currency": "usd", "per_page": "250"}))]
    def text(body) -> bytes:  # as the server sends it
        return body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
    for warm_reply, lazy_reply in zip(answers["warmed"], answers["lazy"]):
        assert warm_reply.status == 200 and text(warm_reply.body) == text(lazy_reply.body)
    # the cached listing is the answer the server built before: the same bytes as a whole-answer encoding
    info = json.loads(text(answers["warmed"][2].body))
    assert len(info["symbols"]) >= 40 and list(info) == ["timezone", "serverTime", "rateLimits", "exchangeFilters",
                                                          "symbols"]
    assert social._cache == built and all(social._cache[h] is built[h] for h in built)  # nothing rebuilt
    for sim in (warmed, lazy):
        sim.httpd.server_close()
