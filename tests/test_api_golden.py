"""Each endpoint's JSON on a fixed dataset, compared with tests/golden/*.json.

After an intended change, regenerate with `UPDATE_GOLDEN=1 pytest tests/test_api_golden.py`
and read the diff before committing it.
"""
import json
import os
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from tests.api_factories import freeze_time, golden_dataset

pytestmark = pytest.mark.django_db
GOLDEN = Path(__file__).parent / "golden"


def assert_matches_golden(name: str, data: object) -> None:
    path = GOLDEN / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1 to write it"
    assert data == json.loads(path.read_text()), f"{name} differs from {path}"


@pytest.fixture
def client(monkeypatch):
    freeze_time(monkeypatch)
    golden_dataset()
    return APIClient()


@pytest.mark.parametrize("name, url", [
    ("ranking", "/api/scan/unified-ranking"),
    ("ranking_tier_1_2_second_page", "/api/scan/unified-ranking?tier=TIER_1,TIER_2&limit=1&offset=1"),
    ("ranking_scanner_mss", "/api/scan/unified-ranking?scanner=mss"),
    ("coin_btcusdt", "/api/coins/btcusdt"),
    ("coin_never_scored", "/api/coins/XRPUSDT"),
    ("scans", "/api/scans"),
    ("scans_rsi", "/api/scans?scanner=rsi"),
    ("scan_detail_partial", "/api/scans/9102"),
    ("coin_unknown", "/api/coins/XYZUSDT"),
])
def test_it_answers_as_the_golden_file_says(client, name, url):
    response = client.get(url)
    assert response["Content-Type"] == "application/json"
    assert_matches_golden(name, {"status": response.status_code, "body": response.json()})
