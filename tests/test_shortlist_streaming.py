"""Stage C streamed over stage B (scanners.gather): capped calls go out coin by coin as each
perpetual's stage A–B inputs are in, against the real simulator on loopback, and the result is
the end-of-fetch choice whenever the budget does not bind."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from itertools import count

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from marketdata.errors import HostBannedError, RetryableError
from marketdata.session import MarketDataSession
from marketdata.simulator.server import SimulatorServer
from scanners import gather as gather_mod
from scanners import shortlist as shortlist_mod
from scanners.chunks import _bulk_of, _coin_from
from scanners.engine import _load_coins, _select, needs_of, scan_gc
from scanners.gather import Gathered, gather
from scanners.shortlist import CAPPED_CALLS_PER_COIN, Shortlister, choose_shortlist
from tests.conftest import point_all_at

pytestmark = pytest.mark.django_db
NEEDS, SERVICES = needs_of(("rsi", "smart_money", "whale", "volume_spike", "social", "mss"))


@pytest.fixture(scope="module")
def stream_sim():
    # Some latency, so that answers overlap and arrive out of order as they do in a real scan.
    with SimulatorServer(seed=7, coins=240, latency_ms=15, jitter_ms=10) as server:
        server.warm()  # every coin's price path made now, as `benchmark scan` waits for: else the
        yield server          # first answer that reads them all (futures exchangeInfo) takes seconds


@pytest.fixture
def sim_at(settings, stream_sim):
    point_all_at(settings, stream_sim.base_url)
    settings.PARALLEL_MAX_CONCURRENT = 20  # several waves at this universe size
    return settings


class Recorder:
    """Wraps the session's per-coin and capped calls to record, in one sequence, when each started
    and answered: (seq, what, event, symbol).

    The klines calls after the first HOLD_KLINES_AFTER wait until every bulk answer is in (the
    Shortlister's `bulk_arrived`). In a scan of 990 coins the bulk answers come within the first of
    ~30 waves; here, with the simulator in the same process and 12 waves, one of them (futures
    exchangeInfo) sometimes took longer than every klines call (0.7–1.4 s against 0.2–0.5 s), and
    the tests that need klines still pending when the capped calls stream failed at random. Held,
    klines are still pending then whatever the timing, and a scan that sent the capped calls only
    after the fetch still fails them."""

    last: "Recorder | None" = None  # the latest one made, for fixtures that record from inside the scan
    HOLD_KLINES_AFTER = 100

    def __init__(self, md: MarketDataSession, fail=None):
        Recorder.last = self
        self.bulk_in = asyncio.Event()
        self.klines_calls = count()
        self.events: list[tuple[int, str, str, str]] = []
        self.seq = count()
        self.fail = fail  # (this recorder, endpoint, symbol) -> an exception to raise instead of calling, or None
        self.md, self.stats = md, None
        for client, name in ((md.spot, "latest_klines"), (md.spot, "klines_since"),
                             (md.futures, "open_interest"), (md.futures, "series")):
            setattr(client, name, self._wrap(getattr(client, name), "klines" if "klines" in name else name))

    def _wrap(self, method, what):
        async def call(*args, **kwargs):
            symbol = args[1] if what == "series" else args[0]
            if what == "klines" and next(self.klines_calls) >= self.HOLD_KLINES_AFTER:
                await self.bulk_in.wait()
            self.events.append((next(self.seq), what, "start", symbol))
            exc = self.fail and self.fail(self, args[0] if what == "series" else what, symbol)
            if exc is not None:
                self.events.append((next(self.seq), what, "failed", symbol))
                raise exc
            try:
                return await method(*args, **kwargs)
            finally:
                self.events.append((next(self.seq), what, "end", symbol))
        return call

    def seqs(self, what: str, event: str) -> list[int]:
        return [s for s, w, e, _ in self.events if w == what and e == event]

    def symbols(self, what: str, event: str) -> list[str]:
        return [sym for _, w, e, sym in self.events if w == what and e == event]


def fetch(*, budget: int | None = None, fail=None, chunked: bool = False) -> tuple[Gathered, Recorder, list]:
    """A cold scan's gather over the simulator's universe, as scanners.engine runs it (or, with
    `chunked`, the coordinator's bulk stage and then one chunk of every coin, as scanners.chunks does)."""
    async def run():
        async with MarketDataSession(SERVICES) as md:
            universe = _select(await md.spot.exchange_info(), None)
            coins = await sync_to_async(_load_coins)(universe, False)
            g = Gathered(coins=coins, universe=universe)
            rec = Recorder(md, fail)
            arrived = Shortlister.bulk_arrived

            def bulk_arrived(short, banned: bool) -> None:
                rec.bulk_in.set()
                arrived(short, banned)
            Shortlister.bulk_arrived = bulk_arrived
            left: list = []
            try:
                if chunked:
                    await gather(md, g, NEEDS, per_coin=False)
                    g = Gathered(coins={s: _coin_from(s, _bulk_of(cd)) for s, cd in g.coins.items()}, universe=[])
                    await gather(md, g, NEEDS, bulk=False, shortlist_budget=budget)
                else:
                    await gather(md, g, NEEDS, shortlist_budget=budget)
            except HostBannedError as exc:
                rec.stats = md.request_stats()
                left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                g.errors.append({"symbol": "*", "error": f"raised: {exc}"})
            finally:
                Shortlister.bulk_arrived = arrived
            return g, rec, left
    with scan_gc():  # the collector's thresholds of a scan, as run_scan sets them around its fetch
        return async_to_sync(run)()


def old_choice(g: Gathered, budget: int = 10**6) -> list[str]:
    """What the end-of-fetch choice picks from the same data."""
    g.as_of = datetime.now(timezone.utc)
    return choose_shortlist(g, budget)


def test_with_a_budget_that_does_not_bind_the_shortlist_is_the_end_of_fetch_choice(sim_at):
    g, rec, _ = fetch()
    assert g.errors == [] and g.failed == set()
    chosen = old_choice(g)
    assert len(chosen) >= 4, "the simulator's universe should have a few qualifiers"
    assert g.shortlist == chosen  # the same coins, in the same order (most promising first)
    assert set(g.streamed) == set(chosen)  # all sent during the fetch: half the budget was never reached
    # Every coin's capped calls, and only theirs: two or three per coin.
    started = rec.symbols("series", "start")
    assert set(started) == set(chosen)
    assert all(2 <= started.count(s) <= CAPPED_CALLS_PER_COIN for s in chosen)
    assert set(g.stage_seconds) == {"bulk_and_per_coin", "choose_shortlist", "shortlist", "archive"}


def test_a_streaming_share_that_binds_still_gives_the_end_of_fetch_choice(sim_at, monkeypatch):
    """Qualifiers past the streaming share wait for the end of the fetch; when the whole budget
    suffices they are all sent then, so the choice is still the old one."""
    monkeypatch.setattr(shortlist_mod, "STREAM_SHARE", 0.1)
    g, rec, _ = fetch(budget=30 * CAPPED_CALLS_PER_COIN)
    chosen = old_choice(g)
    assert len(g.streamed) == 3 < len(chosen) <= 30
    assert g.shortlist == chosen
    assert g.streamed == [s for s in dict.fromkeys(rec.symbols("series", "start"))][:3]


@pytest.fixture
def shortlister_recorded(monkeypatch):
    """Records in the scan's recorder when the shortlister sends a coin's capped calls, and when it
    ranks the qualifiers left at the end of the fetch."""
    send, rest = shortlist_mod.Shortlister._send, shortlist_mod.Shortlister.send_the_rest

    def recorded_send(self, cd):
        rec = Recorder.last
        rec.events.append((next(rec.seq), "shortlist", "send", cd.symbol))
        return send(self, cd)

    def recorded_rest(self, left_now):
        rec = Recorder.last
        rec.events.append((next(rec.seq), "shortlist", "rank_the_rest", ""))
        return rest(self, left_now)
    monkeypatch.setattr(shortlist_mod.Shortlister, "_send", recorded_send)
    monkeypatch.setattr(shortlist_mod.Shortlister, "send_the_rest", recorded_rest)


def test_a_binding_budget_streams_half_and_ranks_the_rest_at_the_end(sim_at, shortlister_recorded):
    budget_coins = 4
    g, rec, _ = fetch(budget=budget_coins * CAPPED_CALLS_PER_COIN)
    qualifiers = old_choice(g)  # every qualifier, most promising first
    assert len(qualifiers) > budget_coins, "the budget must bind for this test"
    streamed = g.streamed
    assert len(streamed) == budget_coins // 2 and set(streamed) <= set(qualifiers)
    # The rest of the budget went to the most promising of the qualifiers not streamed.
    rest = [s for s in qualifiers if s not in streamed][: budget_coins - len(streamed)]
    assert sorted(g.shortlist) == sorted(streamed + rest)
    assert g.shortlist == [s for s in qualifiers if s in g.shortlist]  # recorded most promising first
    assert set(rec.symbols("series", "start")) == set(g.shortlist)
    # The streamed coins were sent as they qualified, before the end-of-fetch ranking; the others
    # by that ranking, after the fetch's last answer. (A streamed coin's first request may still
    # start after the last answer: it may be the last perpetual to complete, or wait for a slot.)
    last_answer = max(rec.seqs("klines", "end") + rec.seqs("open_interest", "end"))
    [ranking] = rec.seqs("shortlist", "rank_the_rest")
    sent = dict(zip(rec.symbols("shortlist", "send"), rec.seqs("shortlist", "send")))
    assert sorted(sent) == sorted(g.shortlist)
    assert all(sent[s] < ranking for s in streamed)
    assert last_answer < ranking and all(sent[s] > ranking for s in rest)
    first_call = {}
    for seq, what, event, symbol in rec.events:
        if what == "series" and event == "start":
            first_call.setdefault(symbol, seq)
    assert all(first_call[s] > ranking for s in rest)


def test_capped_calls_start_before_the_last_klines_answer(sim_at):
    g, rec, _ = fetch()
    first_capped, last_klines = min(rec.seqs("series", "start")), max(rec.seqs("klines", "end"))
    assert first_capped < last_klines
    # Each coin's capped calls follow all of its own stage B answers (its inputs were complete).
    for symbol in g.shortlist:
        own = [s for s, w, e, sym in rec.events if sym == symbol and e == "end" and w in ("klines", "open_interest")]
        calls = [s for s, w, e, sym in rec.events if sym == symbol and w == "series" and e == "start"]
        assert len(own) == 2 and max(own) < min(calls), symbol
    # Once the perpetuals were known (the first open-interest request), the klines of coins without
    # one (no capped call waits for them) were asked for only after every perpetual's.
    perps = {s for s, cd in g.coins.items() if cd.has_perpetual}
    known = min(rec.seqs("open_interest", "start"))
    later = [sym in perps for s, w, e, sym in rec.events if w == "klines" and e == "start" and s > known]
    assert True in later and False in later
    assert later == sorted(later, reverse=True)


def test_a_chunk_streams_from_the_bulk_data_it_was_given(sim_at):
    g, rec, _ = fetch(chunked=True, budget=300)
    chosen = old_choice(g)
    assert chosen and g.shortlist == chosen and set(g.streamed) == set(chosen)
    assert min(rec.seqs("series", "start")) < max(rec.seqs("klines", "end"))


def test_a_failed_capped_call_is_recorded_for_its_coin(sim_at):
    failing = []

    def fail(rec, endpoint, symbol):
        if endpoint == "takerlongshortRatio" and not failing:
            failing.append(symbol)
        if endpoint == "takerlongshortRatio" and symbol == failing[0]:
            return RetryableError("simulated outage", service="binance_futures", status=503)
        return None
    g, _, _ = fetch(fail=fail)
    assert failing and failing[0] in g.shortlist
    assert [e for e in g.errors if e["symbol"] == failing[0]] == [
        {"symbol": failing[0], "error": "futures data: binance_futures: simulated outage (HTTP 503)"}]
    assert len(g.errors) == 1


def capped_begun(rec: Recorder) -> dict[str, int]:
    """When each coin's capped calls began: the first of them sent (each waits for a slot of its own,
    and one a ban came before is not sent)."""
    first: dict[str, int] = {}
    for seq, what, event, symbol in rec.events:
        if what == "series" and event == "start":
            first.setdefault(symbol, seq)
    return first


def test_a_ban_met_by_a_streamed_call_stops_everything(sim_at):
    banned = []

    def fail(rec, endpoint, symbol):
        if endpoint in ("klines", "open_interest") or banned:
            return None
        banned.append(symbol)  # the first capped call meets a ban (HTTP 418): the governor refuses from now on
        rec.md.futures.http.governor.ban(3600)
        return HostBannedError("banned (HTTP 418)", service="binance_futures", status=418,
                               banned_until=4_000_000_000)
    g, rec, left = fetch(fail=fail)
    assert banned and g.errors[-1]["error"].startswith("raised: binance_futures: banned")
    assert left == []  # nothing left running on the closed session
    ban = min(s for s, w, e, sym in rec.events if w == "series" and e == "failed")
    # Nothing was sent to the banned host after the ban: the capped calls that reached it are
    # those that had started before.
    sent_before = [s for s, w, e, sym in rec.events if w == "series" and e == "start" and s < ban and sym != banned[0]]
    assert rec.stats["binance_futures"]["buckets"].get("futures_data", 0) == len(sent_before)
    # No coin's capped calls began after it (those waiting for a slot were dropped), and the
    # shortlist says which did.
    begun = capped_begun(rec)
    assert max(begun.values()) < ban
    assert sorted(g.shortlist) == sorted(begun)


def test_a_ban_on_the_klines_host_stops_the_capped_calls_too(sim_at):
    """Klines and capped calls go to different hosts; a ban on either fails the scan, and no coin's
    capped calls begin after it, streamed or not (queued ones are dropped)."""
    banned = []

    def fail(rec, endpoint, symbol):
        if endpoint != "klines" or banned or not rec.seqs("series", "start"):
            return None
        banned.append(symbol)  # the first klines call after capped calls were streamed meets a ban
        rec.md.spot.http.governor.ban(3600)
        return HostBannedError("banned (HTTP 418)", service="binance_spot", status=418, banned_until=4_000_000_000)
    g, rec, left = fetch(fail=fail)
    assert g.errors[-1]["error"].startswith("raised: binance_spot: banned") and left == []
    ban = min(s for s, w, e, _ in rec.events if w == "klines" and e == "failed")
    begun = capped_begun(rec)
    assert begun and max(begun.values()) < ban
    # No capped call at all was sent after it, though the futures host was not the banned one.
    assert max(s for s, w, e, _ in rec.events if w == "series" and e == "start") < ban
    assert sorted(g.shortlist) == sorted(begun)


def test_archive_back_pressure_waits_for_room_without_polling(monkeypatch):
    """Coins whose candles arrive while the archive is a full three batches behind wait until a
    flush takes the buffer (woken, not polling), and every row is written once, in order."""
    import threading
    import time as time_mod

    written: list[list[tuple]] = []
    monkeypatch.setattr(gather_mod, "ARCHIVE_BATCH", 100)
    monkeypatch.setattr(gather_mod, "write_candle_rows", lambda rows: (time_mod.sleep(0.02), written.append(rows)))
    g = Gathered(coins={}, universe=[])
    peak = [0]
    sleeps = [0]
    real_sleep = asyncio.sleep

    async def counted_sleep(delay, *a, **k):
        sleeps[0] += 1
        return await real_sleep(delay, *a, **k)
    monkeypatch.setattr(gather_mod.asyncio, "sleep", counted_sleep)

    async def coin(i: int) -> None:
        await real_sleep(0.001 * (i % 7))
        await g.archive([(i, j) for j in range(40)])
        peak[0] = max(peak[0], len(g.candle_rows))

    async def run() -> None:
        await asyncio.gather(*(coin(i) for i in range(200)))
        await g.flush_candles()
    assert threading.current_thread() is threading.main_thread()
    asyncio.run(run())
    rows = [r for batch in written for r in batch]
    assert sorted(rows) == sorted((i, j) for i in range(200) for j in range(40))  # each row once
    assert peak[0] < 3 * 100 + 40  # the buffer stayed bounded: the coins waited
    assert sleeps[0] == 0  # they were woken, not polling
    assert g.room is None and g.flusher is None and g.candle_rows == []
