"""The two-step sign-in: password, then a second factor, then the user is signed in.

The second factor is an SMS code, an authenticator code, a recovery code, or a remembered
browser. A user without a verified phone (and no authenticator) enrolls a number first.
Every step consults the abuse limits first and writes the audit trail.
"""

import enum
import time

from django.contrib.auth import authenticate
from django.contrib.auth import login as auth_login
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from ..exceptions import (
    CodeAttemptsExceeded,
    CodeExpired,
    CodeInvalid,
    InvalidCredentials,
    LimitReached,
    PendingLoginMissing,
)
from ..managers import normalize_email_address
from ..models import User
from .audit import Kind, event_record
from .code_delivery import login_code_send, request_domain
from .codes import login_code_verify
from .lockout import code_failure_record, code_success_record, second_factor_lock_check
from .notices import recovery_code_used_email
from .pending import PendingLogin, pending_login_begin, pending_login_clear
from .recovery import recovery_code_use
from .throttles import (
    client_rate_limit,
    password_delay_check,
    password_failure_record,
    password_success_record,
)
from .totp import totp_device, totp_verify
from .trusted import trusted_browser_match

SESSION_AUTH_AT = "accounts_auth_at"
SESSION_SEEN_AT = "accounts_seen_at"


class NextStep(enum.Enum):
    """Where the browser goes after the password step."""

    SIGNED_IN = "signed in"
    VERIFY_SMS = "verify by SMS"
    VERIFY_TOTP = "verify by authenticator"
    ENROLL = "enroll a phone"


def password_authenticate(*, request: HttpRequest, email: str, password: str) -> User:
    """Check email and password under the IP and per-account limits; returns the user.

    Raises ClientRateLimited or PasswordThrottled before any password is checked,
    SecondFactorLocked for a locked account whatever the password (so the answer tells
    nothing about it), and InvalidCredentials for a wrong email or password alike.
    """
    password_guard(request=request, email=email)
    user = authenticate(request, username=email, password=password)
    account = user or User.objects.filter(email__iexact=normalize_email_address(email)).first()
    if account is not None:
        audited_lock_check(request=request, user=account)
    if user is None:
        password_failed(request=request, email=email, user=account)
        raise InvalidCredentials()
    password_success_record(request, email)
    event_record(Kind.PASSWORD_OK, request=request, user=user)
    return user


def password_guard(*, request: HttpRequest, email: str, user: User | None = None) -> None:
    """Count a password attempt against the IP limit and check the per-account delay.

    Raises (and audits) ClientRateLimited or PasswordThrottled.
    """
    try:
        client_rate_limit(request, step="password")
        password_delay_check(request, email)
    except LimitReached as err:
        event_record(Kind.THROTTLED, request=request, user=user, detail=err.limit)
        raise


def password_failed(
    *, request: HttpRequest, email: str, user: User | None, detail: str = ""
) -> None:
    """Count and audit a wrong password."""
    password_failure_record(request, email)
    event_record(Kind.PASSWORD_FAILED, request=request, user=user, detail=detail)


def audited_lock_check(*, request: HttpRequest, user: User) -> None:
    """Raise SecondFactorLocked (audited with the limit's name) while the user is locked."""
    try:
        second_factor_lock_check(user)
    except LimitReached as err:
        event_record(Kind.THROTTLED, request=request, user=user, detail=err.limit)
        raise


def login_start(*, request: HttpRequest, user: User, next_url: str) -> NextStep:
    """Decide the second step for a user whose password was right, and prepare it.

    A remembered browser signs in at once. Otherwise a pending login is recorded and, for
    SMS users, the first code is sent. Raises as login_code_send does after the pending
    login is recorded.
    """
    if trusted_browser_match(request, user):
        login_finish(request=request, user=user, backend=user.backend, method="remembered browser")
        return NextStep.SIGNED_IN
    has_totp = totp_device(user) is not None
    enrolling = not user.has_verified_phone and not has_totp
    pending = pending_login_begin(
        request,
        user_id=user.pk,
        backend=user.backend,
        next_url=next_url,
        phone_number=user.phone_number if user.has_verified_phone else "",
        enrolling=enrolling,
    )
    if enrolling:
        return NextStep.ENROLL
    if has_totp:
        return NextStep.VERIFY_TOTP
    login_code_send(
        user=user, challenge=pending.challenge, host=request_domain(request), request=request
    )
    return NextStep.VERIFY_SMS


def pending_user(pending: PendingLogin) -> User:
    """Return the active user of a pending login; raises PendingLoginMissing otherwise."""
    user = User.objects.filter(pk=pending.user_id, is_active=True).first()
    if user is None:
        raise PendingLoginMissing()
    return user


def code_step_guard(*, request: HttpRequest, pending: PendingLogin) -> User:
    """Return the pending login's user if a code may be tried now.

    Raises PendingLoginMissing, ClientRateLimited or SecondFactorLocked.
    """
    user = pending_user(pending)
    try:
        client_rate_limit(request, step="code")
    except LimitReached as err:
        event_record(Kind.THROTTLED, request=request, user=user, detail=err.limit)
        raise
    audited_lock_check(request=request, user=user)
    return user


def complete_with_sms(*, request: HttpRequest, pending: PendingLogin, code: str) -> User:
    """Check an SMS code and sign the user in. Returns the user.

    Raises a LoginError subclass when the code does not pass, with the failure counted.
    """
    user = code_step_guard(request=request, pending=pending)
    try:
        login_code_verify(user=user, challenge=pending.challenge, code=code)
    except CodeExpired:
        event_record(Kind.CODE_EXPIRED, request=request, user=user)
        raise
    except (CodeInvalid, CodeAttemptsExceeded):
        code_failure_recorded(request=request, user=user, method="sms")
        raise
    if pending.enrolling:
        phone_verify(user=user, phone=pending.phone_number, request=request)
    login_finish(request=request, user=user, backend=pending.backend, method="sms")
    return user


def complete_with_totp(*, request: HttpRequest, pending: PendingLogin, code: str) -> User:
    """Check an authenticator code and sign the user in. Returns the user.

    Raises CodeInvalid (counted) or a limit's LoginError.
    """
    user = code_step_guard(request=request, pending=pending)
    if not totp_verify(user=user, code=code):
        code_failure_recorded(request=request, user=user, method="authenticator")
        raise CodeInvalid("That code is not right. Check the time on your phone and try again.")
    event_record(Kind.TOTP_OK, request=request, user=user)
    login_finish(request=request, user=user, backend=pending.backend, method="authenticator")
    return user


def complete_with_recovery(*, request: HttpRequest, pending: PendingLogin, code: str) -> User:
    """Use a recovery code, sign the user in and mail them a notice. Returns the user.

    Raises CodeInvalid (counted) or a limit's LoginError.
    """
    user = code_step_guard(request=request, pending=pending)
    remaining = recovery_code_use(user=user, code=code)
    if remaining is None:
        code_failure_recorded(request=request, user=user, method="recovery code")
        raise CodeInvalid("That recovery code is not right or was already used.")
    event_record(Kind.RECOVERY_USED, request=request, user=user, detail=f"{remaining} left")
    login_finish(request=request, user=user, backend=pending.backend, method="recovery code")
    recovery_code_used_email(user=user, remaining=remaining)
    return user


def phone_verify(*, user: User, phone: str, request: HttpRequest | None = None) -> None:
    """Store `phone` as the user's verified number (the user just proved they receive it)."""
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(
            phone_number=phone, phone_verified_at=timezone.now()
        )
    user.refresh_from_db(fields=["phone_number", "phone_verified_at"])
    event_record(Kind.PHONE_VERIFIED, request=request, user=user, detail=user.masked_phone_number)


def login_finish(*, request: HttpRequest, user: User, backend: str, method: str) -> None:
    """Sign the user in after the second factor passed: reset failures, rotate the session."""
    code_success_record(user)
    pending_login_clear(request)
    auth_login(request, user, backend=backend)
    now = time.time()
    # Both stamps now, so the first signed-in page need not write the session again.
    request.session[SESSION_AUTH_AT] = now
    request.session[SESSION_SEEN_AT] = now
    kind = Kind.TRUSTED_BROWSER_USED if method == "remembered browser" else Kind.CODE_OK
    event_record(kind, request=request, user=user, detail=method)


def code_failure_recorded(*, request: HttpRequest, user: User, method: str) -> None:
    """Audit a wrong code and count it for the account; raises SecondFactorLocked if this
    failure locked the account."""
    event_record(Kind.CODE_WRONG, request=request, user=user, detail=method)
    if code_failure_record(user):
        event_record(Kind.LOCKED, request=request, user=user, detail="too many wrong codes")
        second_factor_lock_check(user)


def safe_next_url(request: HttpRequest, next_url: str) -> str:
    """Return `next_url` if it is a safe local path for this request, otherwise "".

    Only absolute paths count: a relative value would land on a page that does not exist.
    """
    if next_url.startswith("/") and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return next_url
    return ""
