"""/signals: every recorded signal, newest first, filtered by coin, scanner, tier and direction, with
its outcome so far (SignalOutcome) and an "Add trade" button once the portfolio takes trades."""
from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.shortcuts import render

from signals.models import DIRECTION_CHOICES, SCANNER_CHOICES, TIER_CHOICES, Signal

from .common import can_add_trades, outcome_summary, query_without

PER_PAGE = 25


class SignalFilters(forms.Form):
    symbol = forms.CharField(required=False, max_length=32, label="Coin")
    scanner = forms.ChoiceField(required=False, choices=[("", "any"), *SCANNER_CHOICES])
    tier = forms.TypedChoiceField(required=False, coerce=int, empty_value=None,
                                  choices=[("", "any"), *[(t, f"Tier {t}") for t, _ in TIER_CHOICES]])
    direction = forms.ChoiceField(required=False, choices=[("", "any"), *DIRECTION_CHOICES])


def signals_page(request):
    form = SignalFilters(request.GET)
    rows = Signal.objects.select_related("coin").prefetch_related("outcomes").order_by("-created_at", "-pk")
    form.is_valid()  # a bad filter is shown next to its field; cleaned_data keeps only the good ones
    for name, value in form.cleaned_data.items():
        if value in (None, ""):
            continue
        rows = rows.filter(coin__symbol__iexact=value.strip()) if name == "symbol" else rows.filter(**{name: value})
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    for s in page.object_list:
        s.outcomes_so_far = outcome_summary(s.outcomes.all())
    filtered = any(request.GET.get(n) for n in form.fields)
    return render(request, "signals/list.html", {
        "form": form, "page": page, "signals": page.object_list, "filtered": filtered,
        "can_add_trades": can_add_trades(), "page_query": query_without(request.GET, "page"),
        "none_at_all": not page.object_list and not Signal.objects.exists(),
    })
