"""A user's own Telegram alerts, as a signals.Recipient of kind "user": GET/PUT /api/account/alerts
and the account page's form, which accept the same values."""
from datetime import datetime, timezone

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from signals.models import Recipient
from watchlists.models import Watchlist

pytestmark = pytest.mark.django_db
URL = "/api/account/alerts"


@pytest.fixture
def alice():
    return User.objects.create_user("alice")


@pytest.fixture
def api(alice):
    client = APIClient()
    client.force_authenticate(alice)
    return client


def test_before_any_chat_is_set_get_shows_the_defaults(api):
    assert api.get(URL).json() == {
        "chat_id": None, "configured": False, "wants_tier_1": True, "wants_tier_2": True, "wants_tier_3": True,
        "wants_daily_summary": True, "enabled": True, "disabled_reason": None, "disabled_at": None,
        "limited_to_watchlists": []}
    assert not Recipient.objects.exists()


def test_put_creates_the_users_recipient(api, alice):
    body = api.put(URL, {"chat_id": " 123456789 ", "wants_tier_3": False}, format="json").json()
    assert (body["chat_id"], body["configured"], body["wants_tier_1"], body["wants_tier_3"]) == (
        "123456789", True, True, False)
    recipient = Recipient.objects.get()
    assert (recipient.kind, recipient.user, recipient.chat_id, recipient.wants_tier_3) == (
        Recipient.USER, alice, "123456789", False)
    recipient.full_clean()  # the model's own rules agree
    assert api.get(URL).json() == body


def test_put_again_updates_the_same_recipient_and_keeps_flags_left_out(api):
    api.put(URL, {"chat_id": "111", "wants_daily_summary": False}, format="json")
    body = api.put(URL, {"chat_id": "@my_channel", "wants_tier_2": False}, format="json").json()
    assert (body["chat_id"], body["wants_tier_2"], body["wants_daily_summary"]) == ("@my_channel", False, False)
    assert Recipient.objects.count() == 1


@pytest.mark.parametrize("body, field", [
    ({}, "chat_id"),
    ({"chat_id": ""}, "chat_id"),
    ({"chat_id": "12ab"}, "chat_id"),
    ({"chat_id": "@ab"}, "chat_id"),
    ({"chat_id": "1" * 65}, "chat_id"),
    ({"chat_id": "123", "wants_tier_1": "sometimes"}, "wants_tier_1"),
])
def test_bad_values_are_a_400_naming_the_field(api, body, field):
    response = api.put(URL, body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert not Recipient.objects.exists()


def test_a_chat_id_that_is_not_an_id_says_what_one_looks_like(api):
    assert api.put(URL, {"chat_id": "my chat"}, format="json").json() == {"chat_id": [
        "A chat id is an integer (negative for groups), e.g. 123456789, or @channelname."]}


def test_someone_elses_chat_is_refused(api):
    Recipient.objects.create(name="global", chat_id="-100200")
    bob = User.objects.create_user("bob")
    Recipient.objects.create(name="bob", chat_id="222", kind=Recipient.USER, user=bob)
    for chat in ("-100200", "222"):
        response = api.put(URL, {"chat_id": chat}, format="json")
        assert response.status_code == 400
        assert "already receives CryptoSatX alerts" in response.json()["chat_id"][0]
    assert Recipient.objects.count() == 2


def test_telegrams_refusal_is_shown_and_cleared_by_turning_alerts_on(api):
    api.put(URL, {"chat_id": "123"}, format="json")
    refused_at = datetime(2025, 11, 15, 8, 0, tzinfo=timezone.utc)
    Recipient.objects.update(enabled=False, disabled_reason="Forbidden: bot was blocked by the user",
                             disabled_at=refused_at)
    body = api.get(URL).json()
    assert (body["enabled"], body["disabled_reason"], body["disabled_at"]) == (
        False, "Forbidden: bot was blocked by the user", "2025-11-15T08:00:00Z")
    # Changing only the tiers keeps the refusal: nothing suggests Telegram would accept now.
    assert api.put(URL, {"chat_id": "123", "wants_tier_3": False}, format="json").json()["enabled"] is False
    body = api.put(URL, {"chat_id": "123", "enabled": True}, format="json").json()
    assert (body["enabled"], body["disabled_reason"], body["disabled_at"]) == (True, None, None)


def test_a_new_chat_clears_the_refusal_of_the_old_one(api):
    api.put(URL, {"chat_id": "123"}, format="json")
    Recipient.objects.update(enabled=False, disabled_reason="Bad Request: chat not found")
    body = api.put(URL, {"chat_id": "456"}, format="json").json()
    assert (body["chat_id"], body["enabled"], body["disabled_reason"]) == ("456", True, None)


def test_alerts_can_be_switched_off_without_losing_the_chat(api):
    api.put(URL, {"chat_id": "123"}, format="json")
    body = api.put(URL, {"chat_id": "123", "enabled": False}, format="json").json()
    assert (body["chat_id"], body["enabled"], body["configured"]) == ("123", False, True)


def test_it_names_the_watchlists_that_limit_the_alerts(api, alice):
    Watchlist.objects.create(owner=alice, name="Majors", alerts_enabled=True)
    Watchlist.objects.create(owner=alice, name="Browsing", alerts_enabled=False)
    Watchlist.objects.create(owner=User.objects.create_user("bob"), name="Bob's", alerts_enabled=True)
    (only,) = api.get(URL).json()["limited_to_watchlists"]
    assert only["name"] == "Majors"


def test_anonymous_is_a_401():
    assert APIClient().get(URL).status_code == 401
    assert APIClient().put(URL, {"chat_id": "1"}, format="json").status_code == 401
    assert not Recipient.objects.exists()


# ------------------------------------------------------------------ the account page's form

@pytest.fixture
def page(client, alice):
    client.force_login(alice)
    return client


def test_the_form_saves_the_same_settings(page, alice):
    response = page.post("/account", {"chat_id": "987", "wants_tier_1": "true", "wants_daily_summary": "true",
                                      "enabled": "true"})
    assert (response.status_code, response["Location"]) == (302, "/account")
    r = Recipient.objects.get(user=alice)
    # Unticked boxes are absent from a form: they mean "no".
    assert (r.chat_id, r.wants_tier_1, r.wants_tier_2, r.wants_tier_3, r.wants_daily_summary, r.enabled) == (
        "987", True, False, False, True, True)
    html = page.get("/account").content.decode()
    assert 'value="987"' in html and "Alert settings saved." in html


def test_form_errors_are_shown_and_the_values_kept(page):
    response = page.post("/account", {"chat_id": "not a chat", "wants_tier_1": "true"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Telegram chat id: A chat id is an integer" in html and 'value="not a chat"' in html
    assert 'aria-invalid="true"' in html
    assert not Recipient.objects.exists()


def test_the_page_shows_telegrams_refusal(page, alice):
    Recipient.objects.create(name="a", chat_id="5", kind=Recipient.USER, user=alice, enabled=False,
                             disabled_reason="Forbidden: bot was blocked by the user")
    html = page.get("/account").content.decode()
    assert "Telegram refused your chat" in html and "Forbidden: bot was blocked by the user" in html


def test_the_page_says_when_no_chat_is_set(page):
    assert "No chat set: you get no Telegram alerts." in page.get("/account").content.decode()


def test_the_form_fields_are_labelled(page):
    html = page.get("/account").content.decode()
    for field in ("chat_id", "wants_tier_1", "wants_tier_2", "wants_tier_3", "wants_daily_summary", "enabled"):
        assert f'<label for="id_{field}">' in html and f'id="id_{field}"' in html
