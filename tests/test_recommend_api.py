"""Recommendations end to end: features as known at signal time, training from stored outcomes, the
user's own pattern, the API and the page."""
import json
import random
from datetime import datetime, timedelta, timezone as dt_timezone
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from performance.models import SignalOutcome
from portfolio.models import Trade
from recommend.features import signal_features
from recommend.models import RecommenderModel
from recommend.tasks import train_recommender
from recommend.trainer import labelled_rows, train_and_store
from signals.models import Signal
from tests.outcome_factories import T, coin, signal

pytestmark = pytest.mark.django_db
START = datetime(2025, 8, 1, tzinfo=dt_timezone.utc)


@pytest.fixture
def alice():
    return get_user_model().objects.create_user("alice", password="pw-alice-123")


@pytest.fixture
def api(alice):
    client = APIClient()
    client.force_authenticate(alice)
    return client


def history(n: int, win, *, seed: int = 3) -> None:
    """n past signals, one per hour, unified_score uniform 0–100, each with its evaluated 24h outcome."""
    rng = random.Random(seed)
    coins = [coin(f"H{i}USDT") for i in range(4)]
    signals = Signal.objects.bulk_create([
        Signal(coin=coins[i % 4], scanner="unified", kind="unified", direction="LONG", tier=2, score=None,
               unified_score=rng.uniform(0, 100), entry_price=10.0, candle_close_time=START + timedelta(hours=i))
        for i in range(n)])
    SignalOutcome.objects.bulk_create([
        SignalOutcome(signal=s, horizon="24h", due_at=s.candle_close_time + timedelta(hours=24), status="evaluated",
                      outcome="WIN" if win(s.unified_score, rng) else "LOSS", pnl_pct=1.0) for s in signals])


def test_features_use_nothing_measured_after_the_candle_close():
    c = coin("AAAUSDT")
    c.listed_at = T - timedelta(days=3)
    later, earlier = (T + timedelta(minutes=4)).isoformat(), (T - timedelta(hours=1)).isoformat()
    s = signal(c, scores={"mss": 81.0, "coverage": 0.9, "label": "x"}, missing=["fdv"], unified_score=66.0,
               inputs={"buy_pressure_pct": {"value": 61.0, "as_of": earlier},
                       "funding_pct": {"value": 0.01, "as_of": later},
                       "galaxy_score": {"value": 70, "as_of": None},
                       "last_close": {"value": 1.2, "as_of": earlier},
                       "detail": {"phases_scored": 3}})
    f = signal_features(s)
    assert f["inputs.buy_pressure_pct"] == 61.0 and f["scores.mss"] == 81.0 and f["unified_score"] == 66.0
    assert "inputs.funding_pct" not in f and "inputs.galaxy_score" not in f and "inputs.last_close" not in f
    assert "scores.label" not in f and f["n_missing"] == 1 and f["coin_age_days"] == pytest.approx(3.0)
    assert f["scanner=mss"] == 1.0 and f["scanner=rsi"] == 0.0 and f["direction_long"] == 1.0


def test_a_unified_signals_components_count_only_when_dated_by_the_candle_close():
    s = signal(coin("BBBUSDT"), scanner="unified", kind="unified",
               inputs={"rsi": {"scores": {"rsi": 28.0}, "as_of": T.isoformat()},
                       "social": {"scores": {"momentum": 70.0}, "as_of": (T + timedelta(hours=1)).isoformat()}})
    f = signal_features(s)
    assert f["inputs.rsi.rsi"] == 28.0 and "inputs.social.momentum" not in f


def test_only_evaluated_24h_outcomes_are_labels():
    s1, s2, s3 = (signal(coin(f"L{i}USDT")) for i in range(3))
    SignalOutcome.objects.create(signal=s1, horizon="24h", due_at=T, status="evaluated", outcome="NEUTRAL", pnl_pct=1)
    SignalOutcome.objects.create(signal=s2, horizon="24h", due_at=T, status="pending")
    SignalOutcome.objects.create(signal=s3, horizon="4h", due_at=T, status="evaluated", outcome="WIN", pnl_pct=9)
    assert [(r.signal_id, r.win) for r in labelled_rows()] == [(s1.pk, False)]


def test_below_the_floor_the_api_refuses_to_predict_and_says_why(api):
    history(120, lambda score, rng: score > 60)
    signal(coin("NOWUSDT"), at=timezone.now() - timedelta(hours=1))
    record = train_recommender()
    assert record["status"] == "refused" and "need 200" in record["reason"]
    body = api.get("/api/recommendations").json()
    assert body["recommended_now"] == [] and "need 200" in body["note"]
    assert body["model"]["status"] == "refused" and body["model"]["auc"] is None
    assert body["model"]["better_than_base_rate"] is False


def test_without_any_model_it_says_how_to_train_one(api):
    body = api.get("/api/recommendations").json()
    assert body["model"]["status"] == "untrained" and "train-recommender" in body["model"]["verdict"]
    assert body["recommended_now"] == []


def test_a_trained_model_ranks_current_signals_with_its_held_out_metrics(api):
    history(400, lambda score, rng: score > 60)
    out = StringIO()
    call_command("train-recommender", "--json", stdout=out)
    summary = json.loads(out.getvalue())
    assert summary["status"] == "trained" and summary["auc"] > 0.95 and summary["n_test"] == 100
    now = timezone.now()
    strong = signal(coin("UPUSDT"), scanner="unified", kind="unified", unified_score=95.0, at=now - timedelta(hours=2))
    weak = signal(coin("DOWNUSDT"), scanner="unified", kind="unified", unified_score=10.0, at=now - timedelta(hours=3))
    signal(coin("OLDUSDT"), scanner="unified", kind="unified", unified_score=99.0, at=now - timedelta(hours=30))
    body = api.get("/api/recommendations").json()
    rows = body["recommended_now"]
    assert [r["symbol"] for r in rows] == ["UPUSDT", "DOWNUSDT"]  # the 30h-old signal is no longer current
    assert rows[0]["win_probability"] > 0.8 > 0.2 > rows[1]["win_probability"]
    assert rows[0]["confidence"] == round(rows[0]["win_probability"] * 100)
    model = body["model"]
    assert model["better_than_base_rate"] and model["auc"] == pytest.approx(summary["auc"], abs=1e-4)
    assert model["n_train"] + model["n_test"] + RecommenderModel.latest().n_purged == 400
    assert strong.pk == rows[0]["signal_id"] and weak.pk == rows[1]["signal_id"]
    assert api.get("/api/recommendations", {"limit": 1}).json()["recommended_now"][0]["symbol"] == "UPUSDT"
    assert api.get("/api/recommendations", {"limit": 0}).status_code == 400
    assert api.get("/api/recommendations", {"limit": "x"}).status_code == 400


def test_a_model_no_better_than_chance_gives_no_confidence_and_the_page_says_so(api, client, alice):
    history(400, lambda score, rng: rng.random() < 0.4)
    record = train_and_store()
    assert record.status == "trained" and not record.better_than_base_rate
    signal(coin("NOWUSDT"), at=timezone.now() - timedelta(hours=1))
    row = api.get("/api/recommendations").json()["recommended_now"][0]
    assert row["confidence"] is None and row["win_probability"] is not None
    client.force_login(alice)
    html = client.get("/recommendations").content.decode()
    assert "No better than the base rate" in html and f"{record.auc:.3f}" in html


def test_with_no_closed_trades_the_pattern_is_n_0_with_no_numbers(api, alice):
    Trade.objects.create(owner=alice, coin=coin("AAAUSDT"), quantity=1, entry_price=10, opened_at=T)  # open only
    p = api.get("/api/recommendations").json()["your_success_pattern"]
    assert p["n"] == 0 and "No closed trades yet" in p["message"]
    assert all(p[k] is None for k in ("win_rate", "preferred_scanner", "optimal_score_range", "best_coin_type",
                                      "avg_hold_time", "avg_gain"))


def test_the_pattern_is_measured_from_the_users_closed_trades(api, alice):
    new = coin("NEWUSDT")
    new.listed_at = T - timedelta(days=2)
    new.save()
    old = coin("OLDUSDT")
    old.has_perpetual, old.listed_at = True, T - timedelta(days=900)
    old.save()
    mss = signal(new, scanner="mss", unified_score=80.0)
    mss2 = signal(new, scanner="mss", unified_score=90.0, at=T + timedelta(hours=1))
    rsi = signal(old, scanner="rsi", kind="oversold", unified_score=50.0)

    def closed(c, s, exit_price, hours):
        return Trade.objects.create(owner=alice, coin=c, signal=s, quantity=1, entry_price=100, entry_fee=0,
                                    opened_at=T, status="closed", exit_price=exit_price, exit_fee=0,
                                    closed_at=T + timedelta(hours=hours))
    closed(new, mss, 120, 24)    # +20%
    closed(new, mss2, 110, 48)   # +10%
    closed(old, rsi, 94, 72)     # −6%
    p = api.get("/api/recommendations").json()["your_success_pattern"]
    assert (p["n"], p["wins"]) == (3, 2) and p["win_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert p["preferred_scanner"]["value"] == "mss" and p["preferred_scanner"]["share_of_wins"] == 1.0
    assert (p["optimal_score_range"]["low"], p["optimal_score_range"]["high"], p["optimal_score_range"]["n"]) == (80, 90, 2)
    assert p["best_coin_type"] == {"value": "new_listing", "win_rate": 1.0, "n": 2,
                                   "text": "new listings (under 7 days old when entered): 2 of 2 won"}
    assert p["avg_hold_time"]["hours"] == 48.0 and p["avg_hold_time"]["text"] == "2.0 days"
    assert p["avg_gain"]["pct"] == pytest.approx(8.0)
    # a current signal like her wins says so
    history(300, lambda score, rng: score > 50)
    train_and_store()
    fresh = coin("FRESHUSDT")
    fresh.listed_at = timezone.now() - timedelta(days=1)
    fresh.save()
    like = signal(fresh, scanner="mss", unified_score=85.0, at=timezone.now() - timedelta(hours=1))
    unlike = signal(old, scanner="rsi", kind="oversold", unified_score=30.0, at=timezone.now() - timedelta(hours=1))
    rows = {r["signal_id"]: r for r in api.get("/api/recommendations").json()["recommended_now"]}
    assert rows[like.pk]["matches_your_pattern"] == ["scanner", "score_range", "coin_type"]
    assert rows[unlike.pk]["matches_your_pattern"] == []


def test_the_page_shows_an_empty_state(client, alice):
    client.force_login(alice)
    html = client.get("/recommendations").content.decode()
    assert "No closed trades yet" in html and "No model trained yet" in html and "Go to your portfolio" in html


def test_the_training_is_scheduled():
    from django_q.models import Schedule

    s = Schedule.objects.get(name="recommend: train recommender")
    assert s.func == "recommend.tasks.train_recommender" and s.minutes == 360


def test_old_trainings_keep_their_metrics_but_not_their_model():
    history(300, lambda score, rng: score > 50)
    records = [train_and_store() for _ in range(7)]
    kept = RecommenderModel.objects.filter(blob__isnull=False)
    assert kept.count() == 5 and records[-1].pk in set(kept.values_list("pk", flat=True))
    assert RecommenderModel.objects.filter(blob__isnull=True, auc__isnull=False).count() == 2
