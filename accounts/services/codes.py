"""Login codes: drawing, hashing, issuing under send limits, and verifying.

A code is stored only as an HMAC keyed from SECRET_KEY over (user, challenge, code), so a code
is bound to one pending login, and a leaked table row reveals nothing usable.
"""

import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from .. import conf
from ..exceptions import (
    CodeAttemptsExceeded,
    CodeExpired,
    CodeInvalid,
    NoActiveCode,
    ResendTooSoon,
    SendLimitReached,
)
from ..models import LoginCode, User

HASH_SALT = "accounts.LoginCode.code_hash"


def code_generate(length: int) -> str:
    """Return a uniformly random string of `length` ASCII digits from the OS's CSPRNG."""
    return f"{secrets.randbelow(10**length):0{length}d}"


def code_hash(*, user_id: int, challenge: str, code: str) -> str:
    """Return the hex HMAC-SHA256 under which `code` is stored for this user and challenge."""
    value = f"{user_id}:{challenge}:{code}"
    return salted_hmac(HASH_SALT, value, algorithm="sha256").hexdigest()


@dataclass(frozen=True)
class SendStatus:
    """How many more codes this pending login may get, and how long until the next one."""

    sends_left: int
    wait_seconds: int


def send_status(*, user: User, challenge: str, now: datetime | None = None) -> SendStatus:
    """Return the resend quota and cooldown for one pending login."""
    rules = conf.login_code_settings()
    now = now or timezone.now()
    sent = LoginCode.objects.filter(user=user, challenge=challenge)
    last = sent.order_by("-created_at").values_list("created_at", flat=True).first()
    wait = 0
    if last is not None:
        remaining = rules.resend_cooldown - (now - last).total_seconds()
        wait = max(0, math.ceil(remaining))
    return SendStatus(sends_left=max(0, rules.max_sends - sent.count()), wait_seconds=wait)


def login_code_issue(
    *, user: User, challenge: str, now: datetime | None = None
) -> tuple[LoginCode, str]:
    """Create a code for this pending login and void the user's earlier open codes.

    Returns the stored row and the code in clear (to be sent, never stored or logged).
    Raises SendLimitReached or ResendTooSoon when the pending login may not get another code.
    """
    rules = conf.login_code_settings()
    now = now or timezone.now()
    with transaction.atomic():
        # Lock the user so that parallel requests cannot both pass the limits below.
        User.objects.select_for_update().only("pk").get(pk=user.pk)
        status = send_status(user=user, challenge=challenge, now=now)
        if status.sends_left == 0:
            raise SendLimitReached()
        if status.wait_seconds:
            raise ResendTooSoon(status.wait_seconds)
        LoginCode.objects.filter(user=user).open().update(voided_at=now)
        code = code_generate(rules.length)
        row = LoginCode.objects.create(
            user=user,
            challenge=challenge,
            code_hash=code_hash(user_id=user.pk, challenge=challenge, code=code),
            created_at=now,
            expires_at=now + timedelta(seconds=rules.ttl),
        )
    return row, code


def login_code_void(row: LoginCode, *, now: datetime | None = None) -> None:
    """Mark a code unusable (for example because its SMS could not be sent)."""
    LoginCode.objects.filter(pk=row.pk, voided_at__isnull=True).update(
        voided_at=now or timezone.now()
    )


def login_code_verify(
    *, user: User, challenge: str, code: str, now: datetime | None = None
) -> LoginCode:
    """Use the newest open code of this pending login if `code` matches it.

    Returns the code row, now marked used. Raises NoActiveCode, CodeExpired,
    CodeAttemptsExceeded (the code is now void) or CodeInvalid (one attempt counted).
    """
    now = now or timezone.now()
    # The outcome is decided and saved inside the transaction and raised after it, so that a
    # wrong guess is counted even though an exception follows.
    with transaction.atomic():
        outcome = _check_and_record(user=user, challenge=challenge, code=code, now=now)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def _check_and_record(
    *, user: User, challenge: str, code: str, now: datetime
) -> LoginCode | Exception:
    rules = conf.login_code_settings()
    row = (
        LoginCode.objects.select_for_update()
        .filter(user=user, challenge=challenge)
        .open()
        .order_by("-created_at")
        .first()
    )
    if row is None:
        return NoActiveCode()
    if row.is_expired(now):
        return CodeExpired()
    expected = code_hash(user_id=user.pk, challenge=challenge, code=code)
    if constant_time_compare(expected, row.code_hash):
        row.used_at = now
        row.save(update_fields=["used_at"])
        return row
    row.attempts += 1
    if row.attempts >= rules.max_attempts:
        row.voided_at = now
        row.save(update_fields=["attempts", "voided_at"])
        return CodeAttemptsExceeded()
    row.save(update_fields=["attempts"])
    return CodeInvalid()


def login_codes_purge(*, now: datetime | None = None) -> int:
    """Delete used, voided and expired codes. Returns how many rows were deleted.

    Codes of pending logins that may still be alive are kept, since they count towards
    that login's resend quota.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=conf.login_code_settings().pending_login_ttl)
    deleted, _ = LoginCode.objects.finished(now).filter(created_at__lt=cutoff).delete()
    return deleted
