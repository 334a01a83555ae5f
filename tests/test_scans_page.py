"""/scans: each run with its timing, requests, coverage and errors; partial runs flagged."""
import pytest

from scanners.models import ScanRun
from tests.page_factories import runs

pytestmark = pytest.mark.django_db


def test_each_run_shows_what_it_did(client):
    partial = runs(1, errors=[{"symbol": "BADUSDT", "error": "HTTP 503 from binance_spot"}])[0]
    ScanRun.objects.filter(pk=partial.pk).update(status=ScanRun.PARTIAL, scored=9)
    page = client.get("/scans").content.decode()
    assert f'href="/api/scans/{partial.pk}"' in page
    assert '<span class="flag">partial</span>' in page and "9/10 (90%)" in page
    assert "binance_spot: 11 (weight 22)" in page and "BADUSDT: HTTP 503 from binance_spot" in page


def test_runs_are_paginated_and_filtered(client):
    runs(30)
    runs(2, scanner="mss")
    page = client.get("/scans").content.decode()
    assert page.count('href="/api/scans/') == 25 and "page 1 of 2 (32 in all)" in page
    assert client.get("/scans", {"scanner": "mss"}).content.decode().count('href="/api/scans/') == 2


def test_a_bad_filter_is_explained_not_a_500(client):
    runs(2)
    response = client.get("/scans", {"status": "exploded", "scanner": "mss"})
    page = response.content.decode()
    assert response.status_code == 200 and "status: Must be one of: running, completed" in page
    assert "No scan matches these filters" in page  # the good filter still applies


def test_malformed_request_records_do_not_break_the_page(client):
    runs(1, requests=["not", "a", "dict"], errors={"odd": True})
    assert client.get("/scans").status_code == 200


def test_without_scans_the_page_says_how_to_run_one(client):
    assert "No scans yet — run <code>python manage.py scan all</code>" in client.get("/scans").content.decode()
