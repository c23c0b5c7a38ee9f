"""Settings for twofa_site.

Every environment variable the site uses is read here, through django-environ, and nowhere
else. Values come from the process environment first and then from a `.env` file in the
project folder (`make run` writes one for development). The app's own settings are checked
at start-up by the system checks in `accounts/checks.py`.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
ENV_FILE = env.str("DJANGO_ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    environ.Env.read_env(ENV_FILE)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment or in .env "
            "(for example: python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    # Development only: a fresh key per start, so sessions end on restart (accounts.W001).
    SECRET_KEY = get_random_secret_key()
    SECRET_KEY_IS_EPHEMERAL = True
else:
    SECRET_KEY_IS_EPHEMERAL = False

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "accounts",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "csp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.SessionTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "twofa_site.urls"
WSGI_APPLICATION = "twofa_site.wsgi.application"

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
                "accounts.context_processors.site",
            ],
        },
    },
]

# SQLite is tuned for a multi-threaded, multi-process web server: WAL lets readers run beside
# the writer, the busy timeout waits for the lock instead of failing, and IMMEDIATE takes the
# write lock at BEGIN, so no transaction fails half-way when it upgrades a read lock.
SQLITE_OPTIONS = {
    "timeout": 20,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(SQLITE_OPTIONS)
else:
    # Persistent connections (one per server thread) save a network connect per request. For
    # SQLite the bench showed no gain (a local file opens fast), so it keeps Django's default.
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Security headers. Pages need no inline script or style, so the policy allows neither.
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}

# HTTPS: on by default whenever DEBUG is off. HTTPS=false is for plain-HTTP test servers on
# loopback only. Behind a TLS-terminating proxy, set SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto.
HTTPS = env.bool("HTTPS", default=not DEBUG)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
_proxy_header = env.str("SECURE_PROXY_SSL_HEADER", default="")
if _proxy_header:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https")

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Email, for password resets and security notices. EMAIL_URL is a django-environ email URL,
# e.g. smtp+tls://user:password@smtp.example.com:587. Without it nothing is mailed (a system
# check warns), except in development, where mail is printed to the console.
vars().update(env.email_url("EMAIL_URL", default="consolemail://" if DEBUG else "dummymail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="webmaster@localhost")

# The site's name appears in the SMS text and on the pages.
SITE_NAME = env.str("SITE_NAME", default="twofa_site")

# SMS delivery: a dotted path to a backend class, as EMAIL_BACKEND is for mail.
SMS_BACKEND = env.str(
    "SMS_BACKEND",
    default=(
        "accounts.sms.backends.console.SmsBackend"
        if DEBUG
        else "accounts.sms.backends.sipgate.SmsBackend"
    ),
)
SIPGATE_TOKEN_ID = env.str("SIPGATE_TOKEN_ID", default="")
SIPGATE_TOKEN = env.str("SIPGATE_TOKEN", default="")
SIPGATE_SMS_ID = env.str("SIPGATE_SMS_ID", default="s0")
SIPGATE_API_URL = env.str("SIPGATE_API_URL", default="https://api.sipgate.com/v2")
SIPGATE_CONNECT_TIMEOUT = env.float("SIPGATE_CONNECT_TIMEOUT", default=3.05)
# A request thread waits this long at most, so an outage cannot tie up the server's threads.
SIPGATE_READ_TIMEOUT = env.float("SIPGATE_READ_TIMEOUT", default=5.0)

# Login codes and pending logins; accounts/conf.py holds the defaults and checks the ranges.
LOGIN_CODE_TTL = env.int("LOGIN_CODE_TTL", default=300)
LOGIN_CODE_LENGTH = env.int("LOGIN_CODE_LENGTH", default=6)
LOGIN_CODE_MAX_ATTEMPTS = env.int("LOGIN_CODE_MAX_ATTEMPTS", default=3)
LOGIN_CODE_RESEND_COOLDOWN = env.int("LOGIN_CODE_RESEND_COOLDOWN", default=60)
LOGIN_CODE_MAX_SENDS = env.int("LOGIN_CODE_MAX_SENDS", default=3)
PENDING_LOGIN_TTL = env.int("PENDING_LOGIN_TTL", default=600)
PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="DE")

# Abuse limits (accounts/conf.py documents them; the README lists them).
LOGIN_LOCK_THRESHOLD = env.int("LOGIN_LOCK_THRESHOLD", default=10)
LOGIN_LOCK_BASE = env.int("LOGIN_LOCK_BASE", default=900)
LOGIN_LOCK_MAX = env.int("LOGIN_LOCK_MAX", default=86400)
PASSWORD_THROTTLE_THRESHOLD = env.int("PASSWORD_THROTTLE_THRESHOLD", default=5)
PASSWORD_THROTTLE_BASE = env.int("PASSWORD_THROTTLE_BASE", default=30)
PASSWORD_THROTTLE_MAX = env.int("PASSWORD_THROTTLE_MAX", default=900)
PASSWORD_THROTTLE_RESET = env.int("PASSWORD_THROTTLE_RESET", default=86400)
IP_PASSWORD_LIMIT = env.int("IP_PASSWORD_LIMIT", default=30)
IP_CODE_LIMIT = env.int("IP_CODE_LIMIT", default=30)
IP_LIMIT_WINDOW = env.int("IP_LIMIT_WINDOW", default=300)
SMS_PER_PHONE_DAILY = env.int("SMS_PER_PHONE_DAILY", default=10)
SMS_PHONE_COOLDOWN = env.int("SMS_PHONE_COOLDOWN", default=60)
SMS_BUDGET_HOURLY = env.int("SMS_BUDGET_HOURLY", default=100)
SMS_BUDGET_DAILY = env.int("SMS_BUDGET_DAILY", default=500)
SMS_ALLOWED_COUNTRIES = env.list("SMS_ALLOWED_COUNTRIES", default=["DE", "AT", "CH"])
# Proxies (IPs or CIDR networks) whose X-Forwarded-For is believed; empty: use REMOTE_ADDR.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

# Signed-in sessions end 12 h after sign-in, or after 30 min without a request.
SESSION_ABSOLUTE_TIMEOUT = env.int("SESSION_ABSOLUTE_TIMEOUT", default=12 * 3600)
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_TIMEOUT", default=30 * 60)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_TIMEOUT

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
