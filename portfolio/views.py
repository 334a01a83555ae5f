"""/portfolio: the signed-in user's trades, totals and forms. Another user's trade is a 404."""
from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.db import transaction
from django.urls import reverse
from django.views.decorators.http import require_POST

from marketdata.models import Coin
from signals.models import Signal

from . import trades as ops
from .forms import CloseForm, FromSignalForm, TradeForm
from .models import DEFAULT_TRADE_QUOTE, Trade
from .valuation import performance, value_trades


def _page(request, *, form: TradeForm | None = None, close_forms: dict | None = None, status: int = 200):
    trades = list(Trade.objects.filter(owner=request.user).select_related("coin", "signal"))
    rows = value_trades(trades)
    close_forms = close_forms or {}
    open_rows = [(r, close_forms.get(r.trade.pk) or CloseForm(prefix=f"t{r.trade.pk}"))
                 for r in rows if r.trade.status == Trade.OPEN]
    return render(request, "portfolio/portfolio.html", {
        "open_rows": open_rows, "closed_rows": [r for r in rows if r.trade.status == Trade.CLOSED],
        "totals": performance(trades), "form": form or TradeForm(), "default_quote": DEFAULT_TRADE_QUOTE,
        "symbols": Coin.objects.filter(active=True).values_list("symbol", flat=True)[:2000],
    }, status=status)


@login_required
def portfolio_page(request):
    if request.method == "POST":
        form = TradeForm(request.POST)
        if form.is_valid():
            trade = form.save(commit=False)
            trade.owner = request.user
            trade.save()
            messages.success(request, f"Added a {trade.side} trade of {trade.quantity:g} {trade.coin.symbol}.")
            return redirect("portfolio")
        return _page(request, form=form, status=400)
    return _page(request)


@login_required
@require_POST
def close_trade(request, pk: int):
    trade = get_object_or_404(Trade.objects.filter(owner=request.user).select_related("coin"), pk=pk)
    form = CloseForm(request.POST, prefix=f"t{pk}")
    if form.is_valid():
        try:
            data = form.cleaned_data
            ops.close(trade, exit_price=data["exit_price"], exit_fee=data["exit_fee"], closed_at=data["closed_at"])
        except ValidationError as exc:
            for field, errs in ops.field_errors(exc).items():
                form.add_error(field if field in form.fields else None, errs)
        else:
            messages.success(request, f"Closed the {trade.coin.symbol} trade at {trade.exit_price:g}.")
            return redirect("portfolio")
    return _page(request, close_forms={pk: form}, status=400)


@login_required
@require_POST
def delete_trade(request, pk: int):
    trade = get_object_or_404(Trade.objects.filter(owner=request.user).select_related("coin"), pk=pk)
    trade.delete()
    messages.success(request, f"Deleted the {trade.coin.symbol} trade.")
    return redirect("portfolio")


DOUBLE_SUBMIT_WINDOW = timedelta(seconds=10)


class _AlreadyAdded(Exception):
    pass


@require_POST
def trade_from_signal(request, signal_id: int):
    """The one-click "Add trade" button of the signals feed and the coin page. Signed out, the click
    leads to the login page and then to /portfolio (a POST cannot be replayed after a login)."""
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("portfolio"))
    signal = get_object_or_404(Signal.objects.select_related("coin"), pk=signal_id)
    form = FromSignalForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not added: " + " ".join(m for errs in form.errors.values() for m in errs))
        return redirect("portfolio")
    try:
        with transaction.atomic():
            trade = ops.from_signal(request.user, signal, quantity=form.cleaned_data["quantity"])
            # A double click (or a resubmitted form) posts twice within moments: keep one trade.
            if Trade.objects.filter(owner=request.user, signal=signal, created_at__gte=trade.created_at
                                    - DOUBLE_SUBMIT_WINDOW).exclude(pk=trade.pk).exists():
                raise _AlreadyAdded
    except _AlreadyAdded:
        messages.info(request, f"Already added: the {signal.coin.symbol} trade from this signal a moment ago.")
        return redirect("portfolio")
    except ValidationError as exc:
        detail = " ".join(f"{f.replace('_', ' ')}: {' '.join(m)}" for f, m in ops.field_errors(exc).items())
        messages.error(request, f"Not added ({signal.coin.symbol}): {detail}")
        return redirect("portfolio")
    messages.success(request, f"Added a {trade.side} trade of {trade.quantity:g} {trade.coin.symbol} at "
                              f"{trade.entry_price:g} from the signal.")
    return redirect("portfolio")
