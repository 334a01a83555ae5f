"""/ranking: the unified ranking, filtered like the API (same validation), sortable, refreshed in
place by htmx. An htmx request (header HX-Request) gets only the results partial."""
from __future__ import annotations

from django.db.models import F
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from ..api import queries
from ..api.constants import RESULT_SCANNERS, TIERS
from ..api.params import RankingParams
from .common import query_without

PER_PAGE = 50
FILTERS = ("tier", "min_score", "scanner")
# sort name → the column; ties always fall back to the symbol so pages are stable.
SORTS = {"score": "unified_score", "symbol": "coin__symbol", "tier": "tier", "confidence": "confidence",
         "confirmations": "confirmations", "coverage": "coverage", "updated": "computed_at"}
DEFAULT_SORT = "-score"
COLUMNS = [("symbol", "Symbol"), ("score", "Score"), ("tier", "Tier"), (None, "Action"), ("confidence", "Confidence"),
           ("confirmations", "Agreeing"), ("coverage", "Coverage"), (None, "Risk"), ("updated", "Updated")]


def parse_sort(value: str | None) -> tuple[str, bool, str]:
    """(sort name, descending, error): an unknown sort is reported and the default used."""
    text = (value or DEFAULT_SORT).strip()
    name, descending = text.removeprefix("-"), text.startswith("-")
    if name not in SORTS:
        allowed = ", ".join(SORTS)
        return DEFAULT_SORT[1:], True, f"sort: Must be one of: {allowed} (prefix - for descending)."
    return name, descending, ""


def next_sort(key: str | None, sort: str, descending: bool) -> str:
    """A column header's link: the active column flips direction; another starts at its natural
    direction (symbols A→Z, numbers highest first)."""
    if key is None:
        return ""
    if key == sort:
        return key if descending else f"-{key}"
    return key if key in ("symbol", "tier") else f"-{key}"


def ordered(rows, name: str, descending: bool):
    column = F(SORTS[name])
    first = column.desc(nulls_last=True) if descending else column.asc(nulls_last=True)
    return rows.order_by(first, "coin__symbol")


def validate_filters(get) -> tuple[dict, dict]:
    """(filters, errors): valid filters still apply when another one is bad."""
    data = {k: v for k, v in get.items() if k in FILTERS and v}
    params = RankingParams(data=data)
    if params.is_valid():
        return params.validated_data, {}
    errors = dict(params.errors)
    rest = RankingParams(data={k: v for k, v in data.items() if k not in errors})
    return (rest.validated_data if rest.is_valid() else {}), errors


def ranking_page(request):
    filters, errors = validate_filters(request.GET)
    sort, descending, sort_error = parse_sort(request.GET.get("sort"))
    if sort_error:
        errors["sort"] = [sort_error.split(": ", 1)[1]]
    rows = ordered(queries.ranking(filters.get("tier"), filters.get("min_score"), filters.get("scanner")),
                   sort, descending)
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    filter_query = query_without(request.GET, "page", "sort")
    columns = [{"key": key, "label": label, "active": key == sort, "next": next_sort(key, sort, descending)}
               for key, label in COLUMNS]
    context = {
        "page": page, "start": (page.number - 1) * PER_PAGE, "summary": queries.ranking_summary(),
        "errors": errors, "tiers": TIERS, "scanners": RESULT_SCANNERS, "current": request.GET,
        "sort": sort, "descending": descending, "columns": columns, "filter_query": filter_query,
        "page_query": query_without(request.GET, "page"), "refreshed_at": timezone.now(),
        "partial": request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true",
    }
    template = "partials/ranking_results.html" if context["partial"] else "ranking.html"
    # 200 even with a bad parameter: the page explains it, and htmx swaps only 2xx answers.
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response
