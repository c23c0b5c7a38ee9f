"""The two-step sign-in: password passed, code sent, code typed, user signed in.

Every step consults the abuse limits first and writes the audit trail.
"""

import logging
import time

from django.contrib.auth import authenticate
from django.contrib.auth import login as auth_login
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.http.request import split_domain_port
from django.utils.http import url_has_allowed_host_and_scheme

from .. import conf, sms
from ..exceptions import (
    CodeAttemptsExceeded,
    CodeExpired,
    CodeInvalid,
    DestinationNotAllowed,
    InvalidCredentials,
    LimitReached,
    PendingLoginMissing,
    PhoneNumberMissing,
    SmsBudgetReached,
    SmsConfigurationError,
    SmsDeliveryError,
)
from ..managers import normalize_email_address
from ..models import SmsSend, User
from ..phone import validate_sms_destination
from .audit import Kind, event_record
from .codes import login_code_issue, login_code_verify, login_code_void
from .lockout import code_failure_record, code_success_record, second_factor_lock_check
from .pending import PendingLogin, pending_login_begin, pending_login_clear
from .sms_quota import sms_outcome_record, sms_reserve
from .throttles import (
    client_rate_limit,
    password_delay_check,
    password_failure_record,
    password_success_record,
)

logger = logging.getLogger(__name__)

SESSION_AUTH_AT = "accounts_auth_at"


def password_authenticate(*, request: HttpRequest, email: str, password: str) -> User:
    """Check email and password under the IP and per-account limits; returns the user.

    Raises ClientRateLimited or PasswordThrottled before any password is checked,
    SecondFactorLocked for a locked account whatever the password (so the answer tells
    nothing about it), and InvalidCredentials for a wrong email or password alike.
    """
    try:
        client_rate_limit(request, step="password")
        password_delay_check(email)
    except LimitReached as err:
        event_record(Kind.THROTTLED, request=request, detail=err.limit)
        raise
    user = authenticate(request, username=email, password=password)
    account = user or User.objects.filter(email__iexact=normalize_email_address(email)).first()
    if account is not None and account.is_code_locked():
        event_record(Kind.THROTTLED, request=request, user=account, detail="account locked")
        second_factor_lock_check(account)
    if user is None:
        password_failure_record(email)
        event_record(Kind.PASSWORD_FAILED, request=request, user=account)
        raise InvalidCredentials()
    password_success_record(email)
    event_record(Kind.PASSWORD_OK, request=request, user=user)
    return user


def login_code_message(*, code: str, host: str) -> str:
    """Return the SMS text for a login code, ending in a WebOTP line for `host`."""
    ttl = conf.login_code_settings().ttl
    validity = f"{ttl // 60} minutes" if ttl % 60 == 0 else f"{ttl} seconds"
    return (
        f"Your {conf.site_name()} login code: {code}. Valid {validity}. Never share it.\n"
        f"\n@{host} #{code}"
    )


def request_domain(request: HttpRequest) -> str:
    """Return the validated host of the request without a port, for the WebOTP line."""
    domain, _port = split_domain_port(request.get_host())
    return domain


def login_code_send(
    *, user: User, challenge: str, host: str, request: HttpRequest | None = None
) -> None:
    """Issue a new code for the pending login and send it to the user's phone.

    Raises SecondFactorLocked, PhoneNumberMissing, DestinationNotAllowed, a LimitReached
    subclass (resend cooldown, sends per login, per phone, site budget), SmsDeliveryError or
    SmsConfigurationError. Nothing is sent when a limit refuses; when sending fails the code
    is voided and the pending login stays.
    """
    try:
        row, code, send = reserve_code(user=user, challenge=challenge)
    except LimitReached as err:
        record_refusal(err, request=request, user=user)
        raise
    try:
        sms.send_sms(user.phone_number, login_code_message(code=code, host=host))
    except (SmsDeliveryError, SmsConfigurationError) as err:
        login_code_void(row)
        sms_outcome_record(send, delivered=False)
        logger.warning("Login code SMS for user %s failed: %s", user.pk, err)
        event_record(Kind.SEND_FAILED, request=request, user=user, detail=str(err))
        raise
    sms_outcome_record(send, delivered=True)
    event_record(Kind.CODE_SENT, request=request, user=user, detail=user.masked_phone_number)


def reserve_code(*, user: User, challenge: str):
    """Check every limit, then create the code and count its SMS in one transaction.

    Returns (code row, code in clear, SmsSend row). Raises as login_code_send does.
    """
    second_factor_lock_check(user)
    if not user.phone_number:
        raise PhoneNumberMissing()
    try:
        validate_sms_destination(user.phone_number)
    except ValidationError as err:
        raise DestinationNotAllowed() from err
    with transaction.atomic():
        row, code = login_code_issue(user=user, challenge=challenge)
        send = sms_reserve(
            phone_number=user.phone_number, user=user, purpose=SmsSend.Purpose.LOGIN
        )
    return row, code, send


def record_refusal(err: LimitReached, *, request: HttpRequest | None, user: User) -> None:
    """Write the audit event (and for the site budget, an error log) for a refused send."""
    if isinstance(err, SmsBudgetReached):
        logger.error("SMS budget reached (%s): no more login codes are sent", err.limit)
        event_record(Kind.BUDGET_REACHED, request=request, user=user, detail=err.limit)
    else:
        event_record(Kind.THROTTLED, request=request, user=user, detail=err.limit)


def login_start(*, request: HttpRequest, user: User, next_url: str) -> PendingLogin:
    """Start a pending login for a user whose password was right, and send the first code.

    Returns the pending login. Raises PhoneNumberMissing before anything is recorded; after
    the pending login is recorded it raises as login_code_send does.
    """
    if not user.phone_number:
        raise PhoneNumberMissing()
    pending = pending_login_begin(
        request, user_id=user.pk, backend=user.backend, next_url=next_url
    )
    login_code_send(
        user=user, challenge=pending.challenge, host=request_domain(request), request=request
    )
    return pending


def pending_user(pending: PendingLogin) -> User:
    """Return the active user of a pending login; raises PendingLoginMissing otherwise."""
    user = User.objects.filter(pk=pending.user_id, is_active=True).first()
    if user is None:
        raise PendingLoginMissing()
    return user


def login_complete(*, request: HttpRequest, pending: PendingLogin, code: str) -> str:
    """Check `code` and, if right, sign the user in (rotating the session key).

    Returns the safe URL to go to next. Raises ClientRateLimited, SecondFactorLocked, or
    another LoginError when the code does not pass, with the failure counted.
    """
    user = pending_user(pending)
    try:
        client_rate_limit(request, step="code")
    except LimitReached as err:
        event_record(Kind.THROTTLED, request=request, user=user, detail=err.limit)
        raise
    second_factor_lock_check(user)
    try:
        login_code_verify(user=user, challenge=pending.challenge, code=code)
    except CodeExpired:
        event_record(Kind.CODE_EXPIRED, request=request, user=user)
        raise
    except (CodeInvalid, CodeAttemptsExceeded):
        code_failure_recorded(request=request, user=user)
        raise
    code_success_record(user)
    pending_login_clear(request)
    auth_login(request, user, backend=pending.backend)
    request.session[SESSION_AUTH_AT] = time.time()
    event_record(Kind.CODE_OK, request=request, user=user)
    return safe_next_url(request, pending.next_url)


def code_failure_recorded(*, request: HttpRequest, user: User) -> None:
    """Audit a wrong code and count it for the account; raises SecondFactorLocked if this
    failure locked the account."""
    event_record(Kind.CODE_WRONG, request=request, user=user)
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
