"""Train the recommender: signal features at signal time → WIN at 24h (SCORING.md §8), split by time.

The newest TEST_SHARE of labelled signals (at least MIN_TEST) is held out; the model is fitted on the
older ones only, and training signals whose 24h outcome was not yet known when the test period began
are purged (their labels would reach into it). Below MIN_TRAIN / MIN_TEST, or without both WINs and
non-WINs on each side, it refuses: it stores why and predicts nothing. The model that predicts is the
one measured (fitted on the training part), so the AUC shown is the AUC of what you see."""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import joblib
import numpy as np
from django.utils import timezone

from performance.models import HORIZONS, SignalOutcome

from .features import signal_features
from .models import RecommenderModel

HORIZON = "24h"
MIN_TRAIN, MIN_TEST, TEST_SHARE = 200, 50, 0.25
MIN_FEATURE_SHARE = 0.05  # a feature present in fewer training rows is noise
MAX_FEATURES = 200


@dataclass
class Row:
    signal_id: int
    at: datetime  # the signal's candle close time
    features: dict[str, float]
    win: bool


@dataclass
class Split:
    train: list[Row]
    test: list[Row]
    purged: list[Row] = field(default_factory=list)


def time_split(rows: list[Row], horizon: timedelta = HORIZONS[HORIZON]) -> Split:
    """Oldest → train, newest → test; signals of the same candle stay on one side; training rows whose
    outcome was due after the first test signal's candle are purged."""
    rows = sorted(rows, key=lambda r: (r.at, r.signal_id))
    if not rows:
        return Split([], [])
    n_test = min(len(rows), max(MIN_TEST, math.ceil(TEST_SHARE * len(rows))))
    boundary = rows[len(rows) - n_test].at
    test = [r for r in rows if r.at >= boundary]
    older = [r for r in rows if r.at < boundary]
    return Split(train=[r for r in older if r.at + horizon <= boundary],
                 test=test, purged=[r for r in older if r.at + horizon > boundary])


def refusal(split: Split) -> str | None:
    """Why this split is too small to measure anything, or None."""
    problems = []
    if len(split.train) < MIN_TRAIN:
        problems.append(f"{len(split.train)} training signals (need {MIN_TRAIN})")
    if len(split.test) < MIN_TEST:
        problems.append(f"{len(split.test)} test signals (need {MIN_TEST})")
    for name, part in (("training", split.train), ("test", split.test)):
        wins = sum(r.win for r in part)
        if part and (wins == 0 or wins == len(part)):
            problems.append(f"the {name} signals are all {'WIN' if wins else 'non-WIN'} (need both)")
    if not problems:
        return None
    return ("Not enough labelled 24h outcomes to train and test a model: " + "; ".join(problems) +
            ". It predicts nothing until there are more.")


def feature_names(rows: list[Row]) -> list[str]:
    counts: dict[str, int] = {}
    for r in rows:
        for name in r.features:
            counts[name] = counts.get(name, 0) + 1
    keep = [n for n, c in counts.items() if c >= MIN_FEATURE_SHARE * len(rows)]
    return sorted(sorted(keep, key=lambda n: -counts[n])[:MAX_FEATURES])


def matrix(feature_dicts: list[dict[str, float]], names: list[str]) -> np.ndarray:
    """Missing features are NaN (the classifier handles them), never 0."""
    return np.array([[d.get(n, np.nan) for n in names] for d in feature_dicts], dtype=float).reshape(-1, len(names))


def make_classifier():
    from sklearn.ensemble import HistGradientBoostingClassifier

    # No early stopping: it would hold out a random (shuffled) part of the training rows.
    return HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, max_depth=3, min_samples_leaf=20,
                                          l2_regularization=1.0, early_stopping=False, random_state=0)


def auc_interval(auc: float, n_pos: int, n_neg: int) -> tuple[float, float]:
    """95% interval from the Hanley–McNeil (1982) standard error."""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (n_pos * n_neg)
    se = math.sqrt(max(var, 0.0))
    return max(0.0, auc - 1.96 * se), min(1.0, auc + 1.96 * se)


def fit(rows: list[Row], now: datetime | None = None) -> RecommenderModel:
    """Split, fit on the older part, measure on the newer; an unsaved RecommenderModel either way."""
    from sklearn.metrics import roc_auc_score

    split = time_split(rows)
    record = RecommenderModel(trained_at=now or timezone.now(), horizon=HORIZON, n_labelled=len(rows),
                              n_train=len(split.train), n_test=len(split.test), n_purged=len(split.purged))
    if split.train:
        record.train_from, record.train_until = split.train[0].at, split.train[-1].at
    if split.test:
        record.test_from, record.test_until = split.test[0].at, split.test[-1].at
    reason = refusal(split)
    if reason:
        record.status, record.reason = RecommenderModel.REFUSED, reason
        return record
    names = feature_names(split.train)
    y_train = np.array([r.win for r in split.train], dtype=int)
    y_test = np.array([r.win for r in split.test], dtype=int)
    model = make_classifier().fit(matrix([r.features for r in split.train], names), y_train)
    proba = model.predict_proba(matrix([r.features for r in split.test], names))[:, 1]
    record.status = RecommenderModel.TRAINED
    record.auc = float(roc_auc_score(y_test, proba))
    record.auc_low, record.auc_high = auc_interval(record.auc, int(y_test.sum()), int(len(y_test) - y_test.sum()))
    record.base_rate, record.train_base_rate = float(y_test.mean()), float(y_train.mean())
    record.brier = float(np.mean((proba - y_test) ** 2))
    record.brier_base = float(np.mean((record.train_base_rate - y_test) ** 2))
    record.features = names
    buffer = io.BytesIO()
    joblib.dump({"model": model, "features": names}, buffer)
    record.blob = buffer.getvalue()
    return record


def labelled_rows() -> list[Row]:
    """Every signal with an evaluated 24h outcome: WIN vs LOSS or NEUTRAL."""
    outcomes = (SignalOutcome.objects.filter(horizon=HORIZON, status=SignalOutcome.EVALUATED)
                .exclude(outcome="").select_related("signal", "signal__coin"))
    return [Row(o.signal_id, o.signal.candle_close_time, signal_features(o.signal), o.outcome == SignalOutcome.WIN)
            for o in outcomes.iterator(chunk_size=2000)]


KEEP_BLOBS = 5  # older trainings keep their metrics (the history of the AUC) but drop the ~100 kB model


def train_and_store(now: datetime | None = None) -> RecommenderModel:
    record = fit(labelled_rows(), now)
    record.save()
    keep = RecommenderModel.objects.filter(blob__isnull=False).order_by("-trained_at", "-id")[:KEEP_BLOBS]
    RecommenderModel.objects.filter(blob__isnull=False).exclude(pk__in=list(keep.values_list("pk", flat=True))
                                                                ).update(blob=None)
    return record


def load(record: RecommenderModel):
    """(classifier, feature names) of a trained record, or None when it cannot be read."""
    if record.status != RecommenderModel.TRAINED or not record.blob:
        return None
    try:
        stored = joblib.load(io.BytesIO(bytes(record.blob)))
        return stored["model"], stored["features"]
    except Exception:  # a blob from another scikit-learn version: retrain rather than fail the page
        return None
