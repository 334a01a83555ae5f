"""simulate-history: the real scanners replayed over stored simulated history fill signals and outcomes."""
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from marketdata.simulator.server import SimulatorServer
from performance.models import SignalOutcome
from performance.queries import refresh, win_rates
from signals.models import AlertDelivery, Signal
from tests.conftest import point_all_at

pytestmark = pytest.mark.django_db
COINS = "BTCUSDT,ETHUSDT,SOLUSDT,BNBUSDT,XRPUSDT,DOGEUSDT,ADAUSDT,LINKUSDT"


def test_a_replay_fills_simulated_signals_and_their_measured_outcomes(settings, client):
    with SimulatorServer(seed=21, coins=40) as server:
        point_all_at(settings, server.base_url)
        call_command("backfill", "--days", "40", "--coins", COINS, stdout=StringIO())
        refresh()  # the q cluster's outcome task has already cached the (empty) shared win rates
        out = StringIO()
        call_command("simulate-history", "--days", "10", "--step-hours", "2", "--json", stdout=out)
    report = json.loads(out.getvalue())
    signals = Signal.objects.filter(run_id=report["run_id"])
    assert report["signals"] == signals.count() > 0
    assert all(s.simulated and s.entry_price and s.candle_close_time for s in signals)
    assert not AlertDelivery.objects.exists()  # history is never sent
    evaluated = SignalOutcome.objects.filter(status="evaluated")
    assert evaluated.exists() and report["evaluated"]["evaluated"] == evaluated.count()
    rates = client.get("/api/analytics/win-rates", {"days": 30, "horizon": "1h"}).json()
    assert rates["overall"]["n"] == SignalOutcome.objects.filter(horizon="1h", status="evaluated").count() > 0
    # the replay refreshed them: the shared 30-day rates at 24h count its outcomes, not the empty ones
    assert win_rates(30, "24h")["overall"]["n"] == SignalOutcome.objects.filter(horizon="24h",
                                                                                 status="evaluated").count() > 0

    from scanners.models import ScanRun
    assert ScanRun.objects.get(pk=report["run_id"]).status == "completed"
    once = StringIO()
    call_command("simulate-history", "--once", stdout=once)
    assert "nothing to do" in once.getvalue()
    again = StringIO()
    call_command("simulate-history", "--days", "10", "--step-hours", "2", "--json", stdout=again)
    assert Signal.objects.count() == signals.count()  # a second replay adds nothing


def test_it_refuses_without_stored_candles_or_without_the_simulator(settings):
    with pytest.raises(CommandError, match="market simulator"):
        call_command("simulate-history", stdout=StringIO())
