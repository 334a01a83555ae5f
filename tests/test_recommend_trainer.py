"""The recommender: time-ordered split with a purge, refusal below the floor, AUC on held-out signals."""
import random
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from recommend import trainer
from recommend.models import RecommenderModel
from recommend.trainer import MIN_TEST, MIN_TRAIN, Row, fit, load, matrix, time_split

T0 = datetime(2025, 9, 1, tzinfo=timezone.utc)


def rows(n: int, label, *, per_candle: int = 1, seed: int = 7) -> list[Row]:
    """n signals, `per_candle` per hourly candle, features x (uniform) and noise; label(x, i, rng) → WIN?"""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        x = rng.random()
        out.append(Row(signal_id=i + 1, at=T0 + timedelta(hours=i // per_candle),
                       features={"x": x, "noise": rng.random(), "scanner=mss": float(i % 2)}, win=label(x, i, rng)))
    rng.shuffle(out)  # the split must order them itself
    return out


def test_no_test_signal_is_older_than_any_training_signal_and_the_gap_covers_the_horizon():
    split = time_split(rows(400, lambda x, i, r: x > 0.5, per_candle=3))
    assert split.train and split.test
    assert max(r.at for r in split.train) < min(r.at for r in split.test)
    # training labels were all known (due) by the time the first test signal's candle closed
    assert max(r.at for r in split.train) + timedelta(hours=24) <= min(r.at for r in split.test)
    assert len(split.purged) == 23 * 3  # candles closing less than 24h before the first test candle, 3 each
    assert len(split.test) == 100  # the newest quarter: 400 × 0.25
    test_times = {r.at for r in split.test}
    assert not any(r.at in test_times for r in split.train + split.purged)  # a candle stays on one side
    assert [r.at for r in split.train] == sorted(r.at for r in split.train)


def test_it_refuses_below_the_floor_and_says_why():
    record = fit(rows(150, lambda x, i, r: x > 0.5))
    assert record.status == RecommenderModel.REFUSED and record.blob is None and record.auc is None
    assert f"need {MIN_TRAIN}" in record.reason and "predicts nothing" in record.reason
    assert record.n_labelled == 150 and record.n_test == MIN_TEST
    assert load(record) is None


def test_it_refuses_when_one_side_has_a_single_class():
    record = fit(rows(600, lambda x, i, r: i >= 470))  # every WIN is in the newest signals
    assert record.status == RecommenderModel.REFUSED
    assert "training signals are all non-WIN" in record.reason


def test_a_feature_that_decides_the_outcome_gives_an_auc_near_1_on_held_out_signals():
    record = fit(rows(600, lambda x, i, r: x > 0.6))
    assert record.status == RecommenderModel.TRAINED
    assert (record.n_test, record.n_train) == (150, 600 - 150 - 23)
    assert record.auc > 0.97 and record.better_than_base_rate
    model, names = load(record)
    assert names == ["noise", "scanner=mss", "x"]
    test = sorted(rows(600, lambda x, i, r: x > 0.6), key=lambda r: r.at)[-150:]
    assert record.base_rate == pytest.approx(np.mean([r.win for r in test]))
    # the stored AUC is exactly the held-out one
    proba = model.predict_proba(matrix([r.features for r in test], names))[:, 1]
    assert record.auc == pytest.approx(roc_auc_score([r.win for r in test], proba))
    assert record.brier < record.brier_base


def test_a_random_label_gives_about_05_and_is_called_no_better_than_the_base_rate():
    data = rows(800, lambda x, i, r: r.random() < 0.3, seed=11)
    record = fit(data)
    assert record.status == RecommenderModel.TRAINED
    assert 0.38 < record.auc < 0.62
    assert record.auc_low < 0.5 < record.auc_high and not record.better_than_base_rate
    test = sorted(data, key=lambda r: r.at)[-record.n_test:]
    assert record.base_rate == pytest.approx(sum(r.win for r in test) / len(test))
    assert 0.15 < record.base_rate < 0.45


def test_the_auc_is_measured_on_newer_signals_not_the_training_ones():
    """x predicts WIN in the older signals and LOSS in the newer: fitted on the old, the model's AUC on
    the held-out new ones is near 0, while on its own training rows it is near 1."""
    data = rows(600, lambda x, i, r: (x > 0.5) if i < 450 else (x <= 0.5))
    record = fit(data)
    model, names = load(record)
    train = sorted(data, key=lambda r: r.at)[:record.n_train]
    in_sample = roc_auc_score([r.win for r in train],
                              model.predict_proba(matrix([r.features for r in train], names))[:, 1])
    assert in_sample > 0.97 and record.auc < 0.05


def test_rare_features_are_dropped_and_missing_ones_stay_missing():
    data = rows(400, lambda x, i, r: x > 0.5)
    for r in data[:5]:
        r.features["rare"] = 1.0
    names = trainer.feature_names(time_split(data).train)
    assert "rare" not in names
    m = matrix([{"x": 0.3}], ["noise", "x"])
    assert np.isnan(m[0, 0]) and m[0, 1] == 0.3
