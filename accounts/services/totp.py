"""Authenticator apps (TOTP, RFC 6238): enrollment, verification with replay protection."""

import time

import pyotp
import segno
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from .. import conf
from ..models import TotpDevice, User

DIGITS = 6
STEP = 30
# One step either side forgives a phone clock that is up to 30 s off.
WINDOW = 1


def totp_device(user: User) -> TotpDevice | None:
    """Return the user's confirmed authenticator, or None."""
    return TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first()


def totp_unconfirmed(user: User) -> TotpDevice | None:
    """Return the device being enrolled (not yet confirmed), or None."""
    return TotpDevice.objects.filter(user=user, confirmed_at__isnull=True).first()


def totp_begin(user: User) -> TotpDevice:
    """Start (or restart) enrollment with a fresh secret; returns the unconfirmed device.

    An already confirmed device is left alone and returned unchanged.
    """
    device = TotpDevice.objects.filter(user=user).first()
    if device and device.confirmed_at:
        return device
    secret = pyotp.random_base32()
    device, _ = TotpDevice.objects.update_or_create(
        user=user, defaults={"secret": secret, "confirmed_at": None, "last_counter": -1}
    )
    return device


def totp_uri(device: TotpDevice) -> str:
    """Return the otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(device.secret, digits=DIGITS, interval=STEP).provisioning_uri(
        name=device.user.email, issuer_name=conf.site_name()
    )


def totp_qr_svg(device: TotpDevice) -> str:
    """Return the QR code of the device's URI as an inline SVG element (no script, no style)."""
    return segno.make(totp_uri(device), error="m").svg_inline(scale=5, title="QR code")


def matching_counter(secret: str, code: str, now: float) -> int | None:
    """Return the time step whose code equals `code` within the window, or None."""
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP)
    current = int(now // STEP)
    for counter in range(current - WINDOW, current + WINDOW + 1):
        if constant_time_compare(totp.generate_otp(counter), code):
            return counter
    return None


def totp_verify(
    *, user: User, code: str, confirmed: bool = True, now: float | None = None
) -> bool:
    """Tell whether `code` is a fresh code of the user's authenticator, and use it up.

    A code of a step at or before the last accepted one is refused (no replay). With
    `confirmed=False` the unconfirmed device being enrolled is checked and then confirmed.
    """
    now = time.time() if now is None else now
    with transaction.atomic():
        device = (
            TotpDevice.objects.select_for_update()
            .filter(user=user, confirmed_at__isnull=not confirmed)
            .first()
        )
        if device is None:
            return False
        counter = matching_counter(device.secret, code, now)
        if counter is None or counter <= device.last_counter:
            return False
        device.last_counter = counter
        if not confirmed:
            device.confirmed_at = timezone.now()
        device.save(update_fields=["last_counter", "confirmed_at"])
    return True


def totp_remove(user: User) -> bool:
    """Delete the user's authenticator. Returns whether there was one."""
    deleted, _ = TotpDevice.objects.filter(user=user).delete()
    return bool(deleted)
