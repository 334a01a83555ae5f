import pytest

from marketdata.governor import reset_governors


@pytest.fixture(autouse=True)
def fresh_governors():
    """Each test starts with no remembered rate-limit state."""
    reset_governors()
    yield
    reset_governors()


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


@pytest.fixture
def sim_settings(settings, sim):
    point_spot_at(settings, sim.base_url)
    return settings
