"""The per-account lock of the second factor after too many wrong codes in a row."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from .. import conf
from ..exceptions import SecondFactorLocked
from ..models import LoginCode, User
from ..models.users import new_session_token
from .throttles import seconds_until


def second_factor_lock_check(user: User, *, now: datetime | None = None) -> None:
    """Raise SecondFactorLocked while the user's second factor is locked."""
    now = now or timezone.now()
    if user.is_code_locked(now):
        raise SecondFactorLocked(retry_after=seconds_until(user.locked_until, now))


def lock_duration(lockouts: int) -> timedelta:
    """Return how long the `lockouts`-th lock lasts: the base, doubled each time, capped."""
    limits = conf.abuse_limits()
    seconds = min(limits.lock_base * 2 ** max(0, lockouts - 1), limits.lock_max)
    return timedelta(seconds=seconds)


def code_failure_record(user: User, *, now: datetime | None = None) -> datetime | None:
    """Count one wrong code for the account. Returns `locked_until` if this failure locked it.

    The count is changed under a row lock, so parallel wrong codes cannot skip the lock.
    """
    now = now or timezone.now()
    with transaction.atomic():
        account = User.objects.select_for_update().get(pk=user.pk)
        account.code_failures += 1
        if account.code_failures < conf.abuse_limits().lock_threshold:
            account.save(update_fields=["code_failures"])
            return None
        account.code_failures = 0
        account.code_lockouts += 1
        account.locked_until = now + lock_duration(account.code_lockouts)
        account.save(update_fields=["code_failures", "code_lockouts", "locked_until"])
        LoginCode.objects.filter(user=account).open().update(voided_at=now)
    user.locked_until = account.locked_until
    return account.locked_until


def code_success_record(user: User) -> None:
    """Reset the account's wrong-code count and lock history after a successful sign-in.

    `user` was read in this request, so a clean record needs no write (the usual case).
    """
    if user.code_failures or user.code_lockouts or user.locked_until:
        reset_failures(user)


def reset_failures(user: User) -> None:
    """Clear the wrong-code count, the lock and its history in the database."""
    User.objects.filter(pk=user.pk).update(code_failures=0, code_lockouts=0, locked_until=None)


def second_factor_unlock(user: User) -> None:
    """End a lock at once (admin or operator) and forget the failures."""
    reset_failures(user)
    user.refresh_from_db(fields=["code_failures", "code_lockouts", "locked_until"])


def second_factor_reset(user: User, *, now: datetime | None = None) -> None:
    """Unlock the account and void every open code, so the next sign-in starts clean."""
    LoginCode.objects.filter(user=user).open().update(voided_at=now or timezone.now())
    second_factor_unlock(user)


def sessions_end_everywhere(user: User) -> None:
    """Sign the user out of every session by changing the token the sessions are bound to.

    Open codes are voided too, so a sign-in half done elsewhere cannot be finished.
    """
    LoginCode.objects.filter(user=user).open().update(voided_at=timezone.now())
    User.objects.filter(pk=user.pk).update(session_token=new_session_token())
    user.refresh_from_db(fields=["session_token"])
