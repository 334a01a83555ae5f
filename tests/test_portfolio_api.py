"""The portfolio API: adding, editing, closing and deleting trades, from-signal defaults, and bad input."""
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from portfolio.models import Trade
from tests.outcome_factories import T, candle, coin, signal

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    return get_user_model().objects.create_user("alice", password="pw-alice-123")


@pytest.fixture
def api(alice):
    client = APIClient()
    client.force_authenticate(alice)
    return client


def add(api, **body):
    return api.post("/api/portfolio/trades", {"coin": "AAAUSDT", "quantity": 2, "entry_price": 100, **body},
                    format="json")


def test_it_adds_a_trade_by_hand_and_lists_it_with_its_pnl(api, alice):
    c = coin("AAAUSDT")
    candle(c, T, 105.0)
    r = add(api, coin="aaausdt", entry_fee=1, opened_at=T.isoformat())
    assert r.status_code == 201, r.json()
    body = r.json()
    assert (body["coin"], body["side"], body["status"], body["signal"]) == ("AAAUSDT", "long", "open", None)
    assert body["invested"] == 201 and body["current_price"] == 105.0 and body["pnl"] == pytest.approx(9.0)
    listed = api.get("/api/portfolio/trades").json()
    assert [t["id"] for t in listed] == [body["id"]]
    assert api.get("/api/portfolio/trades", {"status": "closed"}).json() == []


def test_a_past_trade_can_be_entered_closed(api):
    coin("AAAUSDT")
    r = add(api, exit_price=120, exit_fee=1, opened_at=T.isoformat(), closed_at=(T + timedelta(days=2)).isoformat())
    assert r.status_code == 201, r.json()
    assert r.json()["status"] == "closed" and r.json()["pnl"] == pytest.approx(39.0)


def test_from_signal_defaults_to_the_signals_coin_price_and_100_usdt(api, alice):
    s = signal(coin("BBBUSDT"), entry=250.0)
    r = api.post(f"/api/portfolio/trades/from-signal/{s.pk}", {}, format="json")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert (body["coin"], body["signal"], body["entry_price"], body["side"]) == ("BBBUSDT", s.pk, 250.0, "long")
    assert body["quantity"] == pytest.approx(0.4)  # 100 USDT / 250
    trade = Trade.objects.get(pk=body["id"])
    assert trade.owner == alice and abs(trade.opened_at - timezone.now()) < timedelta(minutes=1)


def test_from_a_short_signal_it_enters_a_short_with_the_quantity_given(api):
    s = signal(coin("CCCUSDT"), direction="SHORT", kind="distributing", scanner="smart_money", entry=2.0)
    r = api.post(f"/api/portfolio/trades/from-signal/{s.pk}", {"quantity": 10, "entry_price": 2.1}, format="json")
    assert r.status_code == 201 and (r.json()["side"], r.json()["quantity"], r.json()["entry_price"]) == ("short", 10, 2.1)


def test_a_signal_without_an_entry_price_needs_one(api):
    s = signal(coin("DDDUSDT"), entry=None)
    r = api.post(f"/api/portfolio/trades/from-signal/{s.pk}", {}, format="json")
    assert r.status_code == 400 and "entry_price" in r.json()
    assert not Trade.objects.exists()
    assert api.post("/api/portfolio/trades/from-signal/999999", {}, format="json").status_code == 404


def test_close_records_the_exit_and_realizes_the_pnl(api):
    coin("AAAUSDT")
    tid = add(api, opened_at=T.isoformat()).json()["id"]
    r = api.post(f"/api/portfolio/trades/{tid}/close", {"exit_price": 90, "exit_fee": 0.5,
                                                          "closed_at": (T + timedelta(hours=3)).isoformat()}, format="json")
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "closed" and r.json()["pnl"] == pytest.approx(-20.5)
    again = api.post(f"/api/portfolio/trades/{tid}/close", {"exit_price": 95}, format="json")
    assert again.status_code == 400 and "already closed" in again.json()["status"][0]
    perf = api.get("/api/portfolio/performance").json()
    assert perf["realized_gains"] == pytest.approx(-20.5) and perf["open_positions"] == 0


@pytest.mark.parametrize("body, field", [
    ({"exit_price": 0}, "exit_price"),
    ({"exit_price": -5}, "exit_price"),
    ({"exit_price": "NaN"}, "exit_price"),
    ({"exit_price": "Infinity"}, "exit_price"),
    ({"exit_price": "abc"}, "exit_price"),
    ({}, "exit_price"),
    ({"exit_price": 10, "exit_fee": -1}, "exit_fee"),
    ({"exit_price": 10, "closed_at": "2025-10-31T00:00:00Z"}, "closed_at"),  # before the entry
    ({"exit_price": 10, "closed_at": "2999-01-01T00:00:00Z"}, "closed_at"),
    ({"exit_price": 10, "closed_at": "yesterday"}, "closed_at"),
    ({"exit_price": 1e300}, "exit_price"),
])
def test_a_bad_close_is_a_400_naming_the_field_and_changes_nothing(api, body, field):
    coin("AAAUSDT")
    tid = add(api, opened_at=T.isoformat()).json()["id"]
    r = api.post(f"/api/portfolio/trades/{tid}/close", body, format="json")
    assert r.status_code == 400 and field in r.json(), r.json()
    assert Trade.objects.get(pk=tid).status == Trade.OPEN


@pytest.mark.parametrize("body, field", [
    ({"quantity": 0}, "quantity"),
    ({"quantity": -1}, "quantity"),
    ({"quantity": "lots"}, "quantity"),
    ({"entry_price": 0}, "entry_price"),
    ({"entry_price": "NaN"}, "entry_price"),
    ({"entry_fee": -0.01}, "entry_fee"),
    ({"coin": "NOPEUSDT"}, "coin"),
    ({"coin": ""}, "coin"),
    ({"side": "sideways"}, "side"),
    ({"opened_at": "2999-01-01T00:00:00Z"}, "opened_at"),
    ({"opened_at": "not a date"}, "opened_at"),
    ({"closed_at": "2025-11-02T00:00:00Z"}, "exit_price"),  # an exit time without an exit price
    ({"exit_price": 5, "opened_at": "2025-11-05T00:00:00Z", "closed_at": "2025-11-02T00:00:00Z"}, "closed_at"),
    ({"quantity": 1e300}, "quantity"),
])
def test_a_bad_trade_is_a_400_naming_the_field(api, body, field):
    coin("AAAUSDT")
    r = add(api, **body)
    assert r.status_code == 400 and field in r.json(), r.json()
    assert not Trade.objects.exists()


def test_garbage_bodies_are_400s_not_500s(api):
    coin("AAAUSDT")
    s = signal(coin("BBBUSDT"))
    tid = add(api).json()["id"]
    for url in ("/api/portfolio/trades", f"/api/portfolio/trades/{tid}/close",
                f"/api/portfolio/trades/from-signal/{s.pk}"):
        assert api.post(url, "{not json", content_type="application/json").status_code == 400
        assert api.post(url, [1, 2], format="json").status_code == 400
    assert api.patch(f"/api/portfolio/trades/{tid}", "[]", content_type="application/json").status_code == 400
    assert api.get("/api/portfolio/trades", {"status": "maybe"}).status_code == 400
    r = api.post(f"/api/portfolio/trades/from-signal/{s.pk}", {"quantity": "x"}, format="json")
    assert r.status_code == 400 and "quantity" in r.json()


def test_patch_edits_fields_but_not_the_coin_and_does_not_close(api):
    coin("AAAUSDT"), coin("BBBUSDT")
    tid = add(api, opened_at=T.isoformat()).json()["id"]
    r = api.patch(f"/api/portfolio/trades/{tid}", {"quantity": 3, "notes": "scaled in"}, format="json")
    assert r.status_code == 200 and (r.json()["quantity"], r.json()["notes"]) == (3, "scaled in")
    assert api.patch(f"/api/portfolio/trades/{tid}", {"coin": "BBBUSDT"}, format="json").status_code == 400
    r = api.patch(f"/api/portfolio/trades/{tid}", {"exit_price": 5}, format="json")
    assert r.status_code == 400 and "close" in r.json()["exit_price"][0]
    r = api.patch(f"/api/portfolio/trades/{tid}", {"status": "closed"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "open"  # status is read-only
    assert api.patch(f"/api/portfolio/trades/{tid}", {"quantity": -2}, format="json").status_code == 400


def test_a_closed_trades_exit_can_be_corrected_but_not_before_its_entry(api):
    coin("AAAUSDT")
    tid = add(api, opened_at=T.isoformat(), exit_price=110, closed_at=(T + timedelta(days=1)).isoformat()).json()["id"]
    assert api.patch(f"/api/portfolio/trades/{tid}", {"exit_price": 111}, format="json").json()["exit_price"] == 111
    r = api.patch(f"/api/portfolio/trades/{tid}", {"opened_at": (T + timedelta(days=2)).isoformat()}, format="json")
    assert r.status_code == 400 and "closed_at" in r.json()


def test_delete_removes_the_trade(api):
    coin("AAAUSDT")
    tid = add(api).json()["id"]
    assert api.delete(f"/api/portfolio/trades/{tid}").status_code == 204
    assert api.get(f"/api/portfolio/trades/{tid}").status_code == 404


def test_the_schema_documents_the_portfolio_and_recommendations(api):
    paths = APIClient().get("/api/schema/", {"format": "json"}).json()["paths"]
    assert {"/api/portfolio/trades", "/api/portfolio/trades/{id}", "/api/portfolio/trades/{id}/close",
            "/api/portfolio/trades/from-signal/{signal_id}", "/api/portfolio/performance",
            "/api/recommendations"} <= set(paths)
