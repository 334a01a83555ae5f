"""Limit/offset pages. DRF's LimitOffsetPagination silently clamps bad values; we validate them
first (params.PageParams) and only then slice, so a bad `limit` is a 400, not a surprise."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.utils.urls import remove_query_param, replace_query_param


@dataclass
class Page:
    count: int
    next: str | None
    previous: str | None
    results: list[Any]


def paginate(request: Request, queryset: QuerySet, *, limit: int, offset: int) -> Page:
    count = queryset.count()
    # Past the end there is nothing to fetch; skipping the query also keeps a huge offset away from
    # the database (SQLite cannot bind integers over 2**63).
    results = list(queryset[offset:offset + limit]) if offset < count else []
    url = replace_query_param(request.build_absolute_uri(), "limit", limit)
    next_url = replace_query_param(url, "offset", offset + limit) if offset + limit < count else None
    previous_url = None
    if offset > 0:
        # From past the end, "previous" is the last page that has rows.
        previous_offset = min(offset - limit, count - limit)
        previous_url = (replace_query_param(url, "offset", previous_offset) if previous_offset > 0
                        else remove_query_param(url, "offset"))
    return Page(count, next_url, previous_url, results)
