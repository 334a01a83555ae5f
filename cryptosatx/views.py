"""Pages that join the apps: a coin's scores, its unified score and its recent signals. They read
through the same query functions as the API (cryptosatx.api.queries), so the two cannot disagree."""
import httpx
from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render

from signals.models import Signal

from .api import queries
from .api.constants import RESULT_SCANNERS, TIERS
from .api.params import RankingParams


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


def ranking_page(request):
    """The unified ranking, filtered like the API (same validation: a bad filter is shown, not a 500)."""
    params = RankingParams(data={k: v for k, v in request.GET.items() if k in ("tier", "min_score", "scanner") and v})
    errors = {} if params.is_valid() else params.errors
    filters = params.validated_data if not errors else {}
    rows = queries.ranking(filters.get("tier"), filters.get("min_score"), filters.get("scanner"))
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    summary = queries.ranking_summary()
    return render(request, "ranking.html", {
        "page": page, "start": (page.number - 1) * 50, "summary": summary, "errors": errors,
        "tiers": TIERS, "scanners": RESULT_SCANNERS, "current": request.GET,
        "query": "&".join(f"{k}={v}" for k, v in request.GET.items() if k != "page" and v),
    })


def telegram_inbox(request):
    """What the simulator's Telegram received: the alerts and summaries as a chat would show them.
    Only when Telegram is the simulator; a real chat is read in Telegram itself."""
    simulated = settings.TELEGRAM_API_URL.rstrip("/") == f"{settings.SIMULATOR_URL.rstrip('/')}/telegram"
    messages, error = [], ""
    if simulated:
        try:
            response = httpx.get(f"{settings.SIMULATOR_URL.rstrip('/')}/sim/telegram/messages", timeout=5)
            response.raise_for_status()
            messages = list(reversed(response.json()))[:200]
        except (httpx.HTTPError, ValueError) as exc:
            error = f"The simulator did not answer ({type(exc).__name__}); is it running (make run)?"
    return render(request, "telegram_inbox.html", {"simulated": simulated, "messages": messages, "error": error})
