"""Second factors beyond SMS: an authenticator app, recovery codes, and trusted browsers."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from ..agents import browser_label


class TotpDevice(models.Model):
    """An authenticator app (RFC 6238: 6 digits, 30 s steps) bound to one user.

    `last_counter` is the last time step accepted, so each step's code works only once.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device"
    )
    secret = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_counter = models.BigIntegerField(default=-1, editable=False)

    class Meta:
        verbose_name = "authenticator app"

    def __str__(self) -> str:
        state = "confirmed" if self.confirmed_at else "unconfirmed"
        return f"authenticator app of {self.user} ({state})"


class RecoveryCodeQuerySet(models.QuerySet):
    def unused(self) -> "RecoveryCodeQuerySet":
        return self.filter(used_at__isnull=True)


class RecoveryCode(models.Model):
    """One single-use recovery code, stored only as a salted hash."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    code_hash = models.CharField(max_length=128, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    objects = RecoveryCodeQuerySet.as_manager()

    def __str__(self) -> str:
        return f"recovery code of {self.user} ({'used' if self.used_at else 'unused'})"


class TrustedBrowserQuerySet(models.QuerySet):
    def active(self, now=None) -> "TrustedBrowserQuerySet":
        return self.filter(revoked_at__isnull=True, expires_at__gt=now or timezone.now())


class TrustedBrowser(models.Model):
    """A browser the user chose to remember: its cookie's token is stored as a keyed hash.

    `binding` is a keyed hash of the user's password hash, phone number and session token at
    the time; when any of them changes, the record stops matching, so a password change, a
    phone change or "sign out everywhere" revokes every trusted browser at once.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trusted_browsers"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    binding = models.CharField(max_length=64, editable=False)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = TrustedBrowserQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"trusted browser of {self.user}"

    @property
    def label(self) -> str:
        """A short name for the user, such as "Chrome on Linux"."""
        return browser_label(self.user_agent)
