"""Changing the sign-in phone number: prove the new number with a code sent to it."""

import secrets
import time

from django.contrib.auth import update_session_auth_hash
from django.http import HttpRequest

from .. import conf
from ..exceptions import (
    CodeAttemptsExceeded,
    CodeInvalid,
    PendingLoginMissing,
    SmsConfigurationError,
    SmsDeliveryError,
)
from ..models import User
from .audit import Kind, event_record
from .code_delivery import login_code_send, notice_send, request_domain
from .codes import login_code_verify
from .lockout import sessions_end_everywhere
from .login import code_failure_recorded, phone_verify
from .notices import phone_changed_sms_text

SESSION_KEY = "accounts_phone_change"


def phone_change_pending(request: HttpRequest) -> dict | None:
    """Return {"phone", "challenge", "started_at"} of an unfinished change, or None."""
    state = request.session.get(SESSION_KEY)
    if not isinstance(state, dict):
        return None
    if time.time() - state.get("started_at", 0) > conf.login_code_settings().pending_login_ttl:
        request.session.pop(SESSION_KEY, None)
        return None
    return state


def phone_change_begin(*, request: HttpRequest, user: User, phone: str) -> None:
    """Send a code to the new number.

    One challenge serves the whole change, so trying other numbers stays under the same
    cooldown and send quota. The number is switched only once a send was made (or failed
    after voiding every code); a refused send keeps the earlier number and its code.
    Raises as code_delivery.login_code_send does.
    """
    state = phone_change_pending(request) or {
        "phone": "",
        "challenge": secrets.token_urlsafe(32),
        "started_at": time.time(),
    }
    request.session[SESSION_KEY] = state
    try:
        login_code_send(
            user=user,
            challenge=state["challenge"],
            host=request_domain(request),
            request=request,
            phone_number=phone,
        )
    except (SmsDeliveryError, SmsConfigurationError):
        request.session[SESSION_KEY] = {**state, "phone": phone}
        raise
    request.session[SESSION_KEY] = {**state, "phone": phone}


def phone_change_complete(*, request: HttpRequest, user: User, code: str) -> str:
    """Check the code sent to the new number and switch to it. Returns the new number.

    Ends the user's other sessions (and so its remembered browsers), and texts a notice to
    the old number. Raises PendingLoginMissing without a change under way, or a LoginError
    for a wrong code (counted like a sign-in failure).
    """
    state = phone_change_pending(request)
    if state is None:
        raise PendingLoginMissing("Your phone change has expired. Please start again.")
    try:
        login_code_verify(user=user, challenge=state["challenge"], code=code)
    except (CodeInvalid, CodeAttemptsExceeded):
        code_failure_recorded(request=request, user=user, method="phone change")
        raise
    old_phone = user.phone_number
    phone_verify(user=user, phone=state["phone"], request=request)
    request.session.pop(SESSION_KEY, None)
    sessions_end_everywhere(user)
    update_session_auth_hash(request, user)
    event_record(Kind.PHONE_CHANGED, request=request, user=user, detail="by the user")
    if old_phone and old_phone != user.phone_number:
        notice_send(user=user, phone=old_phone, text=phone_changed_sms_text(), request=request)
    return user.phone_number
