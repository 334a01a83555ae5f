"""SQLite "database is locked": a transaction that reads and then writes while another connection is writing.

Seen in `make run`: the every-minute dead-man check (cryptosatx/deadman.py: read the state, then save it, in
one transaction) failed once while the background simulate-history was writing. A DEFERRED transaction (SQLite's
default) starts as a reader; when it then writes after another connection has committed, its snapshot is stale
and SQLite answers SQLITE_BUSY at once — the busy timeout cannot help. With OPTIONS transaction_mode IMMEDIATE
(cryptosatx/settings.py) every transaction takes the write lock at BEGIN and waits up to OPTIONS timeout for it.

The two connections here use the project's own SQLite options, on a file of their own.
"""
from __future__ import annotations

import threading
import time

import pytest
from django.conf import settings
from django.db import connections, transaction
from django.db.utils import ConnectionHandler

SQLITE = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
pytestmark = pytest.mark.skipif(not SQLITE, reason="the settings under test are the SQLite ones")
ALIAS = "sqlite_locking"  # an extra alias, so transaction.atomic(using=…) runs Django's own BEGIN on it


def test_the_sqlite_options_wait_for_the_write_lock_at_begin():
    options = settings.DATABASES["default"]["OPTIONS"]
    assert options.get("transaction_mode") == "IMMEDIATE"
    assert options.get("timeout", 5) >= 10  # seconds a transaction may wait for another's write


def test_a_read_then_write_transaction_waits_for_a_concurrent_writer(tmp_path, django_db_blocker):
    config = {**settings.DATABASES["default"], "NAME": str(tmp_path / "locking.sqlite3"), "TEST": {}}
    connections.settings[ALIAS] = ConnectionHandler().configure_settings({"default": config})["default"]
    try:
        with django_db_blocker.unblock():  # connections of our own to a file of our own, not the test database
            race()
    finally:
        connections[ALIAS].close()
        del connections.settings[ALIAS]


def race() -> None:
    def run(work) -> None:  # in its own thread: its own connection, as in the q cluster and simulate-history
        try:
            work(connections[ALIAS])
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors[work.__name__] = exc
        finally:
            connections[ALIAS].close()

    with connections[ALIAS].cursor() as c:
        c.execute("CREATE TABLE state (id INTEGER PRIMARY KEY, n INTEGER)")
        c.execute("INSERT INTO state VALUES (1, 0)")

    errors: dict[str, BaseException] = {}
    writing, checked = threading.Event(), threading.Event()

    def history_writer(db) -> None:  # simulate-history: a transaction that writes for a while
        with transaction.atomic(using=db.alias), db.cursor() as c:
            c.execute("CREATE TABLE IF NOT EXISTS history (id INTEGER PRIMARY KEY)")
            c.execute("INSERT INTO history DEFAULT VALUES")
            writing.set()
            # Deferred: the check has read by now and waits to write. Immediate: it waits at BEGIN, so this
            # times out and the writer commits — either way the check must cope with the commit below.
            checked.wait(timeout=1.0)
            time.sleep(0.3)

    def deadman_check(db) -> None:  # read the state, then save it, in one transaction
        assert writing.wait(timeout=10)
        with transaction.atomic(using=db.alias), db.cursor() as c:
            c.execute("SELECT n FROM state WHERE id = 1")
            n = c.fetchone()[0]
            checked.set()
            c.execute("UPDATE state SET n = %s WHERE id = 1", [n + 1])

    threads = [threading.Thread(target=run, args=(f,)) for f in (history_writer, deadman_check)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors  # before IMMEDIATE: deadman_check: OperationalError('database is locked')
    with connections[ALIAS].cursor() as c:
        c.execute("SELECT n FROM state WHERE id = 1")
        assert c.fetchone()[0] == 1
