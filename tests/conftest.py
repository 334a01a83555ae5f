import pytest

from marketdata.governor import reset_governors


@pytest.fixture(autouse=True)
def fresh_governors():
    """Each test starts with no remembered rate-limit state and empty caches (a later test's
    server may reuse an earlier one's port)."""
    from django.core.cache import cache

    from marketdata.cache import smart_cache
    from scanners.gather import forget_candles

    reset_governors()
    smart_cache.clear()
    cache.clear()
    forget_candles()
    yield
    reset_governors()


@pytest.fixture(autouse=True)
def fresh_api_versions(monkeypatch):
    """The public API's response cache reads the data version on every request in tests, so a test
    that writes and reads again sees its write at once (in production the version is trusted for a
    second: cryptosatx/api/response_cache.py). Its own tests set VERSION_SECONDS themselves."""
    from cryptosatx.api import response_cache

    monkeypatch.setattr(response_cache, "VERSION_SECONDS", 0)
    response_cache.forget()


@pytest.fixture(scope="session")
def sim():
    """The market simulator on a loopback port, shared by the tests that only read from it."""
    from marketdata.simulator.server import SimulatorServer

    with SimulatorServer(seed=42, coins=520) as server:
        yield server


def point_spot_at(settings, base_url: str, *, weight: int = 6000, window: float = 60) -> None:
    settings.BINANCE_SPOT_URL = base_url
    settings.BINANCE_SPOT_WEIGHT_PER_MINUTE = weight
    settings.BINANCE_WEIGHT_WINDOW_SECONDS = window
    settings.HTTP_BACKOFF_SECONDS = 0.01


def point_all_at(settings, base_url: str, *, window: float = 60) -> None:
    """Every outside service at one simulator."""
    point_spot_at(settings, base_url, window=window)
    settings.BINANCE_FUTURES_URL = base_url
    settings.COINGECKO_URL = f"{base_url}/coingecko/api/v3"
    settings.LUNARCRUSH_URL = f"{base_url}/lunarcrush/api4"


@pytest.fixture
def sim_settings(settings, sim):
    point_all_at(settings, sim.base_url)
    return settings
