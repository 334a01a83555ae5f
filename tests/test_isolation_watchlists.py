"""Isolation: alice's watchlists, alert settings and token are invisible and untouchable to bob on
every route of accounts/ and watchlists/ (pages and API), and anonymous requests get nothing.

The matrix below is checked against the apps' URL patterns: a route added later without a row here
fails `test_every_route_is_in_the_matrix`, so it cannot escape these tests."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django_q.models import Schedule
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts import api_urls as accounts_api, urls as accounts_pages
from scanners.models import ScanRun
from signals.models import Recipient
from tests.api_factories import make_coin
from tests.conftest import point_all_at
from tests.test_alert_support import make_signal
from watchlists import api_urls as watchlists_api, urls as watchlists_pages
from watchlists.models import Watchlist
from watchlists.schedules import sync_schedule

pytestmark = pytest.mark.django_db

SECRET_NAME = "alice-secret-list"
ALICE_CHAT = "777000111"

# Routes that act on one of alice's objects (by id): bob gets the same 404 as for an id that does
# not exist, and nothing of alice's changes. (method, body) per request tried.
BY_ID = {
    # pages
    "watchlist": [("get", None), ("post", {"name": "bob was here", "scan_interval_minutes": "15"})],
    "watchlist-add-coins": [("post", {"coins": "SOL"})],
    "watchlist-remove-coin": [("post", {"symbol": "BTCUSDT"})],
    "watchlist-scan-now": [("post", None)],
    "watchlist-delete": [("post", None)],
    # API
    "api:watchlist-detail": [("get", None), ("put", {"name": "bob was here", "coins": ["SOL"]}),
                             ("patch", {"alerts_enabled": False, "scan_interval_minutes": None}), ("delete", None)],
    "api:watchlist-scan": [("get", None)],
    "api:watchlist-alerts": [("get", None)],
    "api:watchlist-coins": [("put", {"coins": ["SOL"]})],
}

# Routes without an id: each user only ever sees and changes their own (checked one by one below).
OWN = {"watchlists", "account", "account-token", "api:watchlist-list", "api:watchlist-create",
       "api:account-alerts"}

# Routes that are public by nature, each with the reason.
PUBLIC = {
    "login": "the sign-in form: shows nobody's data",
    "logout": "ends the caller's own session only",
    "signup": "creates a new account (when SIGNUP_ENABLED): shows nobody's data",
}


def route_names() -> set[str]:
    names = {p.name for module in (accounts_pages, watchlists_pages) for p in module.urlpatterns}
    return names | {f"api:{p.name}" for module in (accounts_api, watchlists_api) for p in module.urlpatterns}


def test_every_route_is_in_the_matrix():
    covered = set(BY_ID) | OWN | set(PUBLIC)
    assert route_names() - covered == set(), "add the new route to the isolation matrix"
    assert covered - route_names() == set(), "the matrix names a route that no longer exists"
    assert not (set(BY_ID) & OWN) and not (set(BY_ID) & set(PUBLIC)) and not (OWN & set(PUBLIC))


@pytest.fixture
def world():
    """alice: a scheduled, alert-enabled watchlist with a signal on its coin, a chat and a token."""
    btc, _, _ = make_coin("BTCUSDT"), make_coin("ETHUSDT"), make_coin("SOLUSDT")
    alice = User.objects.create_user("alice", password="alice's password")
    bob = User.objects.create_user("bob", password="bob's password")
    watchlist = Watchlist.objects.create(owner=alice, name=SECRET_NAME, alerts_enabled=True, scan_interval_minutes=30)
    watchlist.coins.set([btc])
    sync_schedule(watchlist)
    Recipient.objects.create(name="alice", chat_id=ALICE_CHAT, kind=Recipient.USER, user=alice)
    Token.objects.create(user=alice)
    make_signal("BTCUSDT")
    return {"alice": alice, "bob": bob, "watchlist": watchlist}


def state() -> tuple:
    """Everything of alice's a request could change, and whether any scan ran."""
    watchlists = list(Watchlist.objects.filter(owner__username="alice").values_list(
        "pk", "name", "alerts_enabled", "scan_interval_minutes", "updated_at"))
    coins = sorted(Watchlist.coins.through.objects.filter(watchlist__owner__username="alice")
                   .values_list("watchlist_id", "coin_id"))
    schedules = list(Schedule.objects.filter(name__startswith="watchlist ").values_list("name", "minutes", "next_run"))
    recipients = list(Recipient.objects.order_by("pk").values())
    tokens = list(Token.objects.filter(user__username="alice").values_list("key", flat=True))
    return watchlists, coins, schedules, recipients, tokens, ScanRun.objects.count()


def as_user(user: User | None, api: bool):
    client = APIClient() if api else Client()
    if user is not None:
        client.force_login(user)
    return client


def call(client, method: str, url: str, body, api: bool):
    if api:
        return getattr(client, method)(url, body, format="json")
    return getattr(client, method)(url, body or {})


def url_of(name: str, pk: int) -> str:
    return reverse(name, kwargs={"pk": pk})


CASES = [(name, method, body) for name, requests in BY_ID.items() for method, body in requests]


@pytest.mark.parametrize("name, method, body", CASES)
def test_bob_gets_a_404_for_alices_object_and_nothing_changes(world, name, method, body):
    api = name.startswith("api:")
    bob = as_user(world["bob"], api)
    before = state()
    response = call(bob, method, url_of(name, world["watchlist"].pk), body, api)
    assert response.status_code == 404
    text = response.content.decode()
    assert SECRET_NAME not in text and "BTCUSDT" not in text
    assert state() == before
    # Indistinguishable from an id that does not exist.
    missing = call(bob, method, url_of(name, world["watchlist"].pk + 1000), body, api)
    assert missing.status_code == 404
    if api:
        assert response.json() == {"detail": f"Unknown watchlist: {world['watchlist'].pk}"}
        assert missing.json() == {"detail": f"Unknown watchlist: {world['watchlist'].pk + 1000}"}


@pytest.mark.parametrize("name, method, body", CASES)
def test_anonymous_gets_nothing_and_changes_nothing(world, name, method, body):
    api = name.startswith("api:")
    before = state()
    url = url_of(name, world["watchlist"].pk)
    response = call(as_user(None, api), method, url, body, api)
    if api:
        assert response.status_code in (401, 403)
    else:
        assert response.status_code == 302 and response["Location"] == f"/login?next={url}"
    assert SECRET_NAME not in response.content.decode()
    assert state() == before


@pytest.mark.parametrize("name, method, body", CASES)
def test_alice_herself_is_not_refused(world, name, method, body, settings):
    """The same requests by the owner do not 404: the 404s above come from ownership, not a broken route."""
    point_all_at(settings, "http://127.0.0.1:9")  # nothing listens: a scan fails fast, and must still not 404
    settings.HTTP_MAX_RETRIES = 0
    api = name.startswith("api:")
    response = call(as_user(world["alice"], api), method, url_of(name, world["watchlist"].pk), body, api)
    expected = (503,) if name == "api:watchlist-scan" else (200, 201, 204, 302)  # the scan reached the scanners
    assert response.status_code in expected, (response.status_code, response.content[:300])


# ------------------------------------------------------------------ routes without an id

@pytest.mark.parametrize("name", ["watchlists", "api:watchlist-list"])
def test_listings_never_include_someone_elses_watchlists(world, name):
    api = name.startswith("api:")
    response = as_user(world["bob"], api).get(reverse(name))
    assert response.status_code == 200
    assert SECRET_NAME not in response.content.decode()
    if api:
        assert response.json()["count"] == 0


@pytest.mark.parametrize("name, body", [
    ("watchlists", {"name": SECRET_NAME, "coins": "SOL"}),
    ("api:watchlist-list", {"name": SECRET_NAME, "coins": ["SOL"]}),
    ("api:watchlist-create", {"name": SECRET_NAME, "coins": ["SOL"]}),
])
def test_creating_makes_the_callers_own_watchlist_and_leaves_alices_alone(world, name, body):
    api = name.startswith("api:")
    before = state()
    response = call(as_user(world["bob"], api), "post", reverse(name), body, api)
    assert response.status_code in (201, 302)
    assert state() == before  # alice's (and the same name is fine in bob's own namespace)
    assert Watchlist.objects.filter(owner=world["bob"], name=SECRET_NAME).exists()


def test_the_plans_create_refuses_alices_user_id(world):
    before = state()
    for user_id in (str(world["alice"].pk), "alice"):
        response = as_user(world["bob"], True).post(reverse("api:watchlist-create"),
                                                    {"user_id": user_id, "name": "x", "coins": ["SOL"]}, format="json")
        assert response.status_code == 400
    assert state() == before and not Watchlist.objects.filter(owner=world["bob"]).exists()


def test_bobs_account_page_shows_none_of_alices_settings(world):
    page = as_user(world["bob"], False).get(reverse("account")).content.decode()
    assert ALICE_CHAT not in page and Token.objects.get(user=world["alice"]).key not in page
    assert SECRET_NAME not in page  # alice's alert-enabled watchlist


def test_bob_cannot_take_alices_chat(world):
    before = state()
    page = as_user(world["bob"], False).post(reverse("account"), {"chat_id": ALICE_CHAT, "enabled": "true"})
    api = as_user(world["bob"], True).put(reverse("api:account-alerts"), {"chat_id": ALICE_CHAT}, format="json")
    assert (page.status_code, api.status_code) == (400, 400)
    assert state() == before


def test_bobs_alert_settings_are_his_own(world):
    client = as_user(world["bob"], True)
    body = client.get(reverse("api:account-alerts")).json()
    assert (body["chat_id"], body["configured"], body["limited_to_watchlists"]) == (None, False, [])
    before = state()
    assert client.put(reverse("api:account-alerts"), {"chat_id": "555", "wants_tier_1": False},
                      format="json").status_code == 200
    assert Recipient.objects.get(user=world["bob"]).chat_id == "555"
    after = state()
    assert after[:3] == before[:3] and after[4:] == before[4:]
    assert [r for r in after[3] if r["user_id"] == world["alice"].pk] == [
        r for r in before[3] if r["user_id"] == world["alice"].pk]


def test_bobs_new_token_is_his_own(world):
    alice_token = Token.objects.get(user=world["alice"]).key
    as_user(world["bob"], False).post(reverse("account-token"))
    assert Token.objects.get(user=world["alice"]).key == alice_token
    assert Token.objects.filter(user=world["bob"]).exists()


ANONYMOUS_PAGES = [("watchlists", "get"), ("watchlists", "post"), ("account", "get"), ("account", "post"),
                   ("account-token", "post")]
ANONYMOUS_API = [("api:watchlist-list", "get"), ("api:watchlist-list", "post"), ("api:watchlist-create", "post"),
                 ("api:account-alerts", "get"), ("api:account-alerts", "put")]


def test_every_own_route_is_tried_anonymously():
    assert {name for name, _ in ANONYMOUS_PAGES + ANONYMOUS_API} == OWN


@pytest.mark.parametrize("name, method", ANONYMOUS_PAGES)
def test_anonymous_pages_redirect_to_the_login(world, name, method):
    before = state()
    response = getattr(Client(), method)(reverse(name))
    assert response.status_code == 302 and response["Location"] == f"/login?next={reverse(name)}"
    assert state() == before


@pytest.mark.parametrize("name, method", ANONYMOUS_API)
def test_anonymous_api_calls_are_refused(world, name, method):
    before = state()
    response = getattr(APIClient(), method)(reverse(name), {"name": "x", "chat_id": "1"}, format="json")
    assert response.status_code == 401
    assert state() == before
