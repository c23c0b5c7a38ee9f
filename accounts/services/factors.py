"""Operations on all of a user's second factors at once (admin and support tools)."""

from django.db import transaction
from django.utils import timezone

from ..models import LoginCode, RecoveryCode, TotpDevice, User
from .lockout import second_factor_unlock, sessions_end_everywhere
from .trusted import trusted_browsers_revoke


def factors_reset(user: User) -> None:
    """Clear every second factor so that the next sign-in starts with enrollment.

    The phone number stays on record but must be confirmed again; the authenticator app,
    recovery codes, remembered browsers and open codes are removed, and any lock ends.
    """
    now = timezone.now()
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(phone_verified_at=None)
        TotpDevice.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
        LoginCode.objects.filter(user=user).open().update(voided_at=now)
        trusted_browsers_revoke(user)
    second_factor_unlock(user)
    # A lost phone may sit in a thief's hand with a signed-in browser: end every session.
    sessions_end_everywhere(user)
    user.refresh_from_db(fields=["phone_verified_at"])
