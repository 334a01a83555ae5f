"""Production mode: DEBUG=false settings, secrets from KEY or KEY_FILE, `check --deploy` clean,
and gunicorn (gunicorn.conf.py) serving pages, whitenoise's static files and /healthz on loopback."""
from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured

from cryptosatx import settings as project_settings

ROOT = Path(__file__).resolve().parents[1]
DROP = ("DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY", "SECRET_KEY_FILE", "DJANGO_SETTINGS_MODULE")


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The production keys of docs/deploy.md, on a throwaway SQLite and static folder."""
    base = {k: v for k, v in os.environ.items() if k not in DROP and not k.startswith("PYTEST")}
    return {**base, "DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost", "CSRF_TRUSTED_ORIGINS": "https://cryptosatx.example",
            "SECURE_PROXY_SSL_HEADER": "true", "SECURE_HSTS_PRELOAD": "true",
            "DATABASE_URL": f"sqlite:///{tmp_path}/prod.sqlite3", "REDIS_URL": "",
            "STATIC_ROOT": str(tmp_path / "static"), "LOG_LEVEL": "WARNING", **extra}


def manage(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------- secrets

def test_a_secret_comes_from_its_file(tmp_path, monkeypatch):
    path = tmp_path / "token"
    path.write_text("12345:from-a-file\n")
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN_FILE", str(path))
    assert project_settings.env_secret("TELEGRAM_BOT_TOKEN") == "12345:from-a-file"


def test_a_secret_given_twice_or_unreadable_is_refused_naming_the_key(tmp_path, monkeypatch):
    path = tmp_path / "key"
    path.write_text("file-value")
    monkeypatch.setenv("LUNARCRUSH_API_KEY", "env-value")
    monkeypatch.setenv("LUNARCRUSH_API_KEY_FILE", str(path))
    with pytest.raises(ImproperlyConfigured, match="Both LUNARCRUSH_API_KEY and LUNARCRUSH_API_KEY_FILE") as both:
        project_settings.env_secret("LUNARCRUSH_API_KEY")
    assert "env-value" not in str(both.value) and "file-value" not in str(both.value)
    monkeypatch.delenv("LUNARCRUSH_API_KEY")
    monkeypatch.setenv("LUNARCRUSH_API_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="LUNARCRUSH_API_KEY_FILE=.*cannot be read: FileNotFoundError"):
        project_settings.env_secret("LUNARCRUSH_API_KEY")
    (tmp_path / "empty").write_text("\n")
    monkeypatch.setenv("LUNARCRUSH_API_KEY_FILE", str(tmp_path / "empty"))
    with pytest.raises(ImproperlyConfigured, match="is empty"):
        project_settings.env_secret("LUNARCRUSH_API_KEY")


def test_production_without_a_secret_key_stops_naming_the_key(tmp_path):
    out = manage(production_env(tmp_path, SECRET_KEY=""), "check")
    assert out.returncode != 0
    assert "SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG is false" in out.stderr


def test_the_database_url_can_come_from_a_file(tmp_path):
    url_file = tmp_path / "database_url"
    url_file.write_text(f"sqlite:///{tmp_path}/from-file.sqlite3\n")
    env = production_env(tmp_path)
    del env["DATABASE_URL"]
    env["DATABASE_URL_FILE"] = str(url_file)
    out = manage(env, "shell", "-c", "from django.db import connection; print(connection.settings_dict['NAME'])")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == f"{tmp_path}/from-file.sqlite3"


# ---------------------------------------------------------------- check --deploy

def test_check_deploy_is_clean_under_the_production_settings(tmp_path):
    env = production_env(tmp_path)
    assert manage(env, "collectstatic", "--noinput", "-v", "0").returncode == 0
    out = manage(env, "check", "--deploy")
    assert out.returncode == 0, out.stdout + out.stderr
    # Every issue counts except drf-spectacular's schema-naming warnings, which are about the API
    # document's names (tests/test_api_fuzz.py runs the schema against the app), not the deployment.
    issues = re.findall(r"\((\w+\.[EW]\d+)\)", out.stdout + out.stderr)
    assert [i for i in issues if not i.startswith("drf_spectacular.")] == [], out.stdout + out.stderr


def test_check_deploy_names_what_development_defaults_leave_open(tmp_path):
    out = manage(production_env(tmp_path, DEBUG="true", SECURE_HSTS_PRELOAD="false"), "check", "--deploy")
    for check in ("security.W004", "security.W008", "security.W012", "security.W016", "security.W018"):
        assert check in out.stdout + out.stderr


# ---------------------------------------------------------------- gunicorn + whitenoise

@pytest.fixture
def gunicorn_server(tmp_path):
    env = production_env(tmp_path, GUNICORN_WORKERS="2", GUNICORN_BIND="127.0.0.1:0")
    for args in (["migrate", "--noinput", "-v", "0"], ["collectstatic", "--noinput", "-v", "0"]):
        out = manage(env, *args)
        assert out.returncode == 0, out.stderr
    log = open(tmp_path / "gunicorn.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")],
                            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, url = time.monotonic() + 60, None
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            found = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", (tmp_path / "gunicorn.log").read_text())
            url = found and found.group(1)
        assert url, f"gunicorn did not start:\n{(tmp_path / 'gunicorn.log').read_text()[-3000:]}"
        yield url, tmp_path
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_gunicorn_serves_pages_static_files_and_healthz(gunicorn_server):
    url, tmp_path = gunicorn_server
    https = {"X-Forwarded-Proto": "https"}  # as the TLS reverse proxy sets it
    with httpx.Client(base_url=url, timeout=10) as http:
        # Plain HTTP is sent to HTTPS, except the health probe.
        plain = http.get("/ranking")
        assert plain.status_code == 301 and plain.headers["location"].startswith("https://")

        page = http.get("/ranking", headers=https)
        assert page.status_code == 200
        assert "max-age=31536000" in page.headers["strict-transport-security"]
        css = re.search(r'href="(/static/css/app\.[0-9a-f]{12}\.css)"', page.text)
        assert css, "pages link to the hashed static files collectstatic wrote"

        manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())["paths"]
        hashed = "/static/" + manifest["vendor/chart.umd.min.js"]
        for path in (hashed, css.group(1)):
            asset = http.get(path, headers={**https, "Accept-Encoding": "gzip"})
            assert asset.status_code == 200 and asset.headers["content-encoding"] == "gzip"
            assert "immutable" in asset.headers["cache-control"] and "max-age=315360000" in asset.headers["cache-control"]
        chart = http.get("/static/vendor/chart.umd.min.js", headers=https)
        assert chart.status_code == 200 and chart.content == (ROOT / "static/vendor/chart.umd.min.js").read_bytes()

        health = http.get("/healthz")  # no scan or cluster yet in this fresh database: 503, and why
        body = health.json()
        assert health.status_code == 503 and body["database"] == {"ok": True} and body["clusters"]["alive"] == 0

        assert http.get("/ranking", headers={**https, "Host": "evil.example"}).status_code == 400
        http.get("/ranking", params={"min_score": "secret-in-query"},
                 headers={**https, "Authorization": "Token secret-in-header"})
    log = (tmp_path / "gunicorn.log").read_text()
    assert '"GET /ranking HTTP/1.1" 200' in log and "Internal Server Error" not in log
    assert "secret-in-query" not in log and "secret-in-header" not in log  # the access log shows neither
