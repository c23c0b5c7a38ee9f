"""Settings for the test suite: the site's settings with fast, isolated test choices.

The environment is set before the site's settings module reads it; a developer's `.env` is
ignored so that tests never depend on a local setup. DATABASE_URL still passes through, so
`make test-postgres` runs the same suite on PostgreSQL.
"""

import os

os.environ["DJANGO_ENV_FILE"] = ""
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
os.environ["DEBUG"] = "false"
os.environ["HTTPS"] = "false"
os.environ["SMS_BACKEND"] = "accounts.sms.backends.locmem.SmsBackend"
os.environ["SIPGATE_TOKEN_ID"] = "token-TEST01"
os.environ["SIPGATE_TOKEN"] = "6f1c1b8e-2f44-4c55-9a1e-0d3b8a1c2e4f"
os.environ["SIPGATE_API_URL"] = "https://api.sipgate.test/v2"

from twofa_site.settings import *  # noqa: E402, F403

# Fast hashing; the production hasher (Argon2) is exercised by tests that opt into it.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGGING = {"version": 1, "disable_existing_loggers": False}
# Static files come from the app folders through the finders; no collectstatic in tests.
MIDDLEWARE = [m for m in MIDDLEWARE if m != "whitenoise.middleware.WhiteNoiseMiddleware"]  # noqa: F405
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# The per-phone SMS cooldown would make every test that signs in twice wait a minute; it is
# switched on (at its default of 60 s) by the tests about it.
SMS_PHONE_COOLDOWN = 0
