"""Remembered browsers: skip the code on a browser the user chose to trust for 30 days.

The browser holds a signed cookie with the user id and a random token; the server keeps a
keyed hash of the token and a binding to the user's password, phone and session token.
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from ..models import TrustedBrowser, User
from .audit import Kind, event_record
from .network import user_agent

COOKIE_NAME = "twofa_trusted"
COOKIE_SALT = "accounts.trusted-browser"
LIFETIME = timedelta(days=30)


def token_hash(token: str) -> str:
    return salted_hmac("accounts.TrustedBrowser.token", token, algorithm="sha256").hexdigest()


def user_binding(user: User) -> str:
    """Return a keyed hash that changes when the password, phone or session token changes."""
    value = f"{user.pk}:{user.password}:{user.phone_number}:{user.session_token}"
    return salted_hmac("accounts.TrustedBrowser.binding", value, algorithm="sha256").hexdigest()


def trusted_browser_add(*, request: HttpRequest, response: HttpResponse, user: User) -> None:
    """Remember this browser for the user: store the record and set the cookie."""
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    TrustedBrowser.objects.create(
        user=user,
        token_hash=token_hash(token),
        binding=user_binding(user),
        user_agent=user_agent(request),
        created_at=now,
        expires_at=now + LIFETIME,
    )
    event_record(Kind.TRUSTED_BROWSER_ADDED, request=request, user=user)
    response.set_signed_cookie(
        COOKIE_NAME,
        f"{user.pk}:{token}",
        salt=COOKIE_SALT,
        max_age=int(LIFETIME.total_seconds()),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def trusted_browser_match(request: HttpRequest, user: User) -> TrustedBrowser | None:
    """Return the active record this browser's cookie names for `user`, or None.

    A forged, expired, revoked or outdated (password/phone changed) cookie matches nothing.
    """
    try:
        value = request.get_signed_cookie(COOKIE_NAME, salt=COOKIE_SALT, max_age=LIFETIME)
    except (KeyError, signing.BadSignature):
        return None
    user_id, _, token = value.partition(":")
    if user_id != str(user.pk) or not token:
        return None
    record = (
        TrustedBrowser.objects.active().filter(user=user, token_hash=token_hash(token)).first()
    )
    if record is None or record.binding != user_binding(user):
        return None
    TrustedBrowser.objects.filter(pk=record.pk).update(last_used_at=timezone.now())
    return record


def trusted_browsers_active(user: User) -> list[TrustedBrowser]:
    """Return the user's remembered browsers that still work."""
    binding = user_binding(user)
    return [b for b in TrustedBrowser.objects.active().filter(user=user) if b.binding == binding]


def trusted_browsers_revoke(user: User, *, browser_id: int | None = None) -> int:
    """Revoke one of the user's browsers (or all of them). Returns how many were revoked."""
    browsers = TrustedBrowser.objects.filter(user=user, revoked_at__isnull=True)
    if browser_id is not None:
        browsers = browsers.filter(pk=browser_id)
    return browsers.update(revoked_at=timezone.now())
