"""Under /api/ a URL no route matches answers JSON, as DRF's own errors do; pages keep Django's 404."""
import pytest

pytestmark = pytest.mark.django_db


def test_an_unmatched_api_url_answers_json(client):
    response = client.get("/api/scans/not-a-number")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}


def test_an_unmatched_page_keeps_the_html_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_a_tier_list_error_is_one_message_not_one_per_position(client):
    response = client.get("/api/scan/unified-ranking", {"tier": ["nope", "TIER_1", "bad"]})
    assert response.status_code == 400
    assert response.json() == {"tier": ["Each value must be one of: TIER_1, TIER_2, TIER_3, TIER_4."]}


def test_a_nul_in_a_watchlists_coins_is_a_400(client, django_user_model):
    """Found by schemathesis on PostgreSQL, which refuses NUL in a query parameter (a 500 before)."""
    client.force_login(django_user_model.objects.create_user("nul", password="nul-password-123"))
    response = client.post("/api/watchlists", {"name": "x", "coins": ["BTC\x00USDT"]}, content_type="application/json")
    assert response.status_code == 400 and "coins" in response.json()
