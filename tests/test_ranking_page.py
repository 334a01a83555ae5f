"""The ranking page: ordered like the API, sortable, filters validated, refreshed in place by htmx,
each row expandable into its breakdown."""
import re

import pytest
from django.utils import timezone

from marketdata.models import Coin
from signals.models import UnifiedScore

pytestmark = pytest.mark.django_db


def scored(n: int) -> None:
    now = timezone.now()
    for i in range(n):
        coin = Coin.objects.create(symbol=f"C{i:03d}USDT", base_asset=f"C{i:03d}", quote_asset="USDT")
        score = 40 + i
        UnifiedScore.objects.create(coin=coin, computed_at=now, unified_score=score,
                                    tier="TIER_3" if score >= 55 else "TIER_4", label="WATCHLIST", action="WATCH",
                                    coverage=0.75, risk_level="MEDIUM", confidence=60 - i,
                                    breakdown={"technical": {"raw": 5.0, "points": 12.5}, "mss": {"raw": None}})


def rows(page: str) -> list[str]:
    """The symbols of the ranking table, in order (each row's coin link has the symbol as its text)."""
    return re.findall(r'<th scope="row"><a href="/coins/(\w+)">\1</a></th>', page)


def test_the_ranking_lists_the_best_first_with_links(client):
    scored(20)
    page = client.get("/ranking").content.decode()
    assert rows(page)[:3] == ["C019USDT", "C018USDT", "C017USDT"] and rows(page)[-1] == "C000USDT"
    assert 'id="ranking-table"' in page and "20 coins scored" in page


def test_columns_sort_both_ways(client):
    scored(5)
    assert rows(client.get("/ranking", {"sort": "symbol"}).content.decode()) == [f"C00{i}USDT" for i in range(5)]
    assert rows(client.get("/ranking", {"sort": "-symbol"}).content.decode())[0] == "C004USDT"
    by_confidence = client.get("/ranking", {"sort": "-confidence"}).content.decode()
    assert rows(by_confidence)[0] == "C000USDT"  # confidence falls as the score rises
    assert 'aria-sort="descending"' in by_confidence


def test_a_bad_sort_is_explained_and_the_default_order_used(client):
    scored(3)
    response = client.get("/ranking", {"sort": "price; drop table"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "sort: Must be one of: score, symbol" in page and rows(page)[0] == "C002USDT"


def test_filters_narrow_the_list_and_bad_ones_are_explained(client):
    scored(20)
    page = client.get("/ranking", {"tier": "TIER_3"}).content.decode()
    assert "C019USDT" in page and "C000USDT" not in page
    page = client.get("/ranking", {"min_score": "lots"}).content.decode()
    assert "min_score: Must be a number between 0 and 100." in page
    response = client.get("/ranking", {"scanner": "nope"})
    assert response.status_code == 200 and "scanner: Must be one of:" in response.content.decode()


def test_a_good_filter_still_applies_beside_a_bad_one(client):
    scored(20)
    page = client.get("/ranking", {"tier": "TIER_3", "min_score": "lots"}).content.decode()
    assert "min_score: Must be a number" in page
    assert "C019USDT" in page and "C000USDT" not in page


def test_htmx_gets_only_the_results_with_the_status_out_of_band(client):
    scored(3)
    partial = client.get("/ranking", {"tier": "TIER_4"}, HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert "<html" not in body and "<nav aria-label=\"Main\"" not in body
    assert 'id="ranking-results"' in body and 'hx-swap-oob="innerHTML"' in body and "3 coins shown" in body
    # the poll repeats the current filters, so a refresh keeps them
    assert 'hx-get="/ranking?tier=TIER_4"' in body and 'hx-trigger="every 60s"' in body
    assert "HX-Request" in partial["Vary"]
    full = client.get("/ranking").content.decode()
    assert 'aria-live="polite"' in full and "vendor/htmx.min.js" in full and 'hx-swap-oob' not in full


def test_each_row_expands_into_its_breakdown(client):
    scored(2)
    page = client.get("/ranking").content.decode()
    assert 'aria-controls="bd-C001USDT"' in page and 'id="bd-C001USDT"' in page
    detail = page[page.index('id="bd-C001USDT"'):]
    assert "technical" in detail[:2000] and "12.5" in detail[:2000] and "missing" in detail[:2000]


def test_an_empty_ranking_says_what_to_do(client):
    assert "python manage.py scan all" in client.get("/ranking").content.decode()
    scored(3)
    assert "No coin matches these filters" in client.get("/ranking", {"tier": "TIER_1"}).content.decode()


def test_the_query_count_does_not_grow_with_the_coins(client, django_assert_max_num_queries):
    scored(5)
    with django_assert_max_num_queries(10) as five:
        client.get("/ranking")
    UnifiedScore.objects.all().delete()
    Coin.objects.all().delete()
    scored(50)
    with django_assert_max_num_queries(len(five.captured_queries)) as fifty:
        assert "C049USDT" in client.get("/ranking").content.decode()
    assert len(fifty.captured_queries) == len(five.captured_queries)


def test_a_refresh_updates_the_count_of_coins_scored_too(client):
    scored(3)
    assert "3 coins scored" in client.get("/ranking").content.decode()
    for symbol in ("NEW1USDT", "NEW2USDT"):  # a scan scored more coins since the page was loaded
        coin = Coin.objects.create(symbol=symbol, base_asset=symbol[:4], quote_asset="USDT")
        UnifiedScore.objects.create(coin=coin, computed_at=timezone.now(), unified_score=50, tier="TIER_4",
                                    label="NEUTRAL", action="WATCH", coverage=0.5, risk_level="MEDIUM", confidence=50,
                                    breakdown={})
    body = client.get("/ranking", HTTP_HX_REQUEST="true").content.decode()
    meta = body[body.index('<span id="ranking-meta" hx-swap-oob="innerHTML">'):]
    assert "5 coins scored" in meta[:meta.index("</span>")]
