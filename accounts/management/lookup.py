"""Shared helpers of the management commands."""

from django.core.management.base import CommandError

from accounts.models import User


def user_by_email(email: str) -> User:
    """Return the user with this email (any case); raises CommandError if there is none."""
    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is None:
        raise CommandError(f"No user with the email {email!r}.")
    return user
