"""System checks for the app's settings, with stable ids (accounts.E001 ...).

| id | problem |
|----|---------|
| accounts.E001 | SMS_BACKEND cannot be imported |
| accounts.E002 | sipgate backend chosen without SIPGATE_TOKEN_ID or SIPGATE_TOKEN |
| accounts.E003 | SIPGATE_TOKEN_ID is not `token-` + 6 letters or digits |
| accounts.E004 | SIPGATE_SMS_ID is not `s` + a number without leading zero |
| accounts.E005 | LOGIN_CODE_TTL outside 30..600 seconds |
| accounts.E006 | LOGIN_CODE_LENGTH outside 6..8 |
| accounts.E007 | a login-code or abuse limit is not a positive whole number |
| accounts.E008 | PHONE_DEFAULT_REGION is not a region phonenumbers knows |
| accounts.E009 | TRUSTED_PROXIES has an entry that is not an IP address or network |
| accounts.E010 | SMS_ALLOWED_COUNTRIES has an unknown region code |
| accounts.W001 | SECRET_KEY not set: a random key is used for this run only |
| accounts.W002 | SIPGATE_API_URL is not https (allowed for loopback test servers) |
| accounts.W003 | no email backend: password reset links and notices are not sent |
"""

import dataclasses
import ipaddress
import re
from urllib.parse import urlsplit

import phonenumbers
from django.conf import settings
from django.core.checks import Error, Warning, register
from django.utils.module_loading import import_string

from . import conf

TOKEN_ID_PATTERN = re.compile(r"token-[A-Za-z0-9]{6}")
SMS_ID_PATTERN = re.compile(r"s(0|[1-9][0-9]*)")
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


@register()
def check_sms_backend(app_configs=None, **kwargs) -> list:
    """Report an SMS backend that cannot be imported (E001)."""
    path = conf.sms_backend_path()
    try:
        import_string(path)
    except ImportError:
        return [
            Error(
                f"SMS_BACKEND {path!r} cannot be imported.",
                hint="Use accounts.sms.backends.{console,locmem,sipgate}.SmsBackend.",
                id="accounts.E001",
            )
        ]
    return []


@register()
def check_sipgate_settings(app_configs=None, **kwargs) -> list:
    """Report missing or malformed sipgate settings (E002-E004, W002)."""
    sipgate = conf.sipgate_settings()
    errors = []
    if conf.sms_backend_path() == conf.SIPGATE_BACKEND and not (
        sipgate.token_id and sipgate.token
    ):
        errors.append(
            Error(
                "The sipgate SMS backend is chosen without SIPGATE_TOKEN_ID or SIPGATE_TOKEN.",
                hint="Create a personal access token with scope sessions:sms:write in sipgate.",
                id="accounts.E002",
            )
        )
    if sipgate.token_id and not TOKEN_ID_PATTERN.fullmatch(sipgate.token_id):
        errors.append(
            Error(
                "SIPGATE_TOKEN_ID does not look like a sipgate token id.",
                hint="It is 'token-' followed by 6 letters or digits, e.g. token-AB12CD.",
                id="accounts.E003",
            )
        )
    if not SMS_ID_PATTERN.fullmatch(sipgate.sms_id):
        errors.append(
            Error(
                f"SIPGATE_SMS_ID {sipgate.sms_id!r} is not a Web-SMS extension id.",
                hint="It is 's' followed by a number without leading zero, e.g. s0.",
                id="accounts.E004",
            )
        )
    url = urlsplit(sipgate.api_url)
    if url.scheme != "https" and url.hostname not in LOOPBACK_HOSTS:
        errors.append(
            Warning(
                "SIPGATE_API_URL does not use https; the token would travel in clear.",
                id="accounts.W002",
            )
        )
    return errors


@register()
def check_login_code_settings(app_configs=None, **kwargs) -> list:
    """Report login-code settings outside their allowed ranges (E005-E007)."""
    rules = conf.login_code_settings()
    errors = []
    if not in_range(rules.ttl, conf.CODE_TTL_RANGE):
        errors.append(
            Error(
                f"LOGIN_CODE_TTL is {rules.ttl!r}; it must be {conf.CODE_TTL_RANGE[0]} to "
                f"{conf.CODE_TTL_RANGE[1]} seconds.",
                id="accounts.E005",
            )
        )
    if not in_range(rules.length, conf.CODE_LENGTH_RANGE):
        errors.append(
            Error(
                f"LOGIN_CODE_LENGTH is {rules.length!r}; it must be 6, 7 or 8.",
                id="accounts.E006",
            )
        )
    limits = conf.abuse_limits()
    numbers = {
        **{n: getattr(rules, n) for n in ("max_attempts", "resend_cooldown", "max_sends")},
        "pending_login_ttl": rules.pending_login_ttl,
        **{
            f.name: getattr(limits, f.name)
            for f in dataclasses.fields(limits)
            if (f.type == "int" or f.type is int) and f.name != "sms_phone_cooldown"
        },
    }
    for name, value in numbers.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            errors.append(
                Error(
                    f"The limit setting {name.upper()} must be a whole number above 0.",
                    id="accounts.E007",
                )
            )
    return errors


@register()
def check_phone_region(app_configs=None, **kwargs) -> list:
    """Report an unknown PHONE_DEFAULT_REGION (E008)."""
    region = conf.phone_default_region()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        return [
            Error(
                f"PHONE_DEFAULT_REGION {region!r} is not a known region code.",
                hint="Use a two-letter code such as DE, AT or CH.",
                id="accounts.E008",
            )
        ]
    return []


@register()
def check_secret_key(app_configs=None, **kwargs) -> list:
    """Warn when a development run uses a throw-away SECRET_KEY (W001)."""
    if getattr(settings, "SECRET_KEY_IS_EPHEMERAL", False):
        return [
            Warning(
                "SECRET_KEY is not set; a random key is used, so sessions end on restart.",
                hint="Set SECRET_KEY in .env (make run writes one).",
                id="accounts.W001",
            )
        ]
    return []


def in_range(value: object, bounds: tuple[int, int]) -> bool:
    """Tell whether `value` is an int within the inclusive `bounds`."""
    return (
        isinstance(value, int) and not isinstance(value, bool) and bounds[0] <= value <= bounds[1]
    )


@register()
def check_email_backend(app_configs=None, **kwargs) -> list:
    """Warn when mail goes nowhere, so password resets cannot work (W003)."""
    if settings.EMAIL_BACKEND == "django.core.mail.backends.dummy.EmailBackend":
        return [
            Warning(
                "No email backend is configured: password reset links are not sent.",
                hint="Set EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.com:587.",
                id="accounts.W003",
            )
        ]
    return []


@register()
def check_abuse_settings(app_configs=None, **kwargs) -> list:
    """Report malformed TRUSTED_PROXIES (E009) and SMS_ALLOWED_COUNTRIES (E010) entries."""
    limits = conf.abuse_limits()
    errors = []
    for entry in limits.trusted_proxies:
        try:
            ipaddress.ip_network(str(entry).strip(), strict=False)
        except ValueError:
            errors.append(
                Error(
                    f"TRUSTED_PROXIES entry {entry!r} is not an IP address or network.",
                    hint="Use addresses or CIDR networks, e.g. 10.0.0.1,192.168.0.0/16.",
                    id="accounts.E009",
                )
            )
    unknown = [c for c in limits.allowed_countries if c not in phonenumbers.SUPPORTED_REGIONS]
    if unknown or not limits.allowed_countries:
        errors.append(
            Error(
                f"SMS_ALLOWED_COUNTRIES must list known region codes; bad: {unknown or 'empty'}.",
                hint="Use two-letter codes such as DE,AT,CH.",
                id="accounts.E010",
            )
        )
    return errors
