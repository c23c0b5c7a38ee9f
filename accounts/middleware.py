"""Session lifetime: a signed-in session ends 12 h after sign-in or after 30 idle minutes."""

import time
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

from . import conf
from .services.login import SESSION_AUTH_AT, SESSION_SEEN_AT

# Writing the session on every request would cost a database write each time; a minute's
# precision is plenty for a 30-minute idle limit.
SEEN_RESOLUTION = 60
SESSION_ENDED = "Your session has ended. Please sign in again."


class SessionTimeoutMiddleware:
    """Signs out sessions past their absolute or idle lifetime (conf.session_limits)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            self.enforce(request, now=time.time())
        return self.get_response(request)

    def enforce(self, request: HttpRequest, *, now: float) -> None:
        limits = conf.session_limits()
        session = request.session
        started = session.setdefault(SESSION_AUTH_AT, now)
        seen = session.get(SESSION_SEEN_AT, started)
        if now - started > limits.absolute or now - seen > limits.idle:
            logout(request)
            messages.info(request, SESSION_ENDED)
            return
        if now - seen >= SEEN_RESOLUTION or SESSION_SEEN_AT not in session:
            session[SESSION_SEEN_AT] = now
