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
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
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
SIPGATE_READ_TIMEOUT = env.float("SIPGATE_READ_TIMEOUT", default=10.0)

# Login codes and pending logins; accounts/conf.py holds the defaults and checks the ranges.
LOGIN_CODE_TTL = env.int("LOGIN_CODE_TTL", default=300)
LOGIN_CODE_LENGTH = env.int("LOGIN_CODE_LENGTH", default=6)
LOGIN_CODE_MAX_ATTEMPTS = env.int("LOGIN_CODE_MAX_ATTEMPTS", default=3)
LOGIN_CODE_RESEND_COOLDOWN = env.int("LOGIN_CODE_RESEND_COOLDOWN", default=60)
LOGIN_CODE_MAX_SENDS = env.int("LOGIN_CODE_MAX_SENDS", default=3)
PENDING_LOGIN_TTL = env.int("PENDING_LOGIN_TTL", default=600)
PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="DE")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
