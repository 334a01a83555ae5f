"""GET /api/scan/unified-ranking: order, rank, filters, pages, and 400s for bad parameters."""
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from tests.api_factories import T0, freeze_time, golden_dataset, make_coin, make_unified, scored_coins

pytestmark = pytest.mark.django_db
URL = "/api/scan/unified-ranking"


@pytest.fixture
def api(monkeypatch):
    freeze_time(monkeypatch)
    golden_dataset()
    return APIClient()


def symbols(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["symbol"] for row in response.json()["results"]]


def test_it_orders_by_score_with_unscored_coins_last(api):
    body = api.get(URL).json()
    assert [r["symbol"] for r in body["results"]] == ["NEWUSDT", "SOLUSDT", "BTCUSDT", "ETHUSDT", "DOGEUSDT"]
    assert [r["rank"] for r in body["results"]] == [1, 2, 3, 4, 5]
    assert body["results"][-1]["unified_score"] is None and body["results"][-1]["tier"] is None
    assert (body["total_scanned"], body["count"], body["timestamp"]) == (5, 5, "2025-11-15T08:00:00Z")


def test_it_shows_only_each_coins_latest_score(api):
    # BTC has two older scores (61.5 and 52.0); only the latest, 68.0, is ranked.
    rows = [r for r in api.get(URL).json()["results"] if r["symbol"] == "BTCUSDT"]
    assert [r["unified_score"] for r in rows] == [68.0]


def test_ties_are_broken_by_symbol():
    for symbol in ("BBBUSDT", "AAAUSDT", "CCCUSDT"):
        make_unified(make_coin(symbol), 60.0, "TIER_3", raw={"mss": 60.0})
    assert symbols(APIClient().get(URL)) == ["AAAUSDT", "BBBUSDT", "CCCUSDT"]


def test_rank_counts_the_offset(api):
    body = api.get(URL, {"limit": 2, "offset": 2}).json()
    assert [(r["rank"], r["symbol"]) for r in body["results"]] == [(3, "BTCUSDT"), (4, "ETHUSDT")]
    assert body["next"] == "http://testserver/api/scan/unified-ranking?limit=2&offset=4"
    assert body["previous"] == "http://testserver/api/scan/unified-ranking?limit=2"


def test_rank_is_the_position_in_the_filtered_list(api):
    body = api.get(URL, {"tier": "TIER_3,TIER_4"}).json()
    assert [(r["rank"], r["symbol"]) for r in body["results"]] == [(1, "BTCUSDT"), (2, "ETHUSDT")]
    assert (body["count"], body["total_scanned"]) == (2, 5)


@pytest.mark.parametrize("query, expected", [
    ({"tier": "TIER_1"}, ["NEWUSDT"]),
    ({"tier": ["TIER_1", "TIER_4"]}, ["NEWUSDT", "ETHUSDT"]),
    ({"tier": "TIER_2,TIER_3"}, ["SOLUSDT", "BTCUSDT"]),
    ({"tier": "tier_2, tier_2"}, ["SOLUSDT"]),
    ({"min_score": "68"}, ["NEWUSDT", "SOLUSDT", "BTCUSDT"]),
    ({"min_score": "68.1"}, ["NEWUSDT", "SOLUSDT"]),
    ({"min_score": "0"}, ["NEWUSDT", "SOLUSDT", "BTCUSDT", "ETHUSDT"]),  # no score is not a score of 0
    ({"min_score": "100"}, []),
    ({"scanner": "mss"}, ["NEWUSDT"]),
    ({"scanner": "rsi"}, ["SOLUSDT", "BTCUSDT", "ETHUSDT"]),  # the technical component
    ({"scanner": "smart_money"}, ["NEWUSDT", "SOLUSDT", "BTCUSDT", "ETHUSDT"]),
    ({"scanner": "social"}, ["NEWUSDT", "SOLUSDT", "BTCUSDT"]),
    ({"scanner": "whale"}, ["SOLUSDT", "BTCUSDT", "ETHUSDT"]),
    ({"scanner": "volume_spike", "min_score": "50", "tier": "TIER_2,TIER_3"}, ["SOLUSDT", "BTCUSDT"]),
])
def test_filters(api, query, expected):
    assert symbols(api.get(URL, query)) == expected


def test_a_missing_component_does_not_match_its_scanner():
    # The breakdown has an "mss" entry, but its raw value is null: MSS did not score the coin.
    make_unified(make_coin("OLDUSDT"), 70.0, "TIER_2", raw={"accumulation": 7.0})
    make_unified(make_coin("GEMUSDT"), 80.0, "TIER_2", raw={"mss": 80.0})
    assert symbols(APIClient().get(URL, {"scanner": "mss"})) == ["GEMUSDT"]
    assert symbols(APIClient().get(URL, {"scanner": "smart_money"})) == ["OLDUSDT"]


def test_an_offset_past_the_end_gives_an_empty_page(api):
    body = api.get(URL, {"limit": 2, "offset": 1000}).json()
    assert (body["results"], body["count"], body["next"]) == ([], 5, None)
    assert body["previous"] == "http://testserver/api/scan/unified-ranking?limit=2&offset=3"  # the last rows
    assert api.get(URL, {"offset": "9" * 40}).json()["results"] == []


def test_limit_pages_through_everything(api):
    seen, url = [], URL + "?limit=2"
    while url:
        body = api.get(url).json()
        seen += [(r["rank"], r["symbol"]) for r in body["results"]]
        url = body["next"]
    assert seen == [(1, "NEWUSDT"), (2, "SOLUSDT"), (3, "BTCUSDT"), (4, "ETHUSDT"), (5, "DOGEUSDT")]


def test_it_shows_no_invented_expected_return(api):
    for row in api.get(URL).json()["results"]:
        assert row["historical_performance"] is None
        assert "expected_return" not in row


def test_an_empty_database_gives_an_empty_ranking():
    body = APIClient().get(URL).json()
    assert body == {"timestamp": None, "total_scanned": 0, "count": 0, "next": None, "previous": None,
                    "results": []}


def test_timestamp_is_the_newest_computed_at_even_when_filtered_out():
    make_unified(make_coin("AAAUSDT"), 90.0, "TIER_1", computed_at=T0, raw={"mss": 90.0})
    make_unified(make_coin("BBBUSDT"), 40.0, "TIER_4", computed_at=T0 + timedelta(hours=1), raw={"mss": 40.0})
    body = APIClient().get(URL, {"tier": "TIER_1"}).json()
    assert (body["timestamp"], body["count"], body["total_scanned"]) == ("2025-11-15T09:00:00Z", 1, 2)


BAD = [
    ("min_score", "abc", "Must be a number between 0 and 100."),
    ("min_score", "-1", "Must be a number between 0 and 100."),
    ("min_score", "100.01", "Must be a number between 0 and 100."),
    ("min_score", "NaN", "Must be a number between 0 and 100."),
    ("min_score", "inf", "Must be a number between 0 and 100."),
    ("min_score", "1e999", "Must be a number between 0 and 100."),
    ("min_score", "9" * 2000, "Must be a number between 0 and 100."),
    ("limit", "0", "Must be an integer between 1 and 500."),
    ("limit", "-5", "Must be an integer between 1 and 500."),
    ("limit", "501", "Must be an integer between 1 and 500."),
    ("limit", "ten", "Must be an integer between 1 and 500."),
    ("limit", "2.5", "Must be an integer between 1 and 500."),
    ("limit", "9" * 40, "Must be an integer between 1 and 500."),
    ("offset", "-1", "Must be an integer of 0 or more."),
    ("offset", "x", "Must be an integer of 0 or more."),
    ("tier", "TIER_5", "Each value must be one of: TIER_1, TIER_2, TIER_3, TIER_4."),
    ("tier", "TIER_1,GOLD", "Each value must be one of: TIER_1, TIER_2, TIER_3, TIER_4."),
    ("tier", ["TIER_2", "bronze"], "Each value must be one of: TIER_1, TIER_2, TIER_3, TIER_4."),
    ("scanner", "macd", "Must be one of: rsi, smart_money, mss, social, whale, volume_spike."),
    ("scanner", "all", "Must be one of: rsi, smart_money, mss, social, whale, volume_spike."),
]


@pytest.mark.parametrize("name, value, message", BAD)
def test_a_bad_parameter_is_a_400_naming_it(api, name, value, message):
    response = api.get(URL, {name: value})
    assert response.status_code == 400
    body = response.json()
    assert list(body) == [name]
    assert message in str(body[name])


def test_every_bad_parameter_is_reported_at_once(api):
    body = api.get(URL, {"min_score": "x", "limit": "0", "scanner": "x"}).json()
    assert sorted(body) == ["limit", "min_score", "scanner"]


@pytest.mark.parametrize("name", ["tier", "min_score", "scanner", "limit", "offset"])
def test_an_empty_parameter_counts_as_not_given(api, name):
    # As a GET form sends its "any" option; DRF reads every empty query parameter this way.
    assert len(symbols(api.get(URL, {name: ""}))) == 5
    assert len(symbols(api.get(URL, {"tier": ", ,"}))) == 5


def test_unknown_parameters_are_ignored(api):
    assert len(symbols(api.get(URL, {"colour": "red"}))) == 5


@pytest.mark.parametrize("n", [5, 50])
def test_the_number_of_queries_does_not_grow_with_the_coins(n, django_assert_num_queries):
    scored_coins(n)
    client = APIClient()
    with django_assert_num_queries(4):  # the response cache's data version; summary, count, page
        response = client.get(URL, {"limit": 500})
    assert len(response.json()["results"]) == n


def test_filters_do_not_add_queries(django_assert_num_queries):
    scored_coins(20)
    with django_assert_num_queries(4):
        response = APIClient().get(URL, {"tier": "TIER_4", "min_score": 60, "scanner": "rsi"})
    assert response.json()["count"] == 10  # scores 60–69 of 50–69
