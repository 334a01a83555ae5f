"""django-q2 entry point: thin, re-reads settings, then creates missing outcomes and evaluates the due ones."""
from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from .outcomes import ensure_all_outcomes, evaluate_due


def evaluate_outcomes(now: datetime | None = None) -> dict:
    if not settings.AUTO_OUTCOME_TRACKING:
        return {"skipped": "AUTO_OUTCOME_TRACKING is false"}
    now = now or timezone.now()
    created = ensure_all_outcomes()
    return {"created": created, **evaluate_due(now)}
