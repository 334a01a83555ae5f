"""/backtests: the form with defaults that work in one click, its errors, the list; /backtests/<id>:
progress that htmx refreshes until the job is done, then the metrics, the equity canvas and the trades."""
import re
from datetime import timedelta

import pytest

from backtest.models import BacktestRun
from backtest.tasks import run_backtest
from tests.backtest_factories import HOUR, START, add_candles, random_walk

pytestmark = pytest.mark.django_db
NEWEST = START + timedelta(days=9)


@pytest.fixture
def alice(django_user_model, client):
    user = django_user_model.objects.create_user("alice")
    client.force_login(user)
    return client


@pytest.fixture
def candles():
    for i, symbol in enumerate(["BTCUSDT", "ETHUSDT", "SOLUSDT"]):
        add_candles(symbol, START - 100 * HOUR, random_walk(20 + i, 100 + 9 * 24 + 1, vol=0.03))


def form_defaults(html: str) -> dict:
    data = {}
    for name, value in re.findall(r'<input type="(?:text|datetime-local)" name="(\w+)" value="([^"]*)"', html):
        data[name] = value
    for name, value in re.findall(r'<input type="checkbox" name="(\w+)" value="(\w+)"[^>]*checked', html):
        data.setdefault(name, []).append(value)
    for name, value in re.findall(r'<select name="(\w+)"[^>]*>.*?<option value="(\w+)" selected', html, re.S):
        data[name] = value
    return data


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/backtests")
    assert response.status_code == 302 and "next=/backtests" in response["Location"]


def test_the_default_form_runs_in_one_click_and_the_result_has_an_equity_chart(alice, candles):
    page = alice.get("/backtests")
    html = page.content.decode()
    assert page.status_code == 200 and "No backtests yet" in html
    defaults = form_defaults(html)
    assert defaults["coins"] == "BTCUSDT, ETHUSDT, SOLUSDT" and defaults["scanners"] == ["rsi"]
    assert defaults["end"] == (NEWEST + HOUR).strftime("%Y-%m-%dT%H:%M")  # just after the newest candle
    for label in ("Coins", "Start (UTC)", "Take profit (%)", "Stop loss (%)", "Minimum unified score"):
        assert re.search(rf'<label for="id_\w+">{re.escape(label)}</label>', html), label

    response = alice.post("/backtests", defaults)
    run = BacktestRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/backtests/{run.pk}"
    waiting = alice.get(f"/backtests/{run.pk}").content.decode()
    assert f'hx-get="/backtests/{run.pk}/status"' in waiting and "Queued" in waiting and "htmx.min.js" in waiting
    assert "No q cluster has been seen" in waiting  # none runs in the tests
    from cryptosatx.heartbeat import record
    record()
    assert "No q cluster has been seen" not in alice.get(f"/backtests/{run.pk}").content.decode()
    assert "HX-Refresh" not in alice.get(f"/backtests/{run.pk}/status")

    run_backtest(run.pk)
    assert alice.get(f"/backtests/{run.pk}/status")["HX-Refresh"] == "true"
    done = alice.get(f"/backtests/{run.pk}").content.decode()
    assert '<canvas id="equity-chart"' in done and "chart.umd.min.js" in done and "hx-get" not in done
    run.refresh_from_db()
    m = run.results["metrics"]
    assert f"<dd>{m['total_trades']}</dd>" in done and m["total_trades"] > 0
    assert done.count('<th scope="row"><a href="/coins/') == m["total_trades"]
    assert f'#{run.pk}' in alice.get("/backtests").content.decode()


def test_bad_values_come_back_on_their_fields(alice, candles):
    data = form_defaults(alice.get("/backtests").content.decode())
    data.update(take_profit="0", coins="BTCUSDT, NOPEUSDT")
    response = alice.post("/backtests", data)
    html = response.content.decode()
    assert response.status_code == 400 and not BacktestRun.objects.exists()
    assert "Must be greater than 0." in html
    data.update(take_profit="5")
    html = alice.post("/backtests", data).content.decode()
    assert "Unknown coin(s): NOPEUSDT" in html
    data.update(coins="BTCUSDT", start=data["end"])
    assert "Must be after start." in alice.post("/backtests", data).content.decode()


def test_a_failed_run_shows_why(alice, django_user_model):
    run = BacktestRun.objects.create(owner=django_user_model.objects.get(username="alice"), strategy={},
                                     status=BacktestRun.FAILED, error="Unknown coin(s): GONEUSDT")
    html = alice.get(f"/backtests/{run.pk}").content.decode()
    assert "This backtest failed: Unknown coin(s): GONEUSDT" in html and "<canvas" not in html


def test_without_candles_the_page_says_what_to_do(alice):
    html = alice.get("/backtests").content.decode()
    assert "No hourly candles are stored yet" in html and "manage.py backfill" in html
    data = form_defaults(html)
    assert alice.post("/backtests", data).status_code == 400


def test_unknown_and_huge_ids_are_404(alice):
    assert alice.get("/backtests/999").status_code == 404
    assert alice.get(f"/backtests/{2**70}").status_code == 404
    assert alice.get(f"/backtests/{2**70}/status").status_code == 404


def test_a_long_trade_list_shows_its_first_500_and_points_to_the_api(alice, django_user_model):
    trade = {"symbol": "BTCUSDT", "entry_time": "2026-09-01T00:00:00Z", "entry_price": 1.0, "exit_time":
             "2026-09-01T01:00:00Z", "exit_price": 1.1, "exit_reason": "take_profit", "quantity": 1.0, "cost": 1.0,
             "proceeds": 1.1, "pnl": 0.1, "return_pct": 10.0, "bars_held": 1, "entry_score": 80.0}
    run = BacktestRun.objects.create(
        owner=django_user_model.objects.get(username="alice"), strategy={}, status=BacktestRun.DONE, progress=100,
        results={"metrics": {"total_trades": 600, "initial_equity": 10_000, "exits": {}}, "trades": [trade] * 600,
                 "equity_curve": [{"time": "2026-09-01T01:00:00Z", "equity": 10_060}], "data": {}})
    html = alice.get(f"/backtests/{run.pk}").content.decode()
    assert html.count('<th scope="row"><a href="/coins/BTCUSDT">') == 500
    assert "The first 500 of 600 trades" in html and f'href="/api/backtests/{run.pk}"' in html
