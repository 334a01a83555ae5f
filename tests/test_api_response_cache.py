"""The response cache in front of the public market API (cryptosatx/api/response_cache.py)."""
from datetime import timedelta

import pytest
import time_machine
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cryptosatx.api import response_cache
from scanners.models import ScanRun
from tests.api_factories import T0, golden_dataset, make_coin, make_unified

pytestmark = pytest.mark.django_db
RANKING = "/api/scan/unified-ranking"


@pytest.fixture
def client():
    golden_dataset()
    return APIClient()


def symbols(response) -> list[str]:
    return [row["symbol"] for row in response.json()["results"]]


def test_a_second_anonymous_read_is_a_hit_with_the_same_answer_and_no_view_queries(client, django_assert_num_queries):
    first = client.get(RANKING)
    assert first.status_code == 200 and first["X-Cache"] == "miss"
    with django_assert_num_queries(1):  # the data version only
        second = client.get(RANKING)
    assert second.status_code == 200 and second["X-Cache"] == "hit"
    assert second.content == first.content and second["Content-Type"] == first["Content-Type"]
    assert int(second["Age"]) >= 0


def test_the_data_version_is_trusted_for_a_second_per_process(client, monkeypatch, django_assert_num_queries):
    monkeypatch.setattr(response_cache, "VERSION_SECONDS", 60)
    client.get(RANKING)
    with django_assert_num_queries(0):
        assert client.get(RANKING)["X-Cache"] == "hit"


@pytest.mark.parametrize("write", ["unified score", "finished run"])
def test_new_data_is_served_at_once(client, write):
    before = symbols(client.get(RANKING))
    if write == "unified score":  # a new coin scored above everything
        make_unified(make_coin("ZZZUSDT"), score=99.0, tier="TIER_1", computed_at=T0 + timedelta(minutes=5))
    else:  # a run that was already there finishes (no new row anywhere)
        run = ScanRun.objects.order_by("-id").first()
        ScanRun.objects.filter(pk=run.pk).update(finished_at=(run.finished_at or T0) + timedelta(minutes=1))
    after = client.get(RANKING)
    assert after["X-Cache"] == "miss"
    if write == "unified score":
        assert symbols(after)[0] == "ZZZUSDT" and "ZZZUSDT" not in before


def test_each_url_has_its_own_answer(client):
    assert client.get(RANKING, {"limit": 1})["X-Cache"] == "miss"
    assert client.get(RANKING, {"limit": 2})["X-Cache"] == "miss"
    assert len(client.get(RANKING, {"limit": 1}).json()["results"]) == 1
    assert len(client.get(RANKING, {"limit": 2}).json()["results"]) == 2


def test_answers_expire_after_api_cache_seconds(client):
    with time_machine.travel(T0 + timedelta(days=400), tick=False) as clock:
        assert client.get(RANKING)["X-Cache"] == "miss"
        clock.shift(59)
        hit = client.get(RANKING)
        assert hit["X-Cache"] == "hit" and hit["Age"] == "59"
        clock.shift(2)
        assert client.get(RANKING)["X-Cache"] == "miss"


@override_settings(API_CACHE_SECONDS=0)
def test_zero_turns_the_cache_off(client):
    assert "X-Cache" not in client.get(RANKING) and "X-Cache" not in client.get(RANKING)


def test_errors_are_never_cached(client):
    for _ in range(2):
        bad = client.get(RANKING, {"min_score": "x"})
        assert bad.status_code == 400 and "X-Cache" not in bad
        missing = client.get("/api/coins/NOPEUSDT")
        assert missing.status_code == 404 and "X-Cache" not in missing


def test_credentials_and_html_reach_the_view(client, django_user_model):
    client.get(RANKING)  # cached for anonymous readers
    bad_token = client.get(RANKING, HTTP_AUTHORIZATION="Token nope")
    assert bad_token.status_code == 401  # a bad token is still refused
    user = django_user_model.objects.create_user("alice", password="pw-123456789")
    good = client.get(RANKING, HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert good.status_code == 200 and "X-Cache" not in good
    html = client.get(RANKING, HTTP_ACCEPT="text/html")
    assert "X-Cache" not in html and html["Content-Type"].startswith("text/html")
    client.force_login(user)
    assert "X-Cache" not in client.get(RANKING)


def test_coins_and_win_rates_are_cached_too(client):
    for url in ("/api/coins/BTCUSDT", "/api/analytics/win-rates?days=30&horizon=24h"):
        assert client.get(url)["X-Cache"] == "miss"
        assert client.get(url)["X-Cache"] == "hit"
    assert "X-Cache" not in client.get("/api/scans")  # a running scan's progress changes in place


def test_each_process_keeps_its_own_copy_and_new_data_still_misses(client):
    from django.core.cache import cache

    first = client.get(RANKING)
    cache.clear()  # the shared cache lost it (another machine's eviction, Redis restarted)
    copy = client.get(RANKING)
    assert copy["X-Cache"] == "hit" and copy.content == first.content
    make_unified(make_coin("ZZZUSDT"), score=99.0, tier="TIER_1", computed_at=T0 + timedelta(minutes=5))
    assert client.get(RANKING)["X-Cache"] == "miss"


def test_made_up_urls_cannot_grow_a_worker_past_its_byte_budget(client, monkeypatch):
    monkeypatch.setattr(response_cache, "LOCAL_BYTES", 20_000)
    for i in range(40):  # unknown parameters are ignored by the view, but each URL is its own key
        assert client.get(RANKING, {"junk": i}).status_code == 200
    assert 0 < response_cache._local_bytes <= 20_000
    assert sum(len(body) for _, body, _ in response_cache._local.values()) <= 20_000


def test_an_answer_marked_private_is_not_shared():
    from django.http import HttpResponse
    from django.test import RequestFactory

    calls = []

    def view(request):
        calls.append(request)
        response = HttpResponse(b"{}", content_type="application/json")
        response["Cache-Control"] = "private, max-age=0"
        return response

    middleware = response_cache.PublicResponseCacheMiddleware(view)
    for _ in range(2):
        answer = middleware(RequestFactory().get(RANKING))
        assert "X-Cache" not in answer
    assert len(calls) == 2


def test_each_accept_is_cached_as_negotiated_and_html_never(client):
    axios = "application/json, text/plain, */*"  # what browser HTTP libraries send
    first = client.get(RANKING, HTTP_ACCEPT=axios)
    assert first["X-Cache"] == "miss" and first["Content-Type"] == "application/json"
    again = client.get(RANKING, HTTP_ACCEPT=axios)
    assert again["X-Cache"] == "hit" and again.content == first.content
    assert client.get(RANKING, HTTP_ACCEPT="application/json")["X-Cache"] == "miss"  # its own key
    refused = client.get(RANKING, HTTP_ACCEPT="text/plain")  # nothing DRF renders: a 406, never stored
    assert refused.status_code == 406 and "X-Cache" not in refused
    assert client.get(RANKING, HTTP_ACCEPT="text/plain").status_code == 406
    for accept in ("text/html", "text/html,application/xhtml+xml,*/*;q=0.8"):
        page = client.get(RANKING, HTTP_ACCEPT=accept)
        assert "X-Cache" not in page and page["Content-Type"].startswith("text/html")
