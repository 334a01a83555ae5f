"""The main flows in a browser, on data a real scan stored: the built-in market simulator answers the
scan (every scanner, the live pipeline), so the ranking, the coin's candles and the signals are the
project's own output, not hand-written rows."""
import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, reverse

from marketdata.simulator.server import SimulatorServer
from signals.models import AlertRule, Signal, UnifiedScore
from tests.browser.conftest import canvas_painted, off_the_browser_loop, shot
from tests.conftest import point_all_at

# The live server needs committed rows (a transactional database, flushed after each test); the
# serialized rollback puts back what the migrations wrote (the alert rules a scan's signals need).
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PASSWORD = "correct-horse-battery-9"


def route(name: str, *args) -> str:
    """The page's address, or skip: the page is not built yet (other helpers are building them)."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        pytest.skip(f"route {name!r} does not exist yet")


@pytest.fixture(scope="module")
def market():
    with SimulatorServer(seed=4, coins=30) as server:
        yield server


@pytest.fixture
def scanned(market, settings):
    """One `scan all` of the simulated market (about 2 s): unified scores, hourly candles, signals."""
    from cryptosatx.scanning import scan

    point_all_at(settings, market.base_url)
    run = off_the_browser_loop(scan, "all")
    assert run.status == "completed", run.status
    return run


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", password=PASSWORD)


def log_in(page, user, then: str = "/ranking") -> None:
    page.goto(f"{route('login')}?next={then}")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    shot(page, "login")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{then}")
    page.get_by_text(f"Signed in as {user.username}").wait_for()


def test_log_in_see_the_ranking_open_a_coin_and_add_a_trade_from_its_signal(page, scanned, alice):
    # One journey, one scan (the browser tests are kept near a minute).
    log_in(page, alice, then=route("ranking"))
    links = page.locator("#ranking-table > tbody > tr > th[scope=row] a")
    links.first.wait_for()
    scored = UnifiedScore.objects.filter(is_latest=True, unified_score__isnull=False).select_related("coin")
    best = max(scored, key=lambda u: u.unified_score)
    assert len(scored) > 10  # the scan scored most of the simulator's 30 coins
    assert {u.coin.symbol for u in scored} <= set(links.all_inner_texts())
    first = page.locator("#ranking-table > tbody > tr").first.locator("td").nth(1)
    assert first.inner_text() == f"{best.unified_score:.1f}"  # best first
    shot(page, "ranking")

    # a coin with a signal from this scan: its page draws the price chart
    signal = Signal.objects.filter(run=scanned, entry_price__isnull=False).select_related("coin").first()
    assert signal is not None, (f"the scan raised no signal with an entry price ({Signal.objects.count()} "
                                f"signals, {AlertRule.objects.count()} alert rules)")
    symbol = signal.coin.symbol
    page.locator(f"#ranking-table a[href='{route('coin', symbol)}']").click()
    page.wait_for_url(f"**{route('coin', symbol)}")
    assert page.get_by_role("heading", level=1).inner_text().startswith(symbol)
    assert canvas_painted(page, "#price-chart") > 1000
    shot(page, "coin")

    # its "Add trade" button puts the trade in the portfolio
    page.locator(f"form[action='{route('trade-from-signal', signal.pk)}'] button").click()
    page.wait_for_url(f"**{route('portfolio')}")
    page.get_by_text("from the signal").wait_for()
    assert f"from signal #{signal.pk}" in page.locator("main").inner_text()
    from portfolio.models import Trade

    trade = Trade.objects.get(owner=alice)
    assert (trade.signal_id, trade.coin_id, trade.entry_price) == (signal.pk, signal.coin_id, signal.entry_price)
    shot(page, "portfolio")


def test_create_a_watchlist(page, scanned, alice):
    log_in(page, alice, then=route("watchlists"))
    page.get_by_label("Name").fill("Majors")
    page.get_by_label("Coins (comma-separated symbols)").fill("BTC, NOPE")
    page.get_by_role("button", name="Create watchlist").click()
    page.get_by_role("alert").wait_for()
    assert "NOPE" in page.get_by_role("alert").inner_text()  # an unknown symbol is named, nothing saved
    assert not alice.watchlists.exists()
    page.get_by_label("Coins (comma-separated symbols)").fill("BTC, ETHUSDT")
    page.get_by_role("button", name="Create watchlist").click()
    page.get_by_role("heading", level=1, name="Majors").wait_for()
    watchlist = alice.watchlists.get()
    assert sorted(watchlist.coins.values_list("symbol", flat=True)) == ["BTCUSDT", "ETHUSDT"]
    assert page.url.endswith(route("watchlist", watchlist.pk))
    text = page.locator("main").inner_text()
    for symbol in ("BTCUSDT", "ETHUSDT"):  # each with the score the scan gave it
        score = UnifiedScore.objects.get(coin__symbol=symbol, is_latest=True).unified_score
        assert symbol in text and f"{score:.1f}" in text
    shot(page, "watchlist")


def test_start_a_backtest_and_see_its_result(page, scanned, alice):
    from backtest.models import BacktestRun
    from backtest.tasks import run_backtest

    log_in(page, alice, then=route("backtests"))
    page.get_by_role("button", name="Run backtest").click()  # the form's defaults: the stored week
    page.wait_for_url(re.compile(r"/backtests/\d+$"))
    run = BacktestRun.objects.get(owner=alice)
    page.get_by_text("Queued").wait_for()
    # The test is the q cluster's worker; the page polls and reloads itself when the run is done.
    off_the_browser_loop(run_backtest, run.pk)
    run.refresh_from_db()
    assert run.status == "done", run.error
    page.get_by_role("heading", name="Results").wait_for()
    assert canvas_painted(page, "#equity-chart") > 1000
    metrics = run.results["metrics"]
    results = page.locator("dl.metrics").inner_text()
    assert f"{metrics['final_equity']:.2f} USDT" in results and f"Trades\n{metrics['total_trades']}" in results
    shot(page, "backtest")
