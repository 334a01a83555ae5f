"""/performance (PLAN.md §4.3): its numbers are the API's for a hand-built outcome set, every rate has its
interval and n, the empty state says what to do, bad parameters are a 400 that says what is allowed, and
the query count does not grow with the outcomes."""
import json
import re
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone as dj_timezone
from rest_framework.test import APIClient

from tests.outcome_factories import T, coin, outcome, signal

NOW = T + timedelta(days=60)  # 2025-12-31 00:00 UTC; the 90-day window starts 2025-10-02
PAGE = "/performance"


@pytest.fixture
def now(db, monkeypatch):
    monkeypatch.setattr(dj_timezone, "now", lambda: NOW)
    return NOW


def ago(days: float) -> timedelta:
    return NOW - timedelta(days=days)


# (scanner, kind, score, direction, tier, unified score, result, pnl, days ago)
ROWS = (
    [("mss", "gem", 92, "LONG", 1, 88, "WIN", 6.0 + i, 5 + 3 * i) for i in range(8)]
    + [("mss", "gem", 80, "LONG", 2, 72, "LOSS", -4.0 - i, 7 + 5 * i) for i in range(4)]
    + [("smart_money", "accumulating", 8, "LONG", 2, 60, "WIN", 9.5, 40 + i) for i in range(4)]
    + [("smart_money", "accumulating", 8, "LONG", 3, 50, "NEUTRAL", 1.0, 70 + i) for i in range(2)]
    + [("rsi", "oversold", 18, "LONG", 2, 58, "WIN", 6.5, 12), ("rsi", "oversold", 18, "LONG", 3, 41, "LOSS", -4.5, 33),
       ("rsi", "overbought", 80, "SHORT", 2, 75, "WIN", -40.0, 50)]  # a SHORT whose price fell 40 %: return +40
)


@pytest.fixture
def history(db, now):
    for i, (scanner, kind, score, direction, tier, unified, result, pnl, days) in enumerate(ROWS):
        s = signal(coin(f"C{i}USDT"), scanner=scanner, kind=kind, score=score, direction=direction, tier=tier,
                   unified_score=unified, at=ago(days), simulated=i == 0)
        outcome(s, result=result, pnl=pnl)
    for i, status in enumerate(["pending", "pending", "unavailable"]):
        outcome(signal(coin(f"P{i}USDT"), score=92, at=ago(i + 0.5)), status=status)
    outcome(signal(coin("OLDUSDT"), score=92, at=ago(95)), pnl=99.0)  # before the window: never counted
    outcome(signal(coin("C0USDT"), score=92, at=ago(3)), "7d", pnl=77.0)  # another horizon


class Cells(HTMLParser):
    """The text of each cell of one table, by row (the standard library only)."""

    def __init__(self, table_id: str):
        super().__init__()
        self.table_id, self.inside, self.rows, self.cell = table_id, False, [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("id") == self.table_id:
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif self.inside and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(" ".join(self.cell.split()))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def table(html: str, table_id: str) -> list[list[str]]:
    parser = Cells(table_id)
    parser.feed(html)
    assert parser.rows, f"no table #{table_id} on the page"
    return parser.rows[1:]  # without the header


def chart_data(html: str) -> dict:
    match = re.search(r'<script id="performance-data" type="application/json">(.*?)</script>', html, re.S)
    assert match, "no chart data on the page"
    return json.loads(match[1])


def one_decimal(rate: float) -> str:
    """A 0–1 rate as the page writes it: percent to 2 decimals, shown to 1 (floatformat rounds half up)."""
    return str(Decimal(str(round(100 * rate, 2))).quantize(Decimal("0.1"), ROUND_HALF_UP))


def pct(rate: float | None) -> str:
    return "—" if rate is None else f"{one_decimal(rate)}%"


def interval(ci: list[float] | None) -> str:
    return "—" if ci is None else f"{one_decimal(ci[0])}–{one_decimal(ci[1])}%"


def text(html: str) -> str:
    """The page's words without tags, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", "", html).split())


def api(path: str, **params) -> dict:
    response = APIClient().get(path, params)
    assert response.status_code == 200, response.content
    return response.json()


def get(client, **params):
    response = client.get(PAGE, params)
    return response, response.content.decode()


def test_win_rates_per_bucket_are_the_apis_with_intervals_and_n(client, history):
    response, html = get(client, days=90, horizon="24h")
    assert response.status_code == 200
    rates = api("/api/analytics/win-rates", days=90, horizon="24h")
    assert rates["overall"]["n"] == 21 and rates["overall"]["pending"] == 2 and rates["overall"]["unavailable"] == 1
    expected = [(scanner, name, stats) for scanner, buckets in rates["by_scanner"].items()
                for name, stats in buckets.items()]
    rows, bars = table(html, "bucket-table"), chart_data(html)["buckets"]
    assert len(rows) == len(bars) == len(expected) == 12
    for (scanner, name, stats), row, bar in zip(expected, rows, bars):
        assert row[:5] == [scanner, name, str(stats["n"]), pct(stats["win_rate"]), interval(stats["win_rate_ci"])]
        assert bar["label"] == f"{scanner} {name}" and bar["n"] == stats["n"]
        if stats["n"]:  # every drawn bar has its interval
            assert bar["win_rate"] == round(100 * stats["win_rate"], 2)
            assert bar["ci"] == [round(100 * x, 2) for x in stats["win_rate_ci"]]
            assert bar["ci"][0] <= bar["win_rate"] <= bar["ci"][1]
        else:
            assert bar["win_rate"] is None and bar["ci"] is None
    by_name = {f"{s} {n}": stats for s, n, stats in expected}
    assert by_name["mss score_90+"]["n"] == 8 and by_name["mss score_90+"]["wins"] == 8
    assert by_name["rsi overbought_>75"]["wins"] == 1
    o = rates["overall"]
    assert (f"win rate {pct(o['win_rate'])} (95 % interval {interval(o['win_rate_ci'])[:-1]}%, n = {o['n']})"
            in text(html))


def test_monthly_trend_is_the_monthly_reports(client, history):
    _, html = get(client, days=90, horizon="24h")
    rows, points = table(html, "trend-table"), chart_data(html)["trend"]
    assert [r[0] for r in rows] == [p["month"] for p in points] == ["2025-10", "2025-11", "2025-12"]
    total = 0
    for row, point in zip(rows, points):
        report = api("/api/reports/monthly", month=point["month"], horizon="24h")["overall"]
        assert row[1:5] == [str(report["n"]), pct(report["win_rate"]), interval(report["win_rate_ci"]),
                            str(report["pending"])]
        assert point["n"] == report["n"] and point["win_rate"] == (
            None if report["win_rate"] is None else round(100 * report["win_rate"], 2))
        total += report["n"]
    assert total == 21  # the 95-day-old signal is in September, outside the window's months


def test_best_and_worst_signals_link_their_coin_with_return_and_horizon(client, history):
    _, html = get(client, days=90, horizon="24h")
    best, worst = table(html, "best-signals"), table(html, "worst-signals")
    assert len(best) == 10 and len(worst) == 10
    # the best: the SHORT whose price fell 40 % (+40 for the trade); the monthly report's top signal agrees
    top = max((api("/api/reports/monthly", month=m, horizon="24h")["top_signals"][:1] for m in
               ("2025-10", "2025-11", "2025-12")), key=lambda t: t[0]["return_pct"] if t else -1e9)[0]
    assert best[0][1:2] == [top["symbol"]] and best[0][5:7] == ["40.00%", "24h"]
    assert f'<a href="/coins/{top["symbol"]}">{top["symbol"]}</a>' in html
    returns = [float(r[5].rstrip("%")) for r in best + worst]
    assert returns[:10] == sorted(returns[:10], reverse=True)
    assert worst[0][5] == "-7.00%" and worst[0][7] == "LOSS"  # the worst LOSS: pnl −4 − 3
    assert all(r[6] == "24h" for r in best + worst)
    assert "77.00%" not in html and "99.00%" not in html  # another horizon, before the window


def test_calibration_is_the_apis(client, history):
    _, html = get(client, days=90, horizon="24h")
    cal = api("/api/analytics/calibration", days=90, horizon="24h")
    rows, points = table(html, "calibration-table"), chart_data(html)["calibration"]
    assert [b["n"] for b in cal["buckets"]] == [3, 5, 5, 8]  # by hand from ROWS' unified scores
    for bucket, row, point in zip(cal["buckets"], rows, points):
        assert row[:5] == [bucket["label"], str(bucket["n"]), str(bucket["wins"]), pct(bucket["win_probability"]),
                           interval(bucket["win_probability_ci"])]
        assert point["midpoint"] == (bucket["low"] + bucket["high"]) / 2 and point["n"] == bucket["n"]
        assert point["ci"] == [round(100 * x, 2) for x in bucket["win_probability_ci"]]


def test_threshold_suggestions_refuse_below_30_out_of_sample_outcomes(client, history):
    _, html = get(client, days=90)
    report = api("/api/analytics/thresholds", days=90)["scanners"]
    rows = {r[0].split()[0]: r for r in table(html, "threshold-table")}
    assert set(rows) == {"smart_money", "mss", "rsi"}
    for name, entry in report.items():
        assert entry["recommendation"] is None
        assert rows[name][5] == f"none: {entry['recommendation_note']}"
        assert rows[name][3].startswith(f"{entry['in_sample']['n']} · ")
        assert rows[name][4].startswith(f"{entry['out_of_sample']['n']} · ")
    assert report["mss"]["recommendation_note"].startswith("fewer than 30 out-of-sample outcomes: n=")


def test_a_threshold_recommendation_shows_in_sample_and_out_of_sample_side_by_side(client, now):
    start = NOW - timedelta(days=51)
    for d in range(50):  # smart money: a score ≥ 8 WINs +6 %, lower ones LOSE −4 %, every day
        for score in (6, 7, 8, 9):
            s = signal(coin(f"S{score}USDT"), scanner="smart_money", kind="accumulating", score=score,
                       at=start + timedelta(days=d))
            outcome(s, result="WIN" if score >= 8 else "LOSS", pnl=6.0 if score >= 8 else -4.0)
    _, html = get(client, days=90)
    sm = api("/api/analytics/thresholds", days=90)["scanners"]["smart_money"]
    row = next(r for r in table(html, "threshold-table") if r[0].startswith("smart_money"))
    ins, oos = sm["in_sample"], sm["out_of_sample"]
    assert row[1:3] == [">= 7", ">= 8"] and row[5] == ">= 8"
    assert row[3] == f"{ins['n']} · {pct(ins['win_rate'])} ({interval(ins['win_rate_ci'])}) · {ins['expectancy']:.2f}%"
    assert row[4] == f"{oos['n']} · {pct(oos['win_rate'])} ({interval(oos['win_rate_ci'])}) · {oos['expectancy']:.2f}%"
    assert (ins["n"], oos["n"]) == (100, 80)


def test_simulated_history_is_said(client, history):
    _, html = get(client)
    assert "Simulated history: 1 of the 24 outcomes" in text(html)


def test_real_history_has_no_simulated_note(client, now):
    outcome(signal(coin("RUSDT"), at=ago(2)), pnl=7.0)
    _, html = get(client)
    assert "Simulated history" not in html and "performance-data" in html


def test_empty_state_says_what_to_do(client, now):
    outcome(signal(coin("PUSDT"), at=ago(0.5)), status="pending")
    response, html = get(client)
    assert response.status_code == 200
    words = text(html)
    assert "No measured 24h outcome in the last 90 days yet (1 pending, 0 unavailable)" in words
    assert "python manage.py simulate-history --days 60" in words and "wait for outcomes" in words
    assert "<canvas" not in html and "performance-data" not in html and "chart.umd.min.js" not in html


@pytest.mark.parametrize("params, message", [
    ({"days": "0"}, "Bad days: Must be an integer between 1 and 365."),
    ({"days": "366"}, "Bad days: Must be an integer between 1 and 365."),
    ({"days": "ninety"}, "Bad days: Must be an integer between 1 and 365."),
    ({"horizon": "2h"}, "Bad horizon: Must be one of: 1h, 4h, 24h, 7d, 30d."),
])
def test_bad_parameters_are_a_400_that_says_what_is_allowed(client, db, params, message):
    response, html = get(client, **params)
    assert response.status_code == 400
    assert message in html and 'role="alert"' in html and "<canvas" not in html
    assert '<select name="horizon">' in html  # the form is still there to fix it


def test_an_empty_field_means_the_default(client, now):
    outcome(signal(coin("RUSDT"), at=ago(80)), pnl=7.0)
    response, html = get(client, days="", horizon="")
    assert response.status_code == 200 and "in the last 90 days" in html and "<canvas" in html


def test_the_query_count_does_not_grow_with_the_outcomes(client, now):
    def build(first: int, count: int) -> None:
        for i in range(first, first + count):
            s = signal(coin(f"Q{i}USDT"), scanner="smart_money", kind="accumulating", score=8, tier=1 + i % 3,
                       unified_score=40 + i % 60, at=ago(1 + i % 80))
            outcome(s, result="WIN" if i % 2 else "LOSS", pnl=7.0 if i % 2 else -5.0)

    def queries() -> int:
        cache.clear()  # measure the page computing its numbers, not a cached copy
        with CaptureQueriesContext(connection) as captured:
            assert client.get(PAGE).status_code == 200
        return len(captured)

    build(0, 5)
    client.get(PAGE)  # the first request creates the default ScoringConfig
    few = queries()
    build(5, 60)
    assert queries() == few


def overall_n(html: str) -> str:
    return re.search(r"(\d+) evaluated", text(html)).group(1)


def test_the_numbers_are_kept_five_minutes_and_the_outcome_task_recomputes_them(client, history):
    """At a million signals the page's numbers take seconds: a second view is served from the cache, a
    new outcome shows after the next evaluation (which recomputes the default page), and a threshold
    applied in the admin shows at once."""
    from performance.queries import refresh
    from signals.models import ScoringConfig

    first, html = get(client)
    with CaptureQueriesContext(connection) as cold:
        client.get(PAGE, {"days": 60})
    with CaptureQueriesContext(connection) as warm:
        again = client.get(PAGE, {"days": 60})
    assert len(warm) < len(cold) and again.status_code == 200
    before = overall_n(html)
    outcome(signal(coin("NEWUSDT"), score=92, at=ago(2)), pnl=5.0)
    assert overall_n(get(client)[1]) == before  # kept: the page says when it was generated
    refresh()  # what the outcome task does after each evaluation
    assert int(overall_n(get(client)[1])) == int(before) + 1
    config = ScoringConfig.current()
    config.mss_threshold += 1
    config.save()
    with CaptureQueriesContext(connection) as after_change:
        client.get(PAGE, {"days": 60})
    assert len(after_change) == len(cold)  # computed again for the new thresholds
