"""Notices to the user about security-relevant changes, by email or SMS."""

import logging

from django.core.mail import send_mail

from .. import conf
from ..models import User

logger = logging.getLogger(__name__)


def recovery_code_used_email(*, user: User, remaining: int) -> bool:
    """Email the user that a recovery code was used. Returns whether the mail went out.

    A mail failure is logged and never breaks the sign-in.
    """
    subject = f"{conf.site_name()}: a recovery code was used"
    body = (
        f"Someone signed in to your {conf.site_name()} account with a recovery code.\n"
        f"You have {remaining} recovery code(s) left.\n\n"
        "If this was not you, change your password and contact an administrator at once."
    )
    try:
        send_mail(subject, body, None, [user.email])
    except Exception:  # noqa: BLE001 (any mail transport error; the sign-in must go on)
        logger.exception("Recovery notice email to user %s failed", user.pk)
        return False
    return True


def phone_changed_sms_text() -> str:
    """Return the notice texted to the old number after a phone change."""
    return (
        f"Your {conf.site_name()} sign-in number was changed. If this was not you, contact "
        "your administrator at once."
    )
