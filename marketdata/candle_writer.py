"""The candle archive's writer process: the program the scan starts (marketdata.archive_process)
to write a cold scan's candles on another core while it goes on fetching.

It uses the database driver alone (sqlite3 or psycopg) and imports nothing of Django or of this
project, so it starts in a few tens of milliseconds; it runs as a script (`python -I
candle_writer.py`), so nothing here may import a sibling module.

Protocol, over its stdin and stdout: frames of a 4-byte little-endian length and a pickle. The
first frame is the configuration (`config` in archive_process.writer_config); then one frame per
coin: (coin id, interval, n, the open times, close times and trades as 3·n int64, the eight price
and volume columns as 8·n float64) — exact binary values, no text to parse — and, where the
configuration names the metric table, frames of metric points ("metrics", [(coin id, metric, time
in ms, value, source), ...]), each written at once in a transaction of its own (the rows and SQL of
marketdata.archive.store_metrics). End of input ends the work: what is buffered is written and
one frame answers, {"rows": n, "metric_rows": m} or {"error": "..."}. Before
that, once connected, it says {"ready": True}; if it cannot connect, the error is its only frame
(the scan then writes its candles itself). A failed write answers at once and exits, so the scan's
next send, or its final flush, fails with it.

The rows and the SQL are those of marketdata.archive (`column_rows`, `insert_ignoring_conflicts`
with `parent="coin_id"`): multi-row INSERT ... ON CONFLICT DO NOTHING, a transaction per batch of
`batch` rows, on SQLite an IMMEDIATE one that first checks every coin it names exists (its foreign
key checks are off on this connection: row by row they cost a fifth of the writes), on PostgreSQL
the foreign key checked by the database at commit. Tests compare the stored rows with Django's own writes
of the same candles (bulk_create), byte for byte.
"""
from __future__ import annotations

import pickle
import queue
import struct
import sys
import threading
from array import array
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from itertools import chain, repeat
from typing import Any, BinaryIO, Callable, Iterator

FRAME = struct.Struct("<I")
# CANDLE_FIELDS' float columns, in that order (marketdata.archive)
FLOAT_COLUMNS = ("open", "high", "low", "close", "volume", "quote_volume", "taker_buy_base_volume",
                 "taker_buy_quote_volume")
MAX_ROWS_PER_INSERT = 500
CANDLES, METRICS = "candles", "metrics"  # the tables it writes (a metrics frame starts with METRICS)
_EPOCH = datetime(1970, 1, 1)


@lru_cache(maxsize=65_536)  # candle times repeat across coins: a cold scan formats ~1,000 distinct ones
def sqlite_datetime(ms: int) -> str:
    """A millisecond timestamp as Django's SQLite backend stores a datetime (naive UTC text)."""
    return str(_EPOCH + timedelta(milliseconds=ms))


def utc_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)  # as marketdata.binance_spot.ms_to_dt


def read_frame(stream: BinaryIO) -> Any:
    """The next frame's object, or None at the end of the input."""
    head = stream.read(FRAME.size)
    if len(head) < FRAME.size:
        return None
    (size,) = FRAME.unpack(head)
    body = stream.read(size)
    if len(body) < size:
        raise EOFError("the input ended inside a frame")
    return pickle.loads(body)


def frame(obj: Any) -> bytes:
    blob = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return FRAME.pack(len(blob)) + blob


def values_of(coin_id: int, interval: str, n: int, ints: bytes, floats: bytes,
              dt: Callable[[int], Any]) -> list:
    """The rows marketdata.archive.column_rows builds from the same columns, flattened (row after
    row, CANDLE_FIELDS' order): what the multi-row INSERTs bind. Built in C (zip, chain), with no
    Python code per candle."""
    i, f = array("q"), array("d")
    i.frombytes(ints)
    f.frombytes(floats)
    if len(i) != 3 * n or len(f) != 8 * n:
        raise ValueError(f"coin {coin_id}: {len(i)} integers and {len(f)} floats for {n} candles")
    ints_, floats_ = i.tolist(), f.tolist()
    o, h, lo, c, v, qv, tbb, tbq = (floats_[k * n:(k + 1) * n] for k in range(8))
    return list(chain.from_iterable(zip(repeat(coin_id, n), repeat(interval, n), map(dt, ints_[:n]),
                                        map(dt, ints_[n:2 * n]), o, h, lo, c, v, qv, ints_[2 * n:], tbb, tbq)))


class Batch:
    """Rows waiting to be written, flat, and the coins they name."""

    def __init__(self, width: int) -> None:
        self.width, self.values, self.coins = width, [], set()

    def add(self, coin_id: int, values: list) -> None:
        self.values.extend(values)
        self.coins.add(coin_id)

    def __len__(self) -> int:
        return len(self.values) // self.width

    def rows(self, start: int = 0) -> list[tuple]:
        tail = iter(self.values[start * self.width:])
        return list(zip(*[tail] * self.width))


def _statements(table: str, columns: list[str], per: int, mark: str) -> tuple[str, str]:
    """The multi-row INSERT of `per` rows and the one-row one, both skipping existing rows."""
    row = "(" + ", ".join([mark] * len(columns)) + ")"
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
    return head + ", ".join([row] * per) + " ON CONFLICT DO NOTHING", head + row + " ON CONFLICT DO NOTHING"


class SQLiteWriter:
    def __init__(self, config: dict) -> None:
        import sqlite3

        params = config["params"]
        # Autocommit: each batch opens its own BEGIN IMMEDIATE. The settings' init_command (WAL,
        # synchronous=NORMAL) as on Django's own connections.
        self.db = sqlite3.connect(params["database"], timeout=params.get("timeout", 20), isolation_level=None)
        if params.get("init_command"):
            self.db.executescript(params["init_command"])
        self.db.execute("PRAGMA foreign_keys = OFF")
        limit = self.db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        self.tables = {}  # name -> (multi-row statement, one-row statement, rows per multi-row statement)
        for name, (table, columns) in _tables(config).items():
            per = max(1, min(MAX_ROWS_PER_INSERT, limit // len(columns)))
            self.tables[name] = (*_statements(table, columns, per, "?"), per)
        self.coins = f"SELECT {config['coin_pk']} FROM {config['coin_table']} WHERE {config['coin_pk']} IN "

    def write(self, batch: Batch, table: str = CANDLES) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            wanted = sorted(batch.coins)
            found: set[int] = set()
            for k in range(0, len(wanted), 500):
                part = wanted[k:k + 500]
                found.update(pk for (pk,) in db.execute(self.coins + "(" + ", ".join(["?"] * len(part)) + ")", part))
            missing = [pk for pk in wanted if pk not in found]
            if missing:
                raise LookupError(f"FOREIGN KEY constraint failed: {table} name no coin {missing[:5]}")
            _insert(db, *self.tables[table], batch)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


class PostgresWriter:
    def __init__(self, config: dict) -> None:
        import psycopg

        self.db = psycopg.connect(**config["params"], autocommit=True)
        self.tables = {}
        for name, (table, columns) in _tables(config).items():
            per = max(1, min(MAX_ROWS_PER_INSERT, 65_535 // len(columns)))
            self.tables[name] = (*_statements(table, columns, per, "%s"), per)

    def write(self, batch: Batch, table: str = CANDLES) -> None:
        # The foreign key is DEFERRABLE INITIALLY DEFERRED (Django creates it so): checked at commit.
        with self.db.transaction(), self.db.cursor() as cursor:
            _insert(cursor, *self.tables[table], batch)


def _tables(config: dict) -> dict[str, tuple[str, list[str]]]:
    tables = {CANDLES: (config["table"], config["columns"])}
    if config.get("metric_table"):
        tables[METRICS] = (config["metric_table"], config["metric_columns"])
    return tables


def _insert(cursor, many: str, one: str, per: int, batch: Batch) -> None:
    """Multi-row statements of `per` rows, then the rest one row each."""
    values, step = batch.values, per * batch.width
    whole = len(batch) - len(batch) % per
    for start in range(0, whole * batch.width, step):
        cursor.execute(many, values[start:start + step])
    if whole < len(batch):
        cursor.executemany(one, batch.rows(whole))


def _read_ahead(stdin: BinaryIO) -> Iterator[Any]:
    """The frames, read by a thread of their own as fast as they come: the scan's event loop then
    never waits on a full pipe while this process writes a batch, and has nothing left to send
    while it scores (where its thread competes for the GIL with the scoring)."""
    frames: queue.SimpleQueue = queue.SimpleQueue()

    def read() -> None:
        try:
            while (message := read_frame(stdin)) is not None:
                frames.put(message)
            frames.put(None)
        except BaseException as exc:  # noqa: BLE001 - raised by the writing thread
            frames.put(exc)
    threading.Thread(target=read, name="candle-writer-read", daemon=True).start()
    while (message := frames.get()) is not None:
        if isinstance(message, BaseException):
            raise message
        yield message


def run(stdin: BinaryIO, stdout: BinaryIO) -> dict:
    """Read the configuration and the coins' columns, write them batch by batch; the answer."""
    total = metrics = 0
    try:
        config = read_frame(stdin)
        if not isinstance(config, dict):
            raise ValueError("no configuration frame")
        sqlite = config["vendor"] == "sqlite"
        writer = SQLiteWriter(config) if sqlite else PostgresWriter(config)
        stdout.write(frame({"ready": True}))  # connected: the scan may hand its candles over
        stdout.flush()
        dt = sqlite_datetime if sqlite else utc_datetime
        size, batch = config["batch"], Batch(len(config["columns"]))
        for message in _read_ahead(stdin):
            if message[0] == METRICS:  # (METRICS, [(coin id, metric, at ms, value, source), ...]): at once
                points = Batch(len(config["metric_columns"]))
                for coin_id, metric, at_ms, value, source in message[1]:
                    points.add(coin_id, [coin_id, metric, dt(at_ms), value, source])
                writer.write(points, METRICS)
                metrics += len(points)
                continue
            batch.add(message[0], values_of(*message, dt))
            if len(batch) >= size:
                writer.write(batch)
                total, batch = total + len(batch), Batch(batch.width)
        if len(batch):
            writer.write(batch)
            total += len(batch)
        answer = {"rows": total, "metric_rows": metrics}
    except Exception as exc:  # noqa: BLE001 - the scan raises it, with its type and message
        answer = {"error": f"{type(exc).__name__}: {exc}", "rows": total, "metric_rows": metrics}
    stdout.write(frame(answer))
    stdout.flush()
    return answer


if __name__ == "__main__":
    sys.exit(1 if "error" in run(sys.stdin.buffer, sys.stdout.buffer) else 0)
