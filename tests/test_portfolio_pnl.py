"""P&L worked by hand: fees, realized vs unrealized, shorts, and a coin without a stored price."""
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model

from marketdata.models import DataSource
from portfolio.models import Trade
from portfolio.valuation import performance
from tests.outcome_factories import T, candle, coin

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    return get_user_model().objects.create_user("alice", password="pw-alice-123")


def trade(owner, c, **kw):
    fields = {"side": Trade.LONG, "quantity": 2.0, "entry_price": 100.0, "entry_fee": 1.0, "opened_at": T}
    return Trade.objects.create(owner=owner, coin=c, **{**fields, **kw})


def test_a_closed_long_realizes_the_move_less_both_fees(alice):
    t = trade(alice, coin("AAAUSDT"), status=Trade.CLOSED, exit_price=110.0, exit_fee=1.5, closed_at=T + timedelta(hours=5))
    # (110 − 100) × 2 − 1 − 1.5 = 17.5 on 100 × 2 + 1 = 201 invested
    assert t.invested == 201.0
    assert t.realized_pnl == pytest.approx(17.5)
    p = performance([t])
    assert p["total_invested"] == 201.0
    assert p["current_value"] == pytest.approx(218.5)
    assert p["total_pnl"] == pytest.approx(17.5)
    assert p["total_pnl_pct"] == pytest.approx(17.5 / 201 * 100, abs=1e-4)
    assert p["realized_gains"] == pytest.approx(17.5)
    assert p["unrealized_pnl"] == 0
    assert (p["open_positions"], p["closed_positions"]) == (0, 1)


def test_an_open_position_is_valued_at_the_latest_stored_candle_close(alice):
    c = coin("BBBUSDT")
    candle(c, T, 90.0)
    candle(c, T + timedelta(hours=1), 120.0)  # the latest close
    t = trade(alice, c)
    p = performance([t])
    # (120 − 100) × 2 − 1 (the entry fee; no exit fee yet) = 39
    assert p["unrealized_pnl"] == pytest.approx(39.0)
    assert p["realized_gains"] == 0
    assert p["current_value"] == pytest.approx(240.0)
    assert p["total_pnl"] == pytest.approx(39.0)
    assert p["open_positions"] == 1 and p["unpriced"] == []
    assert p["prices"]["oldest_as_of"] == T + timedelta(hours=2) - timedelta(milliseconds=1)


def test_a_short_gains_when_the_price_falls(alice):
    c = coin("CCCUSDT")
    candle(c, T, 80.0)
    open_short = trade(alice, c, side=Trade.SHORT, entry_fee=0.0)
    closed_short = trade(alice, c, side=Trade.SHORT, quantity=1.0, entry_fee=0.5, status=Trade.CLOSED,
                         exit_price=130.0, exit_fee=0.5, closed_at=T + timedelta(days=1))
    p = performance([open_short, closed_short])
    assert p["unrealized_pnl"] == pytest.approx((100 - 80) * 2)          # +40
    assert p["realized_gains"] == pytest.approx((100 - 130) * 1 - 1.0)   # −31
    assert p["total_invested"] == pytest.approx(200 + 100.5)
    assert p["total_pnl"] == pytest.approx(9.0)
    assert p["current_value"] == pytest.approx(300.5 + 9.0)


def test_a_coin_without_a_price_is_reported_unpriced_not_valued_at_zero(alice):
    priced, bare = coin("DDDUSDT"), coin("EEEUSDT")
    candle(priced, T, 110.0)
    a = trade(alice, priced, entry_fee=0.0)
    b = trade(alice, bare, entry_fee=0.0, quantity=5.0)
    p = performance([a, b])
    assert p["total_invested"] == 200.0  # only the priced trade
    assert p["total_pnl"] == pytest.approx(20.0)
    assert p["trades_valued"] == 1 and p["open_positions"] == 2
    assert p["unpriced"] == [{"id": b.pk, "symbol": "EEEUSDT", "invested": 500.0,
                              "reason": "no stored candle for this coin yet, so no current price"}]


def test_a_closed_trade_needs_no_price(alice):
    t = trade(alice, coin("FFFUSDT"), status=Trade.CLOSED, exit_price=95.0, exit_fee=0.0,
              closed_at=T + timedelta(hours=1))
    p = performance([t])
    assert p["unpriced"] == [] and p["realized_gains"] == pytest.approx(-11.0)


def test_nothing_invested_gives_no_percentage():
    p = performance([])
    assert p["total_invested"] == 0 and p["total_pnl_pct"] is None and p["current_value"] == 0


def test_it_says_whether_prices_are_simulated(alice):
    t = trade(alice, coin("GGGUSDT"))
    assert performance([t])["prices"]["simulated"] is False
    DataSource.objects.create(name="binance_spot", base_url="http://127.0.0.1:8765", simulated=True)
    assert performance([t])["prices"]["simulated"] is True
