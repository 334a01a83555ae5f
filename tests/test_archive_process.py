"""A cold scan's candles written by a process of their own (marketdata.archive_process, the program
marketdata.candle_writer), for real: a child process writing to a SQLite file (on every run) or to
the PostgreSQL test database (when that is the database). What it stores is what Django itself
stores for the same candles; a failed write fails the scan's send or its flush with the reason and
writes nothing of its batch; it is used only where another process can see what the scan wrote."""
from __future__ import annotations

import asyncio
import sqlite3
from unittest import mock
from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection, connections
from django.db.utils import ConnectionHandler

from marketdata.archive import column_rows
from marketdata.archive_process import ArchiveWriteError, CandleWriter, writer_config
from marketdata.binance_spot import KlineColumns, ms_to_dt
from marketdata.models import Candle, Coin, MetricPoint
from marketdata.simulator.server import SimulatorServer
from tests.conftest import point_all_at

HOUR = 3_600_000
START = 1_780_000_000_000 // HOUR * HOUR
# floats whose text forms are awkward: a writer that went through text could round them
AWKWARD = [0.1 + 0.2, 1e-9, 123456789.12345679, 2.5e-324 * 4, 0.01634790, 1 / 3, 98765.4321e10]


def columns(n: int, shift: int = 0, start: int = START) -> KlineColumns:
    floats = [[AWKWARD[(i + k + shift) % len(AWKWARD)] * (k + 1) for i in range(n)] for k in range(8)]
    o, h, lo, c, v, qv, tbb, tbq = floats
    return KlineColumns([start + i * HOUR for i in range(n)], o, h, lo, c, v,
                        [start + i * HOUR + HOUR - 1 for i in range(n)], qv, [1000 + i for i in range(n)], tbb, tbq)


def stored(db: str, coin_id: int) -> list[tuple]:
    with connections[db].cursor() as c:
        c.execute("SELECT interval, open_time, close_time, open, high, low, close, volume, quote_volume, trades, "
                  "taker_buy_base_volume, taker_buy_quote_volume FROM marketdata_candle WHERE coin_id = %s "
                  "ORDER BY open_time", [coin_id])
        return c.fetchall()


def django_writes(db: str, coin: Coin, k: KlineColumns) -> None:
    """The reference: Candle instances through the ORM."""
    Candle.objects.using(db).bulk_create([
        Candle(coin=coin, interval="1h", open_time=ms_to_dt(row.open_time), close_time=ms_to_dt(row.close_time),
               open=row.open, high=row.high, low=row.low, close=row.close, volume=row.volume,
               quote_volume=row.quote_volume, trades=row.trades, taker_buy_base_volume=row.taker_buy_base_volume,
               taker_buy_quote_volume=row.taker_buy_quote_volume) for row in k.klines()])


def through_writer(config: dict, coins: list[tuple[int, KlineColumns]], pause: float = 0) -> int:
    async def go() -> int:
        writer = await CandleWriter.start(config)
        for coin_id, k in coins:
            assert await writer.send(coin_id, "1h", k)
            await asyncio.sleep(pause)
        return await writer.close()
    return asyncio.run(go())


@pytest.fixture
def sqlite_file(tmp_path, django_db_blocker):
    """A SQLite file database with the coin and candle tables, as the project configures SQLite."""
    options = {"timeout": 20, "transaction_mode": "IMMEDIATE",
               "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    config = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "archive.sqlite3"), "OPTIONS": options}
    alias = f"archive_file_{tmp_path.name}"  # one per test: the handler keeps a connection per alias
    connections.settings[alias] = ConnectionHandler().configure_settings({"default": config})["default"]
    with django_db_blocker.unblock():  # a connection of our own to a file of our own, not the test database
        try:
            with connections[alias].schema_editor() as editor:
                editor.create_model(Coin)
                editor.create_model(Candle)
                editor.create_model(MetricPoint)
            yield alias
        finally:
            connections[alias].close()
            del connections[alias]
            del connections.settings[alias]


def make_coins(db: str, n: int) -> list[Coin]:
    return [Coin.objects.using(db).create(symbol=f"W{i}USDT", base_asset=f"W{i}", quote_asset="USDT")
            for i in range(n)]


def test_on_sqlite_it_stores_what_django_stores(sqlite_file):
    a, b, c = make_coins(sqlite_file, 3)
    config = writer_config(batch=300, using=sqlite_file)
    assert config["vendor"] == "sqlite" and config["params"]["init_command"].startswith("PRAGMA journal_mode=WAL")
    # 700 and 500 candles: batches of 300 rows span coins, statements of 500 rows and single rows
    assert through_writer(config, [(a.id, columns(700)), (b.id, columns(500, shift=3))]) == 1200
    django_writes(sqlite_file, c, columns(700))
    assert stored(sqlite_file, a.id) == stored(sqlite_file, c.id)
    assert len(stored(sqlite_file, a.id)) == 700 and len(stored(sqlite_file, b.id)) == 500
    # the values are the exact floats sent (binary, not text)
    assert [r[3] for r in stored(sqlite_file, b.id)] == columns(500, shift=3).open
    # existing candles are kept, as the scan's own writes keep them
    assert through_writer(config, [(a.id, columns(10, shift=1))]) == 10
    assert stored(sqlite_file, a.id) == stored(sqlite_file, c.id)


def points(coin_id: int, n: int = 30) -> list[tuple]:
    """Metric points as a scan collects them (Gathered.new_metrics): a few metrics, awkward floats."""
    return [(coin_id, name, START + i * 60_000, AWKWARD[i % len(AWKWARD)] * (k + 1), source)
            for k, (name, source) in enumerate((("funding_pct", "binance_futures"), ("galaxy_score", "lunarcrush")))
            for i in range(n)]


def metrics_through_writer(config: dict, *batches: list[tuple]) -> int:
    async def go() -> int:
        writer = await CandleWriter.start(config)
        for batch in batches:
            await writer.send_metrics(batch)
        assert await writer.close() == 0  # no candles
        return writer.metric_rows
    return asyncio.run(go())


def stored_metrics(db: str, coin_id: int) -> list[tuple]:
    with connections[db].cursor() as c:
        c.execute("SELECT metric, at, value, source FROM marketdata_metricpoint WHERE coin_id = %s "
                  "ORDER BY metric, at", [coin_id])
        return c.fetchall()


def django_metric_writes(db: str, coin: Coin, rows: list[tuple]) -> None:
    MetricPoint.objects.using(db).bulk_create([MetricPoint(coin=coin, metric=m, at=ms_to_dt(at), value=v, source=src)
                                               for _, m, at, v, src in rows])


def test_on_sqlite_it_stores_the_metric_points_django_stores(sqlite_file):
    a, b = make_coins(sqlite_file, 2)
    config = writer_config(batch=300, using=sqlite_file)
    # sent twice: the points already stored are kept, as store_metrics keeps them
    assert metrics_through_writer(config, points(a.id), points(a.id)) == 120
    django_metric_writes(sqlite_file, b, points(b.id))
    assert stored_metrics(sqlite_file, a.id) == stored_metrics(sqlite_file, b.id)
    assert len(stored_metrics(sqlite_file, a.id)) == 60
    with pytest.raises(ArchiveWriteError, match="FOREIGN KEY constraint failed: metrics name no coin"):
        metrics_through_writer(config, points(a.id + 999))


def test_the_end_of_its_input_has_it_write_its_last_partial_batch_before_it_is_closed(sqlite_file):
    (a,) = make_coins(sqlite_file, 1)
    config = writer_config(batch=10_000, using=sqlite_file)

    def count() -> int:  # read as another process reads the file (the test's own connection is not async-safe)
        with sqlite3.connect(config["params"]["database"]) as db:
            return db.execute("SELECT COUNT(*) FROM marketdata_candle WHERE coin_id = ?", [a.id]).fetchone()[0]

    async def go() -> tuple[int, int]:
        writer = await CandleWriter.start(config)
        assert await writer.send(a.id, "1h", columns(300))  # under a batch: held until the input ends
        await asyncio.sleep(0.3)
        held = count()
        writer.end_input()
        for _ in range(200):  # written while the caller does other things, before close() is awaited
            if count() == 300:
                break
            await asyncio.sleep(0.05)
        assert count() == 300
        return held, await writer.close()
    assert asyncio.run(go()) == (0, 300)


def test_a_coin_that_does_not_exist_fails_its_batch_and_the_flush(sqlite_file):
    (a,) = make_coins(sqlite_file, 1)
    config = writer_config(batch=10_000, using=sqlite_file)
    with pytest.raises(ArchiveWriteError, match="FOREIGN KEY constraint failed: candles name no coin"):
        through_writer(config, [(a.id, columns(50)), (a.id + 999, columns(50))])
    assert stored(sqlite_file, a.id) == []  # the batch that named it was not written at all


def test_once_the_writer_has_failed_the_next_send_raises(sqlite_file):
    (a,) = make_coins(sqlite_file, 1)
    config = writer_config(batch=1, using=sqlite_file)  # every coin written as it comes

    async def go() -> int:
        writer = await CandleWriter.start(config)
        await writer.send(a.id + 999, "1h", columns(5))
        for _ in range(500):  # the answer comes within a round trip to the child; 5 s at most
            await asyncio.sleep(0.01)
            await writer.send(a.id, "1h", columns(5))
        return -1
    with pytest.raises(ArchiveWriteError, match="no coin"):
        asyncio.run(go())


def test_values_that_do_not_fit_the_binary_columns_are_left_to_the_caller(sqlite_file):
    (a,) = make_coins(sqlite_file, 1)
    k = columns(3)
    k.trades = [1, 2**70, 3]  # not an int64

    async def go() -> tuple[bool, int]:
        writer = await CandleWriter.start(writer_config(batch=100, using=sqlite_file))
        sent = await writer.send(a.id, "1h", k)
        return sent, await writer.close()
    assert asyncio.run(go()) == (False, 0)


def test_it_is_not_used_where_another_process_could_not_see_the_scans_writes(settings, sqlite_file):
    # inside the caller's transaction (every test of the default database runs in one)
    from django.db import transaction
    with transaction.atomic(using=sqlite_file):
        assert writer_config(100, using=sqlite_file) is None
    assert writer_config(100, using=sqlite_file) is not None
    settings.ARCHIVE_WRITER_PROCESS = False
    assert writer_config(100, using=sqlite_file) is None


@pytest.mark.django_db
def test_the_default_test_database_is_not_written_by_a_process_from_inside_a_test_transaction():
    assert writer_config(100) is None  # a test's transaction (and, on SQLite, a database in memory)


POSTGRES = pytest.mark.skipif(connection.vendor != "postgresql",
                              reason="NOTE: the writer process on PostgreSQL runs on the PostgreSQL leg (DATABASE_URL)")


@POSTGRES
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_on_postgresql_it_stores_what_django_stores():
    a, b = make_coins("default", 2)
    config = writer_config(batch=300)
    assert config["vendor"] == "postgresql" and "cursor_factory" not in config["params"]
    assert through_writer(config, [(a.id, columns(700))]) == 700
    django_writes("default", b, columns(700))
    assert stored("default", a.id) == stored("default", b.id)
    with pytest.raises(ArchiveWriteError, match="ForeignKeyViolation|foreign key"):
        through_writer(config, [(a.id + 999, columns(5))])
    assert metrics_through_writer(config, points(a.id), points(a.id)) == 120
    django_metric_writes("default", b, points(b.id))
    assert stored_metrics("default", a.id) == stored_metrics("default", b.id) and len(stored_metrics("default", a.id)) == 60
    with pytest.raises(ArchiveWriteError, match="ForeignKeyViolation|foreign key"):
        metrics_through_writer(config, points(a.id + 999))


@POSTGRES
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_cold_scan_archives_its_candles_through_the_writer_process(settings):
    from scanners.engine import run_scan
    from scanners.gather import forget_candles

    forget_candles()
    settings.ARCHIVE_WRITER_MIN_COINS = 10
    handed: list[list[tuple]] = []
    send = CandleWriter.send_metrics

    async def recorded(self, points):
        handed.append(list(points))
        await send(self, points)
    with SimulatorServer(seed=11, coins=40) as sim, mock.patch.object(CandleWriter, "send_metrics", recorded):
        point_all_at(settings, sim.base_url)
        run = run_scan("all")
        assert run.status == "completed" and run.coverage == 1.0, run.errors
        archived = run.parameters["candles_archived_by_process"]
        assert archived == Candle.objects.count() > 30 * 400
        # its metric points too: every coin's funding, open interest and social points, once each
        assert run.parameters["metric_points_archived_by_process"] == MetricPoint.objects.count() > 30 * 5
        assert MetricPoint.objects.filter(metric="open_interest").count() == Coin.objects.filter(has_perpetual=True).count()
        # handed over in two parts: the bulk answers' points once they were applied, during the fetch
        # (every funding and social point), and the rest at its end; each point once
        assert len(handed) == 2 and sum(map(len, handed)) == MetricPoint.objects.count()
        first = {metric for _, metric, *_ in handed[0]}
        assert {"funding_pct", "social_volume_24h", "galaxy_score"} <= first
        assert not {metric for _, metric, *_ in handed[1]} & {"funding_pct", "social_volume_24h", "galaxy_score", "fdv"}
        # the next scan is warm (a candle or two per coin): the scan writes them itself
        warm = run_scan("all")
        assert warm.parameters["candles_archived_by_process"] == 0 and warm.coverage == 1.0
        assert warm.parameters["metric_points_archived_by_process"] == 0  # stored by the scan itself
        assert MetricPoint.objects.filter(at__gt=run.finished_at).exists()
    forget_candles()
    assert Candle.objects.latest("open_time").open_time > datetime.now(timezone.utc) - timedelta(hours=2)


# ---------------------------------------------------------------- a failed archive write

def _book_of(g) -> dict:
    from scanners.gather import _candle_book
    return {k: v for k, v in _candle_book.items() if k[1] in g.coins}


def _gathered_with_a_book(url: str):
    from scanners.coindata import CoinData
    from scanners.gather import Gathered, _candle_book

    g = Gathered(coins={"AUSDT": CoinData("AUSDT", 1), "BUSDT": CoinData("BUSDT", 2)}, universe=[], spot_url=url)
    for symbol in ("AUSDT", "BUSDT", "OTHERUSDT"):
        _candle_book[(url, symbol)] = [(START, 1.0, 2.0, 1.0)]
    return g


@pytest.mark.django_db
def test_a_failed_write_in_the_scan_forgets_its_coins_candles_so_the_next_scan_fetches_them_again(monkeypatch):
    from django.db import OperationalError

    from scanners import gather as gather_mod

    def fail(rows):
        raise OperationalError("disk I/O error")
    monkeypatch.setattr(gather_mod, "write_candle_rows", fail)
    g = _gathered_with_a_book("http://a")

    async def go() -> None:
        await g.archive_klines(1, "1h", columns(5))
        await g.flush_candles()
    with pytest.raises(ArchiveWriteError, match="the candle archive: disk I/O error"):
        asyncio.run(go())
    assert _book_of(g) == {}  # the next scan of these coins is cold: the archive gets them again
    assert gather_mod._candle_book[("http://a", "OTHERUSDT")]  # another scan's coin is not touched


def test_a_failed_writer_process_forgets_its_coins_candles_too(sqlite_file):
    g = _gathered_with_a_book("http://b")
    g.writer_config = writer_config(batch=1, using=sqlite_file)  # no coin exists in this file

    async def go():
        g.start_writer(cold_coins=10**6)
        await g._writer_ready()
        assert g.writer is not None
        await g.archive_klines(1, "1h", columns(5))
        return await g.writes_done()
    failure = asyncio.run(go())
    assert isinstance(failure, ArchiveWriteError) and "candles name no coin [1]" in str(failure)
    assert _book_of(g) == {} and g.writer is None


@pytest.mark.django_db
def test_a_scan_whose_archive_write_fails_is_failed_with_the_reason(settings, monkeypatch):
    from django.db import OperationalError

    from scanners import gather as gather_mod
    from scanners.engine import run_scan

    def fail(rows):
        raise OperationalError("database or disk is full")
    with SimulatorServer(seed=3, coins=30) as sim:
        point_all_at(settings, sim.base_url)
        monkeypatch.setattr(gather_mod, "ARCHIVE_BATCH", 1000)
        monkeypatch.setattr(gather_mod, "write_candle_rows", fail)
        run = run_scan("all")
        assert run.status == "failed" and run.finished_at is not None
        assert any("the candle archive: database or disk is full" in e["error"] for e in run.errors), run.errors
        assert gather_mod._candle_book == {}
        monkeypatch.undo()
        point_all_at(settings, sim.base_url)
        again = run_scan("all")  # cold again: every coin's 500 hours, archived this time
    assert again.status == "completed" and again.coverage == 1.0
    assert Candle.objects.count() >= again.universe_size * 400


@POSTGRES
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_cold_chunk_archives_its_candles_through_the_writer_process(settings):
    from scanners.chunks import Chunking, assemble, run_chunk
    from scanners.gather import forget_candles
    from scanners.engine import run_scan
    from scanners.models import ScanChunk

    forget_candles()
    settings.ARCHIVE_WRITER_MIN_COINS = 5
    enqueued: list[tuple[int, int]] = []
    with SimulatorServer(seed=11, coins=40) as sim:
        point_all_at(settings, sim.base_url)
        settings.SCAN_MAX_COINS = 20
        run = run_scan("all", chunking=Chunking(10, lambda run_id, index: enqueued.append((run_id, index))))
        assert len(enqueued) == 2
        for run_id, index in enqueued:  # as the workers run them: outside the planner's transaction
            assert run_chunk(run_id, index)["outcome"] == "scored 10 of 10"
        assert assemble(run.pk)["outcome"] == "assembled"
    run.refresh_from_db()
    assert run.status == "completed" and run.scored == 20
    forget_candles()
    per_chunk = [c.parameters["candles_archived_by_process"] for c in ScanChunk.objects.filter(run=run)]
    assert all(n > 10 * 400 for n in per_chunk), per_chunk
    assert sum(per_chunk) == Candle.objects.count()


def test_a_writer_that_cannot_reach_the_database_leaves_the_candles_to_the_scan(tmp_path, monkeypatch, caplog):
    from scanners import gather as gather_mod
    from scanners.coindata import CoinData
    from scanners.gather import Gathered

    config = {"vendor": "sqlite", "params": {"database": str(tmp_path / "no" / "such" / "dir.sqlite3")}, "batch": 10,
              "table": '"marketdata_candle"', "columns": ['"coin_id"'], "coin_table": '"marketdata_coin"',
              "coin_pk": '"id"'}
    with pytest.raises(ArchiveWriteError, match="did not start: OperationalError: unable to open database file"):
        asyncio.run(CandleWriter.start(config))

    written: list[list[tuple]] = []
    monkeypatch.setattr(gather_mod, "write_candle_rows", lambda rows: written.append(rows))
    g = Gathered(coins={"AUSDT": CoinData("AUSDT", 1)}, universe=[], writer_config=config)

    async def go():
        g.start_writer(cold_coins=10**6)
        await asyncio.gather(g.archive_klines(1, "1h", columns(5)), g.archive_klines(1, "1h", columns(3, start=START + 5 * HOUR)))
        return await g.writes_done(), await g.flush_candles()
    assert asyncio.run(go()) == (None, None)
    assert sorted(r[2] for batch in written for r in batch) == sorted(
        r[2] for r in column_rows(1, "1h", columns(5)) + column_rows(1, "1h", columns(3, start=START + 5 * HOUR)))
    assert g.writer is None and g.archived_by_process == 0
    assert "did not start" in caplog.text and "the scan writes its candles itself" in caplog.text
