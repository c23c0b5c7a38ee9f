"""The two-step sign-in: password passed, code sent, code typed, user signed in."""

import logging

from django.contrib.auth import login as auth_login
from django.http import HttpRequest
from django.http.request import split_domain_port
from django.utils.http import url_has_allowed_host_and_scheme

from .. import conf, sms
from ..exceptions import (
    PendingLoginMissing,
    PhoneNumberMissing,
    SmsConfigurationError,
    SmsDeliveryError,
)
from ..models import User
from .codes import login_code_issue, login_code_verify, login_code_void
from .pending import PendingLogin, pending_login_begin, pending_login_clear

logger = logging.getLogger(__name__)


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


def login_code_send(*, user: User, challenge: str, host: str) -> None:
    """Issue a new code for the pending login and send it to the user's phone.

    Raises PhoneNumberMissing, SendLimitReached, ResendTooSoon, SmsDeliveryError or
    SmsConfigurationError. When sending fails the code is voided; the pending login stays.
    """
    if not user.phone_number:
        raise PhoneNumberMissing()
    row, code = login_code_issue(user=user, challenge=challenge)
    try:
        sms.send_sms(user.phone_number, login_code_message(code=code, host=host))
    except (SmsDeliveryError, SmsConfigurationError) as err:
        login_code_void(row)
        logger.warning(
            "Login code SMS for user %s to %s failed: %s",
            user.pk,
            user.masked_phone_number,
            err,
        )
        raise


def login_start(*, request: HttpRequest, user: User, next_url: str) -> PendingLogin:
    """Start a pending login for a user whose password was right, and send the first code.

    Returns the pending login. Raises PhoneNumberMissing before anything is recorded, and
    SmsDeliveryError or SmsConfigurationError after the pending login is recorded.
    """
    if not user.phone_number:
        raise PhoneNumberMissing()
    pending = pending_login_begin(
        request, user_id=user.pk, backend=user.backend, next_url=next_url
    )
    login_code_send(user=user, challenge=pending.challenge, host=request_domain(request))
    return pending


def pending_user(pending: PendingLogin) -> User:
    """Return the active user of a pending login; raises PendingLoginMissing otherwise."""
    user = User.objects.filter(pk=pending.user_id, is_active=True).first()
    if user is None:
        raise PendingLoginMissing()
    return user


def login_complete(*, request: HttpRequest, pending: PendingLogin, code: str) -> str:
    """Check `code` and, if right, sign the user in (rotating the session key).

    Returns the safe URL to go to next. Raises a LoginError subclass when the code does not
    pass, with the attempt counted.
    """
    user = pending_user(pending)
    login_code_verify(user=user, challenge=pending.challenge, code=code)
    pending_login_clear(request)
    auth_login(request, user, backend=pending.backend)
    return safe_next_url(request, pending.next_url)


def safe_next_url(request: HttpRequest, next_url: str) -> str:
    """Return `next_url` if it is a safe local URL for this request, otherwise ""."""
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return next_url
    return ""
