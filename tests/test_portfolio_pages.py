"""/portfolio and the one-click "Add trade" endpoint the signals feed and coin page post to."""
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from portfolio.models import Trade
from tests.outcome_factories import T, candle, coin, signal

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    return get_user_model().objects.create_user("alice", password="pw-alice-123")


@pytest.fixture
def browser(client, alice):
    client.force_login(alice)
    return client


def test_an_empty_portfolio_says_what_to_do_next(browser):
    html = browser.get("/portfolio").content.decode()
    assert "No open trades" in html and "Add trade" in html and "No closed trades yet" in html


def test_add_trade_on_a_signal_enters_100_usdt_and_shows_it_on_the_portfolio(browser, alice):
    c = coin("GEMUSDT")
    candle(c, T, 0.6)
    s = signal(c, entry=0.5)
    r = browser.post(reverse("trade-from-signal", args=[s.pk]), follow=True)
    assert r.redirect_chain[-1][0] == reverse("portfolio")
    trade = Trade.objects.get(owner=alice)
    assert (trade.coin, trade.signal, trade.entry_price, trade.quantity) == (c, s, 0.5, 200.0)
    html = r.content.decode()
    assert "Added a long trade of 200 GEMUSDT at 0.5 from the signal." in html
    assert 'id="trade-%d"' % trade.pk in html and f"from signal #{s.pk}" in html
    assert "+20.00" in html  # (0.6 − 0.5) × 200


def test_add_trade_takes_an_optional_quantity_and_reports_bad_ones(browser, alice):
    s = signal(coin("GEMUSDT"), entry=2.0)
    browser.post(reverse("trade-from-signal", args=[s.pk]), {"quantity": "3"})
    assert Trade.objects.get().quantity == 3
    r = browser.post(reverse("trade-from-signal", args=[s.pk]), {"quantity": "-1"}, follow=True)
    assert "Not added" in r.content.decode() and Trade.objects.count() == 1
    r = browser.post(reverse("trade-from-signal", args=[s.pk]), {"quantity": "many"}, follow=True)
    assert "Not added" in r.content.decode() and Trade.objects.count() == 1
    assert browser.post(reverse("trade-from-signal", args=[999999])).status_code == 404
    assert browser.get(reverse("trade-from-signal", args=[s.pk])).status_code == 405


def test_a_double_click_on_add_trade_enters_one_trade(browser, alice):
    s = signal(coin("GEMUSDT"), entry=0.5)
    browser.post(reverse("trade-from-signal", args=[s.pk]))
    r = browser.post(reverse("trade-from-signal", args=[s.pk]), follow=True)
    assert Trade.objects.filter(owner=alice).count() == 1
    assert "Already added: the GEMUSDT trade from this signal a moment ago." in r.content.decode()
    Trade.objects.update(created_at=Trade.objects.get().created_at - timedelta(seconds=11))
    browser.post(reverse("trade-from-signal", args=[s.pk]))  # a deliberate second trade later on
    assert Trade.objects.filter(owner=alice).count() == 2


def test_a_signal_without_an_entry_price_is_not_added(browser):
    s = signal(coin("GEMUSDT"), entry=None)
    r = browser.post(reverse("trade-from-signal", args=[s.pk]), follow=True)
    assert "Not added (GEMUSDT)" in r.content.decode() and not Trade.objects.exists()


def test_the_add_form_adds_a_trade_and_shows_errors_without_losing_input(browser, alice):
    coin("AAAUSDT")
    r = browser.post("/portfolio", {"coin": "aaausdt", "side": "long", "quantity": "1.5", "entry_price": "10",
                                    "entry_fee": "0", "opened_at": "2025-11-01T00:00", "notes": ""})
    assert r.status_code == 302 and Trade.objects.get().quantity == 1.5
    r = browser.post("/portfolio", {"coin": "ZZZUSDT", "side": "long", "quantity": "0", "entry_price": "abc",
                                    "entry_fee": "-1", "opened_at": "2999-01-01T00:00", "notes": "keep me"})
    html = r.content.decode()
    assert r.status_code == 400 and Trade.objects.count() == 1
    for message in ("Unknown coin: ZZZUSDT", "Must be a number greater than 0.", "Enter a number.",
                    "Must be a number of 0 or more.", "The entry time is in the future."):
        assert message in html, message
    assert 'value="keep me"' in html


def test_close_form_closes_and_explains_bad_exits(browser, alice):
    c = coin("AAAUSDT")
    t = Trade.objects.create(owner=alice, coin=c, quantity=1, entry_price=100, opened_at=T)
    url = reverse("trade-close", args=[t.pk])
    r = browser.post(url, {f"t{t.pk}-exit_price": "abc"})
    assert r.status_code == 400 and "Enter a number." in r.content.decode()
    r = browser.post(url, {f"t{t.pk}-exit_price": "90", f"t{t.pk}-closed_at": "2025-10-01T00:00"})
    assert r.status_code == 400 and "The exit must come after the entry." in r.content.decode()
    t.refresh_from_db()
    assert t.status == Trade.OPEN
    r = browser.post(url, {f"t{t.pk}-exit_price": "120", f"t{t.pk}-exit_fee": "1",
                           f"t{t.pk}-closed_at": (T + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")}, follow=True)
    t.refresh_from_db()
    assert t.status == Trade.CLOSED and t.realized_pnl == pytest.approx(19.0)
    html = r.content.decode()
    assert "Closed the AAAUSDT trade at 120." in html and "+19.00" in html


def test_delete_removes_a_trade(browser, alice):
    t = Trade.objects.create(owner=alice, coin=coin("AAAUSDT"), quantity=1, entry_price=100, opened_at=T)
    browser.post(reverse("trade-delete", args=[t.pk]))
    assert not Trade.objects.exists()


def test_an_unpriced_coin_is_called_out_on_the_page(browser, alice):
    Trade.objects.create(owner=alice, coin=coin("NEWUSDT"), quantity=1, entry_price=100, opened_at=T)
    html = browser.get("/portfolio").content.decode()
    assert "Not in the totals" in html and "NEWUSDT (trade #" in html and "no price yet" in html


def test_the_nav_links_to_portfolio_and_recommendations(browser):
    html = browser.get("/portfolio").content.decode()
    assert 'href="/portfolio"' in html and 'href="/recommendations"' in html


def test_signed_out_the_button_leads_to_the_login_page_and_back_to_the_portfolio(client):
    s = signal(coin("GEMUSDT"), entry=2.0)
    r = client.post(reverse("trade-from-signal", args=[s.pk]))
    assert r.status_code == 302 and r["Location"].endswith("?next=/portfolio")
    assert not Trade.objects.exists()
