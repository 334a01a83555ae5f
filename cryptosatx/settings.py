"""CryptoSatX settings: every key comes from the environment (or `.env`) via django-environ.

Defaults are the embedded offline set-up: SQLite, the django-q2 ORM broker, local-memory cache
and the market simulator on 127.0.0.1:8765. `cryptosatx.checks` validates the values at start-up
so that bad configuration fails with a message naming the key.
"""
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# `.env` is optional; real environment variables win over it.
if (BASE_DIR / ".env").is_file():
    env.read_env(str(BASE_DIR / ".env"), overwrite=False)


def _typed(kind: str, key: str, default):
    """env.int/float/bool that fail with ImproperlyConfigured naming the key, not a bare ValueError."""
    try:
        return getattr(env, kind)(key, default=default)
    except (ValueError, TypeError) as exc:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"{key}={env.str(key)!r} is not a valid {kind}: {exc}") from exc


def env_int(key: str, default: int) -> int:
    return _typed("int", key, default)


def env_float(key: str, default: float) -> float:
    return _typed("float", key, default)


def env_bool(key: str, default: bool) -> bool:
    value = env.str(key, default=str(default)).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"{key}={value!r} is not a boolean (use true or false).")


def env_secret(key: str, default: str = "") -> str:
    """A secret from KEY or from the file named by KEY_FILE (systemd credentials, docker/k8s
    secrets), never both. Errors name the key and the path, never the value."""
    from django.core.exceptions import ImproperlyConfigured

    path = env.str(f"{key}_FILE", default="")
    if path:
        if env.str(key, default=""):
            raise ImproperlyConfigured(f"Both {key} and {key}_FILE are set: keep one of them.")
        try:
            value = Path(path).read_text().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ImproperlyConfigured(f"{key}_FILE={path!r} cannot be read: {exc.__class__.__name__}"
                                       f"{': ' + exc.strerror if getattr(exc, 'strerror', None) else ''}.") from None
        if not value:
            raise ImproperlyConfigured(f"{key}_FILE={path!r} is empty.")
        return value
    return env.str(key, default=default)


SIMULATOR_URL = env.str("SIMULATOR_URL", default="http://127.0.0.1:8765")

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_secret("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG is false.")
    else:
        # Development only: a per-checkout key kept out of git (var/ is ignored).
        _keyfile = BASE_DIR / "var" / "secret_key"
        if not _keyfile.exists():
            import secrets

            _keyfile.parent.mkdir(parents=True, exist_ok=True)
            _keyfile.write_text(secrets.token_urlsafe(50))
        SECRET_KEY = _keyfile.read_text().strip()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Production behind a TLS reverse proxy (docs/deploy.md). Defaults follow DEBUG: off in
# development, on in production; each key can be set on its own in .env.
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    # Only behind a proxy that sets X-Forwarded-Proto itself (and strips the client's).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # a load balancer probes over plain HTTP
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI assets served from our own static files, no CDN
    "django_q",
    "cryptosatx",
    "marketdata",
    "scanners",
    "signals",
    "performance",
    "accounts",
    "watchlists",
    "portfolio",
    "backtest",
    "recommend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # before sessions and auth: a cached public answer costs none of them (cryptosatx/api/response_cache.py)
    "cryptosatx.api.response_cache.PublicResponseCacheMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "cryptosatx.urls"
WSGI_APPLICATION = "cryptosatx.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cryptosatx.context_processors.data_source",
            ],
        },
    },
]

# Lower-case on purpose: not a setting, so the URL (with its password) never shows on a debug page.
_database_url = env_secret("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"
DATABASES = {"default": env.db_url_config(_database_url)}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    (BASE_DIR / "var").mkdir(exist_ok=True)
    # WAL lets the web process read while the q cluster writes. IMMEDIATE: a transaction takes the write
    # lock at BEGIN, waiting up to `timeout` s; a deferred one that read first fails with "database is
    # locked" when it writes after another process committed (tests/test_sqlite_locking.py).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE",
         "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_redis_url = env_secret("REDIS_URL", default="")  # may carry a password: kept out of the settings too
if _redis_url:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _redis_url}}
else:
    # Per process. Room for every coin's cached API answer (the default culls at 300 entries).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                          "OPTIONS": {"MAX_ENTRIES": 20_000}}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request when it is missing
STATICFILES_DIRS = [BASE_DIR / "static"]
# Production serves `collectstatic`'s hashed, pre-compressed copies (whitenoise gives hashed names a
# far-future Cache-Control); development serves the files as they are.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage" if DEBUG
                    else "cryptosatx.storage.StaticStorage"},
}
# Accounts (docs/users.md): our own sign-in page; self-service sign-up only when SIGNUP_ENABLED.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "watchlists"
LOGOUT_REDIRECT_URL = "home"
SIGNUP_ENABLED = env_bool("SIGNUP_ENABLED", False)

# Every record carries the scan run, signal and task it belongs to (cryptosatx.logcontext);
# LOG_FORMAT=json writes one JSON object per line for a log shipper, anything else readable text.
LOG_FORMAT = env.str("LOG_FORMAT", default="text").strip().lower()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "cryptosatx.logcontext.ContextFilter"}},
    "formatters": {
        "plain": {"()": "cryptosatx.logcontext.TextFormatter",
                  "format": "%(asctime)s %(levelname)s %(name)s%(context)s %(message)s"},
        "json": {"()": "cryptosatx.logcontext.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["context"],
                             "formatter": "json" if LOG_FORMAT == "json" else "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"httpx": {"level": "WARNING"}},
}

REST_FRAMEWORK = {
    # Token first: an API client without credentials gets 401 with `WWW-Authenticate: Token`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Reading is public (a single-user install shows its dashboard to anyone); writing needs a login.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "CryptoSatX API",
    "DESCRIPTION": "Unified ranking, per-coin scanner results and scan runs. Reading is public; "
                   "nothing here is financial advice. See docs/api.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Offline docs: Swagger UI from drf-spectacular-sidecar's static files, no online validator.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,  # the choices are their own names; listing them twice is noise
    "ENUM_NAME_OVERRIDES": {"BacktestStatusEnum": "backtest.models.BacktestRun.STATUS_CHOICES"},  # vs ScanRun's
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "cryptosatx.api.schema_hooks.document_error_answers"],
}

# --- django-q2: the ORM broker keeps receipts, so a dead worker's task is retried. ---
Q_CLUSTER = {
    "name": "cryptosatx",
    "orm": "default",
    "workers": env_int("Q_WORKERS", 2),
    "timeout": env_int("Q_TIMEOUT", 600),
    "retry": env_int("Q_RETRY", 720),  # must exceed timeout
    "max_attempts": 3,
    "catch_up": False,  # after downtime a schedule runs once, not once per missed slot
    "poll": 1,
    "save_limit": 1000,
}

# --- CryptoSatX configuration: the plan's keys (DESIGN.md, "Configuration"). ---
AUTO_SCAN_ENABLED = env_bool("AUTO_SCAN_ENABLED", True)
SMART_MONEY_INTERVAL_HOURS = env_float("SMART_MONEY_INTERVAL_HOURS", 1)
MSS_DISCOVERY_INTERVAL_HOURS = env_float("MSS_DISCOVERY_INTERVAL_HOURS", 6)
RSI_SCREENER_INTERVAL_HOURS = env_float("RSI_SCREENER_INTERVAL_HOURS", 4)
LUNARCRUSH_INTERVAL_HOURS = env_float("LUNARCRUSH_INTERVAL_HOURS", 2)

ACCUMULATION_ALERT_THRESHOLD = env_float("ACCUMULATION_ALERT_THRESHOLD", 7)
DISTRIBUTION_ALERT_THRESHOLD = env_float("DISTRIBUTION_ALERT_THRESHOLD", 7)
MSS_ALERT_THRESHOLD = env_float("MSS_ALERT_THRESHOLD", 75)
RSI_OVERSOLD_THRESHOLD = env_float("RSI_OVERSOLD_THRESHOLD", 25)
RSI_OVERBOUGHT_THRESHOLD = env_float("RSI_OVERBOUGHT_THRESHOLD", 75)
RSI_TIMEFRAME = env.str("RSI_TIMEFRAME", default="1h")
RSI_PERIOD = env_int("RSI_PERIOD", 14)

TELEGRAM_TIER_1_ENABLED = env_bool("TELEGRAM_TIER_1_ENABLED", True)
TELEGRAM_TIER_2_ENABLED = env_bool("TELEGRAM_TIER_2_ENABLED", True)
TELEGRAM_TIER_3_ENABLED = env_bool("TELEGRAM_TIER_3_ENABLED", False)
MAX_ALERTS_PER_HOUR = env_int("MAX_ALERTS_PER_HOUR", 10)
TIER_1_MAX_PER_DAY = env_int("TIER_1_MAX_PER_DAY", 20)
TIER_2_MAX_PER_DAY = env_int("TIER_2_MAX_PER_DAY", 50)
ALERT_COOLDOWN_HOURS = env_float("ALERT_COOLDOWN_HOURS", 4)

PARALLEL_MAX_CONCURRENT = env_int("PARALLEL_MAX_CONCURRENT", 50)
RATE_LIMIT_PER_SECOND = env_float("RATE_LIMIT_PER_SECOND", 10)
CACHE_L1_TTL = env_int("CACHE_L1_TTL", 60)
CACHE_L2_TTL = env_int("CACHE_L2_TTL", 300)
# A fetch of at least this many coins with no candles yet (a cold scan) archives them from a writer
# process of its own, on another core (marketdata/archive_process.py); off: the scan writes them itself.
ARCHIVE_WRITER_PROCESS = env_bool("ARCHIVE_WRITER_PROCESS", True)
ARCHIVE_WRITER_MIN_COINS = env_int("ARCHIVE_WRITER_MIN_COINS", 100)
# Longest life of a cached public API answer (s); 0 turns the cache off (cryptosatx/api/response_cache.py).
API_CACHE_SECONDS = env_int("API_CACHE_SECONDS", 60)

UNIFIED_SCORE_ENABLED = env_bool("UNIFIED_SCORE_ENABLED", True)
AUTO_TIER_CLASSIFICATION = env_bool("AUTO_TIER_CLASSIFICATION", True)
MIN_CONFIRMATIONS_TIER1 = env_int("MIN_CONFIRMATIONS_TIER1", 2)
PERFORMANCE_TRACKING_ENABLED = env_bool("PERFORMANCE_TRACKING_ENABLED", True)
AUTO_OUTCOME_TRACKING = env_bool("AUTO_OUTCOME_TRACKING", True)
BACKTEST_ENABLED = env_bool("BACKTEST_ENABLED", True)

BINANCE_SPOT_URL = env.str("BINANCE_SPOT_URL", default=SIMULATOR_URL)
BINANCE_FUTURES_URL = env.str("BINANCE_FUTURES_URL", default=SIMULATOR_URL)
COINGECKO_URL = env.str("COINGECKO_URL", default=f"{SIMULATOR_URL}/coingecko/api/v3")
LUNARCRUSH_URL = env.str("LUNARCRUSH_URL", default=f"{SIMULATOR_URL}/lunarcrush/api4")
TELEGRAM_API_URL = env.str("TELEGRAM_API_URL", default=f"{SIMULATOR_URL}/telegram")
COINGECKO_API_KEY = env_secret("COINGECKO_API_KEY")
LUNARCRUSH_API_KEY = env_secret("LUNARCRUSH_API_KEY")
TELEGRAM_BOT_TOKEN = env_secret("TELEGRAM_BOT_TOKEN")
TELEGRAM_CHAT_ID = env.str("TELEGRAM_CHAT_ID", default="")
DAILY_SUMMARY_TIME = env.str("DAILY_SUMMARY_TIME", default="08:00")
# Where the dashboard is reachable: alerts link to its coin pages.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# Outside-service limits the governor enforces (APIS.md). Kept as settings so a tighter plan or
# a test can lower them; the governor also learns the real usage from response headers.
BINANCE_SPOT_WEIGHT_PER_MINUTE = env_int("BINANCE_SPOT_WEIGHT_PER_MINUTE", 6000)
BINANCE_FUTURES_WEIGHT_PER_MINUTE = env_int("BINANCE_FUTURES_WEIGHT_PER_MINUTE", 2400)
BINANCE_FUTURES_DATA_PER_5MIN = env_int("BINANCE_FUTURES_DATA_PER_5MIN", 1000)
BINANCE_FUNDING_RATE_PER_5MIN = env_int("BINANCE_FUNDING_RATE_PER_5MIN", 500)
COINGECKO_CALLS_PER_MINUTE = env_int("COINGECKO_CALLS_PER_MINUTE", 30)
LUNARCRUSH_CALLS_PER_MINUTE = env_int("LUNARCRUSH_CALLS_PER_MINUTE", 10)
LUNARCRUSH_CALLS_PER_DAY = env_int("LUNARCRUSH_CALLS_PER_DAY", 2000)
BINANCE_WEIGHT_WINDOW_SECONDS = env_float("BINANCE_WEIGHT_WINDOW_SECONDS", 60)
HTTP_BACKOFF_SECONDS = env_float("HTTP_BACKOFF_SECONDS", 0.5)
HTTP_TIMEOUT_SECONDS = env_float("HTTP_TIMEOUT_SECONDS", 10)
HTTP_MAX_RETRIES = env_int("HTTP_MAX_RETRIES", 3)
# The scan universe: quote asset and an optional cap on the number of coins.
SCAN_QUOTE_ASSET = env.str("SCAN_QUOTE_ASSET", default="USDT")
SCAN_MAX_COINS = env_int("SCAN_MAX_COINS", 0)  # 0 = no cap
# Scale-out: a scheduled scan of more coins than this is split into chunk tasks any q cluster may run.
SCAN_CHUNK_SIZE = env_int("SCAN_CHUNK_SIZE", 250)
