"""The monthly and daily reports (PLAN.md §4.3): hand counts, the top-10 order, the best performers'
ranking, threshold suggestions, bad months/days as 400s, empty states, and the summary's link."""
import statistics
from datetime import date, datetime, timedelta

import pytest
import yaml
from django.test import Client
from django.utils import timezone
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from performance.models import SignalOutcome
from performance.reports import _best_performers, daily_report, monthly_report
from performance.stats import wilson
from signals.models import Signal
from signals.summary import daily_summary
from tests.api_factories import make_result, make_run
from tests.outcome_factories import coin, outcome, signal

API = "/api/reports/monthly"


def local(*args) -> datetime:
    return timezone.make_aware(datetime(*args))


NOV = local(2025, 11, 1)

# (scanner, kind, score, direction, result, pnl): the month's evaluated outcomes, by hand
MSS = [("mss", "gem", 92, "LONG", "WIN", 6.0 + i) for i in range(9)] + \
      [("mss", "gem", 92, "LONG", "LOSS", p) for p in (-4.0, -5.0, -6.0)]
SM = [("smart_money", "accumulating", 8, "LONG", "WIN", p) for p in (30.0, 8.0, 8.5, 9.5, 10.5, 12.5)] + \
     [("smart_money", "accumulating", 8, "LONG", "LOSS", p) for p in (-3.5, -10.0)] + \
     [("smart_money", "accumulating", 8, "LONG", "NEUTRAL", p) for p in (1.0, 2.0)]
RSI = [("rsi", "oversold", 18, "LONG", "WIN", 6.5), ("rsi", "oversold", 18, "LONG", "LOSS", -4.5),
       ("rsi", "overbought", 80, "SHORT", "WIN", -40.0)]  # a SHORT whose price fell 40 %: return +40
ROWS = MSS + SM + RSI


def trade_return(direction, pnl):
    return pnl if direction == "LONG" else -pnl


@pytest.fixture
def november(db):
    for i, (scanner, kind, score, direction, result, pnl) in enumerate(ROWS):
        s = signal(coin(f"C{i}USDT"), scanner=scanner, kind=kind, score=score, direction=direction,
                   at=NOV + timedelta(hours=i))
        outcome(s, result=result, pnl=pnl)
    for i, status in enumerate(["pending", "pending", "unavailable"]):
        outcome(signal(coin(f"P{i}USDT"), score=92, at=NOV + timedelta(days=20, hours=i)), status=status)
    # just outside the month, with returns that would top the list: never counted
    outcome(signal(coin("OCTUSDT"), score=92, at=NOV - timedelta(hours=1)), pnl=99.0)
    outcome(signal(coin("DECUSDT"), score=92, at=local(2025, 12, 1)), pnl=98.0)
    # another horizon of a November signal: not the 24h report's
    outcome(Signal.objects.get(coin__symbol="C0USDT"), "7d", pnl=77.0)


def test_monthly_numbers_equal_hand_counts(november):
    report = monthly_report(2025, 11)
    o = report["overall"]
    returns = [trade_return(d, p) for *_, d, _r, p in ROWS]
    wins = [trade_return(d, p) for *_, d, r, p in ROWS if r == "WIN"]
    losses = [trade_return(d, p) for *_, d, r, p in ROWS if r == "LOSS"]
    assert (o["n"], o["wins"], o["losses"], o["neutral"]) == (25, 17, 6, 2)
    assert (o["pending"], o["unavailable"]) == (2, 1)
    assert o["win_rate"] == round(17 / 25, 4) and o["win_rate_ci"] == [round(x, 4) for x in wilson(17, 25)]
    assert o["avg_win"] == pytest.approx(statistics.fmean(wins), abs=1e-4)
    assert o["avg_loss"] == pytest.approx(statistics.fmean(losses), abs=1e-4)
    assert o["median_return"] == pytest.approx(statistics.median(returns))
    assert o["sharpe_ratio"] is None and "30" in o["sharpe_ratio_note"]
    assert (report["month"], report["window_days"], report["horizon"]) == ("2025-11", 30, "24h")

    best = report["best_performers"]
    assert "Wilson" in best["ranked_by"] and best["min_n"] == 10
    assert [(b["scanner"], b["bucket"], b["n"], b["wins"]) for b in best["buckets"]] == [
        ("mss", "score_90+", 12, 9), ("smart_money", "accumulation_7+", 10, 6)]
    assert best["buckets"][0]["win_rate_ci"] == [round(x, 4) for x in wilson(9, 12)]
    assert {(b["bucket"], b["n"]) for b in best["below_min_n"]} == {("oversold_<20", 2), ("overbought_>75", 1)}


def test_the_top_ten_are_the_best_returns_in_order(november):
    top = monthly_report(2025, 11)["top_signals"]
    assert [t["return_pct"] for t in top] == [40.0, 30.0, 14.0, 13.0, 12.5, 12.0, 11.0, 10.5, 10.0, 9.5]
    assert (top[0]["scanner"], top[0]["direction"], top[0]["score"], top[0]["days"]) == ("rsi", "SHORT", 80, 1.0)
    assert top[1]["symbol"] == "C12USDT" and top[1]["scanner"] == "smart_money"
    assert monthly_report(2025, 11, "7d")["top_signals"][0]["return_pct"] == 77.0


def test_best_performers_rank_by_the_lower_wilson_bound_not_the_rate():
    def rows(n, wins, score):
        return [SignalOutcome(signal=Signal(scanner="mss", kind="gem", score=score, direction="LONG",
                                            candle_close_time=NOV), status="evaluated",
                              outcome="WIN" if i < wins else "LOSS", pnl_pct=6 if i < wins else -4)
                for i in range(n)]
    best = _best_performers(rows(10, 10, 95) + rows(40, 38, 80), window_days=30)["buckets"]
    assert [(b["bucket"], b["win_rate"]) for b in best] == [("score_75-89", 0.95), ("score_90+", 1.0)]


def test_threshold_suggestions_come_from_the_optimizer(db):
    report = monthly_report(2025, 11)["threshold_recommendations"]
    assert report["available"] is True and report["note"] is None
    assert set(report["suggestions"]["scanners"]) == {"smart_money", "mss", "rsi"}
    html = Client().get("/reports/monthly?month=2025-11").content.decode()
    for scanner in ("smart_money", "mss", "rsi"):
        assert f'<th scope="row">{scanner}</th>' in html
    assert "none: fewer than 30 out-of-sample outcomes: n=0" in html  # no history: no recommendation
    assert APIClient().get(API, {"month": "2025-11"}).json()["threshold_recommendations"]["available"] is True


def test_the_monthly_page_and_api_show_the_same_numbers(november):
    page = Client().get("/reports/monthly?month=2025-11")
    html = page.content.decode()
    assert page.status_code == 200 and "November 2025" in html
    assert "Evaluated signals: 25 (17 wins, 6 losses, 2 neutral)" in html
    assert "Win rate: 68% (n = 25;" in html and "Wilson" in html
    assert html.index("C24USDT") < html.index("C12USDT") < html.index("C8USDT")  # the top-10 order
    assert "Threshold recommendations" in html and "fewer than 30 out-of-sample outcomes" in html

    data = APIClient().get(API, {"month": "2025-11"}).json()
    assert data["overall"]["n"] == 25 and data["overall"]["wins"] == 17
    assert [t["symbol"] for t in data["top_signals"]][:3] == ["C24USDT", "C12USDT", "C8USDT"]
    assert data["best_performers"]["buckets"][0]["bucket"] == "score_90+"


def test_the_month_defaults_to_the_current_one(db):
    today = timezone.localdate()
    assert APIClient().get(API).json()["month"] == f"{today.year:04d}-{today.month:02d}"
    assert Client().get("/reports/monthly").status_code == 200


def test_an_empty_month_says_so(db):
    html = Client().get("/reports/monthly?month=2024-02").content.decode()
    assert "No evaluated 24h outcome for signals of this month" in html
    assert "No bucket has 10 evaluated outcomes" in html and "No evaluated signal this month" in html
    data = APIClient().get(API, {"month": "2024-02"}).json()
    assert data["overall"]["n"] == 0 and data["overall"]["win_rate"] is None and data["top_signals"] == []
    assert data["window_days"] == 29


@pytest.mark.parametrize("month", ["2025-13", "2025-00", "2025-1", "nov", "2025-11-01", "1999-12", "2999-01",
                                   "11-2025"])
def test_a_bad_month_is_a_400(db, month):
    page = Client().get("/reports/monthly", {"month": month})
    assert page.status_code == 400 and "YYYY-MM" in page.content.decode()
    response = APIClient().get(API, {"month": month})
    assert response.status_code == 400 and "month" in response.json()


def test_a_bad_horizon_is_a_400(db):
    assert Client().get("/reports/monthly?month=2025-11&horizon=2d").status_code == 400
    assert "horizon" in APIClient().get(API, {"month": "2025-11", "horizon": "2d"}).json()


def test_the_schema_documents_the_report(db):
    schema = yaml.safe_load(APIClient().get("/api/schema/").content)
    validate_schema(schema)
    operation = schema["paths"]["/api/reports/monthly"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"month", "horizon"}
    assert set(operation["responses"]) >= {"200", "400"}


# ---------------------------------------------------------------- the daily report

DAY = date(2025, 11, 14)
NOON = local(2025, 11, 14, 12)


@pytest.fixture
def the_14th(db):
    run = make_run(started_at=NOON, finished_at=NOON + timedelta(minutes=2))
    make_run(scanner="rsi", status="failed", started_at=NOON + timedelta(hours=1))
    make_run(started_at=NOON + timedelta(days=1))  # the 15th
    for symbol in ("AUSDT", "BUSDT", "CUSDT"):
        make_result(run, coin(symbol), "rsi", score=5, scores={"rsi": 40})
    win = signal(coin("WINUSDT"), tier=1, at=NOON, created_at=NOON + timedelta(minutes=3))
    outcome(win, result="WIN", pnl=6.0)
    wait = signal(coin("WAITUSDT"), tier=2, at=NOON, created_at=NOON + timedelta(hours=5))
    outcome(wait, status="pending")
    signal(coin("NEWUSDT"), tier=2, at=NOON, created_at=NOON + timedelta(hours=6))  # no outcome row yet
    short = signal(coin("SHRTUSDT"), tier=3, direction="SHORT", at=NOON, created_at=NOON + timedelta(hours=1))
    outcome(short, result="LOSS", pnl=4.0)  # price up 4 %: the SHORT lost 4 %
    outcome(short, "7d", result="WIN", pnl=-20.0)  # another horizon: not the daily report's
    signal(coin("NEXTUSDT"), tier=1, at=NOON, created_at=NOON + timedelta(days=1))


def test_daily_numbers_equal_hand_counts(the_14th):
    report = daily_report(DAY)
    assert (report["scans"], report["scans_failed"], report["coins_scanned"]) == (2, 1, 3)
    o = report["outcomes"]
    assert (o["signals"], o["n"], o["wins"], o["losses"], o["pending"], o["not_tracked_yet"]) == (4, 2, 1, 1, 1, 1)
    assert {t: (v["signals"], v["n"], v["pending"]) for t, v in report["tiers"].items()} == {
        1: (1, 1, 0), 2: (2, 0, 1), 3: (1, 1, 0)}
    listing = {s["symbol"]: (s["outcome_status"], s["outcome"], s["return_pct"]) for s in report["signals"]}
    assert listing == {"WINUSDT": ("evaluated", "WIN", 6.0), "WAITUSDT": ("pending", None, None),
                       "NEWUSDT": (None, None, None), "SHRTUSDT": ("evaluated", "LOSS", -4.0)}
    assert [s["symbol"] for s in report["signals"]] == ["WINUSDT", "SHRTUSDT", "WAITUSDT", "NEWUSDT"]


def test_the_daily_page(the_14th):
    html = Client().get("/reports/daily/2025-11-14").content.decode()
    assert "2 scans (1 failed, 0 partial), 3 coins scanned." in html
    assert "50% (n = 2;" in html and "not tracked yet" in html and "-4.00%" in html
    assert "NEXTUSDT" not in html


def test_an_empty_day_says_what_to_do(db):
    html = Client().get("/reports/daily/2025-11-14").content.decode()
    assert "No scan started this day" in html and "manage.py scan all" in html and "No signal this day" in html


@pytest.mark.parametrize("day", ["2025-02-30", "2025-11-1", "yesterday", "2025-13-01", "2999-01-01"])
def test_a_bad_day_is_a_400(db, day):
    response = Client().get(f"/reports/daily/{day}")
    assert response.status_code == 400 and "YYYY-MM-DD" in response.content.decode()


def test_the_summary_links_to_its_days_report(db, settings):
    settings.SITE_URL = "https://sat.example/"
    text = daily_summary(DAY)
    assert "Full report: https://sat.example/reports/daily/2025-11-14" in text
    assert Client().get("/reports/daily/2025-11-14").status_code == 200
    assert Client().get("/reports/daily")["Location"].startswith("/reports/daily/")
