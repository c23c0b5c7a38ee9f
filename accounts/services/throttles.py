"""Database-backed throttles: per client IP for each step, and per account and client for
passwords.

Counters are rows of `Throttle`, changed under a row lock, so every server process sees and
respects the same counts.
"""

import math
from datetime import datetime, timedelta

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac

from .. import conf
from ..exceptions import ClientRateLimited, PasswordThrottled
from ..managers import normalize_email_address
from ..models import Throttle
from .network import client_ip

KEY_SALT = "accounts.Throttle.key"
PASSWORD_SCOPE = "account-password"  # noqa: S105 (a scope name)


def throttle_key(scope: str, identifier: str) -> str:
    """Return the stored key for an identifier: an HMAC, so no email or IP is kept in clear."""
    return salted_hmac(KEY_SALT, f"{scope}:{identifier}", algorithm="sha256").hexdigest()


def locked_throttle(scope: str, identifier: str, now: datetime) -> Throttle:
    """Return the throttle row for (scope, identifier), created if needed and locked.

    Must be called inside a transaction.
    """
    key = throttle_key(scope, identifier)
    row = Throttle.objects.select_for_update().filter(scope=scope, key=key).first()
    if row is None:
        Throttle.objects.get_or_create(scope=scope, key=key, defaults={"window_start": now})
        row = Throttle.objects.select_for_update().get(scope=scope, key=key)
    return row


def seconds_until(moment: datetime, now: datetime) -> int:
    """Return the whole seconds from `now` until `moment`, at least 1."""
    return max(1, math.ceil((moment - now).total_seconds()))


def client_rate_limit(request: HttpRequest, *, step: str, now: datetime | None = None) -> None:
    """Count one request of `step` ("password" or "code") from the client's IP.

    Raises ClientRateLimited once the IP used up its allowance for the current window.
    """
    limits = conf.abuse_limits()
    limit = limits.ip_password_limit if step == "password" else limits.ip_code_limit
    ip = client_ip(request) or "unknown"
    now = now or timezone.now()
    window = timedelta(seconds=limits.ip_window)
    with transaction.atomic():
        row = locked_throttle(f"ip-{step}", ip, now)
        if now - row.window_start >= window:
            row.window_start, row.count = now, 0
        if row.count >= limit:
            raise ClientRateLimited(
                step=step, retry_after=seconds_until(row.window_start + window, now)
            )
        row.count += 1
        row.save(update_fields=["window_start", "count"])


def password_identifier(request: HttpRequest, email: str) -> str:
    """Return what the password delay is counted for: the account and the client IP.

    Counting per account alone would let a stranger anywhere keep the real user waiting
    for ever; guessing spread over many IPs is bounded by the per-IP limits and, above all,
    by the second factor.
    """
    return f"{normalize_email_address(email)}|{client_ip(request) or 'unknown'}"


def password_delay_check(request: HttpRequest, email: str, *, now: datetime | None = None) -> None:
    """Raise PasswordThrottled while this client must wait before trying this account again.

    Works the same for unknown emails, so the answer reveals nothing about registration.
    """
    now = now or timezone.now()
    key = throttle_key(PASSWORD_SCOPE, password_identifier(request, email))
    blocked_until = (
        Throttle.objects.filter(scope=PASSWORD_SCOPE, key=key)
        .values_list("blocked_until", flat=True)
        .first()
    )
    if blocked_until and blocked_until > now:
        raise PasswordThrottled(retry_after=seconds_until(blocked_until, now))


def password_failure_record(
    request: HttpRequest, email: str, *, now: datetime | None = None
) -> datetime | None:
    """Count a wrong password; returns until when this client must wait, if at all.

    From the threshold on, each failure doubles the wait (capped), and a quiet day resets
    the count: the delay slows guessing but never locks the account for good.
    """
    limits = conf.abuse_limits()
    now = now or timezone.now()
    with transaction.atomic():
        row = locked_throttle(PASSWORD_SCOPE, password_identifier(request, email), now)
        if now - row.window_start >= timedelta(seconds=limits.password_reset_after):
            row.count = 0
        row.window_start = now
        row.count += 1
        over = row.count - limits.password_threshold
        if over >= 0:
            delay = min(limits.password_delay_base * 2**over, limits.password_delay_max)
            row.blocked_until = now + timedelta(seconds=delay)
        row.save(update_fields=["window_start", "count", "blocked_until"])
        return row.blocked_until if over >= 0 else None


def password_success_record(request: HttpRequest, email: str) -> None:
    """Forget this client's wrong passwords for the account after a right one."""
    key = throttle_key(PASSWORD_SCOPE, password_identifier(request, email))
    Throttle.objects.filter(scope=PASSWORD_SCOPE, key=key).delete()


def throttles_purge(*, now: datetime | None = None) -> int:
    """Delete throttle rows that no longer hold anything back. Returns how many."""
    now = now or timezone.now()
    limits = conf.abuse_limits()
    horizon = now - timedelta(seconds=max(limits.ip_window, limits.password_reset_after))
    deleted, _ = (
        Throttle.objects.filter(window_start__lt=horizon).exclude(blocked_until__gt=now).delete()
    )
    return deleted
