"""django-q2 entry point: thin, re-reads settings, then creates missing outcomes, evaluates the due ones and
recomputes the shared analytics."""
from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from .outcomes import ensure_all_outcomes, evaluate_due
from .queries import refresh


def evaluate_outcomes(now: datetime | None = None) -> dict:
    if not settings.AUTO_OUTCOME_TRACKING:
        return {"skipped": "AUTO_OUTCOME_TRACKING is false"}
    now = now or timezone.now()
    created = ensure_all_outcomes()
    evaluated = evaluate_due(now)
    # The shared win rates and tier records, so that no API request pays for them (performance.queries).
    return {"created": created, **evaluated, "refreshed_seconds": refresh()}
