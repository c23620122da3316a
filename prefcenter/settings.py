"""prefcenter settings, read from the environment (a `.env` file is read if present).

Every value has one typed helper that fails loudly on a value it cannot read, so a typo in
production stops the process at start instead of silently falling back to a default.

Read top to bottom once: Django's own groups first (paths, security, apps, templates, database,
cache, auth, i18n, static files, logging, email), then the product's domains (consent, campaigns
and sending, feedback, privacy, API, Celery with the whole beat schedule), and last the startup
check, which needs every required variable above. `.env.example` lists every variable in the
same order.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import sys
from pathlib import Path
from urllib.parse import urlparse

import csp.constants as _csp_constants
import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.templatetags.static import static
from django.utils.translation import gettext_lazy as _
from dotenv import load_dotenv

from .brand import InvalidColor, brand_palette
from .esps import ESP_NAMES, SIGNING_KEYS, default_esp_webhooks

# --- Paths and environment helpers --------------------------------------------------------------
BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(BASE_DIR / ".env")


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None or value == "":
        if default is None:
            raise ImproperlyConfigured(f"The environment variable {name} must be set.")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true or false).")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number.") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_origins(name: str) -> list[str]:
    """Origins (`https://app.example.com`, a port when not the default), normalised as browsers
    send them in a frame-ancestors check or an Origin header: scheme and host lowercased."""
    origins = []
    for item in env_list(name, []):
        parsed = urlparse(item)
        try:
            port = parsed.port
        except ValueError:
            port = -1
        if (
            parsed.scheme not in {"http", "https"}
            or not parsed.hostname
            or parsed.path not in {"", "/"}
            or parsed.query
            or parsed.fragment
            or "@" in parsed.netloc
            or port == -1
        ):
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not an origin like https://app.example.com "
                "(scheme, host and port only)."
            )
        default_port = {"http": 80, "https": 443}[parsed.scheme]
        host = parsed.netloc.lower().rsplit(":", 1)[0] if port is not None else parsed.netloc
        origin = f"{parsed.scheme}://{host.lower()}"
        origins.append(origin if port in (None, default_port) else f"{origin}:{port}")
    return origins


DEBUG = env_bool("DEBUG", False)

# Variables production must set. With DEBUG off each missing one is collected here, and the
# process refuses to start at the end of this module naming them all at once (one restart to
# fix a deployment, not one per variable).
MISSING_REQUIRED_SETTINGS: list[str] = []


def env_required(name: str, dev_default: str) -> str:
    """A variable production must set: `dev_default` under DEBUG, else collected when unset."""
    value = os.environ.get(name)
    if value:
        return value
    if DEBUG:
        return dev_default
    MISSING_REQUIRED_SETTINGS.append(name)
    return ""


# SQLite, the filesystem broker, the outbox, beat's state and static files live here by default.
VAR_DIR = Path(env_str("PREFCENTER_VAR_DIR", str(BASE_DIR / "var")))

# --- Security and hosts -------------------------------------------------------------------------
# Development values exist only when DEBUG is on; production must set its own.
_DEV_SECRET = "dev-only-insecure-secret-key-change-me-0123456789abcdefghijklmnop"  # noqa: S105 (DEBUG only)
SECRET_KEY = env_required("SECRET_KEY", _DEV_SECRET)
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])

SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
_site = urlparse(SITE_URL)
if _site.scheme not in {"http", "https"} or not _site.netloc:
    raise ImproperlyConfigured(f"SITE_URL={SITE_URL!r} must be an absolute http(s) URL.")
if _site.hostname and _site.hostname not in ALLOWED_HOSTS and "*" not in ALLOWED_HOSTS:
    ALLOWED_HOSTS.append(_site.hostname)
CSRF_TRUSTED_ORIGINS = [f"{_site.scheme}://{_site.netloc}"]

# HTTPS-only settings follow the scheme of SITE_URL.
_HTTPS = _site.scheme == "https"
SESSION_COOKIE_SECURE = _HTTPS
CSRF_COOKIE_SECURE = _HTTPS
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _HTTPS)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if _HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _HTTPS
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if _HTTPS else None
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# A styled page, in the visitor's language, when a form's CSRF check fails.
CSRF_FAILURE_VIEW = "subscriptions.views.pages.csrf_failure"
# HSTS preloading is a commitment the operator makes by submitting the domain to the browsers'
# preload list (hstspreload.org); it stays off unless SECURE_HSTS_PRELOAD=true, so Django's
# reminder about it (security.W021) is silenced instead of answered by a default nobody chose.
SILENCED_SYSTEM_CHECKS = env_list(
    "SILENCED_SYSTEM_CHECKS", [] if SECURE_HSTS_PRELOAD else ["security.W021"]
)

# Proxies (addresses or networks) whose X-Forwarded-For names the client: only a request whose
# peer is one of them has its client IP read from that header (subscriptions.ratelimit.client_ip).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES: {_proxy!r} is not an IP address or network."
        ) from None
# Largest request body read into memory (webhook JSON, API bodies): larger gets a 400.
# ESP batches (SendGrid posts up to ~1,000 events) stay well below 5 MB.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024)

# A strict Content-Security-Policy on every page, the admin and the API docs (django-csp): only
# our own origin, no inline script or style without the per-request nonce, never framed (a later
# issue opens frame-ancestors for embedding). Views that show an email's own HTML in a sandboxed
# iframe (admin preview, dev outbox) relax style-src and img-src for that response only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", _csp_constants.NONCE],
        "style-src": ["'self'", _csp_constants.NONCE],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        # Redoc renders its search index in a web worker built from a blob.
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# For a response that shows an email's own HTML (inline styles, remote images) in an iframe
# sandboxed without scripts: see subscriptions.views.outbox and the admin campaign preview.
CSP_EMAIL_PREVIEW = {
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:", "https:"],
}
# The staff console (django-unfold under /admin/) runs Alpine.js, whose build evaluates its x-*
# attributes with the Function constructor, and writes the brand palette in an inline <style>:
# its responses alone allow eval and inline styles (prefcenter.middleware.ConsolePolicyMiddleware).
# An inline <script> still needs the nonce, and the console's logo may come from anywhere https.
CSP_CONSOLE = {
    "script-src": ["'self'", _csp_constants.NONCE, "'unsafe-eval'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:", "https:"],
}

# --- Applications and middleware ----------------------------------------------------------------
INSTALLED_APPS = [
    # The staff console: a themed admin (before django.contrib.admin so its templates win).
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "anymail",
    # The campaign body's rich-text editor (its JS and CSS as static files).
    "django_prose_editor",
    "subscriptions",
    # The API docs pages' assets, served from local files: no CDN.
    "drf_spectacular_sidecar",
]

MIDDLEWARE = [
    # Health probes come from load balancers addressing this host by IP: answered before the
    # Host header is checked (prefcenter/middleware.py).
    "prefcenter.middleware.HealthProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # After CSPMiddleware, so it marks a console response before the policy header is written.
    "prefcenter.middleware.ConsolePolicyMiddleware",
    # Static files (admin CSS, page assets) are served by the app itself, so the same gunicorn
    # process works behind any proxy or none.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # An unreachable database answers 503 with Retry-After, never a bare 500.
    "prefcenter.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "prefcenter.urls"
WSGI_APPLICATION = "prefcenter.wsgi.application"

# --- Templates ----------------------------------------------------------------------------------
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
                "subscriptions.context_processors.branding",
                "csp.context_processors.nonce",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'prefcenter.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Under `make run` web, worker and beat share one SQLite file: write-ahead logging lets
    # readers work during a write, and writers queue for the lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
# Migrations run as the owner role of DATABASE_MIGRATE_URL (the same database, another role);
# the app runs as DATABASE_URL's role, to which `migrate` grants only what the app needs (no
# DELETE, UPDATE or TRUNCATE of the consent ledger): subscriptions/management/database_roles.py.
_MIGRATE_URL = env_str("DATABASE_MIGRATE_URL", "")
DATABASE_MIGRATE = (
    {
        key: value
        for key, value in dj_database_url.parse(_MIGRATE_URL).items()
        if key in {"USER", "PASSWORD", "HOST", "PORT"}
    }
    if _MIGRATE_URL
    else None
)
# The role `migrate` grants the app's privileges to (when it is not the owner itself).
DATABASE_APP_ROLE = DATABASES["default"].get("USER") or ""
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (and the rate-limit counters kept in it) ---------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "prefcenter",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Authentication -----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/admin/login/"
# Failed admin sign-ins allowed per client IP and per username, before the login page answers
# 429 without trying the password ("5/15m": five per fifteen minutes).
ADMIN_LOGIN_RATE_LIMIT_IP = env_str("ADMIN_LOGIN_RATE_LIMIT_IP", "20/15m")
ADMIN_LOGIN_RATE_LIMIT_USERNAME = env_str("ADMIN_LOGIN_RATE_LIMIT_USERNAME", "5/15m")

# --- Internationalization -----------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("da", _("Danish"))]
# One catalog per language; the compiled .mo files are committed beside their .po.
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------------------------
# In DEBUG WhiteNoise serves them straight from the apps' static folders; in production from
# STATIC_ROOT, filled by `collectstatic` (the image runs it at build time).
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
try:
    # WhiteNoise warns on every start when the folder is missing (e.g. before collectstatic).
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
except OSError:
    pass

# --- Logging ------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # Link tokens and ?email= values never reach a log line ("Not Found: /unsubscribe/…").
    "filters": {"redact": {"()": "prefcenter.log_redaction.RedactFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Email: two streams, each with its own transport and sender ---------------------------------
OUTBOX_DIR = VAR_DIR / "outbox"
OUTBOX_BACKEND = "subscriptions.mail.outbox.OutboxBackend"


def env_email_backend(name: str, default: str) -> str:
    # The outbox lived at subscriptions.outbox before the domain packages; .env files naming it
    # keep working.
    value = env_str(name, default)
    return OUTBOX_BACKEND if value == "subscriptions.outbox.OutboxBackend" else value


EMAIL_BACKEND = env_email_backend("EMAIL_BACKEND", OUTBOX_BACKEND)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
MARKETING_EMAIL_BACKEND = env_email_backend("MARKETING_EMAIL_BACKEND", EMAIL_BACKEND)
TRANSACTIONAL_EMAIL_BACKEND = env_email_backend("TRANSACTIONAL_EMAIL_BACKEND", EMAIL_BACKEND)
MARKETING_FROM_EMAIL = env_str("MARKETING_FROM_EMAIL", "Example News <news@example.com>")
TRANSACTIONAL_FROM_EMAIL = env_str("TRANSACTIONAL_FROM_EMAIL", "Example <no-reply@example.com>")
DEFAULT_FROM_EMAIL = TRANSACTIONAL_FROM_EMAIL
SERVER_EMAIL = TRANSACTIONAL_FROM_EMAIL
# The From addresses a campaign may use: addresses, or "@domain" for any address there.
ALLOWED_FROM_EMAILS = env_list("ALLOWED_FROM_EMAILS", [MARKETING_FROM_EMAIL, DEFAULT_FROM_EMAIL])
# Required by CAN-SPAM and the mailbox providers: printed in every marketing footer.
POSTAL_ADDRESS = env_required("POSTAL_ADDRESS", "Example Inc., 1 Example Street, 1000 Example City")
ORGANIZATION_NAME = env_str("ORGANIZATION_NAME", "Example Inc")
# Optional mailto: target added after the https one in List-Unsubscribe.
LIST_UNSUBSCRIBE_MAILTO = env_str("LIST_UNSUBSCRIBE_MAILTO", "")
LIST_ID_DOMAIN = env_str("LIST_ID_DOMAIN", _site.hostname or "prefcenter.local")

# Every ANYMAIL_<NAME> variable becomes ANYMAIL["<NAME>"]: the ESPs' credentials and signing
# keys are named as in Anymail's docs, one family read by its prefix.
ANYMAIL = {
    key.removeprefix("ANYMAIL_"): value
    for key, value in os.environ.items()
    if key.startswith("ANYMAIL_") and value
}
if "WEBHOOK_SECRET" not in ANYMAIL:
    _webhook_secret = env_required("ANYMAIL_WEBHOOK_SECRET", "dev:webhook-secret")
    if _webhook_secret:
        ANYMAIL["WEBHOOK_SECRET"] = _webhook_secret

# --- The staff console (django-unfold over the admin) ----------------------------------------------
# Optional logo shown in the console's sidebar and sign-in page (an https or /static/ URL).
CONSOLE_LOGO_URL = env_str("CONSOLE_LOGO_URL", "")
# The console's brand colour; its shades are derived so any colour keeps AA text contrast.
BRAND_COLOR = env_str("BRAND_COLOR", "#1d4ed8")
try:
    _brand_palette = brand_palette(BRAND_COLOR)
except InvalidColor as exc:
    raise ImproperlyConfigured(f"BRAND_COLOR: {exc}") from None
UNFOLD = {
    "SITE_TITLE": ORGANIZATION_NAME,
    "SITE_HEADER": ORGANIZATION_NAME,
    "SITE_SUBHEADER": _("Preference center"),
    "SITE_SYMBOL": "mark_email_read",
    "SITE_LOGO": CONSOLE_LOGO_URL or None,
    "SITE_URL": "/",
    "SHOW_VIEW_ON_SITE": False,
    "DASHBOARD_CALLBACK": "subscriptions.admin.dashboard.dashboard_callback",
    "STYLES": [lambda request: static("subscriptions/console.css")],
    "SCRIPTS": [lambda request: static("subscriptions/console.js")],
    "COLORS": {"primary": _brand_palette},
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        "navigation": "prefcenter.console.sidebar_navigation",
    },
}

# --- Consent and tokens -------------------------------------------------------------------------
# The keyed hash of suppressed addresses must survive SECRET_KEY rotation, so it has its own key.
SUPPRESSION_HASH_KEY = env_required("SUPPRESSION_HASH_KEY", "dev-only-suppression-hash-key")
MINIMUM_AGE = env_int("MINIMUM_AGE", 16)
# Per-country overrides of the minimum age (GDPR art. 8 lets states choose 13-16): "DK:13,DE:16".
MINIMUM_AGE_BY_COUNTRY = {
    code.strip().upper(): int(age)
    for code, _sep, age in (item.partition(":") for item in env_list("MINIMUM_AGE_BY_COUNTRY", []))
}
# Whether the subscribe form requires ticking "I am at least MINIMUM_AGE years old".
SUBSCRIBE_REQUIRE_AGE_CONFIRMATION = env_bool("SUBSCRIBE_REQUIRE_AGE_CONFIRMATION", False)
POLICY_VERSION = env_str("POLICY_VERSION", "1")
CONFIRMATION_MAX_AGE_HOURS = env_int("CONFIRMATION_MAX_AGE_HOURS", 72)
# A preference link older than this may have been forwarded: joining a topic from it is
# confirmed by email first.
PREFERENCE_LINK_JOIN_MAX_AGE_DAYS = env_int("PREFERENCE_LINK_JOIN_MAX_AGE_DAYS", 30)
# The host product's origins: where a preference link made through the API may send the person
# back (its return_url) and which pages may frame the embedded preference page.
PREFERENCE_LINK_ORIGINS = env_origins("PREFERENCE_LINK_ORIGINS")
# Life of a preference link the host product asks for (mailed links never expire).
PREFERENCE_LINK_MAX_AGE_HOURS = env_int("PREFERENCE_LINK_MAX_AGE_HOURS", 24)
SUBSCRIBE_RATE_LIMIT = env_str("SUBSCRIBE_RATE_LIMIT", "10/h")
PREFERENCE_LINK_RATE_LIMIT_IP = env_str("PREFERENCE_LINK_RATE_LIMIT_IP", "10/h")
PREFERENCE_LINK_RATE_LIMIT_EMAIL = env_str("PREFERENCE_LINK_RATE_LIMIT_EMAIL", "3/h")
# Confirmation emails per canonical address, whoever asks and from wherever: over the limit
# the request is answered the same and no mail is sent.
CONFIRMATION_RATE_LIMIT_EMAIL = env_str("CONFIRMATION_RATE_LIMIT_EMAIL", "3/h")
# Minutes between ledger checkpoints: beat seals the rows written since the last one
# (verify_ledger checks the seals).
LEDGER_CHECKPOINT_MINUTES = env_int("LEDGER_CHECKPOINT_MINUTES", 10)

# --- Campaigns and sending ----------------------------------------------------------------------
SEND_BATCH_SIZE = env_int("SEND_BATCH_SIZE", 500)
# Connections each batch sends over at once when the backend takes one message per call
# (SMTP, most ESP APIs): their round trips overlap. Postmark's batch API needs only one.
SEND_CONNECTIONS = env_int("SEND_CONNECTIONS", 4)
# Database connections that build a large audience at once (PostgreSQL; 1 = one statement).
AUDIENCE_BUILD_CONNECTIONS = env_int("AUDIENCE_BUILD_CONNECTIONS", 2)
# Messages per second per backend, across all workers (0: unlimited).
MARKETING_SEND_RATE = env_float("MARKETING_SEND_RATE", 0)
# Seconds between marketability re-checks while a batch is being sent (rule 1 wants <= 5).
SEND_RECHECK_SECONDS = env_float("SEND_RECHECK_SECONDS", 1.0)
# Batch senders queued per campaign start/resume (more workers: raise it).
SEND_FANOUT = env_int("SEND_FANOUT", 4)
# Batches one worker process sends at once through a batch API (Postmark), on threads: one
# batch's database and ESP waits overlap another's rendering.
SEND_LOOPS = env_int("SEND_LOOPS", 2)


def env_contact_cap(name: str) -> tuple[int, datetime.timedelta] | None:
    """`<count>/<n>d` or `<count>/<n>h` (e.g. `3/7d`): at most count campaigns per rolling
    window; None when unset or empty (no cap)."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    match = re.fullmatch(r"([1-9][0-9]*)/([1-9][0-9]*)([dh])", value)
    if not match:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a cap: use <count>/<days>d or <count>/<hours>h, e.g. 3/7d."
        )
    count, length, unit = int(match[1]), int(match[2]), match[3]
    window = datetime.timedelta(days=length) if unit == "d" else datetime.timedelta(hours=length)
    return count, window


# Campaigns of any topic one contact may be sent per rolling window, (count, window); None: off.
# Kept at claim time like a topic's frequency (skip reason contact_cap).
MARKETING_MAX_PER_CONTACT = env_contact_cap("MARKETING_MAX_PER_CONTACT")
# Batches one task sends before it re-queues itself (keeps tasks short and fair).
SEND_MAX_BATCHES_PER_TASK = env_int("SEND_MAX_BATCHES_PER_TASK", 20)
# A claim without a lease (made before leases existed) older than this lost its worker
# (campaigns.claims.claims_recover; leased claims are recovered when their lease lapses).
STALE_CLAIM_SECONDS = env_int("STALE_CLAIM_SECONDS", 900)
# A sending campaign with pending work and no claim for this long gets fresh batch senders.
SEND_STALLED_SECONDS = env_int("SEND_STALLED_SECONDS", 120)

# --- Feedback: ESP webhooks, bounces and complaints ---------------------------------------------
# The ESPs (Anymail names) whose tracking webhooks are mounted at /anymail/<esp>/tracking/; every
# other /anymail/ URL answers 404. Default: the ESPs of the configured email backends.
ESP_WEBHOOKS = env_list(
    "ESP_WEBHOOKS",
    default_esp_webhooks([EMAIL_BACKEND, MARKETING_EMAIL_BACKEND, TRANSACTIONAL_EMAIL_BACKEND]),
)
_unknown_esps = sorted(set(ESP_WEBHOOKS) - ESP_NAMES)
if _unknown_esps:
    raise ImproperlyConfigured(
        f"ESP_WEBHOOKS names unknown ESPs {', '.join(_unknown_esps)}; "
        f"known: {', '.join(sorted(ESP_NAMES))}."
    )
# An ESP that signs its webhooks is mounted only with its key: without it every call would be
# refused (or, in Anymail, answered 500), so production refuses to start instead.
for _esp in ESP_WEBHOOKS:
    _key = SIGNING_KEYS[_esp]
    if _key and not ANYMAIL.get(_key.removeprefix("ANYMAIL_")) and not DEBUG:
        MISSING_REQUIRED_SETTINGS.append(_key)
# Where Amazon SNS certificates may be fetched from (the SigningCertURL of an SES webhook).
SNS_CERTIFICATE_HOST_PATTERN = r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$"
# The SNS topics (ARNs) SES notifications may come from; empty: any topic. Anyone with an AWS
# account gets genuine SNS signatures on their own topics, so naming yours closes that door.
SES_SNS_TOPIC_ARNS = env_list("SES_SNS_TOPIC_ARNS", [])
# Soft bounces (temporary failures) of one address within the window that suppress it for all mail.
SOFT_BOUNCE_LIMIT = env_int("SOFT_BOUNCE_LIMIT", 3)
SOFT_BOUNCE_WINDOW_DAYS = env_int("SOFT_BOUNCE_WINDOW_DAYS", 30)
# Complaint rate (complaints / messages sent) of a campaign: warn at 0.1%, pause the sending
# campaign above 0.3% — the thresholds mailbox providers (Gmail, Yahoo) hold bulk senders to.
COMPLAINT_RATE_WARN = env_float("COMPLAINT_RATE_WARN", 0.001)
COMPLAINT_RATE_PAUSE = env_float("COMPLAINT_RATE_PAUSE", 0.003)

# --- Outbound webhooks (integrations.webhooks) ---------------------------------------------------
# Let endpoints on loopback, private, link-local or reserved addresses be created and reached
# (a lab or an internal CRM); off, both refuse them, whatever a hostname resolves to.
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env_bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", False)
# The first retry's delay; each next waits three times longer (with jitter, at most 6 hours),
# until the event's 24 hours are up.
WEBHOOK_RETRY_BASE_SECONDS = env_float("WEBHOOK_RETRY_BASE_SECONDS", 5.0)

# --- Privacy and retention ----------------------------------------------------------------------
# Every period is a whole number of days (or minutes) so each promise a privacy policy makes can
# be kept by configuration.
# How long the emailed "download my data" / "erase my data" link works (single use).
PRIVACY_LINK_MAX_AGE_MINUTES = env_int("PRIVACY_LINK_MAX_AGE_MINUTES", 60)
# At most this many verification emails per contact per hour (protects the inbox from abuse).
PRIVACY_REQUESTS_PER_HOUR = env_int("PRIVACY_REQUESTS_PER_HOUR", 5)
# Contacts who never confirmed their double opt-in are erased (without suppression) after this.
RETENTION_PENDING_DAYS = env_int("RETENTION_PENDING_DAYS", 7)
# Implied consent (soft opt-in) lapses this long after the last purchase / inquiry (CASL: 2
# years and 6 months).
RETENTION_IMPLIED_PURCHASE_DAYS = env_int("RETENTION_IMPLIED_PURCHASE_DAYS", 730)
RETENTION_IMPLIED_INQUIRY_DAYS = env_int("RETENTION_IMPLIED_INQUIRY_DAYS", 183)
# IP addresses and user agents in the consent ledger are blanked after this.
RETENTION_LEDGER_NETWORK_DAYS = env_int("RETENTION_LEDGER_NETWORK_DAYS", 30)
# Finished delivery rows older than this are folded into per-campaign counts and deleted.
RETENTION_DELIVERY_DAYS = env_int("RETENTION_DELIVERY_DAYS", 365)
RETENTION_BATCH_SIZE = env_int("RETENTION_BATCH_SIZE", 10_000)
# Hour (UTC) at which the daily retention job runs.
RETENTION_HOUR = env_int("RETENTION_HOUR", 3)
# A material policy change must be announced at least this long before it takes effect.
POLICY_NOTICE_MIN_DAYS = env_int("POLICY_NOTICE_MIN_DAYS", 30)
POLICY_NOTICE_CHUNK_SIZE = env_int("POLICY_NOTICE_CHUNK_SIZE", 1000)

# --- API ----------------------------------------------------------------------------------------
# Requests per minute per API key.
API_RATE_LIMIT = env_int("API_RATE_LIMIT", 6000)
# The API's views set their own authentication, throttle, parsers and error handler
# (subscriptions/api/views.py); these settings shape only the OpenAPI schema and its docs pages,
# which are served from local files (drf-spectacular-sidecar), no CDN.
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "prefcenter API",
    "DESCRIPTION": "Read and change contacts' communication preferences, consent and campaigns.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SCHEMA_PATH_PREFIX_TRIM": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "ENUM_NAME_OVERRIDES": {
        "SubscriptionStatusEnum": "subscriptions.models.choices.SubscriptionStatus",
        "SubscriptionChangeEnum": ["subscribed", "unsubscribed"],
        "CampaignStatusEnum": "subscriptions.models.choices.CampaignStatus",
        "SuppressionReasonEnum": "subscriptions.models.choices.SuppressionReason",
        "SuppressionScopeEnum": "subscriptions.models.choices.SuppressionScope",
        "FrequencyEnum": "subscriptions.models.choices.Frequency",
        "LegalBasisEnum": "subscriptions.models.choices.LegalBasis",
        "ImpliedByEnum": "subscriptions.api.serializers.IMPLIED_BY_CHOICES",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "subscriptions.api.schema.forbid_unknown_fields",
    ],
}

# --- Celery: broker, workers and the whole beat schedule ----------------------------------------
# Queues and routes are the Celery app's (prefcenter/celery.py); every CELERY_* here is its config.
_CELERY_FS = VAR_DIR / "celery"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (_CELERY_FS / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_CELERY_FS / "queue"),
        "data_folder_out": str(_CELERY_FS / "queue"),
        "processed_folder": str(_CELERY_FS / "processed"),
        # kombu's default is ./control, which would litter the working directory.
        "control_folder": str(_CELERY_FS / "control"),
        "store_processed": False,
    }
else:
    # A dead broker fails a publish within seconds instead of hanging a web request.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 3}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "marketing"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE

# `celery beat` keeps its schedule state here (one file, one beat process per deployment).
CELERY_BEAT_SCHEDULE_FILENAME = env_str(
    "CELERY_BEAT_SCHEDULE_FILENAME", str(VAR_DIR / "celerybeat-schedule")
)
# Seconds between the recovery sweeps: due campaigns, stale claims and lost transactional tasks.
_BEAT_SWEEP_SECONDS = env_float("CELERY_BEAT_SCHEDULE_SECONDS", 60.0)
# Entry and task names are stored in beat's state file and in queued messages: never rename them.
CELERY_BEAT_SCHEDULE = {
    "sweep-campaigns": {
        "task": "subscriptions.tasks.marketing.sweep_campaigns",
        "schedule": _BEAT_SWEEP_SECONDS,
    },
    "requeue-transactional": {
        "task": "subscriptions.tasks.transactional.requeue_transactional",
        "schedule": _BEAT_SWEEP_SECONDS,
    },
    "ledger-checkpoint": {
        "task": "subscriptions.tasks.ledger.checkpoint_ledger",
        "schedule": LEDGER_CHECKPOINT_MINUTES * 60,
    },
    "deliver-webhooks": {
        "task": "subscriptions.tasks.webhooks.sweep_webhooks",
        "schedule": _BEAT_SWEEP_SECONDS,
    },
    "privacy-apply-retention": {
        "task": "subscriptions.tasks.retention.apply_retention",
        "schedule": crontab(minute=17, hour=RETENTION_HOUR),
    },
}

# --- Startup check (keep last: every required variable above is known by now) ------------------
# `manage.py doctor` is exempt by name: it is the command that reports what is missing.
STARTUP_CHECK_EXEMPT_COMMANDS = frozenset({"doctor"})
_command = sys.argv[1] if len(sys.argv) > 1 and Path(sys.argv[0]).name == "manage.py" else None
if MISSING_REQUIRED_SETTINGS and _command not in STARTUP_CHECK_EXEMPT_COMMANDS:
    raise ImproperlyConfigured(
        "With DEBUG off, prefcenter refuses to start without these environment variables: "
        + ", ".join(dict.fromkeys(MISSING_REQUIRED_SETTINGS))
        + " (see .env.example; DEBUG=true gives development values)."
    )
