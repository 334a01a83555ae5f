"""A cold scan's candle writes in a process of their own (the program: marketdata.candle_writer).

In the scan's process, archiving the ~474,000 candles of a cold scan of 990 coins cost ~2.2 CPU s:
their SQL parameters are bound holding the GIL, which the fetch's event loop needs, and the fetch
took 5.0–5.4 s against a 3.7 s floor; with no writes it took 3.9 s (docs/performance.md). Sent to
a writer process as binary columns (~80 µs of packing a coin here), they are written on another core.

Used only where another process can see what the scan wrote and will write: a file SQLite
database or PostgreSQL, outside any transaction of the caller (whose uncommitted coins it could not
see), and only for a fetch big enough to be worth a process (ARCHIVE_WRITER_MIN_COINS coins with no
candles yet); otherwise the scan writes its candles itself, as before.
"""
from __future__ import annotations

import asyncio
import pickle
import struct
import sys
from functools import lru_cache
from itertools import chain
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from . import candle_writer
from .binance_spot import KlineColumns

PROGRAM = Path(candle_writer.__file__)
BUFFER_BYTES = 16 * 2**20  # what may wait in the pipe's write buffer before a send waits for the writer
_NOT_LIBPQ = {"cursor_factory", "context"}  # Django's own connection parameters, not libpq's


class ArchiveWriteError(DatabaseError):
    """The writer process failed: the candles it was given are not all archived."""


def writer_config(batch: int, using: str = DEFAULT_DB_ALIAS) -> dict | None:
    """What the writer needs to reach this database (on the caller's thread, whose connection
    counts), or None where it cannot be used."""
    db = connections[using]
    if not settings.ARCHIVE_WRITER_PROCESS or db.in_atomic_block:
        return None
    from .archive import CANDLE_FIELDS, METRIC_FIELDS
    from .models import Candle, Coin, MetricPoint

    if db.vendor == "sqlite":
        if db.is_in_memory_db():
            return None
        options = db.settings_dict.get("OPTIONS") or {}
        params = {"database": str(db.settings_dict["NAME"]), "timeout": float(options.get("timeout", 5)),
                  "init_command": options.get("init_command") or ""}
    elif db.vendor == "postgresql":
        params = {k: v for k, v in db.get_connection_params().items()
                  if k not in _NOT_LIBPQ and isinstance(v, (str, int)) and not isinstance(v, bool)}
    else:
        return None
    q = db.ops.quote_name

    def columns(model, fields: tuple[str, ...]) -> list[str]:
        return [q(model._meta.get_field(f.removesuffix("_id")).column) for f in fields]
    return {"vendor": db.vendor, "params": params, "batch": batch, "table": q(Candle._meta.db_table),
            "columns": columns(Candle, CANDLE_FIELDS), "metric_table": q(MetricPoint._meta.db_table),
            "metric_columns": columns(MetricPoint, METRIC_FIELDS),
            "coin_table": q(Coin._meta.db_table), "coin_pk": q(Coin._meta.pk.column)}


@lru_cache(maxsize=64)
def _packer(kind: str, count: int) -> struct.Struct:
    """Native byte order and standard sizes, as array.frombytes reads them in the writer. struct
    packs a coin's ~3,800 floats in ~40 µs here, where array.extend took ~250 µs."""
    return struct.Struct(f"={count}{kind}")


class CandleWriter:
    """One writer process for one fetch: `send` each coin's closed candles, then `close`."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.answer = asyncio.ensure_future(self._answer())
        self.metric_rows = 0  # metric points written, known once closed

    @classmethod
    async def start(cls, config: dict) -> "CandleWriter":
        # -I: the program's directory (this package, whose http.py would shadow the standard
        # library's) is kept off sys.path, and so are the user's site-packages.
        proc = await asyncio.create_subprocess_exec(sys.executable, "-I", str(PROGRAM), stdin=asyncio.subprocess.PIPE,
                                                    stdout=asyncio.subprocess.PIPE)
        proc.stdin.transport.set_write_buffer_limits(high=BUFFER_BYTES)
        proc.stdin.write(candle_writer.frame(config))
        first = await _read_answer(proc)  # {"ready": True} once it has connected to the database
        if "ready" not in first:
            await proc.wait()
            raise ArchiveWriteError(f"the candle archive's writer process did not start: {first.get('error')}")
        return cls(proc)

    async def send(self, coin_id: int, interval: str, k: KlineColumns) -> bool:
        """Queue one coin's candles for writing; False if its values do not fit the binary columns
        (the caller writes those itself). A failure of the writer so far is raised here."""
        if self.answer.done():
            await self._raise_failure()
        n = len(k)
        try:
            ints = _packer("q", 3 * n).pack(*k.open_time, *k.close_time, *k.trades)
            floats = _packer("d", 8 * n).pack(*chain.from_iterable(getattr(k, c) for c in candle_writer.FLOAT_COLUMNS))
        except struct.error:  # not an int64 (or not a number)
            return False
        self.proc.stdin.write(candle_writer.frame((coin_id, interval, n, ints, floats)))
        try:
            await self.proc.stdin.drain()  # waits only while BUFFER_BYTES are queued: back-pressure
        except (BrokenPipeError, ConnectionResetError):
            await self._raise_failure()
        return True

    async def send_metrics(self, points: list[tuple[int, str, int, float, str]]) -> None:
        """Queue metric points (coin id, metric, time in ms, value, source) for writing, as
        marketdata.archive.store_metrics writes them. A failure of the writer so far is raised here."""
        if self.answer.done():
            await self._raise_failure()
        self.proc.stdin.write(candle_writer.frame((candle_writer.METRICS, points)))
        try:
            await self.proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            await self._raise_failure()

    def end_input(self) -> None:
        """Nothing more will be sent: the writer writes its last batch now (it waits for the end of
        its input to write a partial one), while the caller does something else before `close`."""
        if not self.proc.stdin.is_closing():
            self.proc.stdin.close()  # what is still buffered is sent first

    async def close(self) -> int:
        """End the input and wait for the last writes. Returns the rows written (those offered, as
        `insert_ignoring_conflicts` counts them); raises ArchiveWriteError if any write failed."""
        try:
            self.end_input()
            await self.proc.stdin.wait_closed()
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = await self.answer
        await self.proc.wait()
        if "error" in answer:
            raise ArchiveWriteError(f"the candle archive's writer process: {answer['error']}")
        self.metric_rows = answer.get("metric_rows", 0)
        return answer["rows"]

    async def _raise_failure(self):
        answer = await self.answer
        await self.proc.wait()
        raise ArchiveWriteError(f"the candle archive's writer process: {answer.get('error', 'stopped')}")

    async def _answer(self) -> dict:
        return await _read_answer(self.proc)


async def _read_answer(proc: asyncio.subprocess.Process) -> dict:
    try:
        head = await proc.stdout.readexactly(candle_writer.FRAME.size)
        (size,) = candle_writer.FRAME.unpack(head)
        return pickle.loads(await proc.stdout.readexactly(size))
    except asyncio.IncompleteReadError:
        return {"error": f"it exited ({await proc.wait()}) without an answer"}
