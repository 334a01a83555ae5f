"""The coin page alerts link to: scores, unified breakdown, signals; no query growth with history."""
import pytest

from marketdata.simulator.server import SimulatorServer
from tests.conftest import point_all_at

pytestmark = pytest.mark.django_db


def test_an_unknown_coin_is_a_404(client):
    response = client.get("/coins/NOPEUSDT")
    assert response.status_code == 404


def test_the_coin_page_shows_what_the_scan_stored(client, settings):
    from cryptosatx.scanning import scan
    from signals.models import UnifiedScore

    with SimulatorServer(seed=4, coins=30) as server:
        point_all_at(settings, server.base_url)
        scan("all", ["BTCUSDT", "ETHUSDT"])
    page = client.get("/coins/btcusdt").content.decode()  # symbols are case-insensitive
    unified = UnifiedScore.objects.get(coin__symbol="BTCUSDT", is_latest=True)
    assert f"{unified.unified_score:.1f}/100" in page
    for scanner in ("rsi", "smart_money", "social", "whale", "volume_spike"):
        assert f'<th scope="row">{scanner}</th>' in page
    assert "Simulated market" in page
    assert client.get("/").content.decode().count('href="/coins/') >= 2


def chart_data(page: str, element_id: str):
    import json
    import re

    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', page, re.S)
    assert match, f"no {element_id} in the page"
    return json.loads(match.group(1))


def test_the_price_chart_gets_the_candles_and_the_signals_inside_them(client):
    from datetime import timedelta

    from tests.outcome_factories import T, coin, path, signal

    c = coin("AAAUSDT")
    path(c, [100 + i for i in range(200)], start=T - timedelta(hours=199))  # more than the 7-day window
    long = signal(c, direction="LONG", entry=150.0, at=T - timedelta(hours=10))
    signal(c, direction="SHORT", entry=160.0, at=T - timedelta(hours=5), scanner="rsi", kind="overbought")
    signal(c, direction="LONG", entry=1.0, at=T - timedelta(days=30), scanner="social", kind="trending")  # before
    page = client.get("/coins/AAAUSDT").content.decode()
    assert 'id="price-chart"' in page and "vendor/chart.umd.min.js" in page and "js/coin.js" in page
    price = chart_data(page, "price-data")
    assert len(price["candles"]) == 168 and price["candles"][-1][1] == 299
    assert [s["direction"] for s in price["signals"]] == ["SHORT", "LONG"]
    assert price["signals"][1]["t"] == int(long.candle_close_time.timestamp() * 1000)
    assert price["signals"][1]["price"] == 150.0


def test_without_candles_the_page_says_how_to_get_them(client):
    from tests.outcome_factories import coin

    coin("BBBUSDT")
    page = client.get("/coins/BBBUSDT").content.decode()
    assert 'id="price-chart"' not in page and "No candles stored for BBBUSDT" in page
    assert "No unified score yet" in page and "No signals for this coin yet" in page


def test_the_waterfall_stacks_the_weighted_components_to_the_score(client):
    from tests.api_factories import breakdown, make_coin, make_unified

    raw = {"accumulation": 7.0, "mss": 60.0, "technical": 5.0}
    score = round(sum(part["points"] or 0 for part in breakdown(**raw).values()), 1)
    unified = make_unified(make_coin("WWWUSDT"), score, "TIER_3", raw=raw)
    page = client.get("/coins/WWWUSDT").content.decode()
    fall = chart_data(page, "waterfall-data")
    assert fall["labels"] == ["accumulation", "mss", "technical", "unified score"]
    points = [unified.breakdown[name]["points"] for name in fall["labels"][:-1]]
    assert fall["points"][:-1] == points
    level = 0.0
    for (low, high), part in zip(fall["bars"][:-1], points):
        assert low == pytest.approx(level) and high == pytest.approx(level + part)
        level += part
    assert level == pytest.approx(score, abs=0.05)  # the points sum to the score, before its rounding
    assert fall["bars"][-1] == [0, score] and 'id="waterfall-chart"' in page


def test_score_history_is_plotted_oldest_first(client):
    from datetime import timedelta

    from tests.api_factories import T0, make_coin, make_unified

    coin = make_coin("HHHUSDT")
    for i, score in enumerate([50.0, 55.0, 61.0]):
        make_unified(coin, score, "TIER_4", computed_at=T0 + timedelta(hours=i), is_latest=i == 2, raw={"mss": score})
    page = client.get("/coins/HHHUSDT").content.decode()
    assert [p[1] for p in chart_data(page, "history-data")["points"]] == [50.0, 55.0, 61.0]
    assert 'id="history-chart"' in page


def test_freshness_lists_each_source_and_the_coins_candles(client):
    from django.utils import timezone

    from tests.api_factories import make_source
    from tests.outcome_factories import T, coin, path

    make_source("binance_spot", last_success_at=timezone.now(), simulated=True)
    make_source("lunarcrush", last_error_at=timezone.now(), last_error="HTTP 503 from lunarcrush")
    path(coin("FFFUSDT"), [1.0, 2.0, 3.0], start=T)
    page = client.get("/coins/FFFUSDT").content.decode()
    assert "binance_spot" in page and "HTTP 503 from lunarcrush" in page and "FFFUSDT 1h candles" in page
    assert "3 stored" in page


def test_each_signal_has_its_outcome_and_an_add_trade_button_once_the_route_exists(client):
    from django.urls import reverse

    from cryptosatx.pages.common import can_add_trades
    from tests.outcome_factories import coin, outcome, signal

    s = signal(coin("TTTUSDT"))
    outcome(s, "1h", result="WIN", pnl=3.25)
    outcome(s, "24h", status="pending")
    page = client.get("/coins/TTTUSDT").content.decode()
    assert "1h 3.25% WIN" in page and "24h pending" in page
    if can_add_trades():
        assert f'action="{reverse("trade-from-signal", args=[s.id])}"' in page and "Add trade" in page
    else:
        assert "Add trade" not in page


@pytest.mark.urls("tests.trade_route_urls")
def test_the_add_trade_button_posts_with_a_csrf_token(client):
    from django.urls import reverse

    from tests.outcome_factories import coin, signal

    s = signal(coin("TTTUSDT"))
    page = client.get("/coins/TTTUSDT").content.decode()
    form = page[page.index(f'action="{reverse("trade-from-signal", args=[s.id])}"'):]
    assert 'name="csrfmiddlewaretoken"' in form[:400] and "Add trade</button>" in form[:400]
