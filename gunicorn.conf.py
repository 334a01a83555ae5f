"""gunicorn serving CryptoSatX: `gunicorn -c gunicorn.conf.py` from the project folder (docs/deploy.md).

Keys from the environment (the systemd unit loads .env): GUNICORN_BIND (default 127.0.0.1:8000,
behind the TLS reverse proxy), GUNICORN_WORKERS (default 2 × cores + 1), GUNICORN_THREADS (1),
GUNICORN_TIMEOUT (30 s), GUNICORN_FORWARDED_ALLOW_IPS (the proxy's address, 127.0.0.1).
Static files are served by whitenoise inside Django, from `collectstatic`'s output.
"""
import os


def _int(key: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(key, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{key}={raw!r} is not an integer.") from None
    if not low <= value <= high:
        raise SystemExit(f"{key}={value} must lie between {low} and {high}.")
    return value


wsgi_app = "cryptosatx.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = _int("GUNICORN_WORKERS", 2 * (os.cpu_count() or 1) + 1, 1, 256)
threads = _int("GUNICORN_THREADS", 1, 1, 64)
timeout = _int("GUNICORN_TIMEOUT", 30, 1, 3600)
graceful_timeout = 30
keepalive = 5
# A worker is replaced after this many requests (with jitter), bounding slow leaks.
max_requests = 2000
max_requests_jitter = 200
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")

# Access log without secrets: the path without its query string (%(U)s, not %(r)s) and no request
# headers (Authorization, cookies). Status, bytes and the time taken in ms.
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
