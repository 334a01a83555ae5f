"""The reads behind the API, kept apart from formatting so a dashboard page or the Telegram bot
can call the same functions. Each runs a fixed number of queries, whatever the number of coins."""
from __future__ import annotations

from datetime import datetime, timezone as dt_timezone
from typing import Any

from django.db.models import Count, F, Max, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from marketdata.models import Coin
from scanners.models import ScanResult
from signals.models import UnifiedScore

from .constants import HISTORY_LENGTH, RESULT_SCANNERS, SCANNER_COMPONENT

# The ranking's order: best score first, coins without a score last, ties by symbol (stable pages).
RANKING_ORDER = (F("unified_score").desc(nulls_last=True), "coin__symbol")


def latest_scores() -> QuerySet[UnifiedScore]:
    return UnifiedScore.objects.filter(is_latest=True)


def ranking_summary() -> dict[str, Any]:
    """`total_scanned` (coins with a latest unified score row) and `timestamp` (its newest
    computed_at), over the whole ranking, before any filter."""
    return latest_scores().aggregate(total_scanned=Count("pk"), timestamp=Max("computed_at"))


def ranking(tiers: list[str] | None = None, min_score: float | None = None,
            scanner: str | None = None) -> QuerySet[UnifiedScore]:
    qs = latest_scores().select_related("coin").defer("components", "reasons", "missing")
    if tiers:
        qs = qs.filter(tier__in=tiers)
    if min_score is not None:
        qs = qs.filter(unified_score__gte=min_score)
    if scanner:
        # The component was measured: its breakdown entry exists and its raw value is not JSON null.
        raw = f"breakdown__{SCANNER_COMPONENT[scanner]}__raw"
        qs = qs.filter(**{f"{raw}__isnull": False}).exclude(**{raw: None})
    return qs.order_by(*RANKING_ORDER)


def ranking_position(score: UnifiedScore) -> int:
    """The coin's rank in the unfiltered ranking (same order as `ranking()`)."""
    symbol = score.coin.symbol
    if score.unified_score is None:
        ahead = Q(unified_score__isnull=False) | Q(unified_score__isnull=True, coin__symbol__lt=symbol)
    else:
        ahead = Q(unified_score__gt=score.unified_score) | Q(unified_score=score.unified_score,
                                                              coin__symbol__lt=symbol)
    return latest_scores().filter(ahead).count() + 1


def find_coin(symbol: str) -> Coin | None:
    return Coin.objects.filter(symbol__iexact=symbol.strip()).first()


def latest_unified(coin: Coin) -> UnifiedScore | None:
    return latest_scores().filter(coin=coin).select_related("coin").first()


def latest_results(coin: Coin) -> dict[str, ScanResult]:
    """{scanner: its newest ScanResult for the coin}, in the canonical scanner order; one query."""
    newest = (ScanResult.objects.filter(coin=coin, scanner=OuterRef("scanner"))
              .order_by("-created_at", "-pk").values("pk")[:1])
    rows = {r.scanner: r for r in ScanResult.objects.filter(coin=coin, pk=Subquery(newest))}
    known = [s for s in RESULT_SCANNERS if s in rows]
    return {s: rows[s] for s in known + sorted(set(rows) - set(known))}


def _as_of(entry: Any) -> datetime | None:
    """An input's `as_of` as an aware datetime; anything unreadable counts as unknown, not an error."""
    value = entry.get("as_of") if isinstance(entry, dict) else None
    try:
        moment = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well-formed but impossible, e.g. month 13
        return None
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment, dt_timezone.utc)
    return moment


def input_times(results: list[ScanResult]) -> dict[str, datetime | None]:
    """{input: the newest `as_of` any of the results recorded for it}, by name; None when no
    result had a time for it (the input was missing)."""
    newest: dict[str, datetime | None] = {}
    for result in results:
        inputs = result.inputs if isinstance(result.inputs, dict) else {}
        for name, entry in inputs.items():
            if name == "detail":  # scanner-specific extras, not an input
                continue
            moment, seen = _as_of(entry), newest.get(name)
            newest[name] = moment if seen is None or (moment is not None and moment > seen) else seen
    return dict(sorted(newest.items()))


def score_history(coin: Coin) -> list[UnifiedScore]:
    """The coin's last HISTORY_LENGTH unified scores, oldest first (ready to plot)."""
    rows = (UnifiedScore.objects.filter(coin=coin).order_by("-computed_at", "-pk")
            .only("computed_at", "unified_score", "tier")[:HISTORY_LENGTH])
    return list(reversed(rows))
