"""ops-console settings: one module, every value from the environment.

Every variable is documented in docs/configuration.md and .env.example.
A bad value stops start-up with ImproperlyConfigured naming the variable.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from lib.broker import bounded_transport_options, broker_kind, redis_restore_mutex_expire
from lib.logging import build_logging_config, process_kind
from ops_console import queues
from ops_console.env import celery_broker_url, env, require_local_hosts_when_debugging, require_strong_secret_key
from ops_console.queues import task_queues

BASE_DIR = Path(__file__).resolve().parent.parent
PROCESS_KIND = env.str("OPS_PROCESS_KIND", None) or process_kind(sys.argv)

# --- Core -------------------------------------------------------------------

DEBUG = env.bool("DEBUG", False)
SECRET_KEY = env.secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off (or set SECRET_KEY_FILE)")
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"  # noqa: S105
elif not DEBUG:
    require_strong_secret_key("SECRET_KEY", SECRET_KEY)

ALLOWED_HOSTS = require_local_hosts_when_debugging(
    DEBUG, env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = [
    "ninja",  # its bundled Swagger UI static files, for /api/docs
    "health_check",
]
LOCAL_APPS = [
    "apps.web",
    "apps.accounts",
    "apps.apiclients",
    "apps.directory",
    "apps.payments",
    "apps.purchases",
    "apps.allocations",
    "apps.tutoring",
    "apps.workers",
    "apps.outbox",
    "apps.pipeline",
    "apps.health",
    "apps.demo",
    "apps.realtime",
    "apps.telemetry",
    "apps.timeline",
    "apps.console",
    "apps.drills",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    # First: forwarded headers from anyone but TRUSTED_PROXIES are removed.
    "apps.web.proxies.ForwardedHeadersMiddleware",
    # Outermost, both async-capable: the correlation id, then the request's
    # budget, cover everything below them.
    "apps.web.correlation.CorrelationIdMiddleware",
    # Counts every answer (status class, latency histogram) for the cluster's telemetry.
    "apps.telemetry.middleware.TelemetryMiddleware",
    "apps.web.deadline.DeadlineMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response (CONTENT_SECURITY_POLICY below, docs/console.md).
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Just above CommonMiddleware, which refuses a Host missing from ALLOWED_HOSTS: GET /health and
    # /ready go straight to their views, whatever Host a kubelet or load balancer names.
    "apps.health.middleware.ProbeMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: per-user keys need request.user.
    "apps.web.ratelimit.RateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.web.middleware.DatabaseUnavailableMiddleware",
    "apps.web.deadline.DatabaseDeadlineMiddleware",
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
                "apps.drills.context.drills_enabled",  # the console's nav links /ops/drills when on
            ],
        },
    },
]

# Seconds a request may take before it is answered 504; views may declare more
# with @request_deadline (aggregations 60 s, reports 120 s).
REQUEST_TIMEOUT = env.float("REQUEST_TIMEOUT", 30.0, minimum=0.1)

# --- PostgreSQL through psycopg 3 and Django's native pool --------------------

DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", 20 if DEBUG else 10, minimum=1)
DB_POOL_MIN_SIZE = env.int("DB_POOL_MIN_SIZE", min(2, DB_POOL_MAX_SIZE), minimum=0)
if DB_POOL_MIN_SIZE > DB_POOL_MAX_SIZE:
    raise ImproperlyConfigured(
        f"DB_POOL_MIN_SIZE ({DB_POOL_MIN_SIZE}) must not exceed DB_POOL_MAX_SIZE ({DB_POOL_MAX_SIZE})"
    )
# Seconds a request waits for a pooled connection before it gets a 503.
DB_POOL_TIMEOUT = env.float("DB_POOL_TIMEOUT", 5.0, minimum=0.1)
if DB_POOL_TIMEOUT >= REQUEST_TIMEOUT:
    raise ImproperlyConfigured(
        f"DB_POOL_TIMEOUT ({DB_POOL_TIMEOUT}) must be less than REQUEST_TIMEOUT ({REQUEST_TIMEOUT}): "
        "a request waiting for a connection would run out of time before it is told the pool is exhausted"
    )
# Milliseconds any one SQL statement may run; reports raise it explicitly.
DB_STATEMENT_TIMEOUT = env.int("DB_STATEMENT_TIMEOUT", 30_000, minimum=1)
DB_REPORT_STATEMENT_TIMEOUT = env.int("DB_REPORT_STATEMENT_TIMEOUT", 120_000, minimum=1)
DB_CONNECT_TIMEOUT = env.int("DB_CONNECT_TIMEOUT", 5, minimum=1)
# Check each pooled connection as it is handed out (one empty query). On by default in Celery workers,
# whose pool processes keep their pool across tasks (apps/workers/connections.py): after a database
# restart an idle connection is dead, and a task would spend an attempt finding out.
DB_POOL_CHECK = env.bool("DB_POOL_CHECK", PROCESS_KIND == "worker")
# DB_POOL_CHECK_IDLE (below, next to the retry backoff it is bounded by) skips the check for a connection used
# moments ago.

# Behind PgBouncer in transaction mode (docs/pgbouncer.md): no startup `options`, no prepared statements,
# no server-side cursors; the base statement_timeout is the role's (ALTER ROLE ... SET, checked by ops_console.E030).
DB_PGBOUNCER = env.bool("DB_PGBOUNCER", False)
# What the PgBouncer in front of the database allows, for `manage.py connection_budget` and the database page:
# server connections for our database/user pair (default_pool_size + reserve_pool_size) and client connections.
PGBOUNCER_POOL_SIZE = env.int("PGBOUNCER_POOL_SIZE", 20, minimum=1)
PGBOUNCER_MAX_CLIENT_CONN = env.int("PGBOUNCER_MAX_CLIENT_CONN", 100, minimum=1)

_database = env.database_url("DATABASE_URL", "postgres://postgres@localhost:5432/ops_console")
_query_options = _database.pop("OPTIONS")
if DB_PGBOUNCER:
    for _option in ("options", "prepare_threshold"):
        if _query_options.get(_option):
            raise ImproperlyConfigured(
                f"DATABASE_URL sets {_option}, which cannot work with DB_PGBOUNCER: PgBouncer rejects or drops "
                "startup options, and prepared statements break in transaction mode (docs/pgbouncer.md)"
            )
    # Django's default already; pinned, since a prepared statement lives in one server session.
    _session_options: dict[str, Any] = {"prepare_threshold": None}
else:
    # Every pooled connection carries the statement timeout from birth.
    _options = f"-c statement_timeout={DB_STATEMENT_TIMEOUT} {_query_options.get('options', '')}"
    _session_options = {"options": _options.strip()}
DATABASES = {
    "default": {
        "ENGINE": "lib.postgresql",  # Django's, timing each pool checkout (lib/postgresql/base.py)
        **_database,
        "CONN_MAX_AGE": 0,  # the pool owns connection lifetime
        "CONN_HEALTH_CHECKS": DB_POOL_CHECK,  # with the pool: psycopg_pool's check at checkout (DB_POOL_CHECK_IDLE)
        # .iterator()'s named cursors live in a server session, which transaction pooling hands to others.
        "DISABLE_SERVER_SIDE_CURSORS": DB_PGBOUNCER,
        "OPTIONS": {
            **_query_options,
            "application_name": f"ops-console:{PROCESS_KIND}",
            "connect_timeout": DB_CONNECT_TIMEOUT,
            **_session_options,
            "pool": {
                "min_size": DB_POOL_MIN_SIZE,
                "max_size": DB_POOL_MAX_SIZE,
                "timeout": DB_POOL_TIMEOUT,
                "name": f"ops-console-{PROCESS_KIND}",
            },
        },
        "TEST": {"NAME": env.str("DATABASE_TEST_NAME", None)},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache through django-redis --------------------------------------

REDIS_URL = env.redis_url("REDIS_URL", "redis://localhost:6379/0")
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", 1.0, minimum=0.05)
REDIS_CONNECT_TIMEOUT = env.float("REDIS_CONNECT_TIMEOUT", 1.0, minimum=0.05)

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", "ops"),
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": REDIS_CONNECT_TIMEOUT,
            "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            # Reads fail open (a miss) and writes fail silently; each failure is logged.
            "IGNORE_EXCEPTIONS": True,
        },
    }
}
# Bounds of the project's direct Redis calls (lib/redis.py), in seconds.
REDIS_READ_TIMEOUT = env.float("REDIS_READ_TIMEOUT", 1.0, minimum=0.01)
REDIS_WRITE_TIMEOUT = env.float("REDIS_WRITE_TIMEOUT", 2.0, minimum=0.01)
RATE_LIMIT_REDIS_TIMEOUT = env.float("RATE_LIMIT_REDIS_TIMEOUT", 0.5, minimum=0.01)

DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "lib.cache"

# Sessions are written to PostgreSQL and to the cache, and read from the cache first: a console
# polling /ops/live does not read its session from the database. With Redis down the cache read
# is a miss (IGNORE_EXCEPTIONS above), the session comes from PostgreSQL, and nobody is logged out.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Rate limiting (apps/web/ratelimit.py, docs/ratelimiting.md) -------------

RATE_LIMIT_ENABLED = env.bool("RATE_LIMIT_ENABLED", True)
# Every path under /api/, per user (or per IP when anonymous).
RATE_LIMIT_API = env.rate("RATE_LIMIT_API", "300/m")
# POSTs to the login paths, per IP.
RATE_LIMIT_LOGIN = env.rate("RATE_LIMIT_LOGIN", "10/m")
RATE_LIMIT_LOGIN_PATHS = env.list("RATE_LIMIT_LOGIN_PATHS", default=["/admin/login/"])
if not all(path.startswith("/") for path in RATE_LIMIT_LOGIN_PATHS):
    raise ImproperlyConfigured(f"RATE_LIMIT_LOGIN_PATHS must list paths starting with /, got {RATE_LIMIT_LOGIN_PATHS}")
# API paths the API limit skips: the provider's signed webhook (its retries must get through).
RATE_LIMIT_EXEMPT_PATHS = env.list("RATE_LIMIT_EXEMPT_PATHS", default=["/api/payments/webhook"])
# Namespace of the limiter's Redis keys; follows the cache's prefix by default.
RATE_LIMIT_KEY_PREFIX = env.str("RATE_LIMIT_KEY_PREFIX", f"{CACHES['default']['KEY_PREFIX']}:rl")

# --- Celery (wiring in ops_console/celery.py, operations in docs/workers.md) ------

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", None) or celery_broker_url(REDIS_URL)
# "redis" or "amqp" (RabbitMQ), from the URL's scheme; docs/workers.md says when to choose which.
try:
    CELERY_BROKER_KIND = broker_kind(CELERY_BROKER_URL)
except ValueError as exc:
    raise ImproperlyConfigured(f"CELERY_BROKER_URL {exc}") from None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_CONNECT_TIMEOUT
# Seconds a task may run: the soft limit raises SoftTimeLimitExceeded (retried), the hard one kills the child.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", 60, minimum=1)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", 90, minimum=1)
if CELERY_TASK_TIME_LIMIT <= CELERY_TASK_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured(
        f"CELERY_TASK_TIME_LIMIT ({CELERY_TASK_TIME_LIMIT}) must exceed CELERY_TASK_SOFT_TIME_LIMIT "
        f"({CELERY_TASK_SOFT_TIME_LIMIT})"
    )
# Exponential backoff with jitter between attempts of a task that failed transiently (apps/workers/retry.py).
TASK_RETRY_BACKOFF_BASE = env.float("TASK_RETRY_BACKOFF_BASE", 2.0, minimum=0.01)
TASK_RETRY_BACKOFF_MAX = env.float("TASK_RETRY_BACKOFF_MAX", 300.0, minimum=0.01)
# Seconds: with DB_POOL_CHECK, a connection given back healthy less than this ago is handed out unchecked (a
# worker's next task takes it back milliseconds later). A database restart inside the window fails the first
# statement on such a connection, which a ReliableTask retries (lib/postgresql/base.py). No longer than the
# shortest first retry countdown (half the backoff base), so the retried attempt's connection is always checked:
# a restart costs a task one attempt at most. 0 checks every checkout.
_first_retry_min = min(TASK_RETRY_BACKOFF_BASE, TASK_RETRY_BACKOFF_MAX) / 2
DB_POOL_CHECK_IDLE = env.float(
    "DB_POOL_CHECK_IDLE", min(1.0, _first_retry_min) if PROCESS_KIND == "worker" else 0.0, minimum=0.0
)
if _first_retry_min < DB_POOL_CHECK_IDLE:
    raise ImproperlyConfigured(
        f"DB_POOL_CHECK_IDLE ({DB_POOL_CHECK_IDLE}) must not exceed half of TASK_RETRY_BACKOFF_BASE "
        f"({TASK_RETRY_BACKOFF_BASE}) and TASK_RETRY_BACKOFF_MAX ({TASK_RETRY_BACKOFF_MAX}): a retried attempt "
        "could take another connection the database dropped, unchecked"
    )
# Attempts before a transient failure is dead-lettered; allocation waits longer for capacity.
TASK_MAX_ATTEMPTS = env.int("TASK_MAX_ATTEMPTS", 3, minimum=1)
ALLOCATION_MAX_ATTEMPTS = env.int("ALLOCATION_MAX_ATTEMPTS", 5, minimum=1)
# Deliveries of one attempt (a worker died running it) before it is dead-lettered as poison.
TASK_MAX_DELIVERIES = env.int("TASK_MAX_DELIVERIES", 3, minimum=1)
# Redis redelivers a message not acknowledged within this many seconds (acks_late):
# it must exceed the hard time limit plus the longest countdown, or a task runs twice.
TASK_VISIBILITY_TIMEOUT = env.int(
    "CELERY_VISIBILITY_TIMEOUT", max(3600, int(CELERY_TASK_TIME_LIMIT + TASK_RETRY_BACKOFF_MAX) + 60), minimum=1
)
if CELERY_BROKER_KIND == "redis" and TASK_VISIBILITY_TIMEOUT < CELERY_TASK_TIME_LIMIT + TASK_RETRY_BACKOFF_MAX:
    raise ImproperlyConfigured(
        f"CELERY_VISIBILITY_TIMEOUT ({TASK_VISIBILITY_TIMEOUT}) must be at least CELERY_TASK_TIME_LIMIT "
        f"({CELERY_TASK_TIME_LIMIT}) plus TASK_RETRY_BACKOFF_MAX ({TASK_RETRY_BACKOFF_MAX}), or a task runs twice"
    )
# RabbitMQ only: a quorum queue delivers a message that keeps coming back (its worker died holding it) at most
# this many times more, then dead-letters it to the dead queue (apps/workers/dropped.py). Our poison check
# (TASK_MAX_DELIVERIES) must see it first, so the limit may not be below it. A queue keeps the limit it was
# declared with: every process must agree (docs/workers.md).
CELERY_QUEUE_DELIVERY_LIMIT = env.int("CELERY_QUEUE_DELIVERY_LIMIT", 10, minimum=1)
if CELERY_BROKER_KIND == "amqp" and CELERY_QUEUE_DELIVERY_LIMIT < TASK_MAX_DELIVERIES:
    raise ImproperlyConfigured(
        f"CELERY_QUEUE_DELIVERY_LIMIT ({CELERY_QUEUE_DELIVERY_LIMIT}) must be at least TASK_MAX_DELIVERIES "
        f"({TASK_MAX_DELIVERIES}): RabbitMQ would drop a poison message before it is dead-lettered"
    )
REDIS_ONLY_BROKER_VARIABLES = (
    "CELERY_BROKER_KEY_PREFIX",
    "CELERY_VISIBILITY_TIMEOUT",
    "CELERY_UNACKED_RESTORE_INTERVAL",
)
if CELERY_BROKER_KIND == "redis":
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
        **bounded_transport_options(
            "redis", timeout=max(REDIS_SOCKET_TIMEOUT, 5.0), connect_timeout=REDIS_CONNECT_TIMEOUT
        ),
        "visibility_timeout": TASK_VISIBILITY_TIMEOUT,
        # Seconds between sweeps that restore messages of workers that died (unacked past the timeout).
        "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", 10, minimum=1),
        "unacked_restore_throttle": 1,
        # How long a worker killed mid-sweep blocks every other sweep (lib/broker.py).
        "unacked_mutex_expire": redis_restore_mutex_expire(TASK_VISIBILITY_TIMEOUT),
        # Namespace of every broker key; lets two deployments (or test runs) share one Redis.
        "global_keyprefix": env.str("CELERY_BROKER_KEY_PREFIX", ""),
    }
else:
    if redis_only := [name for name in REDIS_ONLY_BROKER_VARIABLES if env.raw(name) is not None]:
        raise ImproperlyConfigured(
            f"{', '.join(redis_only)} {'applies' if len(redis_only) == 1 else 'apply'} to a Redis broker only, and "
            f"CELERY_BROKER_URL is {CELERY_BROKER_KIND}://: unset {'it' if len(redis_only) == 1 else 'them'} (RabbitMQ acknowledges for real and separates deployments by virtual host, the URL's path)"
        )
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **bounded_transport_options(
            "amqp", timeout=max(REDIS_SOCKET_TIMEOUT, 5.0), connect_timeout=REDIS_CONNECT_TIMEOUT
        ),
        # A publish returns once RabbitMQ has the message, as Redis' LPUSH does: the outbox deletes its row after.
        "confirm_publish": True,
    }
# Every other publish (.delay(), replays, beat) retries at most twice, 0.2 s apart, each send bounded by the
# transport's socket timeout above: Celery's default would retry three times.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# A pool process keeps its database pool across tasks; Celery's Django fixup closes the pool (and every
# connection) only once every this many tasks, a recycle (apps/workers/connections.py).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", 1000, minimum=1)
# Default prefetch; each queue's worker command sets its own (docs/workers.md).
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", 1, minimum=1)
# A task running when the broker connection drops is cancelled (and redelivered), not finished twice.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The transactional outbox (apps/outbox): seconds each broker operation of a publish may take
# (two attempts at most, so a request never waits on a stalled broker for a second)...
OUTBOX_PUBLISH_TIMEOUT = env.float("OUTBOX_PUBLISH_TIMEOUT", 0.2, minimum=0.01)
# ...seconds a committed hand-off is left to its own process before the relay sends it...
OUTBOX_RELAY_GRACE = env.float("OUTBOX_RELAY_GRACE", 5.0, minimum=0.1)
# ...and the relay's pause between passes when nothing is due, and its batch size.
OUTBOX_RELAY_INTERVAL = env.float("OUTBOX_RELAY_INTERVAL", 1.0, minimum=0.05)
OUTBOX_RELAY_BATCH = env.int("OUTBOX_RELAY_BATCH", 200, minimum=1)
# Seconds between two batch deletes of the rows a process has published (one thread per process); 0 deletes
# each row right after its publish. Well under the grace, or the relay sends rows already published again.
OUTBOX_FORGET_INTERVAL = env.float("OUTBOX_FORGET_INTERVAL", 0.5, minimum=0.0)
if OUTBOX_PUBLISH_TIMEOUT * 2 >= OUTBOX_RELAY_GRACE:
    raise ImproperlyConfigured(
        f"OUTBOX_RELAY_GRACE ({OUTBOX_RELAY_GRACE}) must exceed two OUTBOX_PUBLISH_TIMEOUTs ({OUTBOX_PUBLISH_TIMEOUT})"
    )
if OUTBOX_FORGET_INTERVAL * 2 + OUTBOX_PUBLISH_TIMEOUT * 2 >= OUTBOX_RELAY_GRACE:
    raise ImproperlyConfigured(
        f"OUTBOX_RELAY_GRACE ({OUTBOX_RELAY_GRACE}) must exceed two OUTBOX_FORGET_INTERVALs "
        f"({OUTBOX_FORGET_INTERVAL}) plus two OUTBOX_PUBLISH_TIMEOUTs ({OUTBOX_PUBLISH_TIMEOUT})"
    )
# The platform's workers each consume their own queue; `make run` starts one worker on all of them.
CELERY_TASK_DEFAULT_QUEUE = "default"
WORKER_QUEUES = queues.WORKER_QUEUES
CELERY_TASK_QUEUES = task_queues(WORKER_QUEUES, kind=CELERY_BROKER_KIND, delivery_limit=CELERY_QUEUE_DELIVERY_LIMIT)
CELERY_TASK_ROUTES = {
    "payments.invalidate_student_cache": {"queue": "cache"},
    "purchases.*": {"queue": "purchases"},
    "allocations.*": {"queue": "allocations"},
    "tutoring.*": {"queue": "sessions"},
    "pipeline.notify_allocation": {"queue": "cache"},
}
# Seconds between two samples of the cluster into telemetry_samples (history, alert rules).
TELEMETRY_SAMPLE_INTERVAL = env.float("TELEMETRY_SAMPLE_INTERVAL", 30.0, minimum=1.0)
# Seconds between periodic runs; the one schedule of every periodic task.
CELERY_BEAT_SCHEDULE = {
    "reconcile-stuck-payments": {"task": "payments.reconcile_stuck", "schedule": 300.0},
    "resume-stalled-pipelines": {"task": "pipeline.resume_stalled", "schedule": 300.0},
    "prune-expired-data": {"task": "deadletters.prune", "schedule": 3600.0},
    "telemetry-sample": {"task": "telemetry.sample", "schedule": TELEMETRY_SAMPLE_INTERVAL},
    "timeline-prune": {"task": "timeline.prune", "schedule": 600.0},
}
if CELERY_BROKER_KIND == "amqp":
    # What RabbitMQ dead-lettered (a message past CELERY_QUEUE_DELIVERY_LIMIT) is filed as dead letters.
    CELERY_BEAT_SCHEDULE["collect-dropped-messages"] = {"task": "deadletters.collect_dropped", "schedule": 30.0}
# Dead letters resolved or discarded this many days ago are pruned (each prune is audited).
DEADLETTER_RETENTION_DAYS = env.int("DEADLETTER_RETENTION_DAYS", 90, minimum=1)
# Replays enqueued per second by "replay all matching" (staggered countdowns), and at most this many per call.
DEADLETTER_REPLAY_RATE = env.float("DEADLETTER_REPLAY_RATE", 20.0, minimum=0.1)
DEADLETTER_REPLAY_MAX_BATCH = env.int("DEADLETTER_REPLAY_MAX_BATCH", 500, minimum=1)
# Most letters one console replay job ("all matching the filter") replays; its dry run shows the first batch.
DEADLETTER_REPLAY_JOB_MAX = env.int("DEADLETTER_REPLAY_JOB_MAX", 10_000, minimum=1)

# --- API ------------------------------------------------------------------

# Bootstrap bearer tokens (comma-separated; API_TOKENS_FILE works too), each an all-scopes client
# named env:bootstrap-<n>. Everything else uses named clients (apps/apiclients, docs/api-clients.md).
API_TOKENS = [token.strip() for token in (env.secret("API_TOKENS") or "").split(",") if token.strip()]
# Largest request body the API reads (bytes); a larger one is refused 413 by its Content-Length.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", 65536, minimum=1024)
# Currencies a payment may be made in, and the largest amount (in whole units) one payment may charge.
PAYMENT_CURRENCIES = env.list("PAYMENT_CURRENCIES", default=["EUR", "USD", "GBP", "CHF"])
PAYMENT_MAX_AMOUNT = env.int("PAYMENT_MAX_AMOUNT", 10000, minimum=1)
# Seconds a webhook signature stays valid (replays inside it are idempotent no-ops).
PAYMENT_WEBHOOK_TOLERANCE = env.int("PAYMENT_WEBHOOK_TOLERANCE", 300, minimum=1)
# Seconds after which a payment still in flight, of which the provider has no charge, expires (never charged).
PAYMENT_EXPIRE_AFTER = env.int("PAYMENT_EXPIRE_AFTER", 1800, minimum=60)

# --- Outbound HTTP (lib/http.py) ----------------------------------------------

PAYMENT_PROVIDER_URL = env.http_url("PAYMENT_PROVIDER_URL", "http://127.0.0.1:8765")
# Milliseconds the provider may take to answer (the read timeout of each attempt).
PAYMENT_TIMEOUT = env.int("PAYMENT_TIMEOUT", 5000, minimum=1)
# Shared with the provider to sign its webhooks (PAYMENT_WEBHOOK_SECRET_FILE works too).
PAYMENT_WEBHOOK_SECRET = env.secret("PAYMENT_WEBHOOK_SECRET")
if not PAYMENT_WEBHOOK_SECRET and not DEBUG:
    raise ImproperlyConfigured(
        "PAYMENT_WEBHOOK_SECRET is required when DEBUG is off (or set PAYMENT_WEBHOOK_SECRET_FILE)"
    )
# Namespace of the circuit breakers' shared state in Redis; follows the cache's prefix by default.
HTTP_BREAKER_KEY_PREFIX = env.str("HTTP_BREAKER_KEY_PREFIX", f"{CACHES['default']['KEY_PREFIX']}:breaker")
# Every upstream the project calls; fields left out take the defaults in lib/http.py.
HTTP_TARGETS = {
    "payment_provider": {
        "base_url": PAYMENT_PROVIDER_URL,
        "kind": "external",
        "read_timeout": PAYMENT_TIMEOUT / 1000,
        **env.http_target_overrides("payment_provider"),
    },
}

# --- Health ------------------------------------------------------------------

# Seconds each readiness check may take before it counts as failed.
HEALTH_CHECK_TIMEOUT = env.float("HEALTH_CHECK_TIMEOUT", 2.0, minimum=0.1)
if HEALTH_CHECK_TIMEOUT >= REQUEST_TIMEOUT:
    raise ImproperlyConfigured(
        f"HEALTH_CHECK_TIMEOUT ({HEALTH_CHECK_TIMEOUT}) must be less than REQUEST_TIMEOUT ({REQUEST_TIMEOUT})"
    )

# --- Telemetry, history and alerts (apps/telemetry, docs/console.md) ----------

TELEMETRY_ENABLED = env.bool("TELEMETRY_ENABLED", True)
# Seconds between two snapshots of one process; a snapshot lives three intervals in Redis.
TELEMETRY_INTERVAL = env.float("TELEMETRY_INTERVAL", 5.0, minimum=0.1)
# Seconds over which rates (requests/s, tasks/s) and recent percentiles are computed.
TELEMETRY_WINDOW = env.float("TELEMETRY_WINDOW", 60.0, minimum=1.0)
if TELEMETRY_WINDOW < TELEMETRY_INTERVAL:
    raise ImproperlyConfigured(
        f"TELEMETRY_WINDOW ({TELEMETRY_WINDOW}) must be at least TELEMETRY_INTERVAL ({TELEMETRY_INTERVAL})"
    )
TELEMETRY_KEY_PREFIX = env.str("TELEMETRY_KEY_PREFIX", f"{CACHES['default']['KEY_PREFIX']}:telemetry")
# Seconds one computed overview is shared by every dashboard.
TELEMETRY_OVERVIEW_CACHE = env.float("TELEMETRY_OVERVIEW_CACHE", 2.0, minimum=0.1)
# Seconds the overview's slow parts (dead-letter totals, firing alerts, the sparklines' history) are shared at
# most; a new sample replaces them sooner (apps/telemetry/freshness.py).
TELEMETRY_TOTALS_CACHE = env.float("TELEMETRY_TOTALS_CACHE", 30.0, minimum=0.1)
# Milliseconds each console SQL statement may run (SET LOCAL statement_timeout).
TELEMETRY_SQL_TIMEOUT = env.int("TELEMETRY_SQL_TIMEOUT", 500, minimum=1)
# A dependency check slower than this (ms) is "degraded".
TELEMETRY_SLOW_CHECK_MS = env.float("TELEMETRY_SLOW_CHECK_MS", 250.0, minimum=1.0)
# Days of samples kept in telemetry_samples, and rows deleted per statement when pruning.
TELEMETRY_RETENTION_DAYS = env.int("TELEMETRY_RETENTION_DAYS", 14, minimum=1)
TELEMETRY_PRUNE_BATCH = env.int("TELEMETRY_PRUNE_BATCH", 5000, minimum=1)
# The version each process reports (a release tag or commit).
APP_VERSION = env.str("APP_VERSION", "dev")
# Alert thresholds; each *_FOR is the seconds a condition must hold before the alert fires.
ALERT_POOL_USAGE = env.float("ALERT_POOL_USAGE", 0.8, minimum=0.0)
ALERT_POOL_USAGE_FOR = env.float("ALERT_POOL_USAGE_FOR", 120.0, minimum=0.0)
ALERT_HTTP_5XX_RATE = env.float("ALERT_HTTP_5XX_RATE", 0.01, minimum=0.0)
ALERT_HTTP_5XX_FOR = env.float("ALERT_HTTP_5XX_FOR", 60.0, minimum=0.0)
ALERT_HTTP_P99_MS = env.float("ALERT_HTTP_P99_MS", REQUEST_TIMEOUT * 1000 / 2, minimum=1.0)
ALERT_HTTP_P99_FOR = env.float("ALERT_HTTP_P99_FOR", 60.0, minimum=0.0)
ALERT_WS_USAGE = env.float("ALERT_WS_USAGE", 0.9, minimum=0.0)
ALERT_WS_USAGE_FOR = env.float("ALERT_WS_USAGE_FOR", 60.0, minimum=0.0)
ALERT_QUEUE_AGE = env.float("ALERT_QUEUE_AGE", 120.0, minimum=1.0)
ALERT_QUEUE_AGE_FOR = env.float("ALERT_QUEUE_AGE_FOR", 60.0, minimum=0.0)
ALERT_DEAD_LETTERS_FOR = env.float("ALERT_DEAD_LETTERS_FOR", 300.0, minimum=0.0)
ALERT_MIN_WORKERS = env.int("ALERT_MIN_WORKERS", 1, minimum=0)
# Optional: alerts firing and resolving are posted here as Slack-compatible JSON ({"text": ...}).
ALERT_WEBHOOK_URL = env.str("ALERT_WEBHOOK_URL", None) or ""
if ALERT_WEBHOOK_URL:
    env.http_url("ALERT_WEBHOOK_URL", ALERT_WEBHOOK_URL)  # refuses anything but an http(s) URL with a host
    _hook = urlsplit(ALERT_WEBHOOK_URL)
    # Posted through lib/http.py like every outbound call; a POST is never retried (no idempotency key).
    HTTP_TARGETS["alert_webhook"] = {"base_url": f"{_hook.scheme}://{_hook.netloc}", "kind": "external"}

# --- Realtime: WebSockets over Channels (apps/realtime, docs/realtime.md) ------

# "pubsub" (RedisPubSubChannelLayer, chosen by bench/websockets.py) or "core" (RedisChannelLayer).
WS_CHANNEL_LAYER = env.choice("WS_CHANNEL_LAYER", "pubsub", ("pubsub", "core"))
# Namespace of the channel layer's Redis keys and channels.
CHANNEL_LAYER_PREFIX = env.str("CHANNEL_LAYER_PREFIX", "asgi")
# "core" only: messages a channel (one per web process, apps/realtime/router.py) holds in Redis,
# and seconds they live; events are live data.
CHANNEL_LAYER_CAPACITY = env.int("CHANNEL_LAYER_CAPACITY", 1000, minimum=1)
CHANNEL_LAYER_EXPIRY = env.int("CHANNEL_LAYER_EXPIRY", 10, minimum=1)


def channel_layers_for(kind: str) -> dict[str, Any]:
    """CHANNEL_LAYERS for "pubsub" or "core" (bench/websockets.py compares the two in one run)."""
    host = {
        "address": REDIS_URL,
        "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
        # RedisChannelLayer blocks in BZPOPMIN for 5 s: its socket timeout must outlast that.
        "socket_timeout": REDIS_WRITE_TIMEOUT + (5.0 if kind == "core" else 0.0),
    }
    config = {"hosts": [host], "prefix": CHANNEL_LAYER_PREFIX}
    if kind == "core":
        config |= {"capacity": CHANNEL_LAYER_CAPACITY, "expiry": CHANNEL_LAYER_EXPIRY, "group_expiry": 86_400}
    backend = (
        "channels_redis.pubsub.RedisPubSubChannelLayer" if kind == "pubsub" else "channels_redis.core.RedisChannelLayer"
    )
    return {"default": {"BACKEND": backend, "CONFIG": config}}


CHANNEL_LAYERS = channel_layers_for(WS_CHANNEL_LAYER)
# Browser origins allowed to open a WebSocket, compared as (scheme, host, port). The console is
# same-origin, so CSRF_TRUSTED_ORIGINS by default; in DEBUG without those, `make run`'s address.
WS_ALLOWED_ORIGINS = env.origins(
    "WS_ALLOWED_ORIGINS",
    CSRF_TRUSTED_ORIGINS or (["http://localhost:8000", "http://127.0.0.1:8000"] if DEBUG else []),
)
WS_MAX_CONNECTIONS_PER_INSTANCE = env.int("WS_MAX_CONNECTIONS_PER_INSTANCE", 1000, minimum=1)
# The newest connection past the cap is refused (close 1008); open ones are never kicked.
WS_MAX_CONNECTIONS_PER_USER = env.int("WS_MAX_CONNECTIONS_PER_USER", 5, minimum=1)
# Frames waiting for one client; a full queue, or one send blocked WS_SEND_TIMEOUT, drops the client (1013).
WS_OUTBOUND_QUEUE_SIZE = env.int("WS_OUTBOUND_QUEUE_SIZE", 64, minimum=1)
WS_SEND_TIMEOUT = env.float("WS_SEND_TIMEOUT", 5.0, minimum=0.1)
WS_MAX_MESSAGE_BYTES = env.int("WS_MAX_MESSAGE_BYTES", 4096, minimum=64)
WS_INBOUND_RATE = env.rate("WS_INBOUND_RATE", "20/s")
# Bad frames answered with an error frame before the connection is closed.
WS_MAX_PROTOCOL_ERRORS = env.int("WS_MAX_PROTOCOL_ERRORS", 3, minimum=0)
# Seconds between refreshes of this instance's tracking keys, and how long they outlive a crash.
WS_HEARTBEAT_INTERVAL = env.float("WS_HEARTBEAT_INTERVAL", 10.0, minimum=0.1)
WS_TRACKING_TTL = env.float("WS_TRACKING_TTL", 30.0, minimum=0.5)
if WS_TRACKING_TTL <= 2 * WS_HEARTBEAT_INTERVAL:
    raise ImproperlyConfigured(
        f"WS_TRACKING_TTL ({WS_TRACKING_TTL}) must exceed twice WS_HEARTBEAT_INTERVAL ({WS_HEARTBEAT_INTERVAL})"
    )
WS_KEY_PREFIX = env.str("WS_KEY_PREFIX", "ws")
# Seconds publish_event may wait for Redis before the event is dropped (logged and counted).
WS_PUBLISH_TIMEOUT = env.float("WS_PUBLISH_TIMEOUT", 1.0, minimum=0.01)
# Seconds SIGTERM gives open sockets to take their 1001 before the server stops.
WS_DRAIN_TIMEOUT = env.float("WS_DRAIN_TIMEOUT", 10.0, minimum=0.1)
# Seconds between an instance's checks that its sockets' sessions still sign in an allowed user
# (two queries per instance, whatever the number of sockets); model signals act at once.
WS_ACCESS_RECHECK_INTERVAL = env.float("WS_ACCESS_RECHECK_INTERVAL", 60.0, minimum=0.5)

# --- Payment timeline (apps/timeline, docs/console.md#payment-timeline) ---------

TIMELINE_ENABLED = env.bool("TIMELINE_ENABLED", True)
# Seconds between two batch writes of a process's buffered events; 0 writes each event at once (tests).
TIMELINE_FLUSH_INTERVAL = env.float("TIMELINE_FLUSH_INTERVAL", 1.0, minimum=0.0)
# Events a process buffers at most; past that new events are dropped and counted (timeline_dropped).
TIMELINE_BUFFER_MAX = env.int("TIMELINE_BUFFER_MAX", 10000, minimum=100)
# Milliseconds a batch write or a timeline page's read may take.
TIMELINE_SQL_TIMEOUT = env.int("TIMELINE_SQL_TIMEOUT", 500, minimum=1)
# Events older than this many days are deleted by beat's timeline.prune, TIMELINE_PRUNE_BATCH rows per batch.
TIMELINE_RETENTION_DAYS = env.int("TIMELINE_RETENTION_DAYS", 30, minimum=1)
TIMELINE_PRUNE_BATCH = env.int("TIMELINE_PRUNE_BATCH", 5000, minimum=1)

# --- Operations console (apps/console, docs/console.md) -----------------------

# Seconds between the overview frames each web process pushes to its /ws/ops/ sockets (and the page's
# polling period when the socket is down): at most one frame every 2 s.
CONSOLE_LIVE_INTERVAL = env.float("CONSOLE_LIVE_INTERVAL", 2.0, minimum=2.0)
# Seconds a page polling /ops/live is let in on its session alone (no user or permission read), after a full
# check let it in: the longest a change the model signals do not see (a queryset .update()) takes to lock out.
# Saving the user or changing its groups or permissions locks out at once. 0: check every poll.
CONSOLE_ACCESS_CACHE = env.float("CONSOLE_ACCESS_CACHE", 30.0, minimum=0.0)
# The database page (/ops/database): ms each activity statement (connections, long queries, locks) and
# each statistics statement (indexes, tables, pg_stat_statements) may run, and seconds each is shared.
CONSOLE_DB_ACTIVITY_TIMEOUT = env.int("CONSOLE_DB_ACTIVITY_TIMEOUT", 200, minimum=1)
CONSOLE_DB_STATS_TIMEOUT = env.int("CONSOLE_DB_STATS_TIMEOUT", 500, minimum=1)
CONSOLE_DB_ACTIVITY_CACHE = env.float("CONSOLE_DB_ACTIVITY_CACHE", 2.0, minimum=0.1)
CONSOLE_DB_STATS_CACHE = env.float("CONSOLE_DB_STATS_CACHE", 30.0, minimum=0.1)
# Seconds a statement (or an open transaction) runs before the page lists it as long-running.
CONSOLE_LONG_QUERY_SECONDS = env.float("CONSOLE_LONG_QUERY_SECONDS", 5.0, minimum=0.1)
# The workers page (/ops/workers): seconds a broadcast to the workers waits for their replies, and
# seconds a worker that stopped reporting stays listed as lost.
CONSOLE_CONTROL_TIMEOUT = env.float("CONSOLE_CONTROL_TIMEOUT", 2.0, minimum=0.1)
CONSOLE_WORKER_LOST_AFTER = env.float("CONSOLE_WORKER_LOST_AFTER", 3600.0, minimum=1.0)

# --- Auth, i18n, static ----------------------------------------------------

# Argon2 first; the others verify passwords hashed before a switch.
# apps/accounts/checks.py stops start-up if this is weakened (ops_console.E001-E004).
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
TIME_ZONE = env.time_zone("TIME_ZONE", "UTC")
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

# Addresses or networks of the reverse proxies in front of the web processes (docs/ratelimiting.md).
# X-Forwarded-For and X-Forwarded-Proto are believed from these peers only; uvicorn itself
# never rewrites the client or the scheme (--no-proxy-headers).
TRUSTED_PROXIES = env.networks("TRUSTED_PROXIES", [])
for _retired in ("TRUST_X_FORWARDED_FOR", "TRUST_X_FORWARDED_PROTO"):
    if env.bool(_retired, False):
        raise ImproperlyConfigured(f"{_retired} is no longer read: list your proxies' addresses in TRUSTED_PROXIES")
# ForwardedHeadersMiddleware removes the header from anyone else.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXIES else None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", not DEBUG)
# /health and /ready are probed over plain HTTP by load balancers (apps/health/middleware.py).
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# One policy for every page, the admin's included (Django 5.2's admin has no inline scripts or styles):
# only this origin's scripts, styles, images and connections (its WebSockets too), no plugins, no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
SECURE_CONTENT_TYPE_NOSNIFF = True
# models.E034 caps index names at 30 characters for Oracle; PostgreSQL allows 63
# and our names say which table and query they serve.
SILENCED_SYSTEM_CHECKS = ["models.E034", *env.list("SILENCED_SYSTEM_CHECKS", default=[])]

# --- Logging: structlog, JSON lines unless DEBUG ----------------------------

LOG_LEVEL = env.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
LOG_FORMAT = env.choice("LOG_FORMAT", "console" if DEBUG else "json", ("json", "console"))

LOGGING = build_logging_config(level=LOG_LEVEL, fmt=LOG_FORMAT, process_kind=PROCESS_KIND)

# --- Fault drills (/ops/drills; docs/console.md#fault-drills) ------------------
# Off by default; `make run` turns them on; `check --deploy` fails while on (ops_console.E020).
OPS_FAULT_DRILLS = env.bool("OPS_FAULT_DRILLS", False)
# How long a timed drill lasts unless the operator says otherwise, and the most it may last.
DRILL_SECONDS = env.float("DRILL_SECONDS", 30.0, minimum=0.1)
DRILL_MAX_SECONDS = env.float("DRILL_MAX_SECONDS", 120.0, minimum=0.1)
# The sandbox provider's delay per answer in the "provider slow" drill.
DRILL_PROVIDER_DELAY_MS = env.int("DRILL_PROVIDER_DELAY_MS", 2000, minimum=0)
# Seconds the console waits for the sandbox provider's control endpoint.
DRILL_CONTROL_TIMEOUT = env.float("DRILL_CONTROL_TIMEOUT", 2.0, minimum=0.1)
# The drills set the sandbox provider's mode through lib/http.py like every outbound call (no retry, its own breaker).
HTTP_TARGETS["provider_control"] = {
    "base_url": PAYMENT_PROVIDER_URL,
    "kind": "internal",
    "read_timeout": DRILL_CONTROL_TIMEOUT,
    "retries": 0,
}
# Payments the "burst" drill creates.
DRILL_BURST_PAYMENTS = env.int("DRILL_BURST_PAYMENTS", 50, minimum=1)
