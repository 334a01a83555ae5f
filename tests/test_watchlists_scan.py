"""GET /api/watchlists/{id}/scan: a fresh scan of just the watchlist's coins against the market
simulator over loopback, answered with the unified ranking's own rows restricted to those coins."""
import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from marketdata.models import Coin
from marketdata.simulator.server import SimulatorServer
from scanners.models import ScanRun
from tests.api_factories import make_coin
from tests.conftest import point_all_at
from watchlists import scanning
from watchlists.models import Watchlist

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def market():
    with SimulatorServer(seed=4, coins=30) as server:
        yield server


@pytest.fixture
def alice(settings, market):
    point_all_at(settings, market.base_url)
    client = APIClient()
    client.force_authenticate(User.objects.create_user("alice"))
    return client


def watchlist(client: APIClient, *symbols: str) -> int:
    for symbol in symbols:
        if not Coin.objects.filter(symbol=symbol).exists():
            make_coin(symbol)
    response = client.post("/api/watchlists", {"name": "w", "coins": list(symbols)}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_it_scans_only_the_watchlists_coins_now_and_ranks_them(alice):
    make_coin("XRPUSDT")  # known, but not on the list: neither scanned nor ranked
    pk = watchlist(alice, "BTCUSDT", "ETHUSDT", "SOLUSDT")
    response = alice.get(f"/api/watchlists/{pk}/scan")
    assert response.status_code == 200, response.content
    body = response.json()
    run = ScanRun.objects.get()
    assert run.parameters["symbols"] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"] and run.scanner == "all"
    assert body["run"]["id"] == run.pk and body["run"]["status"] == "completed"
    assert (body["run"]["universe_size"], body["run"]["scored"]) == (3, 3)
    assert body["watchlist"] == {"id": pk, "name": "w"}
    assert sorted(r["symbol"] for r in body["results"]) == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert (body["count"], body["total_scanned"], body["not_scored"], body["not_trading"]) == (3, 3, [], [])
    assert [r["rank"] for r in body["results"]] == [1, 2, 3]
    scores = [r["unified_score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True)
    # Fresh: every row comes from the run just made.
    assert {r["computed_at"] for r in body["results"]} == {body["timestamp"]}
    # The same rows, field for field, as the unified ranking's (one serializer), apart from the rank.
    ranking = {r["symbol"]: r for r in APIClient().get("/api/scan/unified-ranking").json()["results"]}
    for row in body["results"]:
        assert {k: v for k, v in row.items() if k != "rank"} == {k: v for k, v in ranking[row["symbol"]].items()
                                                                   if k != "rank"}


def test_each_scan_is_a_new_run(alice):
    pk = watchlist(alice, "BTCUSDT")
    first = alice.get(f"/api/watchlists/{pk}/scan").json()["run"]["id"]
    second = alice.get(f"/api/watchlists/{pk}/scan").json()["run"]["id"]
    assert second > first and ScanRun.objects.count() == 2


def test_the_rankings_filters_and_pages_apply(alice):
    pk = watchlist(alice, "BTCUSDT", "ETHUSDT", "SOLUSDT")
    body = alice.get(f"/api/watchlists/{pk}/scan", {"limit": 1, "offset": 1}).json()
    assert (body["count"], len(body["results"]), body["results"][0]["rank"]) == (3, 1, 2)
    assert body["next"].endswith(f"/api/watchlists/{pk}/scan?limit=1&offset=2")
    none = alice.get(f"/api/watchlists/{pk}/scan", {"min_score": 100}).json()
    assert (none["count"], none["results"], none["total_scanned"]) == (0, [], 3)


def test_a_bad_parameter_is_a_400_and_nothing_is_scanned(alice):
    pk = watchlist(alice, "BTCUSDT")
    response = alice.get(f"/api/watchlists/{pk}/scan", {"tier": "TIER_9", "min_score": "lots"})
    assert response.status_code == 400
    assert set(response.json()) == {"tier", "min_score"}
    assert not ScanRun.objects.exists()


def test_an_empty_watchlist_answers_without_scanning(alice):
    make_coin("BTCUSDT")
    pk = watchlist(alice)
    body = alice.get(f"/api/watchlists/{pk}/scan").json()
    assert (body["run"], body["results"], body["count"], body["total_scanned"]) == (None, [], 0, 0)
    assert not ScanRun.objects.exists()


def test_a_coin_the_exchange_no_longer_lists_is_named_and_the_rest_scanned(alice):
    pk = watchlist(alice, "BTCUSDT", "GONEUSDT")
    body = alice.get(f"/api/watchlists/{pk}/scan").json()
    assert body["not_trading"] == ["GONEUSDT"] and body["not_scored"] == ["GONEUSDT"]
    assert [r["symbol"] for r in body["results"]] == ["BTCUSDT"]
    assert ScanRun.objects.get().parameters["symbols"] == ["BTCUSDT"]


def test_scans_on_demand_are_rate_limited_per_user(alice, monkeypatch):
    pk = watchlist(alice, "BTCUSDT")
    monkeypatch.setattr(scanning, "SCANS_PER_MINUTE", 0)
    response = alice.get(f"/api/watchlists/{pk}/scan")
    assert response.status_code == 429
    assert response.json()["detail"].startswith("Too many scans: try again in ")
    assert 1 <= int(response["Retry-After"]) <= 61
    assert not ScanRun.objects.exists()


def test_the_limit_counts_per_user_and_minute():
    for _ in range(scanning.SCANS_PER_MINUTE):
        assert scanning.seconds_until_allowed(1, now=600.0) == 0
    assert scanning.seconds_until_allowed(1, now=630.0) == 31  # the same minute: wait for the next
    assert scanning.seconds_until_allowed(2, now=630.0) == 0  # another user
    assert scanning.seconds_until_allowed(1, now=660.0) == 0  # the next minute


def test_a_scan_stores_nothing_on_the_watchlist(alice):
    pk = watchlist(alice, "BTCUSDT")
    before = Watchlist.objects.get(pk=pk).updated_at
    alice.get(f"/api/watchlists/{pk}/scan")
    assert Watchlist.objects.get(pk=pk).updated_at == before


def test_a_scan_that_fetches_nothing_is_a_503_not_old_scores(alice, settings):
    pk = watchlist(alice, "BTCUSDT")
    alice.get(f"/api/watchlists/{pk}/scan")  # scores from a working scan exist now
    point_all_at(settings, "http://127.0.0.1:9")  # nothing listens there
    settings.HTTP_MAX_RETRIES = 0
    response = alice.get(f"/api/watchlists/{pk}/scan")
    assert response.status_code == 503
    body = response.json()
    assert body["detail"].startswith("The scan failed: ")
    assert body["run"]["status"] == "failed" and body["run"]["error_count"] >= 1
    assert "results" not in body
