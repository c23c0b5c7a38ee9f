"""Pending login codes: one row per code sent, holding only its keyed hash."""

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone


class LoginCodeQuerySet(models.QuerySet):
    def open(self) -> "LoginCodeQuerySet":
        """Codes neither used nor voided (they may still have expired)."""
        return self.filter(used_at__isnull=True, voided_at__isnull=True)

    def finished(self, now: datetime) -> "LoginCodeQuerySet":
        """Codes that can never be used again: used, voided or expired."""
        return self.filter(
            models.Q(used_at__isnull=False)
            | models.Q(voided_at__isnull=False)
            | models.Q(expires_at__lte=now)
        )


class LoginCode(models.Model):
    """One code sent for one pending login.

    Only a keyed hash of the code is stored. `challenge` is the random id of the pending
    login, kept in that browser's session, so a code works only there.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="login_codes"
    )
    challenge = models.CharField(max_length=64, db_index=True)
    code_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)

    objects = LoginCodeQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "challenge", "created_at"])]

    def __str__(self) -> str:
        return f"login code for {self.user} ({self.state()})"

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def state(self, now: datetime | None = None) -> str:
        """Return "used", "voided", "expired" or "open"."""
        if self.used_at:
            return "used"
        if self.voided_at:
            return "voided"
        if self.is_expired(now or timezone.now()):
            return "expired"
        return "open"
