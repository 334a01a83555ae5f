"""alice's trades and the recommendations drawn from them are invisible and untouchable to bob, on
every route of portfolio/ and recommend/ (pages and API); anonymous callers get 401/403 on the API and
the login page on pages. The matrix must name every route: a new route without a row fails here."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.shortcuts import resolve_url
from django.test import Client
from rest_framework.test import APIClient

import portfolio.api_urls
import portfolio.urls
import recommend.api_urls
import recommend.urls
from portfolio.models import Trade
from tests.outcome_factories import T, candle, coin, signal

pytestmark = pytest.mark.django_db
SECRET = "alice-secret-note"


@dataclass
class World:
    alice: object
    bob: object
    open_trade: Trade
    closed_trade: Trade
    signal_id: int


@pytest.fixture
def world() -> World:
    users = get_user_model().objects
    alice, bob = users.create_user("alice", password="pw-alice-123"), users.create_user("bob", password="pw-bob-123")
    c = coin("ALICEUSDT")
    candle(c, T, 150.0)
    open_trade = Trade.objects.create(owner=alice, coin=c, quantity=7, entry_price=100, opened_at=T, notes=SECRET)
    closed_trade = Trade.objects.create(owner=alice, coin=c, quantity=3, entry_price=100, opened_at=T, notes=SECRET,
                                        status="closed", exit_price=130, exit_fee=0, closed_at=T + timedelta(hours=30))
    return World(alice, bob, open_trade, closed_trade, signal(coin("SIGUSDT"), entry=4.0).pk)


def untouched(w: World) -> None:
    t, c = Trade.objects.get(pk=w.open_trade.pk), Trade.objects.get(pk=w.closed_trade.pk)
    assert (t.status, t.quantity, t.notes, t.owner_id) == ("open", 7, SECRET, w.alice.pk)
    assert (c.status, c.exit_price) == ("closed", 130)
    assert Trade.objects.filter(owner=w.alice).count() == 2


def no_alice_data(r, w: World) -> None:
    """Her notes, her trades' rows and her figures appear nowhere (the coin itself is public)."""
    body = r.content.decode()
    assert SECRET not in body
    assert f'id="trade-{w.open_trade.pk}"' not in body and f'id="trade-{w.closed_trade.pk}"' not in body
    assert '"n":1' not in body.replace(" ", "") and "From your 1 closed" not in body


@dataclass
class Case:
    route: str            # the URL name (API routes without the "api:" namespace)
    api: bool
    method: str
    path: Callable[[World], str]
    body: dict
    bob: Callable[[object, World], None]  # what bob gets (beyond: no data of alice's, nothing of hers changed)
    alice: Callable[[object, World], bool] = lambda r, w: f'id="trade-{w.open_trade.pk}"' in r.content.decode()


def page_404(r, w):
    assert r.status_code == 404


def api_404(r, w):
    assert r.status_code == 404 and r.json() == {"detail": "No Trade matches the given query."}


def bob_portfolio_page(r, w):
    assert r.status_code == 200 and "No open trades" in r.content.decode()


def bob_adds_his_own(r, w):
    assert r.status_code in (201, 302)
    assert Trade.objects.filter(owner=w.bob).count() == 1


def bob_add_page(r, w):
    assert r.status_code == 302 and Trade.objects.get(owner=w.bob).coin.symbol == "SIGUSDT"


def bob_list(r, w):
    assert r.status_code == 200 and r.json() == []


def bob_performance(r, w):
    body = r.json()
    assert r.status_code == 200 and (body["total_invested"], body["open_positions"], body["realized_gains"]) == (0, 0, 0)


def bob_recommendations(r, w):
    assert r.status_code == 200 and r.json()["your_success_pattern"]["n"] == 0


def bob_recommendations_page(r, w):
    assert r.status_code == 200 and "No closed trades yet" in r.content.decode()


OPEN = lambda w: w.open_trade.pk  # noqa: E731
CASES = [
    Case("portfolio", False, "get", lambda w: "/portfolio", {}, bob_portfolio_page),
    Case("portfolio", False, "post", lambda w: "/portfolio",
         {"coin": "SIGUSDT", "side": "long", "quantity": "1", "entry_price": "4", "entry_fee": "0"}, bob_add_page),
    Case("trade-close", False, "post", lambda w: f"/portfolio/trades/{OPEN(w)}/close",
         {f"t{0}-exit_price": "1"}, page_404),
    Case("trade-delete", False, "post", lambda w: f"/portfolio/trades/{OPEN(w)}/delete", {}, page_404),
    Case("trade-from-signal", False, "post", lambda w: f"/portfolio/from-signal/{w.signal_id}", {}, bob_adds_his_own),
    Case("recommendations", False, "get", lambda w: "/recommendations", {}, bob_recommendations_page,
         lambda r, w: "From your 1 closed trade" in r.content.decode()),
    Case("portfolio-trades", True, "get", lambda w: "/api/portfolio/trades", {}, bob_list,
         lambda r, w: {t["id"] for t in r.json()} == {w.open_trade.pk, w.closed_trade.pk}),
    Case("portfolio-trades", True, "post", lambda w: "/api/portfolio/trades",
         {"coin": "SIGUSDT", "quantity": 1, "entry_price": 4}, bob_adds_his_own),
    Case("portfolio-trade", True, "get", lambda w: f"/api/portfolio/trades/{OPEN(w)}", {}, api_404,
         lambda r, w: r.json()["notes"] == SECRET),
    Case("portfolio-trade", True, "get", lambda w: f"/api/portfolio/trades/{w.closed_trade.pk}", {}, api_404,
         lambda r, w: r.json()["pnl"] == 90),
    Case("portfolio-trade", True, "patch", lambda w: f"/api/portfolio/trades/{OPEN(w)}", {"notes": "bob was here"},
         api_404),
    Case("portfolio-trade", True, "delete", lambda w: f"/api/portfolio/trades/{OPEN(w)}", {}, api_404),
    Case("portfolio-trade-close", True, "post", lambda w: f"/api/portfolio/trades/{OPEN(w)}/close",
         {"exit_price": 1}, api_404),
    Case("portfolio-trade-from-signal", True, "post", lambda w: f"/api/portfolio/trades/from-signal/{w.signal_id}",
         {}, bob_adds_his_own),
    Case("portfolio-performance", True, "get", lambda w: "/api/portfolio/performance", {}, bob_performance,
         lambda r, w: (r.json()["open_positions"], r.json()["realized_gains"]) == (1, 90)),
    Case("recommendations", True, "get", lambda w: "/api/recommendations", {}, bob_recommendations,
         lambda r, w: r.json()["your_success_pattern"]["n"] == 1),
]
IDS = [f"{'api' if c.api else 'page'}:{c.route}:{c.method}:{i}" for i, c in enumerate(CASES)]


def route_names() -> set[tuple[bool, str]]:
    return ({(False, p.name) for m in (portfolio.urls, recommend.urls) for p in m.urlpatterns} |
            {(True, p.name) for m in (portfolio.api_urls, recommend.api_urls) for p in m.urlpatterns})


def test_the_matrix_covers_every_route():
    assert route_names() - {(c.api, c.route) for c in CASES} == set()
    assert all(name for _, name in route_names())


def call(client, case: Case, w: World):
    path, method = case.path(w), getattr(client, case.method)
    if case.api:
        return method(path, case.body, format="json")
    body = {k.replace("t0-", f"t{OPEN(w)}-"): v for k, v in case.body.items()}
    return method(path, body)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_anonymous_gets_no_data_and_changes_nothing(case, world):
    r = call(APIClient() if case.api else Client(), case, world)
    if case.api:
        assert r.status_code in (401, 403)
    else:
        assert r.status_code == 302 and r["Location"].startswith(resolve_url(settings.LOGIN_URL))
    no_alice_data(r, world)
    untouched(world)
    assert not Trade.objects.exclude(owner=world.alice).exists()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_bob_cannot_see_or_touch_alices_trades(case, world):
    client = APIClient() if case.api else Client()
    client.force_login(world.bob)
    r = call(client, case, world)
    no_alice_data(r, world)
    case.bob(r, world)
    untouched(world)
    # and alice's own views never show bob's trades
    mine = APIClient()
    mine.force_login(world.alice)
    assert {t["id"] for t in mine.get("/api/portfolio/trades").json()} == {world.open_trade.pk, world.closed_trade.pk}


@pytest.mark.parametrize("case", [c for c in CASES if c.method == "get"], ids=[i for i, c in zip(IDS, CASES)
                                                                            if c.method == "get"])
def test_alice_sees_her_own(case, world):
    client = APIClient() if case.api else Client()
    client.force_login(world.alice)
    r = call(client, case, world)
    assert r.status_code == 200 and case.alice(r, world)
