"""SmartCache (the plan's three levels): L1 an in-process TTL map for prices and funding, L2 the
Django cache (Redis when REDIS_URL is set) for snapshots shared between processes, L3 the database
archive (marketdata.archive), which the scan engine reads directly.

Stale-while-revalidate: a value past its TTL but within its staleness limit is returned at once,
marked stale with its age, while one background refresh runs; past the staleness limit the caller
waits for fresh data. Nothing past its limit is ever returned, and nothing stale is labelled fresh.
"""
from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from asgiref.sync import sync_to_async
from django.core.cache import cache as django_cache


@dataclass(frozen=True)
class Cached:
    value: Any
    fetched_at: float  # epoch seconds when the value was fetched from the service
    fresh: bool
    level: str  # "L1", "L2" or "origin"

    @property
    def age(self) -> float:
        return time.time() - self.fetched_at


class SmartCache:
    def __init__(self, max_items: int = 1000, clock: Callable[[], float] = time.time, shared=None):
        self.max_items = max_items
        self.clock = clock
        self.shared = shared  # the L2 backend; None: Django's default cache (Redis when REDIS_URL is set)
        self._l1: OrderedDict[str, tuple[Any, float]] = OrderedDict()
        self._refreshing: dict[str, asyncio.Task] = {}
        self.hits = {"L1": 0, "L2": 0, "origin": 0, "stale": 0}

    def _put_l1(self, key: str, value: Any, fetched_at: float) -> None:
        self._l1[key] = (value, fetched_at)
        self._l1.move_to_end(key)
        while len(self._l1) > self.max_items:
            self._l1.popitem(last=False)

    async def get(self, key: str, fetch: Callable[[], Awaitable[Any]], *, ttl: float, max_stale: float,
                  level: str = "L1") -> Cached:
        """The value of `key`: fresh within `ttl`, stale (refreshing in the background) until
        `max_stale`, fetched and waited for after that. `level` "L2" also shares it through the
        Django cache with other processes."""
        now = self.clock()
        found = self._l1.get(key)
        source = "L1"
        if found is None and level == "L2":
            found = await sync_to_async(self._shared().get)(f"smartcache:{key}")
            source = "L2"
            if found is not None:
                self._put_l1(key, *found)
        if found is not None:
            value, fetched_at = found
            age = now - fetched_at
            if age <= ttl:
                self.hits[source] += 1
                return Cached(value, fetched_at, True, source)
            if age <= max_stale:
                self.hits["stale"] += 1
                if key not in self._refreshing:
                    self._refreshing[key] = asyncio.create_task(self._refresh(key, fetch, level, max_stale))
                return Cached(value, fetched_at, False, source)
        value = await fetch()
        await self._store(key, value, level, max_stale)
        self.hits["origin"] += 1
        return Cached(value, self.clock(), True, "origin")

    async def _store(self, key: str, value: Any, level: str, max_stale: float) -> None:
        fetched_at = self.clock()
        self._put_l1(key, value, fetched_at)
        if level == "L2":
            await sync_to_async(self._shared().set)(f"smartcache:{key}", (value, fetched_at), timeout=max_stale)

    def _shared(self):
        return self.shared if self.shared is not None else django_cache

    async def _refresh(self, key: str, fetch: Callable[[], Awaitable[Any]], level: str, max_stale: float) -> None:
        try:
            await self._store(key, await fetch(), level, max_stale)
        except Exception:  # noqa: BLE001 — a failed refresh leaves the stale value to expire on its own
            pass
        finally:
            self._refreshing.pop(key, None)

    async def drain(self) -> None:
        """Wait for background refreshes (before the event loop that runs them closes)."""
        if self._refreshing:
            await asyncio.gather(*self._refreshing.values(), return_exceptions=True)

    def clear(self) -> None:
        self._l1.clear()


# One per process: a long-lived q worker keeps its L1 between scans.
smart_cache = SmartCache()
