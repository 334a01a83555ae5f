"""Pages that join the apps: a coin's scores, its unified score and its recent signals. They read
through the same query functions as the API (cryptosatx.api.queries), so the two cannot disagree."""
from django.http import Http404
from django.shortcuts import render

from signals.models import Signal

from .api import queries


def coin_page(request, symbol: str):
    coin = queries.find_coin(symbol)
    if coin is None:
        raise Http404(f"Unknown symbol: {symbol.upper()}")
    results = queries.latest_results(coin)
    unified = queries.latest_unified(coin)
    signals = Signal.objects.filter(coin=coin).order_by("-created_at")[:20]
    return render(request, "coin.html", {
        "coin": coin, "unified": unified, "results": sorted(results.values(), key=lambda r: r.scanner),
        "history": queries.score_history(coin), "signals": signals,
        "breakdown": sorted((unified.breakdown or {}).items()) if unified else [],
    })
