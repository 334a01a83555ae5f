"""django-q2 entry point (schedule "recommend: train recommender", every 6 hours; editable in admin)."""
from __future__ import annotations

from .trainer import train_and_store


def train_recommender() -> dict:
    record = train_and_store()
    return {"id": record.pk, "status": record.status, "n_train": record.n_train, "n_test": record.n_test,
            "auc": record.auc, "base_rate": record.base_rate, "reason": record.reason}
