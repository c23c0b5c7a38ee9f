"""The audit trail of sign-in events. Codes, hashes and tokens never appear in it."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuthEvent(models.Model):
    class Kind(models.TextChoices):
        PASSWORD_OK = "password_ok", "password ok"
        PASSWORD_FAILED = "password_failed", "password failed"
        CODE_SENT = "code_sent", "code sent"
        SEND_FAILED = "send_failed", "send failed"
        CODE_OK = "code_ok", "code ok"
        CODE_WRONG = "code_wrong", "code wrong"
        CODE_EXPIRED = "code_expired", "code expired"
        LOCKED = "locked", "locked"
        UNLOCKED = "unlocked", "unlocked"
        THROTTLED = "throttled", "throttled"
        BUDGET_REACHED = "budget_reached", "budget reached"
        PHONE_CHANGED = "phone_changed", "phone changed"
        ADMIN_ACTION = "admin_action", "admin action"
        PHONE_VERIFIED = "phone_verified", "phone verified"
        TOTP_OK = "totp_ok", "authenticator code ok"
        TOTP_ENABLED = "totp_enabled", "authenticator added"
        TOTP_REMOVED = "totp_removed", "authenticator removed"
        RECOVERY_USED = "recovery_used", "recovery code used"
        RECOVERY_GENERATED = "recovery_generated", "recovery codes generated"
        TRUSTED_BROWSER_ADDED = "trusted_added", "browser remembered"
        TRUSTED_BROWSER_USED = "trusted_used", "remembered browser used"
        TRUSTED_BROWSER_REVOKED = "trusted_revoked", "remembered browser revoked"
        PASSWORD_CHANGED = "password_changed", "password changed"
        PASSWORD_RESET = "password_reset", "password reset"
        FACTORS_RESET = "factors_reset", "second factors reset"
        REAUTH_OK = "reauth_ok", "re-authenticated"

    kind = models.CharField(max_length=32, choices=Kind.choices, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="auth_events",
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    detail = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "sign-in event"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.created_at:%Y-%m-%d %H:%M:%S}"
