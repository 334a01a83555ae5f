"""/scans: every ScanRun, newest first, with its timing, requests, coverage and errors; partial and
failed runs are flagged. Filters and their validation are the API's (/api/scans)."""
from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.shortcuts import render

from scanners.models import ScanRun

from ..api.constants import LIST_ERRORS, RUN_SCANNERS, RUN_STATUSES
from ..api.params import ScanListParams
from .common import query_without

PER_PAGE = 25


def request_totals(requests: Any) -> list[dict[str, Any]]:
    """[{service, requests, weight, errors}] from ScanRun.requests; anything malformed is skipped."""
    if not isinstance(requests, dict):
        return []
    rows = []
    for service, stats in sorted(requests.items()):
        if isinstance(stats, dict):
            rows.append({"service": service, **{k: stats.get(k) for k in ("requests", "weight", "errors")}})
    return rows


def scans_page(request):
    data = {k: v for k, v in request.GET.items() if k in ("scanner", "status") and v}
    params = ScanListParams(data=data)
    errors = {} if params.is_valid() else dict(params.errors)
    filters = {k: v for k, v in data.items() if k not in errors}
    rows = ScanRun.objects.filter(**filters).order_by("-started_at", "-pk")
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    for run in page.object_list:
        run.request_rows = request_totals(run.requests)
        run.error_list = run.errors if isinstance(run.errors, list) else []
        run.first_errors = run.error_list[:LIST_ERRORS]
    return render(request, "scans/list.html", {
        "page": page, "runs": page.object_list, "errors": errors, "current": request.GET,
        "scanners": RUN_SCANNERS, "statuses": RUN_STATUSES, "page_query": query_without(request.GET, "page"),
        "filtered": bool(data),
    })
