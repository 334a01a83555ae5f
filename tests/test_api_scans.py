"""GET /api/scans and /api/scans/{id}."""
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from tests.api_factories import T0, freeze_time, golden_dataset, make_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(monkeypatch):
    freeze_time(monkeypatch)
    golden_dataset()
    return APIClient()


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [run["id"] for run in response.json()["results"]]


def test_runs_are_listed_newest_first(api):
    assert ids(api.get("/api/scans")) == [9104, 9101, 9102, 9103]


@pytest.mark.parametrize("query, expected", [
    ({"scanner": "rsi"}, [9102]), ({"scanner": "all"}, [9101]), ({"scanner": "social"}, []),
    ({"status": "running"}, [9104]), ({"status": "failed"}, [9103]),
    ({"scanner": "mss", "status": "completed"}, []),
    ({"limit": 2, "offset": 1}, [9101, 9102]), ({"offset": 4}, []),
])
def test_filters_and_pages(api, query, expected):
    assert ids(api.get("/api/scans", query)) == expected


def test_the_list_truncates_errors_and_the_detail_has_them_all(api):
    listed = next(r for r in api.get("/api/scans").json()["results"] if r["id"] == 9102)
    assert (listed["error_count"], len(listed["errors"])) == (7, 5)
    detail = api.get("/api/scans/9102").json()
    assert (detail["error_count"], len(detail["errors"])) == (7, 7)
    assert detail["errors"][6] == {"symbol": "BAD6USDT",
                                   "error": "HTTP 400 from binance_spot (code -1121): invalid symbol 6"}


def test_a_run_reports_duration_and_coverage(api):
    run = api.get("/api/scans/9102").json()
    assert (run["duration_seconds"], run["coverage"], run["universe_size"], run["scored"]) == (90.5, 0.4615, 13, 6)
    running = api.get("/api/scans/9104").json()
    assert (running["finished_at"], running["duration_seconds"], running["coverage"]) == (None, None, None)


@pytest.mark.parametrize("pk", ["1", "0", "9" * 19, "9" * 40])
def test_an_unknown_scan_is_a_404(api, pk):
    response = api.get(f"/api/scans/{pk}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"Unknown scan: {int(pk)}"}


@pytest.mark.parametrize("path", ["/api/scans/-1", "/api/scans/abc", "/api/scans/1.5"])
def test_a_non_numeric_id_is_not_a_route(api, path):
    assert api.get(path).status_code == 404


@pytest.mark.parametrize("name, value, message", [
    ("scanner", "whale", "Must be one of: rsi, smart_money, mss, social, all."),
    ("status", "done", "Must be one of: running, completed, partial, failed."),
    ("limit", "0", "Must be an integer between 1 and 500."),
    ("limit", "1000", "Must be an integer between 1 and 500."),
    ("offset", "-3", "Must be an integer of 0 or more."),
    ("offset", "NaN", "Must be an integer of 0 or more."),
])
def test_a_bad_parameter_is_a_400_naming_it(api, name, value, message):
    response = api.get("/api/scans", {name: value})
    assert response.status_code == 400
    assert response.json() == {name: [message]}


@pytest.mark.parametrize("n", [5, 50])
def test_the_number_of_queries_does_not_grow_with_the_runs(n, django_assert_num_queries):
    for i in range(n):
        make_run(scanner="rsi", started_at=T0 + timedelta(minutes=i), errors=[{"symbol": "X", "error": "e"}] * 8)
    with django_assert_num_queries(2):  # count, page
        body = APIClient().get("/api/scans", {"limit": 500}).json()
    assert len(body["results"]) == n
    assert all(len(run["errors"]) == 5 for run in body["results"])
