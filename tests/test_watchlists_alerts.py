"""Alerts and watchlists: GET /api/watchlists/{id}/alerts lists the signals on its coins; an
alert-enabled watchlist limits its owner's Telegram deliveries to its coins (signals.outbox's hook)."""
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from signals.models import AlertDelivery, Recipient
from signals.outbox import record_signals
from tests.test_alert_support import CANDLE, NOW, coin, make_signal, queue
from tests.test_signals_outbox import scan
from watchlists.alerts import coin_limits
from watchlists.models import Watchlist

pytestmark = pytest.mark.django_db


def user_with_chat(username: str, chat_id: str, **fields) -> tuple[User, Recipient]:
    user = User.objects.create_user(username)
    return user, Recipient.objects.create(name=username, chat_id=chat_id, kind=Recipient.USER, user=user, **fields)


def make_watchlist(owner: User, name: str, symbols: list[str], *, alerts: bool) -> Watchlist:
    watchlist = Watchlist.objects.create(owner=owner, name=name, alerts_enabled=alerts)
    watchlist.coins.set([coin(s) for s in symbols])
    return watchlist


def delivered(recipient: Recipient) -> set[tuple[str, str]]:
    return set(AlertDelivery.objects.filter(recipient=recipient).values_list("signal__coin__symbol", "signal__scanner"))


EVERYTHING = {("ARBUSDT", "smart_money"), ("ARBUSDT", "unified"), ("DOGEUSDT", "smart_money"),
              ("ETHUSDT", "rsi"), ("NEWUSDT", "mss")}


def test_an_alert_enabled_watchlist_limits_its_owners_deliveries_to_its_coins():
    alice, alice_chat = user_with_chat("alice", "1001")
    bob, bob_chat = user_with_chat("bob", "1002")
    carol, carol_chat = user_with_chat("carol", "1003")
    dave, dave_chat = user_with_chat("dave", "1004")
    everyone = Recipient.objects.create(name="global", chat_id="-100900")
    make_watchlist(alice, "alerts", ["ARBUSDT", "ETHUSDT"], alerts=True)
    make_watchlist(alice, "browsing", ["DOGEUSDT"], alerts=False)  # not alert-enabled: does not widen
    make_watchlist(bob, "browsing", ["DOGEUSDT"], alerts=False)  # no alert-enabled list: everything
    make_watchlist(carol, "empty", [], alerts=True)  # alert-enabled but empty: nothing
    make_watchlist(dave, "one", ["DOGEUSDT"], alerts=True)
    make_watchlist(dave, "two", ["NEWUSDT", "DOGEUSDT"], alerts=True)  # the union of the enabled lists
    record_signals(scan(), now=NOW)
    assert delivered(alice_chat) == {("ARBUSDT", "smart_money"), ("ARBUSDT", "unified"), ("ETHUSDT", "rsi")}
    assert delivered(bob_chat) == EVERYTHING
    assert delivered(carol_chat) == set()
    assert delivered(dave_chat) == {("DOGEUSDT", "smart_money"), ("NEWUSDT", "mss")}
    assert delivered(everyone) == EVERYTHING


def test_the_limit_still_honours_the_tiers_the_user_wants():
    alice, chat = user_with_chat("alice", "1001", wants_tier_1=False)
    make_watchlist(alice, "alerts", ["ARBUSDT", "ETHUSDT"], alerts=True)
    record_signals(scan(), now=NOW)
    assert delivered(chat) == {("ARBUSDT", "unified"), ("ETHUSDT", "rsi")}  # ARB smart money is tier 1


def test_the_limits_are_read_in_one_query(django_assert_num_queries):
    users = [user_with_chat(f"u{i}", str(2000 + i)) for i in range(5)]
    for user, _ in users:
        make_watchlist(user, "a", ["ARBUSDT", "ETHUSDT"], alerts=True)
        make_watchlist(user, "b", ["DOGEUSDT"], alerts=True)
    recipients = [r for _, r in users] + [Recipient.objects.create(name="global", chat_id="-1")]
    with django_assert_num_queries(1):
        limits = coin_limits(recipients)
    assert limits == {r.pk: {coin("ARBUSDT").pk, coin("ETHUSDT").pk, coin("DOGEUSDT").pk} for _, r in users}


# ------------------------------------------------------------------ GET /api/watchlists/{id}/alerts

@pytest.fixture
def alice_api():
    user, chat = user_with_chat("alice", "1001")
    client = APIClient()
    client.force_authenticate(user)
    return client, user, chat


def test_it_lists_the_signals_on_its_coins_newest_first_with_your_delivery(alice_api):
    client, alice, chat = alice_api
    _, bob_chat = user_with_chat("bob", "1002")
    w = make_watchlist(alice, "w", ["ARBUSDT", "ETHUSDT"], alerts=False)
    old = make_signal("ARBUSDT", candle=CANDLE - timedelta(hours=2))
    new = make_signal("ETHUSDT", tier=3, scanner="rsi", kind="oversold", score=27, score_metric="rsi")
    make_signal("DOGEUSDT", direction="SHORT", kind="distributing")  # not on the list
    queue(old, chat, status=AlertDelivery.SENT, sent_at=NOW)
    queue(new, bob_chat, status=AlertDelivery.SENT, sent_at=NOW)  # bob's delivery is not alice's business
    body = client.get(f"/api/watchlists/{w.pk}/alerts").json()
    assert body["count"] == 2 and (body["next"], body["previous"]) == (None, None)
    first, second = body["results"]
    assert (first["id"], first["symbol"], first["tier"], first["scanner"], first["delivery"]) == (
        new.pk, "ETHUSDT", 3, "rsi", None)
    assert (second["id"], second["symbol"], second["direction"]) == (old.pk, "ARBUSDT", "LONG")
    assert second["delivery"] == {"status": "sent", "reason": "", "sent_at": "2025-11-15T08:02:00Z"}
    assert second["reasons"] == ["accumulation: buy pressure 81.2% > 80 → +3"]
    assert set(first) == {"id", "symbol", "scanner", "kind", "direction", "tier", "score", "score_metric",
                          "unified_score", "entry_price", "candle_close_time", "reasons", "simulated", "created_at",
                          "delivery"}


def test_alerts_are_paged_like_the_other_lists(alice_api):
    client, alice, _ = alice_api
    w = make_watchlist(alice, "w", ["ARBUSDT"], alerts=False)
    for hours in range(5):
        make_signal("ARBUSDT", candle=CANDLE - timedelta(hours=hours))
    url = f"/api/watchlists/{w.pk}/alerts"
    page = client.get(url, {"limit": 2, "offset": 2}).json()
    assert page["count"] == 5 and len(page["results"]) == 2
    assert page["next"] == f"http://testserver{url}?limit=2&offset=4"
    assert page["previous"] == f"http://testserver{url}?limit=2"
    assert client.get(url, {"offset": -1}).json() == {"offset": ["Must be an integer of 0 or more."]}


def test_an_empty_watchlist_has_no_alerts(alice_api):
    client, alice, _ = alice_api
    make_signal("ARBUSDT")
    w = make_watchlist(alice, "w", [], alerts=False)
    assert client.get(f"/api/watchlists/{w.pk}/alerts").json()["results"] == []


def test_the_alerts_list_runs_a_fixed_number_of_queries(alice_api, django_assert_max_num_queries):
    client, alice, chat = alice_api
    w = make_watchlist(alice, "w", ["ARBUSDT", "ETHUSDT"], alerts=False)
    for hours in range(30):
        queue(make_signal("ARBUSDT" if hours % 2 else "ETHUSDT", candle=CANDLE - timedelta(hours=hours)), chat)
    with django_assert_max_num_queries(8):
        assert len(client.get(f"/api/watchlists/{w.pk}/alerts").json()["results"]) == 30
