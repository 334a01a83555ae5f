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
