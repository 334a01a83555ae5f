"""The scan's serial tail writes its rows without model instances (marketdata.archive.insert_rows) and
reads back only what the alert rules need: the rows, their stored JSON text and the signals' fields
must be exactly what the old way (bulk_create of instances, every result read back in full) gave on
the same data. The old way is kept here as the reference."""
from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection, transaction

from marketdata.archive import insert_rows, prepare_rows
from marketdata.models import Candle, Coin
from scanners.coindata import HOUR_MS, CoinData, utc_ms
from scanners.gather import Gathered
from scanners.models import ScanResult, ScanRun
from scanners.pipeline import SCANNERS, Thresholds, score_universe
from scanners.store import (RESULT_FIELDS, SCANNER_INPUTS, prepare_coin_results, prepare_results,
                            result_preparer, save_results, snapshot_inputs)
from signals.models import AlertDelivery, AlertRule, ProcessedRun, ScoringConfig, Signal, UnifiedScore
from signals.outbox import _value_of, find_candidates
from signals.ranking import risk_level, scanner_max_age, unify, update_unified
from signals.rules import METRICS, evaluate, headline_metric

pytestmark = pytest.mark.django_db

AS_OF = datetime(2026, 6, 1, 12, 0, 30, tzinfo=timezone.utc)
AS_OF_MS = utc_ms(AS_OF)


def universe(n: int = 14, seed: int = 7) -> Gathered:
    """Coins with 300 hourly candles (a few with gaps or a short history), futures, social and
    CoinGecko points, some listed days ago (MSS scores them)."""
    rng = random.Random(seed)
    coins: dict[str, CoinData] = {}
    for i in range(n):
        symbol = f"C{i}USDT"
        c = Coin.objects.create(symbol=symbol, base_asset=f"C{i}", quote_asset="USDT")
        listed = AS_OF_MS - rng.choice([30, 100, 150, 2000]) * HOUR_MS if i % 3 else None
        cd = CoinData(symbol, c.id, listed, i % 2 == 0)
        hours = 20 if i == 5 else 300
        start = (AS_OF_MS // HOUR_MS) * HOUR_MS - hours * HOUR_MS
        price = 1 + rng.random() * 100
        for h in range(hours):
            if i == 4 and h == hours - 10:
                continue  # a gap
            price *= 1 + rng.gauss(0, 0.02)
            qv = rng.random() * 1e6 * (3 if h > hours - 24 and i % 4 == 0 else 1)
            cd.candles.append((start + h * HOUR_MS, price, qv, qv * rng.random()))
        at = AS_OF_MS - 600_000
        cd.add_metric("funding_pct", at, rng.gauss(0, 0.05))
        cd.add_metric("open_interest", at, 1e6 * (1 + rng.random()))
        cd.add_metric("open_interest", at - 24 * HOUR_MS, 1e6)
        cd.add_metric("top_position_ratio", at, 1 + rng.random() * 2)
        for h in range(24):
            cd.add_metric("futures_taker_buy_vol", at - h * HOUR_MS, rng.random() * 100)
            cd.add_metric("futures_taker_sell_vol", at - h * HOUR_MS, rng.random() * 100)
        for name, value in (("galaxy_score", rng.random() * 100), ("galaxy_score_previous", rng.random() * 100),
                            ("alt_rank", rng.randint(1, 500)), ("alt_rank_previous", rng.randint(1, 500)),
                            ("alt_rank_count", 500), ("sentiment", rng.random() * 100),
                            ("social_volume_24h", rng.random() * 1e4)):
            if i != 6:  # one coin without social data
                cd.add_metric(name, at - 7_000, float(value))
        cd.add_metric("fdv", at - 60_000, 1e8 * rng.random())
        cd.add_metric("circulating_share_pct", at - 60_000, 100 * rng.random())
        coins[symbol] = cd
    g = Gathered(coins=coins, universe=[])
    g.as_of = AS_OF
    return g


def scored(g: Gathered):
    return score_universe(g.coins, g.as_of, Thresholds(), SCANNERS)


def stored(model, run_field: str, run_id: int, exclude: set[str]) -> list[tuple]:
    """The rows of one run as the database holds them, in insertion order: JSON as the value its text
    holds (insert_rows encodes with orjson, bulk_create with json.dumps: the spacing differs)."""
    concrete = [f for f in model._meta.concrete_fields if f.name not in exclude]
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(f.column for f in concrete)} FROM {table} WHERE {run_field} = %s "
                       "ORDER BY id", [run_id])
        rows = cursor.fetchall()
    is_json = [f.get_internal_type() == "JSONField" for f in concrete]
    return [tuple(json.loads(v) if j and v is not None else v for v, j in zip(row, is_json)) for row in rows]


# ---------------------------------------------------------------- the old way, as it was

def save_results_old(run, g, snaps, outputs) -> int:
    rows, scored_ = [], 0
    for symbol, per_scanner in outputs.items():
        cd, snap = g.coins[symbol], snaps[symbol]
        inputs = snapshot_inputs(cd, snap)
        if any(o.score is not None for o in per_scanner.values()):
            scored_ += 1
        for scanner, o in per_scanner.items():
            used = {name: inputs[name] for name in SCANNER_INPUTS[scanner]}
            rows.append(ScanResult(run=run, coin_id=cd.coin_id, scanner=scanner, score=o.score, scores=o.scores,
                                   signal=o.signal, direction=o.direction, reasons=o.reasons, missing=o.missing,
                                   inputs={**used, **({"detail": o.detail} if o.detail else {})},
                                   data_as_of=snap.candle_close_time))
    ScanResult.objects.bulk_create(rows, batch_size=500)
    return scored_


def update_unified_old(run, g, snaps, outputs) -> None:
    config = ScoringConfig.current()
    now = g.as_of
    max_age = scanner_max_age()
    ids = {g.coins[s].coin_id: s for s in outputs}
    previous = {u.coin_id: u.components for u in UnifiedScore.objects.filter(coin_id__in=ids, is_latest=True)}
    rows = []
    for coin_id, symbol in ids.items():
        components = {name: c for name, c in (previous.get(coin_id) or {}).items()
                      if name in max_age and now - datetime.fromisoformat(c["as_of"]) <= max_age[name]}
        for scanner, o in outputs[symbol].items():
            components[scanner] = {"scores": o.scores, "as_of": now.isoformat(), "run": run.pk}
        result = unify({k: v["scores"] for k, v in components.items()}, config.weights, config.tier_thresholds,
                       config.min_confirmations_tier1)
        snap = snaps[symbol]
        cv = result.cross_validation
        rows.append(UnifiedScore(
            coin_id=coin_id, run=run, computed_at=now, data_as_of=snap.candle_close_time,
            unified_score=result.unified_score, tier=result.tier or "", label=result.label or "",
            tier_demoted=result.tier_demoted, action=cv.action, confidence=cv.confidence, coverage=result.coverage,
            confirmations=cv.confirmations, agreeing_scanners=cv.agreeing_scanners,
            breakdown={k: vars(b) for k, b in result.breakdown.items()}, components=components,
            missing=result.missing, reasons=result.reasons,
            risk_level=risk_level(snap.age_hours, snap.pct_24h, result.coverage)))
    UnifiedScore.objects.filter(coin_id__in=ids, is_latest=True).update(is_latest=False)
    UnifiedScore.objects.bulk_create(rows, batch_size=500)


def entry_prices_old(pairs, results):
    prices = {}
    for r in results:
        value = ((r.inputs or {}).get("last_close") or {}).get("value")
        if r.data_as_of and isinstance(value, (int, float)):
            prices.setdefault((r.coin_id, r.data_as_of), float(value))
    if pairs:
        candles = Candle.objects.filter(interval="1h", coin_id__in={c for c, _ in pairs},
                                        open_time__in={t - timedelta(hours=1) for _, t in pairs})
        for coin_id, open_time, close in candles.values_list("coin_id", "open_time", "close"):
            if (coin_id, open_time + timedelta(hours=1)) in pairs:
                prices[(coin_id, open_time + timedelta(hours=1))] = close
    return prices


def find_candidates_old(run) -> list[tuple]:
    rules = list(AlertRule.objects.filter(enabled=True).order_by("tier", "pk"))
    by_scanner = defaultdict(list)
    for rule in rules:
        by_scanner[rule.scanner].append(rule)
    if not by_scanner:
        return []
    results = list(ScanResult.objects.filter(run=run))
    unified = {u.coin_id: u for u in UnifiedScore.objects.filter(run=run)}
    own = defaultdict(dict)
    for r in results:
        own[r.coin_id][r.scanner] = r.scores or {}
    prices = entry_prices_old({(r.coin_id, r.data_as_of) for r in results if r.data_as_of}
                              | {(u.coin_id, u.data_as_of) for u in unified.values() if u.data_as_of}, results)
    out = []
    for r in results:
        if r.scanner not in by_scanner or r.scanner not in METRICS:
            continue
        u = unified.get(r.coin_id)
        for direction, match in evaluate(by_scanner[r.scanner], _value_of(own[r.coin_id], u)).items():
            metric = headline_metric(r.scanner, direction)
            out.append((r.coin_id, r.scanner, match, {
                "score": (r.scores or {}).get(metric), "score_metric": metric,
                "unified_score": u.unified_score if u else None,
                "candle_close_time": r.data_as_of, "data_as_of": r.data_as_of,
                "entry_price": prices.get((r.coin_id, r.data_as_of)), "scores": r.scores or {},
                "inputs": r.inputs or {}, "missing": r.missing or [], "reasons": r.reasons or []}))
    for coin_id, u in unified.items():
        if "unified" not in by_scanner:
            break
        for direction, match in evaluate(by_scanner["unified"], _value_of(own[coin_id], u)).items():
            out.append((coin_id, "unified", match, {
                "score": u.unified_score, "score_metric": "unified_score", "unified_score": u.unified_score,
                "candle_close_time": u.data_as_of, "data_as_of": u.data_as_of,
                "entry_price": prices.get((coin_id, u.data_as_of)),
                "scores": {"unified_score": u.unified_score, "tier": u.tier, "label": u.label, "action": u.action,
                           "confidence": u.confidence, "coverage": u.coverage, "confirmations": u.confirmations,
                           "agreeing_scanners": u.agreeing_scanners, "breakdown": u.breakdown},
                "inputs": u.components or {}, "missing": u.missing or [], "reasons": u.reasons or []}))
    return [c for c in out if c[3]["candle_close_time"] is not None]


# ---------------------------------------------------------------- the comparisons

def test_insert_rows_stores_what_bulk_create_stores():
    a, b = (Coin.objects.create(symbol=s, base_asset=s[:1], quote_asset="USDT") for s in ("AUSDT", "BUSDT"))
    runs = [ScanRun.objects.create(scanner="all") for _ in range(2)]
    at = datetime(2026, 5, 1, 10, tzinfo=timezone.utc)
    values = [  # an int score (stored as a float), non-ASCII reasons, None, nested JSON, a naive-free datetime
        dict(coin_id=a.id, scanner="rsi", score=7, scores={"rsi": 23.5, "technical": 9}, signal="oversold",
             direction="LONG", reasons=["RSI 23.50 < 25 → oversold ≥"], missing=[],
             inputs={"last_close": {"value": 1.5, "as_of": at.isoformat()}}, data_as_of=at, created_at=at),
        dict(coin_id=b.id, scanner="mss", score=None, scores={"mss": None, "coverage": 0.0}, signal="", direction="",
             reasons=[], missing=["fdv", "age_hours"], inputs={"detail": {"phases": [1, 2.5, None]}},
             data_as_of=None, created_at=at + timedelta(microseconds=1)),
        dict(coin_id=b.id, scanner="social", score=81.25, scores={"momentum": 81.25, "trending": True},
             signal="trending", direction="LONG", reasons=["x"], missing=[], inputs={}, data_as_of=at,
             created_at=at + timedelta(microseconds=2)),
    ]
    ScanResult.objects.bulk_create([ScanResult(run=runs[0], **v) for v in values])
    fields = ("run", "coin", "scanner", "score", "scores", "signal", "direction", "reasons", "missing", "inputs",
              "data_as_of", "created_at")
    assert insert_rows(ScanResult, fields, [(runs[1].pk, *(v[f if f != "coin" else "coin_id"] for f in fields[1:]))
                                            for v in values]) == 3
    assert insert_rows(ScanResult, fields, []) == 0
    old, new = (stored(ScanResult, "run_id", r.pk, {"id", "run", "created_at"}) for r in runs)
    assert new == old
    # bulk_create sets auto_now_add itself; insert_rows stores the value passed
    assert [(r.score, r.created_at) for r in ScanResult.objects.filter(run=runs[1]).order_by("id")] == \
        [(7.0, at), (None, at + timedelta(microseconds=1)), (81.25, at + timedelta(microseconds=2))]


def test_json_that_orjson_refuses_is_encoded_as_django_encodes_it():
    coin = Coin.objects.create(symbol="AUSDT", base_asset="A", quote_asset="USDT")
    run = ScanRun.objects.create(scanner="all")
    at = datetime(2026, 5, 1, 10, tzinfo=timezone.utc)
    fields = ("run", "coin", "scanner", "scores", "signal", "direction", "reasons", "missing", "inputs", "created_at")
    # a key that is not a string: json.dumps writes it as "1" (orjson refuses it, so the adapter encodes it)
    insert_rows(ScanResult, fields, [(run.pk, coin.id, "rsi", {1: 2.5, "big": 2 ** 70}, "", "", ["→"], [], {}, at)])
    assert ScanResult.objects.get(run=run).scores == {"1": 2.5, "big": 2 ** 70}
    # a datetime in JSON: refused without an encoder, as bulk_create refuses it; nothing is written
    with pytest.raises(TypeError):
        insert_rows(ScanResult, fields, [(run.pk, coin.id, "mss", {"at": at}, "", "", [], [], {}, at)])
    with pytest.raises(TypeError), transaction.atomic():
        ScanResult.objects.bulk_create([ScanResult(run=run, coin=coin, scanner="mss", scores={"at": at})])
    assert ScanResult.objects.filter(run=run).count() == 1
    # NaN is not JSON: written as null (json.dumps would write the token NaN, which jsonb rejects)
    insert_rows(ScanResult, fields, [(run.pk, coin.id, "social", {"momentum": float("nan")}, "", "", [], [], {}, at)])
    assert ScanResult.objects.get(run=run, scanner="social").scores == {"momentum": None}


def test_save_results_writes_the_rows_the_old_way_wrote():
    g = universe()
    snaps, outputs = scored(g)
    old_run, new_run = ScanRun.objects.create(scanner="all"), ScanRun.objects.create(scanner="all")
    assert save_results(new_run, g, snaps, outputs) == save_results_old(old_run, g, snaps, outputs)
    old = stored(ScanResult, "run_id", old_run.pk, {"id", "run", "created_at"})
    new = stored(ScanResult, "run_id", new_run.pk, {"id", "run", "created_at"})
    assert len(new) == sum(len(o) for o in outputs.values()) > 50
    assert new == old
    # created_at as auto_now_add set it: per row, in row order
    created = list(ScanResult.objects.filter(run=new_run).order_by("id").values_list("created_at", flat=True))
    assert created == sorted(created)


def test_results_prepared_coin_by_coin_are_the_rows_the_old_way_wrote():
    """As a scan prepares them: each coin's when it is scored (in the order the fetch completes
    them), with one RowPreparer; stored in the universe's order."""
    g = universe()
    snaps, outputs = scored(g)
    old_run, new_run = ScanRun.objects.create(scanner="all"), ScanRun.objects.create(scanner="all")
    preparer = result_preparer()
    prepared = {s: prepare_coin_results(new_run.pk, g.coins[s], snaps[s], outputs[s], preparer)
                for s in reversed(list(outputs))}
    assert prepared[next(iter(outputs))].sql == prepare_rows(ScanResult, RESULT_FIELDS, []).sql
    result = prepare_results(new_run, g, snaps, outputs, prepared)
    assert save_results(new_run, g, snaps, outputs, result) == save_results_old(old_run, g, snaps, outputs)
    ignore = {"id", "run", "created_at"}
    assert stored(ScanResult, "run_id", new_run.pk, ignore) == stored(ScanResult, "run_id", old_run.pk, ignore)
    # each row where prepare_results would have put it: the coins in the universe's order
    order = list(ScanResult.objects.filter(run=new_run).order_by("id").values_list("coin__symbol", flat=True))
    assert list(dict.fromkeys(order)) == [s for s in outputs if outputs[s]]


def test_update_unified_writes_the_rows_the_old_way_wrote():
    g = universe()
    snaps, outputs = scored(g)
    rsi_only = {s: {k: v for k, v in o.items() if k == "rsi"} for s, o in outputs.items()}
    runs = [ScanRun.objects.create(scanner="all"), ScanRun.objects.create(scanner="rsi")]
    got = {}
    for name, write in (("old", update_unified_old), ("new", update_unified)):
        # the second scan keeps the first one's still-fresh components, and supersedes its scores
        write(runs[0], g, snaps, outputs)
        write(runs[1], g, snaps, rsi_only)
        got[name] = [stored(UnifiedScore, "run_id", run.pk, {"id", "run"}) for run in runs]
        UnifiedScore.objects.all().delete()
    assert got["new"] == got["old"]
    assert len(got["new"][0]) == len(got["new"][1]) == len(g.coins)


def test_find_candidates_finds_what_the_old_way_found():
    g = universe(30, seed=11)
    snaps, outputs = scored(g)
    run = ScanRun.objects.create(scanner="all", status=ScanRun.COMPLETED, finished_at=AS_OF)
    save_results(run, g, snaps, outputs)
    update_unified(run, g, snaps, outputs)
    # Permissive rules so that many coins match, of every scanner; a candle for a third of the coins
    # (the entry price comes from it), the RSI result's last close for the rest.
    for i, (scanner, metric, comparison, threshold, direction, kind) in enumerate([
            ("rsi", "rsi", "lt", 60, "LONG", "oversold"), ("smart_money", "accumulation", "gte", 1, "LONG", "accumulating"),
            ("smart_money", "distribution", "gte", 1, "SHORT", "distributing"), ("mss", "mss", "gte", 1, "LONG", "gem"),
            ("social", "momentum", "gte", 40, "LONG", "trending"),
            ("unified", "unified_score", "gte", 20, "LONG", "unified")]):
        AlertRule.objects.create(name=f"test {i}", tier=3, scanner=scanner, metric=metric, comparison=comparison,
                                 threshold=threshold, direction=direction, kind=kind)
    for n, (symbol, snap) in enumerate(snaps.items()):
        if n % 3 == 0 and snap.candle_close_time:
            close = snap.last_close * 1.01
            Candle.objects.create(coin_id=g.coins[symbol].coin_id, interval="1h",
                                  open_time=snap.candle_close_time - timedelta(hours=1),
                                  close_time=snap.candle_close_time - timedelta(milliseconds=1), open=close, high=close,
                                  low=close, close=close, volume=1, quote_volume=1, trades=1, taker_buy_base_volume=0,
                                  taker_buy_quote_volume=0)
    old = find_candidates_old(run)
    new = [(c.coin_id, c.scanner, c.match, c.fields) for c in find_candidates(run)]
    assert len(new) > 40 and {c[1] for c in new} >= {"rsi", "smart_money", "unified", "social"}
    assert new == old
    assert any(c[3]["entry_price"] is not None for c in new)
    # no rule enabled: nothing read
    AlertRule.objects.update(enabled=False)
    assert find_candidates(run) == find_candidates_old(run) == []


def permissive_rules() -> None:
    for i, (scanner, metric, comparison, threshold, direction, kind) in enumerate([
            ("rsi", "rsi", "lt", 60, "LONG", "oversold"), ("smart_money", "accumulation", "gte", 1, "LONG", "accumulating"),
            ("unified", "unified_score", "gte", 20, "LONG", "unified")]):
        AlertRule.objects.create(name=f"any {i}", tier=2, scanner=scanner, metric=metric, comparison=comparison,
                                 threshold=threshold, direction=direction, kind=kind)


def scored_run() -> ScanRun:
    g = universe(20, seed=5)
    snaps, outputs = scored(g)
    run = ScanRun.objects.create(scanner="all", status=ScanRun.COMPLETED, finished_at=AS_OF)
    save_results(run, g, snaps, outputs)
    update_unified(run, g, snaps, outputs)
    return run


def signal_rows() -> list[tuple]:
    return [(s.coin_id, s.scanner, s.direction, s.tier, s.kind, s.score, s.score_metric, s.unified_score,
             s.entry_price, s.candle_close_time, s.scores, s.inputs, s.missing, s.reasons, s.rules_matched,
             s.created_at, [(d.recipient_id, d.status, d.reason) for d in s.deliveries.order_by("id")])
            for s in Signal.objects.order_by("id")]


def test_signals_written_at_once_are_those_written_one_by_one(monkeypatch):
    """record_signals inserts its new signals in one bulk_create; one by one (the old way, and its
    fallback when a concurrent recorder wrote one meanwhile) stores the same rows in the same order."""
    from django.db import IntegrityError

    from signals.outbox import record_signals
    from tests.test_alert_support import alice

    alice()
    permissive_rules()
    run = scored_run()
    at_once = record_signals(run, now=AS_OF)
    assert len(at_once) > 20 and all(s.pk for s in at_once)
    got = signal_rows()
    assert [s.pk for s in at_once] == list(Signal.objects.order_by("id").values_list("pk", flat=True))
    Signal.objects.all().delete()
    ProcessedRun.objects.all().delete()

    def refuse(*args, **kwargs):
        raise IntegrityError("as if a concurrent recorder had written one")
    monkeypatch.setattr(Signal.objects, "bulk_create", refuse)
    one_by_one = record_signals(run, now=AS_OF)
    assert signal_rows() == got
    assert [(s.coin_id, s.scanner, s.direction) for s in one_by_one] == \
        [(s.coin_id, s.scanner, s.direction) for s in at_once]


def test_a_signal_a_concurrent_recorder_wrote_is_skipped(monkeypatch):
    """A recorder that commits one of the run's signals after this one looked for existing ones:
    the INSERT of all at once fails, and the rest are written one by one, as before."""
    from signals.outbox import record_signals
    from tests.test_alert_support import alice

    alice()
    permissive_rules()
    run = scored_run()
    c = find_candidates(run)[1]
    Signal.objects.create(coin_id=c.coin_id, run=run, scanner=c.scanner, kind=c.match.kind, direction=c.match.direction,
                          tier=c.match.tier, candle_close_time=c.fields["candle_close_time"], created_at=AS_OF)
    monkeypatch.setattr(Signal.objects, "filter", lambda *args, **kwargs: Signal.objects.none())  # not seen
    created = record_signals(run, now=AS_OF)
    keys = [(s.coin_id, s.scanner, s.direction) for s in created]
    assert (c.coin_id, c.scanner, c.match.direction) not in keys and len(keys) > 20
    assert Signal.objects.count() == len(keys) + 1
    assert AlertDelivery.objects.count() == len(keys)  # none for the signal this recorder did not write


def test_the_rules_read_every_unified_metric_they_may_name():
    from signals.outbox import _RuledUnified
    assert set(METRICS["unified"]) <= set(_RuledUnified._fields)


def test_read_rows_gives_what_values_list_gives():
    g = universe(8, seed=3)
    snaps, outputs = scored(g)
    run = ScanRun.objects.create(scanner="all")
    save_results(run, g, snaps, outputs)
    update_unified(run, g, snaps, outputs)
    from marketdata.archive import read_rows
    for qs, fields in ((ScanResult.objects.filter(run=run).order_by("pk"),
                        ("pk", "coin_id", "scanner", "score", "scores", "inputs", "missing", "data_as_of", "created_at")),
                       (UnifiedScore.objects.filter(run=run).order_by("pk"),
                        ("coin_id", "computed_at", "unified_score", "tier", "components", "breakdown", "agreeing_scanners")),
                       (ScanResult.objects.filter(run=run, scores__rsi__isnull=False).order_by("pk"), ("pk", "scores__rsi"))):
        expected = list(qs.values_list(*fields))
        assert expected and read_rows(qs, *fields) == expected
    assert read_rows(ScanResult.objects.filter(run=-1), "pk", "scores") == []
    assert read_rows(ScanResult.objects.filter(pk__in=[]), "pk", "scores") == []
    # JSON text that orjson refuses (a NaN token, as json.dumps writes it; a 70-bit integer) is read as
    # json.loads reads it, and text that is no JSON at all comes back as it is, as the ORM gives it
    # (the databases' JSON checks keep both out of these tables; read_rows may read any JSONField)
    from marketdata.archive import _loads_json
    assert repr(_loads_json('{"x": NaN, "n": 1180591620717411303424}')) == repr({"x": float("nan"), "n": 2 ** 70})
    assert _loads_json("not json") == "not json"


def test_datetimes_are_prepared_as_djangos_adapter_prepares_them():
    from zoneinfo import ZoneInfo

    from marketdata.archive import _prepared_column

    field = ScanResult._meta.get_field("created_at")
    values = (datetime(2026, 5, 1, 10, tzinfo=timezone.utc), datetime(2026, 5, 1, 10, 0, 0, 1, tzinfo=timezone.utc),
              datetime(2026, 5, 1, 12, 30, tzinfo=ZoneInfo("Europe/Berlin")), None,
              datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc))
    assert list(_prepared_column(field, values)) == [field.get_db_prep_save(v, connection) for v in values]
