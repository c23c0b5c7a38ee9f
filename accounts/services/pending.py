"""The pending login: who passed the password step in this browser session, and when.

It lives in the server-side session (database-backed), so every server process sees it. Its
random `challenge` binds the login codes to this one session.
"""

import secrets
import time
from dataclasses import asdict, dataclass, replace

from django.http import HttpRequest

from .. import conf

SESSION_KEY = "accounts_pending_login"


@dataclass(frozen=True)
class PendingLogin:
    """`phone_number` is where this login's codes go: the verified number, or while
    `enrolling`, the number being confirmed (empty until the user gave one)."""

    user_id: int
    challenge: str
    started_at: float
    next_url: str
    backend: str
    phone_number: str = ""
    enrolling: bool = False

    def age(self, now: float) -> float:
        return now - self.started_at


def pending_login_begin(
    request: HttpRequest,
    *,
    user_id: int,
    backend: str,
    next_url: str,
    phone_number: str = "",
    enrolling: bool = False,
) -> PendingLogin:
    """Record a new pending login in a fresh session key and return it.

    The session key is rotated so that a session id planted before the password step is
    worth nothing afterwards.
    """
    request.session.cycle_key()
    pending = PendingLogin(
        user_id=user_id,
        challenge=secrets.token_urlsafe(32),
        started_at=time.time(),
        next_url=next_url,
        backend=backend,
        phone_number=phone_number,
        enrolling=enrolling,
    )
    request.session[SESSION_KEY] = asdict(pending)
    return pending


def pending_login_set_phone(
    request: HttpRequest, pending: PendingLogin, phone: str
) -> PendingLogin:
    """Return the pending login with codes now going to `phone`, saved in the session."""
    updated = replace(pending, phone_number=phone)
    request.session[SESSION_KEY] = asdict(updated)
    return updated


def pending_login_get(request: HttpRequest, *, now: float | None = None) -> PendingLogin | None:
    """Return this session's pending login, or None when there is none or it is too old.

    An expired pending login is removed from the session.
    """
    data = request.session.get(SESSION_KEY)
    if not isinstance(data, dict):
        return None
    try:
        pending = PendingLogin(**data)
    except TypeError:
        pending_login_clear(request)
        return None
    if (
        pending.age(time.time() if now is None else now)
        > conf.login_code_settings().pending_login_ttl
    ):
        pending_login_clear(request)
        return None
    return pending


def pending_login_clear(request: HttpRequest) -> None:
    """Forget this session's pending login, if any."""
    request.session.pop(SESSION_KEY, None)
