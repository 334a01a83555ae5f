"""A market that lists no USDT pair: the scan completes with nothing scored and nothing sent per coin."""
import json

import pytest

from cryptosatx.scanning import scan
from scanners.models import ScanRun
from tests.conftest import point_all_at
from tests.httpservers import ScriptedServer

pytestmark = pytest.mark.django_db
JSON = {"Content-Type": "application/json"}
ANSWERS = {
    "/api/v3/exchangeInfo": {"timezone": "UTC", "serverTime": 1, "rateLimits": [], "symbols": []},
    "/fapi/v1/exchangeInfo": {"timezone": "UTC", "serverTime": 1, "rateLimits": [], "symbols": []},
    "/fapi/v1/premiumIndex": [],
    "/coingecko/api/v3/coins/markets": [],
    "/lunarcrush/api4/public/coins/list/v2": {"config": {"total_rows": 0}, "data": []},
}


@pytest.mark.parametrize("scanner", ["all", "rsi"])
def test_an_empty_universe_completes_with_nothing_scored(settings, scanner):
    with ScriptedServer(lambda path, params: (200, JSON, json.dumps(ANSWERS.get(path, [])).encode())) as server:
        point_all_at(settings, server.base_url)
        run = scan(scanner)
    assert run.status == ScanRun.COMPLETED, run.errors
    assert run.universe_size == 0 and run.scored == 0 and run.errors == []
    per_coin = [p for p, _ in server.seen if p in ("/api/v3/klines", "/fapi/v1/openInterest")]
    assert per_coin == []
