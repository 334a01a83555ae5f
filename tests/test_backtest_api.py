"""POST /api/backtests queues a django-q2 job (202), the job fills in the run, GET shows it; bad
strategies get 400s naming the field."""
from datetime import timedelta

import pytest
from django_q.models import OrmQ
from rest_framework.test import APIClient

from backtest.models import BacktestRun
from backtest.service import MAX_UNFINISHED_PER_USER
from backtest.tasks import run_backtest
from tests.backtest_factories import HOUR, START, add_candles, random_walk, strategy

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(django_user_model):
    user = django_user_model.objects.create_user("alice", password="pw-alice-123")
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def candles():
    add_candles("AAAUSDT", START - 100 * HOUR, random_walk(5, 100 + 72, vol=0.03))
    add_candles("BBBUSDT", START - 100 * HOUR, random_walk(6, 100 + 72, vol=0.03))


def three_days(**kw):
    return strategy(coins=["AAAUSDT", "BBBUSDT"], end=(START + timedelta(days=3)).isoformat(),
                    entry_rules={"min_unified_score": 60}, **kw)


def test_a_posted_strategy_is_queued_run_and_read_back(alice, candles, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post("/api/backtests", three_days(name="dip"), format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and body["progress"] == 0 and body["name"] == "dip"
    assert response["Location"] == f"/api/backtests/{body['id']}"
    assert OrmQ.objects.count() == 1  # the job is on the django-q2 queue

    assert run_backtest(body["id"])["status"] == "done"  # what the q cluster's worker runs
    detail = alice.get(f"/api/backtests/{body['id']}").json()
    assert detail["status"] == "done" and detail["progress"] == 100
    metrics = detail["results"]["metrics"]
    assert set(metrics) >= {"total_trades", "wins", "losses", "win_rate", "total_pnl", "sharpe_ratio", "max_drawdown"}
    assert metrics["total_trades"] == len(detail["results"]["trades"]) > 0
    assert len(detail["results"]["equity_curve"]) == 72
    assert detail["strategy"]["coins"] == ["AAAUSDT", "BBBUSDT"]
    listing = alice.get("/api/backtests").json()
    assert listing["count"] == 1 and listing["results"][0]["metrics"] == metrics


@pytest.mark.parametrize("change, field", [
    ({"scanners": ["tea_leaves"]}, "scanners"),
    ({"exit_rules": {"take_profit": 0, "stop_loss": 3}}, "exit_rules.take_profit"),
    ({"exit_rules": {"take_profit": 5}}, "exit_rules.stop_loss"),
    ({"start": "2026-09-05T00:00:00Z", "end": "2026-09-02T00:00:00Z"}, "end"),
    ({"start": "2026-09-01T00:30:00Z"}, "start"),
    ({"coins": ["AAAUSDT", "ZZZUSDT"]}, "coins"),
    ({"start": "2027-01-01", "end": "2027-01-05"}, "start"),
    ({"position_size": "a lot"}, "position_size"),
    ({"entry_rules": "high"}, "entry_rules"),
])
def test_a_bad_strategy_is_a_400_naming_the_field(alice, candles, change, field):
    response = alice.post("/api/backtests", {**three_days(), **change}, format="json")
    assert response.status_code == 400 and field in response.json(), response.content
    assert not BacktestRun.objects.exists()


def test_a_body_that_is_not_an_object_is_a_400(alice):
    assert alice.post("/api/backtests", [1, 2], format="json").status_code == 400
    response = alice.post("/api/backtests", "{not json", content_type="application/json")
    assert response.status_code == 400


def test_anonymous_clients_must_authenticate():
    client = APIClient()
    assert client.get("/api/backtests").status_code == 401
    assert client.post("/api/backtests", strategy(), format="json").status_code == 401
    assert client.get("/api/backtests/1").status_code == 401


def test_too_many_unfinished_runs_are_refused(alice, candles):
    for _ in range(MAX_UNFINISHED_PER_USER):
        assert alice.post("/api/backtests", three_days(), format="json").status_code == 202
    response = alice.post("/api/backtests", three_days(), format="json")
    assert response.status_code == 429 and "queued or running" in response.json()["detail"]


def test_a_deleted_run_is_gone_and_its_job_does_nothing(alice, candles):
    run_id = alice.post("/api/backtests", three_days(), format="json").json()["id"]
    assert alice.delete(f"/api/backtests/{run_id}").status_code == 204
    assert alice.get(f"/api/backtests/{run_id}").status_code == 404
    assert "skipped" in run_backtest(run_id)


def test_huge_and_unknown_ids_are_404(alice):
    assert alice.get("/api/backtests/999").status_code == 404
    assert alice.get(f"/api/backtests/{2**70}").status_code == 404


def test_a_run_left_running_past_the_timeout_is_shown_as_failed(alice, settings):
    from django.utils import timezone
    owner = BacktestRun.objects.model._meta.get_field("owner").related_model.objects.get(username="alice")
    run = BacktestRun.objects.create(owner=owner, strategy=strategy(), status=BacktestRun.RUNNING, progress=40,
                                     started_at=timezone.now() - timedelta(seconds=settings.Q_CLUSTER["timeout"] + 61))
    fresh = BacktestRun.objects.create(owner=owner, strategy=strategy(), status=BacktestRun.RUNNING,
                                       started_at=timezone.now())
    body = alice.get(f"/api/backtests/{run.pk}").json()
    assert body["status"] == "failed" and "timeout" in body["error"]
    assert alice.get(f"/api/backtests/{fresh.pk}").json()["status"] == "running"
