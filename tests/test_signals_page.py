"""/signals: newest first, paginated, filtered, each with its coin, tier, score, time and outcome."""
import re

import pytest

from signals.models import Signal
from tests.page_factories import signals

pytestmark = pytest.mark.django_db


def coins(page: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/coins/(\w+)">', page)


def test_signals_come_newest_first_with_their_outcome_so_far(client):
    signals(3)
    page = client.get("/signals").content.decode()
    assert coins(page) == ["S002USDT", "S001USDT", "S000USDT"]
    assert "1h 2.00% WIN" in page and "24h pending" in page
    short_row = re.search(r"<tr>(?:(?!</tr>).)*S001USDT.*?</tr>", page, re.S).group(0)
    assert "SHORT" in short_row and "1h 2.00% WIN" in short_row  # a SHORT whose price fell 2 % gained 2 %
    assert "accumulation 7.5" in page and 'class="SHORT"' in page


def test_the_feed_is_paginated(client):
    signals(30)
    first = client.get("/signals").content.decode()
    assert len(coins(first)) == 25 and "page 1 of 2 (30 in all)" in first
    second = client.get("/signals", {"page": 2}).content.decode()
    assert coins(second) == [f"S{i:03d}USDT" for i in range(4, -1, -1)]
    assert client.get("/signals", {"page": "zzz"}).status_code == 200  # a bad page is the first


def test_filters_by_scanner_tier_direction_and_coin(client):
    signals(6)
    assert coins(client.get("/signals", {"direction": "SHORT"}).content.decode()) == ["S005USDT", "S003USDT",
                                                                                    "S001USDT"]
    assert coins(client.get("/signals", {"tier": "1"}).content.decode()) == ["S003USDT", "S000USDT"]
    assert coins(client.get("/signals", {"scanner": "mss", "tier": "3"}).content.decode()) == ["S002USDT"]
    assert coins(client.get("/signals", {"symbol": "s004usdt"}).content.decode()) == ["S004USDT"]


def test_a_bad_filter_is_explained_and_the_good_ones_still_apply(client):
    signals(6)
    response = client.get("/signals", {"tier": "9", "direction": "SHORT"})
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_tier_error"' in page and "Tier: Select a valid choice. 9 is not one of" in page
    assert coins(page) == ["S005USDT", "S003USDT", "S001USDT"]


def test_empty_states_say_what_to_do(client):
    assert "python manage.py scan all" in client.get("/signals").content.decode()
    signals(2)
    assert "No signal matches these filters" in client.get("/signals", {"symbol": "NOPE"}).content.decode()


def test_a_signal_without_outcomes_says_it_is_not_tracked_yet(client):
    signals(1, with_outcomes=False)
    assert "not tracked yet" in client.get("/signals").content.decode()
    assert Signal.objects.count() == 1
