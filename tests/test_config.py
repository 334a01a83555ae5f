"""Bad configuration stops start-up with a message that names the key."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def manage_check(**env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=60)


def test_the_defaults_pass_the_checks():
    result = manage_check()
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("env, named", [
    ({"RSI_OVERSOLD_THRESHOLD": "low"}, "RSI_OVERSOLD_THRESHOLD='low' is not a valid float"),
    ({"AUTO_SCAN_ENABLED": "maybe"}, "AUTO_SCAN_ENABLED='maybe' is not a boolean"),
    ({"PARALLEL_MAX_CONCURRENT": "0"}, "PARALLEL_MAX_CONCURRENT=0 must lie between 1 and 1000"),
    ({"BINANCE_SPOT_URL": "api.binance.com"}, "BINANCE_SPOT_URL='api.binance.com' is not an http(s) URL"),
    ({"RSI_OVERSOLD_THRESHOLD": "80"}, "RSI_OVERSOLD_THRESHOLD must be below RSI_OVERBOUGHT_THRESHOLD"),
    ({"DAILY_SUMMARY_TIME": "8am"}, "DAILY_SUMMARY_TIME='8am' is not HH:MM"),
    ({"DEBUG": "false", "SECRET_KEY": ""}, "SECRET_KEY (or SECRET_KEY_FILE) must be set"),
    ({"Q_TIMEOUT": "900", "Q_RETRY": "600"}, "Q_RETRY (600) must exceed Q_TIMEOUT (900)"),
])
def test_a_bad_value_fails_with_a_message_naming_the_key(env, named):
    result = manage_check(**env)
    assert result.returncode != 0
    assert named in result.stderr


def test_a_secret_can_come_from_a_file(tmp_path):
    key = tmp_path / "key"
    key.write_text("from-a-file-" + "x" * 40 + "\n")
    result = subprocess.run(
        [sys.executable, "-c", "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='cryptosatx.settings';"
         "from django.conf import settings; print(settings.SECRET_KEY)"],
        cwd=ROOT, env={**os.environ, "SECRET_KEY_FILE": str(key), "DEBUG": "false"}, capture_output=True, text=True)
    assert result.stdout.strip() == "from-a-file-" + "x" * 40
