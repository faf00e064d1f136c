"""All of danhba's settings, read from environment variables.

SQLite in ``var/`` is the default so ``make run`` needs nothing; ``DATABASE_URL`` switches to
PostgreSQL. Nothing secret lives in the repository: without ``SECRET_KEY`` a random key is
generated once into ``var/secret_key`` and reused.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _


def envbool(name: str, default: str = "False") -> bool:
    return os.getenv(name, default).strip().lower() in {"1", "true", "yes", "on"}


def envint(name: str, default: int) -> int:
    return int(os.getenv(name, str(default)))


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


PACKAGE_DIR = Path(__file__).resolve().parent
BASE_DIR = Path(os.getenv("DANHBA_HOME", Path.cwd())).resolve()
VAR_DIR = Path(os.getenv("DANHBA_VAR_DIR", BASE_DIR / "var")).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    if key := os.getenv("SECRET_KEY"):
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = envbool("DEBUG")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")
# Set when a reverse proxy in front of danhba sets X-Forwarded-For; otherwise it is ignored.
USE_X_FORWARDED_FOR = envbool("USE_X_FORWARDED_FOR")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",
    "huey.contrib.djhuey",
    "danhba.core",
    "danhba.accounts",
    "danhba.audit",
    "danhba.contacts",
    "danhba.privacy",
    "danhba.ingest",
    "danhba.tracking",
    "danhba.orders",
    "danhba.webhooks",
    "danhba.segments",
    "danhba.messaging",
    "danhba.scoring",
    "danhba.automation",
    "danhba.sales",
    "danhba.capture",
    "danhba.quality",
    "danhba.analytics",
]

MIDDLEWARE = [
    # First: a URL over danhba's limit gets its 414 before anything else runs.
    "danhba.core.longurl.LongUrlMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "danhba.core.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "danhba.accounts.middleware.UserLanguageMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "danhba.accounts.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # A service's refusal a page did not catch answers with its own 4xx, never 500.
    "danhba.core.views.ServiceErrorMiddleware",
    # Last, so it sees a view's exception first: a busy database answers 503, never 500.
    "danhba.core.busy.BusyDatabaseMiddleware",
]

ROOT_URLCONF = "danhba.urls"
WSGI_APPLICATION = "danhba.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "analytics:home"
LOGOUT_REDIRECT_URL = "accounts:login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "danhba.accounts.context_processors.access",
                "danhba.sales.context_processors.unread",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
SQLITE_PATH = VAR_DIR / "danhba.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(
        os.getenv("DATABASE_URL", f"sqlite:///{SQLITE_PATH}"),
        # Connections are reused between requests (and jobs) for up to a minute: opening one
        # costs more than a small request (on SQLite, the PRAGMAs below run once per connection).
        # A connection that broke is replaced at the start of the next request.
        conn_max_age=envint("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web process read while the worker writes; IMMEDIATE avoids the
        # "database is locked" upgrade deadlock between two writers.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            "PRAGMA busy_timeout=10000; PRAGMA cache_size=-64000; PRAGMA temp_store=MEMORY;"
        ),
        "transaction_mode": "IMMEDIATE",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- background jobs ------------------------------------------------------------------------
REDIS_URL = os.getenv("REDIS_URL", "")
HUEY_NAME = os.getenv("HUEY_NAME", "danhba")
if REDIS_URL:
    import importlib.util

    if importlib.util.find_spec("redis") is None:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("REDIS_URL is set but redis is not installed: pip install 'danhba[redis]'.")
    HUEY = {"huey_class": "huey.PriorityRedisHuey", "name": HUEY_NAME, "url": REDIS_URL, "immediate": False}
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": HUEY_NAME,
        "filename": str(VAR_DIR / "huey.sqlite3"),
        "immediate": False,
    }
if envbool("HUEY_IMMEDIATE"):
    HUEY["immediate"] = True
# Re-deriving search keys for more contacts than this (e.g. after a company rename) is left to
# the worker instead of the request.
SEARCH_REINDEX_INLINE_MAX = envint("SEARCH_REINDEX_INLINE_MAX", 500)
# Contact exports of more rows than this are written by the worker into MEDIA_ROOT/exports/.
EXPORT_INLINE_MAX = envint("EXPORT_INLINE_MAX", 5000)
# Uploaded import files and generated exports; never served directly (views check the owner).
MEDIA_ROOT = Path(os.getenv("DANHBA_MEDIA_ROOT", VAR_DIR / "media")).resolve()
# Imports: rows per committed batch (a restarted job resumes after the last one), and how long a
# running import may go without a heartbeat before a worker takes it over.
IMPORT_BATCH_ROWS = envint("IMPORT_BATCH_ROWS", 5000)
# Batches are committed together up to this many rows, unless their transaction has held the
# database this many seconds: each commit writes every index page its rows touched, and with the
# emails' and phones' indexes that is about a page per row at a million contacts (decision 0024).
IMPORT_COMMIT_ROWS = envint("IMPORT_COMMIT_ROWS", 20000)
IMPORT_COMMIT_SECONDS = envint("IMPORT_COMMIT_SECONDS", 2)
IMPORT_STALE_SECONDS = envint("IMPORT_STALE_SECONDS", 120)
IMPORT_MAX_UPLOAD_MB = envint("IMPORT_MAX_UPLOAD_MB", 500)
IMPORT_SQLITE_CACHE_MB = envint("IMPORT_SQLITE_CACHE_MB", 384)  # page cache of the importing connection
# Files of at least this many rows are read and normalised by a second process while the first
# loads (0: never).
IMPORT_PIPELINE_MIN_ROWS = envint("IMPORT_PIPELINE_MIN_ROWS", 50000)
# An import of at least this many rows, and at least a quarter of the contacts there are, sets
# the contact list's indexes aside and builds them again at its end (decision 0009; 0: never).
IMPORT_LIST_INDEXES_ASIDE_MIN_ROWS = envint("IMPORT_LIST_INDEXES_ASIDE_MIN_ROWS", 100_000)
# Events: how long a messageId is remembered so a retry is not stored twice (Segment: 24 hours),
# how many months of partitions PostgreSQL keeps ready ahead of today, and rows per purge batch.
EVENT_DEDUPE_DAYS = envint("EVENT_DEDUPE_DAYS", 7)
# The event API stores accepted requests in the event inbox and the worker processes them
# (tracking/inbox.py); True processes them in the request instead (a site without a worker).
EVENTS_PROCESS_INLINE = envbool("EVENTS_PROCESS_INLINE")
# PostgreSQL: drainers of the event inbox per worker process (threads). The API splits each
# request by identity into this many partitions and drainer i stores partition i, so drainers
# do not wait on each other's locks (docs/decisions/0007). SQLite has one writer: always 1 there.
# `danhba serve --drainers N` sets it for the web and worker processes alike.
EVENT_DRAINERS = max(1, envint("EVENT_DRAINERS", 1))
# Segments: recompute membership inside the request instead of in the worker (sites without a
# worker; the tests), and how often segments whose conditions move with time are recomputed.
SEGMENTS_REFRESH_INLINE = envbool("SEGMENTS_REFRESH_INLINE")
# Scores computed inside the writing transaction instead of by the worker (tests, tiny sites).
SCORING_INLINE = envbool("SCORING_INLINE")
# Data quality (quality app): freshness computed inside the writing transaction instead of by
# the worker (tiny sites, some tests); months without activity before a contact is "inactive";
# how long an email domain's MX answer is cached, and the DNS timeout of one lookup.
QUALITY_INLINE = envbool("QUALITY_INLINE")
QUALITY_INACTIVE_MONTHS = envint("QUALITY_INACTIVE_MONTHS", 12)
QUALITY_MX_TTL_DAYS = envint("QUALITY_MX_TTL_DAYS", 30)
QUALITY_DNS_TIMEOUT = float(os.getenv("QUALITY_DNS_TIMEOUT", "3"))
SEGMENTS_TIME_REFRESH_MINUTES = envint("SEGMENTS_TIME_REFRESH_MINUTES", 15)
# On SQLite the event inbox is a database file of its own (the "events_inbox" alias, core/db.py),
# so accepting never waits for the worker's writes (docs/decisions/0002-event-inbox-file.md;
# EVENT_INBOX_SEPARATE=0 keeps it in the main file, as measured there).
EVENT_INBOX_PATH = Path(os.getenv("EVENT_INBOX_PATH", str(VAR_DIR / "event-inbox.sqlite3")))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" and envbool("EVENT_INBOX_SEPARATE", "1"):
    DATABASES["events_inbox"] = {
        **DATABASES["default"],
        "NAME": str(EVENT_INBOX_PATH),
        # No automatic checkpoint: the request whose commit crosses the threshold would copy the
        # write-ahead log into the file and fsync (measured: p99 of a 20 KB insert from 8 threads
        # 25-31 ms with it, 7-8 ms without). The worker checkpoints instead (inbox.py).
        "OPTIONS": {
            **DATABASES["default"]["OPTIONS"],
            "init_command": DATABASES["default"]["OPTIONS"]["init_command"] + "PRAGMA wal_autocheckpoint=0;",
        },
        # The test suite keeps one in-memory database: the inbox goes to it (core/db.py).
        "TEST": {"MIRROR": "default"},
    }
DATABASE_ROUTERS = ["danhba.core.db.Router"]
EVENT_PARTITIONS_AHEAD = envint("EVENT_PARTITIONS_AHEAD", 3)
# Events per second each source may send to /v1/* (a token bucket per write key, in each web
# process: N processes let N times as many through), with bursts of up to EVENTS_RATE_LIMIT_BURST
# events. Over it: 429 with Retry-After (the pixel drops silently). 0 turns the limit off.
EVENTS_RATE_LIMIT_PER_SECOND = envint("EVENTS_RATE_LIMIT_PER_SECOND", 25000)
EVENTS_RATE_LIMIT_BURST = envint("EVENTS_RATE_LIMIT_BURST", 50000)
EVENT_PURGE_BATCH = envint("EVENT_PURGE_BATCH", 5000)
# Outbound webhooks (webhooks app). WEBHOOKS_ALLOW_PRIVATE lets endpoints on loopback and private
# networks receive them (off by default: the server would otherwise be a proxy into its own
# network); the rest: seconds per attempt and for the "Send test" button, sends in parallel, when
# an endpoint is disabled (this many failures in a row AND no success for this many hours), days
# the delivery log is kept, and how long a process trusts its cached list of subscribed topics.
WEBHOOKS_ALLOW_PRIVATE = envbool("WEBHOOKS_ALLOW_PRIVATE")
WEBHOOKS_TIMEOUT = envint("WEBHOOKS_TIMEOUT", 10)
WEBHOOKS_TEST_TIMEOUT = envint("WEBHOOKS_TEST_TIMEOUT", 5)
WEBHOOKS_SEND_CONCURRENCY = envint("WEBHOOKS_SEND_CONCURRENCY", 8)
WEBHOOKS_DISABLE_AFTER_FAILURES = envint("WEBHOOKS_DISABLE_AFTER_FAILURES", 15)
WEBHOOKS_DISABLE_AFTER_HOURS = envint("WEBHOOKS_DISABLE_AFTER_HOURS", 24)
WEBHOOKS_RETENTION_DAYS = envint("WEBHOOKS_RETENTION_DAYS", 30)
WEBHOOKS_TOPICS_CACHE_SECONDS = envint("WEBHOOKS_TOPICS_CACHE_SECONDS", 2)

# --- email (messaging app) -------------------------------------------------------------------
# The site's public address: every link in an email (unsubscribe, preferences, tracking) is
# built from it. The default is the address `make run` serves.
_SERVED_HOST = os.getenv("HOST", "") if os.getenv("HOST", "") not in ("", "0.0.0.0", "::") else "127.0.0.1"  # noqa: S104
SITE_URL = os.getenv("SITE_URL", f"http://{_SERVED_HOST}:{os.getenv('PORT', '8000')}").rstrip("/")
# Where email goes (messaging/transport.py): smtp://user:pass@host:port (STARTTLS with ?tls=1),
# smtps://user:pass@host:port (TLS from the start), file:// (the default: each message kept as
# an .eml file in VAR_DIR/mail, or file:///folder; nothing leaves the machine until this is
# set), console:// (printed on the worker's output), or anymail://ESP for an
# email service provider through django-anymail (amazon_ses, mailgun, sendgrid, postmark, brevo,
# ...; its keys in ANYMAIL_* variables, e.g. ANYMAIL_MAILGUN_API_KEY). The ESP's tracking webhook
# (bounces, complaints, deliveries) is SITE_URL/email/esp/ESP/tracking/, authenticated as
# anymail does: ANYMAIL_WEBHOOK_SECRET="user:password" (HTTP basic auth; required for ESPs that
# do not sign) and the ESP's signing key where it signs (ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY).
EMAIL_URL = os.getenv("EMAIL_URL", "file://")
ANYMAIL = {key.removeprefix("ANYMAIL_"): value for key, value in os.environ.items() if key.startswith("ANYMAIL_")}
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 30)
# How long EMAIL_URL=file:// keeps its .eml files (the nightly job deletes older ones).
EMAIL_FILE_RETENTION_DAYS = envint("EMAIL_FILE_RETENTION_DAYS", 30)
# DKIM signing of SMTP mail when a key is given: the private key (PEM) in a file, the selector,
# and the signing domain (default: the sender address's domain).
DKIM_PRIVATE_KEY_FILE = os.getenv("DKIM_PRIVATE_KEY_FILE", "")
DKIM_SELECTOR = os.getenv("DKIM_SELECTOR", "danhba")
DKIM_DOMAIN = os.getenv("DKIM_DOMAIN", "")
# The sender of templates that name none.
DEFAULT_FROM_EMAIL = os.getenv("DEFAULT_FROM_EMAIL", "danhba@localhost")
# The bounce mailbox: messages leave with the envelope sender BOUNCE_ADDRESS's local part +
# "<send id>-<signature>" (VERP, messaging/bounces.py), so a bounce names the send it is about.
BOUNCE_ADDRESS = os.getenv("BOUNCE_ADDRESS", "")
# The mailbox BOUNCE_ADDRESS delivers to, read by `danhba bounces_fetch` (messaging/mailbox.py):
# imaps://user:pass@host/FOLDER, or imap://…?starttls=1.
BOUNCE_IMAP_URL = os.getenv("BOUNCE_IMAP_URL", "")
# An address is suppressed once this many of its messages bounced softly (mailbox full, …).
MESSAGING_SOFT_BOUNCE_LIMIT = envint("MESSAGING_SOFT_BOUNCE_LIMIT", 5)
# Sending domains (/email/domains/): the SPF mechanism of the service that sends the mail, as
# the SPF record should name it (e.g. "include:_spf.example-esp.com" or "ip4:203.0.113.5";
# empty: the domain's own "mx"), and the seconds a DNS check waits.
SENDING_SPF_INCLUDE = os.getenv("SENDING_SPF_INCLUDE", "").strip()
SENDING_DOMAIN_DNS_TIMEOUT = float(os.getenv("SENDING_DOMAIN_DNS_TIMEOUT", "5"))
# The advertising label Vietnamese rules require on promotional email (Decree 91/2020), put
# before the subject of marketing messages; transactional ones are exempt.
MESSAGING_AD_LABEL = os.getenv("MESSAGING_AD_LABEL", "[QC]")
# Who sends marketing email and where it can be written to: the footer of every marketing
# message (Decree 91/2020 asks for the sender's identity and address).
MESSAGING_SENDER_IDENTITY = os.getenv("MESSAGING_SENDER_IDENTITY", "")
MESSAGING_POSTAL_ADDRESS = os.getenv("MESSAGING_POSTAL_ADDRESS", "")
# At most this many marketing emails per contact in MESSAGING_FREQUENCY_HOURS (transactional
# email is exempt); 0 turns the cap off.
MESSAGING_FREQUENCY_CAP = envint("MESSAGING_FREQUENCY_CAP", 3)
MESSAGING_FREQUENCY_HOURS = envint("MESSAGING_FREQUENCY_HOURS", 24)
# The consent purpose a marketing recipient must have granted.
MESSAGING_CONSENT_PURPOSE = os.getenv("MESSAGING_CONSENT_PURPOSE", "email_marketing")
# The send job: SMTP connections used at once, and recipients claimed per batch.
MESSAGING_SEND_CONNECTIONS = envint("MESSAGING_SEND_CONNECTIONS", 4)
MESSAGING_SEND_BATCH = envint("MESSAGING_SEND_BATCH", 200)
# A send run that has not shown it is alive for this many seconds is presumed dead (kill -9)
# and taken over; its in-flight messages are sent again with the same Message-ID.
MESSAGING_SEND_LEASE_SECONDS = envint("MESSAGING_SEND_LEASE_SECONDS", 120)
# Where List-Unsubscribe's mailto: goes (empty: the sender's own address).
MESSAGING_UNSUBSCRIBE_MAILTO = os.getenv("MESSAGING_UNSUBSCRIBE_MAILTO", "")
# Limits of an author's Liquid template: loop iterations (nested loops multiply), output bytes,
# and seconds per render.
MESSAGING_LIQUID_MAX_LOOP = envint("MESSAGING_LIQUID_MAX_LOOP", 10_000)
MESSAGING_LIQUID_MAX_OUTPUT = envint("MESSAGING_LIQUID_MAX_OUTPUT", 1_000_000)
MESSAGING_LIQUID_TIMEOUT = float(os.getenv("MESSAGING_LIQUID_TIMEOUT", "2"))
# The link check's seconds per link, and whether it may call private and loopback addresses.
MESSAGING_LINK_TIMEOUT = envint("MESSAGING_LINK_TIMEOUT", 5)
MESSAGING_LINKS_ALLOW_PRIVATE = envbool("MESSAGING_LINKS_ALLOW_PRIVATE")
# Open and click tracking: whether a new campaign tracks (each campaign can turn it off), and
# how many seconds after a message is built an open or click is taken for a mail scanner's.
MESSAGING_TRACKING = envbool("MESSAGING_TRACKING", "True")
MESSAGING_MACHINE_SECONDS = envint("MESSAGING_MACHINE_SECONDS", 10)

# --- auth and security ----------------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SECURE_HTTPS = envbool("SECURE_HTTPS")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = SECURE_HTTPS
CSRF_COOKIE_SECURE = SECURE_HTTPS
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", 60 * 60 * 12)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy of every response (core/csp.py): script and style only from danhba's
# own static files, no inline code and no eval; images may be data: URLs (the API docs' icons).
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
if SECURE_HTTPS:
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "True")
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Failed logins per email and per IP inside the window before further attempts are refused.
LOGIN_MAX_FAILURES = envint("LOGIN_MAX_FAILURES", 5)
LOGIN_FAILURE_WINDOW = envint("LOGIN_FAILURE_WINDOW", 15 * 60)

CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "danhba_cache"}}

# --- i18n -----------------------------------------------------------------------------------
# Vietnamese unless the browser or the user asks for English (the login page and the sidebar
# switch between them).
LANGUAGE_CODE = os.getenv("LANGUAGE_CODE", "vi")
LANGUAGES = [("en", _("English")), ("vi", _("Tiếng Việt"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
# One date format per language and numbers grouped by thousands (danhba/formats/<lang>/). Numbers
# are grouped by the ``num``/``money`` filters, not USE_THOUSAND_SEPARATOR, which would also
# group the ids that templates write into links and form values.
FORMAT_MODULE_PATH = ["danhba.formats"]
TIME_ZONE = os.getenv("TIME_ZONE", "Asia/Ho_Chi_Minh")
USE_I18N = True
USE_TZ = True
# Region assumed for phone numbers typed without a country code.
DEFAULT_PHONE_REGION = os.getenv("DEFAULT_PHONE_REGION", "VN")
# The shop's currency (ISO 4217): orders without one are in it, and only money in it counts in
# purchase metrics (spend, average order value).
SHOP_CURRENCY = os.getenv("SHOP_CURRENCY", "VND").strip().upper()

# --- static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# Files browsers ask for at the site's root (/favicon.ico).
WHITENOISE_ROOT = PACKAGE_DIR / "static" / "root"

# The worker (`danhba worker`, which `danhba serve` starts; the command sets
# DANHBA_WORKER_PROCESS) logs at WORKER_LOG_LEVEL, WARNING by default: at INFO every job of every
# minute is a line. The web process logs at LOG_LEVEL.
LOG_LEVEL = (
    os.getenv("WORKER_LOG_LEVEL", "WARNING") if envbool("DANHBA_WORKER_PROCESS") else os.getenv("LOG_LEVEL", "INFO")
).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "one_line_403": {"()": "danhba.core.log.OneLineForbidden"},
        "no_4xx_twice": {"()": "danhba.core.log.SkipClientErrors"},
    },
    "formatters": {"huey": {"format": "[%(asctime)s] %(levelname)s:%(name)s:%(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "huey_console": {"class": "logging.StreamHandler", "formatter": "huey"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        # A handler of its own, so the worker (run_huey) adds none and keeps this level.
        "huey": {"handlers": ["huey_console"], "level": LOG_LEVEL, "propagate": False},
        # A 403 is one line (method, path, user, reason), not a traceback; other 4xx are in the
        # access log already.
        "django.request": {"filters": ["one_line_403", "no_4xx_twice"]},
        "django.security.csrf": {"filters": ["one_line_403"]},
    },
}
