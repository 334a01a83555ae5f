"""The app's page of what the simulator's Telegram received."""
import httpx
import pytest

from marketdata.simulator.server import SimulatorServer

pytestmark = pytest.mark.django_db


def test_it_shows_the_messages_the_simulator_accepted(client, settings):
    with SimulatorServer(seed=1, coins=20) as server:
        settings.SIMULATOR_URL = server.base_url
        settings.TELEGRAM_API_URL = f"{server.base_url}/telegram"
        assert "No message yet" in client.get("/simulator/telegram").content.decode()
        httpx.post(f"{server.base_url}/telegram/bot123:abc/sendMessage",
                   json={"chat_id": -1001, "text": "<b>TIER 1</b> AAAUSDT &amp; more", "parse_mode": "HTML"})
        page = client.get("/simulator/telegram").content.decode()
    assert "TIER 1 AAAUSDT &amp; more" in page and "chat -1001" in page


def test_a_stopped_simulator_is_explained(client, settings):
    settings.SIMULATOR_URL = "http://127.0.0.1:9"
    settings.TELEGRAM_API_URL = "http://127.0.0.1:9/telegram"
    assert "did not answer" in client.get("/simulator/telegram").content.decode()


def test_with_the_real_telegram_it_points_to_the_chat(client, settings):
    settings.TELEGRAM_API_URL = "https://api.telegram.org"
    assert "read the alerts in your Telegram chat" in client.get("/simulator/telegram").content.decode()
