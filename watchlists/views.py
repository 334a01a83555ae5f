"""Watchlist pages. Forms are validated by the API's serializers, so a page accepts and refuses
exactly what the API does; another user's watchlist is a 404 here too."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from cryptosatx.api import queries
from scanners.models import ScanRun
from signals.models import AlertDelivery, Signal

from .api import MAX_ID, own_watchlists
from .models import MAX_COINS, MAX_INTERVAL, MIN_INTERVAL, Watchlist
from .scanning import scan_watchlist, seconds_until_allowed
from .schedules import schedule_of
from .serializers import CoinsSerializer, WatchlistSerializer

SIGNALS_SHOWN = 20


def _own(request, pk: int) -> Watchlist:
    watchlist = own_watchlists(request.user).filter(pk=pk).first() if pk <= MAX_ID else None
    if watchlist is None:
        raise Http404(f"Unknown watchlist: {pk}")
    return watchlist


@login_required
def watchlist_list(request):
    errors, values = {}, {}
    if request.method == "POST":
        serializer = WatchlistSerializer(data=request.POST, context={"owner": request.user})
        if serializer.is_valid():
            watchlist = serializer.save()
            messages.success(request, f"Watchlist {watchlist.name!r} created.")
            return redirect("watchlist", watchlist.pk)
        errors, values = serializer.errors, request.POST
    rows = own_watchlists(request.user).annotate(coin_count=Count("coins"))
    return render(request, "watchlists/list.html", {"watchlists": rows, "errors": errors, "values": values,
                                                     "max_coins": MAX_COINS}, status=400 if errors else 200)


def _detail(request, watchlist: Watchlist, *, errors=None, values=None, status: int = 200):
    coins = list(watchlist.coins.all())
    scores = {u.coin_id: u for u in queries.ranking().filter(coin_id__in=[c.pk for c in coins])}
    rows = sorted(((c, scores.get(c.pk)) for c in coins),
                  key=lambda row: (row[1] is None or row[1].unified_score is None,
                                   -(row[1].unified_score or 0) if row[1] else 0, row[0].symbol))
    own = AlertDelivery.objects.filter(recipient__user=request.user)
    signals = (Signal.objects.filter(coin__in=coins).select_related("coin").order_by("-created_at", "-pk")
               .defer("inputs", "scores", "missing")[:SIGNALS_SHOWN])
    delivered = {d.signal_id: d for d in own.filter(signal__in=[s.pk for s in signals])}
    return render(request, "watchlists/detail.html", {
        "watchlist": watchlist, "rows": rows, "signals": [(s, delivered.get(s.pk)) for s in signals],
        "schedule": schedule_of(watchlist), "errors": errors or {}, "values": values or {},
        "min_interval": MIN_INTERVAL, "max_interval": MAX_INTERVAL, "max_coins": MAX_COINS,
    }, status=status)


@login_required
def watchlist_detail(request, pk: int):
    """GET shows the watchlist; POST saves its settings (name, alerts, schedule)."""
    watchlist = _own(request, pk)
    if request.method != "POST":
        return _detail(request, watchlist)
    # Built by hand: an unticked checkbox is simply absent from the form, which must mean false.
    data = {"name": request.POST.get("name", ""), "alerts_enabled": "alerts_enabled" in request.POST,
            "scan_interval_minutes": request.POST.get("scan_interval_minutes", "").strip() or None}
    serializer = WatchlistSerializer(watchlist, data=data, partial=True, context={"owner": request.user})
    if not serializer.is_valid():
        return _detail(request, _own(request, pk), errors=serializer.errors, values=request.POST, status=400)
    serializer.save()
    messages.success(request, "Settings saved.")
    return redirect("watchlist", pk)


@login_required
@require_POST
def add_coins(request, pk: int):
    watchlist = _own(request, pk)
    serializer = CoinsSerializer(data=request.POST)
    errors = {} if serializer.is_valid() else serializer.errors
    if not errors:
        coins = {c.pk: c for c in [*watchlist.coins.all(), *serializer.validated_data["coins"]]}
        if len(coins) > MAX_COINS:
            errors = {"coins": [f"At most {MAX_COINS} coins per watchlist ({len(coins)} with these)."]}
    if errors:
        return _detail(request, watchlist, errors=errors, values=request.POST, status=400)
    existing = {c.pk for c in watchlist.coins.all()}
    added = [c.symbol for c in serializer.validated_data["coins"] if c.pk not in existing]
    WatchlistSerializer(watchlist, context={"owner": request.user}).update(watchlist, {"coins": list(coins.values())})
    messages.success(request, f"Added {', '.join(added)}." if added else "Those coins were already on the list.")
    return redirect("watchlist", pk)


@login_required
@require_POST
def remove_coin(request, pk: int):
    watchlist = _own(request, pk)
    symbol = request.POST.get("symbol", "").strip().upper()
    coin = watchlist.coins.filter(symbol=symbol).first()
    if coin is None:
        return _detail(request, watchlist, errors={"symbol": [f"{symbol or 'No symbol'} is not on this watchlist."]},
                       status=400)
    watchlist.coins.remove(coin)
    watchlist.save(update_fields=["updated_at"])
    messages.success(request, f"Removed {coin.symbol}.")
    return redirect("watchlist", pk)


@login_required
@require_POST
def scan_now(request, pk: int):
    watchlist = _own(request, pk)
    wait = seconds_until_allowed(request.user.pk)
    if wait:
        return _detail(request, watchlist, errors={"scan": [f"Too many scans: try again in {wait} s."]}, status=429)
    result = scan_watchlist(watchlist)
    if result.run is None:
        messages.warning(request, "Nothing to scan: add coins first.")
    else:
        run = result.run
        summary = f"Scan #{run.pk} {run.status}: {run.scored} of {run.universe_size} coins scored"
        if run.errors:
            summary += f"; {len(run.errors)} error(s), the first: {run.errors[0].get('error', '?')}"
        (messages.error if run.status == ScanRun.FAILED else messages.success)(request, summary + ".")
    if result.not_trading:
        messages.warning(request, f"No longer listed by the exchange, not scanned: {', '.join(result.not_trading)}.")
    return redirect("watchlist", pk)


@login_required
@require_POST
def delete_watchlist(request, pk: int):
    watchlist = _own(request, pk)
    watchlist.delete()
    messages.success(request, f"Watchlist {watchlist.name!r} deleted.")
    return redirect("watchlists")
