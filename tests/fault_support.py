"""What the fault suite (tests/test_fault_*.py) shares: a hard time bound per test, real q clusters
running chunked scans against a simulator, the queue-draining stand-in for workers, and a private
PostgreSQL server a test may stop (never the shared one other tests and CI use)."""
from __future__ import annotations

import faulthandler
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from glob import glob
from pathlib import Path

import pytest

from tests.test_two_clusters import QCluster, cluster_env  # noqa: F401 - re-exported
from tests.test_worker_kill import ROOT


class TestTimedOut(Exception):
    pass


@contextmanager
def hard_timeout(seconds: float):
    """Fail the test after `seconds` (SIGALRM interrupts any wait in the main thread); if even that
    does not end it, dump every thread's stack and exit the interpreter 60 s later."""
    def expired(signum, frame):
        raise TestTimedOut(f"the test exceeded its hard time limit of {seconds:.0f} s")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    faulthandler.dump_traceback_later(seconds + 60, exit=True)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        faulthandler.cancel_dump_traceback_later()


def wait_until(condition, timeout: float, what: str, clusters=(), every: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        for c in clusters:
            if c.proc.poll() is not None:
                pytest.fail(f"qcluster {c.pid} exited ({c.proc.returncode}) while waiting for {what}:\n{c.output()}")
        time.sleep(every)
    logs = "\n".join(f"--- qcluster {c.pid}\n{c.output()}" for c in clusters)
    pytest.fail(f"{what} did not happen within {timeout:.0f} s\n{logs}")


# The fault clusters' settings: the project's, with a short poll and the test's chunk size.
CLUSTER_SETTINGS = """
import os
from cryptosatx.settings import *  # noqa: F401,F403
from cryptosatx.settings import Q_CLUSTER
Q_CLUSTER = {**Q_CLUSTER, "poll": 0.1}
SCAN_CHUNK_SIZE = int(os.environ["FAULT_SCAN_CHUNK_SIZE"])
"""


def fault_cluster_env(database_url: str, sim_url: str, tmp_path: Path, **extra: str) -> dict:
    """Environment of a q cluster that scans the simulator in chunks against `database_url`.
    Q_TIMEOUT 8 s and Q_RETRY 10 s: a task whose worker died is handed out again after 10 s."""
    (tmp_path / "fault_cluster_settings.py").write_text(CLUSTER_SETTINGS)
    env = cluster_env(database_url, DJANGO_SETTINGS_MODULE="fault_cluster_settings")
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env["PYTHONPATH"]])
    env.update({
        "BINANCE_SPOT_URL": sim_url, "BINANCE_FUTURES_URL": sim_url, "SIMULATOR_URL": sim_url,
        "COINGECKO_URL": f"{sim_url}/coingecko/api/v3", "LUNARCRUSH_URL": f"{sim_url}/lunarcrush/api4",
        "TELEGRAM_API_URL": f"{sim_url}/telegram", "TELEGRAM_BOT_TOKEN": "", "REDIS_URL": "",
        "Q_WORKERS": "2", "Q_TIMEOUT": "8", "Q_RETRY": "10", "HTTP_BACKOFF_SECONDS": "0.01",
        "SCAN_MAX_COINS": "40", "FAULT_SCAN_CHUNK_SIZE": "4", "PARALLEL_MAX_CONCURRENT": "2",
        "AUTO_SCAN_ENABLED": "true", "LOG_LEVEL": "INFO", **extra})
    return env


# ---------------------------------------------------------------- a private PostgreSQL server

def _pg_bin() -> Path | None:
    found = sorted(glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivatePostgres:
    """A PostgreSQL server of our own in a temporary directory on a free loopback port, run as the
    `postgres` user (initdb refuses root). Stopping it disturbs nobody else."""

    def __init__(self):
        self.bin = _pg_bin()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="cryptosatx-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"

    @staticmethod
    def unavailable() -> str | None:
        """Why a private server cannot be started here, or None."""
        if _pg_bin() is None:
            return "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb)"
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "no `postgres` system user to run initdb as"
        if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != "postgres":
            return "must run as root (to switch to the postgres user) or as postgres"
        if not shutil.which("runuser") and os.geteuid() == 0:
            return "no runuser to switch to the postgres user"
        return None

    def _as_postgres(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        out = subprocess.run([*prefix, *argv], capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}\n"
                               f"{self.log.read_text()[-3000:] if self.log.exists() else ''}")
        return out

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/faults"

    def init(self) -> None:
        pw = pwd.getpwnam("postgres")
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                          "-E", "UTF8", "--no-sync")
        self.start()
        self._as_postgres(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                          "faults")

    def start(self) -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30",
                          "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off",
                          "start")

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def running(self) -> bool:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, str(self.bin / "pg_ctl"), "-D", str(self.data), "status"],
                              capture_output=True).returncode == 0

    def destroy(self) -> None:
        if self.data.exists() and self.running():
            try:
                self.stop("immediate")
            except RuntimeError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


def manage(database_url: str, *args: str, env: dict | None = None, timeout: float = 300) -> str:
    """`manage.py *args` in its own process against `database_url`; its stdout."""
    env = {**(env or os.environ), "DATABASE_URL": database_url}
    out = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return out.stdout
