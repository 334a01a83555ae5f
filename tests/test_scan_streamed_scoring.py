"""A live scan scores each coin as the fetch completes it (scanners.pipeline.StreamScorer, fed by
scanners.shortlist's completion of each coin), against the real simulator on loopback: every coin
is scored once all its data are in and never before, as `score_universe` would score it at that
moment, and most coins are scored while other coins are still being fetched."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from marketdata.errors import RetryableError
from marketdata.session import MarketDataSession
from marketdata.simulator.server import SimulatorServer
from scanners.coindata import CoinData, build_snapshot, utc_ms
from scanners.engine import _load_coins, _select, needs_of, run_scan, scan_gc
from scanners.gather import Gathered, gather
from scanners.models import ScanResult
from scanners.pipeline import SCANNERS, StreamScorer, Thresholds, _score_one, social_ranks, score_universe
from tests.conftest import point_all_at

pytestmark = pytest.mark.django_db
NEEDS, SERVICES = needs_of(SCANNERS)


@pytest.fixture(scope="module")
def stream_sim():
    with SimulatorServer(seed=7, coins=240, latency_ms=15, jitter_ms=10) as server:
        server.warm()
        yield server


@pytest.fixture
def sim_at(settings, stream_sim):
    point_all_at(settings, stream_sim.base_url)
    settings.PARALLEL_MAX_CONCURRENT = 20  # several waves at this universe size
    return settings


def holdings(cd: CoinData) -> tuple:
    """What the scan holds of a coin: its candles and every metric series, by size."""
    return len(cd.candles), tuple(sorted((name, len(series)) for name, series in cd.metrics.items()))


class RecordingScorer(StreamScorer):
    """Records, for each coin scored, when, what the scan held of it then, and how many klines
    answers were still to come."""

    def __init__(self, t, scanners, answered: list[int]):
        super().__init__(t, scanners)
        self.answered = answered
        self.record: dict[str, tuple] = {}

    def score(self, cd, as_of, snap=None) -> None:
        assert cd.symbol not in self.record, f"{cd.symbol} scored twice"
        self.record[cd.symbol] = (as_of, holdings(cd), self.answered[0])
        if snap is not None:  # handed over by the shortlist's judgement: the one `snapshot` builds
            assert snap == self.snapshot(cd, as_of)
            # ...which the judgement read without social activity: as if built without it
            assert replace(snap, social_activity_pct=None) == build_snapshot(cd, as_of)
        super().score(cd, as_of, snap)


def fetch(fail_klines: int = 0, fail_capped: bool = False):
    """A cold scan's gather with a recording scorer, as scanners.engine runs it; the klines of the
    first `fail_klines` coins and (with `fail_capped`) every capped call fail as an unreachable
    service's would."""
    async def run():
        async with MarketDataSession(SERVICES) as md:
            universe = _select(await md.spot.exchange_info(), None)
            failing = {u.symbol for u in universe[:fail_klines]}
            coins = await sync_to_async(_load_coins)(universe, False)
            answered = [0]
            latest, series = md.spot.latest_klines, md.futures.series

            async def klines(symbol, *args, **kwargs):
                try:
                    if symbol in failing:
                        raise RetryableError("connection refused", service="binance_spot")
                    return await latest(symbol, *args, **kwargs)
                finally:
                    answered[0] += 1

            async def capped(*args, **kwargs):
                if fail_capped:
                    raise RetryableError("HTTP 503", service="binance_futures", status=503)
                return await series(*args, **kwargs)
            md.spot.latest_klines, md.futures.series = klines, capped
            scorer = RecordingScorer(Thresholds(), SCANNERS, answered)
            g = Gathered(coins=coins, universe=universe, scorer=scorer)
            await gather(md, g, NEEDS)
            return g, scorer, answered[0]
    with scan_gc():
        return async_to_sync(run)()


def test_each_coin_is_scored_once_its_data_are_in_as_score_universe_would_then(sim_at):
    g, scorer, klines_answers = fetch()
    assert g.errors == [] and g.failed == set()
    assert len(g.shortlist) >= 3, "some coins should have waited for their capped calls"
    # Every coin scored during the fetch, once (RecordingScorer refuses a second time).
    assert set(scorer.record) == set(g.coins)
    for symbol, (as_of, held, _) in scorer.record.items():
        cd = g.coins[symbol]
        # Nothing of the coin arrived after it was scored, capped calls included...
        assert held == holdings(cd), symbol
        assert as_of <= g.as_of
        # ...and its scores are score_universe's at that moment (the universe's social ranks then
        # are those at the end of the fetch: no social datum arrives after the bulk stage).
        snap, outputs = _score_one(cd, as_of, scorer.social.get(symbol), Thresholds(), SCANNERS)
        assert (scorer.snaps[symbol], scorer.outputs[symbol]) == (snap, outputs)
    assert scorer.social == social_ranks(g.coins, utc_ms(g.as_of))
    # Scored as the fetch went on, not all at its end: most coins while klines were still awaited.
    early = [s for s, (_, _, answered) in scorer.record.items() if answered < klines_answers]
    assert len(early) > len(g.coins) / 2
    # The shortlisted coins only after their capped calls answered: they hold more series.
    for symbol in g.shortlist:
        assert dict(scorer.record[symbol][1][1]).get("top_position_ratio"), symbol


def test_failures_a_coin_is_scored_after_its_failed_calls_and_not_without_candles(sim_at):
    g, scorer, _ = fetch(fail_klines=3, fail_capped=True)
    failing = g.failed
    assert len(failing) == 3
    assert not set(scorer.record) & failing  # no candles: not scored
    assert set(scorer.record) == set(g.coins) - failing
    failed_capped = {e["symbol"] for e in g.errors if e["error"].startswith("futures data")}
    assert failed_capped, "qualifiers' capped calls should have failed"
    for symbol in failed_capped:  # scored once their calls had failed, without their series
        as_of, held, _ = scorer.record[symbol]
        assert held == holdings(g.coins[symbol]) and "top_position_ratio" not in dict(held[1])
        assert scorer.outputs[symbol] == _score_one(g.coins[symbol], as_of, scorer.social.get(symbol), Thresholds(),
                                                    SCANNERS)[1]


def test_finish_scores_the_coins_left_at_the_end_in_the_universe_order():
    hour = 3_600_000
    as_of = datetime(2026, 11, 28, 12, tzinfo=timezone.utc)
    coins = {}
    for i, symbol in enumerate(("AAAUSDT", "BBBUSDT", "CCCUSDT")):
        cd = CoinData(symbol, i + 1)
        start = utc_ms(as_of) - 300 * hour
        cd.candles = [(start + k * hour, 1.0 + 0.01 * ((k * (i + 3)) % 7), 1000.0 + k, 400.0 + i * 50) for k in range(300)]
        cd.add_metric("social_volume_24h", utc_ms(as_of) - hour, 100.0 * (i + 1))
        coins[symbol] = cd
    scorer = StreamScorer(Thresholds(), SCANNERS, prepare=lambda cd, snap, out: (cd.symbol, snap.as_of))
    with pytest.raises(RuntimeError, match="before the universe"):
        scorer.score(coins["BBBUSDT"], as_of)
    earlier = as_of - timedelta(seconds=3)
    scorer.rank_social(coins, earlier)
    scorer.score(coins["BBBUSDT"], earlier)
    snaps, outputs = scorer.finish(coins, as_of)
    assert list(snaps) == list(outputs) == list(coins)
    assert snaps["BBBUSDT"].as_of == earlier and snaps["AAAUSDT"].as_of == snaps["CCCUSDT"].as_of == as_of
    assert outputs == score_universe(coins, as_of, Thresholds())[1] | {"BBBUSDT": outputs["BBBUSDT"]}
    assert scorer.prepared == {"BBBUSDT": ("BBBUSDT", earlier), "AAAUSDT": ("AAAUSDT", as_of),
                               "CCCUSDT": ("CCCUSDT", as_of)}


def test_a_scan_stores_the_results_the_coins_were_scored_with(sim_at, monkeypatch):
    scored = {}
    score = StreamScorer.score

    def kept(self, cd, as_of, snap=None):
        score(self, cd, as_of, snap)
        scored[cd.symbol] = self.outputs[cd.symbol]
    monkeypatch.setattr(StreamScorer, "score", kept)
    run = run_scan("all")
    assert run.status == "completed" and run.scored == run.universe_size > 0
    assert run.parameters["scored_while_fetching"] == len(scored) > run.universe_size / 2
    rows = ScanResult.objects.filter(run=run).values_list("coin__symbol", "scanner", "score", "scores", "created_at")
    assert {(s, sc): (score, scores) for s, sc, score, scores, _ in rows} == {
        (s, sc): (o.score, o.scores) for s, per in scored.items() for sc, o in per.items()}
    # created_at is when each coin was scored, during the fetch: not one moment for the whole run.
    assert len({c for *_, c in rows}) > 1 and max(c for *_, c in rows) <= run.finished_at
