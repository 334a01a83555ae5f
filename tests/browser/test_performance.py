"""The performance page in a browser: its three charts are drawn (non-empty canvases) from the
outcomes on the page, with Chart.js served by the app itself."""
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.browser.conftest import canvas_painted, shot
from tests.outcome_factories import coin, outcome, signal

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the live server sees the rows


def test_the_performance_charts_are_drawn(page):
    now = timezone.now()
    for i in range(24):
        s = signal(coin(f"P{i}USDT"), scanner=("mss", "smart_money", "rsi")[i % 3],
                   kind=("gem", "accumulating", "oversold")[i % 3], score=(92, 8, 18)[i % 3],
                   unified_score=20 + 3 * i, at=now - timedelta(days=1 + 2 * i))
        outcome(s, result="WIN" if i % 3 else "LOSS", pnl=6.0 + i if i % 3 else -4.0)
    page.goto("/performance?horizon=24h&days=90")
    page.get_by_role("heading", name="Win rate per scanner bucket").wait_for()
    for chart in ("#win-rate-chart", "#trend-chart", "#calibration-chart"):
        assert canvas_painted(page, chart) > 500, chart
    assert page.locator("#bucket-table tbody tr").count() == 12
    # the bars Chart.js laid out: smart_money accumulation_7+ and rsi oversold_<20 won every time (100 %),
    # mss score_90+ never (0 %, no length but its interval's whisker); the other buckets have no outcome
    bars = page.evaluate("""() => {
        const chart = Chart.getChart(document.getElementById('win-rate-chart'));
        const meta = chart.getDatasetMeta(0);
        return chart.data.labels.map((label, i) => [label, chart.data.datasets[0].data[i],
                                                     Math.round(meta.data[i].width)]);
    }""")
    drawn = {label: value for label, value, width in bars if value is not None}
    assert drawn == {"smart_money accumulation_7+ · n=8": 100, "mss score_90+ · n=8": 0,
                     "rsi oversold_<20 · n=8": 100}
    assert all(width > 100 for label, value, width in bars if value == 100)
    shot(page, "performance")
    # the horizon selector reloads the page with the other horizon: no 7d outcome → the empty state
    page.select_option("select[name=horizon]", "7d")
    page.get_by_role("button", name="Show").click()
    page.get_by_text("python manage.py simulate-history --days 60").wait_for()
    assert page.locator("canvas").count() == 0
    shot(page, "performance-empty")


def test_the_performance_page_fits_a_phone(page):
    now = timezone.now()
    for i in range(6):
        outcome(signal(coin(f"M{i}USDT"), unified_score=60, at=now - timedelta(days=1 + i)), pnl=7.0)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/performance")
    assert canvas_painted(page, "#win-rate-chart") > 500
    # nothing wider than the screen but the tables, which scroll inside their own box
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "performance-phone")
