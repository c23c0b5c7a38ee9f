"""Typed access to the app's settings, with their defaults and allowed ranges.

Values are read from `django.conf.settings` on every call, so `override_settings` in tests
takes effect at once. `accounts/checks.py` reports values outside the ranges at start-up.
"""

from dataclasses import dataclass

from django.conf import settings

CODE_LENGTH_RANGE = (6, 8)
CODE_TTL_RANGE = (30, 600)

SIPGATE_BACKEND = "accounts.sms.backends.sipgate.SmsBackend"


@dataclass(frozen=True)
class LoginCodeSettings:
    """The rules for login codes and pending logins (all durations in seconds)."""

    length: int
    ttl: int
    max_attempts: int
    resend_cooldown: int
    max_sends: int
    pending_login_ttl: int


@dataclass(frozen=True)
class SipgateSettings:
    """Credentials and connection settings for the sipgate SMS backend."""

    token_id: str
    token: str
    sms_id: str
    api_url: str
    connect_timeout: float
    read_timeout: float


def login_code_settings() -> LoginCodeSettings:
    """Return the current login-code rules."""
    return LoginCodeSettings(
        length=getattr(settings, "LOGIN_CODE_LENGTH", 6),
        ttl=getattr(settings, "LOGIN_CODE_TTL", 300),
        max_attempts=getattr(settings, "LOGIN_CODE_MAX_ATTEMPTS", 3),
        resend_cooldown=getattr(settings, "LOGIN_CODE_RESEND_COOLDOWN", 60),
        max_sends=getattr(settings, "LOGIN_CODE_MAX_SENDS", 3),
        pending_login_ttl=getattr(settings, "PENDING_LOGIN_TTL", 600),
    )


def sipgate_settings() -> SipgateSettings:
    """Return the current sipgate settings."""
    return SipgateSettings(
        token_id=getattr(settings, "SIPGATE_TOKEN_ID", ""),
        token=getattr(settings, "SIPGATE_TOKEN", ""),
        sms_id=getattr(settings, "SIPGATE_SMS_ID", "s0"),
        api_url=getattr(settings, "SIPGATE_API_URL", "https://api.sipgate.com/v2"),
        connect_timeout=getattr(settings, "SIPGATE_CONNECT_TIMEOUT", 3.05),
        read_timeout=getattr(settings, "SIPGATE_READ_TIMEOUT", 10.0),
    )


def sms_backend_path() -> str:
    """Return the dotted path of the configured SMS backend class."""
    return getattr(settings, "SMS_BACKEND", SIPGATE_BACKEND)


def site_name() -> str:
    """Return the site name used in SMS texts and page titles."""
    return getattr(settings, "SITE_NAME", "twofa_site")


def phone_default_region() -> str:
    """Return the region used to read phone numbers typed without a country code."""
    return getattr(settings, "PHONE_DEFAULT_REGION", "DE")
