"""ops-console settings: one module, every value from the environment.

Every variable is documented in docs/configuration.md and .env.example.
A bad value stops start-up with ImproperlyConfigured naming the variable.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from ops_console.env import (
    celery_broker_url,
    env_bool,
    env_choice,
    env_database_url,
    env_float,
    env_http_target_overrides,
    env_http_url,
    env_int,
    env_list,
    env_rate,
    env_redis_url,
    env_secret,
    env_str,
    env_time_zone,
    process_kind,
)

BASE_DIR = Path(__file__).resolve().parent.parent
PROCESS_KIND = process_kind()

# --- Core -------------------------------------------------------------------

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off (or set SECRET_KEY_FILE)")
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = [
    "health_check",
]
LOCAL_APPS = [
    "apps.core",
    "apps.directory",
    "apps.payments",
    "apps.purchases",
    "apps.allocations",
    "apps.tutoring",
    "apps.health",
    "apps.demo",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    # Outermost, both async-capable: the correlation id, then the request's
    # budget, cover everything below them.
    "apps.core.correlation.CorrelationIdMiddleware",
    "apps.core.deadline.DeadlineMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: per-user keys need request.user.
    "apps.core.ratelimit.RateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.core.middleware.DatabaseUnavailableMiddleware",
    "apps.core.deadline.DatabaseDeadlineMiddleware",
]

ROOT_URLCONF = "ops_console.urls"
WSGI_APPLICATION = "ops_console.wsgi.application"
ASGI_APPLICATION = "ops_console.asgi.application"

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
            ],
        },
    },
]

# Seconds a request may take before it is answered 504; views may declare more
# with @request_deadline (aggregations 60 s, reports 120 s).
REQUEST_TIMEOUT = env_float("REQUEST_TIMEOUT", 30.0, minimum=0.1)

# --- PostgreSQL through psycopg 3 and Django's native pool --------------------

DB_POOL_MAX_SIZE = env_int("DB_POOL_MAX_SIZE", 20 if DEBUG else 10, minimum=1)
DB_POOL_MIN_SIZE = env_int("DB_POOL_MIN_SIZE", min(2, DB_POOL_MAX_SIZE), minimum=0)
if DB_POOL_MIN_SIZE > DB_POOL_MAX_SIZE:
    raise ImproperlyConfigured(
        f"DB_POOL_MIN_SIZE ({DB_POOL_MIN_SIZE}) must not exceed DB_POOL_MAX_SIZE ({DB_POOL_MAX_SIZE})"
    )
# Seconds a request waits for a pooled connection before it gets a 503.
DB_POOL_TIMEOUT = env_float("DB_POOL_TIMEOUT", 5.0, minimum=0.1)
# Milliseconds any one SQL statement may run; reports raise it explicitly.
DB_STATEMENT_TIMEOUT = env_int("DB_STATEMENT_TIMEOUT", 30_000, minimum=1)
DB_REPORT_STATEMENT_TIMEOUT = env_int("DB_REPORT_STATEMENT_TIMEOUT", 120_000, minimum=1)
DB_CONNECT_TIMEOUT = env_int("DB_CONNECT_TIMEOUT", 5, minimum=1)

_database = env_database_url("DATABASE_URL", "postgres://postgres@localhost:5432/ops_console")
_query_options = _database.pop("QUERY_OPTIONS")
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        **_database,
        "CONN_MAX_AGE": 0,  # the pool owns connection lifetime
        "OPTIONS": {
            **_query_options,
            "application_name": f"ops-console:{PROCESS_KIND}",
            "connect_timeout": DB_CONNECT_TIMEOUT,
            # Every pooled connection carries the statement timeout from birth.
            "options": f"-c statement_timeout={DB_STATEMENT_TIMEOUT} {_query_options.get('options', '')}".strip(),
            "pool": {
                "min_size": DB_POOL_MIN_SIZE,
                "max_size": DB_POOL_MAX_SIZE,
                "timeout": DB_POOL_TIMEOUT,
                "name": f"ops-console-{PROCESS_KIND}",
            },
        },
        "TEST": {"NAME": env_str("DATABASE_TEST_NAME")},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache through django-redis --------------------------------------

REDIS_URL = env_redis_url("REDIS_URL", "redis://localhost:6379/0")
REDIS_SOCKET_TIMEOUT = env_float("REDIS_SOCKET_TIMEOUT", 1.0, minimum=0.05)
REDIS_CONNECT_TIMEOUT = env_float("REDIS_CONNECT_TIMEOUT", 1.0, minimum=0.05)

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "ops"),
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": REDIS_CONNECT_TIMEOUT,
            "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            # Reads fail open (a miss) and writes fail silently; each failure is logged.
            "IGNORE_EXCEPTIONS": True,
        },
    }
}
# Bounds of the project's direct Redis calls (apps/core/redis.py), in seconds.
REDIS_READ_TIMEOUT = env_float("REDIS_READ_TIMEOUT", 1.0, minimum=0.01)
REDIS_WRITE_TIMEOUT = env_float("REDIS_WRITE_TIMEOUT", 2.0, minimum=0.01)
RATE_LIMIT_REDIS_TIMEOUT = env_float("RATE_LIMIT_REDIS_TIMEOUT", 0.5, minimum=0.01)

DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "apps.core.cache"

# Sessions live in the database: a Redis outage must not log operators out.
SESSION_ENGINE = "django.contrib.sessions.backends.db"

# --- Rate limiting (apps/core/ratelimit.py, docs/ratelimiting.md) -------------

RATE_LIMIT_ENABLED = env_bool("RATE_LIMIT_ENABLED", True)
# Every path under /api/, per user (or per IP when anonymous).
RATE_LIMIT_API = env_rate("RATE_LIMIT_API", "300/m")
# POSTs to the login paths, per IP.
RATE_LIMIT_LOGIN = env_rate("RATE_LIMIT_LOGIN", "10/m")
RATE_LIMIT_LOGIN_PATHS = env_list("RATE_LIMIT_LOGIN_PATHS", ["/admin/login/"])
if not all(path.startswith("/") for path in RATE_LIMIT_LOGIN_PATHS):
    raise ImproperlyConfigured(f"RATE_LIMIT_LOGIN_PATHS must list paths starting with /, got {RATE_LIMIT_LOGIN_PATHS}")
# API paths the API limit skips: the provider's signed webhook (its retries must get through).
RATE_LIMIT_EXEMPT_PATHS = env_list("RATE_LIMIT_EXEMPT_PATHS", ["/api/payments/webhook"])
# Namespace of the limiter's Redis keys; follows the cache's prefix by default.
RATE_LIMIT_KEY_PREFIX = env_str("RATE_LIMIT_KEY_PREFIX", f"{CACHES['default']['KEY_PREFIX']}:rl")
# Count the right-most X-Forwarded-For address instead of REMOTE_ADDR: only
# behind exactly one proxy that appends to that header.
TRUST_X_FORWARDED_FOR = env_bool("TRUST_X_FORWARDED_FOR", False)

# --- Celery (wiring in ops_console/celery.py) ---------------------------------

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or celery_broker_url(REDIS_URL)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_CONNECT_TIMEOUT
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_timeout": max(REDIS_SOCKET_TIMEOUT, 5.0),
    "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# The platform's workers each consume their own queue; `make run` starts one worker on all of them.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "payments.invalidate_student_cache": {"queue": "cache"},
}

# --- API ------------------------------------------------------------------

# Bearer tokens accepted by the JSON API (comma-separated; API_TOKENS_FILE works too).
API_TOKENS = [token.strip() for token in (env_secret("API_TOKENS") or "").split(",") if token.strip()]
# Seconds a webhook signature stays valid (replays inside it are idempotent no-ops).
PAYMENT_WEBHOOK_TOLERANCE = env_int("PAYMENT_WEBHOOK_TOLERANCE", 300, minimum=1)

# --- Outbound HTTP (apps/core/http.py) ----------------------------------------

PAYMENT_PROVIDER_URL = env_http_url("PAYMENT_PROVIDER_URL", "http://127.0.0.1:8765")
# Milliseconds the provider may take to answer (the read timeout of each attempt).
PAYMENT_TIMEOUT = env_int("PAYMENT_TIMEOUT", 5000, minimum=1)
# Shared with the provider to sign its webhooks (PAYMENT_WEBHOOK_SECRET_FILE works too).
PAYMENT_WEBHOOK_SECRET = env_secret("PAYMENT_WEBHOOK_SECRET")
if not PAYMENT_WEBHOOK_SECRET and not DEBUG:
    raise ImproperlyConfigured(
        "PAYMENT_WEBHOOK_SECRET is required when DEBUG is off (or set PAYMENT_WEBHOOK_SECRET_FILE)"
    )
# Namespace of the circuit breakers' shared state in Redis; follows the cache's prefix by default.
HTTP_BREAKER_KEY_PREFIX = env_str("HTTP_BREAKER_KEY_PREFIX", f"{CACHES['default']['KEY_PREFIX']}:breaker")
# Every upstream the project calls; fields left out take the defaults in apps/core/http.py.
HTTP_TARGETS = {
    "payment_provider": {
        "base_url": PAYMENT_PROVIDER_URL,
        "kind": "external",
        "read_timeout": PAYMENT_TIMEOUT / 1000,
        **env_http_target_overrides("payment_provider"),
    },
}

# --- Health ------------------------------------------------------------------

# Seconds each readiness check may take before it counts as failed.
HEALTH_CHECK_TIMEOUT = env_float("HEALTH_CHECK_TIMEOUT", 2.0, minimum=0.1)

# --- Auth, i18n, static ----------------------------------------------------

# Argon2 first; the others verify passwords hashed before a switch.
# apps/core/checks.py stops start-up if this is weakened (ops_console.E001-E004).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_time_zone("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Security (production values unless DEBUG) --------------------------------

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TRUST_X_FORWARDED_PROTO", False) else None
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# /health and /ready are probed over plain HTTP by load balancers.
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# models.E034 caps index names at 30 characters for Oracle; PostgreSQL allows 63
# and our names say which table and query they serve.
SILENCED_SYSTEM_CHECKS = ["models.E034", *env_list("SILENCED_SYSTEM_CHECKS", [])]

# --- Logging: structlog, JSON lines unless DEBUG ----------------------------

LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
LOG_FORMAT = env_choice("LOG_FORMAT", "console" if DEBUG else "json", ("json", "console"))

from apps.core.logging import build_logging_config  # noqa: E402  (needs the values above)

LOGGING = build_logging_config(level=LOG_LEVEL, fmt=LOG_FORMAT, process_kind=PROCESS_KIND)
