"""PostgreSQL stopped for 30 s in the middle of a chunked scan.

The shared PostgreSQL that the suite and CI use is never touched: the test starts a private
server (initdb + pg_ctl in a temporary directory, on a free loopback port, as the postgres user),
migrates it, and runs a real `qcluster` (two workers) against it and the simulator. Once two of
the ten chunks are stored, the server is stopped for 30 s and started again. Chunks in flight fail
at their next query; their tasks were never acknowledged, so the broker hands them out again
once the server is back. The scan must complete within 30 s of the server's return with every
coin scored and nothing written twice.

PostgreSQL only: on the SQLite leg of the suite it skips (a file database has no server to stop).
"""
from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection

from marketdata.simulator.server import SimulatorServer
from tests.fault_support import PrivatePostgres, QCluster, fault_cluster_env, hard_timeout, manage, wait_until

DOWN_SECONDS = 30
COINS = 40

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql",
                                reason="PostgreSQL only: the SQLite leg has no database server to stop")


def query(url: str, sql: str, *params):
    with psycopg.connect(url.replace("postgres://", "postgresql://"), connect_timeout=3) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture
def private_pg():
    reason = PrivatePostgres.unavailable()
    if reason:
        pytest.skip(f"cannot start a private PostgreSQL server: {reason}")
    pg = PrivatePostgres()
    try:
        pg.init()
        yield pg
    finally:
        pg.destroy()


def test_postgres_stopped_for_30_s_mid_scan_recovers_within_30_s_of_its_return(private_pg, tmp_path):
    url = private_pg.url
    with hard_timeout(300), SimulatorServer(seed=23, coins=60, latency_ms=150, jitter_ms=20) as sim:
        env = fault_cluster_env(url, sim.base_url, tmp_path, SCAN_MAX_COINS=str(COINS))
        manage(url, "migrate", "--noinput", env=env)
        cluster = QCluster(env, tmp_path / "qcluster.log")
        try:
            manage(url, "shell", "-c", "from django_q.tasks import async_task; "
                   "async_task('cryptosatx.tasks.scan_task', 'all')", env=env)
            wait_until(lambda: query(url, "select count(*) from scanners_scanchunk where finished_at is not null"
                                     )[0][0] >= 2, 90, "two chunks stored", [cluster], every=0.05)
            (run_id, chunks), = query(url, "select id, (parameters->>'chunks')::int from scanners_scanrun")
            before = query(url, "select count(*) from scanners_scanchunk where finished_at is not null")[0][0]
            private_pg.stop("fast")
            stopped_at = time.monotonic()
            time.sleep(DOWN_SECONDS)
            assert cluster.proc.poll() is None, f"the cluster died while the database was down:\n{cluster.output()}"
            private_pg.start()
            back_at = time.monotonic()

            def finished():
                try:
                    status = query(url, "select status from scanners_scanrun where id = %s", run_id)[0][0]
                except psycopg.OperationalError:
                    return None
                return status if status != "running" else None
            status = wait_until(finished, DOWN_SECONDS + 30, "the scan's completion after the database returned",
                                [cluster], every=0.2)
            recovered = time.monotonic() - back_at
            log = cluster.output()
        finally:
            cluster.stop()

        print(f"{before}/{chunks} chunks stored when the database stopped for {back_at - stopped_at:.0f} s; "
              f"the scan completed {recovered:.1f} s after it returned")
        assert recovered <= 30, f"took {recovered:.1f} s after the database returned"
        assert status == "completed"
        scored, universe = query(url, "select scored, universe_size from scanners_scanrun where id = %s", run_id)[0]
        assert scored == universe == COINS
        assert query(url, "select count(*) from scanners_scanchunk where run_id = %s and finished_at is null",
                     run_id)[0][0] == 0
        # nothing doubled: one result per coin and scanner, one unified score per coin, signals once
        assert query(url, "select count(*) from (select coin_id, scanner from scanners_scanresult where run_id = %s "
                          "group by 1, 2 having count(*) > 1) d", run_id)[0][0] == 0
        assert query(url, "select count(*), count(distinct coin_id) from signals_unifiedscore where run_id = %s",
                     run_id)[0] == (COINS, COINS)
        assert query(url, "select count(*) from (select coin_id, scanner, direction, candle_close_time from "
                          "signals_signal group by 1, 2, 3, 4 having count(*) > 1) d")[0][0] == 0
        (signals,), = query(url, "select count(*) from signals_signal where run_id = %s", run_id)
        assert query(url, "select signals from signals_processedrun where run_id = %s", run_id) == [(signals,)]
        # the outage was real: something in the cluster failed against the stopped server
        assert "connection" in log.lower() or "OperationalError" in log, log[-3000:]
