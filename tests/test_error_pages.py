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
