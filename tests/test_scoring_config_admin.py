"""Weights and thresholds live in the database, edited in admin, defaulting from .env."""
import pytest
from django.contrib.auth import get_user_model

from signals.models import ScoringConfig

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(client):
    get_user_model().objects.create_superuser("alice", "", "pw-alice-123")
    client.login(username="alice", password="pw-alice-123")
    return client


def form(config: ScoringConfig, **changes) -> dict:
    fields = ["weight_accumulation", "weight_mss", "weight_technical", "weight_social_momentum", "weight_whale",
              "weight_volume_spike", "tier1_min", "tier2_min", "tier3_min", "min_confirmations_tier1",
              "accumulation_threshold", "distribution_threshold", "mss_threshold", "rsi_oversold", "rsi_overbought"]
    return {**{f: getattr(config, f) for f in fields}, **changes}


def test_defaults_come_from_the_environment(settings):
    settings.MSS_ALERT_THRESHOLD = 80
    settings.MIN_CONFIRMATIONS_TIER1 = 3
    config = ScoringConfig.current()
    assert (config.mss_threshold, config.min_confirmations_tier1) == (80, 3)
    assert config.weights == {"accumulation": 0.30, "mss": 0.25, "technical": 0.15, "social_momentum": 0.15,
                              "whale": 0.10, "volume_spike": 0.05}


def test_admin_saves_a_good_change(alice):
    config = ScoringConfig.current()
    url = f"/admin/signals/scoringconfig/{config.pk}/change/"
    response = alice.post(url, form(config, weight_mss=0.4))
    assert response.status_code == 302
    config.refresh_from_db()
    assert config.weight_mss == 0.4


@pytest.mark.parametrize("changes, message", [
    ({"weight_whale": -1}, "A weight must be 0 or more."),
    ({"tier2_min": 90}, "Tier thresholds must rise"),
    ({"rsi_oversold": 80}, "Oversold must be below overbought."),
    ({"min_confirmations_tier1": 7}, "Between 1 and 4"),
    ({"mss_threshold": "lots"}, "Enter a number."),
])
def test_admin_refuses_bad_values_with_a_clear_error_and_keeps_the_old_ones(alice, changes, message):
    config = ScoringConfig.current()
    before = form(config)
    response = alice.post(f"/admin/signals/scoringconfig/{config.pk}/change/", form(config, **changes))
    assert response.status_code == 200 and message in response.content.decode()
    config.refresh_from_db()
    assert form(config) == before
