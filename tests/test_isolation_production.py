"""The isolation matrices (accounts and watchlists, portfolio and recommendations, backtests) pass
under the production settings too: DEBUG=false, secure cookies, HSTS, ALLOWED_HOSTS, the
manifest static storage. They run in a child pytest, because settings are read at start-up."""
import re
import subprocess
import sys

from tests.test_production import ROOT, manage, production_env

MATRICES = ["tests/test_isolation_watchlists.py", "tests/test_isolation_portfolio.py",
            "tests/test_isolation_backtest.py"]


def test_the_isolation_matrices_pass_under_the_production_settings(tmp_path):
    # The child always uses its own SQLite file: on PostgreSQL it would share (and drop) the test
    # database of the run that started it. What is under test here is the settings, not the database.
    env = production_env(tmp_path, ALLOWED_HOSTS="testserver,127.0.0.1")
    collected = manage(env, "collectstatic", "--noinput")
    assert collected.returncode == 0, collected.stderr[-2000:]
    check = manage(env, "shell", "-c", "from django.conf import settings as s; "
                                       "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
                                       "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS > 0)")
    assert check.stdout.strip().splitlines()[-1].split() == ["False", "True", "True", "True", "True"], \
        check.stdout + check.stderr[-2000:]
    run = subprocess.run([sys.executable, "-m", "pytest", "-o", "addopts=", "-q", "-p", "no:cacheprovider",
                          "-p", "tests.https_requests", *MATRICES], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    summary = run.stdout.strip().splitlines()[-1]
    passed = re.fullmatch(r"(\d+) passed(, \d+ subtests passed)? in .*", summary)
    assert passed and int(passed.group(1)) >= 100, summary  # the whole matrices ran, nothing skipped
