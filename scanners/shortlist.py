"""Stage C of a scan (scanners.gather): the capped `/futures/data` calls, spent only on a shortlist of
perpetuals chosen from stages A–B — listings under 7 days, and coins whose smart-money or volume-spike
scores already stand out — and sent while stage B is still fetching.

Stage C overlaps stage B (docs/performance.md, "The shortlist, streamed"). A perpetual is judged
as soon as all its stage A–B inputs are in — every bulk request answered (or failed), its klines
and its open-interest snapshot — from the same snapshot and rule as the end-of-fetch choice
(`choose_shortlist`), and a coin that qualifies gets its capped calls at once, while the calls
streamed so far stay within STREAM_SHARE of the budget (in whole coins of CAPPED_CALLS_PER_COIN).
The qualifiers past that share are ranked when the fetch ends, most promising first (young
listings, then the highest score), for what is left of the budget. So a budget that does not bind
picks exactly the coins the end-of-fetch choice would; one that binds spends its first half on
early qualifiers in arrival order and the rest on the best of the others. `Gathered.shortlist`
lists every coin that got capped calls, ranked; `Gathered.streamed` those sent during the fetch.
Young listings cannot be judged before their klines: the listing time is the earlier of the
perpetual's onboarding and the first spot candle, so a recent onboarding does not make a coin
young (its spot market may be older), and a coin whose klines failed is not shortlisted.

The concurrency bound (`Slots`, PARALLEL_MAX_CONCURRENT requests at once, every request of the
scan counted, each capped call in a slot of its own) hands a freed slot to the most urgent waiting
request: stage A's first, then a qualifier's capped calls, then the klines and open-interest
snapshots of perpetuals (alternately, so coins complete all through the fetch), and the klines of
coins without a perpetual last — no capped call waits for those, so the fetch does not end on a
qualifier whose capped calls still have a round trip to go.

The Shortlister also knows when a coin is complete — every bulk answer applied, its stage B inputs
in, and, for a perpetual, judged not worth the capped calls or its capped calls answered — and then
hands it to the scan's scorer (`Gathered.scorer`, scanners.pipeline.StreamScorer), so most coins
are scored while the others are still being fetched (docs/architecture.md).
"""
from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import replace
from datetime import datetime, timezone
from itertools import count
from typing import TYPE_CHECKING

from marketdata.errors import HostBannedError, MarketDataError
from marketdata.session import MarketDataSession

from .coindata import DAY_MS, OI_LOOKBACK_TOLERANCE_MS, CoinData, build_snapshot
from .snapshot import CoinSnapshot
from .smart_money import score_smart_money
from .whale import score_volume_spike

if TYPE_CHECKING:
    from .gather import Gathered

SHORTLIST_SCORE = 5  # accumulation, distribution or volume spike at least this → worth the capped calls
CAPPED_CALLS_PER_COIN = 3
STREAM_SHARE = 0.5  # of the shortlist's budget, what may be spent on coins as they qualify during the fetch


def rank(cd: CoinData, as_of: datetime, snap: CoinSnapshot | None = None) -> tuple[bool, float, str] | None:
    """(young, best score, symbol) of a perpetual worth the capped calls (sorting these in reverse
    puts the most promising first), or None. `snap`: the coin's snapshot at `as_of` with any social
    activity (the scorer's); the judgement reads it without (the same as building it without)."""
    snap = build_snapshot(cd, as_of) if snap is None else replace(snap, social_activity_pct=None)
    sm, vol = score_smart_money(snap), score_volume_spike(snap)
    young = snap.age_hours is not None and snap.age_hours < 168
    best = max(sm.accumulation or 0, sm.distribution or 0, vol.score or 0)
    return (young, best, cd.symbol) if young or best >= SHORTLIST_SCORE else None


def choose_shortlist(g: Gathered, budget: int) -> list[str]:
    """Perpetuals worth the capped calls, most promising first, within `budget` calls, chosen from
    every coin's data at g.as_of (what the streamed choice in `gather` reproduces when the budget
    does not bind)."""
    ranked = [r for symbol, cd in g.coins.items()
              if cd.has_perpetual and symbol not in g.failed and (r := rank(cd, g.as_of)) is not None]
    ranked.sort(reverse=True)
    return [s for _, _, s in ranked[: max(0, budget // CAPPED_CALLS_PER_COIN)]]


async def capped_calls(md: MarketDataSession, g: Gathered, cd: CoinData, now_ms: int, in_slot=None) -> None:
    """The capped calls of one shortlisted coin, all at once, each in a concurrency slot of its own
    where the caller bounds concurrency (`in_slot(make)` runs `make()` in a slot)."""
    in_slot = in_slot or (lambda make: make())
    series = md.futures.series
    calls = [lambda: series("topLongShortPositionRatio", cd.symbol, "1h", 2),
             lambda: series("takerlongshortRatio", cd.symbol, "1h", 24)]
    need_oi = not cd.value_at("open_interest", now_ms - DAY_MS, OI_LOOKBACK_TOLERANCE_MS)
    if need_oi:  # no snapshot of our own from a day ago yet
        calls.append(lambda: series("openInterestHist", cd.symbol, "1h", 25))
    results = await asyncio.gather(*(in_slot(make) for make in calls), return_exceptions=True)
    # A ban first, then anything that is not the service's answer (a call not sent); a failed call
    # leaves its inputs missing, recorded for the coin.
    failure = first_failure([r for r in results if isinstance(r, BaseException)
                             and (isinstance(r, HostBannedError) or not isinstance(r, MarketDataError))])
    if failure is not None:
        raise failure
    for result in results:
        if isinstance(result, MarketDataError):
            g.fail(cd.symbol, result, "futures data")
    top, taker = results[0], results[1]
    if not isinstance(top, BaseException):
        for p in top:
            g.metric(cd, "top_position_ratio", p.timestamp, p.value, "binance_futures")
    if not isinstance(taker, BaseException):
        for p in taker:
            g.metric(cd, "futures_taker_buy_vol", p.timestamp, p.extra.get("buyVol"), "binance_futures")
            g.metric(cd, "futures_taker_sell_vol", p.timestamp, p.extra.get("sellVol"), "binance_futures")
    if need_oi and not isinstance(results[2], BaseException):
        for p in results[2]:
            g.metric(cd, "open_interest", p.timestamp, p.value, "binance_futures")


class Slots:
    """The scan's concurrency bound: at most `limit` requests in flight, every request of the scan
    counted, like asyncio.Semaphore, except that a freed slot goes to the longest-waiting request
    of the most urgent lane: BULK (stage A), CAPPED, then PERP_KLINES and OI taking turns, then
    OTHER_KLINES."""

    BULK, CAPPED, PERP_KLINES, OI, OTHER_KLINES = range(5)

    def __init__(self, limit: int):
        self.free = limit
        self.lanes: list[deque] = [deque() for _ in range(5)]  # of (sequence, future, CoinData or None)
        self.seq = count()
        self.oi_turn = False
        self.banned = False  # a request met a ban: no capped call is streamed or begun after it

    async def run(self, coro, lane: int, cd: CoinData | None = None, then=None):
        """Run `coro` in a slot and return its result, then `then()` (not after an exception)."""
        if self.free:
            self.free -= 1
        else:
            fut = asyncio.get_running_loop().create_future()
            self.lanes[lane].append((next(self.seq), fut, cd))
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self._release()  # handed the slot as we were cancelled: pass it on
                coro.close()
                raise
        try:
            result = await coro
        except HostBannedError:
            self.banned = True
            raise
        finally:
            self._release()
        if then is not None:
            then()
        return result

    def _next(self):
        lanes = self.lanes
        for lane in (lanes[self.BULK], lanes[self.CAPPED]):
            if lane:
                return lane.popleft()
        klines, oi = lanes[self.PERP_KLINES], lanes[self.OI]
        if klines and oi:
            self.oi_turn = not self.oi_turn
            return (oi if self.oi_turn else klines).popleft()
        for lane in (klines, oi, lanes[self.OTHER_KLINES]):
            if lane:
                return lane.popleft()
        return None

    def _release(self) -> None:
        while (entry := self._next()) is not None:
            if not entry[1].done():  # else its waiter was cancelled
                entry[1].set_result(None)
                return
        self.free += 1

    def regroup(self) -> None:
        """The perpetuals are known: waiting klines move to their coin's lane, in their order."""
        waiting = sorted([*self.lanes[self.PERP_KLINES], *self.lanes[self.OTHER_KLINES]], key=lambda e: e[0])
        self.lanes[self.PERP_KLINES] = deque(e for e in waiting if e[2].has_perpetual)
        self.lanes[self.OTHER_KLINES] = deque(e for e in waiting if not e[2].has_perpetual)


class Shortlister:
    """Stage C streamed over stage B (the module's docstring): judges each perpetual once its stage
    A–B inputs are in, sends a qualifier's capped calls while within the streaming share, and ranks
    the other qualifiers for what is left when the fetch ends."""

    def __init__(self, md: MarketDataSession, g: Gathered, needs: set[str], slots: Slots, now_ms: int,
                 budget: int):
        self.md, self.g, self.slots, self.now_ms = md, g, slots, now_ms
        self.per_coin_inputs = ("klines" in needs, "oi" in needs)
        self.coins = max(0, budget // CAPPED_CALLS_PER_COIN)  # the budget, in whole coins
        self.stream_coins = int(self.coins * STREAM_SHARE)
        self.inputs_in: dict[str, int] = {}
        self.bulk_in = False
        self.stopped = False
        self.ranks: dict[str, tuple[bool, float, str]] = {}  # every qualifier
        self.sent: list[str] = []
        self.calls: list[asyncio.Future] = []

    def _complete(self, cd: CoinData) -> bool:
        klines, oi = self.per_coin_inputs
        return self.inputs_in.get(cd.symbol, 0) == klines + (oi and cd.has_perpetual)

    def arrived(self, cd: CoinData) -> None:
        """One of the coin's per-coin inputs (klines, open-interest snapshot) is in, or failed."""
        self.inputs_in[cd.symbol] = self.inputs_in.get(cd.symbol, 0) + 1
        if self.bulk_in and self._complete(cd):
            self._judge(cd) if cd.has_perpetual else self._done(cd)

    def bulk_arrived(self, banned: bool) -> None:
        """Every bulk request is answered (or failed): judge the coins already complete."""
        self.bulk_in, self.stopped = True, self.stopped or banned
        if self.g.scorer is not None:
            self.g.scorer.rank_social(self.g.coins, datetime.now(timezone.utc))
        for cd in self.g.coins.values():
            if self._complete(cd):
                self._judge(cd) if cd.has_perpetual else self._done(cd)

    def _judge(self, cd: CoinData) -> None:
        if self.stopped or self.slots.banned or cd.symbol in self.g.failed:
            return
        now, scorer = datetime.now(timezone.utc), self.g.scorer
        snap = scorer.snapshot(cd, now) if scorer is not None else None
        ranked = rank(cd, now, snap)
        if ranked is None:
            self._done(cd, now, snap)
            return
        self.ranks[cd.symbol] = ranked
        if len(self.sent) < self.stream_coins:
            self.g.streamed.append(cd.symbol)
            self._send(cd)

    def _send(self, cd: CoinData) -> None:
        self.sent.append(cd.symbol)
        self.calls.append(asyncio.ensure_future(self._call(cd)))

    async def _call(self, cd: CoinData) -> bool:
        """A coin's capped calls, each in a slot of its own, except those a ban came before (False:
        none was sent)."""
        sent = []

        def in_slot(make):
            async def unless_banned():
                if self._banned():  # the ban came while it waited for its slot
                    raise _NotSent
                sent.append(make)
                return await make()
            return self.slots.run(unless_banned(), Slots.CAPPED)
        if self._banned():
            return False
        try:
            await capped_calls(self.md, self.g, cd, self.now_ms, in_slot)
        except _NotSent:
            return bool(sent)
        self._done(cd)
        return True

    def _banned(self) -> bool:
        if self.slots.banned:  # met by any request of the scan
            return True
        try:
            self.md.futures.http.governor.check_not_banned()
        except HostBannedError:
            return True
        return False

    def _done(self, cd: CoinData, now: datetime | None = None, snap: CoinSnapshot | None = None) -> None:
        """Every datum of the coin is in (or failed, each failure recorded): score it now, if the
        scan scores as it fetches (`Gathered.scorer`); a coin whose candles failed is not scored.
        (`now` and `snap`: the moment the judgement found it complete, and its snapshot then.)"""
        if self.g.scorer is not None and not self.stopped and cd.symbol not in self.g.failed:
            self.g.scorer.score(cd, now or datetime.now(timezone.utc), snap)

    def send_the_rest(self, left_now: int) -> list[str]:
        """The fetch has ended: the best qualifiers not yet sent, for what is left of the budget."""
        room = min(self.coins - len(self.sent), max(0, left_now) // CAPPED_CALLS_PER_COIN)
        sent = set(self.sent)
        rest = sorted((r for s, r in self.ranks.items() if s not in sent), reverse=True)[: max(0, room)]
        for _, _, symbol in rest:
            self._send(self.g.coins[symbol])
        return [s for _, _, s in rest]

    async def settle(self) -> BaseException | None:
        """Wait for every capped call sent; the shortlist, ranked; the first failure (a ban first)."""
        outcomes = await asyncio.gather(*self.calls, return_exceptions=True)
        called = [s for s, outcome in zip(self.sent, outcomes) if outcome is not False]  # False: a ban came first
        self.g.shortlist = sorted(called, key=self.ranks.__getitem__, reverse=True)
        return first_failure(outcomes)


class _NotSent(Exception):
    """A capped call a ban came before: not sent."""


def first_failure(outcomes) -> BaseException | None:
    return next((o for o in outcomes if isinstance(o, HostBannedError)), None) or \
        next((o for o in outcomes if isinstance(o, BaseException)), None)


def futures_data_left(md: MarketDataSession) -> int:
    bucket = md.futures.http.governor.buckets["futures_data"]
    bucket.roll(time.time())
    return (bucket.budget or 0) - bucket.used
