"""GET /api/coins/{symbol}: the coin, its latest scores and results, freshness, history, 404s."""
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from marketdata.models import Coin
from scanners.models import ScanResult
from tests.api_factories import (T0, freeze_time, golden_dataset, inputs_at, make_coin, make_result, make_run,
                                 make_source, make_unified)

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(monkeypatch):
    freeze_time(monkeypatch)
    golden_dataset()
    return APIClient()


@pytest.mark.parametrize("symbol", ["BTCUSDT", "btcusdt", "BtcUsdt", " btcusdt "])
def test_symbols_are_case_insensitive(api, symbol):
    response = api.get(f"/api/coins/{symbol}")
    assert response.status_code == 200
    assert response.json()["symbol"] == "BTCUSDT"


@pytest.mark.parametrize("symbol, shown", [("XYZUSDT", "XYZUSDT"), ("xyzusdt", "XYZUSDT"), ("BTC", "BTC"),
                                           ("%25", "%"), ("A" * 300, "A" * 64)])
def test_an_unknown_symbol_is_a_404_naming_it(api, symbol, shown):
    response = api.get(f"/api/coins/{symbol}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"Unknown symbol: {shown}"}


def test_each_scanner_shows_its_newest_result(api):
    scanners = api.get("/api/coins/BTCUSDT").json()["scanners"]
    assert list(scanners) == ["rsi", "smart_money", "social"]
    assert scanners["rsi"]["scores"] == {"rsi": 28.0, "technical": 6.0}  # run 9101, not the older 9102
    assert scanners["rsi"]["run_id"] == 9101


def test_a_later_result_of_an_older_run_is_still_the_newest(api):
    # Newest means created last, whatever the run's id.
    btc, old_run = Coin.objects.get(symbol="BTCUSDT"), make_run(9001, scanner="rsi", started_at=T0 - timedelta(days=1))
    make_result(old_run, btc, "rsi", score=9.0, scores={"rsi": 12.0, "technical": 9.0},
                created_at=T0 + timedelta(seconds=1))
    assert api.get("/api/coins/BTCUSDT").json()["scanners"]["rsi"]["run_id"] == 9001


def test_unified_carries_its_rank_in_the_whole_ranking(api):
    ranks = {s: api.get(f"/api/coins/{s}").json()["unified"]["rank"]
             for s in ("NEWUSDT", "SOLUSDT", "BTCUSDT", "ETHUSDT", "DOGEUSDT")}
    assert ranks == {"NEWUSDT": 1, "SOLUSDT": 2, "BTCUSDT": 3, "ETHUSDT": 4, "DOGEUSDT": 5}
    ranking = {r["symbol"]: r["rank"] for r in api.get("/api/scan/unified-ranking").json()["results"]}
    assert ranks == ranking


def test_equal_scores_rank_by_symbol():
    for symbol in ("BBBUSDT", "AAAUSDT"):
        make_unified(make_coin(symbol), 60.0, "TIER_3", raw={"mss": 60.0})
    assert APIClient().get("/api/coins/BBBUSDT").json()["unified"]["rank"] == 2
    assert APIClient().get("/api/coins/AAAUSDT").json()["unified"]["rank"] == 1


def test_a_coin_never_scored_has_no_unified_score(api):
    body = api.get("/api/coins/XRPUSDT").json()
    assert (body["unified"], body["scanners"], body["history"], body["active"]) == (None, {}, [], False)


def test_freshness_ages_are_measured_from_now(api, monkeypatch):
    freeze_time(monkeypatch, T0 + timedelta(hours=1))
    sources = api.get("/api/coins/BTCUSDT").json()["freshness"]["sources"]
    assert sources["binance_spot"]["age_seconds"] == 3630.0
    assert sources["coingecko"]["age_seconds"] is None  # never answered: no age, not zero
    assert sources["binance_futures"]["last_error"] == "HTTP 503 from binance_futures"


def test_freshness_takes_each_inputs_newest_time(api):
    inputs = api.get("/api/coins/BTCUSDT").json()["freshness"]["inputs"]
    # rsi had no funding time, smart_money had one: the known time wins over "missing".
    assert inputs["funding_pct"] == "2025-11-15T07:40:00Z"
    assert inputs["last_close"] == "2025-11-15T07:59:00Z"  # not the older RSI run's 03:59


def test_unreadable_input_times_count_as_missing(monkeypatch):
    freeze_time(monkeypatch)
    coin, run = make_coin("ODDUSDT"), make_run()
    make_result(run, coin, "whale", score=1.0, scores={"whale": 1.0},
                inputs={"a": {"value": 1, "as_of": "2025-13-45T99:00:00"}, "b": {"value": 1, "as_of": "soon"},
                        "c": {"value": 1}, "d": 5, "e": {"as_of": "2025-11-15T07:00:00"}, "detail": {"x": 1}})
    inputs = APIClient().get("/api/coins/ODDUSDT").json()["freshness"]["inputs"]
    assert inputs == {"a": None, "b": None, "c": None, "d": None, "e": "2025-11-15T07:00:00Z"}


def test_history_is_the_last_48_scores_oldest_first(monkeypatch):
    freeze_time(monkeypatch)
    coin = make_coin("HISUSDT")
    for hour in range(60):
        make_unified(coin, float(hour), "TIER_4", computed_at=T0 + timedelta(hours=hour), is_latest=hour == 59,
                     raw={"mss": float(hour)})
    history = APIClient().get("/api/coins/HISUSDT").json()["history"]
    assert len(history) == 48
    assert [h["unified_score"] for h in history] == [float(h) for h in range(12, 60)]


@pytest.mark.parametrize("n", [5, 50])
def test_the_number_of_queries_does_not_grow_with_history_or_results(n, monkeypatch, django_assert_num_queries):
    freeze_time(monkeypatch)
    coin = make_coin("QRYUSDT")
    for i in range(n):
        make_unified(coin, 50.0, "TIER_4", computed_at=T0 + timedelta(hours=i), is_latest=i == n - 1,
                     raw={"mss": 50.0})
        run = make_run(scanner="all")
        for scanner in ("rsi", "smart_money", "whale"):
            make_result(run, coin, scanner, score=1.0, scores={}, inputs=inputs_at(T0, T0),
                        created_at=T0 + timedelta(hours=i))
    for name in ("binance_spot", "coingecko"):
        make_source(name, last_success_at=T0)
    # coin, latest score, its rank, latest results, data sources, history
    with django_assert_num_queries(7):  # the response cache's data version, then the view's 6
        body = APIClient().get("/api/coins/QRYUSDT").json()
    assert len(body["history"]) == min(n, 48) and len(body["scanners"]) == 3
    assert ScanResult.objects.filter(coin=coin).count() == 3 * n
