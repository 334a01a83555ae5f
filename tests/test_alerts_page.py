"""/alerts: deliveries grouped by status, with Telegram's message id, the stored reasons and errors."""
import pytest
from django.utils import timezone

from signals.models import AlertDelivery as D
from tests.page_factories import delivery, signals

pytestmark = pytest.mark.django_db


def section(page: str, key: str) -> str:
    start = page.index(f'<h2 id="{key}">')
    end = page.find("<section", start)
    return page[start:end if end != -1 else None]


def test_deliveries_are_grouped_by_what_happened(client):
    s = signals(4, with_outcomes=False)
    delivery(s[0], D.SENT, message_id=4242, sent_at=timezone.now())
    delivery(s[1], D.SUPPRESSED, reason="cooldown")
    delivery(s[2], D.FAILED, reason="rejected", last_error="Bad Request: can't parse entities")
    delivery(s[3], D.POSSIBLY_DELIVERED, reason="maybe_delivered", last_error="ReadTimeout after sending")
    page = client.get("/alerts").content.decode()
    delivered = section(page, "delivered")
    assert "#4242" in delivered and "S000USDT" in delivered and "S001USDT" not in delivered
    suppressed = section(page, "suppressed")
    assert "cooldown" in suppressed and "ALERT_COOLDOWN_HOURS" in suppressed
    problems = section(page, "problems")
    assert "can&#x27;t parse entities" in problems and "ReadTimeout after sending" in problems
    assert "Failed or possibly delivered · 2" in page
    assert 'href="/simulator/telegram"' in page


def test_each_group_shows_its_newest_rows_and_its_full_count(client):
    for s in signals(55, with_outcomes=False):
        delivery(s, D.SUPPRESSED, reason="stale")
    page = client.get("/alerts").content.decode()
    assert "Suppressed or summary only · 55" in page
    assert section(page, "suppressed").count('<th scope="row">') == 50
    assert "S054USDT" in page and "S000USDT" not in page


def test_without_alerts_the_page_says_how_they_come(client):
    page = client.get("/alerts").content.decode()
    assert "No alert yet" in page and "TELEGRAM_CHAT_ID" in page and 'href="/simulator/telegram"' in page
