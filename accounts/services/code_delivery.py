"""Sending one-time codes by SMS under every limit: lock, destination, cooldown, quotas."""

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.http.request import split_domain_port

from .. import conf, sms
from ..exceptions import (
    DestinationNotAllowed,
    LimitReached,
    PhoneNumberMissing,
    SmsBudgetReached,
    SmsConfigurationError,
    SmsDeliveryError,
)
from ..models import SmsSend, User
from ..phone import mask_phone_number, validate_sms_destination
from .audit import Kind, event_record
from .codes import login_code_issue, login_code_void
from .lockout import second_factor_lock_check
from .sms_quota import sms_outcome_record, sms_reserve

logger = logging.getLogger(__name__)


def login_code_message(*, code: str, host: str) -> str:
    """Return the SMS text for a code, ending in a WebOTP line for `host`."""
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
    *,
    user: User,
    challenge: str,
    host: str,
    request: HttpRequest | None = None,
    phone_number: str | None = None,
) -> None:
    """Issue a new code for the challenge and text it to `phone_number` (default: the
    user's number).

    Raises SecondFactorLocked, PhoneNumberMissing, DestinationNotAllowed, a LimitReached
    subclass (resend cooldown, sends per login, per phone, site budget), SmsDeliveryError or
    SmsConfigurationError. Nothing is sent when a limit refuses; when sending fails the code
    is voided and the pending login stays.
    """
    phone = phone_number or user.phone_number
    try:
        row, code, send = reserve_code(user=user, challenge=challenge, phone=phone)
    except LimitReached as err:
        record_refusal(err, request=request, user=user)
        raise
    try:
        sms.send_sms(phone, login_code_message(code=code, host=host))
    except (SmsDeliveryError, SmsConfigurationError) as err:
        login_code_void(row)
        sms_outcome_record(send, delivered=False)
        logger.warning("Sign-in SMS for user %s failed: %s", user.pk, err)
        event_record(Kind.SEND_FAILED, request=request, user=user, detail=str(err))
        raise
    sms_outcome_record(send, delivered=True)
    event_record(Kind.CODE_SENT, request=request, user=user, detail=mask_phone_number(phone))


def reserve_code(*, user: User, challenge: str, phone: str):
    """Check every limit, then create the code and count its SMS in one transaction.

    Returns (code row, code in clear, SmsSend row). Raises as login_code_send does.
    """
    second_factor_lock_check(user)
    if not phone:
        raise PhoneNumberMissing()
    try:
        validate_sms_destination(phone)
    except ValidationError as err:
        raise DestinationNotAllowed() from err
    with transaction.atomic():
        row, code = login_code_issue(user=user, challenge=challenge)
        send = sms_reserve(phone_number=phone, user=user, purpose=SmsSend.Purpose.LOGIN)
    return row, code, send


def record_refusal(err: LimitReached, *, request: HttpRequest | None, user: User) -> None:
    """Write the audit event (and for the site budget, an error log) for a refused send."""
    if isinstance(err, SmsBudgetReached):
        logger.error("SMS budget reached (%s): no more login codes are sent", err.limit)
        event_record(Kind.BUDGET_REACHED, request=request, user=user, detail=err.limit)
    else:
        event_record(Kind.THROTTLED, request=request, user=user, detail=err.limit)


def notice_send(*, user: User, phone: str, text: str, request: HttpRequest | None = None) -> bool:
    """Send an informational SMS (no code) under the budgets; returns whether it went out.

    Failures are logged and audited, never raised: a notice must not break the action it
    reports on.
    """
    try:
        validate_sms_destination(phone)
        send = sms_reserve(phone_number=phone, user=user, purpose=SmsSend.Purpose.NOTICE)
    except (ValidationError, LimitReached) as err:
        logger.warning("Notice SMS for user %s not sent: %s", user.pk, err)
        return False
    try:
        sms.send_sms(phone, text)
    except (SmsDeliveryError, SmsConfigurationError) as err:
        sms_outcome_record(send, delivered=False)
        logger.warning("Notice SMS for user %s failed: %s", user.pk, err)
        event_record(Kind.SEND_FAILED, request=request, user=user, detail=f"notice: {err}")
        return False
    sms_outcome_record(send, delivered=True)
    return True
