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
        read_timeout=getattr(settings, "SIPGATE_READ_TIMEOUT", 5.0),
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


@dataclass(frozen=True)
class AbuseLimits:
    """Limits against guessing and SMS pumping (durations in seconds)."""

    lock_threshold: int
    lock_base: int
    lock_max: int
    password_threshold: int
    password_delay_base: int
    password_delay_max: int
    password_reset_after: int
    ip_password_limit: int
    ip_code_limit: int
    ip_window: int
    sms_per_phone_daily: int
    sms_phone_cooldown: int
    sms_budget_hourly: int
    sms_budget_daily: int
    allowed_countries: tuple[str, ...]
    trusted_proxies: tuple[str, ...]


def abuse_limits() -> AbuseLimits:
    """Return the current abuse limits."""
    return AbuseLimits(
        lock_threshold=getattr(settings, "LOGIN_LOCK_THRESHOLD", 10),
        lock_base=getattr(settings, "LOGIN_LOCK_BASE", 900),
        lock_max=getattr(settings, "LOGIN_LOCK_MAX", 86400),
        password_threshold=getattr(settings, "PASSWORD_THROTTLE_THRESHOLD", 5),
        password_delay_base=getattr(settings, "PASSWORD_THROTTLE_BASE", 30),
        password_delay_max=getattr(settings, "PASSWORD_THROTTLE_MAX", 900),
        password_reset_after=getattr(settings, "PASSWORD_THROTTLE_RESET", 86400),
        ip_password_limit=getattr(settings, "IP_PASSWORD_LIMIT", 30),
        ip_code_limit=getattr(settings, "IP_CODE_LIMIT", 30),
        ip_window=getattr(settings, "IP_LIMIT_WINDOW", 300),
        sms_per_phone_daily=getattr(settings, "SMS_PER_PHONE_DAILY", 10),
        sms_phone_cooldown=getattr(settings, "SMS_PHONE_COOLDOWN", 60),
        sms_budget_hourly=getattr(settings, "SMS_BUDGET_HOURLY", 100),
        sms_budget_daily=getattr(settings, "SMS_BUDGET_DAILY", 500),
        allowed_countries=tuple(getattr(settings, "SMS_ALLOWED_COUNTRIES", ("DE", "AT", "CH"))),
        trusted_proxies=tuple(getattr(settings, "TRUSTED_PROXIES", ())),
    )


@dataclass(frozen=True)
class SessionLimits:
    """How long a signed-in session lasts: in all, and without any request."""

    absolute: int
    idle: int


def session_limits() -> SessionLimits:
    """Return the session lifetimes in seconds."""
    return SessionLimits(
        absolute=getattr(settings, "SESSION_ABSOLUTE_TIMEOUT", 12 * 3600),
        idle=getattr(settings, "SESSION_IDLE_TIMEOUT", 30 * 60),
    )
