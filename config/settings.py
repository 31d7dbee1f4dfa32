"""Settings for the DAM platform, all read from environment variables.

Every variable has a safe local default and is documented in README.md ("Configuration").
Production (DEBUG=0) refuses to start without an explicit SECRET_KEY.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_choice, env_int, env_list, env_mapping, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("DAM_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", True)


def _dev_secret_key() -> str:
    """A dev key that survives restarts (sessions stay valid) without being committed.

    Readable by its owner only (it signs sessions); written whole, then linked into place, so processes
    starting together never read a half-written key, and the first one's key wins.
    """
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off")
    key_file = VAR_DIR / "dev-secret-key"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    if not key_file.exists():
        fd, temporary = tempfile.mkstemp(dir=key_file.parent, prefix=".dev-secret-key.")  # mode 0600
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
        try:
            os.link(temporary, key_file)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    if key_file.stat().st_mode & 0o077:  # written by an earlier version with the umask's mode
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = env_str("SECRET_KEY") or _dev_secret_key()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "csp",
    "axes",
    "tenants",
    "governance",
    "generation",
    "dam",
    # The staff UI shell (ui/): before drf_spectacular, whose Swagger UI page it overrides.
    "ui",
    # The OpenAPI schema (config.openapi) and Swagger UI's files, served from the package, not a CDN.
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # The staff UI is the Django admin with the platform's tenant-aware site (ui.site), in place of
    # "django.contrib.admin". It comes after our apps so their templates (admin/base_site.html) override the
    # stock admin's.
    "ui.apps.StaffAdminConfig",
]

MIDDLEWARE = [
    "tenants.middleware.RequestIdMiddleware",
    # Django's own error pages under /api/ (unknown URL, body too big, 500) become problem details.
    "tenants.api.problems.ApiProblemMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy and Permissions-Policy on every response (settings below).
    "csp.middleware.CSPMiddleware",
    "tenants.web_security.SecurityHeadersMiddleware",
    # NUL and unpaired surrogates in the path, query or a web UI form: a 400 before any view.
    "tenants.input_guard.RequestTextGuardMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Idle and absolute session lifetimes, once the user is known.
    "tenants.web_security.SessionTimeoutMiddleware",
    # Staff pages render times in the tenant's time zone.
    "tenants.middleware.StaffTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: django-axes turns a lockout into the login page with its message.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dam")
_db = dj_database_url.parse(DATABASE_URL, conn_max_age=0)
if not _db["ENGINE"].endswith("postgresql"):
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://...)")
if env_bool("DB_POOL", True):
    # Django's built-in psycopg 3 pool; requires CONN_MAX_AGE=0.
    _db.setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DB_POOL_MIN_SIZE", 1, minimum=0),
        "max_size": env_int("DB_POOL_MAX_SIZE", 20, minimum=1),
        "timeout": env_int("DB_POOL_TIMEOUT", 10, minimum=1),
    }
# Parameters sent apart from the SQL, and a statement run DB_PREPARE_THRESHOLD times on a connection
# prepared: PostgreSQL stops planning a job's statements afresh (its CPU per job halves:
# bench/throughput.py). Behind a transaction-mode pooler that cannot keep prepared statements, set
# DB_PREPARE_THRESHOLD=0 (never prepare).
if env_bool("DB_SERVER_SIDE_BINDING", True):
    _db.setdefault("OPTIONS", {})["server_side_binding"] = True
    _threshold = env_int("DB_PREPARE_THRESHOLD", 5, minimum=0)
    _db["OPTIONS"]["prepare_threshold"] = _threshold or None
# How PostgreSQL plans a prepared statement. One tenant may hold most of a table, so a generic plan (made once for
# any tenant, costing `tenant_id = $1` as a small share) reads a big tenant's whole index: a storefront page at 1M
# assets took 121 ms generic against 0.1 ms custom (bench/data_scale.py, docs/sizing.md). Custom plans by default;
# the job workers, whose statements go by primary key and gain from generic plans, run with `auto`
# (scripts/supervisord.conf).
DB_PLAN_CACHE_MODE = env_choice(
    "DB_PLAN_CACHE_MODE", "force_custom_plan", ("auto", "force_custom_plan", "force_generic_plan")
)
_db.setdefault("OPTIONS", {})["options"] = f"-c plan_cache_mode={DB_PLAN_CACHE_MODE}"
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis and Celery -----------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
# Every key this installation keeps in Redis (the broker's queues, rate limits, quota pacing, moderation answers)
# starts with this prefix, by default the database's name: two installations on one Redis (two checkouts on one
# machine, each with its own DATABASE_URL) never take each other's tasks nor share each other's quota. (The
# broker's queues had no prefix before 2026-12-07: let a running install's queues drain before upgrading it.)
REDIS_KEY_PREFIX = env_str("REDIS_KEY_PREFIX", _db["NAME"])

CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 900, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", CELERY_TASK_TIME_LIMIT - 30, minimum=5)
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL)
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env_int("CELERY_WORKER_PREFETCH_MULTIPLIER", 1, minimum=1)
# A message not acked within the visibility timeout is redelivered; it must outlast the
# longest task, or a slow task would run twice in parallel.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_TASK_TIME_LIMIT * 2 + 60,
    "global_keyprefix": f"{REDIS_KEY_PREFIX}:",  # Redis only; another broker (RabbitMQ) is kept apart by its vhost
}
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "generation.*": {"queue": "generation"},
    "dam.renditions.*": {"queue": "renditions"},
    "dam.webhooks.*": {"queue": "webhooks"},
    # Hand-off exports are storage I/O (read, hash, copy into a zip): the default queue's thread pool, not
    # the two rendition processes, whose CPU the cuts of a running campaign need (dam.tasks.build_export).
    "dam.exports.*": {"queue": "default"},
    # Bulk operations are many short database transactions, no CPU to speak of (dam.tasks.run_bulk_operation).
    "dam.bulk.*": {"queue": "default"},
}
CELERY_TASK_ALWAYS_EAGER = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Storage --------------------------------------------------------------------------
STORAGE_BACKEND = env_choice("STORAGE_BACKEND", "local", ("local", "azure", "s3"))
MEDIA_ROOT = env_str("MEDIA_ROOT", str(VAR_DIR / "media"))
MEDIA_URL = env_str("MEDIA_URL", "/media/")
STATIC_ROOT = env_str("STATIC_ROOT", str(VAR_DIR / "static"))
STATIC_URL = "static/"

if STORAGE_BACKEND == "local":
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": MEDIA_URL},
    }
elif STORAGE_BACKEND == "azure":
    _default_storage = {
        "BACKEND": "storages.backends.azure_storage.AzureStorage",
        "OPTIONS": {
            "connection_string": env_str("AZURE_STORAGE_CONNECTION_STRING") or None,
            "account_name": env_str("AZURE_STORAGE_ACCOUNT_NAME") or None,
            "account_key": env_str("AZURE_STORAGE_ACCOUNT_KEY") or None,
            "azure_container": env_str("AZURE_STORAGE_CONTAINER", "dam-assets"),
            "expiration_secs": env_int("AZURE_STORAGE_URL_EXPIRY", 3600, minimum=1),
        },
    }
    if not (_default_storage["OPTIONS"]["connection_string"] or _default_storage["OPTIONS"]["account_name"]):
        raise ImproperlyConfigured(
            "STORAGE_BACKEND=azure needs AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT_NAME"
        )
else:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("S3_BUCKET", "dam-assets"),
            "endpoint_url": env_str("S3_ENDPOINT_URL") or None,
            "region_name": env_str("S3_REGION") or None,
            "access_key": env_str("S3_ACCESS_KEY_ID") or None,
            "secret_key": env_str("S3_SECRET_ACCESS_KEY") or None,
            "querystring_expire": env_int("S3_URL_EXPIRY", 3600, minimum=1),
            "file_overwrite": False,
        },
    }

STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Auth, REST framework -------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenants.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "tenants.api.pagination.StableCursorPagination",
    "PAGE_SIZE": env_int("API_PAGE_SIZE", 50, minimum=1),
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "UNAUTHENTICATED_USER": None,
    # Bodies with text no column can store, or nested too deep, are a 400 naming the field.
    "DEFAULT_PARSER_CLASSES": [
        "tenants.input_guard.GuardedJSONParser",
        "tenants.input_guard.GuardedFormParser",
        "tenants.input_guard.GuardedMultiPartParser",
    ],
    "EXCEPTION_HANDLER": "tenants.api.base.api_exception_handler",
    # Each operation's schema names the scope it needs (SPECTACULAR_SETTINGS below).
    "DEFAULT_SCHEMA_CLASS": "config.openapi.ScopedAutoSchema",
}
# Throttled "last used" writes: at most one UPDATE per key per interval.
API_KEY_LAST_USED_RESOLUTION_SECONDS = env_int("API_KEY_LAST_USED_RESOLUTION_SECONDS", 60, minimum=0)
# Per-process caches (API keys, storefront pages) emptied by Postgres NOTIFY when what they hold
# changes (tenants.change_feed). Off: every request reads the database. Needs LISTEN, so a
# session-mode connection: behind PgBouncer in transaction mode set CHANGE_FEED=0.
CHANGE_FEED = env_bool("CHANGE_FEED", True)
# A safety net under the change feed: a cached API key is re-read at least this often (0 = no cache).
API_KEY_CACHE_SECONDS = env_int("API_KEY_CACHE_SECONDS", 60, minimum=0)

# --- Health ---------------------------------------------------------------------------
HEALTHZ_TIMEOUT_SECONDS = env_int("HEALTHZ_TIMEOUT_SECONDS", 2, minimum=1)

# --- Foundry (image model) ---
# The platform's default deployment of GPT-image-2; the local emulator unless pointed at
# Azure. Tenants may bring their own deployment (generation.models.deployments.Deployment), which wins.
FOUNDRY_ENDPOINT = env_str("FOUNDRY_ENDPOINT", "http://127.0.0.1:8765")
FOUNDRY_DEPLOYMENT = env_str("FOUNDRY_DEPLOYMENT", "gpt-image-2")
FOUNDRY_API_STYLE = env_choice("FOUNDRY_API_STYLE", "deployments", ("deployments", "v1"))
FOUNDRY_API_VERSION = env_str("FOUNDRY_API_VERSION", "2025-04-01-preview")
FOUNDRY_AUTH = env_choice("FOUNDRY_AUTH", "api_key", ("api_key", "entra"))
# The default is the emulator's dev key; a real deployment's key must come from the environment.
FOUNDRY_API_KEY = env_str("FOUNDRY_API_KEY", "emulator-dev-key")
FOUNDRY_CONNECT_TIMEOUT_SECONDS = env_int("FOUNDRY_CONNECT_TIMEOUT_SECONDS", 10, minimum=1)
FOUNDRY_TIMEOUT_SECONDS = env_int("FOUNDRY_TIMEOUT_SECONDS", 180, minimum=1)
FOUNDRY_RPM = env_int("FOUNDRY_RPM", 60, minimum=1)
FOUNDRY_TPM = env_int("FOUNDRY_TPM", 600_000, minimum=1)
FOUNDRY_MAX_ATTEMPTS = env_int("FOUNDRY_MAX_ATTEMPTS", 4, minimum=1)
FOUNDRY_MAX_RETRY_SECONDS = env_int("FOUNDRY_MAX_RETRY_SECONDS", 300, minimum=1)
# Fernet key(s) for credentials stored in the database (tenants' Foundry api-keys); a
# comma-separated list rotates: the first encrypts, all decrypt. Empty in development means
# a key derived from SECRET_KEY; production (DEBUG off) must set it.
FIELD_ENCRYPTION_KEY = env_str("FIELD_ENCRYPTION_KEY")
if not FIELD_ENCRYPTION_KEY and not DEBUG:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is required when DEBUG is off")

# --- Generation jobs ---
# A running job holds a lease; a worker that dies stops renewing it, and once it expires the
# reconciler (worker start-up and a periodic task) puts the job back in line.
JOB_LEASE_SECONDS = env_int("JOB_LEASE_SECONDS", 600, minimum=5)
# How a worker process paces its job threads (generation.pacing): jobs between claim and quota wait,
# provider calls out (0: one per thread), answers being finished; each at most this many at once.
JOB_PREPARE_CONCURRENCY = env_int("JOB_PREPARE_CONCURRENCY", 2, minimum=0)
JOB_CALLS_IN_FLIGHT = env_int("JOB_CALLS_IN_FLIGHT", 0, minimum=0)
JOB_FINISH_CONCURRENCY = env_int("JOB_FINISH_CONCURRENCY", 4, minimum=1)
# Whole-job attempts after the client's own bounded retries gave up on a transient error.
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 3, minimum=1)
JOB_RETRY_BASE_SECONDS = env_int("JOB_RETRY_BASE_SECONDS", 10, minimum=0)
# Queued jobs untouched for this long are re-enqueued (a lost broker message never strands a job).
JOB_REQUEUE_AFTER_SECONDS = env_int("JOB_REQUEUE_AFTER_SECONDS", 300, minimum=5)
# How long a worker waits for room in the deployment's RPM/TPM windows before the job retries later.
FOUNDRY_QUOTA_WAIT_SECONDS = env_int("FOUNDRY_QUOTA_WAIT_SECONDS", 120, minimum=1)
RATE_LIMIT_KEY_PREFIX = f"{REDIS_KEY_PREFIX}:ratelimit"
FOUNDRY_QUOTA_WINDOW_SECONDS = env_int("FOUNDRY_QUOTA_WINDOW_SECONDS", 61, minimum=1)
JOB_RECONCILE_INTERVAL_SECONDS = env_int("JOB_RECONCILE_INTERVAL_SECONDS", 60, minimum=1)
# Deployment pools (generation.dispatch): the scheduler's Redis keys, and each member's circuit breaker: open
# after this many consecutive refusals before generating (401/403/404/unreachable) or this many 5xx answers
# within 30 s; one probe call after the cool-down.
DISPATCH_KEY_PREFIX = f"{REDIS_KEY_PREFIX}:dispatch"
POOL_BREAKER_FAILURES = env_int("POOL_BREAKER_FAILURES", 3, minimum=1)
POOL_BREAKER_SERVER_ERRORS = env_int("POOL_BREAKER_SERVER_ERRORS", 5, minimum=1)
POOL_BREAKER_COOLDOWN_SECONDS = env_int("POOL_BREAKER_COOLDOWN_SECONDS", 30, minimum=1)
# A member's calls go out window / rpm apart (Azure judges RPM over 1-10 s periods; docs/capacity.md "Pacing").
POOL_PACING = env_bool("POOL_PACING", True)
# A tenant's own deployments (docs/capacity.md "A tenant's own pool"): their host names must resolve to public
# addresses, when saved and at every call (SSRF, DNS rebinding). On, a name may resolve to a loopback or private
# address (development and tests run the emulator on 127.0.0.1) and is not resolved when saved; a tenant saving an
# endpoint that is an internal IP address or name (localhost, *.internal) is refused either way.
TENANT_ENDPOINTS_ALLOW_PRIVATE = env_bool("TENANT_ENDPOINTS_ALLOW_PRIVATE", DEBUG)

# --- Governance: audit trail, ledger, budgets ---
# How many reverse proxies of ours append to X-Forwarded-For: the audit trail records the address
# the outermost one saw. 0 (no proxy) records REMOTE_ADDR; never trust the header beyond our proxies.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
# Open budget holds of jobs that ended (or vanished) are settled or released once this old.
BUDGET_HOLD_RECONCILE_AFTER_SECONDS = env_int("BUDGET_HOLD_RECONCILE_AFTER_SECONDS", 120, minimum=10)
BUDGET_RECONCILE_INTERVAL_SECONDS = env_int("BUDGET_RECONCILE_INTERVAL_SECONDS", 300, minimum=10)

# --- Periodic tasks (Celery beat) ---
CELERY_BEAT_SCHEDULE = {
    # Expired job leases and queued jobs whose broker message was lost (JOB_* above).
    "reconcile-jobs": {"task": "generation.reconcile_jobs", "schedule": JOB_RECONCILE_INTERVAL_SECONDS},
    # Provider calls still `sent` whose run is over become unknown outcomes: provisional charges, before any
    # reconciliation (generation.services.reconciliation.attempts_sweep).
    "sweep-attempts": {"task": "generation.sweep_attempts", "schedule": JOB_RECONCILE_INTERVAL_SECONDS},
    # Open budget holds of jobs that ended or vanished (BUDGET_HOLD_* above).
    "reconcile-budget-holds": {
        "task": "governance.reconcile_budget_holds",
        "schedule": BUDGET_RECONCILE_INTERVAL_SECONDS,
    },
    # Webhook deliveries due for a (re)try (WEBHOOK_* below).
    "webhooks-sweep": {"task": "dam.webhooks.sweep", "schedule": 30},
    # Versions whose copy and brand checks stayed pending (a lost message): checked again.
    "checks-sweep": {"task": "dam.renditions.sweep_checks", "schedule": 300},
}

# --- Content Safety ---
# Moderation at generation time (governance.safety): `local` is the documented offline lexicon (no
# image classifier: unscanned outputs wait for review under `flagged_only`); `azure` is Azure AI
# Content Safety over httpx, or the Foundry emulator's /contentsafety endpoints (same protocol).
MODERATION_BACKEND = env_choice("MODERATION_BACKEND", "local", ("local", "azure"))
CONTENT_SAFETY_ENDPOINT = env_str("CONTENT_SAFETY_ENDPOINT", "http://127.0.0.1:8765")
# The default is the emulator's dev key; a real resource's key must come from the environment.
CONTENT_SAFETY_KEY = env_str("CONTENT_SAFETY_KEY", "emulator-dev-key")
CONTENT_SAFETY_API_VERSION = env_str("CONTENT_SAFETY_API_VERSION", "2024-09-01")
CONTENT_SAFETY_TIMEOUT_SECONDS = env_int("CONTENT_SAFETY_TIMEOUT_SECONDS", 10, minimum=1)
CONTENT_SAFETY_MAX_ATTEMPTS = env_int("CONTENT_SAFETY_MAX_ATTEMPTS", 3, minimum=1)
# Answers of a remote backend to the same text under the same safety configuration are kept in Redis this
# long (0 = off): the live plan re-checks unchanged text on every pause in typing. Errors are never kept.
MODERATION_CACHE_SECONDS = env_int("MODERATION_CACHE_SECONDS", 3600, minimum=0)
MODERATION_CACHE_KEY_PREFIX = f"{REDIS_KEY_PREFIX}:moderation"
if MODERATION_BACKEND == "azure" and not DEBUG and CONTENT_SAFETY_KEY in ("", "emulator-dev-key"):
    raise ImproperlyConfigured("MODERATION_BACKEND=azure needs CONTENT_SAFETY_KEY when DEBUG is off")

# --- Internationalisation -------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Production hardening (active when DEBUG is off) ----------------------------------
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

_LEVELS = ("debug", "info", "warning", "error")
LOG_LEVEL = env_choice("LOG_LEVEL", "info", _LEVELS).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # LOG_LEVELS=generation.services.execution=debug: one module's detail without everyone's (a Celery worker's -l
    # sets the root level only).
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        **{name: {"level": level.upper()} for name, level in env_mapping("LOG_LEVELS", _LEVELS).items()},
    },
}

# --- Storefront delivery, API schema and webhooks ---
SPECTACULAR_SETTINGS = {
    "TITLE": "DAM platform API",
    "DESCRIPTION": "Multi-tenant asset library for AI-generated brand imagery. Authenticate with "
    "`Authorization: Bearer dam_…`; each operation names the scope it needs.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's files come from the drf-spectacular-sidecar package: nothing is fetched from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name per choice set (drf-spectacular warns on collisions); nested choices by value.
    "ENUM_NAME_OVERRIDES": {
        "ImageFormatEnum": "dam.models.library.ImageFormat",
        "OutputFormatEnum": "tenants.models.brand.OutputFormat",
        "VersionStatusEnum": "dam.lifecycle.VersionStatus",
        "ReviewActionEnum": "dam.lifecycle.ReviewAction",
        "JobStateEnum": "generation.lifecycle.JobState",
        "GenerationStateEnum": "generation.lifecycle.GenerationState",
        "CampaignCellStatusEnum": "generation.models.campaigns.CellStatus",
        # Exports and bulk operations: the same states of background work.
        "BackgroundWorkStateEnum": "dam.models.bulk.BulkOperation.State",
        "WebhookEventEnum": "dam.models.webhooks.WebhookEvent",
        "TenantStatusEnum": [("active", "Active"), ("suspended", "Suspended")],
        "WebhookDeliveryStatusEnum": [
            ("pending", "Pending"),
            ("sending", "Sending"),
            ("succeeded", "Succeeded"),
            ("failed", "Failed"),
        ],
        "JobKindEnum": [("generate", "Generate"), ("edit", "Edit")],
        "LedgerEntryKindEnum": [
            ("hold", "Hold"),
            ("charge", "Charge"),
            ("release", "Release"),
            ("adjustment", "Adjustment"),
        ],
    },
}
# HMAC key of signed delivery URLs; empty derives one from SECRET_KEY (rotating SECRET_KEY then
# invalidates outstanding signed URLs, which is the intent).
DELIVERY_SIGNING_KEY = env_str("DELIVERY_SIGNING_KEY")
DELIVERY_SIGNED_URL_TTL_SECONDS = env_int("DELIVERY_SIGNED_URL_TTL_SECONDS", 3600, minimum=60)
DELIVERY_REQUIRE_SIGNED_URLS = env_bool("DELIVERY_REQUIRE_SIGNED_URLS", False)
DELIVERY_CURRENT_MAX_AGE_SECONDS = env_int("DELIVERY_CURRENT_MAX_AGE_SECONDS", 60, minimum=0)
# proxy: the web tier streams the bytes; storage: it checks access, then redirects to the storage
# backend's own short-lived signed URL (Azure SAS, S3 presigned).
DELIVERY_MODE = env_choice("DELIVERY_MODE", "proxy", ("proxy", "storage"))
# Origin that delivery URLs in API responses start with (a CDN in front of /d/); empty: this host.
DELIVERY_BASE_URL = env_str("DELIVERY_BASE_URL").rstrip("/")
# Rendered storefront list pages are reused for at most this long (per process; 0 turns it off).
# Any committed change to what a page shows drops the tenant's pages at once (dam.delivery.cache);
# the expiry bounds what no row change announces: a publish window that opens.
STOREFRONT_LIST_CACHE_SECONDS = env_int("STOREFRONT_LIST_CACHE_SECONDS", 30, minimum=0)
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 5, minimum=1)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1)
WEBHOOK_RETRY_BASE_SECONDS = env_int("WEBHOOK_RETRY_BASE_SECONDS", 30, minimum=0)
WEBHOOK_RETRY_MAX_SECONDS = env_int("WEBHOOK_RETRY_MAX_SECONDS", 6 * 3600, minimum=1)
# Receivers on loopback/private/link-local addresses (an SSRF hole in production) are refused
# unless this is on; development and tests run receivers on 127.0.0.1.
WEBHOOK_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", DEBUG)

# --- Web UI ---
# The staff UI is the Django admin with the platform's tenant-aware site (INSTALLED_APPS above).
# Front-end packages come from npm through ui/package-lock.json (`npm ci --prefix ui`), never
# copied into the repository; only their dist folders are exposed as static files.
UI_NODE_MODULES = BASE_DIR / "ui" / "node_modules"
STATICFILES_DIRS = [
    ("vendor/htmx", UI_NODE_MODULES / "htmx.org" / "dist"),
    ("vendor/chartjs", UI_NODE_MODULES / "chart.js" / "dist"),
]
# Thumbnails in the asset browser: the widths a page may ask for (each is cached once made).
UI_THUMBNAIL_WIDTHS = (160, 320, 480, 800, 1200, 1600)

# --- Asset library: uploads and renditions ---
# One uploaded file may have at most UPLOAD_MAX_BYTES (413 above) and UPLOAD_MAX_PIXELS decoded
# pixels (422 above); Pillow's own decompression-bomb limit stays on underneath either way.
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 25 * 1024 * 1024, minimum=1024)
UPLOAD_MAX_PIXELS = env_int("UPLOAD_MAX_PIXELS", 40_000_000, minimum=1)
# Hard limit of one `dam.renditions.generate_up_front` task (all presets and placements of a version).
RENDITION_TASK_TIME_LIMIT = min(env_int("RENDITION_TASK_TIME_LIMIT", 300, minimum=30), CELERY_TASK_TIME_LIMIT)

# --- Asset library: bulk operations (dam.services.bulk, docs/library.md#bulk-work-and-editing-in-the-staff-ui) ---
# A bulk action over more assets than this runs in the background as a bulk operation (202, progress on the
# row, the staff UI polls it); this many or fewer are done in the request (200 with the report). 0: always
# in the background.
BULK_INLINE_MAX = env_int("BULK_INLINE_MAX", 100, minimum=0)
# The largest selection one bulk operation takes (ids given, or everything a filter matches).
BULK_OPERATION_MAX_ASSETS = env_int("BULK_OPERATION_MAX_ASSETS", 10_000, minimum=1)

# --- Content Credentials: verification (dam.credentials.verify, docs/credentials.md) ---
# A PEM file of the CA certificates whose chains count as trusted (c2pa "Trusted"). Empty: the development CA's
# root when C2PA_DEV_CA is on and that CA exists (a local install trusts its own signatures), else nothing is
# trusted (signatures and hashes are still checked: "Valid"). Read again when the file changes; a path that does
# not exist stops the process at start-up (a typo must not silently trust nothing).
C2PA_TRUST_ANCHORS = env_str("C2PA_TRUST_ANCHORS")
if C2PA_TRUST_ANCHORS and not Path(C2PA_TRUST_ANCHORS).is_file():
    raise ImproperlyConfigured(f"C2PA_TRUST_ANCHORS={C2PA_TRUST_ANCHORS!r} is not a file")
# The public verifier (POST /api/v1/verify): requests per client address (DRF rate syntax, n/second|minute|hour|day),
# counted in Redis across web processes.
VERIFY_THROTTLE_RATE = env_str("VERIFY_THROTTLE_RATE", "30/minute").strip()
_rate_count, _, _rate_period = VERIFY_THROTTLE_RATE.partition("/")
if not (_rate_count.isascii() and _rate_count.isdigit() and _rate_period[:1] in ("s", "m", "h", "d")):
    raise ImproperlyConfigured(f"VERIFY_THROTTLE_RATE={VERIFY_THROTTLE_RATE!r} must look like 30/minute")

# --- Content Credentials (C2PA, issue 19; dam.credentials, docs/credentials.md) ---
# Every stored original, placement cut and rendition is signed with the tenant's active SigningKey, else the
# platform key: C2PA_PLATFORM_CERT_CHAIN (PEM: end-entity certificate first, then intermediates, issued by a CA,
# never self-signed) with C2PA_PLATFORM_PRIVATE_KEY (PEM), else an active platform SigningKey row
# (`manage.py create_signing_key --platform`), else, when C2PA_DEV_CA is on (default: DEBUG), a key issued on
# first use by a local development CA kept in C2PA_DEV_CA_DIR (its root is trusted by nobody but this install).
C2PA_SIGNING = env_bool("C2PA_SIGNING", True)  # off: files keep their XMP only (verification reports unsigned)
C2PA_PLATFORM_CERT_CHAIN = env_str("C2PA_PLATFORM_CERT_CHAIN")
C2PA_PLATFORM_PRIVATE_KEY = env_str("C2PA_PLATFORM_PRIVATE_KEY")
C2PA_DEV_CA = env_bool("C2PA_DEV_CA", DEBUG)
C2PA_DEV_CA_DIR = env_str("C2PA_DEV_CA_DIR", str(VAR_DIR / "c2pa"))
C2PA_DEV_CA_NAME = env_str("C2PA_DEV_CA_NAME", "DAM Development")
# claim_generator_info name of every manifest (the tenant is its organisation).
C2PA_CLAIM_GENERATOR = env_str("C2PA_CLAIM_GENERATOR", "DAM Content Credentials")

# --- Web hardening: CSP, Permissions-Policy, staff login throttling, session lifetime ---
# (OWASP ASVS level 2, Django's deployment checklist; the middleware is listed in MIDDLEWARE above.)
# Content-Security-Policy (django-csp) on every response. Scripts only from our origin or with the
# request's nonce; no inline event handlers, no eval (htmx runs with allowEval off, see base_site.html).
# Styles from our origin only: the templates carry no style attributes (dam-admin.js sets computed
# widths through the CSSOM, which CSP allows) and htmx's indicator <style> is off. Images also from
# data: (the favicon, the admin's and Swagger UI's SVG icons) and CSP_EXTRA_IMG_SRC (a CDN or storage
# origin, when thumbnails are served from one).
CSP_EXTRA_IMG_SRC = env_list("CSP_EXTRA_IMG_SRC", [])
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:", *CSP_EXTRA_IMG_SRC],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# Powerful browser features the UI never uses, off for every page (and anything framed in one).
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
        "xr-spatial-tracking",
    )
)
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Staff logins (django-axes, tenants.login_throttle): LOGIN_FAILURE_LIMIT failures of one username from
# one address lock that pair out for LOGIN_COOLOFF_MINUTES, the right password included; a success
# resets the count. Failures and lockouts are audited in the account's tenants' chains.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_COOLOFF_MINUTES = env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1)
AUTHENTICATION_BACKENDS = [
    "tenants.login_throttle.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_COOLOFF_MINUTES)  # a further attempt while locked out restarts it
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "tenants.login_throttle.client_ip"
AXES_LOCKOUT_CALLABLE = "tenants.login_throttle.lockout_response"
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_VERBOSE = False  # the audit trail and tenants.login_throttle's log say what happened

# Staff sessions end after SESSION_IDLE_TIMEOUT_MINUTES without a request, and SESSION_MAX_AGE_HOURS after
# the login whatever the activity (tenants.web_security.SessionTimeoutMiddleware); the cookie expires then too.
SESSION_IDLE_TIMEOUT_MINUTES = env_int("SESSION_IDLE_TIMEOUT_MINUTES", 30, minimum=1)
SESSION_MAX_AGE_HOURS = env_int("SESSION_MAX_AGE_HOURS", 12, minimum=1)
SESSION_COOKIE_AGE = SESSION_MAX_AGE_HOURS * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
