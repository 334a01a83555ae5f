"""A market-data session: the pooled, governed clients of one scan or backfill.

Governors live for the whole process (so a long-lived worker remembers a 429 pause), while
the httpx pools are opened and closed with the event loop that uses them. A 418 ban is also
written to the database (DataSource.banned_until) so the next process does not send either.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone as djtz

from .binance_spot import BinanceSpot
from .governor import Limits, governor_for
from .http import ServiceClient
from .models import DataSource


def _service_config() -> dict[str, tuple[str, Limits]]:
    window = settings.BINANCE_WEIGHT_WINDOW_SECONDS
    return {
        "binance_spot": (settings.BINANCE_SPOT_URL, Limits(settings.BINANCE_SPOT_WEIGHT_PER_MINUTE, window,
                                                            "x-mbx-used-weight-1m")),
    }


class MarketDataSession:
    def __init__(self, services: tuple[str, ...] = ("binance_spot",)):
        config = _service_config()
        self.clients: dict[str, ServiceClient] = {}
        for name in services:
            base_url, limits = config[name]
            self.clients[name] = ServiceClient(
                name, base_url, governor_for(name, base_url, limits), timeout=settings.HTTP_TIMEOUT_SECONDS,
                max_retries=settings.HTTP_MAX_RETRIES, max_connections=settings.PARALLEL_MAX_CONCURRENT,
                backoff_base=settings.HTTP_BACKOFF_SECONDS)
        self.spot = BinanceSpot(self.clients["binance_spot"]) if "binance_spot" in self.clients else None

    async def __aenter__(self) -> "MarketDataSession":
        await sync_to_async(self.restore_bans)()
        return self

    async def __aexit__(self, *exc_info) -> None:
        for client in self.clients.values():
            await client.aclose()
        await sync_to_async(self.record_sources)()

    @property
    def simulated(self) -> bool:
        return any(c.stats.simulated for c in self.clients.values())

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
