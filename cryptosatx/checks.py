"""Start-up checks: bad configuration fails with a message that names the key."""
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.core.checks import Error, Warning, register

URL_KEYS = ("BINANCE_SPOT_URL", "BINANCE_FUTURES_URL", "COINGECKO_URL", "LUNARCRUSH_URL", "TELEGRAM_API_URL")
# key -> (lowest allowed, highest allowed)
RANGES = {
    "SMART_MONEY_INTERVAL_HOURS": (0.01, 24 * 7),
    "MSS_DISCOVERY_INTERVAL_HOURS": (0.01, 24 * 7),
    "RSI_SCREENER_INTERVAL_HOURS": (0.01, 24 * 7),
    "LUNARCRUSH_INTERVAL_HOURS": (0.01, 24 * 7),
    "ACCUMULATION_ALERT_THRESHOLD": (0, 10),
    "DISTRIBUTION_ALERT_THRESHOLD": (0, 10),
    "MSS_ALERT_THRESHOLD": (0, 100),
    "RSI_OVERSOLD_THRESHOLD": (0, 100),
    "RSI_OVERBOUGHT_THRESHOLD": (0, 100),
    "RSI_PERIOD": (2, 200),
    "MAX_ALERTS_PER_HOUR": (0, 10_000),
    "TIER_1_MAX_PER_DAY": (0, 100_000),
    "TIER_2_MAX_PER_DAY": (0, 100_000),
    "ALERT_COOLDOWN_HOURS": (0, 24 * 30),
    "PARALLEL_MAX_CONCURRENT": (1, 1000),
    "RATE_LIMIT_PER_SECOND": (0.1, 10_000),
    "CACHE_L1_TTL": (0, 86_400),
    "CACHE_L2_TTL": (0, 86_400 * 7),
    "ARCHIVE_WRITER_MIN_COINS": (1, 1_000_000),
    "API_CACHE_SECONDS": (0, 3600),
    "MIN_CONFIRMATIONS_TIER1": (1, 4),
    "HTTP_TIMEOUT_SECONDS": (0.1, 300),
    "HTTP_MAX_RETRIES": (0, 10),
    "BINANCE_SPOT_WEIGHT_PER_MINUTE": (1, 1_000_000),
    "BINANCE_FUTURES_WEIGHT_PER_MINUTE": (1, 1_000_000),
    "SCAN_MAX_COINS": (0, 100_000),
    "SCAN_CHUNK_SIZE": (1, 100_000),
    "BINANCE_FUTURES_DATA_PER_5MIN": (1, 1_000_000),
    "BINANCE_FUNDING_RATE_PER_5MIN": (1, 1_000_000),
    "COINGECKO_CALLS_PER_MINUTE": (1, 100_000),
    "LUNARCRUSH_CALLS_PER_MINUTE": (1, 100_000),
    "LUNARCRUSH_CALLS_PER_DAY": (1, 10_000_000),
    "BINANCE_WEIGHT_WINDOW_SECONDS": (1, 3600),
    "HTTP_BACKOFF_SECONDS": (0, 60),
}
TIMEFRAMES = {"1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w"}


@register()
def check_configuration(app_configs=None, **kwargs):
    errors = []
    for key in URL_KEYS:
        value = getattr(settings, key)
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            errors.append(Error(f"{key}={value!r} is not an http(s) URL.", id="cryptosatx.E001"))
    for key, (low, high) in RANGES.items():
        value = getattr(settings, key)
        if not low <= value <= high:
            errors.append(Error(f"{key}={value!r} must lie between {low} and {high}.", id="cryptosatx.E002"))
    if settings.RSI_OVERSOLD_THRESHOLD >= settings.RSI_OVERBOUGHT_THRESHOLD:
        errors.append(Error(
            "RSI_OVERSOLD_THRESHOLD must be below RSI_OVERBOUGHT_THRESHOLD "
            f"({settings.RSI_OVERSOLD_THRESHOLD} >= {settings.RSI_OVERBOUGHT_THRESHOLD}).",
            id="cryptosatx.E003"))
    if settings.RSI_TIMEFRAME not in TIMEFRAMES:
        errors.append(Error(f"RSI_TIMEFRAME={settings.RSI_TIMEFRAME!r} is not one of {sorted(TIMEFRAMES)}.",
                            id="cryptosatx.E004"))
    hh, _, mm = settings.DAILY_SUMMARY_TIME.partition(":")
    if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
        errors.append(Error(f"DAILY_SUMMARY_TIME={settings.DAILY_SUMMARY_TIME!r} is not HH:MM.", id="cryptosatx.E005"))
    q = settings.Q_CLUSTER
    if q["retry"] <= q["timeout"]:
        errors.append(Error(
            f"Q_RETRY ({q['retry']}) must exceed Q_TIMEOUT ({q['timeout']}), or a slow task runs twice.",
            id="cryptosatx.E007"))
    if settings.LOG_FORMAT not in ("text", "json"):
        errors.append(Error(f"LOG_FORMAT={settings.LOG_FORMAT!r} is not text or json.", id="cryptosatx.E008"))
    if not settings.DEBUG and "Manifest" in settings.STORAGES["staticfiles"]["BACKEND"]:
        manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
        if not manifest.is_file():
            errors.append(Warning(f"No {manifest}: run `manage.py collectstatic --noinput` (DEBUG is false, so "
                                  "pages link to the collected, hashed static files).", id="cryptosatx.W001"))
    return errors
