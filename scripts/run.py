#!/usr/bin/env python
"""Bring up the simulator, backfill, the web server and the q cluster; Ctrl-C stops them all.

Run through `make run`, which creates the virtual environment and migrates first.
"""
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
SIM_PORT = os.environ.get("SIMULATOR_PORT", "8765")
WEB = os.environ.get("WEB_ADDR", "127.0.0.1:8000")


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(manage(*args), start_new_session=True)


def manage(*args: str) -> list[str]:
    return [PY, str(ROOT / "manage.py"), *args]


def configured(key: str) -> bool:
    """Whether the environment or .env gives `key` a value."""
    if os.environ.get(key):
        return True
    dotenv = ROOT / ".env"
    return dotenv.is_file() and any(
        line.split("=", 1)[0].strip() == key and line.split("=", 1)[1].strip()
        for line in dotenv.read_text().splitlines() if "=" in line and not line.lstrip().startswith("#"))


def offline_telegram_defaults() -> None:
    """With Telegram pointing at the simulator (the default), give the bot a token and a group chat,
    so alerts flow end to end and land in the simulator's inbox (/sim/telegram/messages)."""
    if configured("TELEGRAM_API_URL"):
        return
    if not configured("TELEGRAM_BOT_TOKEN"):
        os.environ["TELEGRAM_BOT_TOKEN"] = "1000000:cryptosatx-simulator"
    if not configured("TELEGRAM_CHAT_ID"):
        os.environ["TELEGRAM_CHAT_ID"] = "-1001"


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {seconds:.0f}s")


def main() -> int:
    procs: list[subprocess.Popen] = []
    history: subprocess.Popen | None = None

    def stop(*_):
        # Each child leads its own process group, so the q cluster's workers get the signal too.
        if history is not None and history.poll() is None:
            os.killpg(history.pid, signal.SIGTERM)
        for p in reversed(procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)

    def interrupt(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    offline_telegram_defaults()
    try:
        procs.append(start("marketsim", "--port", SIM_PORT))
        wait_for(f"http://127.0.0.1:{SIM_PORT}/sim/health")
        subprocess.run(manage("backfill", "--days", "90"), check=True)
        subprocess.run(manage("scan", "all"), check=False)
        subprocess.run(manage("setup_schedules"), check=True)
        procs.append(start("qcluster"))
        procs.append(start("runserver", WEB, "--noreload"))
        # First start only: replay 60 days of simulated history in the background, so the analytics and
        # reports have signals and outcomes to show within minutes (marked simulated, never sent).
        history = start("simulate-history", "--days", "60", "--once")
        print(f"\nCryptoSatX is up: http://{WEB}/  (ranking at /ranking, admin at /admin/, API docs at /api/docs/, "
              f"alerts the simulated Telegram received at /simulator/telegram; Ctrl-C stops everything)\n", flush=True)
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
            if history is not None and history.poll() is not None:
                history = None
        print("a process exited; stopping the others", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop()


if __name__ == "__main__":
    sys.exit(main())
