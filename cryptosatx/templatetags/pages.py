"""Small template helpers the dashboard pages share."""
from __future__ import annotations

import math
from datetime import datetime

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

register = template.Library()


@register.simple_tag
def first_url(*names: str) -> str:
    """The first URL name that resolves: lets base.html link to /login before that route exists
    (falls back to the admin's) without a template error."""
    for name in names:
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return ""


@register.filter
def age(moment: datetime | None) -> str:
    """How long ago, compactly (“3 min”, “2.5 h”, “4 d”); “never” for None."""
    if moment is None:
        return "never"
    seconds = (timezone.now() - moment).total_seconds()
    if seconds < 0:
        return "in the future"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} d"


@register.filter
def price(value: float | None) -> str:
    """A price to six significant digits, at least two decimals: 97123.45, 1.23457, 0.0000123457."""
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return "—"
    if value == 0:
        return "0.00"
    decimals = max(2, 5 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}"
