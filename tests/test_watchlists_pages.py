"""The watchlist pages: list and create, a watchlist's coins with their latest unified scores, adding
and removing coins, settings, scan now, delete; errors name what was wrong and lose nothing."""
import pytest
from django.contrib.auth.models import User
from django_q.models import Schedule

from marketdata.models import Coin
from marketdata.simulator.server import SimulatorServer
from scanners.models import ScanRun
from tests.api_factories import make_coin, make_unified
from tests.conftest import point_all_at
from tests.test_alert_support import make_signal
from watchlists.models import Watchlist

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(client):
    for symbol in ("BTCUSDT", "ETHUSDT", "SOLUSDT"):
        make_coin(symbol)
    user = User.objects.create_user("alice")
    client.force_login(user)
    return user


def make(owner, name="Majors", symbols=("BTCUSDT", "ETHUSDT"), **fields) -> Watchlist:
    w = Watchlist.objects.create(owner=owner, name=name, **fields)
    w.coins.set(list(Coin.objects.filter(symbol__in=symbols)))
    return w


def html(response) -> str:
    return response.content.decode().replace("&#x27;", "'").replace("&quot;", '"')


def test_pages_need_a_login(client):
    assert client.get("/watchlists")["Location"] == "/login?next=/watchlists"


def test_an_empty_list_says_what_to_do(client, alice):
    page = html(client.get("/watchlists"))
    assert "No watchlist yet. Create one below" in page
    assert '<label for="id_name">' in page and '<label for="id_coins">' in page


def test_the_form_creates_a_watchlist(client, alice):
    response = client.post("/watchlists", {"name": "Majors", "coins": "btc, ETHUSDT sol"})
    w = Watchlist.objects.get()
    assert (response.status_code, response["Location"]) == (302, f"/watchlists/{w.pk}")
    assert sorted(w.coins.values_list("symbol", flat=True)) == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert w.owner == alice
    assert "Watchlist 'Majors' created." in html(client.get(response["Location"]))
    listing = html(client.get("/watchlists"))
    assert f'<a href="/watchlists/{w.pk}">Majors</a>' in listing


def test_unknown_symbols_are_named_and_the_form_keeps_what_was_typed(client, alice):
    response = client.post("/watchlists", {"name": "Typos", "coins": "BTC, NOPE, FAKEUSDT"})
    assert response.status_code == 400
    page = html(response)
    assert "Coins: Unknown symbols: NOPE, FAKEUSDT." in page
    assert 'value="BTC, NOPE, FAKEUSDT"' in page and 'value="Typos"' in page
    assert not Watchlist.objects.exists()


def test_a_duplicate_name_is_refused(client, alice):
    make(alice)
    response = client.post("/watchlists", {"name": "majors", "coins": ""})
    assert response.status_code == 400 and "You already have a watchlist named 'majors'." in html(response)
    assert Watchlist.objects.count() == 1


def test_the_detail_page_ranks_its_coins_by_their_latest_unified_score(client, alice):
    w = make(alice, symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT"))
    coins = {c.symbol: c for c in w.coins.all()}
    make_unified(coins["ETHUSDT"], 72.5, "TIER_2", raw={"accumulation": 7.25})
    make_unified(coins["BTCUSDT"], 58.0, "TIER_3", raw={"accumulation": 5.8})
    make_unified(make_coin("XRPUSDT"), 99.0, "TIER_1", raw={"accumulation": 9.9})  # not on the list
    page = html(client.get(f"/watchlists/{w.pk}"))
    assert page.index(">ETHUSDT<") < page.index(">BTCUSDT<") < page.index(">SOLUSDT<")
    assert "72.5" in page and "TIER_2 · STRONG BUY" in page and "XRPUSDT" not in page
    assert "not scored yet: scan the list" in page  # SOL


def test_the_detail_page_shows_recent_signals_on_its_coins(client, alice):
    w = make(alice)
    make_signal("BTCUSDT")
    make_signal("SOLUSDT", direction="SHORT", kind="distributing")
    page = html(client.get(f"/watchlists/{w.pk}"))
    signals = page[page.index("Recent signals"):]
    assert "BTCUSDT" in signals and "SOLUSDT" not in signals


def test_an_empty_watchlist_says_what_to_do(client, alice):
    w = make(alice, symbols=())
    page = html(client.get(f"/watchlists/{w.pk}"))
    assert "No coins on this list yet: add some below" in page and "No signal on these coins yet" in page


def test_coins_are_added_and_removed(client, alice):
    w = make(alice, symbols=("BTCUSDT",))
    response = client.post(f"/watchlists/{w.pk}/coins/add", {"coins": "eth, BTC"})
    assert response["Location"] == f"/watchlists/{w.pk}"
    assert sorted(w.coins.values_list("symbol", flat=True)) == ["BTCUSDT", "ETHUSDT"]
    assert "Added ETHUSDT." in html(client.get(f"/watchlists/{w.pk}"))
    client.post(f"/watchlists/{w.pk}/coins/remove", {"symbol": "BTCUSDT"})
    assert list(w.coins.values_list("symbol", flat=True)) == ["ETHUSDT"]


def test_adding_an_unknown_coin_names_it_and_changes_nothing(client, alice):
    w = make(alice, symbols=("BTCUSDT",))
    response = client.post(f"/watchlists/{w.pk}/coins/add", {"coins": "ETH, DOGGO"})
    assert response.status_code == 400 and "Unknown symbol: DOGGO." in html(response)
    assert list(w.coins.values_list("symbol", flat=True)) == ["BTCUSDT"]


def test_removing_a_coin_that_is_not_there_says_so(client, alice):
    w = make(alice, symbols=("BTCUSDT",))
    response = client.post(f"/watchlists/{w.pk}/coins/remove", {"symbol": "ETHUSDT"})
    assert response.status_code == 400 and "ETHUSDT is not on this watchlist." in html(response)


def test_settings_are_saved_and_an_unticked_box_means_off(client, alice):
    w = make(alice, alerts_enabled=True)
    client.post(f"/watchlists/{w.pk}", {"name": "Renamed", "scan_interval_minutes": "60"})
    w.refresh_from_db()
    assert (w.name, w.alerts_enabled, w.scan_interval_minutes) == ("Renamed", False, 60)
    assert Schedule.objects.filter(name=f"watchlist {w.pk}", minutes=60).exists()
    client.post(f"/watchlists/{w.pk}", {"name": "Renamed", "alerts_enabled": "true", "scan_interval_minutes": ""})
    w.refresh_from_db()
    assert (w.alerts_enabled, w.scan_interval_minutes) == (True, None)
    assert not Schedule.objects.filter(name=f"watchlist {w.pk}").exists()


def test_a_bad_interval_is_shown_and_nothing_is_saved(client, alice):
    w = make(alice)
    response = client.post(f"/watchlists/{w.pk}", {"name": "Renamed", "scan_interval_minutes": "5"})
    assert response.status_code == 400
    assert "Scan interval: Must be empty (no schedule) or a whole number of minutes between 15 and 10080." in html(
        response)
    assert 'value="5"' in html(response)
    w.refresh_from_db()
    assert (w.name, w.scan_interval_minutes) == ("Majors", None)


def test_delete(client, alice):
    w = make(alice, scan_interval_minutes=30)
    from watchlists.schedules import sync_schedule
    sync_schedule(w)
    response = client.post(f"/watchlists/{w.pk}/delete")
    assert response["Location"] == "/watchlists"
    assert not Watchlist.objects.exists() and not Schedule.objects.filter(name=f"watchlist {w.pk}").exists()
    assert "Watchlist 'Majors' deleted." in html(client.get("/watchlists"))


def test_actions_are_posts(client, alice):
    w = make(alice)
    for path in ("coins/add", "coins/remove", "scan", "delete"):
        assert client.get(f"/watchlists/{w.pk}/{path}").status_code == 405
    assert Watchlist.objects.filter(pk=w.pk).exists()


def test_scan_now_scans_the_coins_against_the_simulator(client, alice, settings):
    w = make(alice)
    with SimulatorServer(seed=4, coins=30) as market:
        point_all_at(settings, market.base_url)
        response = client.post(f"/watchlists/{w.pk}/scan", follow=True)
    run = ScanRun.objects.get()
    assert run.parameters["symbols"] == ["BTCUSDT", "ETHUSDT"]
    page = html(response)
    assert f"Scan #{run.pk} completed: 2 of 2 coins scored." in page
    assert "not scored yet" not in page


def test_scan_now_is_rate_limited(client, alice, monkeypatch):
    from watchlists import scanning

    monkeypatch.setattr(scanning, "SCANS_PER_MINUTE", 0)
    w = make(alice)
    response = client.post(f"/watchlists/{w.pk}/scan")
    assert response.status_code == 429 and "Too many scans: try again in" in html(response)
    assert not ScanRun.objects.exists()


def test_a_failed_scan_says_why(client, alice, settings):
    w = make(alice)
    point_all_at(settings, "http://127.0.0.1:9")
    settings.HTTP_MAX_RETRIES = 0
    page = html(client.post(f"/watchlists/{w.pk}/scan", follow=True))
    run = ScanRun.objects.get()
    assert f"Scan #{run.pk} failed: 0 of 0 coins scored; 1 error(s), the first: " in page
