"""Stage A of a scan (scanners.gather): the bulk requests — futures exchangeInfo, the premium index
(funding of every perpetual), LunarCrush's coin list and CoinGecko's markets — through the
SmartCache, and how each answer is applied to the coins.

None of them needs the universe (but for how many CoinGecko pages past the first), so the engine
starts them (`BulkAnswers.start`) beside the spot exchangeInfo that learns it, not a round trip
after it: that round trip was on the path to every open-interest request (which waits for the
perpetuals) and to every shortlist judgement (which waits for every bulk answer). Each request takes
a slot of the scan's concurrency bound (`Slots`), so no more than PARALLEL_MAX_CONCURRENT requests
are ever in flight.

An answer is handed over as soon as it is had: fetched from the service, before the SmartCache's L2
write (a thread-sensitive sync call, which waits while the archive writes candles on that thread —
seconds in a cold scan); cached, when the cache answers. Handed over once: a background refresh
after a stale answer only refreshes the cache.
"""
from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from django.conf import settings

from marketdata.cache import smart_cache
from marketdata.errors import HostBannedError, MarketDataError
from marketdata.session import MarketDataSession

from .shortlist import Slots

if TYPE_CHECKING:
    from .gather import Gathered

COINGECKO_PAGE = 250  # coins per /coins/markets page (marketdata.coingecko asks for the most it may)


class BulkAnswers:
    """The bulk answers of one scan, each requested once, whoever asks first (`start` before the
    universe is known, or gather's stage A)."""

    def __init__(self, md: MarketDataSession, slots: Slots):
        self.md, self.slots = md, slots
        self._answers: dict[str, asyncio.Future] = {}
        self._tasks: list[asyncio.Task] = []

    def start(self, needs: set[str]) -> None:
        """Request what a scan with these needs will apply, before its universe is known."""
        if needs & {"funding", "oi"}:
            self.perpetuals()
        if "funding" in needs:
            self.premium()
        if "social" in needs:
            self.social()
        if "coingecko" in needs:
            self.markets(1)  # the others once the universe's size says how many pages

    def perpetuals(self) -> asyncio.Future:
        f = self.md.futures
        return self._answer(f"fut-info:{f.http.base_url}", f.perpetuals, ttl=settings.CACHE_L2_TTL, max_stale=3600,
                            level="L2")

    def premium(self) -> asyncio.Future:
        f, ttl = self.md.futures, settings.CACHE_L1_TTL
        return self._answer(f"premium:{f.http.base_url}", f.premium_index_all, ttl=ttl,
                            max_stale=max(ttl, settings.CACHE_L2_TTL))

    def social(self) -> asyncio.Future:
        lc = self.md.lunarcrush
        return self._answer(f"lunarcrush:{lc.http.base_url}", lc.all_coins, ttl=settings.CACHE_L2_TTL,
                            max_stale=3 * 3600, level="L2")

    def markets(self, page: int) -> asyncio.Future:
        cg = self.md.coingecko
        return self._answer(f"coingecko:{cg.http.base_url}:page:{page}", lambda: cg.markets(page=page),
                            ttl=settings.CACHE_L2_TTL, max_stale=6 * 3600, level="L2")

    def _answer(self, key: str, fetch, **cache) -> asyncio.Future:
        """A future of (value, fetched_at epoch seconds), or of the request's failure."""
        answer = self._answers.get(key)
        if answer is None:
            answer = self._answers[key] = asyncio.get_running_loop().create_future()
            self._tasks.append(asyncio.ensure_future(self._obtain(answer, key, fetch, cache)))
        return answer

    async def _obtain(self, answer: asyncio.Future, key: str, fetch, cache: dict[str, Any]) -> None:
        async def fetch_then_hand_over():
            value = await self.slots.run(fetch(), Slots.BULK)
            if not answer.done():
                answer.set_result((value, time.time()))
            return value
        try:
            cached = await smart_cache.get(key, fetch_then_hand_over, **cache)
        except Exception as exc:
            if answer.done():
                raise  # the cache's write after the answer was handed over: `finish` raises it
            answer.set_exception(exc)
            return
        if not answer.done():
            answer.set_result((cached.value, cached.fetched_at))

    async def finish(self) -> None:
        """Wait for what is still running (the cache's writes after an answer was handed over)."""
        tasks, self._tasks = self._tasks, []
        failure = next((r for r in await asyncio.gather(*tasks, return_exceptions=True)
                        if isinstance(r, BaseException)), None)
        if failure is not None:
            raise failure

    async def abandon(self) -> None:
        """The scan failed: stop what is still running, and read every failure (none is logged as
        never retrieved: the scan's own failure is what it reports)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for answer in self._answers.values():
            if answer.done() and not answer.cancelled():
                answer.exception()


# ---------------------------------------------------------------- applying the answers to the coins

async def perpetuals(answers: BulkAnswers, g: Gathered, known: asyncio.Event) -> None:
    perps, _ = await answers.perpetuals()
    by_base = {p.base_asset: p for p in perps if p.quote_asset == "USDT" and p.status == "TRADING"}
    for info in g.universe:
        cd = g.coins[info.symbol]
        perp = by_base.get(info.base_asset)
        cd.has_perpetual = perp is not None and perp.symbol == info.symbol
        if cd.has_perpetual and perp.onboard_date is not None:
            # Listing time: the earlier of the first spot candle and the perpetual's onboarding.
            cd.listed_at_ms = min(cd.listed_at_ms or perp.onboard_date, perp.onboard_date)
    known.set()


async def funding(answers: BulkAnswers, g: Gathered, perps_known: asyncio.Event, applied: asyncio.Event) -> None:
    premium, fetched_at = await answers.premium()
    await perps_known.wait()
    for p in premium:
        cd = g.coins.get(p.symbol)
        if cd and cd.has_perpetual:
            g.metric(cd, "funding_pct", p.time, p.funding_pct, "binance_futures")
    g.data_times["funding"] = iso(fetched_at)
    applied.set()


async def social(answers: BulkAnswers, g: Gathered, applied: asyncio.Event) -> None:
    page, fetched_at = await answers.social()
    at = int(fetched_at * 1000)
    g.ranked_count = page.total_rows or len(page.coins)
    by_symbol = {c.symbol: c for c in page.coins}
    for info in g.universe:
        sc, cd = by_symbol.get(info.base_asset), g.coins[info.symbol]
        if sc is None:
            continue
        for name in ("galaxy_score", "galaxy_score_previous", "alt_rank", "alt_rank_previous", "sentiment",
                     "social_volume_24h"):
            g.metric(cd, name, at, sc.values.get(name), "lunarcrush")
        g.metric(cd, "alt_rank_count", at, float(g.ranked_count), "lunarcrush")  # N of the AltRank percentile
    g.data_times["social"] = iso(fetched_at)
    applied.set()


async def coingecko(answers: BulkAnswers, g: Gathered, applied: asyncio.Event) -> None:
    # Markets by cap: the traded coins sit in the first pages. The first is asked for before the
    # universe is known (`start`), the others now.
    pages = max(1, len(g.universe) // COINGECKO_PAGE + 1)
    answered = await asyncio.gather(*(answers.markets(p) for p in range(1, pages + 1)))
    fetched_at = min(at for _, at in answered)  # as old as its oldest page
    at = int(fetched_at * 1000)
    by_symbol: dict = {}
    for markets, _ in answered:
        for m in markets:  # ordered by market cap: the first coin of a ticker is the one traded
            by_symbol.setdefault(m.symbol, m)
    for info in g.universe:
        m, cd = by_symbol.get(info.base_asset), g.coins[info.symbol]
        if m is not None:
            g.metric(cd, "fdv", at, m.fully_diluted_valuation, "coingecko")
            g.metric(cd, "circulating_share_pct", at, m.circulating_share_pct, "coingecko")
    g.data_times["coingecko"] = iso(fetched_at)
    applied.set()


async def guarded(g: Gathered, coro, what: str) -> None:
    """A bulk request that fails leaves its inputs missing for every coin; a ban stops the scan."""
    try:
        await coro
    except HostBannedError:
        raise
    except MarketDataError as exc:
        g.fail("*", exc, what)


def iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=timezone.utc).isoformat()
