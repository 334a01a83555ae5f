"""A fresh scan of a watchlist's coins: every scanner ("all", PLAN.md §5.1's scanner_type='all')
through cryptosatx.scanning.scan, so its results, unified scores and signals are stored as any scan's."""
from __future__ import annotations

from dataclasses import dataclass, field

from cryptosatx.scanning import scan
from scanners.engine import UnknownSymbolsError
from scanners.models import ScanRun

from .models import Watchlist


@dataclass
class WatchlistScan:
    run: ScanRun | None  # None when there was nothing to scan
    symbols: list[str] = field(default_factory=list)  # the coins the scan set out to score
    not_trading: list[str] = field(default_factory=list)  # coins the exchange no longer lists


def scan_watchlist(watchlist: Watchlist) -> WatchlistScan:
    symbols = list(watchlist.coins.order_by("symbol").values_list("symbol", flat=True))
    if not symbols:
        return WatchlistScan(None)
    try:
        return WatchlistScan(scan("all", symbols), symbols)
    except UnknownSymbolsError as exc:
        # A coin left the exchange since it was added: scan the others and say which one.
        gone = set(exc.symbols)
        rest = [s for s in symbols if s not in gone]
        return WatchlistScan(scan("all", rest) if rest else None, rest, sorted(gone))


# On-demand scans call the outside services from inside a request; a user gets this many a minute
# (the API and the page's "Scan now" share the count). Scheduled scans do not count.
SCANS_PER_MINUTE = 6


def seconds_until_allowed(user_id: int, now: float | None = None) -> int:
    """0 when the user may scan now (and counts this scan), else the seconds to wait."""
    import time

    from django.core.cache import cache

    now = time.time() if now is None else now
    minute = int(now // 60)
    key = f"watchlists:scans:{user_id}:{minute}"
    cache.add(key, 0, timeout=120)
    try:
        used = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=120)
        used = 1
    return 0 if used <= SCANS_PER_MINUTE else int((minute + 1) * 60 - now) + 1
