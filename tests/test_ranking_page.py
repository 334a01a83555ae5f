"""The ranking page: ordered like the API, filters validated, no query growth with the coins."""
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
                                    coverage=0.75, risk_level="MEDIUM",
                                    breakdown={"technical": {"raw": 5.0}, "mss": {"raw": None}})


def test_the_ranking_lists_the_best_first_with_links(client):
    scored(20)
    page = client.get("/ranking").content.decode()
    assert page.index("C019USDT") < page.index("C018USDT") < page.index("C000USDT")
    assert 'href="/coins/C019USDT"' in page and "20 coins scored" in page


def test_filters_narrow_the_list_and_bad_ones_are_explained(client):
    scored(20)
    page = client.get("/ranking", {"tier": "TIER_3"}).content.decode()
    assert "C019USDT" in page and "C000USDT" not in page
    page = client.get("/ranking", {"min_score": "lots"}).content.decode()
    assert "min_score: Must be a number between 0 and 100." in page
    assert client.get("/ranking", {"scanner": "nope"}).status_code == 200


def test_an_empty_ranking_says_what_to_do(client):
    assert "python manage.py scan all" in client.get("/ranking").content.decode()


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
