"""Settings for the CarrierX Messaging Portal: one file, read from the environment (and .env)."""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# The test suite holds on any machine: under pytest (which imports these settings itself, before
# any conftest) neither .env nor the developer's environment counts, only DATABASE_URL, which CI
# uses to choose PostgreSQL. Processes the tests start inherit PORTAL_IGNORE_DOTENV=1.
under_pytest = "pytest" in sys.modules
if under_pytest:
    env.ENVIRON = {key: os.environ[key] for key in ("DATABASE_URL",) if key in os.environ}
if not (under_pytest or env.bool("PORTAL_IGNORE_DOTENV", default=False)):
    environ.Env.read_env(BASE_DIR / ".env")


def kept_secret(name: str, nbytes: int) -> str:
    """A random value made once per install and kept in BASE_DIR/<name> (git-ignored), so every
    web and worker process, and every restart, sees the same one.

    Created with a hard link from a private temporary file: the first process to start wins, and
    no process ever reads a half-written file.
    """
    path = BASE_DIR / name
    if not path.exists():
        fd, temporary = tempfile.mkstemp(dir=BASE_DIR, prefix=f"{name}.")
        try:
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_urlsafe(nbytes))
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    return path.read_text().strip()


DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set SECRET_KEY when DEBUG is off.")
    # Development: one random key, so sessions survive restarts and every process signs alike.
    SECRET_KEY = kept_secret(".secret_key", 50)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])

PORT = env.int("PORT", default=8000)
PUBLIC_URL = env.str("PUBLIC_URL", default=f"http://127.0.0.1:{PORT}").rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# A stale form's refusal in the portal's look, saying what to do (Django's own is bare).
CSRF_FAILURE_VIEW = "portal.errors.csrf_failure"

# --- Security -------------------------------------------------------------------------------------
# Behind a TLS-terminating proxy, trust the scheme it reports (X-Forwarded-Proto) and the client
# address it appends (X-Forwarded-For, for the login lockout). Only then: a client could forge both.
BEHIND_TLS_PROXY = env.bool("BEHIND_TLS_PROXY", default=False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        # Preloading is a promise to browsers that is slow to take back, so it is opt-in; without
        # it, check --deploy's only remark (W021) is that the site cannot be preloaded.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Nothing inline: every script and style is a file under /static/ (htmx's own indicator style
# included, see base.html's htmx-config), so the policy needs no 'unsafe-inline' or 'unsafe-eval'.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],  # blob: the composer's thumbnails of attached files
        "media-src": [SELF],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

# Login lockout: AXES_FAILURE_LIMIT failed sign-ins for one username from one address lock that
# pair out for AXES_COOLOFF_TIME hours. Locking by username alone would let anyone lock a colleague
# out; by address alone, a shared office address would lock everyone.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(hours=env.float("AXES_COOLOFF_TIME", default=0.5))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# What axes records, cut to its column: a longer typed name would be a 500 on PostgreSQL.
# Lower-cased too: any case signs in (portal.auth_backends), so every spelling counts together.
AXES_USERNAME_CALLABLE = "portal.auth_backends.axes_username"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
if BEHIND_TLS_PROXY:
    AXES_CLIENT_IP_CALLABLE = "portal.proxy.client_ip"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first, as django-axes asks
    "portal.auth_backends.CaseInsensitiveModelBackend",
]

# --- CarrierX -------------------------------------------------------------------------------------
CARRIERX_TOKEN = env.str("CARRIERX_TOKEN", default="")
# In development, no token means no carrier to talk to, so the built-in sandbox stands in for it.
# With DEBUG off it runs only when asked for: a production portal that lost its token must not
# quietly become a carrier anyone can drive.
CARRIERX_SANDBOX = env.bool("CARRIERX_SANDBOX", default=DEBUG and not CARRIERX_TOKEN)
if not DEBUG and not CARRIERX_SANDBOX and not CARRIERX_TOKEN:
    raise ImproperlyConfigured(
        "DEBUG is off and CARRIERX_TOKEN is not set. Set CARRIERX_TOKEN (and "
        "CARRIERX_WEBHOOK_SECRET) to talk to CarrierX, or set CARRIERX_SANDBOX=1 to run the "
        "built-in sandbox carrier on purpose."
    )
if CARRIERX_SANDBOX:
    # The sandbox accepts exactly this token; random per install unless CARRIERX_TOKEN says.
    CARRIERX_TOKEN = CARRIERX_TOKEN or kept_secret(".sandbox_token", 32)
    CARRIERX_API_URL = env.str(
        "CARRIERX_API_URL", default=f"http://127.0.0.1:{PORT}/sandbox/core/v2"
    )
    CARRIERX_WEBHOOK_SECRET = env.str("CARRIERX_WEBHOOK_SECRET", default="sandbox-webhook")
else:
    CARRIERX_API_URL = env.str("CARRIERX_API_URL", default="https://api.carrierx.com/core/v2")
    CARRIERX_WEBHOOK_SECRET = env.str("CARRIERX_WEBHOOK_SECRET", default="")
    if not CARRIERX_WEBHOOK_SECRET:
        raise ImproperlyConfigured(
            "CARRIERX_WEBHOOK_SECRET is required when talking to the real CarrierX "
            "(it is the secret part of the webhook URL the carrier calls)."
        )
CARRIERX_API_URL = CARRIERX_API_URL.rstrip("/")
# (connect, read) seconds: a send must fail fast enough to show the reason on the page.
CARRIERX_TIMEOUT = (
    env.float("CARRIERX_CONNECT_TIMEOUT", default=5.0),
    env.float("CARRIERX_READ_TIMEOUT", default=20.0),
)
PHONE_REGION = env.str("PHONE_REGION", default="US")
# What one SMS segment costs us, for the composer's estimate; empty = unknown, no estimate shown.
SMS_PRICE_PER_SEGMENT = env.str("SMS_PRICE_PER_SEGMENT", default="")

# MMS, as the carrier limits it (CARRIERX-MORE.md §4.2): files per message and their total size.
MMS_MAX_FILES = 10
MMS_MAX_BYTES = 3 * 1024 * 1024
# What one MMS costs us, for the composer's estimate; empty = unknown, no estimate shown.
MMS_PRICE = env.str("MMS_PRICE", default="")
# Inbound media: each file is downloaded and kept (carrier links can expire), within these bounds.
MEDIA_DOWNLOAD_MAX_BYTES = env.int("MEDIA_DOWNLOAD_MAX_BYTES", default=5 * 1024 * 1024)
MEDIA_DOWNLOAD_TIMEOUT = (5.0, env.float("MEDIA_DOWNLOAD_READ_TIMEOUT", default=20.0))
MEDIA_DOWNLOAD_ATTEMPTS = env.int("MEDIA_DOWNLOAD_ATTEMPTS", default=4)
# Hosts (`host` or `host:port`) media may be downloaded from although they are private addresses
# (an in-house carrier proxy, say). In sandbox mode the sandbox's own host is allowed too.
# Redirects to private addresses are never followed.
MEDIA_DOWNLOAD_PRIVATE_HOSTS = env.list("MEDIA_DOWNLOAD_PRIVATE_HOSTS", default=[])

# Sending. Retries only for what cannot have reached the carrier (refused connection, 429).
SEND_MAX_ATTEMPTS = env.int("SEND_MAX_ATTEMPTS", default=5)
SEND_BACKOFF_SECONDS = env.float("SEND_BACKOFF_SECONDS", default=2.0)  # first retry; doubles
SEND_BACKOFF_MAX_SECONDS = env.float("SEND_BACKOFF_MAX_SECONDS", default=120.0)
# After a timeout or 5xx, wait this long before asking the carrier whether it has the message.
SEND_RECONCILE_DELAY_SECONDS = env.float("SEND_RECONCILE_DELAY_SECONDS", default=10.0)
# Outbound messages short of a final status for this long are checked against the carrier.
RECONCILE_STUCK_MINUTES = env.float("RECONCILE_STUCK_MINUTES", default=15.0)
# Campaigns (campaigns/dispatch.py). A dispatcher is one task run of at most CAMPAIGN_TICK_SECONDS
# that sends on up to CAMPAIGN_SEND_THREADS carrier calls at once (enough for the pool's rate times
# the carrier's latency: 50 messages/s against a 2 s carrier needs 100), then queues its successor.
# CAMPAIGN_DISPATCHERS run side by side per campaign (on several workers; each DID's pace is kept in
# the database, so they share it). A recipient claimed by a dispatcher that died is given back after
# CAMPAIGN_CLAIM_LEASE_SECONDS.
CAMPAIGN_TICK_SECONDS = env.float("CAMPAIGN_TICK_SECONDS", default=20.0)
CAMPAIGN_SEND_THREADS = env.int("CAMPAIGN_SEND_THREADS", default=100)
CAMPAIGN_DISPATCHERS = env.int("CAMPAIGN_DISPATCHERS", default=1)
CAMPAIGN_CLAIM_LEASE_SECONDS = env.float("CAMPAIGN_CLAIM_LEASE_SECONDS", default=60.0)
# Each DID's sends are spaced (1 + margin) / rate apart, so sends delayed by up to `margin`
# seconds more than each other (late at our side plus their way) keep the carrier's count in any
# one second within the rate. A call more than margin/2 late at our side is not made (it takes a
# new slot), so at least half the margin is left for the way to the carrier.
CAMPAIGN_PACE_MARGIN = env.float("CAMPAIGN_PACE_MARGIN", default=0.1)
# The composer warns before texting a number the carrier's lookup calls a landline
# (messaging/services/lookups.py). A lookup may be billed by the carrier, so it is off by default
# outside sandbox mode; answers are kept LOOKUP_CACHE_DAYS.
LANDLINE_CHECK = env.bool("LANDLINE_CHECK", default=CARRIERX_SANDBOX)
LOOKUP_CACHE_DAYS = env.float("LOOKUP_CACHE_DAYS", default=30.0)
# The dashboard reads per-day totals that the task worker recounts every DASHBOARD_ROLLUP_MINUTES
# for the last DASHBOARD_RECOUNT_DAYS days (late callbacks and detail records change recent days).
DASHBOARD_ROLLUP_MINUTES = env.float("DASHBOARD_ROLLUP_MINUTES", default=5.0)
DASHBOARD_RECOUNT_DAYS = env.int("DASHBOARD_RECOUNT_DAYS", default=7)
# Task worker processes `manage.py runportal` (what `make run` serves) starts and supervises.
TASK_WORKERS = env.int("TASK_WORKERS", default=2)
# A task RUNNING this long is taken to have lost its worker (messaging/services/task_leases.py).
TASK_LEASE_SECONDS = env.float("TASK_LEASE_SECONDS", default=300.0)
# Health (`/healthz`) and metrics (`/metrics`). A worker writes a heartbeat this often; /healthz
# fails when the newest is older than the stale limit, or when the task queue is backed up.
HEARTBEAT_SECONDS = env.float("HEARTBEAT_SECONDS", default=10.0)
HEALTH_WORKER_STALE_SECONDS = env.float("HEALTH_WORKER_STALE_SECONDS", default=60.0)
HEALTH_QUEUE_MAX_DEPTH = env.int("HEALTH_QUEUE_MAX_DEPTH", default=5000)
HEALTH_QUEUE_MAX_AGE_SECONDS = env.float("HEALTH_QUEUE_MAX_AGE_SECONDS", default=300.0)
# /metrics answers a Prometheus scrape carrying `Authorization: Bearer <METRICS_TOKEN>`, or from
# an address in METRICS_ALLOWED_IPS; with neither set it is off (404).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
# Consecutive failed carrier calls before the Messaging page says the carrier is unavailable.
CARRIER_UNAVAILABLE_AFTER = env.int("CARRIER_UNAVAILABLE_AFTER", default=3)
# The DID cache (numbers, groups, the partner's callbacks) is re-read by the task worker this
# often; after a failed read, first again after NUMBERS_SYNC_RETRY_SECONDS, doubling each time.
NUMBERS_SYNC_MINUTES = env.float("NUMBERS_SYNC_MINUTES", default=5.0)
NUMBERS_SYNC_RETRY_SECONDS = env.float("NUMBERS_SYNC_RETRY_SECONDS", default=10.0)
# The carrier's message detail records are read this often (messaging/services/detail_records.py);
# the first read goes back DETAIL_RECORDS_LOOKBACK_HOURS. A recovered inbound text (its callback
# never came) is auto-replied only if it reached the carrier at most AUTO_REPLY_RECOVERY_MINUTES
# ago: a late answer to an old text is worse than none.
DETAIL_RECORDS_SYNC_MINUTES = env.float("DETAIL_RECORDS_SYNC_MINUTES", default=5.0)
DETAIL_RECORDS_LOOKBACK_HOURS = env.float("DETAIL_RECORDS_LOOKBACK_HOURS", default=24.0)
AUTO_REPLY_RECOVERY_MINUTES = env.float("AUTO_REPLY_RECOVERY_MINUTES", default=15.0)
# An inbound record younger than this is left for its callback, which may still be on its way; it
# is recovered by a later sync if the callback never comes.
DETAIL_RECORDS_RECOVERY_GRACE_SECONDS = env.float(
    "DETAIL_RECORDS_RECOVERY_GRACE_SECONDS", default=300.0
)

# Sandbox behaviour (only used in sandbox mode).
SANDBOX_STEP_SECONDS = env.float("SANDBOX_STEP_SECONDS", default=1.0)
SANDBOX_FAILURE_RATE = env.float("SANDBOX_FAILURE_RATE", default=0.1)
# Seconds from a messaging enablement request to `enabled`/`failed`/`disabled`; days a released
# number ages before it can be rented again (see sandbox/README.md).
SANDBOX_ENABLEMENT_SECONDS = env.float("SANDBOX_ENABLEMENT_SECONDS", default=3.0)
SANDBOX_AGING_DAYS = env.float("SANDBOX_AGING_DAYS", default=90)
# Default fault shares until someone sets them at /sandbox/control, e.g. '{"rate_limit": 0.1}'.
SANDBOX_FAULTS = env.json("SANDBOX_FAULTS", default={})
# Hosts (`host` or `host:port`) the sandbox may POST callbacks to besides the portal's own webhook.
SANDBOX_CALLBACK_HOSTS = env.list("SANDBOX_CALLBACK_HOSTS", default=[])
# Off: the sandbox refuses a `user_data` filter on its message list, as older accounts do.
SANDBOX_FILTER_ON_USER_DATA = env.bool("SANDBOX_FILTER_ON_USER_DATA", default=True)

# --- Django ---------------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "django_tasks",
    "django_tasks_db",
    "csp",
    "axes",
    "portal",
    "phone_numbers",
    "messaging",
    "contacts",
    "campaigns",
    "dashboard",
    "ops",
]
# The carrier stand-in exists only in sandbox mode: with a real token no sandbox table, admin page
# or URL exists (portal/urls.py mounts its URLs under the same condition).
if CARRIERX_SANDBOX:
    INSTALLED_APPS.append("sandbox")

MIDDLEWARE = [
    "portal.request_context.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The carrier's callbacks and the sandbox's Core API are answered here, past what only
    # people's pages need.
    "portal.machine_lane.MachineLaneMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.middleware.TimeZoneMiddleware",
    "portal.audit.AuditActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a lockout raised anywhere above into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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
                "portal.context_processors.portal",
                "messaging.context_processors.unread_badge",
                "phone_numbers.context_processors.carrier_state",
                "portal.password_reset.context",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN, so
    # concurrent writers queue on the busy timeout instead of failing with "database is locked".
    # Writers queue on a lock file before SQLite's own lock (portal/backends/sqlite3/base.py).
    DATABASES["default"]["ENGINE"] = "portal.backends.sqlite3"
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # A file, not :memory:, so the live server, the task worker and the tests see one database;
    # one per test run, so runs side by side do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".test-db-{os.getpid()}.sqlite3")}
else:
    pool_max = env.int("DATABASE_POOL_MAX", default=0)
    if pool_max:
        # A threaded server (gunicorn --threads) otherwise holds a connection per thread, or
        # opens one per request with CONN_MAX_AGE=0 (a new PostgreSQL backend each time, its caches
        # cold): a psycopg pool per process lends at most this many, and Django gives one back at
        # the end of each request (persistent connections and a pool do not mix).
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": pool_max,
            "timeout": 30,
        }
    else:
        DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    # Parameters sent apart from the statement's text, so the webhook can prepare its statements
    # (portal.prepared says why only those). Off for a pooler in transaction mode that cannot
    # keep prepared statements (PgBouncer before 1.21).
    if env.bool("DATABASE_SERVER_SIDE_BINDING", default=True):
        DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Email, in django-environ's URL form (smtp+tls://user:password@smtp.example.com:587). Password
# reset mails a link, so it is offered only when there is a way to send one (portal/urls.py).
EMAIL_URL = env.str("EMAIL_URL", default="")
EMAIL_CONFIGURED = bool(EMAIL_URL)
if EMAIL_CONFIGURED:
    vars().update(
        {key: value for key, value in env.email_url("EMAIL_URL").items() if value is not None}
    )
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="webmaster@localhost")
# Password reset requests allowed per hour, per email address asked for and per client address,
# so the form cannot be used to flood someone's mailbox or our mail server.
PASSWORD_RESET_PER_EMAIL_PER_HOUR = env.int("PASSWORD_RESET_PER_EMAIL_PER_HOUR", default=3)
PASSWORD_RESET_PER_ADDRESS_PER_HOUR = env.int("PASSWORD_RESET_PER_ADDRESS_PER_HOUR", default=10)

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# Serve straight from the source folders when collectstatic has not run (development, tests).
WHITENOISE_USE_FINDERS = True
# Production serves what collectstatic wrote: hashed names (cached forever) and compressed copies.
# Media (MMS files, both ways) go through Django's storage API: the filesystem under MEDIA_ROOT,
# or an S3-compatible bucket when MEDIA_BUCKET is set (credentials as boto3 reads them:
# AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). The portal serves them itself (messaging/views/
# media.py), so the bucket stays private.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_BUCKET = env.str("MEDIA_BUCKET", default="")
MEDIA_STORAGE = (
    {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": MEDIA_BUCKET,
            "endpoint_url": env.str("MEDIA_ENDPOINT_URL", default="") or None,
            "region_name": env.str("MEDIA_REGION", default="") or None,
            "default_acl": "private",
            "file_overwrite": False,
        },
    }
    if MEDIA_BUCKET
    else {"BACKEND": "django.core.files.storage.FileSystemStorage"}
)
STORAGES = {
    "default": MEDIA_STORAGE,
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# The webhook secret is part of a URL path, and Django logs paths: redact it wherever a record is
# made (django.request, django.server) and wherever one is written (the console). Debug error
# pages and error mails show the path too, so their reporter redacts it as well.
DEFAULT_EXCEPTION_REPORTER = "portal.exception_reporter.RedactingExceptionReporter"
# One line per request and per task, each with its request id (portal/request_context.py); one
# JSON object per line with LOG_FORMAT=json. Nothing at INFO holds a secret or a message body.
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "portal.request_context.JsonFormatter"},
    },
    "filters": {
        "request_id": {"()": "portal.request_context.RequestIdFilter"},
        "redact_webhook_secret": {"()": "portal.log_filters.RedactWebhookSecret"},
        # A 403 is a user without the role, not a bug: one line, no traceback.
        "forbidden_one_line": {"()": "portal.log_filters.ForbiddenOneLine"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id", "redact_webhook_secret"],
            "formatter": "json" if LOG_FORMAT == "json" else "text",
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.request": {"filters": ["redact_webhook_secret", "forbidden_one_line"]},
        "django.server": {"level": "WARNING", "filters": ["redact_webhook_secret"]},
        # django-axes announces itself at every start; its lockout warnings still come through.
        "axes.apps": {"level": "WARNING"},
    },
}
