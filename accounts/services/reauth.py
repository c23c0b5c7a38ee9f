"""Re-authentication before sensitive changes: the password and a current second factor.

A success is remembered in the session for a few minutes ("recent re-authentication").
"""

import secrets
import time

from django.http import HttpRequest

from ..exceptions import CodeInvalid, InvalidCredentials, LoginError, PhoneNumberMissing
from ..models import User
from .audit import Kind, event_record
from .code_delivery import login_code_send, request_domain
from .codes import login_code_verify
from .login import audited_lock_check, code_failure_recorded, password_failed, password_guard
from .totp import totp_device, totp_verify

REAUTH_AT = "accounts_reauth_at"
REAUTH_CHALLENGE = "accounts_reauth_challenge"
REAUTH_LIFETIME = 300


def reauth_is_recent(request: HttpRequest, *, now: float | None = None) -> bool:
    """Tell whether this session re-authenticated within the last few minutes."""
    at = request.session.get(REAUTH_AT)
    now = time.time() if now is None else now
    return isinstance(at, int | float) and 0 <= now - at <= REAUTH_LIFETIME


def reauth_send_code(*, request: HttpRequest, user: User) -> None:
    """Text a code for re-authentication to the user's verified number.

    Raises as code_delivery.login_code_send does.
    """
    if not user.has_verified_phone:
        raise PhoneNumberMissing("Your account has no confirmed phone number for codes.")
    challenge = request.session.get(REAUTH_CHALLENGE) or secrets.token_urlsafe(32)
    request.session[REAUTH_CHALLENGE] = challenge
    login_code_send(user=user, challenge=challenge, host=request_domain(request), request=request)


def reauth_confirm(*, request: HttpRequest, user: User, password: str, code: str) -> None:
    """Check the password and a code (authenticator or the SMS sent for this purpose).

    Returns None and marks the session as recently re-authenticated. Raises
    InvalidCredentials, CodeInvalid, or a limit's LoginError; failures are counted like
    sign-in failures.
    """
    password_guard(request=request, email=user.email, user=user)
    audited_lock_check(request=request, user=user)
    if not user.check_password(password):
        password_failed(request=request, email=user.email, user=user, detail="re-authentication")
        raise InvalidCredentials("Your password is not right.")
    if not second_factor_ok(request=request, user=user, code=code):
        code_failure_recorded(request=request, user=user, method="re-authentication")
        raise CodeInvalid()
    request.session.pop(REAUTH_CHALLENGE, None)
    request.session[REAUTH_AT] = time.time()
    event_record(Kind.REAUTH_OK, request=request, user=user)


def second_factor_ok(*, request: HttpRequest, user: User, code: str) -> bool:
    """Tell whether `code` is a fresh authenticator code or the re-authentication SMS code."""
    if totp_device(user) is not None and totp_verify(user=user, code=code):
        return True
    challenge = request.session.get(REAUTH_CHALLENGE)
    if not challenge:
        return False
    try:
        login_code_verify(user=user, challenge=challenge, code=code)
    except LoginError:
        return False
    return True
