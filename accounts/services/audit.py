"""Writing the audit trail. Callers pass what happened, never a code, hash or token."""

from datetime import timedelta

from django.http import HttpRequest
from django.utils import timezone

from ..models import AuthEvent, User
from .network import client_ip, user_agent

Kind = AuthEvent.Kind
DETAIL_MAX = 200


def event_record(
    kind: str,
    *,
    request: HttpRequest | None = None,
    user: User | None = None,
    detail: str = "",
) -> AuthEvent:
    """Store one audit event and return it."""
    return AuthEvent.objects.create(
        kind=kind,
        user=user if user is not None and user.pk else None,
        ip_address=client_ip(request) if request is not None else None,
        user_agent=user_agent(request) if request is not None else "",
        detail=detail[:DETAIL_MAX],
    )


def events_purge(*, older_than_days: int) -> int:
    """Delete events older than the given number of days. Returns how many were deleted."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted, _ = AuthEvent.objects.filter(created_at__lt=cutoff).delete()
    return deleted
