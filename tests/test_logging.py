"""Structured logs: a scan's lines carry its run id (also the ones written inside its concurrent
fetches), an alert's send its signal id; LOG_FORMAT=json writes one JSON object per line."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cryptosatx.logcontext import JsonFormatter, TextFormatter, current, log_context
from cryptosatx.scanning import scan
from signals.sender import send_pending
from signals.telegram import TelegramTransport
from tests.test_alert_support import alice, make_signal, queue

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[1]


def test_a_scans_log_lines_carry_its_run_id(sim_settings, caplog):
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="marketdata.http")  # one line per request, written inside the async fetches
    with log_context(task="outer"):
        run = scan("rsi", ["BTCUSDT", "ETHUSDT"])
        assert current() == {"task": "outer"}  # the scan's context ends with it
    during = [r for r in caplog.records if r.run_id == run.pk]
    requests = [r for r in during if r.name == "marketdata.http" and "/api/v3/klines" in r.getMessage()]
    assert len(requests) >= 2, "every kline request of the scan is logged with its run id"
    summary = [r for r in during if r.name == "scanners.engine" and f"#{run.pk}" in r.getMessage()]
    assert summary and summary[0].task == "scan rsi"
    assert all(r.run_id in (run.pk, None) for r in caplog.records)

    line = TextFormatter("%(name)s%(context)s %(message)s").format(summary[0])
    assert line.startswith(f"scanners.engine [run={run.pk} task=scan rsi] scan rsi #{run.pk}")
    as_json = json.loads(JsonFormatter().format(requests[0]))
    assert as_json["run_id"] == run.pk and as_json["logger"] == "marketdata.http" and as_json["level"] == "DEBUG"


def test_an_alerts_send_is_logged_with_its_signal_id(sim, caplog):
    caplog.set_level(logging.INFO)
    from django.utils import timezone

    signal = make_signal(candle=timezone.now())
    queue(signal, alice(), at=timezone.now())
    with TelegramTransport(f"{sim.base_url}/telegram", "777:logging-test", timeout=5) as transport:
        report = send_pending(transport)
    assert report.sent == 1
    (sent,) = [r for r in caplog.records if r.name == "signals.telegram" and "sent (HTTP 200)" in r.getMessage()]
    assert sent.signal_id == signal.pk
    assert "logging-test" not in caplog.text


def test_log_format_json_writes_one_object_per_line(tmp_path):
    env = {**os.environ, "LOG_FORMAT": "json", "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"}
    code = ("import logging; from cryptosatx.logcontext import log_context\n"
            "with log_context(run_id=41, task='scan rsi'):\n"
            "    logging.getLogger('cryptosatx.x').warning('hello %s', 'world')")
    out = subprocess.run([sys.executable, str(ROOT / "manage.py"), "shell", "-c", code], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    (line,) = [ln for ln in out.stderr.splitlines() if "hello" in ln]
    record = json.loads(line)
    assert {k: record[k] for k in ("level", "logger", "message", "run_id", "task")} == {
        "level": "WARNING", "logger": "cryptosatx.x", "message": "hello world", "run_id": 41, "task": "scan rsi"}


def test_an_unknown_field_is_refused():
    with pytest.raises(TypeError, match="unknown log context field"):
        with log_context(user="x"):
            pass
