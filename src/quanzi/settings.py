"""One settings module, configured from the environment.

Embedded default: SQLite, in-process real-time delivery, database task queue.
Set QUANZI_DATABASE_URL / QUANZI_REDIS_URL to switch to PostgreSQL / Redis.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("QUANZI_DATA_DIR", Path.cwd() / "var")).resolve()

DEBUG = env_bool("QUANZI_DEBUG", False)
TESTING = env_bool("QUANZI_TESTING", False) or "pytest" in __import__("sys").modules

_secret = os.environ.get("QUANZI_SECRET_KEY")
if not _secret:
    if not (DEBUG or TESTING):
        # A stable secret is generated once per data dir so sessions survive restarts
        # on a laptop; production deployments set QUANZI_SECRET_KEY explicitly.
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        secret_file = DATA_DIR / "secret_key"
        if not secret_file.exists():
            import secrets

            secret_file.write_text(secrets.token_urlsafe(64))
            secret_file.chmod(0o600)
        _secret = secret_file.read_text().strip()
    else:
        _secret = "insecure-dev-and-test-only-secret-key-do-not-use-in-production-0123456789"
SECRET_KEY = _secret

ALLOWED_HOSTS = env_list("QUANZI_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("QUANZI_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "ninja",  # serves /api/docs from local static files (the CDN page is blocked by our CSP)
    "allauth",
    "allauth.account",
    "django_tasks_db",
    "quanzi.core",
    "quanzi.accounts",
    "quanzi.circles",
    "quanzi.chat",
    "quanzi.ledger",
    "quanzi.payments",
    "quanzi.feed",
    "quanzi.archive",
    "quanzi.search",
    "quanzi.moderation",
    "quanzi.checkins",
    "quanzi.realtime",
    "quanzi.api",
    "quanzi.web",
]

# quanzi.core.fastlane.*: the usual middleware (subclasses), skipped for bearer-token API requests,
# which need no session, messages or static files (core/fastlane.py).
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "quanzi.core.fastlane.BearerApiMarker",
    "quanzi.core.fastlane.WhiteNoiseMiddleware",
    "quanzi.core.fastlane.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "quanzi.core.middleware.RejectNulMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",  # as is: cheap for API views (csrf_exempt); deploy checks want it
    "quanzi.core.fastlane.AuthenticationMiddleware",
    "quanzi.core.fastlane.UserPreferencesMiddleware",
    "quanzi.core.fastlane.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "quanzi.urls"
ASGI_APPLICATION = "quanzi.asgi.application"
WSGI_APPLICATION = "quanzi.wsgi.application"

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
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
            ],
        },
    }
]

# --- Database -----------------------------------------------------------------------------
DATABASE_URL = os.environ.get("QUANZI_DATABASE_URL", "")
if DATABASE_URL:
    # HTTP runs in a fixed pool of threads (core/asgi_http.py), WebSocket work on one thread and tasks
    # on the worker's, so keeping each thread's connection for a minute bounds the connections at
    # about QUANZI_HTTP_THREADS + 2 per process and saves a connect per request (~1.5 ms CPU).
    # Tests keep 0: their helper threads must not leave connections open on the test database.
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=int(os.environ.get("QUANZI_DB_CONN_MAX_AGE", "0" if TESTING else "60")),
            conn_health_checks=True,
        )
    }
    # Django's backend with a health check only after an idle moment (core/postgresql/base.py).
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["ENGINE"] = "quanzi.core.postgresql"
    # Server-side parameter binding, and statements run 5 times on a connection are prepared (parsed and
    # planned once per connection, not per request): the feed page cost 2.7 -> 2.25 ms of client CPU, a
    # check-in 1.95 -> 1.65 ms, and the database server's parse/plan time goes too. A transaction-pooling
    # proxy (PgBouncer < 1.21) can't keep prepared statements: QUANZI_DB_PREPARE_THRESHOLD=off.
    _prepare = os.environ.get("QUANZI_DB_PREPARE_THRESHOLD", "5").strip().lower()
    if _prepare not in ("off", "none", "") and not (_prepare.isdigit() and int(_prepare) > 0):
        raise ImproperlyConfigured(
            f"QUANZI_DB_PREPARE_THRESHOLD must be a positive whole number or 'off', not {_prepare!r}")
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True,
        prepare_threshold=None if _prepare in ("off", "none", "") else int(_prepare),
    )
    if TESTING:
        # Concurrent test runs on one server (several checkouts, CI) must not share a test database.
        DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "quanzi.core.sqlite3",  # Django's, converting each statement's placeholders once
            "NAME": DATA_DIR / "quanzi.sqlite3",
            # Keep the connection: reopening the file and re-running the PRAGMAs on every
            # request / WebSocket frame cost ~15% of a chat message's server time.
            "CONN_MAX_AGE": 600,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {
                # WAL + busy timeout + IMMEDIATE transactions: concurrent writers wait
                # instead of failing with "database is locked".
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # Tests use an in-memory database, as Django's default; said explicitly because
            # pytest-django recognises SQLite by Django's ENGINE name only (else it names a file).
            "TEST": {"NAME": ":memory:"},
        }
    }
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, channels, cache ---------------------------------------------------------------
REDIS_URL = os.environ.get("QUANZI_REDIS_URL", "")
HAS_REDIS = bool(REDIS_URL)
if HAS_REDIS:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": os.environ.get("QUANZI_REDIS_PREFIX", "quanzi")},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("QUANZI_REDIS_PREFIX", "quanzi"),
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Real-time fan-out: one Redis pub/sub message per event, fanned out locally per process.
REALTIME_CHANNEL = os.environ.get("QUANZI_REDIS_PREFIX", "quanzi") + ":events"
if TESTING:
    REALTIME_CHANNEL += f":{os.getpid()}"

# --- Tasks --------------------------------------------------------------------------------
TASKS = {
    "default": {
        "BACKEND": os.environ.get(
            "QUANZI_TASKS_BACKEND",
            "django.tasks.backends.immediate.ImmediateBackend" if TESTING else "django_tasks_db.DatabaseBackend",
        ),
        "QUEUES": ["default"],
    }
}

# --- Auth ---------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "home"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_RATE_LIMITS = {
    "login_failed": "5/5m/ip,5/5m/key",
    "signup": "20/h/ip",
    "reset_password": "20/m/ip,5/m/key",
}
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_USERNAME_MIN_LENGTH = 2

# Django 6.1 mailers (EMAIL_BACKEND is deprecated). SMTP options come from QUANZI_SMTP_* when that backend is chosen.
# A production site (DEBUG off, HTTPS on) sends real mail over SMTP; laptops and tests print it.
_SERVING_PRODUCTION = not DEBUG and not TESTING and env_bool("QUANZI_HTTPS", True)
_mail_backend = os.environ.get(
    "QUANZI_EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if _SERVING_PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
_mail_options: dict = {}
if _mail_backend.endswith("smtp.EmailBackend"):
    _mail_options = {
        "host": os.environ.get("QUANZI_SMTP_HOST", "localhost"),
        "port": int(os.environ.get("QUANZI_SMTP_PORT", "587")),
        "username": os.environ.get("QUANZI_SMTP_USER", ""),
        "password": os.environ.get("QUANZI_SMTP_PASSWORD", ""),
        "use_tls": env_bool("QUANZI_SMTP_TLS", True),
    }
MAILERS = {"default": {"BACKEND": _mail_backend, "OPTIONS": _mail_options}}
DEFAULT_FROM_EMAIL = os.environ.get("QUANZI_DEFAULT_FROM_EMAIL", "quanzi@localhost")

# --- i18n ---------------------------------------------------------------------------------
LANGUAGE_CODE = os.environ.get("QUANZI_LANGUAGE", "en")
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("QUANZI_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static and media ---------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = DATA_DIR / "media"
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
AVATAR_MAX_BYTES = 2 * 1024 * 1024

# Circle files and exports (quanzi.archive, docs/storage.md): the "archive" storage keeps content-addressed
# blobs and export zips, on local disk under the data directory, or in S3-compatible object storage when
# QUANZI_S3_BUCKET is set. Nothing in it has a public URL: every download goes through a permission check.
QUANZI_UPLOAD_MAX_MB = int(os.environ.get("QUANZI_UPLOAD_MAX_MB", "100"))  # global cap over Circle.upload_limit_mb
QUANZI_S3_BUCKET = os.environ.get("QUANZI_S3_BUCKET", "")
if QUANZI_S3_BUCKET:
    _archive_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": QUANZI_S3_BUCKET,
            "endpoint_url": os.environ.get("QUANZI_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("QUANZI_S3_REGION") or None,
            "access_key": os.environ.get("QUANZI_S3_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("QUANZI_S3_SECRET_ACCESS_KEY") or None,
            "location": os.environ.get("QUANZI_S3_PREFIX", "quanzi"),
            "addressing_style": os.environ.get("QUANZI_S3_ADDRESSING_STYLE") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    _archive_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        # Test runs keep their files apart (one folder per process), never in a real data directory.
        "OPTIONS": {"location": str(DATA_DIR / "archive") if not TESTING else os.path.join(
                        __import__("tempfile").gettempdir(), f"quanzi-test-archive-{os.getpid()}"),
                    "base_url": None,
                    "file_permissions_mode": 0o640, "directory_permissions_mode": 0o750},
    }
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "archive": _archive_storage,
}

# --- Security -----------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG and not TESTING and env_bool("QUANZI_HTTPS", True):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("QUANZI_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("QUANZI_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Content-Security-Policy: no inline scripts (Django 6 built-in CSP middleware).
from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
}
MIDDLEWARE.insert(1, "django.middleware.csp.ContentSecurityPolicyMiddleware")

# --- Product settings ---------------------------------------------------------------------
QUANZI_MESSAGE_MAX_LENGTH = 4000
QUANZI_EDIT_WINDOW_SECONDS = int(os.environ.get("QUANZI_EDIT_WINDOW_SECONDS", str(15 * 60)))
QUANZI_PAGE_SIZE = 50
QUANZI_DEMO_PASSWORD = os.environ.get("QUANZI_DEMO_PASSWORD", "")

# Payments (docs/money.md). The sandbox provider takes test payments with no network, so it is on by
# default only where no real money can be involved: DEBUG, tests, and plain-HTTP laptop runs (make run).
# A production site (HTTPS on) defaults to manual payments; add stripe with its secrets.
QUANZI_PAYMENT_PROVIDERS = env_list(
    "QUANZI_PAYMENT_PROVIDERS", "manual" if _SERVING_PRODUCTION else "sandbox,manual"
)
QUANZI_PLATFORM_FEE_BPS = int(os.environ.get("QUANZI_PLATFORM_FEE_BPS", "500"))  # basis points: 500 = 5%
QUANZI_STRIPE_SECRET_KEY = os.environ.get("QUANZI_STRIPE_SECRET_KEY", "")
QUANZI_STRIPE_WEBHOOK_SECRET = os.environ.get("QUANZI_STRIPE_WEBHOOK_SECRET", "")
# Absolute address of this site, for links that leave it (Stripe's return URLs).
QUANZI_SITE_URL = os.environ.get("QUANZI_SITE_URL", "http://localhost:8000")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("QUANZI_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
