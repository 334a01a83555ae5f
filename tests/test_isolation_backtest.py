"""Alice's backtests are invisible and untouchable to bob: 404 (never data) and absent from his lists,
in the API and on the pages."""
import pytest
from rest_framework.test import APIClient

from backtest.models import BacktestRun
from tests.backtest_factories import strategy

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices_run(django_user_model):
    alice = django_user_model.objects.create_user("alice")
    return BacktestRun.objects.create(owner=alice, name="alice-secret-strategy", strategy=strategy(),
                                      status=BacktestRun.DONE, progress=100,
                                      results={"metrics": {"total_trades": 7, "total_pnl": 123.45}, "trades": [],
                                               "equity_curve": [], "data": {}})


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob")


def test_bob_gets_404_for_alices_backtest_in_the_api(alices_run, bob):
    client = APIClient()
    client.force_authenticate(bob)
    for response in (client.get(f"/api/backtests/{alices_run.pk}"), client.delete(f"/api/backtests/{alices_run.pk}")):
        assert response.status_code == 404
        assert b"alice-secret-strategy" not in response.content and b"123.45" not in response.content
    assert BacktestRun.objects.filter(pk=alices_run.pk).exists()  # still there
    listing = client.get("/api/backtests").json()
    assert listing["count"] == 0 and listing["results"] == []


def test_bob_gets_404_for_alices_backtest_pages(alices_run, bob, client):
    client.force_login(bob)
    for url in (f"/backtests/{alices_run.pk}", f"/backtests/{alices_run.pk}/status"):
        response = client.get(url)
        assert response.status_code == 404 and b"alice-secret-strategy" not in response.content
    page = client.get("/backtests")
    assert page.status_code == 200 and b"alice-secret-strategy" not in page.content


def test_alice_sees_her_own(alices_run):
    client = APIClient()
    client.force_authenticate(alices_run.owner)
    assert client.get(f"/api/backtests/{alices_run.pk}").json()["name"] == "alice-secret-strategy"
    assert client.get("/api/backtests").json()["count"] == 1
