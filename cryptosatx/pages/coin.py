"""/coins/<symbol>: the price with the coin's signals marked, its unified score over time, the
latest score as a waterfall of weighted components, each source's freshness, and its signals."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Max
from django.http import Http404
from django.shortcuts import render

from marketdata.models import Candle, DataSource
from signals.models import Signal
from signals.unified import SCALE

from ..api import queries
from .common import can_add_trades, outcome_summary

PRICE_INTERVAL = "1h"
PRICE_WINDOW = timedelta(days=7)
SIGNALS_SHOWN = 20


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def price_chart(coin, signals: list[Signal]) -> dict[str, Any]:
    """Closes of the last week's hourly candles, and the signals inside that window at their entry."""
    newest = Candle.objects.filter(coin=coin, interval=PRICE_INTERVAL).aggregate(t=Max("open_time"))["t"]
    if newest is None:
        return {"candles": [], "signals": []}
    rows = (Candle.objects.filter(coin=coin, interval=PRICE_INTERVAL, open_time__gt=newest - PRICE_WINDOW)
            .order_by("open_time").values_list("close_time", "close"))
    candles = [[ms(t), close] for t, close in rows]
    first = candles[0][0]
    marked = [{"t": ms(s.candle_close_time), "price": s.entry_price, "direction": s.direction,
               "label": f"Tier {s.tier} {s.scanner} {s.kind} ({s.direction})"}
              for s in signals if s.entry_price is not None and ms(s.candle_close_time) >= first]
    return {"interval": PRICE_INTERVAL, "candles": candles, "signals": marked}


def waterfall(unified) -> dict[str, Any]:
    """Each measured component's points stacked from 0 up to the unified score; the points sum to
    the score before its rounding to 0.1, so the last bar is the stored score itself."""
    if unified is None or unified.unified_score is None:
        return {"labels": [], "bars": [], "points": [], "total": None}
    labels, bars, points, level = [], [], [], 0.0
    stored = unified.breakdown if isinstance(unified.breakdown, dict) else {}
    for name in [*SCALE, *sorted(set(stored) - set(SCALE))]:  # jsonb does not keep key order
        part = stored.get(name)
        value = part.get("points") if isinstance(part, dict) else None
        if not isinstance(value, (int, float)):
            continue
        labels.append(name)
        bars.append([round(level, 2), round(level + value, 2)])
        points.append(value)
        level += value
    labels.append("unified score")
    bars.append([0, unified.unified_score])
    points.append(unified.unified_score)
    return {"labels": labels, "bars": bars, "points": points, "total": unified.unified_score}


def component_order(item: tuple[str, Any]) -> tuple[int, str]:
    order = list(SCALE)
    return (order.index(item[0]) if item[0] in order else len(order), item[0])


def coin_page(request, symbol: str):
    coin = queries.find_coin(symbol)
    if coin is None:
        raise Http404(f"Unknown symbol: {symbol.upper()}")
    results = queries.latest_results(coin)
    unified = queries.latest_unified(coin)
    history = queries.score_history(coin)
    signals = list(Signal.objects.filter(coin=coin).prefetch_related("outcomes")
                   .order_by("-created_at")[:SIGNALS_SHOWN])
    for s in signals:
        s.outcomes_so_far = outcome_summary(s.outcomes.all())
    candle_ages = (Candle.objects.filter(coin=coin).values("interval")
                   .annotate(newest=Max("close_time"), n=Count("pk")).order_by("interval"))
    return render(request, "coin.html", {
        "coin": coin, "unified": unified, "results": sorted(results.values(), key=lambda r: r.scanner),
        "history": history, "signals": signals, "can_add_trades": can_add_trades(),
        "breakdown": sorted((unified.breakdown or {}).items(), key=component_order) if unified else [],
        "sources": list(DataSource.objects.order_by("name")), "candle_ages": list(candle_ages),
        "price_data": price_chart(coin, signals),
        "history_data": {"points": [[ms(h.computed_at), h.unified_score] for h in history]},
        "waterfall_data": waterfall(unified),
    })
