"""What several pages share: query strings for links, the "Add trade" flag, signal outcomes."""
from __future__ import annotations

from typing import Any, Iterable

from django.http import QueryDict
from django.urls import NoReverseMatch, reverse

from performance.models import HORIZONS


def query_without(params: QueryDict, *drop: str) -> str:
    """The request's GET parameters minus `drop`, url-encoded, blanks left out: the base of a
    pagination or sort link that keeps the filters."""
    kept = params.copy()
    for key in list(kept):
        if key in drop or not any(v for v in kept.getlist(key)):
            del kept[key]
    return kept.urlencode()


def can_add_trades() -> bool:
    """True once the portfolio's trade-from-signal route exists (the button posts to it)."""
    try:
        reverse("trade-from-signal", args=[1])
    except NoReverseMatch:
        return False
    return True


def outcome_summary(outcomes: Iterable[Any]) -> list[dict[str, Any]]:
    """A signal's outcomes so far, shortest horizon first: evaluated ones with their direction-aware
    return, the rest by their status. Reads prefetched rows, so it adds no query."""
    order = list(HORIZONS)
    rows = sorted(outcomes, key=lambda o: order.index(o.horizon) if o.horizon in order else len(order))
    return [{"horizon": o.horizon, "status": o.status, "outcome": o.outcome, "return_pct": o.return_pct,
             "note": o.note} for o in rows]
