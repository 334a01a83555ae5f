"""A market-data session: the pooled, governed clients of one scan or backfill.

Governors live for the whole process (so a long-lived worker remembers a 429 pause), while
the httpx pools are opened and closed with the event loop that uses them. A 418 ban is also
written to the database (DataSource.banned_until) so the next process does not send either.
"""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone as djtz

from .binance_futures import BinanceFutures
from .binance_spot import BinanceSpot
from .coingecko import CoinGecko
from .governor import Limits, governor_for
from .http import ServiceClient
from .lunarcrush import LunarCrush
from .models import DataSource


ALL_SERVICES = ("binance_spot", "binance_futures", "coingecko", "lunarcrush")


def _service_config() -> dict[str, tuple[str, Limits, dict[str, str]]]:
    """service -> (base URL, limits, headers). Limits per APIS.md, as settings so they can be tuned."""
    window = settings.BINANCE_WEIGHT_WINDOW_SECONDS
    five_min = window * 5  # the futures request caps are per 5 minutes
    cg_headers = {"x-cg-demo-api-key": settings.COINGECKO_API_KEY} if settings.COINGECKO_API_KEY else {}
    lc_headers = {"Authorization": f"Bearer {settings.LUNARCRUSH_API_KEY}"} if settings.LUNARCRUSH_API_KEY else {}
    # The plan sends batches of PARALLEL_MAX_CONCURRENT, RATE_LIMIT_PER_SECOND batches a second.
    pace = {"starts_per_second": settings.RATE_LIMIT_PER_SECOND * settings.PARALLEL_MAX_CONCURRENT,
            "burst": settings.PARALLEL_MAX_CONCURRENT}
    return {
        "binance_spot": (settings.BINANCE_SPOT_URL, Limits(settings.BINANCE_SPOT_WEIGHT_PER_MINUTE, window,
                                                            "x-mbx-used-weight-1m", **pace), {}),
        "binance_futures": (settings.BINANCE_FUTURES_URL, Limits(
            settings.BINANCE_FUTURES_WEIGHT_PER_MINUTE, window, "x-mbx-used-weight-1m",
            buckets=(("futures_data", settings.BINANCE_FUTURES_DATA_PER_5MIN, five_min),
                     ("funding", settings.BINANCE_FUNDING_RATE_PER_5MIN, five_min)), **pace), {}),
        "coingecko": (settings.COINGECKO_URL, Limits(settings.COINGECKO_CALLS_PER_MINUTE, window, **pace),
                      cg_headers),
        "lunarcrush": (settings.LUNARCRUSH_URL, Limits(
            settings.LUNARCRUSH_CALLS_PER_MINUTE, window,
            buckets=(("day", settings.LUNARCRUSH_CALLS_PER_DAY, 86_400.0),), **pace), lc_headers),
    }


class MarketDataSession:
    def __init__(self, services: tuple[str, ...] = ("binance_spot",)):
        config = _service_config()
        self.clients: dict[str, ServiceClient] = {}
        for name in services:
            base_url, limits, headers = config[name]
            self.clients[name] = ServiceClient(
                name, base_url, governor_for(name, base_url, limits), timeout=settings.HTTP_TIMEOUT_SECONDS,
                max_retries=settings.HTTP_MAX_RETRIES, max_connections=settings.PARALLEL_MAX_CONCURRENT,
                backoff_base=settings.HTTP_BACKOFF_SECONDS, headers=headers)
        get = self.clients.get
        self.spot = BinanceSpot(get("binance_spot")) if get("binance_spot") else None
        self.futures = BinanceFutures(get("binance_futures")) if get("binance_futures") else None
        self.coingecko = CoinGecko(get("coingecko")) if get("coingecko") else None
        self.lunarcrush = LunarCrush(get("lunarcrush")) if get("lunarcrush") else None

    async def __aenter__(self) -> "MarketDataSession":
        await sync_to_async(self.restore_bans)()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close_clients()
        await sync_to_async(self.record_sources)()

    async def close_clients(self) -> None:
        """Close every connection pool (again at exit: closing twice does nothing)."""
        await asyncio.gather(*(client.aclose() for client in self.clients.values()))

    @property
    def simulated(self) -> bool:
        return any(c.stats.simulated for c in self.clients.values())

    def median_round_trip(self) -> float | None:
        """Median seconds per answered request over every service in this session."""
        trips = sorted(t for c in self.clients.values() for t in c.stats.round_trips)
        return trips[len(trips) // 2] if trips else None

    def request_stats(self) -> dict[str, Any]:
        return {name: c.stats.as_dict() for name, c in self.clients.items() if c.stats.requests}

    def restore_bans(self) -> None:
        for source in DataSource.objects.filter(name__in=self.clients, banned_until__gt=djtz.now()):
            self.clients[source.name].governor.banned_until = source.banned_until.timestamp()

    def record_sources(self) -> None:
        """Store each service's freshness, last error, ban and whether it was the simulator."""
        now = djtz.now()
        for name, client in self.clients.items():
            stats, gov = client.stats, client.governor
            if not stats.requests and not stats.errors:
                continue
            source, _ = DataSource.objects.get_or_create(name=name, defaults={"base_url": str(client.base_url)})
            source.base_url = str(client.base_url)
            if stats.ok:
                source.last_success_at = now
                source.simulated = stats.simulated
            if stats.errors:
                source.last_error_at, source.last_error = now, stats.last_error[:2000]
            source.banned_until = (datetime.fromtimestamp(gov.banned_until, tz=timezone.utc)
                                   if gov.banned_until > now.timestamp() else None)
            source.save()
